"""File-system helpers of the download engine: where a tileset path lands under the target
directory, appending and writing whole buffers through bare file descriptors, hashing a file,
removing a refused file, syncing a directory, and this boot's id.

A tileset of thousands of small tiles is bound by file-system calls, not bytes: these helpers take
`str` paths and file descriptors where a Path or a buffered file object would cost microseconds
per file (BENCHMARKS.md, small tiles).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from .._exceptions import InvalidArgumentError

__all__ = [
    "APPEND_FLAGS",
    "boot_id",
    "forget",
    "fsync_directory",
    "local_name",
    "local_path",
    "sha256_file",
    "target_directory",
    "write_all",
]

_HASH_CHUNK_BYTES = 1024 * 1024

logger = logging.getLogger("itwin_mesh_export.download")

# A file opened to be appended to (created if missing), never inherited by a child process.
APPEND_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)


def local_name(dest: str | Path, path: str) -> str:
    """Where a tileset file (`path`, relative, "/"-separated, checked safe) lands under `dest`.
    A str: the download engine handles thousands of small files, and a Path costs ~µs each."""
    return os.path.join(dest, *path.split("/"))


def target_directory(dest: object) -> Path:
    """The caller's target directory as a Path. Raises InvalidArgumentError for anything that
    cannot name a directory (not a str or os.PathLike of str, a NUL character)."""
    try:
        if not isinstance(dest, str | os.PathLike):
            raise TypeError
        root = Path(dest)
    except TypeError:
        raise InvalidArgumentError(f"dest must be a str or os.PathLike path, got {type(dest).__name__}") from None
    if "\x00" in str(root):
        raise InvalidArgumentError(f"dest contains a NUL character: {str(root)!r}")
    return root


def local_path(dest: Path, path: str) -> Path:
    return Path(local_name(dest, path))


def write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written (a short write happens; a full disk raises OSError
    on the next call)."""
    written = os.write(fd, data)
    while written < len(data):
        written += os.write(fd, memoryview(data)[written:])


def forget(dest: Path, path: str) -> None:
    """Remove a file that must not count as downloaded (its contents were refused). Best effort:
    the file is also absent from the manifest, which is only written once all is well."""
    try:
        local_path(dest, path).unlink(missing_ok=True)
    except OSError:
        logger.warning("could not remove %s after refusing its contents", path)


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file. Raises OSError when it cannot be read."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def boot_id() -> str | None:
    """This boot's id (Linux), to tell whether files written by an earlier run may have been
    lost in a power cut since; None elsewhere."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip() or None
    except OSError:
        return None


def fsync_directory(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # platforms (Windows) where a directory cannot be opened: nothing to sync
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
