"""Retries as an httpx transport wrapper, for the API clients and the token endpoint: attempts
repeated as `RetryPolicy` says, each attempt's timeouts cut to what is left of the deadline.

A successful response's body is read here, inside the attempt (`buffer_body=True`, the default):
httpx reads it only after the transport returns, so a connection reset, a cut or a stall in the
middle of a body would otherwise escape every retry. API bodies are small JSON documents; a client
that streams large bodies passes `buffer_body=False`. A request may carry its own `RetryPolicy` in
`request.extensions[RETRY_POLICY_EXTENSION]` (the clients' per-call options do).

The loop is written once (`_RetryLoop.handle`, a coroutine) and runs on a blocking or an asyncio
backend (`_backends`): `RetryTransport` and `AsyncRetryTransport` only choose the backend. Sleep and
both clocks are injectable, so no test sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import httpx

from ._backends import (
    AsyncTransportBackend,
    BlockingTransportBackend,
    TransportBackend,
    asyncio_sleep,
    run_sync,
)
from ._logging import log_attempt, log_retry
from ._retry import IDEMPOTENT_EXTENSION, RETRY_POLICY_EXTENSION, RetryPolicy

__all__ = ["AsyncRetryTransport", "RetryTransport"]

# An attempt always gets at least this long, even when the deadline is (almost) used up.
_MIN_ATTEMPT_TIMEOUT_S = 0.001


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


class _RetryLoop:
    """The attempts of one request, on whichever backend the transport gives it."""

    def __init__(
        self,
        policy: RetryPolicy | None,
        *,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        buffer_body: bool,
    ) -> None:
        self.policy = policy if policy is not None else RetryPolicy()
        self._clock = clock
        self._wall_clock = wall_clock
        self._buffer_body = buffer_body

    async def _attempt(self, io: TransportBackend, request: httpx.Request) -> httpx.Response:
        response = await io.attempt(request)
        if not self._buffer_body or response.status_code >= 400 or response.is_stream_consumed:
            return response  # (a consumed stream: httpx.MockTransport read it already, nothing left to fail)
        content = await io.read_raw(response)  # a failure mid-body is retried like any other
        return httpx.Response(  # the body as received, still encoded, held in memory
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(content),
            extensions=response.extensions,
            request=request,
        )

    async def handle(self, io: TransportBackend, request: httpx.Request) -> httpx.Response:
        policy: RetryPolicy = request.extensions.get(RETRY_POLICY_EXTENSION) or self.policy
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
                response = await self._attempt(io, request)
            except httpx.TransportError as exc:
                now = clock()
                log_attempt(request, attempt, now - attempt_started, error=exc)
                delay = policy.delay_after_error(request.method, exc, attempt, idempotent=idempotent)
                if delay is None or (deadline is not None and now + delay >= deadline):
                    raise
                reason = type(exc).__name__
            else:
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
                await io.drain(response)  # so the connection goes back to the pool
                reason = str(response.status_code)
            log_retry(request, attempt, policy.max_attempts, delay, reason)
            await io.sleep(delay)
            attempt += 1


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
        self._loop = _RetryLoop(policy, clock=clock, wall_clock=wall_clock, buffer_body=buffer_body)
        self._io = BlockingTransportBackend(transport, sleep)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return run_sync(self._loop.handle(self._io, request))

    def close(self) -> None:
        self._io.transport.close()


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """`RetryTransport` for httpx.AsyncClient: the same loop, awaiting an injectable sleep
    (default `asyncio.sleep`)."""

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
        self._loop = _RetryLoop(policy, clock=clock, wall_clock=wall_clock, buffer_body=buffer_body)
        self._io = AsyncTransportBackend(transport, sleep if sleep is not None else asyncio_sleep())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._loop.handle(self._io, request)

    async def aclose(self) -> None:
        await self._io.transport.aclose()
