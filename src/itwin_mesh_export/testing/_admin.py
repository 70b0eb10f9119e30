"""The admin endpoints: control a running service over HTTP, outside the spec's paths.

A service started from the command line has no Python handle, so the same controls the Python
API offers are served under `{api_origin}/_admin` (no token needed; the service binds 127.0.0.1):

    GET    /_admin/faults              armed faults (id, remaining, applied, fault)
    POST   /_admin/faults              arm one fault (JSON object) or several (array) -> 201 {"ids": [...]}
    DELETE /_admin/faults              disarm all
    DELETE /_admin/faults/{id}         disarm one (404 if unknown)
    POST   /_admin/clock               {"advance_s": 60} on a ManualClock (409 otherwise)
    POST   /_admin/tokens/expire       end every issued token -> {"expired": n}
    POST   /_admin/exports             add seed exports: SeedExport fields in JSON, or {"count": n, ...}
    GET    /_admin/exports/{id}/files  the export's files: path, size, mediaType, etag
    GET    /_admin/requests            the request log (origin, method, path, status, raw_path)
    GET    /_admin/storage/authorization-headers   Authorization headers the storage origins received
    DELETE /_admin/requests            clear the request log and the recorded headers

Bad input answers 400 `{"error": "..."}` naming the problem.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._clock import ManualClock
from ._config import SeedExport, ServiceConfigError, make_seed_exports
from ._context import ServiceContext
from ._faults import Fault, FaultSpecError
from ._tiles import TilesetSpec, TilesetSpecError

__all__ = ["admin_routes"]

_SEED_FIELDS = {f.name for f in fields(SeedExport)}


def _bad(message: str, status: int = 400) -> Response:
    return JSONResponse({"error": message}, status_code=status)


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise FaultSpecError("the body must be JSON") from None


def _seed_from_json(data: Any) -> SeedExport:
    if not isinstance(data, dict):
        raise ServiceConfigError("a seed export is a JSON object")
    unknown = sorted(set(data) - _SEED_FIELDS)
    if unknown:
        raise ServiceConfigError(f"unknown seed export field(s): {', '.join(unknown)}")
    values = dict(data)
    if isinstance(values.get("tileset"), dict):
        values["tileset"] = TilesetSpec(**values["tileset"])
    try:
        return SeedExport(**values)
    except TypeError as exc:
        raise ServiceConfigError(str(exc)) from None


def admin_routes(ctx: ServiceContext) -> list[BaseRoute]:
    indexes = itertools.count(len(ctx.config.seed_exports))

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"faults": ctx.faults.armed()})
        if request.method == "DELETE":
            ctx.faults.clear()
            return Response(status_code=204)
        try:
            data = await _json(request)
            items = data if isinstance(data, list) else [data]
            parsed = [Fault.from_dict(item) for item in items]
        except FaultSpecError as exc:
            return _bad(str(exc))
        return JSONResponse({"ids": [ctx.faults.add(f) for f in parsed]}, status_code=201)

    async def fault(request: Request) -> Response:
        if ctx.faults.remove(request.path_params["fault_id"]):
            return Response(status_code=204)
        return _bad("no armed fault has this id", 404)

    async def clock(request: Request) -> Response:
        if not isinstance(ctx.clock, ManualClock):
            return _bad(f"the service runs on {ctx.clock!r}; only a ManualClock can be moved", 409)
        try:
            data = await _json(request)
        except FaultSpecError as exc:
            return _bad(str(exc))
        seconds = data.get("advance_s") if isinstance(data, dict) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            return _bad("advance_s must be a number >= 0")
        return JSONResponse({"now": ctx.clock.advance(seconds)})

    async def expire_tokens(request: Request) -> Response:
        return JSONResponse({"expired": ctx.tokens.expire_all()})

    async def add_exports(request: Request) -> Response:
        try:
            data = await _json(request)
            if isinstance(data, dict) and "count" in data:
                options = {k: v for k, v in data.items() if k != "count"}
                if isinstance(options.get("tileset"), dict):
                    options["tileset"] = TilesetSpec(**options["tileset"])
                seeds = make_seed_exports(data["count"], **options)
                # Fresh indexes (after those of the seeds given at start), so that repeated calls
                # add new exports with stable ids.
                seeds = [dataclasses.replace(s, index=next(indexes)) for s in seeds]
            else:
                seeds = [_seed_from_json(item) for item in (data if isinstance(data, list) else [data])]
            records = [ctx.exports.add_seed(seed) for seed in seeds]
        except (FaultSpecError, ServiceConfigError, TilesetSpecError, TypeError, ValueError) as exc:
            return _bad(str(exc))
        return JSONResponse({"ids": [r.id for r in records]}, status_code=201)

    async def export_files(request: Request) -> Response:
        view = ctx.exports.view(request.path_params["export_id"])
        if view is None:
            return _bad("no export has this id", 404)
        files = view.record.files()
        listing = [
            {"path": info.path, "size": info.size, "mediaType": info.media_type, "etag": files.etag(info.path)}
            for info in files.files()
        ]
        return JSONResponse({"status": view.status, "files": listing})

    async def requests_log(request: Request) -> Response:
        if request.method == "DELETE":
            ctx.clear_requests()
            return Response(status_code=204)
        return JSONResponse({"requests": [asdict(r) for r in ctx.requests()]})

    async def authorization_headers(request: Request) -> Response:
        return JSONResponse({"authorization": ctx.storage_authorization_headers()})

    handlers: list[tuple[str, Callable[[Request], Any], list[str]]] = [
        ("/_admin/faults", faults, ["GET", "POST", "DELETE"]),
        ("/_admin/faults/{fault_id}", fault, ["DELETE"]),
        ("/_admin/clock", clock, ["POST"]),
        ("/_admin/tokens/expire", expire_tokens, ["POST"]),
        ("/_admin/exports", add_exports, ["POST"]),
        ("/_admin/exports/{export_id}/files", export_files, ["GET"]),
        ("/_admin/requests", requests_log, ["GET", "DELETE"]),
        ("/_admin/storage/authorization-headers", authorization_headers, ["GET"]),
    ]
    return [Route(path, handler, methods=methods) for path, handler, methods in handlers]
