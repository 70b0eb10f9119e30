"""Running one cell of the fault matrix: one operation, one injected fault, one client (sync or
async), over real sockets against the local service, with DEBUG logging captured throughout.

`run_cell` returns an `Observation`: what the call ended with, how many attempts it made on the
faulted route (counted by the client's transport and by the service), what it slept, and every
problem found on the way (a secret in a log line, an Authorization header at the storage, a fault
that never fired, a result that is not what the call promises). The test compares it with the
table (`matrix.py`); the report prints it.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from itwin_mesh_export import (
    AsyncMeshExportClient,
    ClientCredentials,
    DownloadResult,
    Export,
    ExportStatus,
    MeshExportClient,
    MeshExportError,
    RetryPolicy,
    download_tileset,
    download_tileset_async,
    mesh_href,
)
from itwin_mesh_export.testing import LocalMeshExportService, ManualClock, SeedExport, TilesetSpec
from tests.overlay.conftest import Api
from tests.reliability.harness import (
    LogCapture,
    Timekeeper,
    Traffic,
    closed_port,
    find_secrets,
    reached_server,
    secret_values,
    server_route,
    texts_of_exception,
)
from tests.reliability.matrix import Row

__all__ = ["SEEDS", "Observation", "expected_download", "run_cell", "start_matrix_service"]

M_GET = "matrix-get-imodel"
M_LIST = "matrix-list-imodel"
M_DL = "matrix-download-imodel"
MATRIX_TILESET = TilesetSpec(tile_count=7, large_tile_bytes=1024 * 1024)
SEEDS = [
    SeedExport(imodel_id=M_GET),
    *(SeedExport(imodel_id=M_LIST, index=i) for i in range(3)),
    SeedExport(imodel_id=M_DL, tileset=MATRIX_TILESET),
]
GET_ID, DL_ID = SEEDS[0].export_id, SEEDS[-1].export_id
WAIT_TIMEOUT_S = 300.0
POLL_INTERVAL_S = 5.0
_unique = itertools.count()


def start_matrix_service() -> tuple[LocalMeshExportService, ManualClock]:
    clock = ManualClock(time.time())
    svc = LocalMeshExportService(clock=clock, seed_exports=SEEDS, not_started_s=1.0, in_progress_s=2.0)
    return svc.start(), clock


def expected_download(svc: LocalMeshExportService) -> dict[str, bytes]:
    return {f.path: svc.file_bytes(DL_ID, f.path) for f in svc.export_files(DL_ID)}


@dataclass
class Observation:
    outcome: str  # "ok", or the class name of what was raised
    attempts: int  # on the faulted route, counted by the client's transport
    server_attempts: int | None  # the same, counted by the service (None: nothing could reach it)
    sleeps: list[float]
    refreshes: int
    tokens_fetched: int
    log_records: int
    secrets_checked: int
    secrets_found: int  # texts (log lines, exception texts, reprs) holding one of the secrets
    problems: list[str] = field(default_factory=list)
    error: BaseException | None = None
    result: Any = None

    def summary(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "attempts": self.attempts,
            "server_attempts": self.server_attempts,
            "sleeps": [round(s, 2) for s in self.sleeps],
            "refreshes": self.refreshes,
            "tokens_fetched": self.tokens_fetched,
            "log_records": self.log_records,
            "secrets_checked": self.secrets_checked,
            "secrets_found": self.secrets_found,
            "problems": self.problems,
        }


def _host(origin: str) -> str:
    return origin.split("://", 1)[1]


def _prepare(svc: LocalMeshExportService, op: str) -> dict[str, str]:
    """The exports an operation works on, made without a request (so nothing else is counted)."""
    n = next(_unique)
    if op == "delete":
        return {"id": svc.add_export(imodel_id=f"matrix-delete-{n}", status="Complete")}
    if op == "wait":
        return {"id": svc.add_export(imodel_id=f"matrix-wait-{n}", status="NotStarted")}
    if op == "ensure":
        imodel = f"matrix-ensure-{n}"
        svc.add_export(imodel_id=imodel, status="Complete")
        return {"imodel": imodel}
    if op == "start":
        return {"imodel": f"matrix-start-{n}"}
    return {}


async def _operation(
    op: str,
    api: Api,
    ids: dict[str, str],
    *,
    mode: str,
    dest: Path,
    traffic: Traffic,
    keeper: Timekeeper,
    refresh: bool,
    storage_netloc: str | None,
    timeout_s: float | None,
    refreshes: list[int],
) -> Any:
    if op == "get":
        return await api.call("get_export", GET_ID)
    if op == "list":
        return await api.collect(imodel_id=M_LIST, page_size=2)
    if op == "start":
        return await api.call("start_export", ids["imodel"])
    if op == "delete":
        return await api.call("delete_export", ids["id"])
    if op == "wait":
        return await api.call("wait_for_export", ids["id"], timeout_s=WAIT_TIMEOUT_S, poll_interval_s=POLL_INTERVAL_S)
    if op == "ensure":
        return await api.call("ensure_export", ids["imodel"])
    assert op == "download"
    export = await api.call("get_export", DL_ID)
    href = mesh_href(export)
    assert href is not None
    if storage_netloc is not None:  # connection refused: the same link, on a port nothing listens on
        scheme, _, rest = href.partition("://")
        href = f"{scheme}://{storage_netloc}/{rest.split('/', 1)[1]}"
    timeout = httpx.Timeout(timeout_s) if timeout_s is not None else None
    kwargs: dict[str, Any] = {"concurrency": 4}
    if timeout is not None:
        kwargs["timeout"] = timeout
    client = api.client
    if mode == "sync":
        assert isinstance(client, MeshExportClient)

        def fresh() -> str:
            refreshes.append(1)
            value = client.get_mesh_href(DL_ID)
            assert value is not None
            return value

        return download_tileset(
            href,
            dest,
            refresh_href=fresh if refresh else None,
            transport=traffic.transport(),
            sleep=keeper.sleep,
            **kwargs,
        )
    assert isinstance(client, AsyncMeshExportClient)

    async def afresh() -> str:
        refreshes.append(1)
        value = await client.get_mesh_href(DL_ID)
        assert value is not None
        return value

    return await download_tileset_async(
        href,
        dest,
        refresh_href=afresh if refresh else None,
        transport=traffic.async_transport(),
        sleep=keeper.asleep,
        **kwargs,
    )


def _client(
    mode: str, token: Any, base_url: str, keeper: Timekeeper, traffic: Traffic, timeout_s: float | None, seed: int
) -> MeshExportClient | AsyncMeshExportClient:
    kwargs: dict[str, Any] = {
        "base_url": base_url,
        "retry": RetryPolicy(random=random.Random(seed).random),
        "clock": keeper.clock,
    }
    if timeout_s is not None:
        kwargs["timeout"] = timeout_s
    if mode == "sync":
        return MeshExportClient(token, transport=traffic.transport(), sleep=keeper.sleep, **kwargs)
    return AsyncMeshExportClient(token, transport=traffic.async_transport(), sleep=keeper.asleep, **kwargs)


def _settle(svc: LocalMeshExportService, traffic: Traffic, *, timeout_s: float = 15.0) -> None:
    """Wait until the service has logged every attempt that reached it (a delayed answer is logged
    when it starts, after the client gave up on it), so the next cell starts from a quiet service."""
    reached = sum(1 for a in traffic.attempts if reached_server(a))
    deadline = time.monotonic() + timeout_s
    while len(svc.requests) < reached and time.monotonic() < deadline:
        time.sleep(0.01)


def run_cell(svc: LocalMeshExportService, clock: ManualClock, row: Row, op: str, mode: str, dest: Path) -> Observation:
    svc.faults.clear()
    clock.set(time.time())  # Retry-After dates and link expiry start from the wall clock
    ids = _prepare(svc, op)
    keeper = Timekeeper(clock)
    traffic = Traffic(storage_hosts={_host(svc.storage_origin)}, cdn_hosts={_host(svc.cdn_origin)})
    refused_netloc = f"127.0.0.1:{closed_port()}" if row.special == "refused" else None
    base_url = svc.api_url
    storage_netloc = None
    if refused_netloc is not None:
        if op == "download":
            storage_netloc = refused_netloc
            traffic.storage_hosts.add(refused_netloc)
        else:
            base_url = f"http://{refused_netloc}/mesh-export"
    token: Any = svc.token
    if row.special in ("token-expired", "token-credentials"):
        token = ClientCredentials(
            svc.client_id, svc.client_secret, token_url=svc.token_url, transport=traffic.transport(), sleep=keeper.sleep
        )
    elsewhere = (
        svc.cdn_origin + "/mesh-export/elsewhere/x.glb" if op == "download" else svc.storage_origin + "/exports/x"
    )
    target = row.make_target(op, elsewhere)
    faults = row.faults(target)
    client = _client(
        mode, token, base_url, keeper, traffic, row.client_timeout_s, seed=zlib.crc32(f"{row.key}/{op}/{mode}".encode())
    )
    refreshes: list[int] = []
    outcome: str
    error: BaseException | None = None
    result: Any = None
    problems: list[str] = []
    logs = LogCapture()
    tokens_before = 0

    async def cell() -> None:
        nonlocal result, error, tokens_before
        api = Api(mode, client)
        try:
            if row.special == "token-expired":
                await api.call("get_export", GET_ID)  # the client holds a token...
                svc.expire_tokens()  # ...which ends now, between two calls
            _settle(svc, traffic)
            traffic.clear()
            svc.clear_requests()
            tokens_before = svc.tokens_issued
            for fault in faults:
                svc.faults.add(fault)
            with logs:
                try:
                    result = await _operation(
                        op,
                        api,
                        ids,
                        mode=mode,
                        dest=dest,
                        traffic=traffic,
                        keeper=keeper,
                        refresh=row.special != "no-refresh",
                        storage_netloc=storage_netloc,
                        timeout_s=row.client_timeout_s,
                        refreshes=refreshes,
                    )
                except BaseException as exc:  # classified below: anything but a MeshExportError escaped
                    error = exc
                finally:
                    await api.close()
        finally:
            close = getattr(token, "close", None)
            if callable(close):
                close()

    asyncio.run(cell())
    _settle(svc, traffic)
    if error is None:
        outcome = "ok"
    elif isinstance(error, MeshExportError):
        outcome = type(error).__name__
    else:
        outcome = f"ESCAPED {type(error).__module__}.{type(error).__name__}: {error}"

    route = row.route(op)
    glob = target.path if route == "storage" else None
    attempts = len(traffic.on(route, glob))
    server = [
        r for r in svc.requests if server_route(r) == route and (glob is None or fnmatch.fnmatchcase(r.path, glob))
    ]
    server_attempts: int | None = None if refused_netloc is not None else len(server)
    if server_attempts is not None and server_attempts != attempts:
        problems.append(f"the service counted {server_attempts} requests on {route}, the client {attempts}")

    # every fault fired: a spent one is gone, a lasting one was applied
    for entry in svc.faults.armed():
        if entry["fault"]["times"] is not None or entry["applied"] == 0:
            problems.append(f"fault {entry['fault']['kind']} on {entry['fault']['route']} was not used up")
    svc.faults.clear()

    if svc.storage_authorization_headers:
        problems.append(f"the storage received Authorization headers: {len(svc.storage_authorization_headers)}")
    if row.special == "redirect":
        origin = "cdn" if op == "download" else "storage"
        followed = [r for r in svc.requests if r.origin == origin]
        if followed:
            problems.append(f"the redirect to another host was followed: {followed}")

    texts = logs.texts() + texts_of_exception(error) + [repr(result), repr(client)]
    secrets = secret_values(traffic, svc)
    leaks = find_secrets(texts, secrets)
    if leaks:
        problems.append(f"secrets in logs, errors or reprs: {leaks[:3]}")

    if error is None:
        problems += _check_result(op, result, svc, ids, dest)
    return Observation(
        outcome=outcome,
        attempts=attempts,
        server_attempts=server_attempts,
        sleeps=list(keeper.sleeps),
        refreshes=len(refreshes),
        tokens_fetched=svc.tokens_issued - tokens_before,
        log_records=len(logs.records),
        secrets_checked=len(secrets),
        secrets_found=len(leaks),
        problems=problems,
        error=error,
        result=result,
    )


def _check_result(op: str, result: Any, svc: LocalMeshExportService, ids: dict[str, str], dest: Path) -> list[str]:
    """What a call that returned must have returned."""
    checks: dict[str, Callable[[], bool]] = {
        "get": lambda: isinstance(result, Export) and result.id == GET_ID,
        "list": lambda: (
            isinstance(result, list)
            and len(result) == 3
            and all(isinstance(e, Export) and e.request.i_model_id == M_LIST for e in result)
        ),
        "start": lambda: isinstance(result, Export) and result.request.i_model_id == ids.get("imodel"),
        # gone exactly when the service itself answered the DELETE (a fault may answer in its place)
        "delete": lambda: (
            result is None
            and (svc.export_status(ids["id"]) is None)
            == any(r.method == "DELETE" and r.status == 204 for r in svc.requests)
        ),
        "wait": lambda: (
            isinstance(result, Export) and result.id == ids["id"] and result.status is ExportStatus.COMPLETE
        ),
        "ensure": lambda: isinstance(result, Export) and result.request.i_model_id == ids["imodel"],
        "download": lambda: isinstance(result, DownloadResult) and _tree(dest) == expected_download(svc),
    }
    return [] if checks[op]() else [f"{op} returned something it should not: {result!r}"[:300]]


def _tree(root: Path) -> dict[str, bytes]:
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    files.pop("itwin-mesh-export.manifest.json", None)
    return files
