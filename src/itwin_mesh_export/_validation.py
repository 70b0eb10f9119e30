"""Checks that a parsed 2xx body is what the spec promises.

The generated `from_dict` raises KeyError/TypeError/ValueError on a missing field or a body that
is not an object, and accepts a field of the wrong type without a word (`"id": 5`). The overlay
turns the first into `ResponseValidationError` and checks the second here, for the fields callers
rely on, so that no bare exception or mistyped value leaves a public call.
"""

from __future__ import annotations

import httpx

from itwin_mesh_export_generated.models import Export, ExportLinks, ExportResultBody, ExportStatus, ExportType, Link
from itwin_mesh_export_generated.types import Unset

from ._exceptions import ResponseValidationError
from ._http_client import LAST_RESPONSE, scrub

__all__ = ["PARSE_ERRORS", "check_export", "validation_error"]

# What the generated parser (and json.loads under it) raises on a body of the wrong shape.
PARSE_ERRORS: tuple[type[Exception], ...] = (KeyError, TypeError, ValueError, AttributeError, RecursionError)


def validation_error(operation: str, exc: BaseException) -> ResponseValidationError:
    """ResponseValidationError for a 2xx body the generated parser could not read."""
    response: httpx.Response | None = LAST_RESPONSE.get()
    status = f"{response.status_code} " if response is not None else ""
    detail = scrub(f"{type(exc).__name__}: {exc}")[:300]
    return ResponseValidationError(
        f"{operation} answered {status}with a body the client cannot read ({detail})", response=response
    )


def _fail(where: str, what: str) -> ResponseValidationError:
    return ResponseValidationError(f"{where}: {what}", response=LAST_RESPONSE.get())


def check_export(export: Export, *, where: str) -> Export:
    """`export` if its fields have the declared types; ResponseValidationError otherwise."""
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
