"""The generated models users need, re-exported, and the one thing the overlay adds to them.

`Link.href` of a Complete export is a storage URL whose query string is a signature valid for an
hour. The generated attrs classes print every field in their repr, so `repr(export)` (a log line,
a traceback, a debugger) would show that signature. No spec field or generator option can say
"redact this", so this module replaces `Link.__repr__` (only the repr: `href` and `to_dict()` keep
the real URL). It is the overlay's one patch of a generated class, made in the spirit of Azure's
`_patch.py`: remove it when the generator template gives `Link` a redacting repr.
"""

from __future__ import annotations

from itwin_mesh_export_generated.models import (
    Export,
    ExportLinks,
    ExportResultBody,
    ExportsOrderBy,
    ExportStatsDisplay,
    ExportStatus,
    ExportSummary,
    ExportType,
    Link,
    TilerConfigItem,
)
from itwin_mesh_export_generated.types import Unset

from ._redact import redact_url

__all__ = [
    "Export",
    "ExportLinks",
    "ExportResultBody",
    "ExportStatsDisplay",
    "ExportStatus",
    "ExportSummary",
    "ExportType",
    "ExportsOrderBy",
    "Link",
    "TilerConfigItem",
    "mesh_href",
]


def _link_repr(self: Link) -> str:
    href = self.href if isinstance(self.href, str) else repr(self.href)
    return f"Link(href={redact_url(href)!r})"


Link.__repr__ = _link_repr  # type: ignore[method-assign,assignment]


def mesh_href(export: Export) -> str | None:
    """The signed URL of the export's tiles folder (`_links.mesh.href`), or None when the export
    has none (not Complete yet, or listed without `Prefer: return=representation`). It expires
    after about an hour: `client.get_mesh_href(export_id)` fetches a fresh one."""
    links = export.field_links
    if isinstance(links, Unset) or isinstance(links.mesh, Unset):
        return None
    href = links.mesh.href
    return href if isinstance(href, str) and href else None
