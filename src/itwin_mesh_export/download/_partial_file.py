"""One file being downloaded: its bytes so far on disk, what the storage said about it, and the
decisions that make a resumed download byte-identical to an uninterrupted one.

On disk, under `<dest>/.itwin-mesh-export/parts/<k>/`, a file in progress is two files named by
its key, 40 hex digits of the SHA-256 of its relative path (so no tileset name can collide with
them or make them too long), `<k>` being the key's first digit (SHARD_CHARS):

- `<key>.part`: the first bytes of the file, appended in order (a kill leaves a prefix);
- `<key>.json`: `{"version": 1, "path": ..., "etag": ..., "last_modified": ..., "size": ...,
  "resumable": ..., "boot": ...}`, written (atomically) before the first byte of a new version of
  the file. `boot` is the Linux boot id (`_manifest.boot_id`, null elsewhere): neither file is
  fsynced while the download runs (fsync=True syncs the bytes before the rename only), so after a
  reboot the bytes may not be those written, and a partial file of another boot is dropped.

A later attempt, or a later process, asks for the rest with `Range: bytes=<n>-` and `If-Range:
<etag>` (or the Last-Modified date when the storage sent no strong ETag): a storage whose file
changed answers 200 with the whole new file, which replaces the prefix, so two versions are never
spliced. Without a validator, or with a Content-Encoding the storage insisted on, a partial file is
not resumable and starts again from zero; files up to SIDECAR_MIN_BYTES keep no sidecar, so they
resume within a process but start again from zero in the next one. A complete file is renamed
into place (fsynced first when asked).
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import os
import queue
import re
import threading
import time
from collections.abc import Container, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._exceptions import DownloadError, StorageError, UnsafeTilesetError
from .._http import retry_after_s
from .._retry import RETRY_STATUSES
from ._disk import APPEND_FLAGS, local_name, write_all
from ._manifest import ManifestEntry

__all__ = ["PartialFile", "Verdict", "VerdictKind", "judge_response", "leftover_keys", "part_key"]

PARTS_DIR_NAME = "parts"
# Partial files live in 16 subdirectories of the parts directory (named by the first hex digit of
# their key), created as needed. Creating a file in a directory and renaming it out both take that
# directory's lock in the kernel: 16 threads sharing one directory spent about twice the CPU per
# small tile (1.2 ms against 0.6 ms on ext4) as with the files spread. More subdirectories spread
# no better, and each costs a mkdir (~0.9 ms on the same disk) once per download.
SHARD_CHARS = 1
_KEY_CHARS = 40
SIDECAR_VERSION = 1
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_UNSATISFIED_RANGE = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$", re.IGNORECASE)
# Bodies at least this large (or of unknown size) are hashed on a helper thread.
BACKGROUND_HASH_MIN_BYTES = 8 * 1024 * 1024
# Chunks are handed to the helper thread in batches of this many bytes (a queue operation per
# 64 KiB chunk costs more than hashing it), and at most this many batches wait: memory stays flat.
BACKGROUND_BATCH_BYTES = 1024 * 1024
BACKGROUND_HASH_QUEUE = 8
# With fsync on, the helper thread also flushes a large file every this many bytes, so that the
# disk writes overlap the download and the fsync before the rename finds little left to write.
BACKGROUND_SYNC_BYTES = 32 * 1024 * 1024
_fdatasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync
# Files up to this size keep no sidecar: after a kill they are fetched again from zero, which
# costs less than creating a second file for each of thousands of small tiles (file creation,
# not bytes, bounds a tileset of small tiles). Within one process they still resume with Range.
SIDECAR_MIN_BYTES = 256 * 1024


class VerdictKind(enum.Enum):
    APPEND = "append"  # 206 continuing our bytes: write the body after them
    REPLACE = "replace"  # 200: the body is the whole file, the bytes on disk (if any) are dropped
    ALREADY_COMPLETE = "already complete"  # 416 saying the file is exactly as long as our bytes
    DISCARD = "discard"  # the range answer does not fit our bytes: drop them, ask again from zero
    REFRESH = "refresh"  # 401/403: the signature was refused (expired): get a fresh link
    RETRY = "retry"  # throttled or a server-side failure: wait, ask again
    FAIL = "fail"  # any other status: the file cannot be had


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    total: int | None = None  # the file's full size, when the answer tells it
    retry_after_s: float | None = None
    reason: str = ""
    encoded: bool = False  # APPEND, REPLACE: the body has a Content-Encoding (not resumable; decode it)


def judge_response(status: int, headers: Mapping[str, str], *, offset: int, etag: str | None) -> Verdict:
    """What to do with the storage's answer to a request for a file of which `offset` bytes are
    on disk (and were served with `etag`, if known). Pure: headers only, the body is not read."""
    error_code = headers.get("x-ms-error-code")
    if status == 200:
        encoded = _encoded(headers)
        return Verdict(VerdictKind.REPLACE, total=None if encoded else _content_length(headers), encoded=encoded)
    if status == 206:
        match = _CONTENT_RANGE.match(headers.get("content-range", ""))
        if match is None:
            return Verdict(VerdictKind.DISCARD, reason="a 206 answer without a readable Content-Range")
        first, last, size = int(match[1]), int(match[2]), match[3]
        total = int(size) if size != "*" else None
        served_etag = headers.get("etag")
        if etag is not None and served_etag is not None and served_etag != etag:
            return Verdict(VerdictKind.DISCARD, reason="the file changed (another ETag) without If-Range noticing")
        if first != offset or last < first or (total is not None and last >= total):
            return Verdict(VerdictKind.DISCARD, reason=f"the storage sent bytes {first}-{last}, not from {offset}")
        return Verdict(VerdictKind.APPEND, total=total, encoded=_encoded(headers))
    if status == 416:
        match = _UNSATISFIED_RANGE.match(headers.get("content-range", ""))
        if match is not None and int(match[1]) == offset and offset > 0:
            return Verdict(VerdictKind.ALREADY_COMPLETE, total=offset)
        return Verdict(VerdictKind.DISCARD, reason="the storage cannot serve the rest of the bytes on disk")
    if status in (401, 403):
        return Verdict(VerdictKind.REFRESH, reason=_status_text(status, error_code))
    # The API client's statuses (`_retry.RETRY_STATUSES`) and, deliberately, any other above 500:
    # unlike the API, a storage or CDN in front of it answers 501/505/52x for passing faults of
    # its own, and a GET of a blob is always safe to repeat (RELIABILITY.md, the 520 row: "storage
    # retries any status above 500"). The wait hint is read as the API client reads it.
    if status in RETRY_STATUSES or status > 500:
        return Verdict(
            VerdictKind.RETRY,
            retry_after_s=retry_after_s(headers, time.time()),
            reason=_status_text(status, error_code),
        )
    if 300 <= status < 400:
        return Verdict(VerdictKind.FAIL, reason=f"{_status_text(status, error_code)}: redirects are not followed")
    return Verdict(VerdictKind.FAIL, reason=_status_text(status, error_code))


class BackgroundHash:
    """SHA-256 of a body computed on a helper thread, fed chunk by chunk; with `sync_fd`, the
    same thread flushes the file to disk every BACKGROUND_SYNC_BYTES.

    hashlib and fdatasync release the GIL, so for a large file the hashing and the disk writes
    overlap the socket reads of the downloading thread instead of adding to them (SHA-256 runs at
    about the speed of a loopback download: inline, it cost a large file a sixth of its
    throughput, and one fsync at the end of 1 GiB a third). The queue is bounded, so a slow
    helper slows the download rather than filling memory. Stop it before closing `sync_fd`.
    """

    def __init__(self, digest: Any, *, sync_fd: int | None = None) -> None:
        self._digest = digest
        self._sync_fd = sync_fd
        self._unsynced = 0
        self._queue: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=BACKGROUND_HASH_QUEUE)
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._thread = threading.Thread(target=self._run, name="itwin-mesh-export-sha256", daemon=True)
        self._thread.start()

    def update(self, chunk: bytes) -> None:
        self._batch.append(chunk)
        self._batch_bytes += len(chunk)
        if self._batch_bytes >= BACKGROUND_BATCH_BYTES:
            self._queue.put(self._batch)
            self._batch, self._batch_bytes = [], 0

    def hexdigest(self) -> str:
        self.stop()
        return str(self._digest.hexdigest())

    def stop(self) -> Any:
        """End the helper thread once it has hashed every chunk; returns the hashlib object."""
        if self._thread.is_alive():
            if self._batch:
                self._queue.put(self._batch)
                self._batch, self._batch_bytes = [], 0
            self._queue.put(None)
            self._thread.join()
        return self._digest

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            for chunk in batch:
                self._digest.update(chunk)
            if self._sync_fd is not None:
                self._unsynced += sum(map(len, batch))
                if self._unsynced >= BACKGROUND_SYNC_BYTES:
                    self._unsynced = 0
                    try:
                        _fdatasync(self._sync_fd)
                    except OSError:  # the fsync before the rename reports a failing disk
                        self._sync_fd = None


class PartialFile:
    """The on-disk state of one file being downloaded. Blocking file I/O only; not thread-safe
    (one file is handled by one worker at a time).

    `leftovers` holds the keys of the partial files and sidecars that were in the parts directory
    when the download started (the directory is locked, so no one else adds any). A file whose key
    is not there has nothing to resume, and `load` skips looking for it: a small tile costs one
    system call before its request (create its partial file), not four. `boot` is this boot's id
    (None when unknown), kept in the sidecar. The partial file is written through a bare file
    descriptor, opened for appending."""

    def __init__(
        self,
        *,
        dest: Path,
        state_dir: Path,
        path: str,
        max_bytes: int | None,
        fsync: bool,
        leftovers: Container[str],
        boot: str | None,
    ) -> None:
        self.path = path
        key = part_key(path)
        self._parts_dir = os.path.join(state_dir, PARTS_DIR_NAME, key[:SHARD_CHARS])
        self.part_path = os.path.join(self._parts_dir, f"{key}.part")
        self.sidecar_path = os.path.join(self._parts_dir, f"{key}.json")
        self.final_path = local_name(dest, path)
        self._nothing_left = key not in leftovers
        self._boot = boot
        self.offset = 0
        self.total: int | None = None
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.resumable = False  # a validator is known: the rest can be asked for with Range
        self._sidecar_written = False  # ...and it is on disk, for a later process
        self._max_bytes = max_bytes
        self._fsync = fsync
        self._hash: Any = hashlib.sha256()
        self._fd: int | None = None  # the partial file, open for appending; its length is `offset`

    # -- before the first request -------------------------------------------------------------

    def load(self) -> int:
        """Take over the bytes an earlier attempt or process left, when they can be trusted (a
        sidecar for this path with a validator); drop them otherwise. Returns the bytes kept.
        Leaves the partial file open (created if need be): creating a file is the slowest step
        for a small tile, and this runs in a worker thread in both drivers."""
        if self._nothing_left:
            with _wrap_os_errors(self.path, "create its partial download"):
                self._fd = self._open(truncate=True)
            return 0
        kept = self._load()
        with _wrap_os_errors(self.path, "create its partial download"):
            self._fd = self._open()
        return kept

    def _load(self) -> int:
        # No makedirs here: nothing below needs the directory, and load()'s _open creates it if missing.
        with _wrap_os_errors(self.path, "read its partial download"):
            sidecar = _read_sidecar(self.sidecar_path)
            try:
                size = os.stat(self.part_path).st_size
            except FileNotFoundError:
                size = 0
            if (
                sidecar is None
                or sidecar.get("path") != self.path
                or (self._boot is not None and sidecar.get("boot") != self._boot)  # written before a reboot
            ):
                if size or sidecar is not None:
                    self._sidecar_written = sidecar is not None
                    self._drop_files()
                return 0
            self._sidecar_written = True
            etag, last_modified, total = sidecar.get("etag"), sidecar.get("last_modified"), sidecar.get("size")
            self.etag = etag if isinstance(etag, str) else None
            self.last_modified = last_modified if isinstance(last_modified, str) else None
            self.total = total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else None
            self.resumable = sidecar.get("resumable") is True and self._validator() is not None
            if not self.resumable or size == 0 or (self.total is not None and size > self.total):
                self._truncate()
                return 0
            self.offset = size
            self._hash = hashlib.sha256()
            with open(self.part_path, "rb") as f:
                while chunk := f.read(1024 * 1024):
                    self._hash.update(chunk)
            return size

    def request_headers(self) -> dict[str, str]:
        headers = {"Accept-Encoding": "identity"}
        validator = self._validator()
        if self.offset > 0 and self.resumable and validator is not None:
            headers["Range"] = f"bytes={self.offset}-"
            headers["If-Range"] = validator
        return headers

    # -- while a response streams -------------------------------------------------------------

    def begin(self, verdict: Verdict, headers: Mapping[str, str]) -> int:
        """Get ready to write a body the verdict accepted (APPEND or REPLACE). Returns the number
        of bytes dropped from disk (a REPLACE over a prefix)."""
        self._check_size(verdict.total)
        dropped = 0
        with _wrap_os_errors(self.path, "write its partial download"):
            if verdict.kind is VerdictKind.REPLACE:
                dropped = self.offset
                etag = headers.get("etag")
                strong = etag if etag is not None and not etag.startswith("W/") else None
                self.offset, self.total, self.etag = 0, verdict.total, strong
                self.last_modified = headers.get("last-modified")
                self.resumable = not verdict.encoded and self._validator() is not None
                self._reset_hash()
                if self._fd is None:
                    self._fd = self._open(truncate=True)
                elif dropped:
                    os.ftruncate(self._fd, 0)  # appends now start at byte 0
                self._save_sidecar()  # before the first byte of this version
            else:
                if verdict.total is not None and verdict.total != self.total:
                    self.total = verdict.total
                    self._save_sidecar()
                if self._fd is None:
                    self._fd = self._open()
                    if os.fstat(self._fd).st_size != self.offset:  # someone else wrote here: start over
                        raise DownloadError(f"the partial download of {self.path} changed on disk while resuming")
        remaining = None if self.total is None else self.total - self.offset
        if not isinstance(self._hash, BackgroundHash) and (remaining is None or remaining >= BACKGROUND_HASH_MIN_BYTES):
            assert self._fd is not None
            self._hash = BackgroundHash(self._hash, sync_fd=self._fd if self._fsync else None)
        return dropped

    def write(self, chunk: bytes) -> None:
        fd = self._fd
        if fd is None:
            raise DownloadError("internal error: writing to a partial file that is not open")
        size = len(chunk)
        if self.total is not None and self.offset + size > self.total:
            raise StorageError(
                f"the storage sent more than the {self.total} bytes it announced for {self.path}",
                status_code=None,
                url=self.path,
            )
        self._check_size(self.offset + size)
        try:
            write_all(fd, chunk)
        except OSError as exc:
            raise DownloadError(f"could not write {self.path}: {exc.strerror or exc}") from exc
        self._hash.update(chunk)
        self.offset += size

    @property
    def complete(self) -> bool:
        """All bytes are on disk: as many as announced (a body without a length is complete when
        it ends without a transport error)."""
        return self.total is None or self.offset == self.total

    # -- at the end ---------------------------------------------------------------------------

    def finalize(self) -> ManifestEntry:
        """fsync the bytes, rename them into place, drop the sidecar. Returns the manifest entry."""
        with _wrap_os_errors(self.path, "move it into place"):
            digest = self._hash.hexdigest()  # stops the helper thread, if any
            if self._fd is None:
                self._fd = self._open()
            if self._fsync:
                os.fsync(self._fd)
            self._close_file()
            try:
                os.replace(self.part_path, self.final_path)
            except FileNotFoundError:  # the first file of its directory: create that, then again
                os.makedirs(os.path.dirname(self.final_path), exist_ok=True)
                os.replace(self.part_path, self.final_path)
            if self._sidecar_written:
                _unlink(self.sidecar_path)
                self._sidecar_written = False
        return ManifestEntry(self.path, self.offset, digest)

    def discard(self) -> int:
        """Drop the bytes on disk (they do not belong to the file the storage now serves).
        Returns how many were dropped."""
        dropped = self.offset
        with _wrap_os_errors(self.path, "drop its partial download"):
            self._truncate()
        return dropped

    def close(self) -> None:
        """Release the file handle (and the hashing thread), keeping the bytes for a later attempt
        or process."""
        if isinstance(self._hash, BackgroundHash):
            self._hash = self._hash.stop()  # before the file closes: the helper may be syncing it
        self._close_file()

    # -- internals ----------------------------------------------------------------------------

    def _open(self, *, truncate: bool = False) -> int:
        flags = (APPEND_FLAGS | os.O_TRUNC) if truncate else APPEND_FLAGS
        try:
            return os.open(self.part_path, flags, 0o666)
        except FileNotFoundError:  # the parts directory went away under the download: again
            os.makedirs(self._parts_dir, exist_ok=True)
            return os.open(self.part_path, flags, 0o666)

    def _validator(self) -> str | None:
        return self.etag or self.last_modified

    def _check_size(self, size: int | None) -> None:
        if size is not None and self._max_bytes is not None and size > self._max_bytes:
            raise UnsafeTilesetError(
                f"{self.path} is larger than the {self._max_bytes} bytes allowed for a file that must be parsed",
                uri=self.path,
            )

    def _truncate(self) -> None:
        self._reset_hash()
        self._close_file()
        self._drop_files()
        self.offset, self.total, self.etag, self.last_modified, self.resumable = 0, None, None, None, False

    def _reset_hash(self) -> None:
        if isinstance(self._hash, BackgroundHash):
            self._hash.stop()
        self._hash = hashlib.sha256()

    def _drop_files(self) -> None:
        _unlink(self.part_path)
        if self._sidecar_written:
            _unlink(self.sidecar_path)
            self._sidecar_written = False

    def _close_file(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def _save_sidecar(self) -> None:
        """Write the sidecar when a later process may resume this file; otherwise make sure no
        sidecar of an earlier version is left (its validator would splice two versions)."""
        if self.resumable and (self.total is None or self.total > SIDECAR_MIN_BYTES):
            self._write_sidecar()
            self._sidecar_written = True
        elif self._sidecar_written:
            _unlink(self.sidecar_path)
            self._sidecar_written = False

    def _write_sidecar(self) -> None:
        record = {
            "version": SIDECAR_VERSION,
            "path": self.path,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "size": self.total,
            "resumable": self.resumable,
            "boot": self._boot,
        }
        temporary = f"{os.path.splitext(self.sidecar_path)[0]}.tmp"
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False))
        os.replace(temporary, self.sidecar_path)


def part_key(path: str) -> str:
    """The name (without suffix) of a file's partial download and sidecar in the parts directory."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()[:_KEY_CHARS]


def leftover_keys(state_dir: Path) -> set[str]:
    """The keys of every partial file or sidecar in the parts directory (created if missing).
    Files of the flat layout of earlier versions (`parts/<key>.part`) move to their shard first,
    so a download started by one of those resumes too."""
    parts = state_dir / PARTS_DIR_NAME
    parts.mkdir(parents=True, exist_ok=True)
    keys: set[str] = set()
    with os.scandir(parts) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                keys.update(name.partition(".")[0] for name in os.listdir(entry.path))
                continue
            key = entry.name.partition(".")[0]
            if len(key) != _KEY_CHARS:
                continue  # not a file this downloader wrote
            shard = parts / key[:SHARD_CHARS]
            shard.mkdir(exist_ok=True)
            os.replace(entry.path, shard / entry.name)
            keys.add(key)
    return keys


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _read_sidecar(path: str) -> Mapping[str, Any] | None:
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return None
    if not isinstance(data, Mapping) or data.get("version") != SIDECAR_VERSION:
        return None
    return data


def _encoded(headers: Mapping[str, str]) -> bool:
    return headers.get("content-encoding", "identity").strip().lower() not in ("", "identity")


def _content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _status_text(status: int, error_code: str | None) -> str:
    return f"HTTP {status}" + (f" ({error_code})" if error_code else "")


@contextlib.contextmanager
def _wrap_os_errors(path: str, doing: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise DownloadError(f"could not {doing} for {path}: {exc.strerror or exc}") from exc
