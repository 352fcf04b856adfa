"""A container (or a prefix in one) on Azure Blob Storage, or on Azurite.

Writes are atomic because block blobs are: staged blocks stay invisible (and expire after a week)
until Put Block List commits them, and the commit swaps the whole blob at once. Each block carries
a Content-MD5 the service checks; the blob's Content-MD5 property records the whole file's MD5.
"""

from __future__ import annotations

import io
import re
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import (
    BlobBlock,
    BlobSasPermissions,
    BlobServiceClient,
    ContainerClient,
    ContentSettings,
    LinearRetry,
    generate_blob_sas,
)

from . import coerce
from .base import (
    Capabilities,
    ChecksumMismatch,
    ChunkReader,
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
    verify_md5,
)
from .parts import chain, modified_metadata, part_sizes, pieces

MiB = 1024 * 1024
MAX_BLOCKS = 50_000
MAX_BLOCK = 4000 * MiB
_CONTAINER_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
_AUTH_CODES = {
    "AuthenticationFailed",
    "AuthorizationFailure",
    "AuthorizationPermissionMismatch",
    "AuthorizationResourceTypeMismatch",
    "InsufficientAccountPermissions",
    "InvalidAuthenticationInfo",
}


def _md5_hex(settings: ContentSettings | None) -> str | None:
    digest = settings.content_md5 if settings is not None else None
    return bytes(digest).hex() if digest else None


def _modified(props: Any) -> datetime | None:
    stamp = (props.metadata or {}).get("modified")
    if stamp:
        # Written by another tool, it may not parse: then the service's time stands.
        with suppress(ValueError):
            return datetime.fromisoformat(stamp)
    return props.last_modified


class AzureRemote(Remote):
    kind = "azure"
    secret_settings = frozenset({"connection_string", "account_key", "sas_token"})
    # Copy Blob copies within the account; the blob's Content-MD5 is the file's MD5
    capabilities = Capabilities(copy=True, hashes=frozenset({"md5"}))

    def __init__(
        self,
        *,
        container: str,
        prefix: str = "",
        connection_string: str | None = None,
        account_url: str | None = None,
        account_name: str | None = None,
        account_key: str | None = None,
        sas_token: str | None = None,
        block_size: int = 8 * MiB,
        max_concurrency: int = 4,
        timeout: float = 30,
    ) -> None:
        block_size = coerce.number("block_size", block_size)
        max_concurrency = coerce.positive("max_concurrency", max_concurrency, int)
        timeout = coerce.positive("timeout", timeout)
        if not (container == "$root" or _CONTAINER_NAME.fullmatch(container or "")):
            raise RemoteConfigError(
                f"invalid container name {container!r}: 3-63 lowercase letters, digits and "
                "single hyphens"
            )
        ways = [
            name
            for name, value in (
                ("connection_string", connection_string),
                ("account_key", account_key),
                ("sas_token", sas_token),
            )
            if value
        ]
        if len(ways) != 1:
            raise RemoteConfigError(
                "give exactly one of connection_string, account_key (with account_name) or "
                f"sas_token (with account_url or account_name); got {', '.join(ways) or 'none'}"
            )
        if connection_string and (account_url or account_name):
            raise RemoteConfigError(
                "a connection_string already names the account: leave "
                "account_url and account_name empty"
            )
        if account_key and not account_name:
            raise RemoteConfigError("account_key needs account_name")
        if sas_token and not (account_url or account_name):
            raise RemoteConfigError("sas_token needs account_url or account_name")
        if account_url and not account_url.startswith(("http://", "https://")):
            raise RemoteConfigError(f"account_url must start with https://: {account_url!r}")
        if not 1 <= block_size <= MAX_BLOCK:
            raise RemoteConfigError(f"block_size must be between 1 and {MAX_BLOCK} bytes")
        self.container = container
        self.prefix = clean_path(prefix)
        self.account_name = account_name or None
        self.account_url = (account_url or "").rstrip("/") or (
            f"https://{account_name}.blob.core.windows.net" if account_name else None
        )
        self.block_size = block_size
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self._connection_string = connection_string or None
        self._account_key = account_key or None
        self._sas_token = (sas_token or "").lstrip("?") or None
        self._service: BlobServiceClient | None = None
        self._container: ContainerClient | None = None

    # -- plumbing ---------------------------------------------------------------------------

    def describe(self) -> str:
        where = f"{self.container}/{self.prefix}".rstrip("/")
        return f"Azure Blob {where} at {self._where()}"

    @property
    def container_client(self) -> ContainerClient:
        # Built on first use so that bad settings surface in probe() as a message, not in the
        # constructor as a traceback.
        if self._container is None:
            self._service = self._make_service()
            self._container = self._service.get_container_client(self.container)
        return self._container

    def _make_service(self) -> BlobServiceClient:
        options: dict[str, Any] = {
            # The SDK's default retry waits 15 s and more between attempts: a stopped server
            # must surface quickly; transfer.copy_verified retries with its own backoff.
            "retry_policy": LinearRetry(backoff=1, retry_total=2, random_jitter_range=0.5),
            "connection_timeout": self.timeout,
            "read_timeout": self.timeout,
            "max_single_get_size": self.block_size,
            "max_chunk_get_size": self.block_size,
        }
        try:
            if self._connection_string:
                return BlobServiceClient.from_connection_string(self._connection_string, **options)
            if self._account_key:
                credential = {"account_name": self.account_name, "account_key": self._account_key}
                return BlobServiceClient(self.account_url, credential=credential, **options)
            return BlobServiceClient(self.account_url, credential=self._sas_token, **options)
        except (ValueError, TypeError, AzureError) as exc:
            raise RemoteConfigError(f"invalid Azure settings: {exc}") from exc

    def close(self) -> None:
        if self._service is not None:
            self._service.close()
        self._service = self._container = None

    def _name(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def _root(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def _error(self, exc: BaseException, what: str) -> RemoteError:
        """Translate an Azure SDK failure into the storage layer's error classes."""
        if isinstance(exc, RemoteError):
            return exc
        if isinstance(exc, HttpResponseError):
            return self._http_error(exc, what)
        if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
            return RemoteUnavailable(f"{what}: cannot reach {self._where()}: {_first_line(exc)}")
        if isinstance(exc, (ValueError, TypeError)):
            return RemoteConfigError(f"{what}: invalid Azure settings: {exc}")
        return RemoteError(f"{what}: {_first_line(exc)}")

    def _http_error(self, exc: HttpResponseError, what: str) -> RemoteError:
        raw_code = getattr(exc, "error_code", None) or ""
        code = str(getattr(raw_code, "value", raw_code))  # the SDK hands out an enum or a str
        status = exc.status_code or 0
        if code == "ContainerNotFound":
            return RemoteError(f"container {self.container!r} does not exist")
        if code == "BlobNotFound" or (isinstance(exc, ResourceNotFoundError) and not code):
            return RemoteNotFound(what)
        if (
            isinstance(exc, ClientAuthenticationError)
            or code in _AUTH_CODES
            or status in (401, 403)
        ):
            reason = code or _first_line(exc)  # no code: the key could not even sign
            return RemoteError(
                f"{what}: access denied by the service ({reason}); check "
                "the account key, SAS token or connection string"
            )
        if code in ("Md5Mismatch", "InvalidMd5", "Crc64Mismatch"):
            return ChecksumMismatch(f"{what}: the service received damaged bytes ({code})")
        if code == "ConditionNotMet":
            return RemoteUnavailable(f"{what}: the blob changed while it was read; retry")
        if code == "InvalidBlockList":
            # Another writer committed the same blob meanwhile, which drops our staged blocks.
            return RemoteUnavailable(f"{what}: the blob was replaced during the upload; retry")
        if status >= 500 or status in (408, 429):
            return RemoteUnavailable(f"{what}: service error {status} {code}")
        return RemoteError(f"{what}: {code or status}: {_first_line(exc)}")

    def _where(self) -> str:
        url = self.account_url
        if url is None and self._connection_string:
            url = _endpoint_of(self._connection_string)
        return (url or "Azure").split("?", 1)[0]  # a pasted SAS URL must not leak its token

    def _blob(self, rel: str) -> Any:
        return self.container_client.get_blob_client(self._name(rel))

    # -- reading ----------------------------------------------------------------------------

    def _entry(self, rel: str, props: Any) -> Entry:
        return Entry(
            path=rel,
            size=int(props.size or 0),
            modified=_modified(props),
            md5=_md5_hex(props.content_settings),
            etag=(props.etag or "").strip('"'),
        )

    def stat(self, path: str) -> Entry | None:
        rel = clean_path(path)
        if not rel:
            return None
        try:
            props = self._blob(rel).get_blob_properties(timeout=int(self.timeout))
        except AzureError as exc:
            error = self._error(exc, rel)
            if type(error) is RemoteNotFound:
                return None  # also what a "folder" gives
            raise error from exc
        return self._entry(rel, props)

    def _iter_files(self, prefix: str = "") -> Iterator[Entry]:
        root = self._root()
        sub = clean_path(prefix)
        try:
            blobs = self.container_client.list_blobs(
                name_starts_with=root + (f"{sub}/" if sub else ""), include=["metadata"]
            )
            for props in blobs:
                entry = self._listed(root, props)
                if entry is not None:
                    yield entry
        except AzureError as exc:
            raise self._error(exc, f"listing {sub or '/'}") from exc

    def _listed(self, root: str, props: Any) -> Entry | None:
        name: str = props.name
        rel = name[len(root) :]
        if not rel or name.endswith("/"):
            return None  # folder markers are not files
        try:
            if clean_path(rel) != rel:
                return None  # a name like "a//b" cannot be addressed through clean paths
        except RemoteError:
            return None
        return self._entry(rel, props)

    def open_read(self, path: str) -> BinaryIO:
        rel = clean_path(path)
        if not rel:
            raise RemoteNotFound(path)
        blob = self._blob(rel)
        try:
            # The first GET brings the size, the ETag and the first block_size bytes.
            downloader = blob.download_blob(max_concurrency=1)
        except AzureError as exc:
            raise self._error(exc, rel) from exc
        chunks = self._download(rel, blob, downloader)
        return ChunkReader(chunks, on_close=chunks.close)  # type: ignore[return-value]

    def read_range(self, path: str, offset: int, length: int | None = None) -> BinaryIO:
        """download_blob with offset and length: the service sends only the range."""
        check_range(offset, length)
        rel = clean_path(path)
        if not rel:
            raise RemoteNotFound(path)
        blob = self._blob(rel)
        if length == 0:
            return self._nothing_of(rel)
        try:
            downloader = blob.download_blob(offset=offset, length=length, max_concurrency=1)
        except HttpResponseError as exc:
            if exc.status_code == 416:  # starts at or past the end
                return self._nothing_of(rel)
            raise self._error(exc, rel) from exc
        except AzureError as exc:
            raise self._error(exc, rel) from exc
        chunks = self._download(rel, blob, downloader, start=offset)
        reader = ChunkReader(chunks, on_close=chunks.close)
        return RangeReader(reader, length)  # type: ignore[arg-type, return-value]

    def _nothing_of(self, rel: str) -> BinaryIO:
        """An empty range of a blob that must exist."""
        if self.stat(rel) is None:
            raise RemoteNotFound(rel)
        return io.BytesIO(b"")

    def _download(self, rel: str, blob: Any, downloader: Any, start: int = 0) -> Iterator[bytes]:
        """The blob's bytes in order, the next ranges fetched ahead on a small pool.

        One ranged GET at a time leaves the line idle between requests; up to max_concurrency
        ranges in flight (memory: about (max_concurrency + 1) x block_size) keep it busy."""
        size = start + int(downloader.size)  # where the range (or the blob) ends
        etag = downloader.properties.etag
        try:
            first = downloader.read(min(size - start, self.block_size))
        except AzureError as exc:
            raise self._error(exc, rel) from exc
        if first:
            yield first
        offsets = range(start + len(first), size, self.block_size)
        if not offsets:
            return
        pending: deque[Future[bytes]] = deque()
        pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="azure-read")
        try:
            for offset in offsets:
                if len(pending) >= self.max_concurrency:
                    yield pending.popleft().result()
                length = min(self.block_size, size - offset)
                pending.append(pool.submit(self._range, rel, blob, offset, length, etag))
            while pending:
                yield pending.popleft().result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _range(self, rel: str, blob: Any, offset: int, length: int, etag: str) -> bytes:
        try:
            # If-Match: a blob replaced mid-read fails rather than mixing two versions.
            part = blob.download_blob(
                offset,
                length,
                etag=etag,
                max_concurrency=1,
                match_condition=MatchConditions.IfNotModified,
            )
            data = part.readall()
        except AzureError as exc:
            raise self._error(exc, rel) from exc
        if len(data) != length:
            raise RemoteUnavailable(f"{rel}: short read at {offset}: {len(data)} of {length}")
        return data

    def checksum(self, path: str) -> str | None:
        entry = self.stat(path)
        if entry is None:
            raise RemoteNotFound(clean_path(path))
        return entry.md5

    def download_url(self, path: str, expires: int) -> str | None:
        rel = clean_path(path)
        if not rel:
            raise RemoteNotFound(path)
        blob = self._blob(rel)  # builds the service client, whose credential holds the key
        # A SAS is signed with the account key, locally; a remote set up with a SAS token of
        # its own has no key to sign one with.
        account_key = getattr(getattr(self._service, "credential", None), "account_key", None)
        if not account_key:
            return None
        sas = generate_blob_sas(
            blob.account_name,
            self.container,
            blob.blob_name,
            account_key=account_key,
            permission=BlobSasPermissions(read=True),
            expiry=datetime.now(UTC) + timedelta(seconds=expires),
        )
        return f"{blob.url}?{sas}"

    def delete(self, path: str) -> None:
        rel = clean_path(path)
        if not rel:
            raise RemoteNotFound(path)
        try:
            self._blob(rel).delete_blob(delete_snapshots="include", timeout=int(self.timeout))
        except AzureError as exc:
            raise self._error(exc, rel) from exc

    # -- copying within the account ---------------------------------------------------------

    def _server_copy(self, src: str, dst: str) -> Entry:
        """Copy Blob: the service copies the blob, its Content-MD5 and metadata (with the
        source's own time when it has none, as a copy through `write` keeps it). Within one
        account it usually ends at once; a pending copy is waited for."""
        rel_src, rel_dst = clean_path(src), clean_path(dst)
        if not rel_dst or is_temp(rel_dst):
            raise RemoteError(f"invalid file name: {dst!r}")
        source, target = self._blob(rel_src), self._blob(rel_dst)
        try:
            props = source.get_blob_properties(timeout=int(self.timeout))
            metadata = {**modified_metadata(props.last_modified), **(props.metadata or {})}
            copy = target.start_copy_from_url(
                source.url, metadata=metadata, timeout=int(self.timeout)
            )
            status = copy.get("copy_status")
            deadline = time.monotonic() + self.timeout
            while status == "pending" and time.monotonic() < deadline:
                time.sleep(0.2)
                status = target.get_blob_properties(timeout=int(self.timeout)).copy.status
            if status == "pending":  # not within the timeout: stop it rather than race it
                with suppress(AzureError):
                    target.abort_copy(copy["copy_id"], timeout=int(self.timeout))
        except AzureError as exc:
            raise self._error(exc, rel_dst) from exc
        if status != "success":
            raise RemoteUnavailable(f"{rel_dst}: the service's copy ended {status!r}; retry")
        copied = self.stat(rel_dst)
        if copied is None:
            raise RemoteError(f"{rel_dst}: missing right after the service copied it there")
        return copied

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
        blob = self._blob(rel)

        # One block's worth decides: a blob that fits in one block goes up in a single Put Blob.
        parts = pieces(
            reader,
            part_sizes(self.block_size, size, largest=MAX_BLOCK, most=MAX_BLOCKS, grow_every=5000),
        )
        head: list[bytes] = []
        for piece in parts:
            head.append(piece)
            if len(head) > 1:
                break
        else:
            data = b"".join(head)
            self._check(rel, reader, size, md5)
            settings = ContentSettings(content_md5=bytearray(bytes.fromhex(reader.md5)))
            try:
                response = blob.upload_blob(
                    data,
                    length=len(data),
                    overwrite=True,
                    content_settings=settings,
                    metadata=metadata,
                    validate_content=True,
                    max_concurrency=1,
                    timeout=int(self.timeout),
                )
            except AzureError as exc:
                raise self._error(exc, rel) from exc
            return Entry(
                path=rel,
                size=len(data),
                modified=modified,
                md5=reader.md5,
                etag=str(response.get("etag") or "").strip('"') or None,
            )

        block_ids = self._stage_blocks(rel, blob, chain(head, parts))
        self._check(rel, reader, size, md5)
        settings = ContentSettings(content_md5=bytearray(bytes.fromhex(reader.md5)))
        try:
            response = blob.commit_block_list(
                [BlobBlock(block_id=i) for i in block_ids],
                content_settings=settings,
                metadata=metadata,
                timeout=int(self.timeout),
            )
        except AzureError as exc:
            raise self._error(exc, rel) from exc
        return Entry(
            path=rel,
            size=reader.bytes_read,
            modified=modified,
            md5=reader.md5,
            etag=str(response.get("etag") or "").strip('"') or None,
        )

    @staticmethod
    def _check(rel: str, reader: HashingReader, size: int | None, md5: str | None) -> None:
        if size is not None and reader.bytes_read != size:
            raise RemoteError(f"{rel}: expected {size} bytes, received {reader.bytes_read}")
        verify_md5(rel, md5, reader.md5)

    def _stage_blocks(self, rel: str, blob: Any, pieces: Iterable[bytes]) -> list[str]:
        """Stage blocks on a small pool; at most max_concurrency blocks wait in memory.

        Block ids carry a per-write random tag, so two writers of one blob never mix blocks."""
        tag = uuid.uuid4().hex[:16]
        ids: list[str] = []
        pending: deque[Future[None]] = deque()
        pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="azure-block")
        try:
            for number, data in enumerate(pieces):
                if len(pending) >= self.max_concurrency:
                    pending.popleft().result()
                block_id = f"{tag}-{number:06d}"  # the SDK base64-encodes it
                ids.append(block_id)
                pending.append(pool.submit(self._stage_block, rel, blob, block_id, data))
            while pending:
                pending.popleft().result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return ids

    def _stage_block(self, rel: str, blob: Any, block_id: str, data: bytes) -> None:
        try:
            # validate_content sends the block's Content-MD5; the service refuses a mismatch.
            blob.stage_block(
                block_id, data, length=len(data), validate_content=True, timeout=int(self.timeout)
            )
        except AzureError as exc:
            raise self._error(exc, rel) from exc


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _endpoint_of(connection_string: str) -> str | None:
    """The blob endpoint a connection string names (never its key)."""
    parts = dict(p.split("=", 1) for p in connection_string.split(";") if "=" in p)
    if parts.get("BlobEndpoint"):
        return parts["BlobEndpoint"].rstrip("/")
    if parts.get("AccountName"):
        suffix = parts.get("EndpointSuffix", "core.windows.net")
        return (
            f"{parts.get('DefaultEndpointsProtocol', 'https')}://{parts['AccountName']}"
            f".blob.{suffix}"
        )
    return None
