"""Get Export, Start Export and Delete Export end to end, with the errors the service documents."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from itwin_mesh_export import (
    ErrorDetail,
    Export,
    ExportStatus,
    ExportType,
    NotFoundError,
    UnprocessableEntityError,
    mesh_href,
)
from itwin_mesh_export.testing import SeedExport
from tests.e2e.conftest import IMODEL, OTHER_IMODEL, api_requests

pytestmark = pytest.mark.anyio

CHANGESET = "ed94ed9a0704918d36eeb620219f5e17d8858858"
SEED = SeedExport(imodel_id=IMODEL, changeset_id=CHANGESET, export_type="3DTILES", display_name="Bridge")


async def test_get_export_with_its_blob_and_cdn_links(service: Any, make_api: Any) -> None:
    svc = service(seed_exports=[SEED])
    api = make_api(svc)
    export = await api.call("get_export", SEED.export_id)
    assert isinstance(export, Export)
    assert (export.id, export.display_name, export.status) == (SEED.export_id, "Bridge", ExportStatus.COMPLETE)
    request = export.request
    assert (request.i_model_id, request.changeset_id, request.export_type) == (
        IMODEL,
        CHANGESET,
        ExportType.THREE_D_TILES_UPPERCASE,
    )
    blob = mesh_href(export)
    assert blob == svc.mesh_url(SEED.export_id)  # the service's clock has not moved: same signature
    assert blob is not None and blob.startswith(svc.storage_origin + "/")

    cdn_export = await api.call("get_export", SEED.export_id, cdn=True)
    cdn = mesh_href(cdn_export)
    assert cdn == svc.mesh_url(SEED.export_id, cdn=True) and cdn is not None
    assert dict(api.requests[-1].url.params) == {"cdn": "1"}
    assert await api.call("get_mesh_href", SEED.export_id, cdn=True) == cdn

    # Both links open the tileset (no token needed, and none was sent to storage).
    for href in (blob, cdn):
        folder, _, query = href.partition("?")
        response = httpx.get(f"{folder}/tileset.json?{query}", timeout=10)
        assert response.status_code == 200 and "root" in response.json()
    assert svc.storage_authorization_headers == []


async def test_get_an_unknown_export(service: Any, make_api: Any) -> None:
    svc = service()
    with pytest.raises(NotFoundError) as raised:
        await make_api(svc).call("get_export", "no-such-export")
    assert (raised.value.code, raised.value.status_code) == ("ExportNotFound", 404)


async def test_start_export_records_the_request(service: Any, make_api: Any) -> None:
    svc = service()
    api = make_api(svc)
    tiler = {"maxTileSize": 512, "draco": True, "mode": "fast"}
    export = await api.call("start_export", IMODEL, CHANGESET, "3DTILES", tiler_config=tiler)
    assert export.status is ExportStatus.NOT_STARTED and mesh_href(export) is None
    assert (export.request.i_model_id, export.request.changeset_id) == (IMODEL, CHANGESET)
    assert export.request.export_type is ExportType.THREE_D_TILES_UPPERCASE
    assert svc.export_status(export.id) == "NotStarted"
    again = await api.call("get_export", export.id)
    assert [(item.key, item.value) for item in again.request.tiler_config] == list(tiler.items())

    latest = await api.call("start_export", OTHER_IMODEL)  # no changeset: the latest, 3D Tiles
    assert latest.request.changeset_id and latest.request.export_type is ExportType.THREE_D_TILES
    assert [status for _, _, status in api_requests(svc, "POST")] == [202, 202]


async def test_start_export_of_an_unknown_imodel(service: Any, make_api: Any) -> None:
    svc = service(missing_imodels={"no-such-imodel"})
    with pytest.raises(NotFoundError) as raised:
        await make_api(svc).call("start_export", "no-such-imodel")
    assert raised.value.code == "IModelNotFound"
    assert len(svc.exports) == 0


async def test_delete_a_complete_export(service: Any, make_api: Any) -> None:
    svc = service(seed_exports=[SEED])
    api = make_api(svc)
    assert await api.call("delete_export", SEED.export_id) is None
    assert api_requests(svc, "DELETE") == [("DELETE", f"/mesh-export/{SEED.export_id}", 204)]
    assert svc.export_status(SEED.export_id) is None
    with pytest.raises(NotFoundError):
        await api.call("get_export", SEED.export_id)
    with pytest.raises(NotFoundError) as raised:
        await api.call("delete_export", SEED.export_id)
    assert raised.value.code == "ExportNotFound"


async def test_deleting_an_export_in_progress_is_refused_with_details(service: Any, make_api: Any) -> None:
    svc = service()
    api = make_api(svc)
    export = await api.call("start_export", IMODEL)
    with pytest.raises(UnprocessableEntityError) as raised:
        await api.call("delete_export", export.id)
    error = raised.value
    assert (error.status_code, error.code) == (422, "InvalidMeshExportRequest")
    assert error.details == [ErrorDetail("InvalidParameter", "id is invalid.", "id")]
    assert svc.export_status(export.id) == "NotStarted"
    # Not retried: 422 is an answer, not a transient failure.
    assert [status for _, _, status in api_requests(svc, "DELETE")] == [422]
