"""Redaction of URLs and headers before they reach a log line, a repr or an exception message.

Export links carry a storage signature in their query string (Azure SAS: `sig`, `se`, `sp`, ...;
a CDN: its own policy parameters). No generic client knows which parameters are secret, so this
works from an allowlist, as azure-core's logging policy does: the query parameters of the Mesh
Export API itself and a few harmless storage ones are kept, every other value becomes REDACTED.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

__all__ = ["REDACTED", "redact_headers", "redact_url"]

REDACTED = "REDACTED"

# Query parameters whose values are never secret: the API's own (openapi/mesh-export.yaml) and
# Azure Blob's listing switches. Compared case-insensitively.
SAFE_QUERY_PARAMETERS = frozenset(
    name.lower()
    for name in (
        "iModelId",
        "changesetId",
        "$top",
        "$skip",
        "$orderBy",
        "cdn",
        "tileVersion",
        "exportType",
        "iTwinJS",
        "restype",
        "comp",
    )
)

SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-ms-copy-source-authorization"}
)


def redact_url(url: str) -> str:
    """The URL with credentials removed: userinfo dropped, every query value outside the
    allowlist replaced by REDACTED. Never raises; an unparsable URL is reduced to a placeholder."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return f"<unparsable URL, {REDACTED}>"
    netloc = f"[{host}]{port}" if ":" in host else f"{host}{port}"
    query = "&".join(
        f"{quote(key, safe='$')}={quote(value, safe=':') if key.lower() in SAFE_QUERY_PARAMETERS else REDACTED}"
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    # A fragment may carry a token too (implicit OAuth flows): drop it.
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """A copy of the headers with credential values replaced by REDACTED."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {name: (REDACTED if name.lower() in SENSITIVE_HEADERS else value) for name, value in items}
