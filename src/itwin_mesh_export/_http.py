"""HTTP pieces the API clients and the download engine share, and neither owns: the rule for which
URLs may carry credentials, the server's wait hint, httpx clients without a cookie jar, and the one
place where an httpx failure or an error status becomes this package's exception.

Nothing here knows the Mesh Export API or the tileset: `download/` imports this module, never the
API client's modules.
"""

from __future__ import annotations

import email.utils
import ipaddress
import math
import platform
import time
from collections.abc import Mapping
from datetime import UTC
from http.cookiejar import Cookie, CookieJar
from typing import Any

import httpx

from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidArgumentError,
    ResponseValidationError,
    make_status_error,
)
from ._redact import REDACTED, redact_text, redact_url
from ._version import __version__

__all__ = [
    "ACCEPT",
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "CookielessAsyncClient",
    "CookielessClient",
    "check_secure_url",
    "connection_error",
    "is_loopback_host",
    "retry_after_s",
    "status_error",
]

# Identifies this client in Bentley's logs, as openai-python's `OpenAI/Python x.y` does.
USER_AGENT = f"itwin-mesh-export/{__version__} python/{platform.python_version()}"
# Never None (httpx's None means "wait forever"): 5 s to connect, 30 s for everything else. The
# API clients' default and the token endpoint's.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# The media type of every Mesh Export response (Bentley marks the Accept header as required).
ACCEPT = "application/vnd.bentley.itwin-platform.v1+json"


# -- which URLs may carry credentials ---------------------------------------------------------


def is_loopback_host(host: str) -> bool:
    """True for `localhost`, `*.localhost` (RFC 6761) and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_secure_url(url: object, *, what: str) -> str:
    """`url` if it is an absolute https URL (or http to a loopback host) without credentials in its
    authority; InvalidArgumentError otherwise. Credentials (a token, a client secret, a storage
    signature) never go over plain http to another machine. The one rule for the API's base URL,
    the token endpoint and the storage link."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidArgumentError(f"{what} must be a non-empty URL string, got {type(url).__name__}")
    try:
        parsed = httpx.URL(url.strip())
        host = parsed.host
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise InvalidArgumentError(f"{what} is not a valid URL: {redact_url(url)}") from exc
    if parsed.scheme not in ("https", "http") or not host:
        raise InvalidArgumentError(f"{what} must be an absolute http(s) URL, got {redact_url(url)}")
    if parsed.userinfo:
        raise InvalidArgumentError(f"{what} must not carry credentials in the URL")
    if parsed.scheme == "http" and not is_loopback_host(host):
        raise InvalidArgumentError(
            f"refusing plain http for {what} {redact_url(url)}: credentials go over https only "
            "(http is allowed for loopback hosts such as localhost)"
        )
    return url.strip()


# -- the server's wait hint -------------------------------------------------------------------


def retry_after_s(headers: Mapping[str, str], now_epoch_s: float) -> float | None:
    """The server's wait hint in seconds: `retry-after-ms`, else `Retry-After` as seconds or as an
    HTTP date (relative to `now_epoch_s`). None when absent or unreadable; never negative.

    A negative number of seconds is unreadable (RFC 9110's delay-seconds are digits only, though
    the spec's `type: integer` allows one, and Prism sends them): the backoff applies, where
    reading it as 0 would retry at once against a server that is rate limiting. A date in the
    past is readable and means now."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        value = _finite_float(millis)
        if value is not None and value >= 0:
            return value / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    seconds = _finite_float(raw)
    if seconds is not None:
        return seconds if seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now_epoch_s)


def _finite_float(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# -- outcomes as exceptions -------------------------------------------------------------------


def status_error(response: httpx.Response) -> APIStatusError:
    """The typed error for a non-2xx response whose body has been read."""
    return make_status_error(response, retry_after_s=retry_after_s(response.headers, time.time()))


def connection_error(exc: httpx.HTTPError, request: httpx.Request) -> APIConnectionError | ResponseValidationError:
    """The typed error for an httpx exception raised while sending `request`, its URL redacted."""
    where = f"{request.method} {redact_url(str(request.url))}"
    query = request.url.query.decode("ascii", "replace")
    detail = redact_text(str(exc))
    if query:
        detail = detail.replace(query, REDACTED)
    detail = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"no response in time for {where} ({detail})", request=request)
    if isinstance(exc, httpx.DecodingError):
        return ResponseValidationError(f"the response body of {where} could not be decoded ({detail})")
    return APIConnectionError(f"could not get a response for {where} ({detail})", request=request)


# -- clients without cookies ------------------------------------------------------------------


class _NoCookieJar(CookieJar):
    """A cookie jar that drops every cookie put in it, whichever way (`set`, `update`, `[...] =`)."""

    def set_cookie(self, cookie: Cookie) -> None:
        return None

    def set_cookie_if_ok(self, cookie: Cookie, request: Any) -> None:
        return None


class _IgnoredCookies(httpx.Cookies):
    """Cookies that keep nothing: one instance serves every client, since it can never hold a
    cookie of one client to send for another. Neither the API (a bearer token) nor the storage (a
    signed URL) uses cookies, and httpx's cookie extraction costs ~15 us of CPU per response."""

    def __init__(self) -> None:
        super().__init__(_NoCookieJar())

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _WithoutCookies:
    """Mixed into an httpx client, before it: `cookies` is one jar that keeps nothing, and setting
    it (httpx's constructor does) changes nothing."""

    _ignored_cookies = _IgnoredCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._ignored_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        """Cookies are not used: ignored."""


class CookielessClient(_WithoutCookies, httpx.Client):
    """httpx.Client that neither stores nor sends cookies."""


class CookielessAsyncClient(_WithoutCookies, httpx.AsyncClient):
    """httpx.AsyncClient that neither stores nor sends cookies."""
