"""A folder on this machine, or a NAS share mounted into it."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import posixpath
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import BinaryIO

from . import coerce
from .base import (
    CHUNK_SIZE,
    Capabilities,
    Entry,
    HashingReader,
    RangeReader,
    Remote,
    RemoteConfigError,
    RemoteError,
    RemoteFull,
    RemoteNotFound,
    RemoteUnavailable,
    check_range,
    clean_path,
    temp_name,
    verify_md5,
)


def _os_error(exc: OSError, path: str) -> RemoteError:
    if exc.errno == errno.ENOENT:
        return RemoteNotFound(path)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return RemoteFull(f"{path}: no space left on the device")
    if exc.errno in (errno.EIO, errno.ESTALE, errno.ETIMEDOUT, errno.EHOSTDOWN, errno.ENOTCONN):
        return RemoteUnavailable(f"{path}: {exc.strerror}")
    return RemoteError(f"{path}: {exc.strerror or exc}")


class _LocalFile(io.FileIO):
    """A file opened for reading whose read errors (a failing disk, a share gone) are storage
    errors naming the file: read while another remote writes it, they must not pass for the
    writer's own."""

    def __init__(self, file: str | int, rel: str) -> None:
        super().__init__(file, "rb")
        self.rel = rel

    def read(self, size: int = -1) -> bytes:
        try:
            return super().read(size)
        except OSError as exc:
            raise _os_error(exc, self.rel) from exc

    def readall(self) -> bytes:
        try:
            return super().readall()
        except OSError as exc:
            raise _os_error(exc, self.rel) from exc

    def readinto(self, buffer) -> int:  # type: ignore[override]
        try:
            return super().readinto(buffer)
        except OSError as exc:
            raise _os_error(exc, self.rel) from exc


def _reader(file: str | int, rel: str) -> BinaryIO:
    return io.BufferedReader(_LocalFile(file, rel))  # type: ignore[return-value]


#: Every this many bytes written, the kernel is asked to start writing them to the disk.
WRITEBACK_STEP = 32 * 1024 * 1024


def _next_read(done: int, size: int | None) -> int:
    """How much to ask the source for: a file of known size in reads of its own size (then one
    that finds its end), not of CHUNK_SIZE, so a small file allocates no 1 MiB buffer per read
    (each an mmap, page faults and a munmap); past the announced size, whole chunks again."""
    if size is None or not 0 <= size - done < CHUNK_SIZE:
        return CHUNK_SIZE
    return size - done + 1


def _write_all(fd: int, reader: HashingReader, size: int | None) -> None:
    flushed = 0
    while chunk := reader.read(_next_read(reader.bytes_read, size)):
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]
        if reader.bytes_read - flushed >= WRITEBACK_STEP:
            _start_writeback(fd, flushed, reader.bytes_read - flushed)
            flushed = reader.bytes_read


#: each copying thread's read buffer for `ConfinedLocalRemote.copy_in`, reused for every file
_buffers = threading.local()


def _buffer() -> memoryview:
    buffer = getattr(_buffers, "view", None)
    if buffer is None:
        buffer = _buffers.view = memoryview(bytearray(CHUNK_SIZE))
    return buffer


def _copy_fd(src_fd: int, fd: int, size: int, src_rel: str) -> tuple[int, str]:
    """Copy an open file into another through this thread's buffer, hashing what passes: each
    chunk is read once into the buffer, hashed and written from it (no bytes object per read,
    no layer of streams). Reads past `size` find a file that grew. (bytes copied, MD5)"""
    digest, buffer = hashlib.md5(), _buffer()
    done = flushed = 0
    while True:
        try:
            got = os.readv(src_fd, [buffer[: _next_read(done, size)]])
        except OSError as exc:  # the source's error, not the destination's
            raise _os_error(exc, src_rel) from exc
        if not got:
            return done, digest.hexdigest()
        chunk = buffer[:got]
        digest.update(chunk)
        while chunk:
            chunk = chunk[os.write(fd, chunk) :]
        done += got
        if done - flushed >= WRITEBACK_STEP:
            _start_writeback(fd, flushed, done - flushed)
            flushed = done


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the kernel start writing a range to the disk now, so that the final fsync waits
    for the last step only, not for the whole file (1 GiB: about 0.4 s on the dev machine).

    On Linux, DONTNEED starts the writeback of dirty pages without waiting for it (pages being
    written stay cached). It is only a hint: where it is missing or refused, nothing changes.
    """
    advise = getattr(os, "posix_fadvise", None)
    if advise is not None:
        with contextlib.suppress(OSError):
            advise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def _fsync_now(folder: str | Path | int) -> None:
    if isinstance(folder, int):  # an open folder of a confined remote
        os.fsync(folder)
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _FolderSync:
    """Group commit for one folder's fsync: a caller is covered by any fsync of the folder that
    *started* after its rename, so threads renaming into the same folder at the same time share
    one fsync instead of queueing one each (the folder's fsync is half the cost of a small file).
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.started = 0  # fsyncs begun
        self.done = 0  # the latest generation known to have completed
        self.running = False
        self.users = 0

    def sync(self, folder: str | Path | int) -> None:
        with self.cond:
            needed = self.started + 1  # one in progress began before our rename: not enough
            while self.done < needed:
                if self.running:
                    self.cond.wait()
                    continue
                self.running = True
                self.started += 1
                generation = self.started
                self.cond.release()
                try:
                    _fsync_now(folder)
                finally:
                    self.cond.acquire()
                    self.running = False
                    self.cond.notify_all()
                self.done = max(self.done, generation)


_folder_syncs: dict[str | Path | int, _FolderSync] = {}
_folder_syncs_lock = threading.Lock()


def _fsync_dir(folder: str | Path | int) -> None:
    with _folder_syncs_lock:
        state = _folder_syncs.setdefault(folder, _FolderSync())
        state.users += 1
    try:
        state.sync(folder)
    finally:
        with _folder_syncs_lock:
            state.users -= 1
            if state.users == 0:
                del _folder_syncs[folder]


class _PendingFolders:
    """Folders whose new entries (a rename, a folder made) are not on the disk yet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._folders: set[str | int] = set()

    def add(self, folder: str | int) -> None:
        with self._lock:
            self._folders.add(folder)

    def sync(self) -> None:
        with self._lock:
            folders, self._folders = self._folders, set()
        while folders:
            folder = folders.pop()
            try:
                _fsync_now(folder)
            except BaseException as exc:
                with self._lock:  # not on the disk yet: the next make_durable tries again
                    self._folders |= folders | {folder}
                if isinstance(exc, OSError):
                    raise _os_error(exc, folder if isinstance(folder, str) else "folder") from exc
                raise


class _FolderDurability(Remote):
    """When a local write's rename reaches the disk: at once (an fsync of its folder, shared with
    the threads renaming into it meanwhile), or, after `batch_durability()`, at the next
    `make_durable()`: one fsync per folder for the whole batch."""

    _pending: _PendingFolders | None = None

    def batch_durability(self) -> None:
        if self._pending is None:
            self._pending = _PendingFolders()

    def make_durable(self) -> None:
        if self._pending is not None:
            self._pending.sync()

    def _changed(self, folder: str | int) -> None:
        """`folder` has a new entry: put it on the disk now, or with the batch."""
        if self._pending is not None:
            self._pending.add(folder)
        else:
            _fsync_dir(folder)


def _create(path: str, changed: Callable[[str], None]) -> int:
    """A new file for writing; its folders are made only when missing (the rare case), and each
    folder made is reported to `changed` in its parent, so that its entry reaches the disk with
    the file's rename (a new `data/xx/` folder is as needed after a crash as the file in it)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        return os.open(path, flags, 0o644)
    except FileNotFoundError:
        for made in _make_folders(os.path.dirname(path)):
            changed(os.path.dirname(made))
        return os.open(path, flags, 0o644)


def _make_folders(folder: str) -> list[str]:
    """Make `folder` and its missing parents; the ones found missing, outermost first. One that
    another writer made meanwhile is in the list too: its entry may not be on the disk yet."""
    missing: list[str] = []
    while not os.path.isdir(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    missing.reverse()
    for path in missing:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path)
    return missing


def _discard(path: str, folder_fd: int | None = None) -> None:
    """Remove a failed write's temp file. Best effort: whatever stopped the write (a file where
    a folder should be, a name too long) may stop this too, the caller reports the write's own
    error, and a temp file left behind is removed later as debris."""
    with contextlib.suppress(OSError):
        os.unlink(path, dir_fd=folder_fd)


def _fill(
    fd: int,
    reader: HashingReader,
    rel: str,
    size: int | None,
    md5: str | None,
    modified: datetime | None,
) -> os.stat_result:
    """Write a new file's bytes, check them and make them durable; the caller renames it. The
    stat of the written file is returned: the Entry of the write (`write_stat`), no path lookup."""
    _write_all(fd, reader, size)
    if size is not None and reader.bytes_read != size:
        raise RemoteError(f"{rel}: expected {size} bytes, received {reader.bytes_read}")
    verify_md5(rel, md5, reader.md5)
    if modified is not None:
        stamp = modified.timestamp()
        os.utime(fd, (stamp, stamp))
    os.fsync(fd)
    return os.fstat(fd)


def _look(item: os.DirEntry, rel: str) -> tuple[bool, os.stat_result | None]:
    """(is it a folder, the stat of a regular file) for a listed entry; a link is neither, nor
    is an entry removed since its folder was listed."""
    try:
        if item.is_dir(follow_symlinks=False):
            return True, None
        return False, item.stat(follow_symlinks=False) if item.is_file(
            follow_symlinks=False
        ) else None
    except FileNotFoundError:
        return False, None
    except OSError as exc:
        raise _os_error(exc, rel) from exc


def file_entry(rel: str, size: int, mtime_ns: int, md5: str | None = None) -> Entry:
    """The Entry of a local file from what a stat (or a scan) said of it: the same time for the
    same mtime_ns, so an Entry made from a scan equals the one a later `stat` makes."""
    return Entry(path=rel, size=size, modified=datetime.fromtimestamp(mtime_ns / 1e9, UTC), md5=md5)


def _entry(rel: str, st: os.stat_result, md5: str | None = None) -> Entry:
    return file_entry(rel, st.st_size, st.st_mtime_ns, md5)


class LocalRemote(_FolderDurability):
    kind = "local"
    capabilities = Capabilities(move=True, write_stat=True)  # os.replace; write's own fstat
    reads_borrowed = True  # _write_all writes each chunk before it reads the next

    def __init__(self, *, root: str, create_root: bool = True) -> None:
        self.root = Path(root).absolute()
        if coerce.flag("create_root", create_root):
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _os_error(exc, str(self.root)) from exc
        elif not self.root.is_dir():
            raise RemoteConfigError(f"folder does not exist: {self.root}")
        # plain strings on the per-file paths: pathlib's joins cost more CPU than the syscalls
        self._prefix = str(self.root).rstrip("/") + "/"

    def describe(self) -> str:
        return f"local folder {self.root}"

    def local_path(self, path: str) -> Path:
        """The file's path on this machine (for zero-copy serving, e.g. send_file)."""
        return self.root / clean_path(path)

    _full = local_path

    def os_path(self, rel: str) -> str:
        """The path on disk, as a string, of an already cleaned relative path."""
        return self._prefix + rel if rel else self._prefix

    def stat(self, path: str) -> Entry | None:
        rel = clean_path(path)
        try:
            st = os.stat(self.os_path(rel))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _os_error(exc, rel) from exc
        return None if S_ISDIR(st.st_mode) else _entry(rel, st)

    def _iter_files(self, prefix: str = "") -> Iterator[Entry]:
        rel_base = clean_path(prefix)
        base = self.os_path(rel_base)
        if not os.path.isdir(base):
            return
        stack = [(f"{rel_base}/" if rel_base else "", base)]  # (relative prefix, folder on disk)
        while stack:
            rel_folder, folder = stack.pop()
            try:
                with os.scandir(folder) as it:
                    items = list(it)
            except OSError as exc:
                raise _os_error(exc, folder) from exc
            for item in items:
                rel = rel_folder + item.name
                folder, st = _look(item, rel)
                if folder:
                    stack.append((rel + "/", item.path))
                elif st is not None:
                    yield _entry(rel, st)

    def open_read(self, path: str) -> BinaryIO:
        rel = clean_path(path)
        try:
            return _reader(self.os_path(rel), rel)
        except IsADirectoryError:
            raise RemoteNotFound(rel) from None
        except OSError as exc:
            raise _os_error(exc, rel) from exc

    def read_range(self, path: str, offset: int, length: int | None = None) -> BinaryIO:
        """A seek: no byte before `offset` is read (past the end, reads return nothing)."""
        check_range(offset, length)
        reader = self.open_read(path)
        try:
            reader.seek(offset)
        except OSError as exc:
            reader.close()
            raise _os_error(exc, clean_path(path)) from exc
        return RangeReader(reader, length)  # type: ignore[return-value]

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
        final = self.os_path(rel)
        temp = self.os_path(temp_name(rel))
        reader = HashingReader(stream, md5=compute_md5 or md5 is not None)
        try:
            fd = _create(temp, self._changed)
            try:
                st = _fill(fd, reader, rel, size, md5, modified)
            finally:
                os.close(fd)
            os.replace(temp, final)
            self._changed(os.path.dirname(final))
        except OSError as exc:
            _discard(temp)
            raise _os_error(exc, rel) from exc
        except BaseException:
            _discard(temp)
            raise
        finally:
            reader.close()  # ends HashingReader's hashing thread now, also after a failure
        return _entry(rel, st, reader.digest)

    def delete(self, path: str) -> None:
        rel = clean_path(path)
        try:
            os.unlink(self.os_path(rel))
        except IsADirectoryError:
            raise RemoteNotFound(rel) from None
        except OSError as exc:
            raise _os_error(exc, rel) from exc

    def checksum(self, path: str) -> str | None:
        rel = clean_path(path)
        if not os.path.isfile(self.os_path(rel)):
            raise RemoteNotFound(rel)
        return None  # a plain filesystem keeps no checksum; verification uses the write's hash

    def move(self, src: str, dst: str) -> Entry:
        source, target = self._full(src), self._full(dst)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
            _fsync_dir(target.parent)
            st = os.stat(target)
        except OSError as exc:
            raise _os_error(exc, f"{clean_path(src)} -> {clean_path(dst)}") from exc
        return _entry(clean_path(dst), st)


# --- confined: every path opened beneath a folder, symbolic links never followed -------------

#: a folder below a confined root: O_NOFOLLOW refuses a link where the folder should be
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: O_NONBLOCK: a FIFO swapped in for a file must not block the reader until a writer comes
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class PathRefused(RemoteError):
    """A symbolic link, or a file, where a folder (or a file) of a confined path should be:
    following it could leave the root, so the path is refused."""


def _refused(exc: OSError, rel: str) -> RemoteError:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return PathRefused(f"{rel}: a symbolic link or a file is where a folder should be: refused")
    return _os_error(exc, rel)


def _split(rel: str) -> tuple[str, str]:
    folder, _, name = rel.rpartition("/")
    return folder, name


def _open_child(
    parent: int, name: str, rel: str, *, create: bool, made: Callable[[int], None] | None = None
) -> int:
    """The folder `name` inside the open folder `parent`, never through a link; `made(parent)`
    when it had to be made (the parent's new entry must reach the disk too)."""
    try:
        return os.open(name, _FOLDER, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise RemoteNotFound(rel) from None
    except OSError as exc:
        raise _refused(exc, rel) from exc
    try:
        os.mkdir(name, dir_fd=parent)
    except FileExistsError:
        pass  # made by another thread meanwhile
    except OSError as exc:
        raise _refused(exc, rel) from exc
    else:
        if made is not None:
            made(parent)
    try:
        return os.open(name, _FOLDER, dir_fd=parent)
    except OSError as exc:
        raise _refused(exc, rel) from exc


def _listing(folder_fd: int, rel: str) -> list[os.DirEntry]:
    try:
        with os.scandir(folder_fd) as items:
            return list(items)
    except OSError as exc:
        raise _os_error(exc, rel or ".") from exc


class ConfinedLocalRemote(_FolderDurability):
    """A local folder reached only through descriptors opened beneath it (sync jobs' folders).

    Every path component is opened relative to its parent's descriptor with O_NOFOLLOW, so a
    folder swapped for a symbolic link after the job was created (to /etc, to another user's
    folder) is refused, never followed; a name never holds "/" or "..". A folder's descriptor is
    opened once and reused for every file in it until close(), so the per-file cost is one
    system call, as with plain paths. The folder itself must exist: it is opened, never created
    (an unmounted share is an empty local folder); folders inside it are made as files need them.
    """

    kind = "local"
    #: os.replace between folder descriptors; write's own fstat
    capabilities = Capabilities(move=True, write_stat=True)
    reads_borrowed = True  # as LocalRemote: the same _fill

    def __init__(self, folder_fd: int, name: str) -> None:
        self.name = name
        self._folders: dict[str, int] = {"": folder_fd}
        self._retired: list[int] = []  # replaced while other threads may still use them
        self._lock = threading.Lock()

    @classmethod
    def open(cls, root: str, folder: str = "") -> ConfinedLocalRemote:
        """`folder` (relative, "/"-separated) inside the folder `root`. The root's own path is the
        operator's and is opened as it is; below it no link is followed. RemoteNotFound when a
        folder is missing, PathRefused when a link or a file stands in the way."""
        rel = clean_path(folder)
        try:
            fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise _os_error(exc, root) from exc
        done: list[str] = []
        try:
            for name in rel.split("/") if rel else ():
                done.append(name)
                child = _open_child(fd, name, "/".join(done), create=False)
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, os.path.join(root, rel) if rel else root)

    @property
    def folder_fd(self) -> int:
        """The descriptor of the folder itself (e.g. for mounts.holds_share)."""
        return self._folders[""]

    def describe(self) -> str:
        return f"local folder {self.name}"

    def _folder(self, rel: str, *, create: bool = False) -> int:
        fd = self._folders.get(rel)
        if fd is not None:
            return fd
        with self._lock:
            return self._open_locked(rel, create)

    def _open_locked(self, rel: str, create: bool) -> int:
        fd = self._folders.get(rel)
        if fd is None:
            parent, name = _split(rel)
            parent_fd = self._open_locked(parent, create)
            fd = _open_child(parent_fd, name, rel, create=create, made=self._changed)
            self._folders[rel] = fd
        return fd

    def _reopen(self, rel: str) -> int:
        """`rel` again from the top, after it (or a parent) was removed since it was opened."""
        with self._lock:
            for cached in [k for k in self._folders if k and (rel + "/").startswith(k + "/")]:
                self._retired.append(self._folders.pop(cached))
            return self._open_locked(rel, True)

    def file_stat(self, path: str) -> os.stat_result | None:
        """The stat of the regular file at `path`; None for nothing, a folder or a link."""
        rel = clean_path(path)
        folder, name = _split(rel)
        if not name:
            return None
        try:
            st = os.stat(name, dir_fd=self._folder(folder), follow_symlinks=False)
        except (RemoteNotFound, FileNotFoundError):
            return None
        except OSError as exc:
            raise _refused(exc, rel) from exc
        return st if S_ISREG(st.st_mode) else None

    def stat(self, path: str) -> Entry | None:
        st = self.file_stat(path)
        return None if st is None else _entry(clean_path(path), st)

    def walk(self, prefix: str = "") -> Iterator[tuple[str, os.stat_result]]:
        """(path, stat) of every regular file below `prefix`; links are never followed. Each
        folder is listed through a descriptor of its own (a cached one's offset is shared)."""
        base = clean_path(prefix)
        try:
            top = os.open(".", _FOLDER, dir_fd=self._folder(base))
        except RemoteNotFound:
            return
        except OSError as exc:
            raise _refused(exc, base) from exc
        stack: list[tuple[str, int, Iterator[os.DirEntry]]] = []
        opened: int | None = top
        try:
            stack.append((f"{base}/" if base else "", top, iter(_listing(top, base))))
            opened = None
            while stack:
                rel_folder, fd, items = stack[-1]
                item = next(items, None)
                if item is None:
                    os.close(stack.pop()[1])
                    continue
                rel = rel_folder + item.name
                folder, st = _look(item, rel)
                if folder:
                    try:
                        opened = os.open(item.name, _FOLDER, dir_fd=fd)
                    except OSError:
                        continue  # removed, or swapped for a link, since it was listed
                    stack.append((rel + "/", opened, iter(_listing(opened, rel))))
                    opened = None
                elif st is not None:
                    yield rel, st
        finally:
            for _, fd, _ in stack:
                os.close(fd)
            if opened is not None:  # opened, then its listing failed
                os.close(opened)

    def _iter_files(self, prefix: str = "") -> Iterator[Entry]:
        for rel, st in self.walk(prefix):
            yield _entry(rel, st)

    def open_fd(self, path: str) -> int:
        """A descriptor, for reading, of the regular file at `path` (RemoteNotFound for nothing,
        a folder, a pipe or a device; PathRefused for a link): `open_read`'s and `copy_in`'s."""
        rel = clean_path(path)
        folder, name = _split(rel)
        if not name:
            raise RemoteNotFound(rel)
        try:
            fd = os.open(name, _READ, dir_fd=self._folder(folder))
        except FileNotFoundError:
            raise RemoteNotFound(rel) from None
        except OSError as exc:
            raise _refused(exc, rel) from exc
        try:
            if not S_ISREG(os.fstat(fd).st_mode):  # a folder, a pipe, a device: not a file
                raise RemoteNotFound(rel)
            return fd  # O_NONBLOCK changes nothing for a regular file
        except OSError as exc:
            os.close(fd)
            raise _os_error(exc, rel) from exc
        except BaseException:
            os.close(fd)
            raise

    def open_read(self, path: str) -> BinaryIO:
        rel = clean_path(path)
        return _reader(self.open_fd(rel), rel)

    def read_range(self, path: str, offset: int, length: int | None = None) -> BinaryIO:
        """A seek: no byte before `offset` is read (past the end, reads return nothing)."""
        check_range(offset, length)
        reader = self.open_read(path)
        try:
            reader.seek(offset)
        except OSError as exc:
            reader.close()
            raise _os_error(exc, clean_path(path)) from exc
        return RangeReader(reader, length)  # type: ignore[return-value]

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
        reader = HashingReader(stream, md5=compute_md5 or md5 is not None)
        try:
            st = self._atomic(rel, lambda fd: _fill(fd, reader, rel, size, md5, modified))
        finally:
            reader.close()
        return _entry(rel, st, reader.digest)

    def copy_in(
        self,
        source: ConfinedLocalRemote,
        src_path: str,
        path: str,
        *,
        size: int,
        modified: datetime,
        md5: str | None = None,
        at_end: Callable[[], None] | None = None,
    ) -> Entry:
        """`write` of a file of another confined folder on this machine, the same atomic,
        durable way, read straight from its descriptor into a reused buffer (see `_copy_fd`):
        the sync engine's local copies. `size` and `modified` are what the caller knows of the
        source; `at_end` runs once it is read, before anything is renamed (it raises when the
        source changed meanwhile). The Entry carries the MD5 of the bytes copied."""
        rel, src_rel = clean_path(path), clean_path(src_path)
        src_fd = source.open_fd(src_rel)
        digests: list[str] = []

        def fill(fd: int) -> os.stat_result:
            done, digest = _copy_fd(src_fd, fd, size, src_rel)
            if at_end is not None:
                at_end()
            if done != size:
                raise RemoteError(f"{rel}: expected {size} bytes, received {done}")
            verify_md5(rel, md5, digest)
            stamp = modified.timestamp()
            os.utime(fd, (stamp, stamp))
            os.fsync(fd)
            digests.append(digest)
            return os.fstat(fd)

        try:
            st = self._atomic(rel, fill)
        finally:
            os.close(src_fd)
        return _entry(rel, st, digests[0])

    def _atomic(self, rel: str, fill: Callable[[int], os.stat_result]) -> os.stat_result:
        """A new file at `rel`: a temp file beside it, filled (bytes, checks, fsync) by `fill`,
        renamed into place; its folder's new entry reaches the disk as `_changed` says."""
        folder, name = _split(rel)
        if not name:
            raise RemoteError("a file needs a name")
        temp = posixpath.basename(temp_name(rel))
        folder_fd = self._folder(folder, create=True)
        try:
            try:
                fd = os.open(temp, _NEW, 0o644, dir_fd=folder_fd)
            except FileNotFoundError:  # the folder was removed since it was opened
                folder_fd = self._reopen(folder)
                fd = os.open(temp, _NEW, 0o644, dir_fd=folder_fd)
            try:
                st = fill(fd)
            finally:
                os.close(fd)
            os.replace(temp, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
            self._changed(folder_fd)
        except OSError as exc:
            _discard(temp, folder_fd)
            raise _refused(exc, rel) from exc
        except BaseException:
            _discard(temp, folder_fd)
            raise
        return st

    def delete(self, path: str) -> None:
        rel = clean_path(path)
        folder, name = _split(rel)
        try:
            os.unlink(name, dir_fd=self._folder(folder))
        except IsADirectoryError:
            raise RemoteNotFound(rel) from None
        except OSError as exc:
            raise _refused(exc, rel) from exc

    def checksum(self, path: str) -> str | None:
        if self.file_stat(path) is None:
            raise RemoteNotFound(clean_path(path))
        return None  # as LocalRemote: verification uses the write's own hash

    def move(self, src: str, dst: str) -> Entry:
        source, target = clean_path(src), clean_path(dst)
        (src_folder, src_name), (dst_folder, dst_name) = _split(source), _split(target)
        try:
            src_fd = self._folder(src_folder)
            dst_fd = self._folder(dst_folder, create=True)
            os.replace(src_name, dst_name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
            _fsync_dir(dst_fd)
            st = os.stat(dst_name, dir_fd=dst_fd, follow_symlinks=False)
        except OSError as exc:
            raise _refused(exc, source) from exc
        return _entry(target, st)

    def close(self) -> None:
        with self._lock:
            for fd in [*self._folders.values(), *self._retired]:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._folders.clear()
            self._retired.clear()
