"""The life of one file's download as a small state machine with no network I/O, so the sync and
async drivers run the same decisions and differ only in how they wait.

A driver asks `request()` for the URL and headers, sends them, and feeds back what happened:
`on_response(status, headers)`, then every body chunk to `on_chunk`, then `on_body_end()`, or
`on_transport_error(exc)` when the connection failed. Each returns a Step saying what to do next:
stream the body, stop (the file is complete), fetch a fresh link, or wait and ask again. The
blocking parts (reading a partial file back, fsync and rename, parsing a tileset) are in
`prepare()` and `finish()`, which the async driver runs in a worker thread.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import os
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from pathlib import Path

from .._exceptions import DownloadError, LinkExpiredError, StorageError, UnsafeTilesetError
from .._redact import REDACTED, redact_text
from .._retry import RetryPolicy
from ._disk import forget, local_name, local_path, sha256_file
from ._manifest import Journal, ManifestEntry
from ._partial_file import PartialFile, VerdictKind, judge_response
from ._plan import DownloadPlan, FileJob, FileOutcome
from ._storage_link import StorageLink
from ._tileset import KIND_GLTF, KIND_PLAIN, KIND_TILESET, Reference, parse_gltf, parse_tileset

__all__ = ["FileTransfer", "Step", "StepKind"]

logger = logging.getLogger("itwin_mesh_export.download")

# Received bytes are reported to the progress callback in steps of this size (and at the end of
# every body): one report per 64 KiB chunk would cost a large file a few percent of throughput.
PROGRESS_STEP_BYTES = 256 * 1024


class StepKind(enum.Enum):
    STREAM = "stream"  # read the body, feeding each chunk to on_chunk, then call on_body_end
    DONE = "done"  # the file is complete: call finish()
    REFRESH = "refresh"  # the link was refused: get a fresh one (once for all files), then ask again
    WAIT = "wait"  # sleep delay_s, then ask again


@dataclass(frozen=True)
class Step:
    kind: StepKind
    raw: bool = True  # STREAM: the body is the file's bytes as sent (no Content-Encoding to undo)
    delay_s: float = 0.0
    link: StorageLink | None = None  # REFRESH: the link the storage refused
    status: int = 0
    reason: str = ""
    error_code: str | None = None  # REFRESH: the storage's own code (Azure x-ms-error-code)


class DownloadCancelled(Exception):
    """Raised inside a sync worker when another file failed: stop, keep the bytes for a resume."""


class FileTransfer:
    def __init__(
        self,
        *,
        plan: DownloadPlan,
        job: FileJob,
        journal: Journal,
        policy: RetryPolicy,
        fsync: bool,
        state_dir: Path,
        leftovers: Container[str],
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        self.plan = plan
        self.job = job
        self._journal = journal
        self._policy = policy
        self._stopped = stopped
        max_bytes = plan.limits.max_json_bytes if job.kind != KIND_PLAIN else None
        self._max_bytes = max_bytes
        self.partial = PartialFile(
            dest=plan.dest,
            state_dir=state_dir,
            path=job.path,
            max_bytes=max_bytes,
            fsync=fsync,
            leftovers=leftovers,
            boot=journal.boot,
        )
        self._link = plan.link
        self._offset_at_request = 0
        self._failures = 0
        self._refused_generation: int | None = None
        self._skipped_entry: ManifestEntry | None = None
        self._data: bytes | None = None  # a skipped file to parse, read (and hashed) by prepare()
        self._unreported = 0

    # -- blocking steps -----------------------------------------------------------------------

    def prepare(self) -> bool:
        """Look at the disk. Returns False when the file is already complete (nothing to fetch)."""
        record = self.plan.records.get(self.job.path)
        if record is not None and self._in_place(record):
            self._skipped_entry = record
            logger.debug("%s is already complete (%d bytes), skipping it", self.job.path, record.size)
            return False
        kept = self.partial.load()
        if kept:
            logger.debug("resuming %s after the %d bytes on disk", self.job.path, kept)
        return True

    def _in_place(self, record: ManifestEntry) -> bool:
        """Whether the file an earlier run finished is still on disk as it was. An unreadable
        file is not: it is fetched again."""
        target = local_name(self.plan.dest, record.path)
        try:
            if os.stat(target).st_size != record.size:
                return False
            if self.job.path not in self.plan.unverified:
                return True
            # written before a reboot: the bytes may not have reached the disk
            if self._max_bytes is None or record.size > self._max_bytes:
                return sha256_file(Path(target)) == record.sha256
            data = Path(target).read_bytes()  # a file to parse: read once, hashed here, parsed by finish()
        except OSError:
            return False
        if hashlib.sha256(data).hexdigest() != record.sha256:
            return False
        self._data = data
        return True

    def announce(self) -> None:
        """Report the bytes already on disk to the progress callback (in the driver's own thread)."""
        self.plan.file_started(self.job, kept_bytes=self.partial.offset, total=self.partial.total)

    def finish(self) -> FileOutcome:
        """Put the file in place (unless it already was), record it, read what it references."""
        skipped = self._skipped_entry is not None
        if self._skipped_entry is not None:
            entry = self._skipped_entry
        else:
            entry = self.partial.finalize()
            logger.debug("%s complete: %d bytes, sha256 %s", entry.path, entry.size, entry.sha256)
        try:
            references = self._read_references(entry, skipped=skipped)
        except DownloadError:
            forget(self.plan.dest, entry.path)  # a refused file is fetched again next time
            raise
        if not skipped:
            self._journal.append(entry)
        return FileOutcome(entry, references, skipped=skipped)

    def _read_references(self, entry: ManifestEntry, *, skipped: bool) -> list[Reference]:
        references: list[Reference] = []
        if self.job.kind in (KIND_TILESET, KIND_GLTF):
            if self._max_bytes is not None and entry.size > self._max_bytes:
                raise UnsafeTilesetError(
                    f"{entry.path} is larger than the {self._max_bytes} bytes allowed for a file that must be parsed",
                    uri=entry.path,
                )
            data, self._data = self._data, None
            if data is None:  # not read by prepare() (same boot, or just downloaded): read it now
                try:
                    data = local_path(self.plan.dest, entry.path).read_bytes()
                except OSError as exc:
                    raise DownloadError(f"could not read {entry.path} back: {exc.strerror or exc}") from exc
                if skipped and hashlib.sha256(data).hexdigest() != entry.sha256:
                    raise DownloadError(
                        f"{entry.path} changed on disk since it was downloaded; it was removed, and the next run "
                        "fetches it again"
                    )
            if self.job.kind == KIND_TILESET:
                references = parse_tileset(data, path=entry.path, limits=self.plan.limits)
            else:
                references = parse_gltf(data, path=entry.path)
        return references

    def close(self) -> None:
        self._report()
        self.partial.close()

    # -- network steps ------------------------------------------------------------------------

    def request(self) -> tuple[str, dict[str, str]]:
        """The URL (signed with the current link) and headers of the next attempt."""
        self._link = self.plan.link
        self._offset_at_request = self.partial.offset
        return self._link.url_for(self.job.path), self.partial.request_headers()

    def on_response(self, status: int, headers: Mapping[str, str]) -> Step:
        partial = self.partial
        verdict = judge_response(status, headers, offset=partial.offset, etag=partial.etag)
        # Redacting a URL costs ~25 µs per file (BENCHMARKS.md, small tiles): only when a line shows it.
        if logger.isEnabledFor(logging.DEBUG):
            url = self._link.redacted_url_for(self.job.path)
            logger.debug("GET %s (from byte %d): %d -> %s", url, partial.offset, status, verdict.kind.value)
        kind = verdict.kind
        if kind in (VerdictKind.APPEND, VerdictKind.REPLACE):
            self.plan.link_worked(self._link)
            self._refused_generation = None
            dropped = partial.begin(verdict, headers)
            self.plan.bytes_dropped(self.job, dropped)
            self.plan.size_known(self.job, partial.total)
            return Step(StepKind.STREAM, raw=not verdict.encoded)
        if kind is VerdictKind.ALREADY_COMPLETE:
            self.plan.link_worked(self._link)
            return Step(StepKind.DONE)
        if kind is VerdictKind.DISCARD:
            self.plan.bytes_dropped(self.job, partial.discard())
            return self._failed(verdict.reason)
        url = self._link.redacted_url_for(self.job.path)
        if kind is VerdictKind.REFRESH:
            if self._refused_generation is not None and self._link.generation > self._refused_generation:
                raise LinkExpiredError(
                    f"the storage refuses {url} even with a freshly fetched link ({verdict.reason})",
                    status_code=status,
                    url=url,
                    error_code=headers.get("x-ms-error-code"),
                )
            self._refused_generation = self._link.generation
            logger.warning("the storage refused the link for %s (%s): it has probably expired", url, verdict.reason)
            return Step(
                StepKind.REFRESH,
                link=self._link,
                status=status,
                reason=verdict.reason,
                error_code=headers.get("x-ms-error-code"),
            )
        if kind is VerdictKind.RETRY:
            wait = verdict.retry_after_s
            if wait is not None and wait > self._policy.retry_after_cap_s:
                raise StorageError(
                    f"the storage asked to wait {wait:.0f} s before asking for {url} again ({verdict.reason}), "
                    f"more than the {self._policy.retry_after_cap_s:.0f} s allowed",
                    status_code=status,
                    url=url,
                    error_code=headers.get("x-ms-error-code"),
                )
            return self._failed(verdict.reason, status=status, retry_after_s=wait)
        raise StorageError(
            f"the storage answered {verdict.reason} for {url}",
            status_code=status,
            url=url,
            error_code=headers.get("x-ms-error-code"),
        )

    def on_chunk(self, chunk: bytes) -> None:
        if self._stopped():
            raise DownloadCancelled
        self.partial.write(chunk)
        self._unreported += len(chunk)
        if self._unreported >= PROGRESS_STEP_BYTES:
            self._report()

    def _report(self) -> None:
        if self._unreported:
            count, self._unreported = self._unreported, 0
            self.plan.bytes_received(self.job, count)

    def on_body_end(self) -> Step:
        self._report()
        if self.partial.complete:
            return Step(StepKind.DONE)
        return self._failed(f"the body ended after {self.partial.offset} of {self.partial.total} bytes")

    def on_transport_error(self, exc: Exception) -> Step:
        self._report()
        return self._failed(f"{type(exc).__name__}: {self._scrub(str(exc)) or 'no detail'}")

    def _failed(self, reason: str, *, status: int | None = None, retry_after_s: float | None = None) -> Step:
        url = self._link.redacted_url_for(self.job.path)
        progressed = self.partial.offset > self._offset_at_request
        self._failures = 1 if progressed else self._failures + 1
        if self._failures >= self._policy.max_attempts:
            raise StorageError(
                f"giving up on {url} after {self._failures} attempts in a row without progress: {reason}",
                status_code=status,
                url=url,
            )
        delay = retry_after_s if retry_after_s is not None else self._policy.backoff_s(self._failures)
        logger.warning(
            "%s failed (%s); attempt %d in %.2f s from byte %d",
            url,
            reason,
            self._failures + 1,
            delay,
            self.partial.offset,
        )
        return Step(StepKind.WAIT, delay_s=delay, reason=reason)

    def _scrub(self, text: str) -> str:
        """`text` (a transport error's message) with URLs redacted (`_redact.redact_text`, as the
        API client does) and, beyond that, every value of the link's query wherever it appears:
        a library may quote the signature outside a URL, or percent-decoded."""
        text = redact_text(text)
        for secret in self._link.secrets():
            text = text.replace(secret, REDACTED)
        return text
