"""Retries as an httpx transport wrapper: which failures deserve another attempt, how long to wait
first, and when to stop.

The generated client has no retries, and httpx's own `retries=` covers connection failures only.
What a generator cannot know is which Mesh Export calls are safe to repeat (Start Export is a POST
that creates a job) and how the platform signals overload (429 with `Retry-After`). Sleep and both
clocks are injectable, so no test sleeps. Any httpx client can use these transports (the
downloader's included); a request may carry its own `RetryPolicy` in
`request.extensions[RETRY_POLICY_EXTENSION]`.

A successful response's body is read here, inside the attempt (`buffer_body=True`, the default):
httpx reads it only after the transport returns, so a connection reset, a cut or a stall in the
middle of a body would otherwise escape every retry. API bodies are small JSON documents; a client
that streams large bodies passes `buffer_body=False`.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC

import httpx

from ._exceptions import InvalidArgumentError
from ._logging import log_attempt, log_retry

__all__ = [
    "BACKOFF_INITIAL_S",
    "BACKOFF_JITTER",
    "BACKOFF_MAX_S",
    "DEFAULT_DEADLINE_S",
    "DEFAULT_MAX_ATTEMPTS",
    "IDEMPOTENT_EXTENSION",
    "IDEMPOTENT_METHODS",
    "RETRY_AFTER_CAP_S",
    "RETRY_AFTER_JITTER",
    "RETRY_POLICY_EXTENSION",
    "RETRY_STATUSES",
    "AsyncRetryTransport",
    "RetryPolicy",
    "RetryTransport",
    "retry_after_s",
]

# The first attempt plus two retries, as openai-python and anthropic do.
DEFAULT_MAX_ATTEMPTS = 3
# All attempts of one request and the waits between them; each attempt's own timeouts are cut to
# what is left of it. Azure's 7-day budget never bites; two minutes does.
DEFAULT_DEADLINE_S = 120.0
# Exponential backoff when the server gives no hint: 0.5 s, 1 s, 2 s ... up to 8 s (openai's numbers).
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 8.0
# Up to half of each backoff is taken off at random, so clients that failed together come back apart.
BACKOFF_JITTER = 0.5
# A server hint longer than this is not slept through: the caller gets RateLimitError(retry_after_s)
# and decides (anthropic silently falls back to its backoff and comes back too early; openai gives up).
RETRY_AFTER_CAP_S = 60.0
# Up to 10% added to a server hint: many clients told the same `Retry-After` do not return together.
RETRY_AFTER_JITTER = 0.1
# Request timeout, rate limit, and the 5xx that mean "try again" (not 501 or 505: they will not change).
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Methods that may be repeated after the server might have acted on them. POST is not one: a Start
# Export that timed out may have started a job, and `ensure_export` is the safe way to retry it.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "PUT"})
# Failures that prove the request never reached the server: safe to retry whatever the method.
_NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures worth another attempt of an idempotent request: timeouts, resets, broken connections.
_TRANSIENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
RETRY_POLICY_EXTENSION = "itwin_mesh_export.retry_policy"
# `request.extensions[IDEMPOTENT_EXTENSION] = True` marks a request that is safe to repeat whatever
# its method: the token endpoint's POST (fetching a token twice has no effect to undo).
IDEMPOTENT_EXTENSION = "itwin_mesh_export.idempotent"
# An attempt always gets at least this long, even when the deadline is (almost) used up.
_MIN_ATTEMPT_TIMEOUT_S = 0.001


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts, how long in all, how to back off. Immutable; derive with
    `dataclasses.replace` or `client.with_options(...)`.

    `deadline_s=None` means no overall deadline (each attempt still has its own timeouts).
    `random` returns a float in [0, 1) and drives the jitter; inject a constant in tests.
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    deadline_s: float | None = DEFAULT_DEADLINE_S
    backoff_initial_s: float = BACKOFF_INITIAL_S
    backoff_max_s: float = BACKOFF_MAX_S
    retry_after_cap_s: float = RETRY_AFTER_CAP_S
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise InvalidArgumentError(f"max_attempts must be an int >= 1, got {self.max_attempts!r}")
        if self.deadline_s is not None and not _positive(self.deadline_s):
            raise InvalidArgumentError(f"deadline_s must be a number > 0 or None, got {self.deadline_s!r}")
        for name in ("backoff_initial_s", "backoff_max_s", "retry_after_cap_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise InvalidArgumentError(f"{name} must be a finite number >= 0, got {value!r}")

    def backoff_s(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based) when the server gave no hint."""
        ceiling = min(self.backoff_initial_s * 2.0 ** (attempt - 1), self.backoff_max_s)
        return ceiling * (1.0 - BACKOFF_JITTER * self.random())

    def delay_after_status(
        self,
        method: str,
        status_code: int,
        headers: Mapping[str, str],
        attempt: int,
        now_epoch_s: float,
        *,
        idempotent: bool | None = None,
    ) -> float | None:
        """Seconds to wait before another attempt after this response, or None not to retry.
        `idempotent` overrides what the method says (None: GET, DELETE... are, POST is not)."""
        if attempt >= self.max_attempts or status_code not in RETRY_STATUSES:
            return None
        # A 429 means the server refused the request without acting on it: even a POST may repeat it.
        if not _idempotent(method, idempotent) and status_code != 429:
            return None
        hint = retry_after_s(headers, now_epoch_s)
        if hint is None:
            return self.backoff_s(attempt)
        if hint > self.retry_after_cap_s:
            return None  # over the cap: the caller gets the error (RateLimitError.retry_after_s) at once
        return hint * (1.0 + RETRY_AFTER_JITTER * self.random())

    def delay_after_error(
        self, method: str, error: httpx.TransportError, attempt: int, *, idempotent: bool | None = None
    ) -> float | None:
        """Seconds to wait before another attempt after this transport failure, or None."""
        if attempt >= self.max_attempts:
            return None
        if isinstance(error, _NOT_SENT_ERRORS):
            return self.backoff_s(attempt)
        if _idempotent(method, idempotent) and isinstance(error, _TRANSIENT_ERRORS):
            return self.backoff_s(attempt)
        return None


def retry_after_s(headers: Mapping[str, str], now_epoch_s: float) -> float | None:
    """The server's wait hint in seconds: `retry-after-ms`, else `Retry-After` as seconds or as an
    HTTP date (relative to `now_epoch_s`). None when absent or unreadable; never negative.

    A negative number of seconds is unreadable (RFC 9110's delay-seconds are digits only, though
    the spec's `type: integer` allows one, and Prism sends them): the backoff applies, where
    reading it as 0 would retry at once against a server that is rate limiting. A date in the
    past is readable and means now."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        value = _finite_float(millis)
        if value is not None and value >= 0:
            return value / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    seconds = _finite_float(raw)
    if seconds is not None:
        return seconds if seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now_epoch_s)


def _idempotent(method: str, override: bool | None) -> bool:
    return method in IDEMPOTENT_METHODS if override is None else override


def _finite_float(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _positive(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value) and value > 0


def _bound_timeouts(request: httpx.Request, remaining_s: float) -> None:
    """Cut the attempt's timeouts to what is left of the overall deadline."""
    remaining_s = max(remaining_s, _MIN_ATTEMPT_TIMEOUT_S)
    timeouts = request.extensions.get("timeout")
    if not isinstance(timeouts, dict):
        request.extensions["timeout"] = dict.fromkeys(("connect", "read", "write", "pool"), remaining_s)
        return
    for value in timeouts.values():
        if value is None or value > remaining_s:
            break
    else:
        return  # every timeout already ends before the deadline (the usual case)
    request.extensions["timeout"] = {
        key: remaining_s if value is None or value > remaining_s else value for key, value in timeouts.items()
    }


def _reason(response: httpx.Response) -> str:
    return str(response.status_code)


def _buffered(response: httpx.Response, content: bytes, request: httpx.Request) -> httpx.Response:
    """The response again, its body (as received, still encoded) held in memory."""
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        stream=httpx.ByteStream(content),
        extensions=response.extensions,
        request=request,
    )


def _read_raw(response: httpx.Response, request: httpx.Request) -> httpx.Response:
    if response.is_stream_consumed:  # read already (httpx.MockTransport does): nothing left to fail
        return response
    try:
        content = b"".join(response.iter_raw())
    finally:
        response.close()
    return _buffered(response, content, request)


async def _aread_raw(response: httpx.Response, request: httpx.Request) -> httpx.Response:
    if response.is_stream_consumed:
        return response
    try:
        content = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    return _buffered(response, content, request)


class RetryTransport(httpx.BaseTransport):
    """Wraps a transport; repeats attempts as `RetryPolicy` says. Returns the last response (an
    error status included) or raises the last transport error: mapping to exceptions is the
    client's job, so that 401 can still reach the auth flow above."""

    def __init__(
        self,
        transport: httpx.BaseTransport,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        buffer_body: bool = True,
    ) -> None:
        self._transport = transport
        self._policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._buffer_body = buffer_body

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        policy: RetryPolicy = request.extensions.get(RETRY_POLICY_EXTENSION) or self._policy
        clock = self._clock
        started = clock()
        deadline = None if policy.deadline_s is None else started + policy.deadline_s
        idempotent = True if request.extensions.get(IDEMPOTENT_EXTENSION) is True else None
        attempt = 1
        while True:
            attempt_started = clock() if attempt > 1 else started
            if deadline is not None:
                _bound_timeouts(request, deadline - attempt_started)
            try:
                response = self._transport.handle_request(request)
                if self._buffer_body and response.status_code < 400:
                    response = _read_raw(response, request)  # a failure mid-body is retried like any other
            except httpx.TransportError as exc:
                now = clock()
                log_attempt(request, attempt, now - attempt_started, error=exc)
                delay = policy.delay_after_error(request.method, exc, attempt, idempotent=idempotent)
                if delay is None or (deadline is not None and now + delay >= deadline):
                    raise
                log_retry(request, attempt, policy.max_attempts, delay, type(exc).__name__)
                self._sleep(delay)
                attempt += 1
                continue
            now = clock()
            log_attempt(request, attempt, now - attempt_started, response=response)
            if response.status_code < 400:
                return response
            delay = policy.delay_after_status(
                request.method,
                response.status_code,
                response.headers,
                attempt,
                self._wall_clock(),
                idempotent=idempotent,
            )
            if delay is None or (deadline is not None and now + delay >= deadline):
                return response
            response.read()  # drain, so the connection goes back to the pool
            response.close()
            log_retry(request, attempt, policy.max_attempts, delay, _reason(response))
            self._sleep(delay)
            attempt += 1

    def close(self) -> None:
        self._transport.close()


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """The asyncio twin of `RetryTransport`: same policy, awaits an injectable sleep."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        buffer_body: bool = True,
    ) -> None:
        if sleep is None:  # asyncio.sleep; asyncio is imported on first use (BENCHMARKS.md, import time)
            import asyncio

            sleep = asyncio.sleep
        self._transport = transport
        self._policy = policy if policy is not None else RetryPolicy()
        self._sleep: Callable[[float], Awaitable[None]] = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._buffer_body = buffer_body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        policy: RetryPolicy = request.extensions.get(RETRY_POLICY_EXTENSION) or self._policy
        clock = self._clock
        started = clock()
        deadline = None if policy.deadline_s is None else started + policy.deadline_s
        idempotent = True if request.extensions.get(IDEMPOTENT_EXTENSION) is True else None
        attempt = 1
        while True:
            attempt_started = clock() if attempt > 1 else started
            if deadline is not None:
                _bound_timeouts(request, deadline - attempt_started)
            try:
                response = await self._transport.handle_async_request(request)
                if self._buffer_body and response.status_code < 400:
                    response = await _aread_raw(response, request)  # a failure mid-body is retried like any other
            except httpx.TransportError as exc:
                now = clock()
                log_attempt(request, attempt, now - attempt_started, error=exc)
                delay = policy.delay_after_error(request.method, exc, attempt, idempotent=idempotent)
                if delay is None or (deadline is not None and now + delay >= deadline):
                    raise
                log_retry(request, attempt, policy.max_attempts, delay, type(exc).__name__)
                await self._sleep(delay)
                attempt += 1
                continue
            now = clock()
            log_attempt(request, attempt, now - attempt_started, response=response)
            if response.status_code < 400:
                return response
            delay = policy.delay_after_status(
                request.method,
                response.status_code,
                response.headers,
                attempt,
                self._wall_clock(),
                idempotent=idempotent,
            )
            if delay is None or (deadline is not None and now + delay >= deadline):
                return response
            await response.aread()
            await response.aclose()
            log_retry(request, attempt, policy.max_attempts, delay, _reason(response))
            await self._sleep(delay)
            attempt += 1

    async def aclose(self) -> None:
        await self._transport.aclose()
