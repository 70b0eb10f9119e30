"""One source for the synchronous and the asyncio clients: logic written once as coroutines, run
on either a blocking or an asyncio backend.

Every piece of logic that both `MeshExportClient` and `AsyncMeshExportClient` need (a call and its
error mapping, paging, waiting, reuse, the retry loop of the transports, the bearer-token flow) is
an `async def` that does its I/O only by awaiting a backend: `Blocking*` backends do the work with
blocking calls inside `async def` methods that never suspend, `Async*` backends await httpx's and
asyncio's coroutines. A coroutine that awaits only a blocking backend runs to its end on the first
`send(None)`, so `run_sync` drives it without an event loop, a thread or a copy of the code.

Why not a generated twin (httpcore's `unasync`): a generated file is still a second copy to read,
review and keep in step, and every difference between the two (a default sleep, a lock, how a
body is read) becomes a text substitution. Here the differences are named methods of two small
classes, and everything else exists once. A coroutine that does suspend under `run_sync` (an
async callback handed to the sync client) is refused with a typed error instead of hanging.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import httpx

from ._exceptions import InvalidArgumentError

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "AsyncClientBackend",
    "AsyncTransportBackend",
    "BlockingClientBackend",
    "BlockingTransportBackend",
    "ClientBackend",
    "TransportBackend",
    "asyncio_sleep",
    "generator_sync",
    "iterate_sync",
    "run_sync",
]

T = TypeVar("T")

# Requests of one client in httpx's connection pool at once: its default max_connections.
# httpcore's pool re-examines every queued request whenever a connection changes state, so with a
# thousand concurrent waits queued behind 100 connections each request cost ~25 ms of CPU
# (BENCHMARKS.md, waiting at scale); queued on a semaphore instead, each costs what one request
# costs. The slot is held for the whole send, retries and their waits included.
DEFAULT_MAX_IN_FLIGHT = 100


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that awaits only blocking backends (it never suspends)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise InvalidArgumentError(
        "a synchronous client was handed something asynchronous (an async callback or token function): "
        "use AsyncMeshExportClient for coroutines"
    )


def iterate_sync(iterator: AsyncIterator[T]) -> Iterator[T]:
    """A blocking iterator over an async iterator that awaits only blocking backends. Closing it
    (a `break` in the caller's loop) closes the async iterator too."""
    try:
        while True:
            try:
                item: T = run_sync(iterator.__anext__())  # type: ignore[arg-type]
            except StopAsyncIteration:
                return
            yield item
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            run_sync(close())


def generator_sync(flow: Any) -> Generator[Any, Any, None]:
    """A blocking generator over an async generator driven with `asend` (httpx's auth flows: each
    request yielded is answered with its response). The flow must await only blocking work."""
    value = None
    try:
        while True:
            try:
                step = run_sync(flow.asend(value))
            except StopAsyncIteration:
                return
            value = yield step
    finally:
        run_sync(flow.aclose())


class _ThreadSlots:
    """`DEFAULT_MAX_IN_FLIGHT` for threads, as an async context manager that never suspends."""

    def __init__(self, count: int) -> None:
        self._semaphore = threading.BoundedSemaphore(count)

    async def __aenter__(self) -> None:
        self._semaphore.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self._semaphore.release()


class ClientBackend:
    """What the API clients' shared logic awaits: send a request, read and close its body, sleep,
    hold a keyed lock, call a user's callback, run a download. Subclasses are the two ways."""

    slots: AbstractAsyncContextManager[Any]

    async def send(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError

    async def read(self, response: httpx.Response) -> None:
        raise NotImplementedError

    async def close(self, response: httpx.Response) -> None:
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError

    async def call(self, callback: Callable[..., object], *args: object) -> None:
        raise NotImplementedError

    def hold(self, key: Any) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError

    async def download(self, href: str, dest: Any, refresh: Callable[[], Awaitable[str]], options: Any) -> Any:
        raise NotImplementedError


class BlockingClientBackend(ClientBackend):
    """Blocking I/O on an httpx.Client: every method returns without suspending."""

    def __init__(self, http: httpx.Client, sleep: Callable[[float], None]) -> None:
        from ._ensure import KeyedLock

        self._http = http
        self._sleep = sleep
        self._locks = KeyedLock()
        self.slots = _ThreadSlots(DEFAULT_MAX_IN_FLIGHT)

    async def send(self, request: httpx.Request) -> httpx.Response:
        return self._http.send(request, stream=True)

    async def read(self, response: httpx.Response) -> None:
        response.read()

    async def close(self, response: httpx.Response) -> None:
        response.close()

    async def sleep(self, seconds: float) -> None:
        self._sleep(seconds)

    async def call(self, callback: Callable[..., object], *args: object) -> None:
        result = callback(*args)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise InvalidArgumentError(f"{_name(callback)} returned an awaitable: use AsyncMeshExportClient")

    @asynccontextmanager
    async def hold(self, key: Any) -> AsyncIterator[None]:
        with self._locks.hold(key):
            yield

    async def download(self, href: str, dest: Any, refresh: Callable[[], Awaitable[str]], options: Any) -> Any:
        from .download import download_tileset

        def refresh_href() -> str:
            return run_sync(refresh())  # type: ignore[arg-type]

        return download_tileset(href, dest, refresh_href=refresh_href, **options)


class AsyncClientBackend(ClientBackend):
    """asyncio I/O on an httpx.AsyncClient."""

    def __init__(self, http: httpx.AsyncClient, sleep: Callable[[float], Awaitable[None]]) -> None:
        import asyncio

        from ._ensure import AsyncKeyedLock

        self._http = http
        self._sleep = sleep
        self._locks = AsyncKeyedLock()
        self.slots = asyncio.Semaphore(DEFAULT_MAX_IN_FLIGHT)

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)

    async def send(self, request: httpx.Request) -> httpx.Response:
        return await self._http.send(request, stream=True)

    async def call(self, callback: Callable[..., object], *args: object) -> None:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result

    async def read(self, response: httpx.Response) -> None:
        await response.aread()

    def hold(self, key: Any) -> AbstractAsyncContextManager[None]:
        return self._locks.hold(key)

    async def close(self, response: httpx.Response) -> None:
        await response.aclose()

    async def download(self, href: str, dest: Any, refresh: Callable[[], Awaitable[str]], options: Any) -> Any:
        from .download import download_tileset_async

        return await download_tileset_async(href, dest, refresh_href=refresh, **options)


class TransportBackend:
    """What the retry loop awaits: one attempt on the wrapped transport, a body read into memory,
    a body drained, a sleep."""

    async def attempt(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError

    async def read_raw(self, response: httpx.Response) -> bytes:
        raise NotImplementedError

    async def drain(self, response: httpx.Response) -> None:
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError


class BlockingTransportBackend(TransportBackend):
    def __init__(self, transport: httpx.BaseTransport, sleep: Callable[[float], None] = time.sleep) -> None:
        self.transport = transport
        self._sleep = sleep

    async def attempt(self, request: httpx.Request) -> httpx.Response:
        return self.transport.handle_request(request)

    async def read_raw(self, response: httpx.Response) -> bytes:
        try:
            return b"".join(response.iter_raw())
        finally:
            response.close()

    async def drain(self, response: httpx.Response) -> None:
        response.read()
        response.close()

    async def sleep(self, seconds: float) -> None:
        self._sleep(seconds)


class AsyncTransportBackend(TransportBackend):
    def __init__(self, transport: httpx.AsyncBaseTransport, sleep: Callable[[float], Awaitable[None]]) -> None:
        self.transport = transport
        self._sleep = sleep

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)

    async def attempt(self, request: httpx.Request) -> httpx.Response:
        return await self.transport.handle_async_request(request)

    async def drain(self, response: httpx.Response) -> None:
        await response.aread()
        await response.aclose()

    async def read_raw(self, response: httpx.Response) -> bytes:
        try:
            return b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()


def asyncio_sleep() -> Callable[[float], Awaitable[None]]:
    """`asyncio.sleep`, imported when an async object is built (not with the package)."""
    import asyncio

    return asyncio.sleep


def _name(callback: object) -> str:
    return getattr(callback, "__qualname__", type(callback).__name__)
