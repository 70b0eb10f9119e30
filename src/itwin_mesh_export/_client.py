"""`MeshExportClient` and `AsyncMeshExportClient`: the generated package, wired for real use.

Every request for the four operations is built by the generated `sync_detailed` /
`asyncio_detailed` functions. What the clients add is the wiring (an httpx client with the
bearer-token auth, the retry transport, identifying headers and a timeout that is never None,
handed to the generated `AuthenticatedClient`), argument checks, the typed result of each call,
and the behaviour of the API over time: every page of Get Exports, waiting for a job, and reusing
an export instead of starting a duplicate. Both clients have the same methods; the async one
awaits (and `iter_exports` is an async iterator).
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import httpx

from itwin_mesh_export_generated.api.exports import delete_export as _delete_export
from itwin_mesh_export_generated.api.exports import get_export as _get_export
from itwin_mesh_export_generated.api.exports import get_exports as _get_exports
from itwin_mesh_export_generated.api.exports import start_export as _start_export
from itwin_mesh_export_generated.client import AuthenticatedClient
from itwin_mesh_export_generated.models import (
    Export,
    ExportResponse,
    ExportsOrderBy,
    ExportsPage,
    ExportStatus,
    ExportType,
    PreferReturn,
    StartExport,
    TilerConfigItem,
)
from itwin_mesh_export_generated.types import UNSET, Response, Unset

from ._auth import BearerTokenAuth, CallableToken, TokenProvider, check_secure_url, token_provider_from
from ._download_defaults import DEFAULT_CONCURRENCY
from ._download_defaults import DEFAULT_TIMEOUT as DOWNLOAD_TIMEOUT
from ._download_retry import DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_AFTER_S
from ._ensure import AsyncKeyedLock, KeyedLock, ReuseKey, pick_reusable
from ._exceptions import (
    ExportFailedError,
    ExportNotCompleteError,
    InvalidArgumentError,
    MeshExportError,
    ResponseValidationError,
    WaitTimeoutError,
)
from ._http_client import (
    ACCEPT,
    DEFAULT_TIMEOUT,
    LAST_RESPONSE,
    REQUEST_OPTIONS,
    USER_AGENT,
    APIAsyncClient,
    APIClient,
    RequestOptions,
)
from ._logging import logger
from ._models import mesh_href
from ._paging import DEFAULT_PAGE_SIZE, PageCursor, full_exports, next_page
from ._retry import AsyncRetryTransport, RetryPolicy, RetryTransport
from ._validation import PARSE_ERRORS, check_export, validation_error
from ._waiting import DEFAULT_POLL_INTERVAL_S, DEFAULT_WAIT_TIMEOUT_S, TRANSIENT_ERRORS, WaitState

if TYPE_CHECKING:  # the download engine is imported when a download starts (see _download_defaults)
    from ._download_plan import DownloadProgress, DownloadResult
    from ._tileset import TilesetLimits

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "ENV_BASE_URL", "AsyncMeshExportClient", "MeshExportClient"]

DEFAULT_BASE_URL = "https://api.bentley.com/mesh-export"
ENV_BASE_URL = "ITWIN_MESH_EXPORT_BASE_URL"
# httpx's own defaults, written down: 100 connections, 20 kept alive.
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
_MAX_TILER_CONFIG_ITEMS = 100


class _NotGiven:
    def __repr__(self) -> str:
        return "NOT_GIVEN"


_NOT_GIVEN = _NotGiven()

TokenArgument = str | TokenProvider | Callable[[], str] | Callable[[], Awaitable[str]] | None


# ---- argument checks (InvalidArgumentError, never a bare ValueError) ----


def _check_id(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{name} must be a non-empty str, got {value!r}")
    return value.strip()


def _check_export_id(value: object) -> str:
    """An export id for the URL path. The generated code percent-encodes it into one segment, but
    `.` and `..` stay dot segments, which httpx (and any proxy, RFC 3986 5.2.4) resolves: `..`
    would send the request, token included, to another path of the API host. No export has them."""
    export_id = _check_id(value, "export_id")
    if export_id in (".", ".."):
        raise InvalidArgumentError(f"export_id {export_id!r} is a path segment, not an export id")
    return export_id


def _optional_str(value: object, name: str) -> str | Unset:
    if value is None:
        return UNSET
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a str or None, got {type(value).__name__}")
    return value


def _export_type(value: object) -> ExportType:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"export_type must be an ExportType or a non-empty str, got {value!r}")
    return value if isinstance(value, ExportType) else ExportType(value.strip())


def _order_by(value: object) -> ExportsOrderBy | Unset:
    if value is None:
        return UNSET
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"order_by must be an ExportsOrderBy, a str or None, got {value!r}")
    return value if isinstance(value, ExportsOrderBy) else ExportsOrderBy(value.strip())


def _cdn(value: object) -> int | Unset:
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"cdn must be a bool, got {value!r}")
    return 1 if value else UNSET


def _page_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"page_size must be an int >= 1, got {value!r}")
    return value


def _tiler_config(value: object) -> list[TilerConfigItem] | Unset:
    """`{"key": value, ...}` or a sequence of TilerConfigItem; values are str, number or bool."""
    if value is None:
        return UNSET
    if isinstance(value, Mapping):
        items = [TilerConfigItem(key=k, value=v) for k, v in value.items()]
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = list(value)
    else:
        raise InvalidArgumentError("tiler_config must be a mapping of key to value or a sequence of TilerConfigItem")
    if not 1 <= len(items) <= _MAX_TILER_CONFIG_ITEMS:
        raise InvalidArgumentError(f"tiler_config must have 1 to {_MAX_TILER_CONFIG_ITEMS} items, got {len(items)}")
    for item in items:
        if not isinstance(item, TilerConfigItem):
            raise InvalidArgumentError(f"tiler_config items must be TilerConfigItem, got {type(item).__name__}")
        if not isinstance(item.key, str) or not item.key:
            raise InvalidArgumentError(f"tiler_config keys must be non-empty str, got {item.key!r}")
        v = item.value
        if not isinstance(v, str | bool | int | float) or (isinstance(v, float) and not math.isfinite(v)):
            raise InvalidArgumentError(f"tiler_config[{item.key!r}] must be a str, a finite number or a bool")
    return items


def _start_body(imodel_id: object, changeset_id: object, export_type: object, tiler_config: object) -> StartExport:
    return StartExport(
        i_model_id=_check_id(imodel_id, "imodel_id"),
        changeset_id=_optional_str(changeset_id, "changeset_id"),
        export_type=_export_type(export_type),
        tiler_config=_tiler_config(tiler_config),
    )


def _list_query(
    imodel_id: object, changeset_id: object, export_type: object, order_by: object, cdn: object
) -> dict[str, Any]:
    return {
        "i_model_id": _optional_str(imodel_id, "imodel_id"),
        "changeset_id": _optional_str(changeset_id, "changeset_id"),
        "export_type": UNSET if export_type is None else _export_type(export_type),
        "order_by": _order_by(order_by),
        "cdn": _cdn(cdn),
        "prefer": PreferReturn.REPRESENTATION,
    }


def _export_id_of(export: object) -> str:
    """`download_export` takes an Export or its id; only the id is used (the export is fetched
    again for a fresh link)."""
    if isinstance(export, Export):
        return export.id
    if isinstance(export, str):
        return export
    raise InvalidArgumentError(f"export must be an Export or an export id str, got {type(export).__name__}")


def _download_href(export: Export) -> str:
    """The signed link to download from, or the typed error saying why a download cannot start."""
    if export.status == ExportStatus.INVALID:
        raise ExportFailedError(export.id, export.error if isinstance(export.error, str) else None, export)
    href = mesh_href(export)
    if export.status != ExportStatus.COMPLETE or href is None:
        raise ExportNotCompleteError(export.id, str(export.status.value))
    return href


def _check_base_url(url: str) -> str:
    url = check_secure_url(url, what="base_url")
    parsed = httpx.URL(url)
    if parsed.query or parsed.fragment:
        raise InvalidArgumentError("base_url must not have a query string or a fragment")
    return url.rstrip("/")


def _check_timeout(timeout: object) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        values = timeout.as_dict().values()
        if all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in values):
            return timeout
    elif not isinstance(timeout, bool) and isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0:
        return httpx.Timeout(float(timeout), connect=min(float(timeout), DEFAULT_TIMEOUT.connect or 5.0))
    raise InvalidArgumentError(
        f"timeout must be seconds > 0 or an httpx.Timeout with every part set, got {timeout!r} "
        "(None would let a request hang forever)"
    )


def _default_headers(extra: Mapping[str, str] | None) -> dict[str, str]:
    headers = {"Accept": ACCEPT, "User-Agent": USER_AGENT}
    if extra is not None and not isinstance(extra, Mapping):
        raise InvalidArgumentError(f"headers must be a mapping of str to str, got {type(extra).__name__}")
    for name, value in (extra or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            kinds = f"{type(name).__name__}: {type(value).__name__}"
            raise InvalidArgumentError(f"header names and values must be str, got {kinds} for {name!r}")
        lower = name.lower()
        if lower in ("authorization", "proxy-authorization"):
            raise InvalidArgumentError(f"pass credentials with token=..., not as a {name} header")
        if lower == "user-agent":
            headers["User-Agent"] = f"{value} {USER_AGENT}"  # the application first, as Azure does
        elif lower == "accept":
            headers["Accept"] = value  # replaces the default: two Accept headers would go out otherwise
        else:
            headers[name] = value
    return headers


# ---- results (ResponseValidationError for a 2xx the spec does not describe) ----


def _parse_fallback(response: Response[Any], model: Any, operation: str) -> Any:
    """A 2xx the spec does not list for this operation (a 200 for Start Export, say): the
    generated parser returned None, so read the body with the same generated model."""
    try:
        return model.from_dict(json.loads(response.content))
    except PARSE_ERRORS as exc:
        raise validation_error(operation, exc) from exc


def _export_of(response: Response[Any], operation: str) -> Export:
    parsed = response.parsed
    if parsed is None:
        parsed = _parse_fallback(response, ExportResponse, operation)
    export = parsed.export if isinstance(parsed, ExportResponse) else None
    if not isinstance(export, Export):
        raise ResponseValidationError(f"{operation} answered without an export", response=LAST_RESPONSE.get())
    return check_export(export, where=operation)


def _page_of(response: Response[Any]) -> ExportsPage:
    parsed = response.parsed
    if parsed is None:
        parsed = _parse_fallback(response, ExportsPage, "Get Exports")
    if not isinstance(parsed, ExportsPage):
        raise ResponseValidationError("Get Exports answered without a page of exports", response=LAST_RESPONSE.get())
    return parsed


class _BaseClient:
    """Configuration shared by both clients; no I/O."""

    _retry: RetryPolicy
    _options: RequestOptions | None

    def __init__(
        self,
        token: TokenArgument,
        *,
        base_url: str | None,
        timeout: httpx.Timeout | float,
        retry: RetryPolicy | None,
        max_attempts: int | None,
        deadline_s: float | _NotGiven | None,
        headers: Mapping[str, str] | None,
        clock: Callable[[], float] | None,
    ) -> None:
        url = base_url if base_url is not None else (os.environ.get(ENV_BASE_URL, "").strip() or DEFAULT_BASE_URL)
        self._base_url = _check_base_url(url)
        self._timeout = _check_timeout(timeout)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidArgumentError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
        policy = retry if retry is not None else RetryPolicy()
        if max_attempts is not None:
            policy = replace(policy, max_attempts=max_attempts)
        if not isinstance(deadline_s, _NotGiven):
            policy = replace(policy, deadline_s=deadline_s)
        self._retry = policy
        self._headers = _default_headers(headers)
        self._clock = clock if clock is not None else time.monotonic
        self._options = None
        self._provider, self._owns_provider = token_provider_from(token)
        self._auth = BearerTokenAuth(self._provider, self._base_url)

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def token_provider(self) -> TokenProvider:
        return self._provider

    @property
    def retry_policy(self) -> RetryPolicy:
        """The policy in force for this client's calls (after `with_options`)."""
        if self._options is not None and self._options.retry is not None:
            return self._options.retry
        return self._retry

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
        policy = retry if retry is not None else self.retry_policy
        if not isinstance(policy, RetryPolicy):
            raise InvalidArgumentError(f"retry must be a RetryPolicy, got {type(policy).__name__}")
        if max_attempts is not None:
            policy = replace(policy, max_attempts=max_attempts)
        if not isinstance(deadline_s, _NotGiven):
            policy = replace(policy, deadline_s=deadline_s)
        current_timeout = self._options.timeout if self._options is not None else None
        new_timeout = _check_timeout(timeout) if timeout is not None else current_timeout
        clone = copy.copy(self)
        clone._options = RequestOptions(retry=policy, timeout=new_timeout)
        return clone

    def _poll_options(self, state: WaitState) -> RequestOptions:
        """This client's options with the retry deadline cut to what is left of the wait (but
        never below one poll interval, so the last poll at the deadline can complete)."""
        policy = self.retry_policy
        budget = max(state.remaining_s(), state.min_interval_s)
        if policy.deadline_s is None or policy.deadline_s > budget:
            policy = replace(policy, deadline_s=budget)
        return RequestOptions(retry=policy, timeout=self._options.timeout if self._options is not None else None)

    def _reuse_key(self, imodel_id: str, changeset_id: str | Unset, export_type: ExportType) -> ReuseKey:
        return (imodel_id, changeset_id if isinstance(changeset_id, str) else "", str(export_type).casefold())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r}, token={self._provider!r})"


class MeshExportClient(_BaseClient):
    """The Mesh Export API, synchronously. Thread-safe; use one per application.

    `token`: a str, a `TokenProvider` (`ClientCredentials(...)`), or a function returning a token.
    None reads the environment: `ITWIN_ACCESS_TOKEN`, else `ITWIN_CLIENT_ID` + `ITWIN_CLIENT_SECRET`.
    `base_url`: default `ITWIN_MESH_EXPORT_BASE_URL`, else https://api.bentley.com/mesh-export.
    `transport`: an httpx transport under the retries (`httpx.MockTransport` in tests, or one bound
    to a local service). `sleep` and `clock` (monotonic seconds) are for tests that must not wait.
    """

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
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            token,
            base_url=base_url,
            timeout=timeout,
            retry=retry,
            max_attempts=max_attempts,
            deadline_s=deadline_s,
            headers=headers,
            clock=clock,
        )
        if isinstance(self._provider, CallableToken) and self._provider.is_async:
            raise InvalidArgumentError("an async token function needs AsyncMeshExportClient")
        self._sleep = sleep if sleep is not None else time.sleep
        self._http = APIClient(
            base_url=self._base_url,
            auth=self._auth,
            transport=RetryTransport(
                transport if transport is not None else httpx.HTTPTransport(limits=DEFAULT_LIMITS),
                self._retry,
                sleep=self._sleep,
                clock=self._clock,
            ),
            headers=self._headers,
            timeout=self._timeout,
            follow_redirects=False,
        )
        self._generated = AuthenticatedClient(base_url=self._base_url, token="").set_httpx_client(self._http)
        self._ensure_locks = KeyedLock()

    def _call(
        self,
        operation: str,
        function: Callable[..., Response[Any]],
        *args: Any,
        options: RequestOptions | None,
        **kw: Any,
    ) -> Response[Any]:
        reset = REQUEST_OPTIONS.set(options)
        LAST_RESPONSE.set(None)
        try:
            return function(*args, client=self._generated, **kw)
        except MeshExportError:
            raise
        except PARSE_ERRORS as exc:
            if LAST_RESPONSE.get() is None:  # no answer was read: not the body (a token provider's own error)
                raise
            raise validation_error(operation, exc) from exc
        finally:
            REQUEST_OPTIONS.reset(reset)

    def get_export(self, export_id: str, *, cdn: bool = False) -> Export:
        """One export by id. `cdn=True` asks for a CDN link instead of the blob storage one."""
        export_id = _check_export_id(export_id)
        return self._get_export(export_id, _cdn(cdn), self._options)

    def _get_export(self, export_id: str, cdn: int | Unset, options: RequestOptions | None) -> Export:
        response = self._call("Get Export", _get_export.sync_detailed, export_id, options=options, cdn=cdn)
        return _export_of(response, "Get Export")

    def iter_exports(
        self,
        imodel_id: str | None = None,
        changeset_id: str | None = None,
        export_type: ExportType | str | None = None,
        order_by: ExportsOrderBy | str | None = None,
        *,
        cdn: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Export]:
        """Every export the caller can see, full representation, fetched a page at a time as the
        iteration goes (following `_links.next`). Filters are passed to the server."""
        query = _list_query(imodel_id, changeset_id, export_type, order_by, cdn)
        return self._iter_exports(query, _page_size(page_size), self._options)

    def _iter_exports(self, query: dict[str, Any], top: int, options: RequestOptions | None) -> Iterator[Export]:
        skip: int | Unset = UNSET
        seen: set[PageCursor] = {(top, 0)}
        while True:
            response = self._call(
                "Get Exports", _get_exports.sync_detailed, options=options, top=top, skip=skip, **query
            )
            page = _page_of(response)
            yield from full_exports(page)
            cursor = next_page(page, seen)
            if cursor is None:
                return
            top, skip = cursor

    def start_export(
        self,
        imodel_id: str,
        changeset_id: str | None = None,
        export_type: ExportType | str = ExportType.THREE_D_TILES,
        tiler_config: Mapping[str, str | float | bool] | Sequence[TilerConfigItem] | None = None,
    ) -> Export:
        """Start an export (NotStarted). Not retried on 5xx or timeouts, since the server may have
        started it: `ensure_export` is the call that is safe to repeat. Bentley is deprecating
        manual exports in favour of automatic ones found with `iter_exports`."""
        body = _start_body(imodel_id, changeset_id, export_type, tiler_config)
        response = self._call("Start Export", _start_export.sync_detailed, options=self._options, body=body)
        return _export_of(response, "Start Export")

    def delete_export(self, export_id: str) -> None:
        """Delete a Complete or Invalid export (the API answers 422 for one in progress)."""
        export_id = _check_export_id(export_id)
        self._call("Delete Export", _delete_export.sync_detailed, export_id, options=self._options)

    def wait_for_export(
        self,
        export_id: str,
        *,
        timeout_s: float = DEFAULT_WAIT_TIMEOUT_S,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        on_status: Callable[[Export], object] | None = None,
        cdn: bool = False,
    ) -> Export:
        """Poll until the export is Complete and return it. ExportFailedError if it ends Invalid,
        WaitTimeoutError after `timeout_s`. `on_status(export)` runs on every status change (the
        first one seen included). Rate limits, 5xx and network failures do not end the wait."""
        export_id = _check_export_id(export_id)
        cdn_value = _cdn(cdn)
        if on_status is not None and not callable(on_status):
            raise InvalidArgumentError("on_status must be callable")
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
                export = self._get_export(export_id, cdn_value, self._poll_options(state))
            except TRANSIENT_ERRORS as exc:
                try:
                    delay = state.delay_after_error_s(exc)
                except WaitTimeoutError as timeout:
                    raise timeout from exc
                self._sleep(delay)
                continue
            if state.observe(export) and on_status is not None:
                on_status(export)
            done = state.outcome(export)
            if done is not None:
                return done
            self._sleep(state.next_delay_s())

    def ensure_export(
        self,
        imodel_id: str,
        changeset_id: str | None = None,
        export_type: ExportType | str = ExportType.THREE_D_TILES,
    ) -> Export:
        """A Complete or in-flight export for (iModel, changeset, type), found with Get Exports
        (exportType compared case-insensitively), or a new one if there is none. Calls for the
        same export in this process take turns, so they do not start two either."""
        imodel = _check_id(imodel_id, "imodel_id")
        changeset = _optional_str(changeset_id, "changeset_id")
        kind = _export_type(export_type)
        with self._ensure_locks.hold(self._reuse_key(imodel, changeset, kind)):
            query = _list_query(imodel, changeset_id, None, None, False)
            found = pick_reusable(
                self._iter_exports(query, DEFAULT_PAGE_SIZE, self._options),
                imodel_id=imodel,
                changeset_id=changeset if isinstance(changeset, str) else None,
                export_type=kind,
            )
            if found is not None:
                logger.info("reusing export %s (%s) of iModel %s", found.id, found.status.value, imodel)
                return found
            return self.start_export(imodel, changeset_id, kind)

    def get_mesh_href(self, export_id: str, *, cdn: bool = False) -> str | None:
        """A fresh signed URL of the export's tiles (they expire after about an hour), or None
        when the export has none (not Complete)."""
        return mesh_href(self.get_export(export_id, cdn=cdn))

    def download_export(
        self,
        export: Export | str,
        dest: str | os.PathLike[str],
        *,
        cdn: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_progress: Callable[[DownloadProgress], None] | None = None,
        storage_client: httpx.Client | None = None,
        storage_transport: httpx.BaseTransport | None = None,
        storage_timeout: httpx.Timeout = DOWNLOAD_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S,
        limits: TilesetLimits | None = None,
        fsync: bool = False,
    ) -> DownloadResult:
        """Download a Complete export's whole tileset into `dest` (see `download_tileset`): get
        the export for a fresh link (`cdn=True`: the CDN one), download, and when the storage
        refuses the link's signature, get the export again for a new one and carry on. Run it
        again after any failure to resume.

        `export` is an Export or its id. ExportFailedError if the export ended Invalid,
        ExportNotCompleteError if it has no files yet (wait for it first); then the download's
        errors (DownloadError and its subclasses). The storage is reached with its own HTTP
        client (`storage_client` or `storage_transport`, never this client's), so the API token
        never goes there.
        """
        export_id = _export_id_of(export)
        _cdn(cdn)  # a bool, checked before any request

        def fresh_href() -> str:
            return _download_href(self.get_export(export_id, cdn=cdn))

        href = fresh_href()
        logger.info("downloading export %s into %s", export_id, Path(dest))
        from ._download import download_tileset

        return download_tileset(
            href,
            dest,
            refresh_href=fresh_href,
            concurrency=concurrency,
            on_progress=on_progress,
            http_client=storage_client,
            transport=storage_transport,
            timeout=storage_timeout,
            max_retries=max_retries,
            max_retry_after_s=max_retry_after_s,
            limits=limits,
            fsync=fsync,
        )

    def close(self) -> None:
        """Close the connections (and the token provider, if this client created it)."""
        self._http.close()
        close = getattr(self._provider, "close", None) if self._owns_provider else None
        if callable(close):
            close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncMeshExportClient(_BaseClient):
    """The Mesh Export API on asyncio: the same methods as `MeshExportClient`, awaited
    (`iter_exports` is an async iterator). Waits are coroutines, not threads: a thousand of them
    run in one event loop. `sleep` is an async function (default `asyncio.sleep`)."""

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
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            token,
            base_url=base_url,
            timeout=timeout,
            retry=retry,
            max_attempts=max_attempts,
            deadline_s=deadline_s,
            headers=headers,
            clock=clock,
        )
        import asyncio

        self._sleep = sleep if sleep is not None else asyncio.sleep
        self._http = APIAsyncClient(
            base_url=self._base_url,
            auth=self._auth,
            transport=AsyncRetryTransport(
                transport if transport is not None else httpx.AsyncHTTPTransport(limits=DEFAULT_LIMITS),
                self._retry,
                sleep=self._sleep,
                clock=self._clock,
            ),
            headers=self._headers,
            timeout=self._timeout,
            follow_redirects=False,
        )
        self._generated = AuthenticatedClient(base_url=self._base_url, token="").set_async_httpx_client(self._http)
        self._ensure_locks = AsyncKeyedLock()

    async def _call(
        self,
        operation: str,
        function: Callable[..., Awaitable[Response[Any]]],
        *args: Any,
        options: RequestOptions | None,
        **kw: Any,
    ) -> Response[Any]:
        reset = REQUEST_OPTIONS.set(options)
        LAST_RESPONSE.set(None)
        try:
            return await function(*args, client=self._generated, **kw)
        except MeshExportError:
            raise
        except PARSE_ERRORS as exc:
            if LAST_RESPONSE.get() is None:  # no answer was read: not the body (a token provider's own error)
                raise
            raise validation_error(operation, exc) from exc
        finally:
            REQUEST_OPTIONS.reset(reset)

    async def get_export(self, export_id: str, *, cdn: bool = False) -> Export:
        """One export by id. `cdn=True` asks for a CDN link instead of the blob storage one."""
        export_id = _check_export_id(export_id)
        return await self._get_export(export_id, _cdn(cdn), self._options)

    async def _get_export(self, export_id: str, cdn: int | Unset, options: RequestOptions | None) -> Export:
        response = await self._call("Get Export", _get_export.asyncio_detailed, export_id, options=options, cdn=cdn)
        return _export_of(response, "Get Export")

    def iter_exports(
        self,
        imodel_id: str | None = None,
        changeset_id: str | None = None,
        export_type: ExportType | str | None = None,
        order_by: ExportsOrderBy | str | None = None,
        *,
        cdn: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[Export]:
        """`async for export in client.iter_exports(...)`: every export, a page at a time."""
        query = _list_query(imodel_id, changeset_id, export_type, order_by, cdn)
        return self._iter_exports(query, _page_size(page_size), self._options)

    async def _iter_exports(
        self, query: dict[str, Any], top: int, options: RequestOptions | None
    ) -> AsyncIterator[Export]:
        skip: int | Unset = UNSET
        seen: set[PageCursor] = {(top, 0)}
        while True:
            response = await self._call(
                "Get Exports", _get_exports.asyncio_detailed, options=options, top=top, skip=skip, **query
            )
            page = _page_of(response)
            for export in full_exports(page):
                yield export
            cursor = next_page(page, seen)
            if cursor is None:
                return
            top, skip = cursor

    async def start_export(
        self,
        imodel_id: str,
        changeset_id: str | None = None,
        export_type: ExportType | str = ExportType.THREE_D_TILES,
        tiler_config: Mapping[str, str | float | bool] | Sequence[TilerConfigItem] | None = None,
    ) -> Export:
        """Start an export (NotStarted); not retried on 5xx or timeouts (see `ensure_export`)."""
        body = _start_body(imodel_id, changeset_id, export_type, tiler_config)
        response = await self._call("Start Export", _start_export.asyncio_detailed, options=self._options, body=body)
        return _export_of(response, "Start Export")

    async def delete_export(self, export_id: str) -> None:
        """Delete a Complete or Invalid export (the API answers 422 for one in progress)."""
        export_id = _check_export_id(export_id)
        await self._call("Delete Export", _delete_export.asyncio_detailed, export_id, options=self._options)

    async def wait_for_export(
        self,
        export_id: str,
        *,
        timeout_s: float = DEFAULT_WAIT_TIMEOUT_S,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        on_status: Callable[[Export], object] | None = None,
        cdn: bool = False,
    ) -> Export:
        """Poll until Complete (see `MeshExportClient.wait_for_export`). `on_status` may be sync
        or async."""
        export_id = _check_export_id(export_id)
        cdn_value = _cdn(cdn)
        if on_status is not None and not callable(on_status):
            raise InvalidArgumentError("on_status must be callable")
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
                await self._sleep(delay)
                continue
            if state.observe(export) and on_status is not None:
                result = on_status(export)
                if isinstance(result, Awaitable):
                    await result
            done = state.outcome(export)
            if done is not None:
                return done
            await self._sleep(state.next_delay_s())

    async def ensure_export(
        self,
        imodel_id: str,
        changeset_id: str | None = None,
        export_type: ExportType | str = ExportType.THREE_D_TILES,
    ) -> Export:
        """A Complete or in-flight export for (iModel, changeset, type), or a new one (see
        `MeshExportClient.ensure_export`)."""
        imodel = _check_id(imodel_id, "imodel_id")
        changeset = _optional_str(changeset_id, "changeset_id")
        kind = _export_type(export_type)
        async with self._ensure_locks.hold(self._reuse_key(imodel, changeset, kind)):
            query = _list_query(imodel, changeset_id, None, None, False)
            exports = [export async for export in self._iter_exports(query, DEFAULT_PAGE_SIZE, self._options)]
            found = pick_reusable(
                exports,
                imodel_id=imodel,
                changeset_id=changeset if isinstance(changeset, str) else None,
                export_type=kind,
            )
            if found is not None:
                logger.info("reusing export %s (%s) of iModel %s", found.id, found.status.value, imodel)
                return found
            return await self.start_export(imodel, changeset_id, kind)

    async def get_mesh_href(self, export_id: str, *, cdn: bool = False) -> str | None:
        """A fresh signed URL of the export's tiles, or None when it has none (not Complete)."""
        return mesh_href(await self.get_export(export_id, cdn=cdn))

    async def download_export(
        self,
        export: Export | str,
        dest: str | os.PathLike[str],
        *,
        cdn: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_progress: Callable[[DownloadProgress], None] | None = None,
        storage_client: httpx.AsyncClient | None = None,
        storage_transport: httpx.AsyncBaseTransport | None = None,
        storage_timeout: httpx.Timeout = DOWNLOAD_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S,
        limits: TilesetLimits | None = None,
        fsync: bool = False,
    ) -> DownloadResult:
        """Download a Complete export's whole tileset into `dest` (see
        `MeshExportClient.download_export`); `on_progress` is called on the event loop."""
        export_id = _export_id_of(export)
        _cdn(cdn)  # a bool, checked before any request

        async def fresh_href() -> str:
            return _download_href(await self.get_export(export_id, cdn=cdn))

        href = await fresh_href()
        logger.info("downloading export %s into %s", export_id, Path(dest))
        from ._download import download_tileset_async

        return await download_tileset_async(
            href,
            dest,
            refresh_href=fresh_href,
            concurrency=concurrency,
            on_progress=on_progress,
            http_client=storage_client,
            transport=storage_transport,
            timeout=storage_timeout,
            max_retries=max_retries,
            max_retry_after_s=max_retry_after_s,
            limits=limits,
            fsync=fsync,
        )

    async def aclose(self) -> None:
        """Close the connections (and the token provider, if this client created it)."""
        await self._http.aclose()
        close = getattr(self._provider, "close", None) if self._owns_provider else None
        if callable(close):
            close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
