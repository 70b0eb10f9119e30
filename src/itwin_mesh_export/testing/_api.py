"""The Mesh Export API of the local service: the spec's four operations, and the token endpoint.

Routes, under the API origin:

- `GET /mesh-export/` Get Exports, `POST /mesh-export/` Start Export,
  `GET /mesh-export/{id}` Get Export, `DELETE /mesh-export/{id}` Delete Export
  (`openapi/mesh-export.yaml`; `/mesh-export` without the slash answers the same);
- `POST /connect/token`, the IMS-like token endpoint (`_tokens.py`);
- `/_admin/...`, outside the spec's paths (`_admin.py`).

Each API request goes: fault (if one is armed for the route) -> Bearer token -> validation ->
answer. Statuses and bodies are those the spec documents: 401 `HeaderNotFound` without a token,
422 `InvalidMeshExportRequest` with `details` for a bad query or body, 404 `ExportNotFound` /
`IModelNotFound`, 422 for deleting an export in progress. Bentley documents no code for a token
that is present but invalid or expired; the service answers 401 with code `Unauthorized` and a
detail `InvalidToken` (the detail code CesiumJS's tests read).

Get Export has no documented 4xx for a bad query parameter (its responses are Bentley's page
verbatim), so it reads `cdn` leniently: "1" means CDN links, anything else blob links.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, quote, unquote_plus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._config import JSON_MEDIA_TYPE, VND_MEDIA_TYPE
from ._context import ServiceContext
from ._exports import COMPLETE, INVALID, ExportView, ListQuery, format_timestamp, timestamp_style_for
from ._faults import Fault, FaultKind
from ._faults import Route as FaultRoute
from ._responses import STREAM_FAULTS, BodyResponse
from ._signing import CDN_PREFIX, http_date
from ._tokens import TokenGrant

__all__ = ["api_routes", "status_phrase"]

# The spec's enum (`ExportResultBody-exportType`), matched exactly: no source says the real API
# accepts other spellings ("cesium", "3dtiles"). Bentley's QA/dev pages list "3DTiles (or 3DTILES)",
# hence both (see `ListQuery.export_type` for how a filter treats them).
EXPORT_TYPES = ("IMODEL", "CESIUM", "3DTILES", "3DTiles")
_PREFER_VALUES = ("return=minimal", "return=representation")
_INT = re.compile(r"-?[0-9]+")
_UNSIGNED = re.compile(r"[0-9]+")
_LIST_PARAMS = ("iModelId", "changesetId", "exportType", "$orderBy", "cdn", "tileVersion", "iTwinJS")
_START_FIELDS = frozenset({"iModelId", "changesetId", "exportType", "tilerConfig"})

_NONSTANDARD_PHRASES = {520: "Unknown Error", 521: "Web Server Is Down", 522: "Connection Timed Out"}


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return _NONSTANDARD_PHRASES.get(status, "Error")


# ---- bodies ----


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def bentley_error(code: str, message: str, details: list[dict[str, str]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def _detail(code: str, message: str, target: str) -> dict[str, str]:
    return {"code": code, "message": message, "target": target}


def _unprocessable(message: str, detail_code: str, bad: _BadQuery | _BadBody) -> Answer:
    """422 InvalidMeshExportRequest with one detail naming the parameter (or body field) and why."""
    return Answer(
        422, bentley_error("InvalidMeshExportRequest", message, [_detail(detail_code, bad.message, bad.target)])
    )


RATE_LIMITED = bentley_error(
    "RateLimitExceeded", "The client sent more requests than allowed by this API for the current tier of the client."
)
HEADER_NOT_FOUND = bentley_error("HeaderNotFound", "Header Authorization was not found in the request. Access denied.")
EXPORT_NOT_FOUND = bentley_error("ExportNotFound", "Requested export is not available.")
IMODEL_NOT_FOUND = bentley_error("IModelNotFound", "Requested iModel is not available.")

_STATUS_ERROR_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "InsufficientPermissions",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Gone",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def html_page(status: int) -> bytes:
    phrase = status_phrase(status)
    title = f"{status} {phrase}"
    return (
        f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n"
        f"<body><center><h1>{title}</h1></center><hr><center>gateway</center></body></html>\n"
    ).encode()


def retry_after_value(ctx: ServiceContext, fault: Fault) -> str:
    if fault.retry_after_http_date:
        return http_date(ctx.clock.now() + fault.retry_after_s)
    return str(max(0, math.ceil(fault.retry_after_s)))


class Answer:
    """A JSON answer before it becomes bytes (so a body fault can still change it)."""

    __slots__ = ("headers", "payload", "status")

    def __init__(self, status: int, payload: Any = None, headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.payload = payload
        self.headers = dict(headers or {})


# ---- body faults ----


def _walk(obj: Any, dotted: str, *, create: bool) -> tuple[Any, str] | None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        if not isinstance(obj, dict):
            return None
        if part not in obj or not isinstance(obj[part], dict):
            if not create:
                return None
            obj[part] = {}
        obj = obj[part]
    return (obj, parts[-1]) if isinstance(obj, dict) else None


def apply_body_fault(payload: Any, fault: Fault, *, exports_in_body: bool) -> Any:
    """Set and remove the fault's fields: on each export object, or on the top level for "$." paths."""
    if not isinstance(payload, dict):
        return payload
    targets: list[Any] = []
    if exports_in_body:
        if isinstance(payload.get("export"), dict):
            targets.append(payload["export"])
        if isinstance(payload.get("exports"), list):
            targets.extend(item for item in payload["exports"] if isinstance(item, dict))
    else:
        targets.append(payload)

    def on(path: str) -> tuple[list[Any], str]:
        return ([payload], path[2:]) if path.startswith("$.") else (targets, path)

    for path, value in fault.set_fields.items():
        objs, sub = on(path)
        for obj in objs:
            spot = _walk(obj, sub, create=True)
            if spot is not None:
                spot[0][spot[1]] = value
    for path in fault.remove_fields:
        objs, sub = on(path)
        for obj in objs:
            spot = _walk(obj, sub, create=False)
            if spot is not None:
                spot[0].pop(spot[1], None)
    return payload


# ---- the pipeline every JSON route shares ----


def _media_type(ctx: ServiceContext, request: Request) -> str:
    choice = ctx.config.media_type
    if choice != "negotiate":
        return choice
    accept = request.headers.get("accept", "")
    return VND_MEDIA_TYPE if VND_MEDIA_TYPE in accept else JSON_MEDIA_TYPE


def _fault_answer(ctx: ServiceContext, fault: Fault, *, oauth: bool, media_type: str) -> Response | None:
    """The response of a fault that replaces the route's answer, or None for the other kinds."""
    status = fault.status
    if fault.kind is FaultKind.RATE_LIMIT:
        body = _dumps({"error": "slow_down", "error_description": "Too many requests."} if oauth else RATE_LIMITED)
        headers = {"Retry-After": retry_after_value(ctx, fault)}
        return Response(body, status_code=429, headers=headers, media_type=JSON_MEDIA_TYPE if oauth else media_type)
    if fault.kind is FaultKind.STATUS:
        assert status is not None
        if fault.body is not None:
            return Response(fault.body.encode(), status_code=status, media_type=media_type)
        message = f"{status_phrase(status)} (injected fault)."
        if oauth:
            error = "server_error" if status >= 500 else "invalid_request"
            payload: Any = {"error": error, "error_description": message}
        else:
            payload = bentley_error(_STATUS_ERROR_CODES.get(status, "Error"), message)
        return Response(_dumps(payload), status_code=status, media_type=JSON_MEDIA_TYPE if oauth else media_type)
    return shared_fault_answer(fault, empty_media_type=JSON_MEDIA_TYPE if oauth else media_type)


def shared_fault_answer(fault: Fault, *, empty_media_type: str) -> Response | None:
    """The fault answers every origin (API, token endpoint, storage, CDN) gives alike: a gateway's
    HTML error page, an empty body, a redirect. None for the other kinds."""
    if fault.kind is FaultKind.HTML:
        status = fault.status or 502
        return Response(html_page(status), status_code=status, media_type="text/html")
    if fault.kind is FaultKind.EMPTY:
        return Response(b"", status_code=fault.status or 200, media_type=empty_media_type)
    if fault.kind is FaultKind.REDIRECT:
        assert fault.location is not None
        return Response(status_code=fault.status or 307, headers={"Location": fault.location})
    return None


def _finish(
    ctx: ServiceContext, answer: Answer, fault: Fault | None, media_type: str, *, exports_in_body: bool
) -> Response:
    if answer.payload is None:
        return Response(status_code=answer.status, headers=answer.headers)
    payload = answer.payload
    if fault is not None and fault.kind is FaultKind.BODY:
        payload = apply_body_fault(payload, fault, exports_in_body=exports_in_body)
    body = _dumps(payload)
    if fault is not None and fault.kind in STREAM_FAULTS:
        return BodyResponse(
            [body],
            length=len(body),
            status_code=answer.status,
            headers=answer.headers,
            media_type=media_type,
            fault=fault,
            connections=ctx.connections,
        )
    return Response(body, status_code=answer.status, headers=answer.headers, media_type=media_type)


async def take_fault(ctx: ServiceContext, route: FaultRoute, request: Request) -> Fault | None:
    """The fault armed for this request's route and path (spending one use), after its delay."""
    fault = ctx.faults.take(route, request.url.path)
    if fault is not None and fault.delay_s:
        await asyncio.sleep(fault.delay_s)
    return fault


def _unauthorized(ctx: ServiceContext, request: Request) -> Answer | None:
    header = request.headers.get("authorization")
    challenge = {"WWW-Authenticate": 'Bearer realm="mesh-export"'}
    if header is None:
        return Answer(401, HEADER_NOT_FOUND, challenge)
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return Answer(
            401,
            bentley_error(
                "Unauthorized",
                "Header Authorization must hold a Bearer token. Access denied.",
                [_detail("InvalidAuthorizationHeader", "Not a Bearer token.", "Authorization")],
            ),
            challenge,
        )
    if not ctx.tokens.is_valid(token):
        return Answer(
            401,
            bentley_error(
                "Unauthorized",
                "The access token is invalid or has expired. Access denied.",
                [_detail("InvalidToken", "The access token is invalid or has expired.", "Authorization")],
            ),
            {"WWW-Authenticate": 'Bearer realm="mesh-export", error="invalid_token"'},
        )
    return None


Handler = Callable[[ServiceContext, Request, Fault | None], Any]


def _endpoint(ctx: ServiceContext, route: FaultRoute, handler: Handler) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        media_type = _media_type(ctx, request)
        fault = await take_fault(ctx, route, request)
        if fault is not None:
            replaced = _fault_answer(ctx, fault, oauth=False, media_type=media_type)
            if replaced is not None:
                return replaced
        answer = _unauthorized(ctx, request)
        if answer is None:
            answer = await handler(ctx, request, fault)
        return _finish(ctx, answer, fault, media_type, exports_in_body=True)

    return endpoint


# ---- export bodies ----


def mesh_href(ctx: ServiceContext, view: ExportView, *, cdn: bool, expired: bool) -> str:
    """The signed folder URL of a Complete export's files (blob form, or CDN form)."""
    export_id = view.record.id
    now = ctx.clock.now()
    expiry = now - 60.0 if expired else now + ctx.config.link_lifetime_s
    quoted = quote(export_id, safe="")
    if cdn:
        return f"{ctx.cdn_origin}/{CDN_PREFIX}/{quoted}?{ctx.signer.cdn_query(export_id, expiry_s=expiry)}"
    query = ctx.signer.blob_query(export_id, now_s=now, expiry_s=expiry)
    return f"{ctx.storage_origin}/{ctx.config.container}/{quoted}?{query}"


def export_body(
    ctx: ServiceContext, view: ExportView, *, full: bool, links: bool, cdn: bool, expired: bool
) -> dict[str, Any]:
    record = view.record
    style = timestamp_style_for(ctx.config.timestamp_style, record.seq)
    body: dict[str, Any] = {
        "id": record.id,
        "displayName": record.display_name,
        "status": view.status,
        "lastModified": format_timestamp(view.last_modified_s, style),
    }
    if not full:
        return body
    request: dict[str, Any] = {
        "iModelId": record.imodel_id,
        "changesetId": record.changeset_id,
        "exportType": record.export_type,
    }
    if record.tiler_config is not None:
        request["tilerConfig"] = record.tiler_config
    body["request"] = request
    if view.status == COMPLETE:
        duration_s = record.in_progress_s if record.fixed_last_modified_s is None else 60.0
        size = record.files().layout.total_size
        body["stats"] = {
            "startTime": format_timestamp(view.last_modified_s - duration_s, style),
            "duration": round(duration_s * 1000),
            "rawSize": size,
            "compressedSize": size,
            "exportDirSize": size,
        }
    if view.status == INVALID and record.error:
        body["error"] = record.error
    if links and view.status == COMPLETE:
        body["_links"] = {"mesh": {"href": mesh_href(ctx, view, cdn=cdn, expired=expired)}}
    return body


# ---- Get Exports ----


class _BadQuery(Exception):
    def __init__(self, target: str, message: str) -> None:
        super().__init__(message)
        self.target = target
        self.message = message


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise _BadQuery(name, f"{name} must be given once.")
    return values[0]


def _list_arguments(request: Request) -> tuple[ListQuery, int | None, int, bool, bool]:
    params = parse_qs(request.url.query, keep_blank_values=True)
    top_text, skip_text = _one(params, "$top"), _one(params, "$skip")
    top = skip = None
    if top_text is not None:
        if not _UNSIGNED.fullmatch(top_text) or int(top_text) < 1:
            raise _BadQuery("$top", "$top must be a positive integer.")
        top = int(top_text)
    if skip_text is not None:
        if not _UNSIGNED.fullmatch(skip_text):
            raise _BadQuery("$skip", "$skip must be a non-negative integer.")
        skip = int(skip_text)
    order = _one(params, "$orderBy")
    if order is not None and order not in ("date:asc", "date:desc"):
        raise _BadQuery("$orderBy", "$orderBy must be date:asc or date:desc.")
    cdn_text = _one(params, "cdn")
    if cdn_text is not None and not _INT.fullmatch(cdn_text):
        raise _BadQuery("cdn", "cdn must be an integer.")
    export_type = _one(params, "exportType")
    if export_type is not None and export_type not in EXPORT_TYPES:
        raise _BadQuery("exportType", f"exportType must be one of {', '.join(EXPORT_TYPES)}.")
    prefer_values = request.headers.getlist("prefer")
    if len(prefer_values) > 1:
        raise _BadQuery("Prefer", "Prefer must be given once.")
    prefer = prefer_values[0].strip() if prefer_values else "return=minimal"
    if prefer not in _PREFER_VALUES:
        raise _BadQuery("Prefer", "Prefer must be return=minimal or return=representation.")
    query = ListQuery(
        imodel_id=_one(params, "iModelId"),
        changeset_id=_one(params, "changesetId"),
        export_type=export_type,
        tile_version=_one(params, "tileVersion"),
        itwinjs_version=_one(params, "iTwinJS"),
        order_by=order,
    )
    return query, top, skip or 0, prefer == "return=representation", cdn_text is not None and int(cdn_text) == 1


def _page_href(ctx: ServiceContext, params: Mapping[str, list[str]], top: int, skip: int) -> str:
    parts = [f"$top={top}", f"$skip={skip}"]
    for name in _LIST_PARAMS:
        values = params.get(name)
        if values:
            parts.append(f"{quote(name, safe='$')}={quote(values[0], safe=':')}")
    return f"{ctx.api_url}/?{'&'.join(parts)}"


async def get_exports(ctx: ServiceContext, request: Request, fault: Fault | None) -> Answer:
    try:
        query, top, skip, full, cdn = _list_arguments(request)
    except _BadQuery as bad:
        return _unprocessable("Cannot list exports.", "InvalidParameter", bad)
    size = min(top if top is not None else ctx.config.default_page_size, ctx.config.max_page_size)
    total, page = ctx.exports.page(query, skip, size)
    expired = fault is not None and fault.kind is FaultKind.EXPIRED_SIGNATURE
    items = [export_body(ctx, v, full=full, links=full, cdn=cdn, expired=expired) for v in page]
    params = parse_qs(request.url.query, keep_blank_values=True)
    links: dict[str, Any] = {"self": {"href": _page_href(ctx, params, size, skip)}}
    if skip > 0:
        links["prev"] = {"href": _page_href(ctx, params, size, max(0, skip - size))}
    if skip + size < total:
        links["next"] = {"href": _page_href(ctx, params, size, skip + size)}
    headers = {"Preference-Applied": "return=representation" if full else "return=minimal"}
    return Answer(200, {"exports": items, "_links": links}, headers)


# ---- Get Export ----


async def get_export(ctx: ServiceContext, request: Request, fault: Fault | None) -> Answer:
    view = ctx.exports.view(request.path_params["id"])
    if view is None:
        return Answer(404, EXPORT_NOT_FOUND)
    cdn = request.query_params.get("cdn") == "1"
    expired = fault is not None and fault.kind is FaultKind.EXPIRED_SIGNATURE
    return Answer(200, {"export": export_body(ctx, view, full=True, links=True, cdn=cdn, expired=expired)})


# ---- Start Export ----


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class _BadBody(Exception):
    def __init__(self, target: str, message: str) -> None:
        super().__init__(message)
        self.target = target
        self.message = message


def _tiler_config(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _BadBody("tilerConfig", "tilerConfig must be an array.")
    if not 1 <= len(value) <= 100:
        raise _BadBody("tilerConfig", "tilerConfig must have between 1 and 100 items.")
    seen: set[tuple[str, str, Any]] = set()
    for position, item in enumerate(value):
        target = f"tilerConfig[{position}]"
        if not isinstance(item, dict) or set(item) != {"key", "value"}:
            raise _BadBody(target, f"{target} must be an object with exactly key and value.")
        key, val = item["key"], item["value"]
        if not isinstance(key, str) or not 1 <= len(key) <= 256:
            raise _BadBody(f"{target}.key", f"{target}.key must be a string of 1 to 256 characters.")
        if isinstance(val, bool):
            canonical: tuple[str, str, Any] = (key, "boolean", val)
        elif isinstance(val, int | float):
            canonical = (key, "number", val)
        elif isinstance(val, str) and 1 <= len(val) <= 1000:
            canonical = (key, "string", val)
        else:
            message = f"{target}.value must be a string of 1 to 1000 characters, a number or a boolean."
            raise _BadBody(f"{target}.value", message)
        if canonical in seen:
            raise _BadBody(target, "tilerConfig items must be unique.")
        seen.add(canonical)
    return value


def _start_arguments(raw: bytes) -> tuple[str, str | None, str, list[Any] | None]:
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError):
        raise _BadBody("body", "The request body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise _BadBody("body", "The request body must be a JSON object.")
    unknown = sorted(set(body) - _START_FIELDS)
    if unknown:
        raise _BadBody(unknown[0], f"{unknown[0]} is not a property of the request.")
    if "iModelId" not in body:
        raise _BadBody("iModelId", "iModelId is required.")
    imodel_id = body["iModelId"]
    if not isinstance(imodel_id, str):
        raise _BadBody("iModelId", "iModelId must be a string.")
    if not imodel_id:
        raise _BadBody("iModelId", "iModelId cannot be empty.")
    changeset_id = body.get("changesetId")
    if "changesetId" in body and not isinstance(changeset_id, str):
        raise _BadBody("changesetId", "changesetId must be a string.")
    export_type = body.get("exportType", "3DTiles")
    if not isinstance(export_type, str) or export_type not in EXPORT_TYPES:
        raise _BadBody("exportType", f"exportType must be one of {', '.join(EXPORT_TYPES)}.")
    tiler = _tiler_config(body["tilerConfig"]) if "tilerConfig" in body else None
    return imodel_id, changeset_id or None, export_type, tiler


async def start_export(ctx: ServiceContext, request: Request, fault: Fault | None) -> Answer:
    try:
        imodel_id, changeset_id, export_type, tiler = _start_arguments(await request.body())
    except _BadBody as bad:
        return _unprocessable("Cannot create export job.", "InvalidRequestBody", bad)
    if not ctx.exports.imodel_exists(imodel_id):
        return Answer(404, IMODEL_NOT_FOUND)
    record = ctx.exports.start(imodel_id, changeset_id, export_type, tiler)
    view = ctx.exports.view(record.id)
    assert view is not None
    return Answer(202, {"export": export_body(ctx, view, full=True, links=False, cdn=False, expired=False)})


# ---- Delete Export ----

INVALID_DELETE = bentley_error(
    "InvalidMeshExportRequest", "Cannot delete exported job.", [_detail("InvalidParameter", "id is invalid.", "id")]
)


async def delete_export(ctx: ServiceContext, request: Request, fault: Fault | None) -> Answer:
    outcome = ctx.exports.delete(request.path_params["id"])
    if outcome == "not_found":
        return Answer(404, EXPORT_NOT_FOUND)
    if outcome == "in_progress":
        return Answer(422, INVALID_DELETE)
    return Answer(204)


# ---- the token endpoint ----


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    return unquote_plus(client_id), unquote_plus(secret)


def token_endpoint(ctx: ServiceContext) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        fault = await take_fault(ctx, FaultRoute.TOKEN, request)
        if fault is not None:
            replaced = _fault_answer(ctx, fault, oauth=True, media_type=JSON_MEDIA_TYPE)
            if replaced is not None:
                return replaced
        no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            answer = Answer(
                400,
                {"error": "invalid_request", "error_description": "the body must be application/x-www-form-urlencoded"},
                no_store,
            )
            return _finish(ctx, answer, fault, JSON_MEDIA_TYPE, exports_in_body=False)
        try:
            form = parse_qs((await request.body()).decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            form = {}
        basic = _basic_credentials(request.headers.get("authorization"))

        def field(name: str) -> str | None:
            values = form.get(name)
            return values[0] if values else None

        client_id, secret = basic if basic is not None else (field("client_id"), field("client_secret"))
        result = ctx.tokens.grant(
            grant_type=field("grant_type"),
            client_id=client_id,
            client_secret=secret,
            scope=field("scope"),
            basic=basic is not None,
        )
        if isinstance(result, TokenGrant):
            payload: dict[str, Any] = {
                "access_token": result.access_token,
                "token_type": "Bearer",
                "expires_in": result.expires_in,
                "scope": result.scope,
            }
            answer = Answer(200, payload, no_store)
        else:
            headers = dict(no_store)
            if result.status == 401:
                headers["WWW-Authenticate"] = 'Basic realm="ims"'
            answer = Answer(result.status, {"error": result.error, "error_description": result.description}, headers)
        return _finish(ctx, answer, fault, JSON_MEDIA_TYPE, exports_in_body=False)

    return endpoint


def api_routes(ctx: ServiceContext) -> list[BaseRoute]:
    list_get = _endpoint(ctx, FaultRoute.GET_EXPORTS, get_exports)
    list_post = _endpoint(ctx, FaultRoute.START_EXPORT, start_export)
    one_get = _endpoint(ctx, FaultRoute.GET_EXPORT, get_export)
    one_delete = _endpoint(ctx, FaultRoute.DELETE_EXPORT, delete_export)

    async def collection(request: Request) -> Response:
        return await (list_post if request.method == "POST" else list_get)(request)  # type: ignore[no-any-return]

    async def item(request: Request) -> Response:
        return await (one_delete if request.method == "DELETE" else one_get)(request)  # type: ignore[no-any-return]

    return [
        Route("/mesh-export", collection, methods=["GET", "POST"]),
        Route("/mesh-export/", collection, methods=["GET", "POST"]),
        Route("/mesh-export/{id}", item, methods=["GET", "DELETE"]),
        Route("/connect/token", token_endpoint(ctx), methods=["POST"]),
    ]


async def http_exception_json(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer in Bentley's error shape, not Starlette's plain text."""
    assert isinstance(exc, HTTPException)
    codes = {
        404: ("ResourceNotFound", "The requested resource does not exist."),
        405: ("MethodNotAllowed", "Method not allowed."),
    }
    code, message = codes.get(exc.status_code, (_STATUS_ERROR_CODES.get(exc.status_code, "Error"), str(exc.detail)))
    return Response(
        _dumps(bentley_error(code, message)),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type=JSON_MEDIA_TYPE,
    )
