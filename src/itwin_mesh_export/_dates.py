"""Timestamps as aware datetimes.

The generated models keep `lastModified` as the string the server sent, because the API sends two
forms (`2024-08-22T03:18:43Z` in production and QA, `2024-08-22T03:18:43.0000000+00:00` in dev) and
the spec declares it a plain string. This module reads both, plus RFC 3339's lowercase `t`/`z`,
which `datetime.fromisoformat` rejects, and turns junk into a typed error or None.
"""

from __future__ import annotations

from datetime import UTC, datetime

from itwin_mesh_export_generated.models import Export, ExportSummary
from itwin_mesh_export_generated.types import Unset

from ._exceptions import InvalidArgumentError

__all__ = ["last_modified_at", "parse_timestamp"]

# Longer input is not a timestamp; it is cut in error messages.
_MAX_TIMESTAMP_CHARS = 64


def parse_timestamp(value: str) -> datetime:
    """An aware datetime from an ISO 8601 / RFC 3339 timestamp. Fractions beyond microseconds are
    cut; a timestamp without an offset is taken as UTC. InvalidArgumentError for anything else."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"a timestamp must be a str, got {type(value).__name__}")
    text = value.strip()
    if not text or len(text) > _MAX_TIMESTAMP_CHARS or "T" not in text.upper():
        raise InvalidArgumentError(f"not an ISO 8601 timestamp: {value[:_MAX_TIMESTAMP_CHARS]!r}")
    try:
        parsed = datetime.fromisoformat(text.upper())
    except ValueError as exc:
        raise InvalidArgumentError(f"not an ISO 8601 timestamp: {value[:_MAX_TIMESTAMP_CHARS]!r}") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def last_modified_at(export: Export | ExportSummary) -> datetime | None:
    """The export's `lastModified` as an aware datetime; None when absent or unreadable."""
    value = export.last_modified
    if isinstance(value, Unset) or not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except InvalidArgumentError:
        return None
