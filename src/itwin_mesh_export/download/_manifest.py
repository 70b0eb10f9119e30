"""What a download leaves in the target directory besides the tiles: the manifest of a finished
download, and the journal of files finished by a download still in progress.

Manifest: `<dest>/itwin-mesh-export.manifest.json`, written atomically once every file is on
disk and checked, sorted and without timestamps, so that a resumed download produces exactly the
bytes an uninterrupted one does:

    {
      "format": "itwin-mesh-export.manifest",
      "version": 1,
      "source": "https://host/container/folder",      (the link without its signature)
      "root": "tileset.json",
      "files": [{"path": "tiles/0.glb", "size": 1234, "sha256": "<64 hex>"}, ...]
    }

`path` is relative to `<dest>`, "/"-separated, as decoded from the tileset's URIs.

Journal: `<dest>/.itwin-mesh-export/completed.jsonl`, one JSON object per line: first
`{"source": ..., "boot": <Linux boot id or null>}`, then one `{"path", "size", "sha256"}` per file
renamed into place. A line cut short by a kill is ignored. Both files tell a later run which files
it may skip: the file must still have the recorded size, and, when the journal was written before
a reboot (or the boot is unknown), the recorded SHA-256 too, since files renamed shortly before a
power loss may not have reached the disk (unless the download ran with fsync=True). Records
from another source are ignored.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._exceptions import DownloadError, IncompleteDownloadError
from ._disk import APPEND_FLAGS, boot_id, fsync_directory, local_path, sha256_file, target_directory, write_all
from ._storage_link import MANIFEST_NAME, ROOT_TILESET, path_problem

__all__ = [
    "Journal",
    "ManifestEntry",
    "Records",
    "boot_id",
    "load_records",
    "read_manifest",
    "target_directory",
    "verify_download",
    "write_manifest",
]

MANIFEST_FORMAT = "itwin-mesh-export.manifest"
MANIFEST_VERSION = 1
JOURNAL_NAME = "completed.jsonl"

logger = logging.getLogger("itwin_mesh_export.download")


@dataclass(frozen=True, order=True)
class ManifestEntry:
    """One downloaded file: its path relative to the target directory, size and SHA-256 (hex)."""

    path: str
    size: int
    sha256: str


class Journal:
    """The append-only list of finished files of a download in progress (thread-safe).

    Each finished file is one line, written with one system call as soon as the file is renamed
    into place (nothing is buffered: a line the process had not written when killed is a file the
    next run fetches again). A line that cannot be written (a full disk) raises DownloadError."""

    def __init__(self, state_dir: Path, *, source: str) -> None:
        self.path = state_dir / JOURNAL_NAME
        self._source = source
        self._boot = boot_id()
        self._lock = threading.Lock()
        self._fd: int | None = None

    @property
    def boot(self) -> str | None:
        """This boot's id, as the journal's header records it."""
        return self._boot

    def open(self, *, keep: bool) -> None:
        """Open for appending; `keep=False` starts a new journal (the old one is for another source)."""
        fresh = not keep or not self.path.exists()
        self._fd = os.open(self.path, (APPEND_FLAGS | os.O_TRUNC) if fresh else APPEND_FLAGS, 0o666)
        if fresh:
            self._write(_json_line({"source": self._source, "boot": self._boot}))
        else:
            self._write(b"\n")  # ends a line a kill may have cut short, so the next one parses

    def append(self, entry: ManifestEntry) -> None:
        # The bytes json.dumps({"path", "size", "sha256"}) would give, without building a dict.
        line = f'{{"path":{_json_str(entry.path)},"size":{entry.size:d},"sha256":{_json_str(entry.sha256)}}}\n'
        self._write(line.encode("utf-8"))

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                os.close(fd)

    def _write(self, data: bytes) -> None:
        with self._lock:
            if self._fd is None:
                raise DownloadError("internal error: the download journal is not open")
            try:
                write_all(self._fd, data)
            except OSError as exc:  # the file it records is in place; the next run fetches it again
                raise DownloadError(f"could not write the download journal {self.path}: {exc.strerror or exc}") from exc


def _json_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _json_line(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


@dataclass
class Records:
    """What earlier runs finished: entries by path, the paths whose bytes must be re-checked
    against their SHA-256 before being trusted, and whether the journal may be appended to."""

    entries: dict[str, ManifestEntry]
    unverified: set[str]
    journal_matches: bool


def load_records(dest: Path, state_dir: Path, *, source: str) -> Records:
    """Files earlier runs finished for this source, from the manifest then the journal."""
    records: dict[str, ManifestEntry] = {}
    manifest = _read_json(dest / MANIFEST_NAME)
    if isinstance(manifest, Mapping) and manifest.get("source") == source:
        records.update(_entries(manifest.get("files")))
    journal_matches = False
    unverified: set[str] = set()
    try:
        lines = (state_dir / JOURNAL_NAME).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    header, *rest = [_parse_line(line) for line in lines if line.strip()] or [None]
    if isinstance(header, Mapping) and header.get("source") == source:
        journal_matches = True
        journaled = _entries(rest)
        records.update(journaled)
        boot = boot_id()
        if boot is None or header.get("boot") != boot:
            unverified.update(journaled)
    return Records(records, unverified, journal_matches)


def write_manifest(dest: Path, *, source: str, entries: Iterable[ManifestEntry], fsync: bool = True) -> Path:
    """Write the manifest atomically (temporary file, fsync, rename, fsync of the directory) and
    return its path."""
    document = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "source": source,
        "root": ROOT_TILESET,
        "files": [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in sorted(entries)],
    }
    target = dest / MANIFEST_NAME
    temporary = dest / f".{MANIFEST_NAME}.tmp"
    with temporary.open("w", encoding="utf-8") as f:
        json.dump(document, f, indent=1, ensure_ascii=False)
        f.write("\n")
        f.flush()
        if fsync:
            os.fsync(f.fileno())
    os.replace(temporary, target)
    if fsync:
        fsync_directory(dest)
    return target


def read_manifest(dest: Path) -> list[ManifestEntry]:
    """The entries of the manifest in `dest`. Raises DownloadError when it is missing or unreadable,
    or names a path a tileset could not have (outside `dest`, the downloader's own files...)."""
    document = _read_json(dest / MANIFEST_NAME)
    if not isinstance(document, Mapping) or document.get("format") != MANIFEST_FORMAT:
        raise DownloadError(f"{dest / MANIFEST_NAME} is missing or is not an itwin-mesh-export manifest")
    files = document.get("files")
    entries = list(_entries(files).values())
    if not isinstance(files, list) or len(entries) != len(files):
        raise DownloadError(f"{dest / MANIFEST_NAME} has malformed file entries")
    for entry in entries:
        problem = path_problem(entry.path)
        if problem is not None:
            raise DownloadError(f"{dest / MANIFEST_NAME} lists {entry.path!r}, which {problem}: not a file it can list")
    return entries


def verify_download(dest: str | os.PathLike[str]) -> list[ManifestEntry]:
    """Check every file of a finished download against its manifest (presence, size, SHA-256).

    Returns the entries when all match; raises IncompleteDownloadError listing the paths that are
    missing or differ, DownloadError when there is no readable manifest.
    """
    root = target_directory(dest)
    entries = read_manifest(root)
    bad = []
    for entry in entries:
        target = local_path(root, entry.path)
        try:
            ok = target.stat().st_size == entry.size and sha256_file(target) == entry.sha256
        except OSError:
            ok = False
        if not ok:
            bad.append(entry.path)
    if bad:
        raise IncompleteDownloadError(
            f"{len(bad)} of {len(entries)} files in {root} are missing or differ from the manifest", missing=bad
        )
    return entries


def _entries(items: object) -> dict[str, ManifestEntry]:
    result: dict[str, ManifestEntry] = {}
    if not isinstance(items, list):
        return result
    for item in items:
        if not isinstance(item, Mapping):
            continue
        path, size, digest = item.get("path"), item.get("size"), item.get("sha256")
        if (
            isinstance(path, str)
            and isinstance(size, int)
            and not isinstance(size, bool)
            and size >= 0
            and isinstance(digest, str)
            and len(digest) == 64
        ):
            result[path] = ManifestEntry(path, size, digest)
    return result


def _parse_line(line: str) -> object:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):  # a torn line, or one nested beyond the parser
        return None


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
