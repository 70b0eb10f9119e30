"""Who the caller is: token providers, and the httpx.Auth that puts a bearer token on API requests.

The generated `AuthenticatedClient` takes one static token and writes it into its httpx client
once. This module adds what it cannot know: where tokens come from (a string, a callable, Bentley
IMS client credentials), when to refresh them (cached until shortly before `expires_in`, fetched
by exactly one caller at a time across threads *and* asyncio tasks), which host may receive them
(the API's, never the storage host of export links; https only, except loopback), and what a 401
means (replay once with a fresh token).

Library choice for the client-credentials flow: hand-written, after evaluating httpx-auth and
Authlib (their sources, 2026):

- httpx-auth `OAuth2ClientCredentials` fetches the token with a *blocking* `httpx.Client` even
  inside `AsyncClient` (its `auth_flow` is shared by both), so a refresh stalls the event loop.
  Its token cache serialises fetches with a lock but does not re-check the cache after taking it,
  so 20 threads that miss together make 20 token requests. It logs the token itself at DEBUG, has
  no 401 replay and no host restriction.
- Authlib's `OAuth2Client` / `AsyncOAuth2Client` *are* httpx clients (subclasses), so they would
  replace the client the overlay hands to the generated package instead of plugging into it. Its
  single-flight refresh exists only per async client (an asyncio.Event); the sync client refreshes
  without a lock, and a sync and an async client cannot share one token. No 401 replay, no host
  restriction; and it depends on `cryptography`, for one form POST.

What is needed is one form POST and a cache with a lock (`ClientCredentials` below, tested with 20
threads and 20 tasks sharing one token request), so the package takes no extra dependency.
"""

from __future__ import annotations

import inspect
import math
import os
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import httpx

from ._backends import generator_sync
from ._exceptions import InvalidArgumentError, MeshExportError, ResponseValidationError
from ._http import DEFAULT_TIMEOUT, USER_AGENT, CookielessClient, check_secure_url, connection_error, status_error
from ._logging import logger
from ._redact import redact_url
from ._retry import IDEMPOTENT_EXTENSION
from ._transport import RetryTransport

if TYPE_CHECKING:  # asyncio is imported on first use: it is a quarter of the package's import time (BENCHMARKS.md)
    import asyncio

__all__ = [
    "DEFAULT_SCOPE",
    "DEFAULT_TOKEN_URL",
    "ENV_ACCESS_TOKEN",
    "ENV_CLIENT_ID",
    "ENV_CLIENT_SECRET",
    "ENV_TOKEN_URL",
    "BearerTokenAuth",
    "CallableToken",
    "ClientCredentials",
    "StaticToken",
    "TokenProvider",
    "token_provider_from",
]

DEFAULT_TOKEN_URL = "https://ims.bentley.com/connect/token"
DEFAULT_SCOPE = "itwin-platform"
ENV_ACCESS_TOKEN = "ITWIN_ACCESS_TOKEN"
ENV_CLIENT_ID = "ITWIN_CLIENT_ID"
ENV_CLIENT_SECRET = "ITWIN_CLIENT_SECRET"
ENV_TOKEN_URL = "ITWIN_TOKEN_URL"

# Refresh this long before `expires_in` runs out (Azure uses 300 s). Until MIN_VALIDITY_S before
# expiry, a failed refresh is logged and the current token still served (anthropic's advisory
# window); after that a failure raises.
REFRESH_MARGIN_S = 300.0
MIN_VALIDITY_S = 30.0
# After a failed refresh in the advisory window, wait this long before trying again.
REFRESH_RETRY_S = 5.0
# When the token endpoint omits `expires_in`: Bentley access tokens last an hour.
DEFAULT_TOKEN_LIFETIME_S = 3600.0


@runtime_checkable
class TokenProvider(Protocol):
    """Where access tokens come from. `get_token` is used by `MeshExportClient`, `aget_token` by
    `AsyncMeshExportClient`; `invalidate(token)` is called when the API rejected `token` (401),
    and a provider that can fetch a fresh one should then do so on the next call."""

    def get_token(self) -> str: ...

    async def aget_token(self) -> str: ...

    def invalidate(self, token: str) -> None: ...


def _checked_token(value: object, source: str) -> str:
    """A token fit for an Authorization header. Never quotes the value in an error message."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{source} must be a str, got {type(value).__name__}")
    token = value.strip()
    scheme, _, rest = token.partition(" ")
    if scheme.lower() == "bearer":  # "Bearer eyJ..." pasted whole: keep the token part
        token = rest.strip()
    if not token:
        raise InvalidArgumentError(f"{source} is empty")
    if any(ch in token for ch in "\r\n\t ") or not token.isprintable():
        raise InvalidArgumentError(f"{source} contains whitespace or control characters")
    return token


class StaticToken:
    """A token you already have (it is not refreshed: a 401 raises AuthenticationError)."""

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        self._token = _checked_token(token, "the token")

    def get_token(self) -> str:
        return self._token

    async def aget_token(self) -> str:
        return self._token

    def invalidate(self, token: str) -> None:
        """Nothing to do: the same token is all there is."""

    def __repr__(self) -> str:
        return "StaticToken(token=<hidden>)"


class CallableToken:
    """A function returning a token, called before every request (and again after a 401). It owns
    any caching. Async functions work with `AsyncMeshExportClient` only; sync functions work with
    both (the async client calls them inline, so they should not block)."""

    __slots__ = ("_function",)

    def __init__(self, function: Callable[[], str | Awaitable[str]]) -> None:
        if not callable(function):
            raise InvalidArgumentError(f"expected a callable returning a token, got {type(function).__name__}")
        self._function = function

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self._function)

    def get_token(self) -> str:
        value = self._function()
        if inspect.isawaitable(value):
            if inspect.iscoroutine(value):
                value.close()
            raise InvalidArgumentError(
                "the token callable returned an awaitable: use AsyncMeshExportClient with an async token function"
            )
        return value  # its type and form are checked where it is used (BearerTokenAuth)

    async def aget_token(self) -> str:
        value = self._function()
        if inspect.isawaitable(value):
            value = await value
        return value  # its type and form are checked where it is used (BearerTokenAuth)

    def invalidate(self, token: str) -> None:
        """Nothing to drop: the function is asked again for the replay."""

    def __repr__(self) -> str:
        name = getattr(self._function, "__qualname__", type(self._function).__name__)
        return f"CallableToken({name})"


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    refresh_at: float  # monotonic: from here on, try to refresh
    usable_until: float  # monotonic: from here on, never serve it

    def __repr__(self) -> str:
        return f"_Token(<hidden>, refresh_at={self.refresh_at}, usable_until={self.usable_until})"


class ClientCredentials:
    """OAuth2 client credentials against Bentley IMS (a service application's client id and secret).

    The token is cached until `refresh_margin_s` before it expires, then refreshed by exactly one
    caller while the others keep using the current token (or wait for the new one once it is
    about to expire). Threads and asyncio tasks share one cache and one flight: tasks wait on an
    asyncio lock and the one that refreshes does the POST in a worker thread, so no event loop is
    blocked and a sync and an async client can share one provider.

    The token request is retried like a GET (on 5xx, 429, timeouts and broken connections), since
    fetching a token twice has no effect to undo. `transport` (an httpx transport, both sync and
    async, such as `httpx.MockTransport`), `clock` (monotonic seconds) and `sleep` (the wait between
    attempts) are for tests and local services.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        scope: str = DEFAULT_SCOPE,
        token_url: str = DEFAULT_TOKEN_URL,
        refresh_margin_s: float = REFRESH_MARGIN_S,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        for name, value in (("client_id", client_id), ("client_secret", client_secret), ("scope", scope)):
            if not isinstance(value, str) or not value.strip():
                raise InvalidArgumentError(f"{name} must be a non-empty str")
        if isinstance(refresh_margin_s, bool) or not isinstance(refresh_margin_s, int | float) or refresh_margin_s < 0:
            raise InvalidArgumentError(f"refresh_margin_s must be a number >= 0, got {refresh_margin_s!r}")
        self._token_url = check_secure_url(token_url, what="token_url")
        self._client_id = client_id.strip()
        self._client_secret = client_secret
        self._scope = scope.strip()
        self._refresh_margin_s = float(refresh_margin_s)
        self._transport = transport
        self._timeout = timeout
        self._clock = clock
        self._sleep = sleep
        self._token: _Token | None = None
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._async_locks_guard = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientCredentials | None:
        """From `ITWIN_CLIENT_ID` and `ITWIN_CLIENT_SECRET` (and `ITWIN_TOKEN_URL` if set), or None
        when neither is set. One without the other is an error."""
        env = os.environ if environ is None else environ
        client_id, secret = env.get(ENV_CLIENT_ID, "").strip(), env.get(ENV_CLIENT_SECRET, "")
        if not client_id and not secret:
            return None
        if not client_id or not secret:
            missing = ENV_CLIENT_ID if not client_id else ENV_CLIENT_SECRET
            raise InvalidArgumentError(f"{missing} is not set (client credentials need both)")
        return cls(client_id, secret, token_url=env.get(ENV_TOKEN_URL, "").strip() or DEFAULT_TOKEN_URL)

    @property
    def client_id(self) -> str:
        return self._client_id

    @property
    def token_url(self) -> str:
        return self._token_url

    def get_token(self) -> str:
        token = self._token
        now = self._clock()
        if token is not None and now < token.refresh_at:
            return token.value
        if token is not None and now < token.usable_until:
            # Advisory window: if someone is already refreshing, the current token is still good.
            if not self._lock.acquire(blocking=False):
                return token.value
        else:
            self._lock.acquire()
        try:
            return self._refresh_locked()
        finally:
            self._lock.release()

    async def aget_token(self) -> str:
        token = self._token
        now = self._clock()
        if token is not None and now < token.refresh_at:
            return token.value
        lock = self._async_lock()
        if token is not None and now < token.usable_until and lock.locked():
            return token.value
        async with lock:
            token = self._token
            if token is not None and self._clock() < token.refresh_at:
                return token.value
            # The blocking path, with its thread lock, in a worker thread: one flight for tasks and threads.
            import asyncio

            return await asyncio.to_thread(self.get_token)

    def invalidate(self, token: str) -> None:
        current = self._token
        if current is not None and current.value == token:
            self._token = None

    def close(self) -> None:
        """Close the connection pool used for the token endpoint."""
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def _async_lock(self) -> asyncio.Lock:
        import asyncio

        loop = asyncio.get_running_loop()
        with self._async_locks_guard:
            lock = self._async_locks.get(loop)
            if lock is None:
                lock = self._async_locks[loop] = asyncio.Lock()
            return lock

    def _refresh_locked(self) -> str:
        token = self._token
        now = self._clock()
        if token is not None and now < token.refresh_at:
            return token.value  # another caller refreshed it while we waited for the lock
        try:
            fresh = self._fetch()
        except MeshExportError as exc:
            now = self._clock()
            if token is not None and now < token.usable_until:
                logger.warning("refreshing the access token failed, using the current one for now: %s", exc)
                self._token = replace(token, refresh_at=now + REFRESH_RETRY_S)
                return token.value
            raise
        self._token = fresh
        return fresh.value

    def _fetch(self) -> _Token:
        if self._http is None:
            self._http = CookielessClient(
                transport=RetryTransport(self._transport or httpx.HTTPTransport(), sleep=self._sleep),
                timeout=self._timeout,
                headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            )
        started = self._clock()
        response = self._post_token(self._http)
        where = f"the token endpoint {redact_url(self._token_url)}"
        try:
            body = response.json()
        except ValueError as exc:
            raise ResponseValidationError(f"{where} answered with a body that is not JSON", response=response) from exc
        if not isinstance(body, dict):
            raise ResponseValidationError(f"{where} answered with JSON that is not an object", response=response)
        token = body.get("access_token")
        if not isinstance(token, str) or not token.strip():
            raise ResponseValidationError(f"{where} answered without an access_token", response=response)
        lifetime = _lifetime_s(body.get("expires_in"))
        if lifetime is None:
            raise ResponseValidationError(f"{where} answered with an unusable expires_in", response=response)
        margin = min(self._refresh_margin_s, lifetime / 2.0)
        min_validity = min(MIN_VALIDITY_S, lifetime / 4.0)
        logger.debug("fetched an access token from %s, valid for %.0f s", redact_url(self._token_url), lifetime)
        return _Token(
            _checked_token(token, "the token endpoint's access_token"),
            refresh_at=started + lifetime - margin,
            usable_until=started + lifetime - min_validity,
        )

    def _post_token(self, http: httpx.Client) -> httpx.Response:
        """The token request (retried like a GET: fetching a token twice has no effect to undo),
        its answer read; a typed error for no answer or an error status."""
        request = http.build_request(
            "POST",
            self._token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "scope": self._scope,
            },
            extensions={IDEMPOTENT_EXTENSION: True},
        )
        try:
            response = http.send(request)
        except httpx.HTTPError as exc:
            raise connection_error(exc, request) from exc
        if not response.is_success:
            raise status_error(response)
        return response

    def __repr__(self) -> str:
        return (
            f"ClientCredentials(client_id={self._client_id!r}, scope={self._scope!r}, "
            f"token_url={redact_url(self._token_url)!r})"
        )


def _lifetime_s(value: object) -> float | None:
    if value is None:
        return DEFAULT_TOKEN_LIFETIME_S
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return None
    return float(value)


def token_provider_from(token: object, environ: Mapping[str, str] | None = None) -> tuple[TokenProvider, bool]:
    """The provider for a client's `token=` argument, and whether the client owns it (and so
    closes it). None means the environment: `ITWIN_ACCESS_TOKEN`, else `ITWIN_CLIENT_ID` +
    `ITWIN_CLIENT_SECRET`."""
    if isinstance(token, str):
        return StaticToken(token), True
    if isinstance(token, TokenProvider):
        return token, False
    if callable(token):
        return CallableToken(token), True
    if token is not None:
        raise InvalidArgumentError(
            f"token must be a str, a TokenProvider or a callable returning a token, got {type(token).__name__}"
        )
    env = os.environ if environ is None else environ
    access_token = env.get(ENV_ACCESS_TOKEN, "").strip()
    if access_token:
        return StaticToken(access_token), True
    credentials = ClientCredentials.from_env(env)
    if credentials is not None:
        return credentials, True
    raise InvalidArgumentError(
        f"no credentials: pass token=..., or set {ENV_ACCESS_TOKEN}, or {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}"
    )


class BearerTokenAuth(httpx.Auth):
    """Puts `Authorization: Bearer <token>` on requests to the API's origin (scheme, host, port)
    and on no other; on a 401 asks the provider for a fresh token and replays the request once."""

    requires_request_body = False
    requires_response_body = False

    def __init__(self, provider: TokenProvider, api_url: str) -> None:
        url = httpx.URL(check_secure_url(api_url, what="base_url"))
        self._provider = provider
        self._origin = (url.scheme, url.host, url.port)
        self._last_good: tuple[object, str] = (object(), "")

    def _checked(self, token: object) -> str:
        # Every provider's token, a caller's own TokenProvider's too, is checked here, the one
        # place all of them pass through: None or "" never goes out as "Bearer None". A provider
        # hands out the same str object until it refreshes, so the last good one is not checked
        # again (an identity test, where the check is a few string scans on every request).
        last = self._last_good  # (as given, as checked): one tuple, so threads never see half of it
        if token is last[0]:
            return last[1]
        checked = _checked_token(token, f"the token from {type(self._provider).__name__}")
        self._last_good = (token, checked)
        return checked

    def _applies(self, request: httpx.Request) -> bool:
        url = request.url
        return (url.scheme, url.host, url.port) == self._origin

    async def _flow(
        self, request: httpx.Request, get_token: Callable[[], Awaitable[str]]
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """The flow of both clients (`_backends`): the token on requests to the API's origin; after
        a 401, one replay with a fresh token if the provider has one."""
        if not self._applies(request):
            yield request
            return
        token = self._checked(await get_token())
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self._provider.invalidate(token)
            fresh = self._checked(await get_token())
            if fresh != token:
                logger.info("the API rejected the access token (401); replaying once with a fresh one")
                request.headers["Authorization"] = f"Bearer {fresh}"
                yield request

    async def _blocking_token(self) -> str:
        return self._provider.get_token()

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        return generator_sync(self._flow(request, self._blocking_token))

    def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        return self._flow(request, self._provider.aget_token)

    def __repr__(self) -> str:
        return f"BearerTokenAuth({self._provider!r})"
