"""Every error the package raises, and the one place an HTTP status becomes an exception class.

The generated client returns documented error bodies as values and crashes on non-IANA statuses;
the overlay decides on the status code instead, with `make_status_error`, before the generated
parser runs. The tree, as users catch it:

    MeshExportError
    ├── InvalidArgumentError            a caller passed a value the API cannot take (also a ValueError)
    ├── APIError                        talking to the Mesh Export API (or the token endpoint) failed
    │   ├── APIStatusError              the server answered with an error status
    │   │   ├── BadRequestError             400
    │   │   ├── AuthenticationError         401 (after one replay with a fresh token)
    │   │   ├── PermissionDeniedError       403
    │   │   ├── NotFoundError               404
    │   │   ├── ConflictError               409
    │   │   ├── UnprocessableEntityError    422, with `details`
    │   │   ├── RateLimitError              429, with `retry_after_s`
    │   │   └── InternalServerError         5xx (and any status >= 500, such as 520)
    │   ├── APIConnectionError          no response: refused, reset, DNS, TLS
    │   │   └── APITimeoutError             no response in time
    │   └── ResponseValidationError     a 2xx body that is not JSON or lacks what the spec requires
    ├── ExportFailedError               the export ended Invalid; carries the export's error text
    ├── WaitTimeoutError                the export did not finish before the deadline
    └── DownloadError                   fetching the produced files failed
        ├── ExportNotCompleteError          the export has no files to download yet (not Complete)
        ├── UnsafeTilesetError              a tileset URI escapes the target or names another host
        ├── InvalidTilesetError             a tileset (or glTF) file is not JSON of the expected shape
        ├── StorageError                    the storage answered an error status (signature, missing blob)
        │   └── LinkExpiredError                the storage refused the link's signature (expired)
        └── IncompleteDownloadError         files the tileset references are missing on disk

No message, repr or attribute built here holds a token or a signature: URLs go through
`redact_url` first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from ._logging import request_id
from ._redact import redact_url

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "DownloadError",
    "ErrorDetail",
    "ExportFailedError",
    "ExportNotCompleteError",
    "IncompleteDownloadError",
    "InternalServerError",
    "InvalidArgumentError",
    "InvalidTilesetError",
    "LinkExpiredError",
    "MeshExportError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "StorageError",
    "UnprocessableEntityError",
    "UnsafeTilesetError",
    "WaitTimeoutError",
    "make_status_error",
]

# Longest piece of a non-JSON error body (an HTML page, say) quoted in a message.
_BODY_EXCERPT_CHARS = 200


class MeshExportError(Exception):
    """Base class of every error this package raises."""


class InvalidArgumentError(MeshExportError, ValueError):
    """A caller passed a value the API cannot take (an empty export id, a page size below 1...)."""


class APIError(MeshExportError):
    """A request to the API (or to the token endpoint) failed. `method` and `url` are redacted."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.method = request.method if request is not None else None
        self.url = redact_url(str(request.url)) if request is not None else None


class ErrorDetail:
    """One entry of a Bentley error body's `details`: a more specific error."""

    __slots__ = ("code", "message", "target")

    def __init__(self, code: str | None, message: str | None, target: str | None) -> None:
        self.code = code
        self.message = message
        self.target = target

    def __repr__(self) -> str:
        return f"ErrorDetail(code={self.code!r}, message={self.message!r}, target={self.target!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ErrorDetail):
            return NotImplemented
        return (self.code, self.message, self.target) == (other.code, other.message, other.target)

    __hash__ = None  # type: ignore[assignment]


class APIStatusError(APIError):
    """The server answered with an error status. Bentley's `{"error": {...}}` body, when there is
    one, is parsed into `code`, `error_message`, `target` and `details`; `body` keeps the raw text."""

    status_code: int

    def __init__(self, message: str, *, response: httpx.Response, body: str) -> None:
        super().__init__(message, request=response.request if _has_request(response) else None)
        self.response = response
        self.status_code = response.status_code
        self.headers = response.headers
        self.body = body
        self.request_id = request_id(response.headers)
        error = _bentley_error(body)
        self.code: str | None = _str_or_none(error.get("code"))
        self.error_message: str | None = _str_or_none(error.get("message"))
        self.target: str | None = _str_or_none(error.get("target"))
        raw_details = error.get("details")
        self.details: Sequence[ErrorDetail] = (
            [
                ErrorDetail(_str_or_none(d.get("code")), _str_or_none(d.get("message")), _str_or_none(d.get("target")))
                for d in raw_details
                if isinstance(d, Mapping)
            ]
            if isinstance(raw_details, list)
            else []
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, code={self.code!r}, request_id={self.request_id!r})"
        )


class BadRequestError(APIStatusError):
    """400: the API refused the request as malformed."""

    status_code = 400


class AuthenticationError(APIStatusError):
    """401: the token was refused, after one replay with a fresh token where the provider has one
    (or the token endpoint refused the client's credentials)."""

    status_code = 401


class PermissionDeniedError(APIStatusError):
    """403: the caller may not do this (no access to the iTwin or the iModel)."""

    status_code = 403


class NotFoundError(APIStatusError):
    """404: no such export (or iModel)."""

    status_code = 404


class ConflictError(APIStatusError):
    """409: the request conflicts with the export's current state."""

    status_code = 409


class UnprocessableEntityError(APIStatusError):
    """422: the request was understood but refused; `details` says which parameter and why."""

    status_code = 422


class RateLimitError(APIStatusError):
    """429. `retry_after_s` is the server's hint in seconds (from seconds or an HTTP date), or None."""

    status_code = 429

    def __init__(self, message: str, *, response: httpx.Response, body: str, retry_after_s: float | None) -> None:
        super().__init__(message, response=response, body=body)
        self.retry_after_s = retry_after_s


class InternalServerError(APIStatusError):
    """Any status from 500 up, including non-standard ones such as 520."""


class APIConnectionError(APIError):
    """No response arrived: connection refused or reset, DNS or TLS failure."""


class APITimeoutError(APIConnectionError):
    """No response arrived in time."""


class ResponseValidationError(APIError):
    """A successful response whose body is not JSON, or lacks what the spec requires."""

    def __init__(self, message: str, *, response: httpx.Response | None = None) -> None:
        super().__init__(message, request=response.request if response is not None and _has_request(response) else None)
        self.response = response
        self.status_code = response.status_code if response is not None else None


class ExportFailedError(MeshExportError):
    """The export ended with status Invalid. `error` is the export's own error text."""

    def __init__(self, export_id: str, error: str | None, export: Any = None) -> None:
        detail = f": {error}" if error else " (the service gave no error text)"
        super().__init__(f"export {export_id} failed{detail}")
        self.export_id = export_id
        self.error = error
        self.export = export


class WaitTimeoutError(MeshExportError):
    """The export did not reach Complete or Invalid before the deadline."""

    def __init__(self, export_id: str, *, waited_s: float, last_status: str | None) -> None:
        super().__init__(f"export {export_id} still {last_status or 'unknown'} after waiting {waited_s:.1f} s")
        self.export_id = export_id
        self.waited_s = waited_s
        self.last_status = last_status


class DownloadError(MeshExportError):
    """Fetching the files an export produced failed."""


class ExportNotCompleteError(DownloadError):
    """`download_export` was given an export that has no files yet: its status is NotStarted,
    InProgress or one this version does not know (`status`), or it is Complete but the API sent
    no `_links.mesh` (`status` is then "Complete"). Wait for it first (`wait_for_export`). An
    export that ended Invalid raises ExportFailedError instead."""

    def __init__(self, export_id: str, status: str) -> None:
        if status == "Complete":
            message = f"export {export_id} is Complete but the API gave no link to its files"
        else:
            message = f"export {export_id} is {status}, not Complete: it has no files to download yet"
        super().__init__(message)
        self.export_id = export_id
        self.status = status


class UnsafeTilesetError(DownloadError):
    """A tileset names a URI that would escape the target directory, use another scheme, or reach
    another host. Nothing is fetched from it."""

    def __init__(self, message: str, *, uri: str) -> None:
        super().__init__(message)
        self.uri = redact_url(uri)


class InvalidTilesetError(DownloadError):
    """A tileset (or glTF) file the download must read is not JSON of the expected shape, or uses a
    feature the downloader cannot follow (implicit tiling). `path` is the file's path in the export."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class StorageError(DownloadError):
    """The storage host answered an error status, or could not be reached after the retries.
    `url` is redacted; `error_code` is the storage's own code (Azure's `x-ms-error-code`), if any."""

    def __init__(self, message: str, *, status_code: int | None, url: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.url = redact_url(url)
        self.error_code = error_code


class LinkExpiredError(StorageError):
    """The storage refused the link's signature (401/403, Azure `AuthenticationFailed`): it expired
    or was revoked, and no fresh link could be had (no `refresh_href`, or the fresh one was refused too)."""


class IncompleteDownloadError(DownloadError):
    """The completeness check found files the tileset references that are not on disk (or, from
    `verify_download`, files that differ from the manifest). `missing` lists their paths; the
    message names the first ten."""

    def __init__(self, message: str, *, missing: Sequence[str]) -> None:
        self.missing = list(missing)
        shown = ", ".join(self.missing[:10]) + (" ..." if len(self.missing) > 10 else "")
        super().__init__(f"{message}: {shown}" if shown else message)


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
}


def make_status_error(response: httpx.Response, *, retry_after_s: float | None = None) -> APIStatusError:
    """The exception for an error response: the one status -> class table of the package.

    The body must already be read. Works for any status, documented or not, and any body: JSON
    in Bentley's shape, other JSON, HTML, or nothing.
    """
    body = _body_text(response)
    message = _message(response, body)
    status = response.status_code
    if status == 429:
        return RateLimitError(message, response=response, body=body, retry_after_s=retry_after_s)
    cls = _STATUS_CLASSES.get(status)
    if cls is None:
        cls = InternalServerError if status >= 500 else APIStatusError
    return cls(message, response=response, body=body)


def _message(response: httpx.Response, body: str) -> str:
    error = _bentley_error(body)
    code, text = _str_or_none(error.get("code")), _str_or_none(error.get("message"))
    status = f"{response.status_code} {response.reason_phrase}".rstrip()
    where = ""
    if _has_request(response):
        where = f" for {response.request.method} {redact_url(str(response.request.url))}"
    if code or text:
        return f"{status}{where}: {code or 'error'}: {text or ''}".rstrip(": ")
    excerpt = " ".join(body.split())[:_BODY_EXCERPT_CHARS]
    content_type = response.headers.get("content-type", "no content type")
    if not excerpt:
        return f"{status}{where} (empty body)"
    return f"{status}{where} ({content_type}): {excerpt}"


def _bentley_error(body: str) -> Mapping[str, Any]:
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return {}
    if isinstance(data, Mapping) and isinstance(data.get("error"), Mapping):
        error: Mapping[str, Any] = data["error"]
        return error
    # The token endpoint (Bentley IMS) answers in OAuth2's shape (RFC 6749, 5.2):
    # {"error": "invalid_client", "error_description": "..."}.
    if isinstance(data, Mapping) and isinstance(data.get("error"), str):
        return {"code": data["error"], "message": data.get("error_description")}
    return {}


def _body_text(response: httpx.Response) -> str:
    try:
        return response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError, LookupError):
        return ""


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _has_request(response: httpx.Response) -> bool:
    try:
        response.request  # noqa: B018 - httpx raises RuntimeError when a response has no request
    except RuntimeError:
        return False
    return True
