"""`MeshExportClient` and `AsyncMeshExportClient`: the generated package, wired for real use.

Each request of the four operations is built by the generated `build_request` half of its
operation module, and each 2xx body read by its `parse_response` half (the custom endpoint
template in generator/templates/). In between, the client sends the request itself, through its
own httpx client (bearer-token auth, the retry transport, identifying headers, a timeout that is
never None), with the per-call options (`with_options`, a wait's per-poll deadline) as ordinary
arguments of the request it builds: nothing travels around the generated layer.

What the clients add is what a generator cannot know: argument checks (`_arguments`), typed
results and errors (`_responses`, `_http`), and the API's behaviour over time: every page of Get
Exports (`_paging`), waiting for a job (`_waiting`), reusing an export instead of starting a
duplicate (`_ensure`), downloading what it produced (`download/`).

Both clients are one implementation, `_ClientBase`: every public method is defined there once,
and its logic is a coroutine that does I/O only through a backend (`_backends`).
`AsyncMeshExportClient` returns those coroutines to be awaited on asyncio; `MeshExportClient` runs
them to the end on blocking I/O, where they never suspend. The two public classes only choose
their backend and their types (the base class's type parameters: which transport, which sleep,
and whether a call returns its result or a coroutine of it).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

import httpx

from itwin_mesh_export_generated.api.exports import delete_export as _delete_export
from itwin_mesh_export_generated.api.exports import get_export as _get_export
from itwin_mesh_export_generated.api.exports import get_exports as _get_exports
from itwin_mesh_export_generated.api.exports import start_export as _start_export
from itwin_mesh_export_generated.models import Export, ExportsOrderBy, ExportType, StartExport, TilerConfigItem
from itwin_mesh_export_generated.types import UNSET, Unset

from ._arguments import (
    cdn_flag,
    check_base_url,
    check_callable,
    check_export_id,
    check_id,
    check_page_size,
    check_timeout,
    default_headers,
    download_href,
    export_id_of,
    export_type,
    list_query,
    optional_str,
    start_body,
)
from ._auth import BearerTokenAuth, CallableToken, TokenProvider, token_provider_from
from ._backends import (
    AsyncClientBackend,
    BlockingClientBackend,
    ClientBackend,
    asyncio_sleep,
    iterate_sync,
    run_sync,
)
from ._ensure import ReuseKey, pick_reusable
from ._exceptions import InvalidArgumentError, WaitTimeoutError
from ._http import DEFAULT_TIMEOUT, CookielessAsyncClient, CookielessClient, connection_error, status_error
from ._logging import logger
from ._models import mesh_href
from ._paging import DEFAULT_PAGE_SIZE, PageCursor, full_exports, next_page
from ._responses import export_of, page_of
from ._retry import RETRY_POLICY_EXTENSION, RetryPolicy
from ._transport import AsyncRetryTransport, RetryTransport
from ._waiting import DEFAULT_POLL_INTERVAL_S, DEFAULT_WAIT_TIMEOUT_S, TRANSIENT_ERRORS, WaitState
from .download._defaults import DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_AFTER_S
from .download._defaults import DEFAULT_TIMEOUT as DOWNLOAD_TIMEOUT

if TYPE_CHECKING:  # the download engine is imported when a download starts
    from .download import DownloadProgress, DownloadResult, TilesetLimits

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "ENV_BASE_URL", "AsyncMeshExportClient", "MeshExportClient"]

DEFAULT_BASE_URL = "https://api.bentley.com/mesh-export"
ENV_BASE_URL = "ITWIN_MESH_EXPORT_BASE_URL"
# httpx's own defaults, written down: 100 connections, 20 kept alive.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class _NotGiven:
    def __repr__(self) -> str:
        return "NOT_GIVEN"


_NOT_GIVEN = _NotGiven()

TokenArgument = str | TokenProvider | Callable[[], str] | Callable[[], Awaitable[str]] | None
TilerConfig = Mapping[str, str | float | bool] | Sequence[TilerConfigItem]

# The base class's type parameters: what differs between the two clients' signatures.
TransportT = TypeVar("TransportT")  # httpx.BaseTransport, httpx.AsyncBaseTransport
SleepT = TypeVar("SleepT")  # a blocking sleep, or an async one
StorageClientT = TypeVar("StorageClientT")  # httpx.Client, httpx.AsyncClient
StorageTransportT = TypeVar("StorageTransportT")
ExportT = TypeVar("ExportT")  # Export, or a coroutine of one
NoneT = TypeVar("NoneT")
HrefT = TypeVar("HrefT")
IterT = TypeVar("IterT")  # Iterator[Export], AsyncIterator[Export]
DownloadT = TypeVar("DownloadT")


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Per-call settings, passed to the request as it is built: the retry policy (read by the
    retry transport from the request's extensions) and the timeout (None: the client's own)."""

    retry: RetryPolicy
    timeout: httpx.Timeout | None = None

    def build_args(self) -> dict[str, Any]:
        return {
            "timeout": self.timeout if self.timeout is not None else httpx.USE_CLIENT_DEFAULT,
            "extensions": {RETRY_POLICY_EXTENSION: self.retry},
        }


@dataclass(frozen=True, slots=True)
class _Flavour:
    """What makes a client synchronous or asynchronous: its httpx client and transports, its
    backend and default sleep, and how a call's coroutine and a listing reach the caller."""

    http_client: Callable[..., Any]
    transport: Callable[..., Any]
    retry_transport: Callable[..., Any]
    backend: Callable[..., ClientBackend]
    default_sleep: Callable[[], Any]
    finish: Callable[[Coroutine[Any, Any, Any]], Any]
    iterate: Callable[[AsyncIterator[Export]], Any]


def _identity(value: Any) -> Any:
    return value


def _retry_policy(retry: object, max_attempts: int | None, deadline_s: object, base: RetryPolicy) -> RetryPolicy:
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise InvalidArgumentError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
    policy = retry if retry is not None else base
    if max_attempts is not None:
        policy = replace(policy, max_attempts=max_attempts)
    if not isinstance(deadline_s, _NotGiven):
        policy = replace(policy, deadline_s=deadline_s)  # type: ignore[arg-type]  # checked by RetryPolicy
    return policy


class _ClientBase(
    Generic[TransportT, SleepT, StorageClientT, StorageTransportT, ExportT, NoneT, HrefT, IterT, DownloadT]
):
    """Both clients: their configuration, every public method, and the logic of each as a coroutine
    that does I/O only through `self._io` (a `_backends.ClientBackend`). A subclass sets up its
    httpx client and backend (`_open`) and says how a call's coroutine is finished (`_finish`: run
    to the end, or handed to the caller to await) and how a listing is iterated (`_iterate`)."""

    _flavour: _Flavour
    _http: httpx.Client | httpx.AsyncClient
    _io: ClientBackend

    def __init__(
        self,
        token: TokenArgument = None,
        *,
        base_url: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_attempts: int | None = None,
        deadline_s: float | _NotGiven | None = _NOT_GIVEN,
        headers: Mapping[str, str] | None = None,
        transport: TransportT | None = None,
        sleep: SleepT | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        url = base_url if base_url is not None else (os.environ.get(ENV_BASE_URL, "").strip() or DEFAULT_BASE_URL)
        self._base_url = check_base_url(url)
        self._timeout = check_timeout(timeout)
        self._retry = _retry_policy(retry, max_attempts, deadline_s, RetryPolicy())
        self._options = RequestOptions(self._retry)
        self._headers = default_headers(headers)
        self._clock = clock if clock is not None else time.monotonic
        self._provider, self._owns_provider = token_provider_from(token)
        self._auth = BearerTokenAuth(self._provider, self._base_url)
        self._open(transport, sleep)

    def _open(self, transport: TransportT | None, sleep: SleepT | None) -> None:
        """The httpx client (auth, retry transport, headers, timeout) and the backend."""
        flavour = self._flavour
        sleep_function = sleep if sleep is not None else flavour.default_sleep()
        self._http = flavour.http_client(
            base_url=self._base_url,
            auth=self._auth,
            transport=flavour.retry_transport(
                transport if transport is not None else flavour.transport(limits=DEFAULT_LIMITS),
                self._retry,
                sleep=sleep_function,
                clock=self._clock,
            ),
            headers=self._headers,
            timeout=self._timeout,
            follow_redirects=False,
        )
        self._io = flavour.backend(self._http, sleep_function)

    def _finish(self, call: Coroutine[Any, Any, Any]) -> Any:
        return self._flavour.finish(call)

    def _iterate(self, exports: AsyncIterator[Export]) -> IterT:
        return self._flavour.iterate(exports)  # type: ignore[no-any-return]

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def token_provider(self) -> TokenProvider:
        return self._provider

    @property
    def retry_policy(self) -> RetryPolicy:
        """The policy in force for this client's calls (after `with_options`)."""
        return self._options.retry

    def with_options(
        self,
        *,
        retry: RetryPolicy | None = None,
        max_attempts: int | None = None,
        deadline_s: float | _NotGiven | None = _NOT_GIVEN,
        timeout: httpx.Timeout | float | None = None,
    ) -> Self:
        """A client for a few calls with other retry or timeout settings, sharing this one's
        connections and token: `client.with_options(max_attempts=1).get_export(id)`. Closing
        either closes both."""
        policy = _retry_policy(retry, max_attempts, deadline_s, self._options.retry)
        new_timeout = check_timeout(timeout) if timeout is not None else self._options.timeout
        clone = copy.copy(self)
        clone._options = RequestOptions(policy, new_timeout)
        return clone

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r}, token={self._provider!r})"

    # -- the public methods -------------------------------------------------------------------

    def get_export(self, export_id: str, *, cdn: bool = False) -> ExportT:
        """One export by id. `cdn=True` asks for a CDN link instead of the blob storage one."""
        return self._finish(self._get_export(check_export_id(export_id), cdn_flag(cdn), self._options))  # type: ignore[no-any-return]

    def iter_exports(
        self,
        imodel_id: str | None = None,
        changeset_id: str | None = None,
        export_type: ExportType | str | None = None,
        order_by: ExportsOrderBy | str | None = None,
        *,
        cdn: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> IterT:
        """Every export the caller can see, full representation, fetched a page at a time as the
        iteration goes (following `_links.next`). Filters are passed to the server. The async
        client's is an async iterator (`async for`)."""
        query = list_query(imodel_id, changeset_id, export_type, order_by, cdn)
        return self._iterate(self._pages(query, check_page_size(page_size), self._options))

    def start_export(
        self,
        imodel_id: str,
        changeset_id: str | None = None,
        export_type: ExportType | str = ExportType.THREE_D_TILES,
        tiler_config: TilerConfig | None = None,
    ) -> ExportT:
        """Start an export (NotStarted). Not retried on 5xx or timeouts, since the server may have
        started it: `ensure_export` is the call that is safe to repeat. Bentley is deprecating
        manual exports in favour of automatic ones found with `iter_exports`."""
        return self._finish(self._start(start_body(imodel_id, changeset_id, export_type, tiler_config)))  # type: ignore[no-any-return]

    def delete_export(self, export_id: str) -> NoneT:
        """Delete a Complete or Invalid export (the API answers 422 for one in progress)."""
        return self._finish(self._delete(export_id))  # type: ignore[no-any-return]

    def wait_for_export(
        self,
        export_id: str,
        *,
        timeout_s: float = DEFAULT_WAIT_TIMEOUT_S,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        on_status: Callable[[Export], object] | None = None,
        cdn: bool = False,
    ) -> ExportT:
        """Poll until the export is Complete and return it. ExportFailedError if it ends Invalid,
        WaitTimeoutError after `timeout_s`. `on_status(export)` runs on every status change (the
        first one seen included; the async client also takes an async function). Rate limits,
        5xx and network failures do not end the wait."""
        return self._finish(self._wait(export_id, timeout_s, poll_interval_s, on_status, cdn))  # type: ignore[no-any-return]

    def ensure_export(
        self,
        imodel_id: str,
        changeset_id: str | None = None,
        export_type: ExportType | str = ExportType.THREE_D_TILES,
    ) -> ExportT:
        """A Complete or in-flight export for (iModel, changeset, type), found with Get Exports
        (exportType compared case-insensitively), or a new one if there is none. Calls for the
        same export in this process (threads, or tasks of one event loop) take turns, so they do
        not start two either."""
        return self._finish(self._ensure(imodel_id, changeset_id, export_type))  # type: ignore[no-any-return]

    def get_mesh_href(self, export_id: str, *, cdn: bool = False) -> HrefT:
        """A fresh signed URL of the export's tiles (they expire after about an hour), or None
        when the export has none (not Complete)."""
        return self._finish(self._mesh_href(export_id, cdn))  # type: ignore[no-any-return]

    def download_export(
        self,
        export: Export | str,
        dest: str | os.PathLike[str],
        *,
        cdn: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_progress: Callable[[DownloadProgress], None] | None = None,
        storage_client: StorageClientT | None = None,
        storage_transport: StorageTransportT | None = None,
        storage_timeout: httpx.Timeout = DOWNLOAD_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S,
        limits: TilesetLimits | None = None,
        fsync: bool = False,
    ) -> DownloadT:
        """Download a Complete export's whole tileset into `dest` (see `download_tileset`): get
        the export for a fresh link (`cdn=True`: the CDN one), download, and when the storage
        refuses the link's signature, get the export again for a new one and carry on. Run it
        again after any failure to resume.

        `export` is an Export or its id. ExportFailedError if the export ended Invalid,
        ExportNotCompleteError if it has no files yet (wait for it first); then the download's
        errors (DownloadError and its subclasses). The storage is reached with its own HTTP
        client (`storage_client` or `storage_transport`, never this client's), so the API token
        never goes there. The async client calls `on_progress` on the event loop.
        """
        options = {
            "concurrency": concurrency,
            "on_progress": on_progress,
            "http_client": storage_client,
            "transport": storage_transport,
            "timeout": storage_timeout,
            "max_retries": max_retries,
            "max_retry_after_s": max_retry_after_s,
            "limits": limits,
            "fsync": fsync,
        }
        return self._finish(self._download(export, dest, cdn, options))  # type: ignore[no-any-return]

    # -- one request --------------------------------------------------------------------------

    def _build(self, kwargs: dict[str, Any], options: RequestOptions) -> httpx.Request:
        """The request the generated `build_request` describes, with this call's options."""
        if not kwargs.get("params"):
            # The generated builders pass `params={}` even without query parameters, and httpx then
            # parses the URL a second time to merge nothing: ~15% of a call's CPU. Drop it.
            kwargs.pop("params", None)
        return self._http.build_request(**kwargs, **options.build_args())

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """The response to `request`, after the retries (transport) and the 401 replay (auth);
        its body read. Any non-2xx answer raises `status_error`, any failure to get one
        `connection_error`: the generated parser only ever sees a success."""
        io = self._io
        try:
            async with io.slots:
                response = await io.send(request)
                try:
                    await io.read(response)
                except httpx.HTTPError:
                    if response.is_success:
                        raise
                    # an error status whose body broke off: the status alone still makes a typed error
                finally:
                    await io.close(response)
        except httpx.HTTPError as exc:
            raise connection_error(exc, request) from exc
        if not response.is_success:
            raise status_error(response)
        return response

    # -- the operations -----------------------------------------------------------------------

    async def _get_export(self, export_id: str, cdn: int | Unset, options: RequestOptions) -> Export:
        request = self._build(_get_export.build_request(export_id, cdn=cdn), options)
        return export_of(await self._send(request), "Get Export", _get_export.parse_response)

    async def _pages(self, query: dict[str, Any], top: int, options: RequestOptions) -> AsyncIterator[Export]:
        skip: int | Unset = UNSET
        seen: set[PageCursor] = {(top, 0)}
        while True:
            request = self._build(_get_exports.build_request(top=top, skip=skip, **query), options)
            response = await self._send(request)
            page = page_of(response, _get_exports.parse_response)
            for export in full_exports(page, response):
                yield export
            cursor = next_page(page, seen)
            if cursor is None:
                return
            top, skip = cursor

    async def _start(self, body: StartExport) -> Export:
        request = self._build(_start_export.build_request(body=body), self._options)
        return export_of(await self._send(request), "Start Export", _start_export.parse_response)

    async def _delete(self, export_id: str) -> None:
        await self._send(self._build(_delete_export.build_request(check_export_id(export_id)), self._options))

    async def _wait(
        self, export_id: str, timeout_s: float, poll_interval_s: float, on_status: object, cdn: bool
    ) -> Export:
        export_id = check_export_id(export_id)
        cdn_value = cdn_flag(cdn)
        check_callable(on_status, "on_status")
        state = WaitState(
            export_id,
            timeout_s=timeout_s,
            poll_interval_s=poll_interval_s,
            clock=self._clock,
            random=self.retry_policy.random,
        )
        while True:
            state.polled()
            try:
                export = await self._get_export(export_id, cdn_value, self._poll_options(state))
            except TRANSIENT_ERRORS as exc:
                try:
                    delay = state.delay_after_error_s(exc)
                except WaitTimeoutError as timeout:
                    raise timeout from exc
                await self._io.sleep(delay)
                continue
            if state.observe(export) and on_status is not None:
                await self._io.call(on_status, export)  # type: ignore[arg-type]  # checked callable above
            done = state.outcome(export)
            if done is not None:
                return done
            await self._io.sleep(state.next_delay_s())

    def _poll_options(self, state: WaitState) -> RequestOptions:
        """This client's options with the retry deadline cut to what is left of the wait (but
        never below one poll interval, so the last poll at the deadline can complete)."""
        policy = self.retry_policy
        budget = max(state.remaining_s(), state.min_interval_s)
        if policy.deadline_s is None or policy.deadline_s > budget:
            policy = replace(policy, deadline_s=budget)
        return RequestOptions(policy, self._options.timeout)

    async def _ensure(self, imodel_id: object, changeset_id: object, kind: object) -> Export:
        imodel = check_id(imodel_id, "imodel_id")
        changeset = optional_str(changeset_id, "changeset_id")
        kind = export_type(kind)
        key: ReuseKey = (imodel, changeset if isinstance(changeset, str) else "", str(kind).casefold())
        async with self._io.hold(key):
            query = list_query(imodel, changeset_id, None, None, False)
            exports = [export async for export in self._pages(query, DEFAULT_PAGE_SIZE, self._options)]
            found = pick_reusable(
                exports,
                imodel_id=imodel,
                changeset_id=changeset if isinstance(changeset, str) else None,
                export_type=kind,
            )
            if found is not None:
                logger.info("reusing export %s (%s) of iModel %s", found.id, found.status.value, imodel)
                return found
            return await self._start(start_body(imodel, changeset_id, kind, None))

    async def _mesh_href(self, export_id: str, cdn: bool) -> str | None:
        return mesh_href(await self._get_export(check_export_id(export_id), cdn_flag(cdn), self._options))

    async def _download(self, export: object, dest: str | os.PathLike[str], cdn: bool, options: Any) -> DownloadResult:
        export_id = export_id_of(export)
        cdn_value = cdn_flag(cdn)  # a bool, checked before any request

        async def fresh_href() -> str:
            return download_href(await self._get_export(check_export_id(export_id), cdn_value, self._options))

        href = await fresh_href()
        logger.info("downloading export %s into %s", export_id, Path(dest))
        return await self._io.download(href, dest, fresh_href, options)  # type: ignore[no-any-return]

    def _close_provider(self) -> None:
        close = getattr(self._provider, "close", None) if self._owns_provider else None
        if callable(close):
            close()


class MeshExportClient(
    _ClientBase[
        httpx.BaseTransport,
        Callable[[float], None],
        httpx.Client,
        httpx.BaseTransport,
        Export,
        None,
        str | None,
        Iterator[Export],
        "DownloadResult",
    ]
):
    """The Mesh Export API, synchronously. Thread-safe; use one per application.

    `token`: a str, a `TokenProvider` (`ClientCredentials(...)`), or a function returning a token.
    None reads the environment: `ITWIN_ACCESS_TOKEN`, else `ITWIN_CLIENT_ID` + `ITWIN_CLIENT_SECRET`.
    `base_url`: default `ITWIN_MESH_EXPORT_BASE_URL`, else https://api.bentley.com/mesh-export.
    `timeout`: default 5 s to connect, 30 s otherwise (never None). `retry` / `max_attempts` /
    `deadline_s`: the retry policy (`RetryPolicy`). `headers`: sent with every request.
    `transport`: an httpx transport under the retries (`httpx.MockTransport` in tests, or one bound
    to a local service). `sleep` and `clock` (monotonic seconds) are for tests that must not wait.
    """

    _flavour = _Flavour(
        http_client=CookielessClient,
        transport=httpx.HTTPTransport,
        retry_transport=RetryTransport,
        backend=BlockingClientBackend,
        default_sleep=lambda: time.sleep,
        finish=run_sync,
        iterate=iterate_sync,
    )
    _http: httpx.Client

    def _open(self, transport: httpx.BaseTransport | None, sleep: Callable[[float], None] | None) -> None:
        if isinstance(self._provider, CallableToken) and self._provider.is_async:
            raise InvalidArgumentError("an async token function needs AsyncMeshExportClient")
        super()._open(transport, sleep)

    def close(self) -> None:
        """Close the connections (and the token provider, if this client created it)."""
        self._http.close()
        self._close_provider()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncMeshExportClient(
    _ClientBase[
        httpx.AsyncBaseTransport,
        Callable[[float], Awaitable[None]],
        httpx.AsyncClient,
        httpx.AsyncBaseTransport,
        Coroutine[Any, Any, Export],
        Coroutine[Any, Any, None],
        Coroutine[Any, Any, str | None],
        AsyncIterator[Export],
        "Coroutine[Any, Any, DownloadResult]",
    ]
):
    """The Mesh Export API on asyncio: the same arguments and methods as `MeshExportClient`, each
    call a coroutine to await (`iter_exports` is an async iterator). Waits are coroutines, not
    threads: a thousand of them run in one event loop. `transport` is an async httpx transport;
    `sleep` an async function (default `asyncio.sleep`)."""

    _flavour = _Flavour(
        http_client=CookielessAsyncClient,
        transport=httpx.AsyncHTTPTransport,
        retry_transport=AsyncRetryTransport,
        backend=AsyncClientBackend,
        default_sleep=asyncio_sleep,
        finish=_identity,
        iterate=_identity,
    )
    _http: httpx.AsyncClient

    async def aclose(self) -> None:
        """Close the connections (and the token provider, if this client created it)."""
        await self._http.aclose()
        self._close_provider()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
