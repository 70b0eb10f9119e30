"""The canned bodies the loopback server answers with, recorded from the local Mesh Export service.

Recording them (instead of writing them by hand) keeps them what the spec-faithful service sends:
full exports with `request`, `stats` and a signed `_links.mesh.href`, pages with `_links.self`
and `next`. The service runs in this process only while recording; the measurements never talk
to it.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from itwin_mesh_export.testing import LocalMeshExportService, make_seed_exports

__all__ = ["PAGE_SIZE", "record_bodies"]

# The overlay's default `page_size` and the API's own example.
PAGE_SIZE = 100


def record_bodies(path: Path, *, export_count: int, page_size: int = PAGE_SIZE) -> Path:
    """Write {"export": Get Export body, "pages": [Get Exports bodies], ...} for `export_count`
    Complete exports listed in full representation, `page_size` per page."""
    seeds = make_seed_exports(export_count, imodel_ids=[f"imodel-{i:02d}" for i in range(10)])
    with (
        LocalMeshExportService(seed_exports=seeds) as service,
        httpx.Client(base_url=service.api_url, headers={"Authorization": f"Bearer {service.token}"}) as http,
    ):
        export = http.get(f"/{seeds[0].export_id}")
        export.raise_for_status()
        pages: list[str] = []
        for skip in range(0, max(export_count, 1), page_size):
            page = http.get("/", params={"$top": page_size, "$skip": skip}, headers={"Prefer": "return=representation"})
            page.raise_for_status()
            pages.append(page.text)
    data = {"export": export.text, "pages": pages, "page_size": page_size, "export_count": export_count}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path
