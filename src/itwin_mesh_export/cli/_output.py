"""What the commands print on stdout: `--json` documents (stable, machine-readable) and the text
for people (key/value lines, a table).

The `--json` shapes are the CLI's own, not the API's raw bodies, so that a new API field or a
renamed one does not change them; they are documented in the README ("Command-line tool") and
pinned by tests. Keys are snake_case; absent values are null. No signed URL is ever printed:
`mesh_url` is the tiles folder without its signature query.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table

from itwin_mesh_export_generated.models import Export

from .._dates import last_modified_at
from .._models import mesh_href

if TYPE_CHECKING:  # the download engine loads only when a download runs
    from ..download import DownloadResult

__all__ = [
    "delete_json",
    "download_json",
    "export_json",
    "print_export",
    "print_exports_table",
    "print_json",
    "verify_json",
]


def _last_modified(export: Export) -> str:
    """UTC, ISO 8601 with `Z`; the string the API sent when it cannot be read."""
    moment = last_modified_at(export)
    if moment is None:
        return str(export.last_modified)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _unsigned(href: str | None) -> str | None:
    return href.split("?", 1)[0].split("#", 1)[0] if href else None


def export_json(export: Export) -> dict[str, Any]:
    """One export, with the keys (in this order) the README documents and tests/cli pins."""
    request = export.request
    return {
        "id": export.id,
        "display_name": export.display_name,
        "status": str(export.status.value),
        "imodel_id": request.i_model_id,
        "changeset_id": request.changeset_id,
        "export_type": str(request.export_type.value),
        "last_modified": _last_modified(export),
        "error": export.error if isinstance(export.error, str) else None,
        "mesh_url": _unsigned(mesh_href(export)),
    }


def download_json(export_id: str, result: DownloadResult, elapsed_s: float) -> dict[str, Any]:
    return {
        "export_id": export_id,
        "dest": str(result.dest),
        "manifest": str(result.manifest_path),
        "files": len(result.files),
        "bytes": result.bytes_total,
        "files_downloaded": result.files_downloaded,
        "files_skipped": result.files_skipped,
        "bytes_downloaded": result.bytes_downloaded,
        "link_refreshes": result.link_refreshes,
        "elapsed_s": round(elapsed_s, 3),
    }


def verify_json(dest: str, files: int, size: int) -> dict[str, Any]:
    return {"dest": dest, "files": files, "bytes": size}


def delete_json(export_id: str) -> dict[str, Any]:
    return {"id": export_id, "deleted": True}


def print_json(console: Console, document: object) -> None:
    """One JSON document on one line (`jq` reads it; so does `json.loads`)."""
    console.file.write(json.dumps(document, ensure_ascii=False) + "\n")
    console.file.flush()


def print_export(console: Console, export: Export) -> None:
    """`key: value` lines, one per field that has a value."""
    fields = export_json(export)
    width = max(len(k) for k in fields)
    for key, value in fields.items():
        if value is not None and value != "":
            console.file.write(f"{key:<{width}}  {value}\n")
    console.file.flush()


def print_exports_table(console: Console, exports: list[Export]) -> None:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for title in ("ID", "STATUS", "IMODEL", "CHANGESET", "TYPE", "LAST MODIFIED"):
        table.add_column(title, no_wrap=True, overflow="fold")
    for export in exports:
        row = export_json(export)
        table.add_row(
            row["id"],
            row["status"],
            row["imodel_id"],
            row["changeset_id"] or "-",
            row["export_type"],
            row["last_modified"],
        )
    console.print(table)
    console.file.write(f"{len(exports)} export{'s' if len(exports) != 1 else ''}\n")
    console.file.flush()
