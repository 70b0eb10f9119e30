"""Redaction of URLs before they reach a log line, a repr or an exception message.

Export links carry a storage signature in their query string (Azure SAS: `sig`, `se`, `sp`, ...;
a CDN: its own policy parameters). No generic client knows which parameters are secret, so this
works from an allowlist, as azure-core's logging policy does: the query parameters of the Mesh
Export API itself and a few harmless storage ones are kept, every other value becomes REDACTED.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

__all__ = ["REDACTED", "redact_text", "redact_url"]

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
    query = "&".join(_redact_segment(segment) for segment in parts.query.split("&") if segment)
    # A fragment may carry a token too (implicit OAuth flows): drop it.
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


_URL_IN_TEXT = re.compile(r"https?://[^\s'\"<>]+")


def redact_text(text: str) -> str:
    """`text` with every URL in it redacted (an exception message from a library, say)."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


def _redact_segment(segment: str) -> str:
    if "=" not in segment:  # a bare token (`?<signature>`): the name itself may be the secret
        return REDACTED
    pairs = parse_qsl(segment, keep_blank_values=True)
    if len(pairs) != 1:  # `;`-separated or otherwise odd: nothing of it is shown
        return REDACTED
    key, value = pairs[0]
    return f"{quote(key, safe='$')}={quote(value, safe=':') if key.lower() in SAFE_QUERY_PARAMETERS else REDACTED}"
