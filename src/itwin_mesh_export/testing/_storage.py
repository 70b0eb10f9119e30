"""The storage origins: an Azure-Blob-like container and a CloudFront-like CDN, serving export files.

Blob: `GET|HEAD {storage_origin}/{container}/{export_id}/{path}?{SAS}`.
CDN:  `GET|HEAD {cdn_origin}/mesh-export/{export_id}/{path}?Expires=..&Key-Pair-Id=..&Signature=..`.

A missing, wrong or expired signature gets 403 as each service answers it: Azure's XML `<Error>`
with `AuthenticationFailed` (and the `x-ms-error-code` header), CloudFront's `AccessDenied` /
`MissingKey`. The API's bearer token opens nothing here: every Authorization header is recorded
(`ServiceContext.storage_authorization_headers`) and, unless configured otherwise, refused with
403. An export that is unknown, deleted or not Complete has no files (404 `BlobNotFound`).

Range requests are written out here rather than borrowed: Starlette's range support lives in
`FileResponse` and needs a file on disk, and these files are generated. Supported: one range
(`bytes=a-b`, `bytes=a-`, `bytes=-n`, also as `x-ms-range`) -> 206 with Content-Range; an
unsatisfiable one -> 416 with `Content-Range: bytes */size`; several ranges or a malformed header
-> the whole file (RFC 9110 allows ignoring Range); `If-Range` (ETag or date), `If-None-Match`
(304), `If-Match` (412). Every file has a strong, stable ETag and a Last-Modified date.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._api import retry_after_value, shared_fault_answer, status_phrase, take_fault
from ._context import ServiceContext
from ._exports import COMPLETE, ExportView
from ._faults import Fault, FaultKind
from ._faults import Route as FaultRoute
from ._responses import BodyResponse
from ._signing import SAS_VERSION, SignatureProblem, http_date

__all__ = ["blob_routes", "cdn_routes", "storage_http_exception"]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_AZURE_MESSAGES = {
    "AuthenticationFailed": (
        "Server failed to authenticate the request. Make sure the value of Authorization header is formed "
        "correctly including the signature."
    ),
    "BlobNotFound": "The specified blob does not exist.",
    "ResourceNotFound": "The specified resource does not exist.",
    "InvalidRange": "The range specified is invalid for the current size of the resource.",
    "ConditionNotMet": "The condition specified using HTTP conditional header(s) is not met.",
    "ServerBusy": "The server is busy.",
    "InternalError": "Server encountered an internal error. Please try again after some time.",
    "OperationTimedOut": "Operation could not be completed within the specified time.",
    "TooManyRequests": "The request was throttled.",
    "UnsupportedHttpVerb": "The resource doesn't support specified Http Verb.",
}
_AZURE_STATUS_CODES = {
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServerBusy",
    504: "OperationTimedOut",
    405: "UnsupportedHttpVerb",
}
_CDN_MESSAGES = {"AccessDenied": "Access denied", "NoSuchKey": "The specified key does not exist."}


class Origin:
    """What differs between the blob and the CDN origin: names, URL shape, errors, headers."""

    def __init__(self, ctx: ServiceContext, *, cdn: bool) -> None:
        self.ctx = ctx
        self.cdn = cdn
        self.route = FaultRoute.CDN if cdn else FaultRoute.STORAGE

    def error(
        self, status: int, code: str, detail: str | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        all_headers = dict(headers or {})
        if self.cdn:
            message = _CDN_MESSAGES.get(code, status_phrase(status))
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            )
            all_headers.update({"Server": "CloudFront", "X-Cache": "Error from cloudfront"})
        else:
            request_id = str(uuid.uuid4())
            message = _AZURE_MESSAGES.get(code, status_phrase(status))
            message += f"\nRequestId:{request_id}\nTime:{_azure_time(self.ctx.clock.now())}"
            extra = f"<AuthenticationErrorDetail>{escape(detail)}</AuthenticationErrorDetail>" if detail else ""
            body = (
                '<?xml version="1.0" encoding="utf-8"?>'
                f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>{extra}</Error>"
            )
            all_headers.update(
                {
                    "x-ms-error-code": code,
                    "x-ms-request-id": request_id,
                    "x-ms-version": SAS_VERSION,
                    "Server": "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0",
                }
            )
        return Response(body.encode(), status_code=status, headers=all_headers, media_type="application/xml")

    def refused(self, problem: SignatureProblem) -> Response:
        return self.error(403, problem.code, None if self.cdn else problem.detail)

    def check_signature(self, export_id: str, request: Request) -> SignatureProblem | None:
        params = parse_qs(request.url.query, keep_blank_values=True)
        now = self.ctx.clock.now()
        if self.cdn:
            return self.ctx.signer.check_cdn(export_id, params, now)
        return self.ctx.signer.check_blob(export_id, params, now)

    def expired(self) -> SignatureProblem:
        if self.cdn:
            return SignatureProblem("AccessDenied", "Access denied")
        now = self.ctx.clock.now()
        return self.ctx.signer.blob_expired(now - 60, now)

    def fault_answer(self, fault: Fault) -> Response | None:
        if fault.kind is FaultKind.RATE_LIMIT:
            return self.error(429, "TooManyRequests", headers={"Retry-After": retry_after_value(self.ctx, fault)})
        if fault.kind is FaultKind.STATUS:
            assert fault.status is not None
            if fault.body is not None:
                return Response(fault.body.encode(), status_code=fault.status, media_type="application/xml")
            return self.error(
                fault.status, _AZURE_STATUS_CODES.get(fault.status, status_phrase(fault.status).replace(" ", ""))
            )
        if fault.kind is FaultKind.EXPIRED_SIGNATURE:
            return self.refused(self.expired())
        return shared_fault_answer(fault, empty_media_type="application/octet-stream")

    def file_headers(self, view: ExportView) -> dict[str, str]:
        headers = {"Accept-Ranges": "bytes", "Last-Modified": http_date(view.last_modified_s)}
        if self.cdn:
            headers.update(
                {
                    "Server": "AmazonS3",
                    "X-Cache": "Miss from cloudfront",
                    "Via": "1.1 local.cloudfront.net (CloudFront)",
                }
            )
        else:
            headers.update(
                {
                    "x-ms-request-id": str(uuid.uuid4()),
                    "x-ms-version": SAS_VERSION,
                    "x-ms-blob-type": "BlockBlob",
                    "Server": "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0",
                }
            )
        return headers


def _azure_time(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end exclusive) for one satisfiable range; None to send everything; "unsatisfiable"."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None  # malformed or several ranges: ignored
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return (max(0, size - suffix), size)
    start = int(first)
    if last and int(last) < start:
        return None  # an invalid range spec: ignored, as RFC 9110 says
    if start >= size:
        return "unsatisfiable"
    end = size if not last else min(int(last) + 1, size)
    return (start, end)


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [c.strip() for c in header.split(",")]
    return "*" in candidates or etag in candidates or f"W/{etag}" in candidates


def _file_endpoint(origin: Origin) -> Callable[[Request], Any]:
    ctx = origin.ctx

    async def endpoint(request: Request) -> Response:
        export_id = request.path_params["export_id"]
        path = request.path_params["path"]
        fault = await take_fault(ctx, origin.route, request)
        if fault is not None:
            replaced = origin.fault_answer(fault)
            if replaced is not None:
                return replaced
        if "authorization" in request.headers and ctx.config.storage_rejects_authorization:
            return origin.refused(
                SignatureProblem("AuthenticationFailed", "An Authorization header is not accepted with a SAS.")
            )
        if not origin.cdn and request.path_params.get("container") != ctx.config.container:
            # The signature covers the container too: a wrong one cannot match.
            problem: SignatureProblem | None = SignatureProblem(
                "AuthenticationFailed", "Signature did not match (the container is not the one signed)."
            )
        else:
            problem = origin.check_signature(export_id, request)
        if problem is not None:
            return origin.refused(problem)
        view = ctx.exports.view(export_id)
        not_found = "NoSuchKey" if origin.cdn else "BlobNotFound"
        if view is None or view.status != COMPLETE:
            return origin.error(404, not_found)
        files = view.record.files()
        info = files.info(path)
        if info is None:
            return origin.error(404, not_found)
        etag = files.etag(path)
        headers = origin.file_headers(view)
        headers["ETag"] = etag
        if_match = request.headers.get("if-match")
        if if_match is not None and not _etag_matches(if_match, etag):
            return origin.error(412, "ConditionNotMet", headers={"ETag": etag})
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None and _etag_matches(if_none_match, etag):
            return Response(status_code=304, headers={"ETag": etag, "Last-Modified": headers["Last-Modified"]})
        range_header = request.headers.get("x-ms-range") or request.headers.get("range")
        if_range = request.headers.get("if-range")
        if range_header is not None and if_range is not None:
            if_range = if_range.strip()
            if if_range.startswith('"') or if_range.startswith("W/"):
                if if_range != etag:  # If-Range needs a strong match
                    range_header = None
            elif if_range != headers["Last-Modified"]:
                range_header = None
        wanted = parse_range(range_header, info.size)
        if wanted == "unsatisfiable":
            return origin.error(416, "InvalidRange", headers={"Content-Range": f"bytes */{info.size}"})
        status, start, end = 200, 0, info.size
        if isinstance(wanted, tuple):
            status, (start, end) = 206, wanted
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{info.size}"
        if fault is None and end - start <= ctx.config.chunk_size:
            # Small and unfaulted (a tile, a tileset): one plain response, no streaming machinery.
            body = b"" if request.method == "HEAD" else files.read(path, start, end)
            headers["Content-Length"] = str(end - start)
            return Response(body, status_code=status, headers=headers, media_type=info.media_type)
        return BodyResponse(
            files.iter_bytes(path, start, end, ctx.config.chunk_size),
            length=end - start,
            status_code=status,
            headers=headers,
            media_type=info.media_type,
            fault=fault,
            connections=ctx.connections,
        )

    return endpoint


def blob_routes(ctx: ServiceContext) -> list[BaseRoute]:
    endpoint = _file_endpoint(Origin(ctx, cdn=False))
    return [Route("/{container}/{export_id}/{path:path}", endpoint, methods=["GET", "HEAD"])]


def cdn_routes(ctx: ServiceContext) -> list[BaseRoute]:
    endpoint = _file_endpoint(Origin(ctx, cdn=True))
    return [Route("/mesh-export/{export_id}/{path:path}", endpoint, methods=["GET", "HEAD"])]


def storage_http_exception(ctx: ServiceContext, *, cdn: bool) -> Callable[[Request, Exception], Any]:
    """404 / 405 outside the file routes, in the origin's XML error shape."""
    origin = Origin(ctx, cdn=cdn)

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return origin.error(405, "UnsupportedHttpVerb", headers=dict(exc.headers or {}))
        return origin.error(exc.status_code, "NoSuchKey" if cdn else "ResourceNotFound")

    return handler
