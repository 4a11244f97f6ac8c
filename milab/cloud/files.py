"""Files the emulator keeps: private from creation, durable when acknowledged, one owner per directory.

* Everything the emulator writes (state, keys, certificates, the client environment, its log) is
  created with mode 0600 inside directories created 0700: the modes are given to ``mkdir`` and
  ``open(O_CREAT)``, so no file is ever readable by others, not even for an instant before a chmod.
* ``write_atomic`` writes a temporary file, fsyncs it, renames it over the target and fsyncs the
  directory: after it returns, the content survives ``kill -9`` and a power cut, and a reader sees
  either the old or the new file, never a torn one.
* ``DirLock`` is an ``fcntl.flock`` on ``<dir>/lock`` held for the life of the process: a second
  emulator on the same state directory refuses to start, and the kernel drops the lock when the
  holder dies, so a ``kill -9`` never leaves a stale lock behind.
"""
from __future__ import annotations

import errno
import fcntl
import os
import tempfile
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
PUBLIC_FILE_MODE = 0o644  # public material only (CA certificates), always inside a 0700 directory


def private_dir(path: Path | str) -> Path:
    """Create ``path`` (and missing parents) with mode 0700; an existing directory is left as it is."""
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return path


def new_private_dir(prefix: str) -> Path:
    """A new temporary directory (under ``$TMPDIR``) only its owner can enter: mkdtemp creates it 0700."""
    return Path(tempfile.mkdtemp(prefix=prefix))


def _create_exclusive(path: Path, mode: int = FILE_MODE) -> int:
    """A new, empty file at ``path`` opened for writing with ``mode`` (a leftover file is replaced)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except FileExistsError:  # a leftover of a crash (or of an older milab, perhaps 0644): start afresh
        os.unlink(path)
        fd = os.open(path, flags, FILE_MODE)
    if mode != FILE_MODE:  # a public file (the umask may narrow open()'s mode): set while it is still empty
        os.fchmod(fd, mode)
    return fd


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as e:  # some file systems cannot fsync a directory; the rename is still atomic
        if e.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def write_atomic(path: Path | str, data: bytes | str, tmp: Path | str | None = None, durable: bool = True,
                 mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``data`` (mode 0600 unless told): temporary file, fsync, rename, fsync of the
    directory."""
    path = Path(path)
    tmp = Path(tmp) if tmp is not None else path.with_name(path.name + ".tmp")
    if isinstance(data, str):
        data = data.encode()
    fd = _create_exclusive(tmp, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
    if durable:
        _fsync_dir(path.parent)


def open_private_log(path: Path | str):
    """Open ``path`` for appending, created with mode 0600 (a binary file object)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    return os.fdopen(fd, "ab")


class DirInUse(RuntimeError):
    """Another live emulator holds the directory's lock."""

    def __init__(self, directory: Path, holder: str):
        self.directory, self.holder = directory, holder
        who = f"another emulator (pid {holder})" if holder else "another emulator"
        super().__init__(f"the state directory {directory} is in use by {who}; stop it first "
                         f"('milab stop --pid {holder or 'PID'}') or choose another --state-dir")


class DirLock:
    """An exclusive ``flock`` on ``<directory>/lock`` for the lifetime of this process."""

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        self.path = self.directory / "lock"
        self._fd: int | None = None

    def acquire(self) -> "DirLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DirInUse(self.directory, holder) from None
            raise
        os.ftruncate(fd, 0)  # the holder's pid, for the message a second emulator prints
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None
