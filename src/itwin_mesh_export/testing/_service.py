"""`LocalMeshExportService`: the API, blob-storage and CDN origins running on 127.0.0.1.

Three uvicorn servers (one per origin, so storage really is another origin than the API) share
one event loop in one background thread. Ports default to 0: the sockets are bound before the
servers start, so the real ports are known at once, and nothing else can take them in between.
`stop()` asks the servers to exit, waits at most `timeout_graceful_shutdown` for open
connections, and joins the thread, so a test leaves nothing running.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from ._admin import admin_routes
from ._api import api_routes, http_exception_json, mesh_href
from ._clock import Clock, SystemClock
from ._config import SeedExport, ServiceConfig, ServiceConfigError
from ._connections import ConnectionRegistry
from ._context import RequestLogMiddleware, RequestRecord, ServiceContext
from ._exports import ExportRecord, ExportStore
from ._faults import FaultRegistry
from ._signing import Signer
from ._storage import blob_routes, cdn_routes, storage_http_exception
from ._tiles import FileInfo
from ._tokens import TokenIssuer

__all__ = ["LocalMeshExportService", "ServiceStartError"]

HOST = "127.0.0.1"
_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 15.0


def _redact_query(path: str) -> str:
    """`/exports/x/tileset.json?sv=..&sig=..` -> `/exports/x/tileset.json?sv=REDACTED&sig=REDACTED`.
    Every value goes (this package does not import the client's allowlist in `_redact`)."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    return base + "?" + "&".join(f"{item.partition('=')[0]}=REDACTED" for item in query.split("&"))


class _RedactAccessLog(logging.Filter):
    """uvicorn's access lines carry each request's query string, the storage signature included.
    They are off (`access_log=False`), but uvicorn still writes them whenever the `uvicorn.access`
    logger has a handler (pytest's log capture puts one there, an application's logging
    configuration may too): this filter hides every query value in them first."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_query(a) if isinstance(a, str) and "?" in a else a for a in record.args)
        return True


_ACCESS_LOGGER = logging.getLogger("uvicorn.access")
if not any(isinstance(f, _RedactAccessLog) for f in _ACCESS_LOGGER.filters):
    _ACCESS_LOGGER.addFilter(_RedactAccessLog())


class ServiceStartError(RuntimeError):
    """The service could not start: a port in use, or a server that failed during start-up."""


def _bind(port: int) -> socket.socket:
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ServiceConfigError(f"a port must be an int from 0 to 65535, got {port!r}")
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without it
    # every response written in two pieces waits for a delayed ACK (40 ms on Linux).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ServiceStartError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from exc
    return sock


class LocalMeshExportService:
    """A local Mesh Export service: API, token endpoint, blob storage and CDN, on 127.0.0.1.

        with LocalMeshExportService(in_progress_s=0.5) as svc:
            httpx.get(svc.api_url + "/", headers={"Authorization": f"Bearer {svc.token}"})

    `config` (a `ServiceConfig`) and keyword overrides of its fields set it up; `clock` (a
    `SystemClock` by default, or a `ManualClock` / `ScaledClock`) drives every status change and
    expiry. `port`, `storage_port` and `cdn_port` are 0 (any free port) unless given.
    """

    def __init__(
        self,
        config: ServiceConfig | None = None,
        *,
        clock: Clock | None = None,
        port: int = 0,
        storage_port: int = 0,
        cdn_port: int = 0,
        **overrides: Any,
    ) -> None:
        config = config if config is not None else ServiceConfig()
        if not isinstance(config, ServiceConfig):
            raise ServiceConfigError(f"config must be a ServiceConfig, got {type(config).__name__}")
        if overrides:
            known = {f.name for f in dataclasses.fields(ServiceConfig)}
            unknown = sorted(set(overrides) - known)
            if unknown:
                raise ServiceConfigError(f"unknown ServiceConfig field(s): {', '.join(unknown)}")
            config = dataclasses.replace(config, **overrides)
        if clock is not None and not isinstance(clock, Clock):
            raise ServiceConfigError("clock must have a now() method returning epoch seconds")
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self._ports = (port, storage_port, cdn_port)
        self.faults = FaultRegistry(config.faults)
        self.exports = ExportStore(config, self.clock)
        self._tokens = TokenIssuer(
            self.clock,
            client_id=config.client_id,
            client_secret=config.client_secret,
            lifetime_s=config.token_lifetime_s,
            static_token=config.static_token,
        )
        self._context = ServiceContext(
            config=config,
            clock=self.clock,
            exports=self.exports,
            tokens=self._tokens,
            signer=Signer(config.signing_key or secrets.token_bytes(32), config.container),
            faults=self.faults,
            connections=ConnectionRegistry(),
        )
        self._servers: list[uvicorn.Server] = []
        self._sockets: list[socket.socket] = []
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._stopped = False

    # ---- life cycle ----

    def _apps(self) -> list[Starlette]:
        ctx = self._context
        api = Starlette(
            routes=[*api_routes(ctx), *admin_routes(ctx)],
            exception_handlers={HTTPException: http_exception_json},
            middleware=[Middleware(RequestLogMiddleware, context=ctx, origin="api")],
        )
        blob = Starlette(
            routes=blob_routes(ctx),
            exception_handlers={HTTPException: storage_http_exception(ctx, cdn=False)},
            middleware=[Middleware(RequestLogMiddleware, context=ctx, origin="storage")],
        )
        cdn = Starlette(
            routes=cdn_routes(ctx),
            exception_handlers={HTTPException: storage_http_exception(ctx, cdn=True)},
            middleware=[Middleware(RequestLogMiddleware, context=ctx, origin="cdn")],
        )
        return [api, blob, cdn]

    def start(self) -> Self:
        """Bind the three ports and start serving; returns when every server accepts requests."""
        if self._thread is not None:
            raise ServiceStartError("this service was already started; make a new one")
        try:
            for port in self._ports:
                self._sockets.append(_bind(port))  # one at a time: a later failure closes the earlier ones
        except BaseException:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()
            raise
        api_port, storage_port, cdn_port = (s.getsockname()[1] for s in self._sockets)
        self._context.api_origin = f"http://{HOST}:{api_port}"
        self._context.storage_origin = f"http://{HOST}:{storage_port}"
        self._context.cdn_origin = f"http://{HOST}:{cdn_port}"
        protocol = self._context.connections.protocol_class()
        for app in self._apps():
            config = uvicorn.Config(
                app,
                http=protocol,
                ws="none",
                lifespan="off",
                access_log=False,  # access lines would carry the signed query strings (see _RedactAccessLog)
                log_config=None,
                server_header=False,
                timeout_keep_alive=30,
                timeout_graceful_shutdown=1,
                backlog=2048,
            )
            self._servers.append(uvicorn.Server(config))
        self._thread = threading.Thread(target=self._run, name="local-mesh-export-service", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not all(s.started for s in self._servers):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServiceStartError(f"the service did not start: {self._error!r}")
            time.sleep(0.005)
        return self

    def _run(self) -> None:
        async def serve_all() -> None:
            await asyncio.gather(
                *(server.serve(sockets=[sock]) for server, sock in zip(self._servers, self._sockets, strict=True))
            )

        try:
            asyncio.run(serve_all())
        except BaseException as exc:  # SystemExit too: uvicorn exits on a start-up failure
            self._error = exc

    def stop(self) -> None:
        """Stop serving and join the server thread (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        for server in self._servers:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(_STOP_TIMEOUT_S)
            if self._thread.is_alive():  # pragma: no cover - a handler that never yields
                for server in self._servers:
                    server.force_exit = True
                self._thread.join(_STOP_TIMEOUT_S)
        for sock in self._sockets:
            sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def wait(self) -> None:
        """Block until the service stops (the command line uses this; Ctrl-C interrupts it)."""
        if self._thread is not None:
            while self._thread.is_alive():
                self._thread.join(0.5)

    @property
    def running(self) -> bool:
        """Started, and not stopped since."""
        return self._thread is not None and self._thread.is_alive() and not self._stopped

    # ---- where things are ----

    @property
    def api_origin(self) -> str:
        """`http://127.0.0.1:<port>`: the API's origin (also the token and admin endpoints')."""
        return self._context.api_origin

    @property
    def api_url(self) -> str:
        """`http://127.0.0.1:<port>/mesh-export`: the base URL a client is given."""
        return self._context.api_url

    @property
    def token_url(self) -> str:
        """The OAuth2 token endpoint (client credentials), on the API's origin."""
        return self._context.api_origin + "/connect/token"

    @property
    def admin_url(self) -> str:
        """The admin endpoints (faults, clock, tokens, exports, request log): `_admin.py`."""
        return self._context.api_origin + "/_admin"

    @property
    def storage_origin(self) -> str:
        """`http://127.0.0.1:<port>`: where blob (SAS) links point."""
        return self._context.storage_origin

    @property
    def cdn_origin(self) -> str:
        """`http://127.0.0.1:<port>`: where CDN links (`cdn=1`) point."""
        return self._context.cdn_origin

    @property
    def port(self) -> int:
        """The API's port (storage and CDN have their own)."""
        return int(self.api_origin.rsplit(":", 1)[1])

    # ---- credentials ----

    @property
    def client_id(self) -> str:
        return self.config.client_id

    @property
    def client_secret(self) -> str:
        return self.config.client_secret

    @property
    def token(self) -> str:
        """The static token (never expires); a freshly issued one when `static_token` is None."""
        return self.config.static_token if self.config.static_token is not None else self.issue_token()

    def issue_token(self) -> str:
        """A new token for the configured client, valid `token_lifetime_s` by the service clock."""
        return self._tokens.issue()

    def expire_tokens(self) -> int:
        """End every issued token now (not the static one); returns how many were live."""
        return self._tokens.expire_all()

    @property
    def tokens_issued(self) -> int:
        """How many tokens the token endpoint (and `issue_token`) has issued."""
        return self._tokens.issued_count

    # ---- exports and files ----

    def add_export(self, seed: SeedExport | None = None, /, **fields: Any) -> str:
        """Add an export as if generated automatically; returns its id.

        Pass a `SeedExport`, or its fields: `svc.add_export(imodel_id="...", status="Invalid")`.
        """
        if seed is None:
            seed = SeedExport(**fields)
        elif fields:
            raise ServiceConfigError("pass a SeedExport or its fields, not both")
        return self.exports.add_seed(seed).id

    def export_status(self, export_id: str) -> str | None:
        """The export's status now (None when it does not exist)."""
        view = self.exports.view(export_id)
        return view.status if view is not None else None

    def export_files(self, export_id: str) -> list[FileInfo]:
        """Every file of the export (path relative to its folder, size, media type)."""
        return self._record(export_id).files().files()

    def file_etag(self, export_id: str, path: str) -> str:
        return self._record(export_id).files().etag(path)

    def file_bytes(self, export_id: str, path: str, start: int = 0, end: int | None = None) -> bytes:
        """The bytes the storage serves for `path` (or its range [start, end)): for checks in tests."""
        files = self._record(export_id).files()
        if files.info(path) is None:
            raise KeyError(f"export {export_id!r} has no file {path!r}")
        return files.read(path, start, end)

    def iter_file(self, export_id: str, path: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The bytes of `path` in pieces, without holding a large file in memory."""
        files = self._record(export_id).files()
        if files.info(path) is None:
            raise KeyError(f"export {export_id!r} has no file {path!r}")
        return files.iter_bytes(path, 0, None, chunk_size)

    def mesh_url(self, export_id: str, *, cdn: bool = False, expired: bool = False) -> str:
        """A freshly signed folder URL of a Complete export (what `_links.mesh.href` holds)."""
        view = self.exports.view(export_id)
        if view is None:
            raise KeyError(f"no export has the id {export_id!r}")
        return mesh_href(self._context, view, cdn=cdn, expired=expired)

    def tileset_url(self, export_id: str, *, cdn: bool = False) -> str:
        """`{folder}/tileset.json?{signature}` for the export."""
        base, _, query = self.mesh_url(export_id, cdn=cdn).partition("?")
        return f"{base}/tileset.json?{query}"

    def _record(self, export_id: str) -> ExportRecord:
        view = self.exports.view(export_id)
        if view is None:
            raise KeyError(f"no export has the id {export_id!r}")
        return view.record

    # ---- what the service received ----

    @property
    def storage_authorization_headers(self) -> list[str]:
        """Every Authorization header value the storage and CDN origins received (tests assert [])."""
        return self._context.storage_authorization_headers()

    @property
    def requests(self) -> list[RequestRecord]:
        """The request log: origin ("api", "storage", "cdn"), method, path without query, status."""
        return self._context.requests()

    def clear_requests(self) -> None:
        """Empty the request log and the recorded storage Authorization headers."""
        self._context.clear_requests()

    def summary(self) -> dict[str, str]:
        """Where everything is and how to authenticate, for printing (the command line does)."""
        return {
            "API base URL": self.api_url,
            "Token endpoint": self.token_url,
            "Storage origin": self.storage_origin,
            "CDN origin": self.cdn_origin,
            "Admin": self.admin_url,
            "Client id": self.client_id,
            "Client secret": self.client_secret,
            "Static token": self.config.static_token or "(none: use the token endpoint)",
        }

    def __repr__(self) -> str:
        state = "running" if self.running else ("stopped" if self._stopped else "not started")
        return f"LocalMeshExportService({state}, api_url={self.api_url!r})"
