"""The four operations of the local service: progression, listing, paging, Prefer, deletion."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from itwin_mesh_export.testing import LocalMeshExportService, ManualClock, SeedExport, make_seed_exports
from itwin_mesh_export_generated.models import Export, ExportResponse, ExportsPage, ExportStatus
from tests.service.conftest import FAILING_IMODEL, OTHER_IMODEL, SEED_IMODEL

INVALID_DELETE = {
    "error": {
        "code": "InvalidMeshExportRequest",
        "message": "Cannot delete exported job.",
        "details": [{"code": "InvalidParameter", "message": "id is invalid.", "target": "id"}],
    }
}
EXPORT_NOT_FOUND = {"error": {"code": "ExportNotFound", "message": "Requested export is not available."}}


def _start(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/", json=body)
    assert response.status_code == 202, response.text
    export: dict[str, Any] = response.json()["export"]
    return export


def test_a_started_export_progresses_by_the_clock(
    svc: LocalMeshExportService, api: httpx.Client, clock: ManualClock
) -> None:
    export = _start(api, {"iModelId": SEED_IMODEL, "changesetId": "cs1", "exportType": "CESIUM"})
    assert export["status"] == "NotStarted"
    assert "_links" not in export
    assert export["request"] == {"iModelId": SEED_IMODEL, "changesetId": "cs1", "exportType": "CESIUM"}
    ExportResponse.from_dict({"export": export})  # the generated model reads it

    def status() -> str:
        body = api.get(f"/{export['id']}").json()["export"]
        return str(body["status"])

    assert status() == "NotStarted"
    clock.advance(10)
    assert status() == "InProgress"
    clock.advance(19.9)
    assert status() == "InProgress"
    clock.advance(0.2)
    body = api.get(f"/{export['id']}").json()["export"]
    assert body["status"] == "Complete"
    assert body["_links"]["mesh"]["href"].startswith(svc.storage_origin + "/exports/" + export["id"] + "?")
    assert body["stats"]["rawSize"] > 0
    parsed = ExportResponse.from_dict({"export": body})
    assert isinstance(parsed.export, Export)
    assert parsed.export.status is ExportStatus.COMPLETE


def test_last_modified_is_the_time_of_the_last_transition(api: httpx.Client, clock: ManualClock) -> None:
    export = _start(api, {"iModelId": SEED_IMODEL})
    first = export["lastModified"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first)
    clock.advance(5)
    assert api.get(f"/{export['id']}").json()["export"]["lastModified"] == first
    clock.advance(6)
    assert api.get(f"/{export['id']}").json()["export"]["lastModified"] != first


def test_an_export_of_a_failing_imodel_ends_invalid_with_its_error(api: httpx.Client, clock: ManualClock) -> None:
    export = _start(api, {"iModelId": FAILING_IMODEL})
    clock.advance(30)
    body = api.get(f"/{export['id']}").json()["export"]
    assert body["status"] == "Invalid"
    assert body["error"] == "The iModel could not be opened."
    assert "_links" not in body
    assert api.delete(f"/{export['id']}").status_code == 204


def test_start_without_changeset_records_the_latest_one_and_defaults_to_3dtiles(api: httpx.Client) -> None:
    export = _start(api, {"iModelId": OTHER_IMODEL})
    assert re.fullmatch(r"[0-9a-f]{40}", export["request"]["changesetId"])
    assert export["request"]["exportType"] == "3DTiles"
    again = _start(api, {"iModelId": OTHER_IMODEL, "changesetId": ""})
    assert again["request"]["changesetId"] == export["request"]["changesetId"]


@pytest.mark.parametrize(
    ("body", "target", "message"),
    [
        ({}, "iModelId", "iModelId is required."),
        ({"iModelId": ""}, "iModelId", "iModelId cannot be empty."),
        ({"iModelId": 5}, "iModelId", "iModelId must be a string."),
        ({"iModelId": "a", "changesetId": 3}, "changesetId", "changesetId must be a string."),
        (
            {"iModelId": "a", "exportType": "GLTF"},
            "exportType",
            "exportType must be one of IMODEL, CESIUM, 3DTILES, 3DTiles.",
        ),
        ({"iModelId": "a", "extra": 1}, "extra", "extra is not a property of the request."),
        ({"iModelId": "a", "tilerConfig": []}, "tilerConfig", "tilerConfig must have between 1 and 100 items."),
        ({"iModelId": "a", "tilerConfig": [{"key": "k"}]}, "tilerConfig[0]", None),
        ({"iModelId": "a", "tilerConfig": [{"key": "k", "value": ""}]}, "tilerConfig[0].value", None),
        (
            {"iModelId": "a", "tilerConfig": [{"key": "k", "value": 1}, {"key": "k", "value": 1.0}]},
            "tilerConfig[1]",
            None,
        ),
        ([1, 2], "body", "The request body must be a JSON object."),
    ],
)
def test_start_rejects_a_bad_body_with_the_documented_422(
    api: httpx.Client, body: Any, target: str, message: str | None
) -> None:
    response = api.post("/", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "InvalidMeshExportRequest"
    assert error["message"] == "Cannot create export job."
    assert error["details"][0]["code"] == "InvalidRequestBody"
    assert error["details"][0]["target"] == target
    if message is not None:
        assert error["details"][0]["message"] == message


def test_start_rejects_a_body_that_is_not_json(api: httpx.Client) -> None:
    response = api.post("/", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["target"] == "body"


def test_start_accepts_tiler_config_and_echoes_it(api: httpx.Client) -> None:
    tiler = [{"key": "a", "value": True}, {"key": "a", "value": 1}, {"key": "b", "value": "x"}]
    export = _start(api, {"iModelId": SEED_IMODEL, "tilerConfig": tiler})
    assert export["request"]["tilerConfig"] == tiler


@pytest.mark.parametrize("spelling", ["IMODEL", "CESIUM", "3DTILES", "3DTiles"])
def test_start_accepts_each_spelling_of_the_spec_enum_and_echoes_it(api: httpx.Client, spelling: str) -> None:
    assert _start(api, {"iModelId": SEED_IMODEL, "exportType": spelling})["request"]["exportType"] == spelling


@pytest.mark.parametrize("spelling", ["3dtiles", "cesium", "Imodel", "3DTILES "])
def test_start_refuses_an_export_type_in_another_case(api: httpx.Client, spelling: str) -> None:
    response = api.post("/", json={"iModelId": SEED_IMODEL, "exportType": spelling})
    assert response.status_code == 422
    detail = response.json()["error"]["details"][0]
    assert (detail["target"], detail["message"]) == (
        "exportType",
        "exportType must be one of IMODEL, CESIUM, 3DTILES, 3DTiles.",
    )


def test_start_answers_404_for_an_unknown_imodel() -> None:
    with LocalMeshExportService(imodels={"known": "Known iModel"}, missing_imodels={"gone"}) as svc:
        headers = {"Authorization": f"Bearer {svc.token}"}
        unknown = httpx.post(svc.api_url + "/", json={"iModelId": "other"}, headers=headers)
        assert unknown.status_code == 404
        assert unknown.json() == {"error": {"code": "IModelNotFound", "message": "Requested iModel is not available."}}
        known = httpx.post(svc.api_url + "/", json={"iModelId": "known"}, headers=headers)
        assert known.status_code == 202
        assert known.json()["export"]["displayName"] == "Known iModel"
        assert httpx.post(svc.api_url + "/", json={"iModelId": "gone"}, headers=headers).status_code == 404


def test_get_export_answers_404_for_an_unknown_id(api: httpx.Client) -> None:
    response = api.get("/no-such-export")
    assert response.status_code == 404
    assert response.json() == EXPORT_NOT_FOUND


def test_get_export_reads_cdn_leniently(svc: LocalMeshExportService, api: httpx.Client) -> None:
    seed = make_seed_exports(1, imodel_id=SEED_IMODEL)[0].export_id
    assert (
        api.get(f"/{seed}", params={"cdn": "1"})
        .json()["export"]["_links"]["mesh"]["href"]
        .startswith(svc.cdn_origin + "/mesh-export/" + seed + "?Expires=")
    )
    for value in ("0", "yes", ""):
        href = api.get(f"/{seed}", params={"cdn": value}).json()["export"]["_links"]["mesh"]["href"]
        assert href.startswith(svc.storage_origin + "/exports/")


def test_delete_rules(api: httpx.Client, clock: ManualClock) -> None:
    export = _start(api, {"iModelId": SEED_IMODEL})
    refused = api.delete(f"/{export['id']}")
    assert refused.status_code == 422
    assert refused.json() == INVALID_DELETE
    clock.advance(10)
    assert api.delete(f"/{export['id']}").json() == INVALID_DELETE  # InProgress
    clock.advance(20)
    deleted = api.delete(f"/{export['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert api.get(f"/{export['id']}").status_code == 404
    gone = api.delete(f"/{export['id']}")
    assert gone.status_code == 404
    assert gone.json() == EXPORT_NOT_FOUND


# ---- Get Exports ----


def _all_pages(
    api: httpx.Client, params: dict[str, str], headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    response = api.get("/", params=params, headers=headers)
    pages = 0
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        ExportsPage.from_dict(body)
        items.extend(body["exports"])
        pages += 1
        assert pages < 100
        next_link = body["_links"].get("next")
        if next_link is None:
            return items
        response = api.get(next_link["href"])


@pytest.fixture(scope="module")
def listing() -> Any:
    seeds = [
        SeedExport(imodel_id="m1", index=i, changeset_id=f"cs{i % 3}", export_type=t, tile_version=v)
        for i, (t, v) in enumerate(
            [("3DTiles", None), ("3DTILES", "1"), ("CESIUM", None), ("IMODEL", "2"), ("3DFT", None)] * 5
        )
    ] + make_seed_exports(3, imodel_id="m2")
    svc = LocalMeshExportService(clock=ManualClock(), seed_exports=seeds)
    with svc, httpx.Client(base_url=svc.api_url, headers={"Authorization": f"Bearer {svc.token}"}) as api:
        yield svc, api, seeds


def test_paging_follows_next_links_over_every_export(listing: Any) -> None:
    _, api, seeds = listing
    items = _all_pages(api, {"$top": "4"})
    assert [i["id"] for i in items] == [s.export_id for s in seeds]  # seeds list newest first, in order
    assert set(items[0]) == {"id", "displayName", "status", "lastModified"}  # minimal by default


def test_page_links_keep_the_filters_and_have_prev(listing: Any) -> None:
    svc, api, _ = listing
    body = api.get("/", params={"$top": "2", "$skip": "2", "iModelId": "m1", "exportType": "CESIUM"}).json()
    links = body["_links"]
    assert links["self"]["href"] == f"{svc.api_url}/?$top=2&$skip=2&iModelId=m1&exportType=CESIUM"
    assert links["prev"]["href"] == f"{svc.api_url}/?$top=2&$skip=0&iModelId=m1&exportType=CESIUM"
    assert links["next"]["href"] == f"{svc.api_url}/?$top=2&$skip=4&iModelId=m1&exportType=CESIUM"
    first = api.get("/", params={"$top": "2"}).json()["_links"]
    assert "prev" not in first


def test_filters(listing: Any) -> None:
    _, api, seeds = listing
    assert len(_all_pages(api, {"iModelId": "m2"})) == 3
    assert {i["id"] for i in _all_pages(api, {"changesetId": "cs1"})} == {
        s.export_id for s in seeds if s.changeset_id == "cs1"
    }
    for spelling in ("3DTiles", "3DTILES"):  # one type, two spellings: either finds both
        both_spellings = _all_pages(api, {"exportType": spelling}, {"Prefer": "return=representation"})
        assert len(both_spellings) == 10 + 3  # 3DTiles and 3DTILES of m1, and m2's 3DTiles
        assert {i["request"]["exportType"] for i in both_spellings} == {"3DTiles", "3DTILES"}
    cesium = _all_pages(api, {"exportType": "CESIUM"}, {"Prefer": "return=representation"})
    assert [i["request"]["exportType"] for i in cesium] == ["CESIUM"] * 5
    # tileVersion: exports without one are compatible with every version.
    versioned = _all_pages(api, {"tileVersion": "2", "iModelId": "m1"}, {"Prefer": "return=representation"})
    assert len(versioned) == 20
    assert _all_pages(api, {"iModelId": "nobody"}) == []


def test_order_by_date(listing: Any) -> None:
    _, api, _ = listing
    headers = {"Prefer": "return=representation"}
    ascending = _all_pages(api, {"$orderBy": "date:asc", "$top": "7"}, headers)
    descending = _all_pages(api, {"$orderBy": "date:desc", "$top": "7"}, headers)
    stamps = [i["lastModified"] for i in ascending]
    assert stamps == sorted(stamps)
    assert [i["id"] for i in descending] == [i["id"] for i in reversed(ascending)]


def test_prefer_representation_gives_full_exports_with_links(listing: Any) -> None:
    svc, api, _ = listing
    response = api.get("/", params={"$top": "3"}, headers={"Prefer": "return=representation"})
    assert response.headers["preference-applied"] == "return=representation"
    for item in response.json()["exports"]:
        assert set(item) >= {"id", "displayName", "status", "lastModified", "request", "_links"}
        assert item["_links"]["mesh"]["href"].startswith(svc.storage_origin)
    minimal = api.get("/", params={"$top": "3"}, headers={"Prefer": "return=minimal"})
    assert minimal.headers["preference-applied"] == "return=minimal"
    assert all("request" not in i for i in minimal.json()["exports"])
    cdn = api.get("/", params={"$top": "1", "cdn": "1"}, headers={"Prefer": "return=representation"})
    assert cdn.json()["exports"][0]["_links"]["mesh"]["href"].startswith(svc.cdn_origin + "/mesh-export/")


def test_top_is_capped_and_defaults_to_the_page_size() -> None:
    with LocalMeshExportService(seed_exports=make_seed_exports(12), default_page_size=5, max_page_size=8) as svc:
        headers = {"Authorization": f"Bearer {svc.token}"}
        assert len(httpx.get(svc.api_url + "/", headers=headers).json()["exports"]) == 5
        capped = httpx.get(svc.api_url + "/", params={"$top": "100"}, headers=headers).json()
        assert len(capped["exports"]) == 8
        assert "$top=8&$skip=8" in capped["_links"]["next"]["href"]


@pytest.mark.parametrize(
    ("params", "headers", "target"),
    [
        ({"$top": "0"}, {}, "$top"),
        ({"$top": "x"}, {}, "$top"),
        ({"$top": "1.5"}, {}, "$top"),
        ({"$skip": "-1"}, {}, "$skip"),
        ({"$orderBy": "name"}, {}, "$orderBy"),
        ({"cdn": "yes"}, {}, "cdn"),
        ({"exportType": "GLTF"}, {}, "exportType"),
        ({"exportType": "3dtiles"}, {}, "exportType"),
        ({"exportType": "cesium"}, {}, "exportType"),
        ({}, {"Prefer": "return=everything"}, "Prefer"),
    ],
)
def test_get_exports_rejects_bad_parameters_with_the_documented_422(
    api: httpx.Client, params: dict[str, str], headers: dict[str, str], target: str
) -> None:
    response = api.get("/", params=params, headers=headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("InvalidMeshExportRequest", "Cannot list exports.")
    assert error["details"][0]["target"] == target


def test_a_parameter_given_twice_is_rejected(api: httpx.Client) -> None:
    response = api.get("/?$top=1&$top=2")
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["message"] == "$top must be given once."


def test_the_collection_answers_with_and_without_a_trailing_slash(svc: LocalMeshExportService) -> None:
    headers = {"Authorization": f"Bearer {svc.token}"}
    assert httpx.get(svc.api_url, headers=headers).status_code == 200
    assert httpx.get(svc.api_url + "/", headers=headers).status_code == 200


def test_unknown_paths_and_methods_answer_in_the_bentley_shape(svc: LocalMeshExportService, api: httpx.Client) -> None:
    missing = httpx.get(svc.api_origin + "/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceNotFound"
    patched = api.patch("/some-id")
    assert patched.status_code == 405
    assert set(patched.headers["allow"].replace(" ", "").split(",")) >= {"GET", "DELETE"}
    assert patched.json()["error"]["code"] == "MethodNotAllowed"


@pytest.mark.parametrize(
    ("style", "pattern"),
    [
        ("z", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
        ("dotnet", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00"),
    ],
)
def test_timestamp_styles(style: str, pattern: str) -> None:
    with LocalMeshExportService(seed_exports=make_seed_exports(2), timestamp_style=style) as svc:
        body = httpx.get(svc.api_url + "/", headers={"Authorization": f"Bearer {svc.token}"}).json()
        assert all(re.fullmatch(pattern, item["lastModified"]) for item in body["exports"])


def test_mixed_timestamps_alternate_between_exports() -> None:
    with LocalMeshExportService(seed_exports=make_seed_exports(4), timestamp_style="mixed") as svc:
        body = httpx.get(svc.api_url + "/", headers={"Authorization": f"Bearer {svc.token}"}).json()
        stamps = [item["lastModified"] for item in body["exports"]]
        assert {s.endswith("Z") for s in stamps} == {True, False}


@pytest.mark.parametrize(
    ("choice", "accept", "expected"),
    [
        ("application/json", "application/vnd.bentley.itwin-platform.v1+json", "application/json"),
        ("application/vnd.bentley.itwin-platform.v1+json", "*/*", "application/vnd.bentley.itwin-platform.v1+json"),
        (
            "negotiate",
            "application/vnd.bentley.itwin-platform.v1+json",
            "application/vnd.bentley.itwin-platform.v1+json",
        ),
        ("negotiate", "application/json", "application/json"),
    ],
)
def test_media_type_of_json_bodies(choice: str, accept: str, expected: str) -> None:
    with LocalMeshExportService(media_type=choice) as svc:
        response = httpx.get(svc.api_url + "/", headers={"Authorization": f"Bearer {svc.token}", "Accept": accept})
        assert response.headers["content-type"] == expected
        unauthorized = httpx.get(svc.api_url + "/", headers={"Accept": accept})
        assert unauthorized.headers["content-type"] == expected


def test_seed_exports_keep_an_unlisted_status_and_progressing_seeds_move() -> None:
    clock = ManualClock()
    seeds = [
        SeedExport(imodel_id="m", index=0, status="Queued"),
        SeedExport(imodel_id="m", index=1, status="InProgress"),
        SeedExport(imodel_id="m", index=2, status="Invalid", error="Broken"),
    ]
    with LocalMeshExportService(clock=clock, seed_exports=seeds, not_started_s=1, in_progress_s=1) as svc:
        ids = [s.export_id for s in seeds]
        assert [svc.export_status(i) for i in ids] == ["Queued", "InProgress", "Invalid"]
        clock.advance(1)
        assert [svc.export_status(i) for i in ids] == ["Queued", "Complete", "Invalid"]
        body = httpx.get(f"{svc.api_url}/{ids[2]}", headers={"Authorization": f"Bearer {svc.token}"}).json()
        assert body["export"]["error"] == "Broken"


def test_add_export_at_run_time_lists_first(svc: LocalMeshExportService, api: httpx.Client) -> None:
    new_id = svc.add_export(imodel_id="runtime-imodel", index=7, export_type="IMODEL")
    first = api.get("/", params={"$top": "1"}).json()["exports"][0]
    assert first["id"] == new_id
    assert svc.export_status(new_id) == "Complete"
