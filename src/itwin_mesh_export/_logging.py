"""One log line per HTTP attempt and one per retry, on the `itwin_mesh_export` logger.

The generated client logs nothing, and httpx's own request log shows the raw URL (a storage
signature included) without the attempt number or the reason for a retry. This module adds both,
with every URL passed through `redact_url` first, and formats nothing unless the level is enabled.

Set `ITWIN_MESH_EXPORT_LOG=debug` (every attempt) or `=info` (retries and warnings) to get a
stderr handler without writing logging configuration, as `OPENAI_LOG` does for openai-python.

httpx itself logs every request at INFO on the `httpx` logger as `HTTP Request: GET <full URL>`,
a storage link's signature included, and offers no switch to leave the query out: a filter on that
logger (`install_httpx_log_redaction`, installed once per process by the download engine) passes
each URL argument through `redact_url` before any handler formats it, and changes nothing else.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import httpx

from ._redact import redact_url

__all__ = [
    "LOGGER_NAME",
    "LOG_ENV_VAR",
    "RedactHttpxUrls",
    "install_httpx_log_redaction",
    "log_attempt",
    "log_retry",
    "logger",
    "request_id",
    "setup_logging_from_env",
]

LOGGER_NAME = "itwin_mesh_export"
LOG_ENV_VAR = "ITWIN_MESH_EXPORT_LOG"
# Response headers that identify a request in Bentley's and Azure's logs, first non-empty one wins.
_REQUEST_ID_HEADERS = ("x-correlation-id", "x-request-id", "request-id", "x-ms-request-id")

logger = logging.getLogger(LOGGER_NAME)
_DEBUG = logging.DEBUG
_INFO = logging.INFO


def log_attempt(
    request: httpx.Request,
    attempt: int,
    elapsed_s: float,
    *,
    response: httpx.Response | None = None,
    error: BaseException | None = None,
) -> None:
    """DEBUG: `GET https://host/path?$top=5 -> 200 (attempt 1, 12 ms, request id ...)`."""
    if not logger.isEnabledFor(_DEBUG):
        return
    url = redact_url(str(request.url))
    if response is not None:
        outcome: str = str(response.status_code)
        rid = request_id(response.headers)
    else:
        outcome = type(error).__name__ if error is not None else "no response"
        rid = None
    logger.debug(
        "%s %s -> %s (attempt %d, %.0f ms%s)",
        request.method,
        url,
        outcome,
        attempt,
        elapsed_s * 1000.0,
        f", request id {rid}" if rid else "",
        extra={
            "http_method": request.method,
            "url": url,
            "status_code": response.status_code if response is not None else None,
            "attempt": attempt,
            "elapsed_s": elapsed_s,
            "request_id": rid,
        },
    )


def log_retry(request: httpx.Request, attempt: int, max_attempts: int, delay_s: float, reason: str) -> None:
    """INFO: `retrying GET https://host/path in 1.20 s after 503 (attempt 2 of 3)`."""
    if not logger.isEnabledFor(_INFO):
        return
    url = redact_url(str(request.url))
    logger.info(
        "retrying %s %s in %.2f s after %s (attempt %d of %d)",
        request.method,
        url,
        delay_s,
        reason,
        attempt + 1,
        max_attempts,
        extra={"http_method": request.method, "url": url, "attempt": attempt + 1, "delay_s": delay_s, "reason": reason},
    )


def request_id(headers: httpx.Headers) -> str | None:
    """The request id a response carries (for support tickets), or None."""
    for name in _REQUEST_ID_HEADERS:
        value: str | None = headers.get(name)
        if value:
            return value
    return None


class RedactHttpxUrls(logging.Filter):
    """Replace every httpx.URL among a record's arguments by its redacted text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(arg, httpx.URL) for arg in record.args):
            record.args = tuple(redact_url(str(arg)) if isinstance(arg, httpx.URL) else arg for arg in record.args)
        return True


def install_httpx_log_redaction() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(existing, RedactHttpxUrls) for existing in httpx_logger.filters):
        httpx_logger.addFilter(RedactHttpxUrls())


_configured_from_env = False


def setup_logging_from_env(environ: Mapping[str, str] | None = None) -> None:
    """Give the package logger a stderr handler when `ITWIN_MESH_EXPORT_LOG` is `debug` or `info`.

    Does nothing otherwise (the application's logging configuration rules), and adds the handler
    at most once per process.
    """
    global _configured_from_env
    value = (environ if environ is not None else os.environ).get(LOG_ENV_VAR, "").strip().lower()
    level = {"debug": logging.DEBUG, "info": logging.INFO}.get(value)
    if level is None or _configured_from_env:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(asctime)s %(levelname)s %(name)s] %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    _configured_from_env = True


setup_logging_from_env()
