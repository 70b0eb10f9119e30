"""What every reliability test needs to watch a client over real sockets: a transport that records
each attempt (and the bodies it read, for the secrets check), a clock that moves only when the
client sleeps (and moves the service's clock with it), log capture, and the secrets scanner."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import threading
import traceback
from collections.abc import AsyncIterator, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from itwin_mesh_export import MeshExportError
from itwin_mesh_export.testing import LocalMeshExportService, ManualClock, RequestRecord

__all__ = [
    "CALL_TAG",
    "Attempt",
    "LogCapture",
    "Timekeeper",
    "Traffic",
    "closed_port",
    "count_fds",
    "find_secrets",
    "reached_server",
    "route_of",
    "secret_values",
    "texts_of_exception",
]

_BODY_LIMIT = 1 << 20  # bodies kept per attempt (API JSON); storage bodies are not kept
# Set by a caller around one call: every attempt of that call is tagged with it (threads and tasks
# each have their own context, so concurrent calls are told apart).
CALL_TAG: ContextVar[str | None] = ContextVar("reliability_call_tag", default=None)


def route_of(method: str, path: str, *, storage: bool = False, cdn: bool = False) -> str:
    """The fault route a request belongs to, from its method and path (and which origin it hit)."""
    if storage:
        return "storage"
    if cdn:
        return "cdn"
    if path == "/connect/token":
        return "token"
    if path.rstrip("/") == "/mesh-export":
        return "start-export" if method == "POST" else "get-exports"
    if path.startswith("/mesh-export/"):
        return "delete-export" if method == "DELETE" else "get-export"
    return "other"


def server_route(record: RequestRecord) -> str:
    return route_of(record.method, record.path, storage=record.origin == "storage", cdn=record.origin == "cdn")


@dataclass
class Attempt:
    """One HTTP attempt as the client's transport saw it."""

    method: str
    url: str
    route: str
    authorization: str | None
    status: int | None = None
    error: str | None = None
    body: bytearray = field(default_factory=bytearray)
    tag: str | None = None


# How an attempt that reached the server can end on the client's side: with an answer, or broken
# off while the answer was awaited or read (a connection refused or a connect timeout never did).
_REACHED_ERRORS = frozenset({"ReadTimeout", "ReadError", "RemoteProtocolError"})


def reached_server(attempt: Attempt) -> bool:
    """Whether the attempt's request reached the server (so its request log holds it)."""
    return attempt.error is None or attempt.error in _REACHED_ERRORS


class Traffic:
    """Every attempt of the clients built on `transport()` / `async_transport()`, thread-safe.
    Hosts in `storage_hosts` / `cdn_hosts` (host:port) are the storage origins."""

    def __init__(self, *, storage_hosts: Iterable[str] = (), cdn_hosts: Iterable[str] = ()) -> None:
        self.storage_hosts = set(storage_hosts)
        self.cdn_hosts = set(cdn_hosts)
        self._lock = threading.Lock()
        self.attempts: list[Attempt] = []

    def start(self, request: httpx.Request) -> Attempt:
        netloc = request.url.netloc.decode("ascii")
        route = route_of(
            request.method,
            request.url.path,
            storage=netloc in self.storage_hosts,
            cdn=netloc in self.cdn_hosts,
        )
        attempt = Attempt(
            request.method, str(request.url), route, request.headers.get("authorization"), tag=CALL_TAG.get()
        )
        with self._lock:
            self.attempts.append(attempt)
        return attempt

    def clear(self) -> None:
        with self._lock:
            self.attempts.clear()

    def on(self, route: str, path_glob: str | None = None) -> list[Attempt]:
        import fnmatch

        with self._lock:
            return [
                a
                for a in self.attempts
                if a.route == route and (path_glob is None or fnmatch.fnmatchcase(urlsplit(a.url).path, path_glob))
            ]

    def transport(self, **kwargs: object) -> httpx.BaseTransport:
        return _Recording(self, httpx.HTTPTransport(**kwargs))  # type: ignore[arg-type]

    def async_transport(self, **kwargs: object) -> httpx.AsyncBaseTransport:
        return _AsyncRecording(self, httpx.AsyncHTTPTransport(**kwargs))  # type: ignore[arg-type]


def _keeps_body(attempt: Attempt) -> bool:
    return attempt.route not in ("storage", "cdn")


class _Tee(httpx.SyncByteStream):
    def __init__(self, stream: httpx.SyncByteStream, attempt: Attempt) -> None:
        self._stream = stream
        self._attempt = attempt

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._stream:
                if _keeps_body(self._attempt) and len(self._attempt.body) < _BODY_LIMIT:
                    self._attempt.body += chunk
                yield chunk
        except BaseException as exc:  # cancellation too: the attempt ended there
            self._attempt.error = type(exc).__name__
            raise

    def close(self) -> None:
        self._stream.close()


class _AsyncTee(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, attempt: Attempt) -> None:
        self._stream = stream
        self._attempt = attempt

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                if _keeps_body(self._attempt) and len(self._attempt.body) < _BODY_LIMIT:
                    self._attempt.body += chunk
                yield chunk
        except BaseException as exc:  # cancellation too: the attempt ended there
            self._attempt.error = type(exc).__name__
            raise

    async def aclose(self) -> None:
        await self._stream.aclose()


class _Recording(httpx.BaseTransport):
    def __init__(self, traffic: Traffic, inner: httpx.BaseTransport) -> None:
        self._traffic = traffic
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = self._traffic.start(request)
        try:
            response = self._inner.handle_request(request)
        except BaseException as exc:  # cancellation too: the attempt ended there
            attempt.error = type(exc).__name__
            raise
        attempt.status = response.status_code
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Tee(response.stream, attempt),
            extensions=response.extensions,
            request=request,
        )

    def close(self) -> None:
        self._inner.close()


class _AsyncRecording(httpx.AsyncBaseTransport):
    def __init__(self, traffic: Traffic, inner: httpx.AsyncBaseTransport) -> None:
        self._traffic = traffic
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt = self._traffic.start(request)
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException as exc:  # cancellation too: the attempt ended there
            attempt.error = type(exc).__name__
            raise
        attempt.status = response.status_code
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_AsyncTee(response.stream, attempt),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class Timekeeper:
    """The client's monotonic clock and sleep: time moves only when the client sleeps, and the
    service's ManualClock moves with it (so exports progress and links age as the client waits)."""

    def __init__(self, service_clock: ManualClock | None = None) -> None:
        self._service_clock = service_clock
        self._lock = threading.Lock()
        self.now = 10_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, seconds
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds
        if self._service_clock is not None:
            self._service_clock.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


class LogCapture(logging.Handler):
    """Every record of the client side at DEBUG (the service's uvicorn records excluded: the
    server is allowed to see what it was sent)."""

    LOGGERS = ("itwin_mesh_export", "itwin_mesh_export.download", "httpx", "httpcore")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._formatter = logging.Formatter()
        self._levels: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("uvicorn"):
            self.records.append(record)

    def texts(self) -> list[str]:
        out = []
        for record in self.records:
            out.append(record.getMessage())
            if record.exc_info:
                out.append(self._formatter.formatException(record.exc_info))
        return out

    def __enter__(self) -> LogCapture:
        root = logging.getLogger()
        root.addHandler(self)
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc_info: object) -> None:
        logging.getLogger().removeHandler(self)
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)


def texts_of_exception(exc: BaseException | None) -> list[str]:
    """What a user or a log handler sees of an exception: the formatted traceback (messages of the
    whole cause/context chain), str and repr of each, and the public attributes of the package's
    own errors (`url`, `uri`, `message`...). Raw bodies and responses are data, not text: skipped."""
    if exc is None:
        return []
    out: list[str] = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        out += [str(current), repr(current)]
        if isinstance(current, MeshExportError):
            out += [
                repr(v)
                for k, v in vars(current).items()
                if not k.startswith("_") and k not in ("response", "headers", "body", "export")
            ]
        current = current.__cause__ or current.__context__
    return out


_SECRET_PARAMS = ("sig", "signature", "key-pair-id", "policy")
_SECRET_IN_TEXT = re.compile(r"(?:sig|Signature|Key-Pair-Id|Policy)=([^&\"'\s\\<>]+)")
_UNREDACTED = re.compile(r"(?i)(?:^|[?&\s])(?:sig|signature|key-pair-id|policy)=(?!REDACTED)[^&\s'\"]")


def secret_values(traffic: Traffic, service: LocalMeshExportService) -> set[str]:
    """Every credential the client handled: the bearer tokens it sent, the client secret, and every
    signature value in a body it read or in a URL it requested."""
    values = {service.client_secret}
    if service.config.static_token:
        values.add(service.config.static_token)
    for attempt in list(traffic.attempts):
        if attempt.authorization:
            values.add(attempt.authorization.partition(" ")[2] or attempt.authorization)
        for key, value in parse_qsl(urlsplit(attempt.url).query, keep_blank_values=True):
            if key.lower() in _SECRET_PARAMS:
                values.update({value, unquote(value)})
        for match in _SECRET_IN_TEXT.finditer(attempt.body.decode("utf-8", "replace")):
            values.update({match.group(1), unquote(match.group(1))})
    return {v for v in values if len(v) >= 8}


def find_secrets(texts: Iterable[str], secrets: Iterable[str]) -> list[str]:
    """Texts holding a secret value, or a signature parameter that is not REDACTED."""
    secrets = sorted(set(secrets))
    found = []
    for text in texts:
        if any(secret in text for secret in secrets) or _UNREDACTED.search(text):
            found.append(text[:300])
    return found


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def count_fds() -> tuple[int, int]:
    """(open file descriptors, of which sockets) of this process, from /proc/self/fd."""
    total = sockets = 0
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{name}")
            total += 1
            sockets += target.startswith("socket:")
    return total, sockets
