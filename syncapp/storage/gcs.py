"""Google Cloud Storage through its XML API, which speaks the S3 protocol with HMAC keys.

Seed 000 names GCS as a destination. Its XML API accepts AWS signature v4 requests signed with
an HMAC key (Cloud Console: Cloud Storage > Settings > Interoperability), at
https://storage.googleapis.com, path-style, in the signing region "auto". So a `gcs` remote is
the S3 backend with those settings fixed; it inherits S3's atomic writes (an object appears
whole or not at all), MD5 checks and multipart uploads (which the XML API supports).

What it leaves out (docs/storage.md says the same): service-account or OAuth credentials (HMAC
keys only), GCS object generations and preconditions (a concurrent writer's object is
overwritten as on S3), composite objects' CRC32C (their MD5 is unknown, so no server checksum
is compared), and the JSON API. The tests run it against the S3 peer with GCS-style settings,
not against Google.
"""

from __future__ import annotations

from .s3 import MiB, S3Remote

GCS_ENDPOINT = "https://storage.googleapis.com"
#: the region GCS's XML API expects in a v4 signature
GCS_SIGNING_REGION = "auto"


class GcsRemote(S3Remote):
    kind = "gcs"
    secret_settings = frozenset({"secret_access_key"})

    def __init__(
        self,
        *,
        bucket: str,
        access_key_id: str,
        secret_access_key: str,
        prefix: str = "",
        endpoint_url: str = GCS_ENDPOINT,
        multipart_threshold: int = 16 * MiB,
        part_size: int = 8 * MiB,
        max_concurrency: int = 4,
        timeout: float = 30,
        max_attempts: int = 3,
    ) -> None:
        # HMAC keys are required: the S3 backend's fallback to the environment's AWS
        # credentials would sign with keys GCS does not know.
        super().__init__(
            bucket=bucket,
            prefix=prefix,
            region=GCS_SIGNING_REGION,
            endpoint_url=endpoint_url or GCS_ENDPOINT,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            addressing_style="path",
            multipart_threshold=multipart_threshold,
            part_size=part_size,
            max_concurrency=max_concurrency,
            timeout=timeout,
            max_attempts=max_attempts,
        )

    def describe(self) -> str:
        where = f"gs://{self.bucket}/{self.prefix}".rstrip("/")
        at = "" if self.endpoint_url == GCS_ENDPOINT else f" at {self.endpoint_url}"
        return f"Google Cloud Storage {where}{at}"
