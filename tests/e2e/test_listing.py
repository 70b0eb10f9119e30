"""Get Exports end to end: filters, order, several pages, full representations with their links."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from itwin_mesh_export import Export, ExportStatus, last_modified_at, mesh_href
from itwin_mesh_export.testing import SeedExport, make_seed_exports
from tests.e2e.conftest import IMODEL, OTHER_IMODEL, api_requests

pytestmark = pytest.mark.anyio

OLD_CHANGESET = "1f0e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"


def seeds() -> list[SeedExport]:
    """Newest first: 7 Complete 3D Tiles exports of IMODEL, 3 of OTHER_IMODEL, then a CESIUM
    export and an Invalid one of IMODEL at an older changeset."""
    return [
        *make_seed_exports(7, imodel_id=IMODEL),
        *[SeedExport(imodel_id=OTHER_IMODEL, index=i) for i in range(3)],
        SeedExport(imodel_id=IMODEL, index=100, export_type="CESIUM", changeset_id=OLD_CHANGESET),
        SeedExport(imodel_id=IMODEL, index=101, status="Invalid", error="Out of memory.", changeset_id=OLD_CHANGESET),
    ]


async def test_every_page_is_read_in_order_with_the_filter(service: Any, make_api: Any) -> None:
    seeded = seeds()
    svc = service(seed_exports=seeded)
    api = make_api(svc)
    exports = await api.collect(imodel_id=IMODEL, page_size=3)
    assert [e.id for e in exports] == [s.export_id for s in seeded if s.imodel_id == IMODEL]
    assert all(isinstance(e, Export) and e.request.i_model_id == IMODEL for e in exports)
    # 9 exports in pages of 3: the service's next links were followed to $skip 3 and 6, and no further.
    queries = [dict(r.url.params) for r in api.requests]
    assert queries == [
        {"iModelId": IMODEL, "$top": "3"},
        {"iModelId": IMODEL, "$top": "3", "$skip": "3"},
        {"iModelId": IMODEL, "$top": "3", "$skip": "6"},
    ]
    assert [status for _, _, status in api_requests(svc, "GET")] == [200, 200, 200]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"imodel_id": IMODEL, "export_type": "CESIUM"}, [100]),
        ({"imodel_id": IMODEL, "export_type": "3DTILES"}, [0, 1, 2, 3, 4, 5, 6, 101]),
        ({"imodel_id": IMODEL, "changeset_id": OLD_CHANGESET}, [100, 101]),
        ({"imodel_id": OTHER_IMODEL, "changeset_id": OLD_CHANGESET}, []),
    ],
)
async def test_filters_are_applied_by_the_service(
    service: Any, make_api: Any, filters: dict[str, Any], expected: list[int]
) -> None:
    seeded = seeds()
    svc = service(seed_exports=seeded)
    exports = await make_api(svc).collect(**filters)
    by_index = {s.index: s.export_id for s in seeded if s.imodel_id == filters["imodel_id"]}
    assert [e.id for e in exports] == [by_index[i] for i in expected]


@pytest.mark.parametrize("order_by", ["date:asc", "date:desc"])
async def test_order_by_last_modified(service: Any, make_api: Any, order_by: str) -> None:
    svc = service(seed_exports=seeds())
    api = make_api(svc)
    exports = await api.collect(order_by=order_by, page_size=4)
    times = [last_modified_at(e) for e in exports]
    assert None not in times and len(exports) == len(seeds())
    assert times == sorted(times, reverse=order_by == "date:desc")  # type: ignore[type-var]
    assert times[0] != times[-1]
    assert {dict(r.url.params)["$orderBy"] for r in api.requests} == {order_by}


async def test_listing_asks_for_full_representations_with_their_links(service: Any, make_api: Any) -> None:
    svc = service(seed_exports=seeds())
    api = make_api(svc)
    exports = await api.collect()
    assert {r.headers["prefer"] for r in api.requests} == {"return=representation"}
    complete = [e for e in exports if e.status is ExportStatus.COMPLETE]
    invalid = [e for e in exports if e.status is ExportStatus.INVALID]
    assert len(complete) == len(exports) - 1 and [e.error for e in invalid] == ["Out of memory."]
    assert mesh_href(invalid[0]) is None
    for export in complete:
        href = mesh_href(export)
        assert href is not None and href.startswith(f"{svc.storage_origin}/exports/{export.id}?")
        assert {"sv", "se", "sig"} <= set(httpx.URL(href).params)

    cdn = await api.collect(imodel_id=OTHER_IMODEL, cdn=True)
    assert [dict(r.url.params).get("cdn") for r in api.requests[-1:]] == ["1"]
    for export in cdn:
        href = mesh_href(export)
        assert href is not None and href.startswith(svc.cdn_origin + "/")
        assert {"Expires", "Key-Pair-Id", "Signature"} <= set(httpx.URL(href).params)


async def test_both_timestamp_forms_in_one_listing(service: Any, make_api: Any) -> None:
    svc = service(seed_exports=make_seed_exports(6), timestamp_style="mixed")
    exports = await make_api(svc).collect()
    forms = {e.last_modified.endswith("Z") for e in exports}
    assert forms == {True, False}  # 2024-08-22T03:18:43Z and 2024-08-22T03:18:43.0000000+00:00
    times = [last_modified_at(e) for e in exports]
    assert None not in times and times == sorted(times, reverse=True)  # type: ignore[type-var]


async def test_an_empty_listing_is_one_request(service: Any, make_api: Any) -> None:
    svc = service()
    api = make_api(svc)
    assert await api.collect() == []
    assert len(api.requests) == 1
