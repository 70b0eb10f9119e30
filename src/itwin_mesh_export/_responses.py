"""Reading the API's successful answers: the generated response-parsing half of each operation,
then checks that the result is what the spec promises.

The generated `from_dict` raises KeyError/TypeError/ValueError on a missing field or a body that
is not an object, and accepts a field of the wrong type without a word (`"id": 5`). The overlay
turns the first into `ResponseValidationError` and checks the second here, for the fields callers
rely on, so that no bare exception or mistyped value leaves a public call. Every error carries the
response it is about.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from itwin_mesh_export_generated.models import (
    Export,
    ExportLinks,
    ExportResponse,
    ExportResultBody,
    ExportsPage,
    ExportStatus,
    ExportType,
    Link,
)
from itwin_mesh_export_generated.types import Unset

from ._exceptions import ResponseValidationError
from ._redact import redact_text

__all__ = ["PARSE_ERRORS", "check_export", "export_of", "page_of", "validation_error"]

# What the generated parser (and json.loads under it) raises on a body of the wrong shape.
PARSE_ERRORS: tuple[type[Exception], ...] = (KeyError, TypeError, ValueError, AttributeError, RecursionError)


def validation_error(operation: str, exc: BaseException, response: httpx.Response) -> ResponseValidationError:
    """ResponseValidationError for a 2xx body the generated parser could not read."""
    detail = redact_text(f"{type(exc).__name__}: {exc}")[:300]
    return ResponseValidationError(
        f"{operation} answered {response.status_code} with a body the client cannot read ({detail})", response=response
    )


def _parsed(response: httpx.Response, operation: str, parse: Callable[[httpx.Response], Any], model: Any) -> Any:
    """The generated parser's result; for a 2xx the spec does not list for this operation (a 200
    for Start Export, say), where it returns None, the body read with the same generated model."""
    try:
        parsed = parse(response)
        if parsed is None:
            parsed = model.from_dict(json.loads(response.content))
    except PARSE_ERRORS as exc:
        raise validation_error(operation, exc, response) from exc
    return parsed


def export_of(response: httpx.Response, operation: str, parse: Callable[[httpx.Response], Any]) -> Export:
    """The export of a Get Export or Start Export answer, checked."""
    parsed = _parsed(response, operation, parse, ExportResponse)
    export = parsed.export if isinstance(parsed, ExportResponse) else None
    if not isinstance(export, Export):
        raise ResponseValidationError(f"{operation} answered without an export", response=response)
    return check_export(export, where=operation, response=response)


def page_of(response: httpx.Response, parse: Callable[[httpx.Response], Any]) -> ExportsPage:
    """A Get Exports page."""
    parsed = _parsed(response, "Get Exports", parse, ExportsPage)
    if not isinstance(parsed, ExportsPage):
        raise ResponseValidationError("Get Exports answered without a page of exports", response=response)
    return parsed


def check_export(export: Export, *, where: str, response: httpx.Response | None = None) -> Export:
    """`export` if its fields have the declared types; ResponseValidationError otherwise."""

    def _fail(where: str, what: str) -> ResponseValidationError:
        return ResponseValidationError(f"{where}: {what}", response=response)

    if not isinstance(export.id, str) or not export.id:
        raise _fail(where, "the export has no id string")
    if not isinstance(export.display_name, str):
        raise _fail(where, f"export {export.id} has a displayName that is not a string")
    if not isinstance(export.status, ExportStatus):
        raise _fail(where, f"export {export.id} has no status")
    if not isinstance(export.last_modified, str):
        raise _fail(where, f"export {export.id} has a lastModified that is not a string")
    request = export.request
    if (
        not isinstance(request, ExportResultBody)
        or not isinstance(request.i_model_id, str)
        or not isinstance(request.changeset_id, str)
        or not isinstance(request.export_type, ExportType)
    ):
        raise _fail(where, f"export {export.id} has a request without iModelId, changesetId and exportType strings")
    if not isinstance(export.error, Unset | str):
        raise _fail(where, f"export {export.id} has an error that is not a string")
    links = export.field_links
    if not isinstance(links, Unset):
        if not isinstance(links, ExportLinks):
            raise _fail(where, f"export {export.id} has malformed _links")
        mesh = links.mesh
        if not isinstance(mesh, Unset) and (not isinstance(mesh, Link) or not isinstance(mesh.href, str)):
            raise _fail(where, f"export {export.id} has a _links.mesh without an href string")
    return export
