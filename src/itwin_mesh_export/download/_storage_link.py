"""The export's storage link (`_links.mesh.href`) and the one rule for turning a tileset's URIs
into files: what may be fetched, from where, and under which local path.

A Complete export's href is a container folder whose query string is a signature. Files are named
by their path relative to that folder (`tiles/0/1.glb`), decoded and normalised; the URL of a file
is always rebuilt from the current link (base path + encoded relative path + signature query), so
a refreshed link changes every later request and nothing else. `resolve_reference` is the safety
gate: a tileset URI is accepted only when it is relative, stays inside the folder, and maps to a
plain file name on every common file system. It runs before anything is fetched from the URI.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote_to_bytes, urlsplit

from .._exceptions import InvalidArgumentError, UnsafeTilesetError
from .._http import check_secure_url
from .._redact import redact_url

__all__ = [
    "MANIFEST_NAME",
    "ROOT_TILESET",
    "STATE_DIR_NAME",
    "StorageLink",
    "path_problem",
    "resolve_reference",
]

# The root tileset's name inside the export folder (Bentley: `{href path}/tileset.json?{query}`).
ROOT_TILESET = "tileset.json"
# Names the downloader itself writes in the target directory; a tileset naming them is refused.
MANIFEST_NAME = "itwin-mesh-export.manifest.json"
STATE_DIR_NAME = ".itwin-mesh-export"
# The manifest's temporary name while it is written (`_manifest.write_manifest`).
MANIFEST_TEMPORARY_NAME = f".{MANIFEST_NAME}.tmp"
# Compared casefolded: on a case-insensitive disk (Windows, macOS) `.ITWIN-MESH-EXPORT` is the same
# directory as the state directory.
_RESERVED_TOP_NAMES = frozenset(name.casefold() for name in (STATE_DIR_NAME, MANIFEST_NAME, MANIFEST_TEMPORARY_NAME))

# Longest file name (bytes) and relative path (bytes) accepted: common file-system limits.
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024
# Characters kept literal when a path segment is put back into a URL (RFC 3986 pchar minus "%").
_SEGMENT_SAFE = "!$&'()*+,;=:@~"
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
# Characters Windows refuses in a file name (":" would name a drive or an alternate data stream).
_WINDOWS_INVALID = re.compile(r'[<>:"|?*]')
# Device names Windows opens instead of a file, whatever the extension (checked on Windows only).
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"COM{i}" for i in range(1, 10)] + [f"LPT{i}" for i in range(1, 10)]
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class StorageLink:
    """A parsed storage href. `generation` counts refreshes (0 is the caller's link). The repr and
    `source` never show the signature."""

    scheme: str
    netloc: str
    base_path: str  # the container folder's path as the service wrote it, without a trailing "/"
    query: str = field(repr=False)
    generation: int = 0

    @classmethod
    def parse(cls, href: str, *, generation: int = 0) -> StorageLink:
        """Parse an export's `_links.mesh.href`. Raises InvalidArgumentError for anything that is
        not an https URL (http only on a loopback host, for local services) without credentials."""
        href = check_secure_url(href, what="the storage link")  # the one rule: https, or http on loopback
        try:
            parts = urlsplit(href)
            host = parts.hostname or ""
            port = parts.port
        except ValueError as exc:
            raise InvalidArgumentError(f"the storage link {redact_url(href)} is not a valid URL") from exc
        scheme = parts.scheme.lower()
        host_part = f"[{host}]" if ":" in host else host
        default_port = 443 if scheme == "https" else 80
        netloc = host_part if port in (None, default_port) else f"{host_part}:{port}"
        return cls(scheme, netloc, parts.path.rstrip("/"), parts.query, generation)

    @property
    def source(self) -> str:
        """The folder's URL without the signature: safe to log and to store in a manifest."""
        return f"{self.scheme}://{self.netloc}{self.base_path}"

    def url_for(self, path: str) -> str:
        """The signed URL of a file, from its relative path (as `resolve_reference` returns it)."""
        encoded = "/".join(quote(segment, safe=_SEGMENT_SAFE) for segment in path.split("/"))
        query = f"?{self.query}" if self.query else ""
        return f"{self.scheme}://{self.netloc}{self.base_path}/{encoded}{query}"

    def redacted_url_for(self, path: str) -> str:
        return redact_url(self.url_for(path))

    def secrets(self) -> list[str]:
        """Every query value of the link, for scrubbing texts this module did not write (a
        transport error's message): redaction by allowlist cannot reach those."""
        values = []
        for pair in self.query.split("&"):
            _, _, value = pair.partition("=")
            if len(value) >= 4:
                values.append(value)
                decoded = unquote_to_bytes(value).decode("utf-8", "replace")
                if decoded != value:
                    values.append(decoded)
        return values


def resolve_reference(referrer: str, uri: str) -> str | None:
    """The relative path of the file `uri` names, as written in the file at relative path
    `referrer`; None for a `data:` URI (embedded content: nothing to fetch).

    Raises UnsafeTilesetError (with the URI redacted) for absolute URIs (another scheme, host or
    the same one), absolute paths, drive letters, backslashes, control characters, encoded
    separators, a query of its own, paths leaving the export folder, empty segments, names
    Windows cannot hold, over-long names, and the downloader's reserved names.
    """

    def refuse(reason: str) -> UnsafeTilesetError:
        return UnsafeTilesetError(
            f"{referrer} references {redact_url(uri)!r}, which {reason}; nothing was fetched from it", uri=uri
        )

    reference = uri.split("#", 1)[0]
    if reference[:5].lower() == "data:":
        return None
    if not reference:
        raise refuse("is empty")
    if "\\" in reference or "%5c" in reference.lower():
        raise refuse("contains a backslash")
    if _CONTROL.search(reference) or re.search(r"%(0[0-9a-f]|1[0-9a-f]|7f)", reference, re.IGNORECASE):
        raise refuse("contains a control character")
    if _DRIVE_LETTER.match(reference):
        raise refuse("starts with a drive letter")
    try:
        parts = urlsplit(reference)
    except ValueError:
        raise refuse("is not a valid URI reference") from None
    if parts.scheme:
        raise refuse(f"is an absolute URI with scheme {parts.scheme!r}; only relative references are followed")
    if reference.startswith("//"):
        raise refuse("names another host (a network-path reference)")
    if parts.query or reference.endswith("?"):
        raise refuse("carries a query string of its own")
    if reference.startswith("/"):
        raise refuse("is an absolute path")

    segments = referrer.split("/")[:-1]
    raw_segments = parts.path.split("/")
    for index, raw in enumerate(raw_segments):
        try:
            segment = unquote_to_bytes(raw).decode("utf-8")
        except UnicodeError:  # undecodable bytes, or a lone surrogate (JSON "\ud800") that cannot be encoded
            raise refuse("is not valid UTF-8 once percent-decoded") from None
        if "/" in segment or "\\" in segment:
            raise refuse("hides a path separator in percent-encoding")
        problem = _character_problem(segment)
        if problem is not None:
            raise refuse(problem)
        if segment == ".":
            if index == len(raw_segments) - 1:
                raise refuse("names a directory, not a file")
            continue
        if segment == "..":
            if not segments:
                raise refuse("leaves the export's folder")
            segments.pop()
            if index == len(raw_segments) - 1:
                raise refuse("names a directory, not a file")
            continue
        if not segment:
            raise refuse("names a directory, not a file" if index == len(raw_segments) - 1 else "has an empty segment")
        problem = _name_problem(segment)
        if problem is not None:
            raise refuse(problem)
        segments.append(segment)
    path = "/".join(segments)
    problem = _whole_path_problem(path, segments[0])
    if problem is not None:
        raise refuse(problem)
    return path


def path_problem(path: str) -> str | None:
    """Why a decoded relative path (as `resolve_reference` returns them, read back from a manifest
    a caller may have edited) must not be opened under the target directory; None when it is one
    `resolve_reference` could have returned. The same rules, applied to the decoded form."""
    try:
        path.encode("utf-8")
    except UnicodeError:
        return "is not valid UTF-8"
    segments = path.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            return "is not a plain relative path (an empty, '.' or '..' segment, or a leading '/')"
        if "\\" in segment:
            return "contains a backslash"
        problem = _character_problem(segment) or _name_problem(segment)
        if problem is not None:
            return problem
    return _whole_path_problem(path, segments[0])


def _character_problem(segment: str) -> str | None:
    if _CONTROL.search(segment):
        return "contains a control character"
    if _DRIVE_LETTER.match(segment):
        return "contains a drive letter"
    if _WINDOWS_INVALID.search(segment):
        return 'has a name with a character Windows refuses (< > : " | ? *)'
    if os.name == "nt" and segment.split(".", 1)[0].upper() in _WINDOWS_DEVICES:
        return "has a name Windows reserves for a device"
    return None


def _name_problem(segment: str) -> str | None:
    if segment.strip(" .") == "" or segment != segment.rstrip(" ."):
        return "has a name ending in a dot or a space, which some file systems silently change"
    if len(segment.encode()) > MAX_NAME_BYTES:
        return f"has a name longer than {MAX_NAME_BYTES} bytes"
    return None


def _whole_path_problem(path: str, first: str) -> str | None:
    if len(path.encode()) > MAX_PATH_BYTES:
        return f"is longer than {MAX_PATH_BYTES} bytes"
    # The state directory, or a top-level file named like the manifest (or its temporary file).
    if first.casefold() in _RESERVED_TOP_NAMES:
        return "collides with a name the downloader reserves for its own files"
    return None
