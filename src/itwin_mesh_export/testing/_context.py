"""What the three apps of one service (API, blob storage, CDN) share, and the request log.

One `ServiceContext` per running service: configuration, clock, exports, tokens, signer,
faults, connections, the public URLs (known once the sockets are bound), and what was received:
a bounded log of requests and every Authorization header that reached a storage origin.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._clock import Clock
from ._config import ServiceConfig
from ._connections import ConnectionRegistry
from ._exports import ExportStore
from ._faults import FaultRegistry
from ._signing import Signer
from ._tokens import TokenIssuer

__all__ = ["RequestRecord", "ServiceContext"]

_LOG_LIMIT = 100_000


@dataclass(frozen=True)
class RequestRecord:
    """One request as received: origin ("api", "storage", "cdn"), method, path (no query, decoded),
    status, and `raw_path`, the path exactly as it arrived (still percent-encoded)."""

    origin: str
    method: str
    path: str
    status: int
    raw_path: str = field(default="", compare=False)  # not compared: records built by hand have none


@dataclass
class ServiceContext:
    config: ServiceConfig
    clock: Clock
    exports: ExportStore
    tokens: TokenIssuer
    signer: Signer
    faults: FaultRegistry
    connections: ConnectionRegistry
    api_origin: str = ""
    storage_origin: str = ""
    cdn_origin: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _requests: deque[RequestRecord] = field(default_factory=lambda: deque(maxlen=_LOG_LIMIT))
    _storage_authorization: list[str] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return self.api_origin + "/mesh-export"

    def record_request(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    def requests(self) -> list[RequestRecord]:
        """Every request recorded since the start (or the last clear), oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._storage_authorization.clear()

    def record_storage_authorization(self, value: str) -> None:
        with self._lock:
            self._storage_authorization.append(value)

    def storage_authorization_headers(self) -> list[str]:
        """Every Authorization header the storage saw (there should be none: links are signed)."""
        with self._lock:
            return list(self._storage_authorization)


class RequestLogMiddleware:
    """ASGI middleware: log (origin, method, path, status) of every request; on a storage origin,
    also record any Authorization header."""

    def __init__(self, app: ASGIApp, context: ServiceContext, origin: str) -> None:
        self.app = app
        self.context = context
        self.origin = origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.origin != "api":
            for name, value in scope.get("headers", []):
                if name == b"authorization":
                    self.context.record_storage_authorization(value.decode("latin-1"))
        recorded = False

        def record(status: int) -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                raw_path = scope.get("raw_path") or scope["path"].encode()
                self.context.record_request(
                    RequestRecord(self.origin, scope["method"], scope["path"], status, raw_path.decode("latin-1"))
                )

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Recorded before the client can see the answer, so a test reads a complete log.
                record(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            record(500)  # the app failed before answering: the server answers 500
