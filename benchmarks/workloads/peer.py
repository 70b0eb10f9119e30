"""The same two workloads through the peer: the client openapi-generator's `python` generator
(pydantic + urllib3) makes from the same committed spec (`benchmarks/peer.py` builds it).

This module runs in the peer's isolated virtual environment: it imports only the standard library
and the generated `mesh_export_peer` package. The peer has no paging helper, so listing calls
`get_exports(top, skip)` until a page has no next link (see `peer_list` for why it cannot use the
peer's own page parser).
"""

from __future__ import annotations

from typing import Any

__all__ = ["peer_get_export", "peer_list"]

TOKEN = "benchmark-token"


def _api(base_url: str) -> Any:
    import mesh_export_peer

    configuration = mesh_export_peer.Configuration(host=base_url, access_token=TOKEN)
    return mesh_export_peer.ExportsApi(mesh_export_peer.ApiClient(configuration))


def peer_get_export(base_url: str, export_id: str, calls: int) -> Any:
    api = _api(base_url)

    def run() -> int:
        get = api.get_export
        for _ in range(calls):
            get(export_id)
        return calls

    return run


def peer_list(base_url: str, expected: int, page_size: int) -> Any:
    import json

    from mesh_export_peer.models.export import Export
    from mesh_export_peer.models.page_links import PageLinks
    from mesh_export_peer.models.prefer_return import PreferReturn

    api = _api(base_url)
    prefer = PreferReturn("return=representation")
    # The peer's own page parser: ExportsPage.exports is a oneOf(Export, ExportSummary), and its
    # pydantic ExportSummary ignores extra fields despite `additionalProperties: false`, so a full
    # export matches both and every page of full exports raises. Record whether it still does.
    try:
        api.get_exports(top=page_size, skip=0, prefer=prefer)
        generated_parser_fails = False
    except ValueError:
        generated_parser_fails = True

    def run() -> dict[str, Any]:
        # What a peer user has to write instead: read the page without the generated parser and
        # build each item with the generated Export model (urllib3 transport, pydantic models).
        count = skip = 0
        while True:
            response = api.get_exports_without_preload_content(top=page_size, skip=skip, prefer=prefer)
            if response.status != 200:
                raise AssertionError(f"Get Exports answered {response.status}")
            page = json.loads(response.data)
            for item in page["exports"]:
                Export.from_dict(item)
                count += 1
            links = PageLinks.from_dict(page.get("_links"))
            if links is None or links.next is None:
                break
            skip += page_size
        if count != expected:
            raise AssertionError(f"listed {count} exports, expected {expected}")
        return {"units": count, "generated_parser_fails": int(generated_parser_fails)}

    return run
