"""Redaction of the request URLs in httpx's own log line, which shows a storage link's signature.

httpx logs every request at INFO on the `httpx` logger as `HTTP Request: GET <full URL> ...`,
and offers no switch to leave the query out. A filter on that logger passes each URL argument
through `redact_url` before any handler formats it; it changes nothing else, and is installed
once per process.
"""

from __future__ import annotations

import logging

import httpx

from ._redact import redact_url

__all__ = ["RedactHttpxUrls", "install_httpx_log_redaction"]

HTTPX_LOGGER_NAME = "httpx"


class RedactHttpxUrls(logging.Filter):
    """Replace every httpx.URL among a record's arguments by its redacted text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(arg, httpx.URL) for arg in record.args):
            record.args = tuple(redact_url(str(arg)) if isinstance(arg, httpx.URL) else arg for arg in record.args)
        return True


def install_httpx_log_redaction() -> None:
    httpx_logger = logging.getLogger(HTTPX_LOGGER_NAME)
    if not any(isinstance(existing, RedactHttpxUrls) for existing in httpx_logger.filters):
        httpx_logger.addFilter(RedactHttpxUrls())
