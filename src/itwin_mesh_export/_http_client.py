"""The httpx clients the overlay hands to the generated package, and the one place where HTTP
outcomes become the package's exceptions.

The generated functions return documented error bodies as values, return None for undocumented
statuses, and crash on statuses outside `http.HTTPStatus` (520). So the decision is taken here, in
`send`, after the retries (transport) and the 401 replay (auth flow) and before the generated
parser sees the response: any non-2xx response raises `make_status_error(...)`, and httpx's
exceptions become `APIConnectionError` / `APITimeoutError` with the URL redacted.
"""

from __future__ import annotations

import platform
import time
from contextvars import ContextVar
from dataclasses import dataclass
from http.cookiejar import Cookie, CookieJar
from typing import Any

import httpx

from ._exceptions import APIConnectionError, APIStatusError, APITimeoutError, ResponseValidationError, make_status_error
from ._redact import REDACTED, redact_url
from ._redact import redact_text as scrub
from ._retry import RETRY_POLICY_EXTENSION, RetryPolicy, retry_after_s
from ._version import __version__

__all__ = [
    "ACCEPT",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_TIMEOUT",
    "LAST_RESPONSE",
    "REQUEST_OPTIONS",
    "USER_AGENT",
    "APIAsyncClient",
    "APIClient",
    "CookielessAsyncClient",
    "CookielessClient",
    "RequestOptions",
    "connection_error",
    "scrub",
    "status_error",
]


# Identifies this client in Bentley's logs, as openai-python's `OpenAI/Python x.y` does.
USER_AGENT = f"itwin-mesh-export/{__version__} python/{platform.python_version()}"
# Never None (httpx's None means "wait forever"): 5 s to connect, 30 s for everything else. The
# API clients' default and the token endpoint's.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# The media type of every Mesh Export response (Bentley marks the Accept header as required).
ACCEPT = "application/vnd.bentley.itwin-platform.v1+json"
# Requests of one async client in httpx's connection pool at once: its default max_connections.
# httpcore's pool re-examines every queued request whenever a connection changes state, so with a
# thousand concurrent waits queued behind 100 connections each request cost ~25 ms of CPU
# (BENCHMARKS.md, waiting at scale); queued on a semaphore instead, each costs what one request
# costs. The slot is held for the whole send, retries and their waits included.
DEFAULT_MAX_IN_FLIGHT = 100


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Per-call settings (`with_options`, the waiter's per-poll deadline) for requests that the
    generated functions build, which take no such arguments: they travel in a context variable."""

    retry: RetryPolicy | None = None
    timeout: httpx.Timeout | None = None

    def apply(self, request: httpx.Request) -> None:
        if self.retry is not None:
            request.extensions[RETRY_POLICY_EXTENSION] = self.retry
        if self.timeout is not None:
            request.extensions["timeout"] = self.timeout.as_dict()


# Set by the client methods around one generated call; read by `send` (same thread, same task).
REQUEST_OPTIONS: ContextVar[RequestOptions | None] = ContextVar("itwin_mesh_export_request_options", default=None)
# The last successful response of this thread or task, so a body the generated parser rejects can
# be reported with its status and request.
LAST_RESPONSE: ContextVar[httpx.Response | None] = ContextVar("itwin_mesh_export_last_response", default=None)


def status_error(response: httpx.Response) -> APIStatusError:
    """The typed error for a non-2xx response whose body has been read."""
    return make_status_error(response, retry_after_s=retry_after_s(response.headers, time.time()))


def connection_error(exc: httpx.HTTPError, request: httpx.Request) -> APIConnectionError | ResponseValidationError:
    """The typed error for an httpx exception raised while sending `request`."""
    where = f"{request.method} {redact_url(str(request.url))}"
    query = request.url.query.decode("ascii", "replace")
    detail = scrub(str(exc))
    if query:
        detail = detail.replace(query, REDACTED)
    detail = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"no response in time for {where} ({detail})", request=request)
    if isinstance(exc, httpx.DecodingError):
        return ResponseValidationError(f"the response body of {where} could not be decoded ({detail})")
    return APIConnectionError(f"could not get a response for {where} ({detail})", request=request)


class _NoCookieJar(CookieJar):
    """A cookie jar that drops every cookie put in it, whichever way (`set`, `update`, `[...] =`)."""

    def set_cookie(self, cookie: Cookie) -> None:
        return None

    def set_cookie_if_ok(self, cookie: Cookie, request: Any) -> None:
        return None


class _IgnoredCookies(httpx.Cookies):
    """Cookies that keep nothing: one instance serves every client, since it can never hold a
    cookie of one client to send for another. The API is stateless and authenticates with a bearer
    token, and httpx's cookie extraction costs ~15 us of CPU per response (about 15% of a call)."""

    def __init__(self) -> None:
        super().__init__(_NoCookieJar())

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class CookielessClient(httpx.Client):
    """httpx.Client that neither stores nor sends cookies: neither the API nor the storage uses
    them (the storage client of the downloader is one too)."""

    _ignored_cookies = _IgnoredCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._ignored_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        """Cookies are not used: ignored."""


class CookielessAsyncClient(httpx.AsyncClient):
    """httpx.AsyncClient that neither stores nor sends cookies (see CookielessClient)."""

    _ignored_cookies = _IgnoredCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._ignored_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        """Cookies are not used: ignored."""


def _without_empty_params(kwargs: dict[str, Any]) -> dict[str, Any]:
    # The generated functions pass `params={}` even without query parameters, and httpx then
    # parses the URL a second time to merge nothing: ~15% of a call's CPU. Drop it.
    if not kwargs.get("params"):
        kwargs.pop("params", None)
    return kwargs


class APIClient(CookielessClient):
    """httpx.Client that raises the package's typed errors instead of returning error responses,
    and neither stores nor sends cookies."""

    def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request:
        return super().build_request(method, url, **_without_empty_params(kwargs))

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        options = REQUEST_OPTIONS.get()
        if options is not None:
            options.apply(request)
        try:
            response = super().send(request, **kwargs)
        except httpx.HTTPError as exc:
            raise connection_error(exc, request) from exc
        if not 200 <= response.status_code < 300:
            try:
                response.read()
            except httpx.HTTPError:
                pass  # the status alone still makes a typed error
            finally:
                response.close()
            raise status_error(response)
        LAST_RESPONSE.set(response)
        return response


class APIAsyncClient(CookielessAsyncClient):
    """httpx.AsyncClient that raises the package's typed errors instead of returning error
    responses, neither stores nor sends cookies, and lets at most `max_in_flight` requests into
    the connection pool at once (the others wait on a semaphore, see DEFAULT_MAX_IN_FLIGHT)."""

    def __init__(self, *args: Any, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT, **kwargs: Any) -> None:
        import asyncio  # on first use, not at import: it is a quarter of the package's import time

        super().__init__(*args, **kwargs)
        self._in_flight = asyncio.Semaphore(max_in_flight)

    def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request:
        return super().build_request(method, url, **_without_empty_params(kwargs))

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        options = REQUEST_OPTIONS.get()
        if options is not None:
            options.apply(request)
        try:
            async with self._in_flight:
                response = await super().send(request, **kwargs)
        except httpx.HTTPError as exc:
            raise connection_error(exc, request) from exc
        if not 200 <= response.status_code < 300:
            try:
                await response.aread()
            except httpx.HTTPError:
                pass
            finally:
                await response.aclose()
            raise status_error(response)
        LAST_RESPONSE.set(response)
        return response
