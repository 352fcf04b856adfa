"""A bucket (or a prefix in one) on Amazon S3 or an S3-compatible server (MinIO, SeaweedFS, ...).

Writes are atomic because S3 itself is: a PutObject or a CompleteMultipartUpload makes the whole
object visible at once, and nothing is visible before. Every request and every part carries a
Content-MD5 so the server refuses damaged bytes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, BinaryIO

import boto3
import botocore.exceptions as bex
from botocore.config import Config

from . import coerce
from .base import (
    Capabilities,
    ChecksumMismatch,
    Entry,
    HashingReader,
    RangeReader,
    Remote,
    RemoteConfigError,
    RemoteError,
    RemoteNotFound,
    RemoteUnavailable,
    check_range,
    clean_path,
    is_temp,
    skip,
    verify_md5,
)
from .parts import chain, modified_metadata, part_sizes, pieces

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MIN_PART = 5 * MiB  # S3's smallest allowed part (except the last one)
MAX_PART = 5 * 1024 * MiB
MAX_PARTS = 10_000
MAX_SINGLE_PUT = 5 * 1024 * MiB
_HEX32 = re.compile(r"^[0-9a-f]{32}$")

_UNAVAILABLE_CODES = {
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "Throttling",
    "ThrottlingException",
}
_AUTH_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AllAccessDisabled",
    "AccountProblem",
}
_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _strip_etag(etag: str | None) -> str | None:
    return etag.strip('"') if etag else None


def _etag_md5(etag: str | None) -> str | None:
    """A plain PutObject's ETag is the MD5; a multipart ETag ("...-N") is not."""
    value = (_strip_etag(etag) or "").lower()
    return value if _HEX32.fullmatch(value) else None


class _Body(io.RawIOBase):
    """The streaming body of a GetObject, with network failures mapped to RemoteUnavailable."""

    def __init__(self, body: Any, key: str) -> None:
        self._body = body
        self._key = key

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._body.read(None if size is None or size < 0 else size)
        except (bex.BotoCoreError, OSError) as exc:
            raise RemoteUnavailable(f"{self._key}: download interrupted: {exc}") from exc

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Remote(Remote):
    kind = "s3"
    secret_settings = frozenset({"secret_access_key", "session_token"})
    # CopyObject / UploadPartCopy copy within the service; a plain object's ETag is its MD5
    capabilities = Capabilities(copy=True, hashes=frozenset({"md5"}))

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        addressing_style: str = "auto",
        multipart_threshold: int = 16 * MiB,
        part_size: int = 8 * MiB,
        max_concurrency: int = 4,
        timeout: float = 30,
        max_attempts: int = 3,
    ) -> None:
        part_size = coerce.number("part_size", part_size)
        multipart_threshold = coerce.number("multipart_threshold", multipart_threshold)
        max_concurrency = coerce.positive("max_concurrency", max_concurrency, int)
        max_attempts = coerce.positive("max_attempts", max_attempts, int)
        timeout = coerce.positive("timeout", timeout)
        if not bucket or "/" in bucket:
            raise RemoteConfigError(f"invalid bucket name: {bucket!r}")
        if endpoint_url and not endpoint_url.startswith(("http://", "https://")):
            raise RemoteConfigError(
                f"endpoint_url must start with http:// or https://: {endpoint_url!r}"
            )
        if addressing_style not in ("auto", "path", "virtual"):
            raise RemoteConfigError("addressing_style must be 'auto', 'path' or 'virtual'")
        if bool(access_key_id) != bool(secret_access_key):
            raise RemoteConfigError(
                "give both access_key_id and secret_access_key, or neither "
                "(to use the environment's AWS credentials)"
            )
        if session_token and not access_key_id:
            raise RemoteConfigError("session_token needs access_key_id and secret_access_key")
        if not MIN_PART <= part_size <= MAX_PART:
            raise RemoteConfigError(f"part_size must be between {MIN_PART} and {MAX_PART} bytes")
        if not 0 <= multipart_threshold <= MAX_SINGLE_PUT:
            raise RemoteConfigError(f"multipart_threshold must be between 0 and {MAX_SINGLE_PUT}")
        self.bucket = bucket
        self.prefix = clean_path(prefix)
        self.region = region or "us-east-1"
        self.endpoint_url = endpoint_url or None
        self.addressing_style = addressing_style
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._credentials = (
            access_key_id or None,
            secret_access_key or None,
            session_token or None,
        )
        self._client: Any = None

    # -- plumbing ---------------------------------------------------------------------------

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"S3 {where}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")

    @property
    def client(self) -> Any:
        # Built on first use so that bad settings surface in probe() as a message, not in the
        # constructor as a traceback.
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        config = Config(
            region_name=self.region,
            signature_version="s3v4",
            s3={"addressing_style": self.addressing_style},
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            retries={"max_attempts": self.max_attempts, "mode": "standard"},
            max_pool_connections=max(10, self.max_concurrency + 2),
            tcp_keepalive=True,
            # S3-compatible servers reject the CRC trailers botocore adds by default since 1.36;
            # we send Content-MD5 ourselves where it matters.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        key_id, secret, token = self._credentials
        try:
            session = boto3.session.Session(
                aws_access_key_id=key_id,
                aws_secret_access_key=secret,
                aws_session_token=token,
                region_name=self.region,
            )
            return session.client("s3", endpoint_url=self.endpoint_url, config=config)
        except (bex.BotoCoreError, ValueError) as exc:
            raise RemoteConfigError(f"cannot set up the S3 client: {exc}") from exc

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def _root(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def _error(self, exc: BaseException, what: str) -> RemoteError:
        """Translate a botocore failure into the storage layer's error classes."""
        if isinstance(exc, RemoteError):
            return exc
        if isinstance(exc, bex.ClientError):
            return self._client_error(exc, what)
        if isinstance(exc, (bex.ConnectionError, bex.HTTPClientError, bex.IncompleteReadError)):
            where = self.endpoint_url or "S3"
            return RemoteUnavailable(f"{what}: cannot reach {where}: {exc}")
        if isinstance(
            exc, (bex.NoCredentialsError, bex.PartialCredentialsError, bex.CredentialRetrievalError)
        ):
            return RemoteConfigError(f"no usable AWS credentials: {exc}")
        if isinstance(exc, bex.ParamValidationError):
            return RemoteError(f"{what}: {exc}")
        return RemoteError(f"{what}: {exc}")

    def _client_error(self, exc: bex.ClientError, what: str) -> RemoteError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = error.get("Message") or code
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code == "NoSuchBucket":
            return RemoteError(f"bucket {self.bucket!r} does not exist")
        if code in _NOT_FOUND_CODES:
            return RemoteNotFound(what)
        if code in _AUTH_CODES or status in (401, 403):
            return RemoteError(
                f"{what}: access denied by the server ({code}: {message}); "
                "check the access key, secret and the bucket's permissions"
            )
        if code in ("BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"):
            return ChecksumMismatch(f"{what}: the server received damaged bytes ({code})")
        if code in _UNAVAILABLE_CODES or status >= 500 or status == 429:
            return RemoteUnavailable(f"{what}: server error {status} {code}: {message}")
        return RemoteError(f"{what}: {code or status}: {message}")

    def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise self._error(exc, what) from exc

    # -- reading ----------------------------------------------------------------------------

    def _entry(self, rel: str, head: dict[str, Any]) -> Entry:
        metadata = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
        md5 = (metadata.get("md5") or "").lower()
        if not _HEX32.fullmatch(md5):
            # With SSE-KMS or SSE-C the ETag is not the MD5 of the content.
            encrypted = head.get("ServerSideEncryption") == "aws:kms" or head.get(
                "SSECustomerAlgorithm"
            )
            md5 = None if encrypted else _etag_md5(head.get("ETag"))
        modified = head.get("LastModified")
        if metadata.get("modified"):
            # Written by another tool, it may not parse: then the server's time stands.
            with contextlib.suppress(ValueError):
                modified = datetime.fromisoformat(metadata["modified"])
        return Entry(
            path=rel,
            size=int(head.get("ContentLength", 0)),
            modified=modified,
            md5=md5,
            etag=_strip_etag(head.get("ETag")),
        )

    def stat(self, path: str) -> Entry | None:
        rel = clean_path(path)
        if not rel:
            return None
        try:
            head = self._call(rel, "head_object", Key=self._key(rel))
        except RemoteNotFound:
            return None  # a HEAD of a "folder" is a 404 too
        return self._entry(rel, head)

    def _iter_files(self, prefix: str = "") -> Iterator[Entry]:
        root = self._root()
        sub = clean_path(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=root + (f"{sub}/" if sub else ""))
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    entry = self._listed(root, item)
                    if entry is not None:
                        yield entry
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise self._error(exc, f"listing {sub or '/'}") from exc

    def _listed(self, root: str, item: dict[str, Any]) -> Entry | None:
        key: str = item["Key"]
        rel = key[len(root) :]
        if not rel or key.endswith("/"):
            return None  # folder markers are not files
        try:
            if clean_path(rel) != rel:
                return None  # a key like "a//b" cannot be addressed through clean paths
        except RemoteError:
            return None
        # Only a HEAD shows metadata, so a listing can vouch for plain ETags alone.
        return Entry(
            path=rel,
            size=int(item.get("Size", 0)),
            modified=item.get("LastModified"),
            md5=_etag_md5(item.get("ETag")),
            etag=_strip_etag(item.get("ETag")),
        )

    def open_read(self, path: str) -> BinaryIO:
        rel = clean_path(path)
        if not rel:
            raise RemoteNotFound(path)
        response = self._call(rel, "get_object", Key=self._key(rel))
        return _Body(response["Body"], rel)  # type: ignore[return-value]

    def read_range(self, path: str, offset: int, length: int | None = None) -> BinaryIO:
        """One GetObject with a Range header: the service sends only the range."""
        check_range(offset, length)
        rel = clean_path(path)
        if not rel:
            raise RemoteNotFound(path)
        if length == 0:
            return self._nothing_of(rel)
        last = "" if length is None else str(offset + length - 1)
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=self._key(rel), Range=f"bytes={offset}-{last}"
            )
        except bex.ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if exc.response.get("Error", {}).get("Code") == "InvalidRange" or status == 416:
                return self._nothing_of(rel)  # the range starts at or past the end
            raise self._error(exc, rel) from exc
        except bex.BotoCoreError as exc:
            raise self._error(exc, rel) from exc
        # a server that ignores Range answers 200 with the whole object: drop what precedes
        whole = "ContentRange" not in response and offset > 0
        body = _Body(response["Body"], rel)
        if whole:
            skip(body, offset)
        return RangeReader(body, length)  # type: ignore[return-value]

    def _nothing_of(self, rel: str) -> BinaryIO:
        """An empty range of a file that must exist."""
        if self.stat(rel) is None:
            raise RemoteNotFound(rel)
        return io.BytesIO(b"")

    def checksum(self, path: str) -> str | None:
        entry = self.stat(path)
        if entry is None:
            raise RemoteNotFound(clean_path(path))
        return entry.md5

    def download_url(self, path: str, expires: int) -> str | None:
        rel = clean_path(path)
        if not rel:
            raise RemoteNotFound(path)
        # Signed locally with the credentials: no request to the server.
        params = {"Bucket": self.bucket, "Key": self._key(rel)}
        try:
            return self.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expires
            )
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise self._error(exc, rel) from exc

    def delete(self, path: str) -> None:
        rel = clean_path(path)
        # DeleteObject succeeds for a missing key, but the contract wants RemoteNotFound.
        if self.stat(rel) is None:
            raise RemoteNotFound(rel)
        self._call(rel, "delete_object", Key=self._key(rel))

    # -- copying within the bucket ------------------------------------------------------------

    def _server_copy(self, src: str, dst: str) -> Entry:
        """The service copies the object with its metadata (MD5, modification time: the
        source's own time when it has none, as a copy through `write` keeps it): one CopyObject
        up to 5 GiB, parts copied by range beyond (UploadPartCopy)."""
        rel_src, rel_dst = clean_path(src), clean_path(dst)
        if not rel_dst or is_temp(rel_dst):
            raise RemoteError(f"invalid file name: {dst!r}")
        source = {"Bucket": self.bucket, "Key": self._key(rel_src)}
        head = self._call(rel_src, "head_object", Key=source["Key"])
        size = int(head.get("ContentLength", 0))
        metadata = {**modified_metadata(head.get("LastModified")), **(head.get("Metadata") or {})}
        if size <= MAX_SINGLE_PUT:
            self._call(
                rel_dst,
                "copy_object",
                Key=self._key(rel_dst),
                CopySource=source,
                Metadata=metadata,
                MetadataDirective="REPLACE",
            )
        else:
            self._copy_parts(rel_dst, source, size, metadata)
        copied = self.stat(rel_dst)
        if copied is None:
            raise RemoteError(f"{rel_dst}: missing right after the server copied it there")
        return copied

    def _copy_parts(self, rel: str, source: dict[str, str], size: int, metadata: dict) -> None:
        sizes = part_sizes(self.part_size, size, largest=MAX_PART, most=MAX_PARTS, grow_every=1000)
        step = next(sizes)  # one size for all: the size is known

        def copy_parts(key: str, upload_id: str) -> list[dict[str, Any]]:
            parts = []
            for number, start in enumerate(range(0, size, step), start=1):
                response = self._call(
                    rel,
                    "upload_part_copy",
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=source,
                    CopySourceRange=f"bytes={start}-{min(size, start + step) - 1}",
                )
                parts.append({"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]})
            return parts

        self._in_parts(rel, metadata, copy_parts)

    # -- writing ----------------------------------------------------------------------------

    def write(
        self,
        path: str,
        stream: BinaryIO,
        *,
        size: int | None = None,
        md5: str | None = None,
        modified: datetime | None = None,
        compute_md5: bool = True,
    ) -> Entry:
        rel = clean_path(path)
        if not rel or is_temp(rel):
            raise RemoteError(f"invalid file name: {path!r}")
        reader = HashingReader(stream)
        metadata = modified_metadata(modified)

        # Buffer up to the threshold to decide between one PutObject and a multipart upload.
        parts = pieces(
            reader,
            part_sizes(self.part_size, size, largest=MAX_PART, most=MAX_PARTS, grow_every=1000),
        )
        head: list[bytes] = []
        buffered = 0
        for piece in parts:
            head.append(piece)
            buffered += len(piece)
            if buffered > self.multipart_threshold:
                break
        else:
            data = b"".join(head)
            self._check(rel, reader, size, md5)
            metadata["md5"] = reader.md5
            response = self._call(
                rel,
                "put_object",
                Key=self._key(rel),
                Body=data,
                ContentMD5=_b64(bytes.fromhex(reader.md5)),  # the server refuses other bytes
                Metadata=metadata,
            )
            etag = _strip_etag(response.get("ETag"))
            return Entry(
                path=rel,
                size=len(data),
                modified=modified,
                md5=reader.md5,
                etag=etag,
                # A single PUT's ETag is the MD5 of what the server stored (it checked it too).
                server_md5=etag if etag and re.fullmatch(r"[0-9a-f]{32}", etag) else None,
            )

        if md5 is not None:
            metadata["md5"] = md5.lower()  # known up front: stored with the object at create
        etag = self._multipart(rel, reader, chain(head, parts), size, md5, metadata)
        return Entry(path=rel, size=reader.bytes_read, modified=modified, md5=reader.md5, etag=etag)

    @staticmethod
    def _check(rel: str, reader: HashingReader, size: int | None, md5: str | None) -> None:
        if size is not None and reader.bytes_read != size:
            raise RemoteError(f"{rel}: expected {size} bytes, received {reader.bytes_read}")
        verify_md5(rel, md5, reader.md5)

    def _multipart(
        self,
        rel: str,
        reader: HashingReader,
        pieces: Iterable[bytes],
        size: int | None,
        md5: str | None,
        metadata: dict[str, str],
    ) -> str | None:
        def upload_parts(key: str, upload_id: str) -> list[dict[str, Any]]:
            parts = self._upload_parts(rel, key, upload_id, pieces)
            self._check(rel, reader, size, md5)
            return parts

        return _strip_etag(self._in_parts(rel, metadata, upload_parts).get("ETag"))

    def _in_parts(
        self,
        rel: str,
        metadata: dict[str, str],
        send_parts: Callable[[str, str], list[dict[str, Any]]],
    ) -> dict[str, Any]:
        """A multipart upload: created, its parts sent by `send_parts(key, upload_id)`, which
        returns them, then completed; aborted when anything fails."""
        key = self._key(rel)
        created = self._call(rel, "create_multipart_upload", Key=key, Metadata=metadata)
        upload_id = created["UploadId"]
        try:
            parts = send_parts(key, upload_id)
            return self._call(
                rel,
                "complete_multipart_upload",
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            self._abort(rel, key, upload_id)
            raise

    def _upload_parts(
        self, rel: str, key: str, upload_id: str, pieces: Iterable[bytes]
    ) -> list[dict[str, Any]]:
        """Upload parts on a small pool; at most max_concurrency parts wait in memory."""
        parts: list[dict[str, Any]] = []
        pending: deque[Future[dict[str, Any]]] = deque()
        pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="s3-part")
        try:
            for number, data in enumerate(pieces, start=1):
                if len(pending) >= self.max_concurrency:
                    parts.append(pending.popleft().result())
                pending.append(pool.submit(self._upload_part, rel, key, upload_id, number, data))
            while pending:
                parts.append(pending.popleft().result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return parts

    def _upload_part(
        self, rel: str, key: str, upload_id: str, number: int, data: bytes
    ) -> dict[str, Any]:
        response = self._call(
            rel,
            "upload_part",
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ContentMD5=_b64(hashlib.md5(data).digest()),
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def sweep_partial(self, prefix: str = "", *, older_than: datetime) -> list[str]:
        """Abort the multipart uploads below `prefix` that nobody has added to since
        `older_than`: a process killed mid-upload leaves its parts stored (and billed) but
        invisible, until a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes them,
        if the bucket has one. An upload's age is its newest part's, not its start's: a long
        upload still sending parts is alive however long ago it began."""
        root = self._root()
        sub = clean_path(prefix)
        paginator = self.client.get_paginator("list_multipart_uploads")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=root + (f"{sub}/" if sub else ""))
        try:
            begun = [
                (upload["Key"], upload["UploadId"])
                for page in pages
                for upload in page.get("Uploads", [])
                if upload.get("Initiated") is not None and upload["Initiated"] < older_than
            ]
            stale = [
                (key, upload_id)
                for key, upload_id in begun
                if self._last_part_at(key, upload_id, older_than) < older_than
            ]
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise self._error(exc, f"listing the unfinished uploads of {sub or '/'}") from exc
        aborted = []
        for key, upload_id in stale:
            rel = key[len(root) :]
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except bex.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                    raise self._error(exc, rel) from exc
                continue  # completed or aborted meanwhile
            except bex.BotoCoreError as exc:
                raise self._error(exc, rel) from exc
            aborted.append(rel)
        if aborted:
            log.info("aborted %d unfinished upload(s) in %s", len(aborted), self.describe())
        return aborted

    def _last_part_at(self, key: str, upload_id: str, floor: datetime) -> datetime:
        """When the upload last received a part; long ago when it has none (its start is old)."""
        newest = datetime.min.replace(tzinfo=floor.tzinfo)
        paginator = self.client.get_paginator("list_parts")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Key=key, UploadId=upload_id):
                for part in page.get("Parts", []):
                    if part.get("LastModified") is not None:
                        newest = max(newest, part["LastModified"])
        except bex.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise
            return datetime.max.replace(tzinfo=floor.tzinfo)  # finished meanwhile: not ours
        return newest

    def _abort(self, rel: str, key: str, upload_id: str) -> None:
        # Best effort: if the server is gone, the parts stay invisible until a bucket lifecycle
        # rule (AbortIncompleteMultipartUpload) removes them.
        try:
            self._call(rel, "abort_multipart_upload", Key=key, UploadId=upload_id)
        except RemoteError as exc:
            log.warning("could not abort the multipart upload of %s: %s", rel, exc)
