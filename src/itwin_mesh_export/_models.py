"""`mesh_href`: the one link of an export users need, read safely. (The models themselves are
the generated ones, which the package root re-exports.)

`Link.href` of a Complete export is a storage URL whose query string is a signature valid for an
hour; the spec marks it `x-secret-query`, so the generated repr hides its query values (see
generator/templates/model.py.jinja) and `repr(export)` in a log line or traceback shows no
signature. `href` and `to_dict()` keep the real URL.
"""

from __future__ import annotations

from itwin_mesh_export_generated.models import Export
from itwin_mesh_export_generated.types import Unset

__all__ = ["mesh_href"]


def mesh_href(export: Export) -> str | None:
    """The signed URL of the export's tiles folder (`_links.mesh.href`), or None when the export
    has none (not Complete yet, or listed without `Prefer: return=representation`). It expires
    after about an hour: `client.get_mesh_href(export_id)` fetches a fresh one."""
    links = export.field_links
    if isinstance(links, Unset) or isinstance(links.mesh, Unset):
        return None
    href = links.mesh.href
    return href if isinstance(href, str) and href else None
