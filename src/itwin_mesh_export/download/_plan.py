"""The state of one tileset download, shared by the sync and async drivers: which files are
known, which wait, the current storage link and its refreshes, progress, and the final result.

It does no network I/O and owns no threads or tasks. The drivers' workers call it directly: each
takes its next file (`next_job`) and records it when done (`finish`); a lock makes the queue, the
graph of files and the counters safe to update from worker threads (the sync driver) and costs
nothing uncontended (the async driver).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .._exceptions import (
    DownloadError,
    IncompleteDownloadError,
    InvalidArgumentError,
    LinkExpiredError,
    UnsafeTilesetError,
)
from ._disk import forget, local_path
from ._manifest import ManifestEntry
from ._storage_link import ROOT_TILESET, StorageLink, resolve_reference
from ._tileset import KIND_PLAIN, KIND_TILESET, Reference, TilesetLimits, file_kind

__all__ = ["DownloadPlan", "DownloadProgress", "DownloadResult", "FileJob", "FileOutcome"]

logger = logging.getLogger("itwin_mesh_export.download")


@dataclass(frozen=True, slots=True)
class DownloadProgress:
    """A snapshot of a download, passed to the `on_progress` callback.

    Totals grow while tilesets are read; `totals_final` says when they no longer will (every
    tileset read and every file's size known). `bytes_done` counts bytes on disk for the known
    files, including those an earlier run left; `bytes_downloaded` only those received now.
    """

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    bytes_downloaded: int
    totals_final: bool
    path: str | None
    """The file this update is about (relative to the target directory), if any."""


@dataclass(frozen=True)
class DownloadResult:
    """What a finished download put on disk."""

    dest: Path
    manifest_path: Path
    files: tuple[ManifestEntry, ...]
    """Every file of the tileset, sorted by path (the manifest's entries)."""
    files_downloaded: int
    """Files fetched (wholly or partly) by this run, or finished from bytes an earlier run had
    fetched but not yet put in place; the others (`files_skipped`) were already complete on disk."""
    files_skipped: int
    bytes_downloaded: int
    link_refreshes: int
    """How many times the storage link was refreshed because the storage refused its signature."""

    @property
    def bytes_total(self) -> int:
        return sum(entry.size for entry in self.files)


@dataclass
class FileJob:
    """One file to have on disk. `depth` is the external-tileset depth of the tileset it belongs
    to (a tileset's own depth for tilesets)."""

    path: str
    kind: str
    depth: int
    size: int | None = None
    done_bytes: int = 0


@dataclass(frozen=True)
class FileOutcome:
    entry: ManifestEntry
    references: list[Reference] = field(default_factory=list)
    skipped: bool = False  # already complete on disk; any other finished file counts as downloaded


class DownloadPlan:
    def __init__(
        self,
        *,
        link: StorageLink,
        dest: Path,
        limits: TilesetLimits,
        records: dict[str, ManifestEntry],
        unverified: set[str],
        can_refresh: bool,
        on_progress: Callable[[DownloadProgress], None] | None,
    ) -> None:
        self.dest = dest
        self.limits = limits
        self.records = records
        self.unverified = unverified
        self.source = link.source
        self._link = link
        self._link_confirmed = True  # the caller's link may be refreshed; a refreshed one must work first
        self._can_refresh = can_refresh
        self._on_progress = on_progress
        self._lock = threading.Lock()
        # Known files by casefolded path: two spellings of one name are one file on a
        # case-insensitive disk (Windows, macOS), so they may not be two files of the tileset.
        self._jobs: dict[str, FileJob] = {}
        self._ready: deque[FileJob] = deque()
        self._in_flight = 0  # files handed to a worker and not finished yet
        self._tileset_edges: dict[str, set[str]] = {}
        self._directories: set[str] = set()  # casefolded, as the keys of `_jobs`
        self._finished: dict[str, ManifestEntry] = {}
        self._unread = 0  # tileset and glTF files not read yet
        self._unknown_sizes = 0
        self._bytes_done = 0
        self._bytes_total = 0
        self._bytes_downloaded = 0
        self._files_skipped = 0  # the others of `_finished` were downloaded: one counter, not two
        self.refreshes = 0
        self._add_job(ROOT_TILESET, KIND_TILESET, depth=0)

    # -- scheduling ---------------------------------------------------------------------------
    #
    # Each worker (a thread or a task) takes its next file here and hands it back to `finish`;
    # no central loop stands between them. A worker that finds no file waiting while others are
    # in flight waits for `finish` to return True (files were queued, or nothing is left).

    def next_job(self) -> FileJob | None:
        """The next file to fetch (now counted in flight), or None when none waits."""
        with self._lock:
            if not self._ready:
                return None
            self._in_flight += 1
            return self._ready.popleft()

    @property
    def drained(self) -> bool:
        """No file waits and none is in flight: every file is finished (or the download failed)."""
        with self._lock:
            return not self._ready and not self._in_flight

    def finish(self, job: FileJob, outcome: FileOutcome) -> bool:
        """Record a file on disk and queue the files it references (checked for safety first).
        Returns True when a worker waiting for a file should look again: files were queued, or
        none is left. Raises UnsafeTilesetError for a reference that must not be followed.

        Thread-safe: the URIs are checked and resolved outside the lock (pure work, the bulk of a
        large tileset's), the graph (known files, cycles, limits) is updated under it, so two
        tilesets finished at once never queue one file twice."""
        resolved: list[tuple[str, str, str]] = []  # (path, kind, uri) in the tileset's order
        refused: DownloadError | None = None  # raised after the references before it are checked
        for reference in outcome.references:
            try:
                path = resolve_reference(job.path, reference.uri)
            except DownloadError as exc:
                refused = exc
                break
            if path is not None:
                resolved.append((path, file_kind(path, content=reference.content), reference.uri))
        with self._lock:
            queued = 0
            try:
                for path, kind, uri in resolved:
                    queued += self._add_file(job, path, kind, uri)
                if refused is not None:
                    raise refused
            except DownloadError:
                forget(self.dest, job.path)  # the next run fetches it again (the export may be fixed)
                raise
            finally:
                self._in_flight -= 1
            self._finished[job.path] = outcome.entry
            if job.kind != KIND_PLAIN:
                self._unread -= 1
            if outcome.skipped:
                self._files_skipped += 1
            self._set_size(job, outcome.entry.size)
            self._bytes_done += outcome.entry.size - job.done_bytes
            job.done_bytes = outcome.entry.size
            self._emit(job.path)
            return queued > 0 or not (self._ready or self._in_flight)

    def _add_file(self, parent: FileJob, path: str, kind: str, uri: str) -> bool:
        """Queue the file a reference of `parent` names (resolved to `path`), unless it is known
        already. Under the lock. Returns whether it was queued."""
        known = self._jobs.get(path.casefold())
        if known is not None and known.path != path:
            raise UnsafeTilesetError(
                f"{parent.path} references {path}, and the tileset references {known.path} too: "
                "names that differ only in case are one file on case-insensitive disks",
                uri=uri,
            )
        if kind == KIND_TILESET and parent.kind == KIND_TILESET:
            self._check_cycle(parent.path, path, uri)
        if known is not None:
            return False
        depth = parent.depth + 1 if kind == KIND_TILESET else parent.depth
        if depth > self.limits.max_external_depth:
            raise UnsafeTilesetError(
                f"{parent.path} nests external tilesets deeper than {self.limits.max_external_depth} levels "
                f"(at {path}); refusing to follow it",
                uri=uri,
            )
        if len(self._jobs) >= self.limits.max_files:
            raise UnsafeTilesetError(
                f"the tileset references more than {self.limits.max_files} files (at {path} in {parent.path}); "
                "refusing to download it (raise TilesetLimits.max_files if it is genuine)",
                uri=uri,
            )
        self._check_file_or_directory(parent.path, path, uri)
        self._add_job(path, kind, depth)
        self._emit(None)
        return True

    def _add_job(self, path: str, kind: str, depth: int) -> None:
        job = FileJob(path, kind, depth)
        self._jobs[path.casefold()] = job
        self._directories.update(_parents(path.casefold()))
        self._ready.append(job)
        self._unknown_sizes += 1
        if kind != KIND_PLAIN:
            self._unread += 1

    def _check_cycle(self, parent: str, child: str, uri: str) -> None:
        """Refuse an external-tileset edge that closes a loop (3D Tiles forbids them; followed,
        they would never end). Only an edge to an already known tileset can close one."""
        edges = self._tileset_edges
        if child == parent or (child.casefold() in self._jobs and self._reaches(child, parent)):
            raise UnsafeTilesetError(
                f"{parent} references the external tileset {child}, which leads back to {parent}: "
                "a cycle of external tilesets",
                uri=uri,
            )
        edges.setdefault(parent, set()).add(child)

    def _reaches(self, start: str, goal: str) -> bool:
        seen, stack = {start}, [start]
        while stack:
            for nxt in self._tileset_edges.get(stack.pop(), ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return False

    def _check_file_or_directory(self, parent: str, path: str, uri: str) -> None:
        folded = path.casefold()
        for prefix in _parents(folded):
            if prefix in self._jobs:
                raise UnsafeTilesetError(
                    f"{parent} references {path}, but {self._jobs[prefix].path} is a file of the tileset too", uri=uri
                )
        if folded in self._directories:
            raise UnsafeTilesetError(
                f"{parent} references {path}, but other files of the tileset are inside it", uri=uri
            )

    # -- the storage link ---------------------------------------------------------------------

    @property
    def link(self) -> StorageLink:
        with self._lock:
            return self._link

    def link_worked(self, link: StorageLink) -> None:
        with self._lock:
            if link.generation == self._link.generation:
                self._link_confirmed = True

    def refresh_needed(
        self, refused: StorageLink, *, path: str, status: int, reason: str, error_code: str | None = None
    ) -> bool:
        """After the storage refused `refused`: False when a newer link is already there (try it),
        True when the caller must fetch one now. Raises LinkExpiredError when that cannot help."""
        with self._lock:
            if refused.generation != self._link.generation:
                return False
            url = refused.redacted_url_for(path)
            if not self._can_refresh:
                raise LinkExpiredError(
                    f"the storage refused the link's signature ({reason}) for {url}: it has probably expired. "
                    "Pass refresh_href (the client's download_export does) to fetch a fresh link and carry on",
                    status_code=status,
                    url=url,
                    error_code=error_code,
                )
            if not self._link_confirmed:
                raise LinkExpiredError(
                    f"the storage refused a freshly fetched link too ({reason}) for {url}",
                    status_code=status,
                    url=url,
                    error_code=error_code,
                )
            return True

    def install_link(self, href: object) -> None:
        try:
            link = StorageLink.parse(href if isinstance(href, str) else "", generation=self._link.generation + 1)
        except InvalidArgumentError as exc:
            raise DownloadError(f"refresh_href did not return a usable storage link: {exc}") from None
        with self._lock:
            if link.source != self._link.source:
                logger.warning("the refreshed storage link points at %s instead of %s", link.source, self._link.source)
            self._link = link
            self._link_confirmed = False
            self.refreshes += 1
        logger.info("storage link refreshed (refresh %d) for %s", self.refreshes, link.source)

    # -- progress -----------------------------------------------------------------------------

    def file_started(self, job: FileJob, *, kept_bytes: int, total: int | None) -> None:
        with self._lock:
            self._bytes_done += kept_bytes - job.done_bytes
            job.done_bytes = kept_bytes
            self._set_size(job, total)
            self._emit(job.path)

    def size_known(self, job: FileJob, total: int | None) -> None:
        with self._lock:
            self._set_size(job, total)

    def bytes_received(self, job: FileJob, count: int) -> None:
        with self._lock:
            job.done_bytes += count
            self._bytes_done += count
            self._bytes_downloaded += count
            self._emit(job.path)

    def bytes_dropped(self, job: FileJob, count: int) -> None:
        if count:
            with self._lock:
                job.done_bytes -= count
                self._bytes_done -= count
                self._emit(job.path)

    def _set_size(self, job: FileJob, size: int | None) -> None:
        if size is None or job.size == size:
            return
        if job.size is None:
            self._unknown_sizes -= 1
        else:
            self._bytes_total -= job.size
        job.size = size
        self._bytes_total += size

    def _emit(self, path: str | None) -> None:
        if self._on_progress is not None:
            self._on_progress(
                DownloadProgress(
                    files_done=len(self._finished),
                    files_total=len(self._jobs),
                    bytes_done=self._bytes_done,
                    bytes_total=self._bytes_total,
                    bytes_downloaded=self._bytes_downloaded,
                    totals_final=self._unread == 0 and self._unknown_sizes == 0,
                    path=path,
                )
            )

    # -- the end ------------------------------------------------------------------------------

    def check_complete(self) -> list[ManifestEntry]:
        """The completeness check: every file the tileset references is on disk with the size it
        was downloaded with. Returns the entries; raises IncompleteDownloadError otherwise."""
        missing = []
        for path in sorted(job.path for job in self._jobs.values()):
            entry = self._finished.get(path)
            try:
                ok = entry is not None and local_path(self.dest, path).stat().st_size == entry.size
            except OSError:
                ok = False
            if not ok:
                missing.append(path)
        if missing:
            raise IncompleteDownloadError(
                f"{len(missing)} of {len(self._jobs)} files the tileset references are not on disk in {self.dest}",
                missing=missing,
            )
        return sorted(self._finished.values())

    def result(self, manifest_path: Path, entries: Iterable[ManifestEntry]) -> DownloadResult:
        return DownloadResult(
            dest=self.dest,
            manifest_path=manifest_path,
            files=tuple(entries),
            files_downloaded=len(self._finished) - self._files_skipped,
            files_skipped=self._files_skipped,
            bytes_downloaded=self._bytes_downloaded,
            link_refreshes=self.refreshes,
        )


def _parents(path: str) -> list[str]:
    segments = path.split("/")
    return ["/".join(segments[:i]) for i in range(1, len(segments))]
