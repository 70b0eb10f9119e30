"""The engine's entry points, `download_tileset` and `download_tileset_async`, and the loops
that move bytes: everything that decides is pure and shared (the other modules of this package),
and each form is only a thin loop that sends the requests the state machine (`_transfer`) asks
for and feeds its answers back: `concurrency` threads (a ThreadPoolExecutor) for sync, as many
tasks (anyio) for async. `_Setup` checks both forms' arguments and opens the session.

No generic client does this, so it is hand-written on httpx alone (azure-storage-blob would not
serve the CDN variant of the link).

Both drivers have the same shape: `concurrency` workers, each a loop that takes the next file from
the plan (`next_job`), fetches it, and records it there itself (`finish`, which also queues what a
tileset references). No central loop hands files out or collects them, so a small tile costs no
wake-up of a scheduling thread and no hand-off between threads; the plan's lock keeps its queue
and graph consistent. A worker that finds the queue empty while other files are in flight (a
tileset not read yet) waits until `finish` says files were queued or none is left (a Condition in
sync, an anyio Event in async). The first error stops the others: in sync a shared Event that every
chunk and every retry's wait checks, in async the task group's cancellation; it is raised alone.

The storage is reached through its own httpx client with no auth, no redirects, no cookie jar
(httpx extracts cookies from every response otherwise: ~15 µs each) and a user agent of its own:
the API's bearer token never goes there. Signed URLs reach logs only redacted, httpx's own request
log line included (`_logging.install_httpx_log_redaction`). A refused signature (401/403) triggers
one call to `refresh_href`, shared by every file in flight, after which each file goes on from the
bytes it has. In the async form, file writes of one chunk happen on the event loop (they
land in the page cache in microseconds); reading a partial file back, fsync, rename and parsing
run in a worker thread.

Per file, the disk sees what the guarantees need and little else (a small tile is bound by file
creation, not bytes): the partial file is created (its name spread over 16 directories, whose
kernel locks 16 workers would otherwise queue on; an earlier run's partial files are listed once
at the start instead of looked up for every file), written, closed, renamed into place (its
directory is created only when the rename says it is missing), and one journal line is written.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import math
import os
import shutil
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypedDict, Unpack

import anyio
import anyio.abc
import anyio.lowlevel
import anyio.to_thread
import httpx

from .._exceptions import DownloadError, InvalidArgumentError
from .._http import CookielessAsyncClient, CookielessClient
from .._logging import install_httpx_log_redaction
from .._retry import RetryPolicy
from .._version import __version__
from ._defaults import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_AFTER_S,
    DEFAULT_TIMEOUT,
    MAX_CONCURRENCY,
)
from ._disk import target_directory
from ._manifest import Journal, load_records, write_manifest
from ._partial_file import leftover_keys
from ._plan import DownloadPlan, DownloadProgress, DownloadResult, FileJob, FileOutcome
from ._storage_link import STATE_DIR_NAME, StorageLink
from ._tileset import TilesetLimits
from ._transfer import DownloadCancelled, FileTransfer, Step, StepKind

__all__ = ["DownloadOptions", "download_tileset", "download_tileset_async"]

logger = logging.getLogger("itwin_mesh_export.download")

USER_AGENT = f"itwin-mesh-export/{__version__} (download)"
LOCK_NAME = "lock"

# httpx logs each request's full URL (signature included) at INFO: redact it before any handler.
install_httpx_log_redaction()


class DownloadOptions(TypedDict, total=False):
    """The options `download_tileset` and `download_tileset_async` both take, as keywords."""

    concurrency: int
    """Files in flight at once: 1 to 256, default 8."""
    on_progress: Callable[[DownloadProgress], None] | None
    """Called with a `DownloadProgress` as files and bytes arrive, one call at a time."""
    timeout: httpx.Timeout
    """The storage client's timeouts (default 10 s to connect, 60 s to read or write)."""
    max_retries: int
    """Attempts of one file in a row that may fail without progress, after the first (default 5)."""
    max_retry_after_s: float
    """A storage `Retry-After` longer than this fails the file instead (default 60 s)."""
    limits: TilesetLimits | None
    """Bounds on what a tileset may ask for (default `TilesetLimits()`)."""
    fsync: bool
    """Make every file durable before its rename (default False: only the manifest is synced)."""


def download_tileset(
    mesh_href: str,
    dest: str | os.PathLike[str],
    *,
    refresh_href: Callable[[], str] | None = None,
    http_client: httpx.Client | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
    **options: Unpack[DownloadOptions],
) -> DownloadResult:
    """Download the tileset behind an export's `_links.mesh.href` into `dest`.

    Fetches `tileset.json`, every file it references, external tilesets and what they reference,
    with at most `concurrency` files at a time; skips files an earlier run finished and resumes
    partial ones; checks that every referenced file is on disk; writes the manifest.

    `refresh_href` returns a fresh href (fetch the export again) when the storage refuses the
    signature; without it that is a LinkExpiredError. `http_client` (no auth allowed) or
    `transport` replace the default storage client. `sleep` waits between attempts (injectable
    for tests); by default a wait that ends early when another file failed or ^C was pressed.
    The other options are `DownloadOptions` (`concurrency`, `on_progress`, called from worker
    threads, `timeout`, `max_retries`, `max_retry_after_s`, `limits`, `fsync`).

    Durability: a file gets its final name only once complete, so a killed process never leaves
    a partial file there, and the manifest is fsynced. `fsync=True` also makes every file
    durable before its rename (power-loss safe at return), at the disk's speed: on a disk slower
    than the network that caps throughput. Without it, a resume after a reboot re-checks the
    files an unfinished run had completed against their SHA-256.

    Raises UnsafeTilesetError, InvalidTilesetError, StorageError (LinkExpiredError),
    IncompleteDownloadError, DownloadError; InvalidArgumentError for bad arguments. On any error
    the bytes on disk are kept, and running again resumes.
    """
    setup = _Setup(mesh_href, dest, refresh_href, http_client, transport, sleep, options)
    with setup.open_session() as session:
        with setup.storage_client(CookielessClient) as client:
            _run_sync(session, client, refresh_href, setup.concurrency, sleep)
        return session.complete()


async def download_tileset_async(
    mesh_href: str,
    dest: str | os.PathLike[str],
    *,
    refresh_href: Callable[[], Awaitable[str]] | None = None,
    http_client: httpx.AsyncClient | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    **options: Unpack[DownloadOptions],
) -> DownloadResult:
    """The async form of `download_tileset` (asyncio or trio, through anyio): the same
    arguments, with an async `refresh_href`, client, transport and `sleep`. `on_progress` is
    called on the event loop."""
    setup = _Setup(mesh_href, dest, refresh_href, http_client, transport, sleep, options)
    with await anyio.to_thread.run_sync(setup.open_session) as session:
        async with setup.storage_client(CookielessAsyncClient) as client:
            await _run_async(session, client, refresh_href, setup.concurrency, sleep)
        return await anyio.to_thread.run_sync(session.complete)


# -- the sync driver --------------------------------------------------------------------------


def _run_sync(
    session: _Session,
    client: httpx.Client,
    refresh_href: Callable[[], str] | None,
    concurrency: int,
    sleep: Callable[[float], None] | None,
) -> None:
    plan = session.plan
    stop = threading.Event()
    # By default a retry's wait (up to max_retry_after_s) ends as soon as the download stops.
    wait = sleep if sleep is not None else stop.wait
    refresh_lock = threading.Lock()
    more = threading.Condition()  # notified when files were queued, nothing is left, or stop
    errors: list[BaseException] = []

    def refresh(step: Step, job: FileJob) -> None:
        with refresh_lock:  # single flight: the first refused file refreshes, the others reuse it
            assert step.link is not None
            if plan.refresh_needed(
                step.link, path=job.path, status=step.status, reason=step.reason, error_code=step.error_code
            ):
                assert refresh_href is not None  # refresh_needed raised otherwise
                plan.install_link(refresh_href())

    def fetch(job: FileJob) -> FileOutcome:
        transfer = session.transfer(job, stopped=stop.is_set)
        try:
            if transfer.prepare():
                transfer.announce()
                while True:
                    if stop.is_set():
                        raise DownloadCancelled
                    url, headers = transfer.request()
                    try:
                        with client.stream("GET", url, headers=headers, follow_redirects=False) as response:
                            step = transfer.on_response(response.status_code, response.headers)
                            if step.kind is StepKind.STREAM:
                                for chunk in response.iter_raw() if step.raw else response.iter_bytes():
                                    transfer.on_chunk(chunk)
                                step = transfer.on_body_end()
                    except httpx.RequestError as exc:
                        step = transfer.on_transport_error(exc)
                    if step.kind is StepKind.DONE:
                        break
                    if step.kind is StepKind.REFRESH:
                        refresh(step, job)
                    else:
                        wait(step.delay_s)
            return transfer.finish()
        finally:
            transfer.close()

    def next_job() -> FileJob | None:
        job = plan.next_job()
        if job is None:
            with more:  # the checks and the wait under one lock: a notify cannot slip between
                while not stop.is_set() and (job := plan.next_job()) is None and not plan.drained:
                    more.wait()
        return job

    def worker() -> None:
        try:
            while not stop.is_set() and (job := next_job()) is not None:
                if plan.finish(job, fetch(job)):
                    with more:
                        more.notify_all()
        except BaseException as exc:
            with more:
                if not isinstance(exc, DownloadCancelled):  # that one only follows another's error
                    errors.append(exc)
                stop.set()  # the other files stop at their next chunk, keeping their bytes
                more.notify_all()

    with concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix="itwin-mesh-export") as pool:
        workers = [pool.submit(worker) for _ in range(concurrency)]
        try:
            for future in workers:
                future.result()
        finally:  # after ^C too: the workers stop at their next chunk, and the pool waits for them
            stop.set()
            with more:
                more.notify_all()
    if errors:
        raise errors[0]


# -- the async driver -------------------------------------------------------------------------


async def _run_async(
    session: _Session,
    client: httpx.AsyncClient,
    refresh_href: Callable[[], Awaitable[str]] | None,
    concurrency: int,
    sleep: Callable[[float], Awaitable[None]],
) -> None:
    plan = session.plan
    refresh_lock = anyio.Lock()
    more = anyio.Event()  # set (and replaced) when files were queued or nothing is left
    errors: list[Exception] = []

    async def refresh(step: Step, job: FileJob) -> None:
        async with refresh_lock:  # single flight: the first refused file refreshes, the others reuse it
            assert step.link is not None
            if plan.refresh_needed(
                step.link, path=job.path, status=step.status, reason=step.reason, error_code=step.error_code
            ):
                assert refresh_href is not None  # refresh_needed raised otherwise
                plan.install_link(await refresh_href())

    async def fetch(job: FileJob) -> FileOutcome:
        transfer = session.transfer(job)
        try:
            if await anyio.to_thread.run_sync(transfer.prepare):
                transfer.announce()
                while True:
                    url, headers = transfer.request()
                    try:
                        async with client.stream("GET", url, headers=headers, follow_redirects=False) as response:
                            step = transfer.on_response(response.status_code, response.headers)
                            if step.kind is StepKind.STREAM:
                                async for chunk in response.aiter_raw() if step.raw else response.aiter_bytes():
                                    transfer.on_chunk(chunk)
                                    await (
                                        anyio.lowlevel.checkpoint_if_cancelled()
                                    )  # prompt even if the body never waits
                                step = transfer.on_body_end()
                    except httpx.RequestError as exc:
                        step = transfer.on_transport_error(exc)
                    if step.kind is StepKind.DONE:
                        break
                    if step.kind is StepKind.REFRESH:
                        await refresh(step, job)
                    else:
                        await sleep(step.delay_s)
            return await anyio.to_thread.run_sync(transfer.finish)
        finally:
            transfer.close()

    async def next_job() -> FileJob | None:
        while (job := plan.next_job()) is None and not plan.drained:
            await more.wait()  # one event loop: nothing changes between the checks and the wait
        return job

    async def worker(tasks: anyio.abc.TaskGroup) -> None:
        nonlocal more
        try:
            while (job := await next_job()) is not None:
                if plan.finish(job, await fetch(job)):
                    more.set()
                    more = anyio.Event()
        except Exception as exc:  # the first error cancels the other workers and is raised alone
            errors.append(exc)
            tasks.cancel_scope.cancel()

    async with anyio.create_task_group() as tasks:
        for _ in range(concurrency):
            tasks.start_soon(worker, tasks)
    if errors:
        raise errors[0]


# -- what both drivers share ------------------------------------------------------------------


class _Setup:
    """One download's arguments, checked before anything happens (both entry points take the
    same ones), and what they open: the session (the locked target directory, earlier runs'
    records, the journal) and the storage client (the caller's, or one of the engine's own)."""

    def __init__(
        self,
        mesh_href: str,
        dest: str | os.PathLike[str],
        refresh_href: object,
        http_client: httpx.Client | httpx.AsyncClient | None,
        transport: object,
        sleep: object,
        options: DownloadOptions,
    ) -> None:
        unknown = sorted(set(options) - set(DownloadOptions.__annotations__))
        if unknown:
            raise InvalidArgumentError(f"unknown download option(s): {', '.join(unknown)}")
        self.mesh_href = mesh_href
        self.dest = dest
        self.refresh = refresh_href is not None
        self.http_client = http_client
        self.transport = transport
        self.on_progress = options.get("on_progress")
        self.timeout = options.get("timeout", DEFAULT_TIMEOUT)
        self.fsync = options.get("fsync", False)
        _check_callables(refresh_href=refresh_href, on_progress=self.on_progress, sleep=sleep)
        if http_client is not None and transport is not None:
            raise InvalidArgumentError("pass http_client or transport, not both")
        if http_client is not None and (http_client.auth is not None or "authorization" in http_client.headers):
            raise InvalidArgumentError(
                "the storage client must not carry credentials: the storage link is signed, and the API's token "
                "must never reach the storage host (pass a client without auth)"
            )
        concurrency = options.get("concurrency", DEFAULT_CONCURRENCY)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
            raise InvalidArgumentError(
                f"concurrency must be an integer from 1 to {MAX_CONCURRENCY}, got {concurrency!r}"
            )
        self.concurrency = concurrency
        max_retries = options.get("max_retries", DEFAULT_MAX_RETRIES)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidArgumentError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        wait = options.get("max_retry_after_s", DEFAULT_MAX_RETRY_AFTER_S)
        if isinstance(wait, bool) or not isinstance(wait, int | float) or not math.isfinite(wait) or wait < 0:
            raise InvalidArgumentError(f"max_retry_after_s must be a finite number >= 0, got {wait!r}")
        limits = options.get("limits")
        if limits is not None and not isinstance(limits, TilesetLimits):
            raise InvalidArgumentError(f"limits must be a TilesetLimits or None, got {type(limits).__name__}")
        self.limits = limits or TilesetLimits()
        # Attempts of one file in a row without progress; no deadline (a large file may take hours).
        self.policy = RetryPolicy(max_attempts=max_retries + 1, deadline_s=None, retry_after_cap_s=wait)

    def storage_client(self, make: Callable[..., Any]) -> Any:
        """A context manager giving the storage client: the caller's (left open), or a new one."""
        if self.http_client is not None:
            return contextlib.nullcontext(self.http_client)
        pool = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        return make(transport=self.transport, timeout=self.timeout, limits=pool, headers={"User-Agent": USER_AGENT})

    def open_session(self) -> _Session:
        link = StorageLink.parse(self.mesh_href)
        root = target_directory(self.dest)
        state_dir = root / STATE_DIR_NAME
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DownloadError(f"cannot create the target directory {root}: {exc.strerror or exc}") from exc
        lock = _lock_directory(state_dir / LOCK_NAME, root)
        journal = Journal(state_dir, source=link.source)
        try:
            try:
                records = load_records(root, state_dir, source=link.source)
                leftovers = leftover_keys(state_dir)  # under the lock: no one else adds any now
                journal.open(keep=records.journal_matches)
            except OSError as exc:
                raise DownloadError(f"cannot open the download's state in {state_dir}: {exc.strerror or exc}") from exc
            plan = DownloadPlan(
                link=link,
                dest=root,
                limits=self.limits,
                records=records.entries,
                unverified=records.unverified,
                can_refresh=self.refresh,
                on_progress=self.on_progress,
            )
        except BaseException:  # whatever it is (^C included), the directory is not left locked
            journal.close()
            if lock is not None:
                lock.close()
            raise
        logger.info(
            "downloading the tileset of %s into %s (%d known complete files)", link.source, root, len(records.entries)
        )
        return _Session(
            dest=root,
            state_dir=state_dir,
            plan=plan,
            journal=journal,
            policy=self.policy,
            fsync=self.fsync,
            lock=lock,
            leftovers=leftovers,
        )


@dataclass(kw_only=True)
class _Session:
    """One download between its set-up and its end (`_Setup.open_session`): the target directory
    locked against a second concurrent download, earlier runs' records loaded, the journal open;
    at the end the completeness check, the manifest, and the state directory removed."""

    dest: Path
    state_dir: Path
    plan: DownloadPlan
    journal: Journal
    policy: RetryPolicy
    fsync: bool
    lock: IO[bytes] | None
    leftovers: set[str]  # keys of the partial files an earlier run left (parts directory)

    def transfer(self, job: FileJob, *, stopped: Callable[[], bool] = lambda: False) -> FileTransfer:
        return FileTransfer(
            plan=self.plan,
            job=job,
            journal=self.journal,
            policy=self.policy,
            fsync=self.fsync,
            state_dir=self.state_dir,
            leftovers=self.leftovers,
            stopped=stopped,
        )

    def complete(self) -> DownloadResult:
        """The completeness check, the manifest, and the partial-download state removed."""
        entries = self.plan.check_complete()
        try:
            manifest = write_manifest(self.dest, source=self.plan.source, entries=entries)
        except OSError as exc:
            raise DownloadError(f"cannot write the manifest in {self.dest}: {exc.strerror or exc}") from exc
        self.journal.close()
        shutil.rmtree(self.state_dir, ignore_errors=True)
        result = self.plan.result(manifest, entries)
        logger.info(
            "downloaded %d files (%d bytes; %d fetched now, %d already complete) into %s",
            len(entries),
            result.bytes_total,
            result.files_downloaded,
            result.files_skipped,
            self.dest,
        )
        return result

    def __enter__(self) -> _Session:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.journal.close()
        if self.lock is not None:
            self.lock.close()


def _lock_directory(path: Path, dest: Path) -> IO[bytes] | None:
    """Hold an exclusive lock on the target directory for this download (POSIX). Two downloads
    into one directory would corrupt each other's partial files."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock; one download per directory is up to the caller
        return None
    try:
        handle = path.open("ab")
    except OSError as exc:
        raise DownloadError(f"cannot create the lock file in {path.parent}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise DownloadError(f"another download is already writing into {dest}") from None
    return handle


def _check_callables(**arguments: object) -> None:
    for name, value in arguments.items():
        if value is not None and not callable(value):
            raise InvalidArgumentError(f"{name} must be callable or None, got {type(value).__name__}")
