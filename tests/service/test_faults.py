"""Fault injection: every kind, on the API, the token endpoint and storage; counts, paths, admin."""

from __future__ import annotations

import email.utils
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from itwin_mesh_export.testing import (
    Fault,
    FaultKind,
    FaultRegistry,
    FaultSpecError,
    LocalMeshExportService,
    ManualClock,
    Route,
    make_seed_exports,
)
from tests.service.conftest import SEED_IMODEL

SEED = make_seed_exports(1, imodel_id=SEED_IMODEL)[0].export_id


def _get_export(svc: LocalMeshExportService) -> httpx.Response:
    return httpx.get(f"{svc.api_url}/{SEED}", headers={"Authorization": f"Bearer {svc.token}"})


def test_rate_limit_with_retry_after_in_seconds_for_the_next_two_requests(svc: LocalMeshExportService) -> None:
    svc.faults.add(Fault.rate_limit("get-export", retry_after_s=2.2, times=2))
    for _ in range(2):
        response = _get_export(svc)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "3"
        assert response.json()["error"]["code"] == "RateLimitExceeded"
    assert _get_export(svc).status_code == 200
    assert len(svc.faults) == 0


def test_rate_limit_with_retry_after_as_an_http_date(svc: LocalMeshExportService, clock: ManualClock) -> None:
    svc.faults.add(Fault.rate_limit("get-exports", retry_after_s=30, http_date=True))
    response = httpx.get(svc.api_url + "/", headers={"Authorization": f"Bearer {svc.token}"})
    assert response.status_code == 429
    when = email.utils.parsedate_to_datetime(response.headers["retry-after"])
    assert when.timestamp() == int(clock.now()) + 30


@pytest.mark.parametrize("status", [500, 502, 503, 504, 520])
def test_server_errors_including_nonstandard_ones(svc: LocalMeshExportService, status: int) -> None:
    svc.faults.add(Fault.server_error("get-export", status))
    response = _get_export(svc)
    assert response.status_code == status
    assert "error" in response.json()
    assert _get_export(svc).status_code == 200


def test_a_status_the_spec_does_not_list(svc: LocalMeshExportService) -> None:
    svc.faults.add(Fault.status_code("delete-export", 409))
    response = httpx.delete(f"{svc.api_url}/{SEED}", headers={"Authorization": f"Bearer {svc.token}"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "Conflict"
    assert svc.export_status(SEED) == "Complete"  # the fault answered instead of the operation


def test_a_status_with_a_raw_body(svc: LocalMeshExportService) -> None:
    svc.faults.add(Fault.status_code("get-export", 403, body='{"error":{"code":"InsufficientPermissions"}}'))
    response = _get_export(svc)
    assert response.status_code == 403
    assert response.json() == {"error": {"code": "InsufficientPermissions"}}


def test_an_html_error_page(svc: LocalMeshExportService) -> None:
    svc.faults.add(Fault.html("get-exports", 502))
    response = httpx.get(svc.api_url + "/", headers={"Authorization": f"Bearer {svc.token}"})
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in response.text


def test_an_empty_body(svc: LocalMeshExportService) -> None:
    svc.faults.add(Fault.empty_body("get-export"))
    response = _get_export(svc)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"
    assert response.headers["content-type"] == "application/json"


def test_a_delay_then_the_normal_answer(svc: LocalMeshExportService) -> None:
    svc.faults.add(Fault.delay("get-export", 0.05))
    response = _get_export(svc)
    assert response.status_code == 200
    assert response.json()["export"]["id"] == SEED
    assert len(svc.faults) == 0  # it was applied (no timing assertion: the answer proves the path)


def test_a_delay_longer_than_the_client_timeout_times_out(svc: LocalMeshExportService) -> None:
    svc.faults.add(Fault.delay("get-export", 1.0))
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{svc.api_url}/{SEED}", headers={"Authorization": f"Bearer {svc.token}"}, timeout=0.2)


def test_truncated_json_body(svc: LocalMeshExportService) -> None:
    svc.faults.add(Fault.truncate("get-export", after_bytes=10))
    with pytest.raises(httpx.RemoteProtocolError, match="received 10 bytes"):
        _get_export(svc)


def test_connection_reset_mid_body(svc: LocalMeshExportService) -> None:
    svc.faults.add(Fault.reset("get-exports"))
    # A reset (RST) is a ReadError; a normal close (FIN) would be a RemoteProtocolError (see truncate).
    with pytest.raises(httpx.ReadError):
        httpx.get(svc.api_url + "/", headers={"Authorization": f"Bearer {svc.token}"})
    assert httpx.get(svc.api_url + "/", headers={"Authorization": f"Bearer {svc.token}"}).status_code == 200


def test_expired_links_from_the_api(svc: LocalMeshExportService) -> None:
    svc.faults.add(Fault.expired_signature("get-export"))
    href = _get_export(svc).json()["export"]["_links"]["mesh"]["href"]
    base, _, query = href.partition("?")
    refused = httpx.get(f"{base}/tileset.json?{query}")
    assert refused.status_code == 403
    assert "must be after current time" in (ET.fromstring(refused.content).findtext("AuthenticationErrorDetail") or "")
    fresh = _get_export(svc).json()["export"]["_links"]["mesh"]["href"]
    base, _, query = fresh.partition("?")
    assert httpx.get(f"{base}/tileset.json?{query}").status_code == 200


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        (Fault.unknown_enum("get-export", "status", "Queued"), lambda e: e["status"] == "Queued"),
        (
            Fault.unknown_enum("get-export", "request.exportType", "3DFT"),
            lambda e: e["request"]["exportType"] == "3DFT",
        ),
        (Fault.unknown_fields("get-export", {"newField": 1}), lambda e: e["newField"] == 1),
        (
            Fault.missing_fields("get-export", ("status", "request.iModelId")),
            lambda e: "status" not in e and "iModelId" not in e["request"],
        ),
        (Fault.wrong_types("get-export"), lambda e: e["status"] == 42 and e["lastModified"] is True),
    ],
)
def test_body_faults_change_the_export(svc: LocalMeshExportService, fault: Fault, check: Any) -> None:
    svc.faults.add(fault)
    export = _get_export(svc).json()["export"]
    assert check(export)
    assert _get_export(svc).json()["export"]["status"] == "Complete"


def test_body_faults_apply_to_every_listed_export_and_to_the_top_level(svc: LocalMeshExportService) -> None:
    svc.faults.add(
        Fault(
            "get-exports",
            FaultKind.BODY,
            set_fields={"status": "Queued"},
            remove_fields=("$._links.self",),
        )
    )
    body = httpx.get(svc.api_url + "/", params={"$top": "3"}, headers={"Authorization": f"Bearer {svc.token}"}).json()
    assert [e["status"] for e in body["exports"]] == ["Queued"] * 3
    assert "self" not in body["_links"]
    assert "next" in body["_links"]


def test_faults_on_the_token_endpoint(svc: LocalMeshExportService) -> None:
    form = {"grant_type": "client_credentials", "client_id": svc.client_id, "client_secret": svc.client_secret}
    svc.faults.add(Fault.server_error("token", 503))
    failed = httpx.post(svc.token_url, data=form)
    assert failed.status_code == 503
    assert failed.json()["error"] == "server_error"
    svc.faults.add(Fault.rate_limit("token", retry_after_s=1))
    assert httpx.post(svc.token_url, data=form).headers["retry-after"] == "1"
    svc.faults.add(Fault.missing_fields("token", ("access_token",)))
    assert "access_token" not in httpx.post(svc.token_url, data=form).json()
    svc.faults.add(Fault.wrong_types("token", {"expires_in": "soon"}))
    assert httpx.post(svc.token_url, data=form).json()["expires_in"] == "soon"
    assert httpx.post(svc.token_url, data=form).status_code == 200


@pytest.fixture
def tileset_url(svc: LocalMeshExportService) -> str:
    return svc.tileset_url(SEED)


@pytest.mark.parametrize("status", [500, 503])
def test_storage_errors_are_azure_xml(svc: LocalMeshExportService, tileset_url: str, status: int) -> None:
    svc.faults.add(Fault.server_error("storage", status))
    response = httpx.get(tileset_url)
    assert response.status_code == status
    assert response.headers["x-ms-error-code"] == {500: "InternalError", 503: "ServerBusy"}[status]
    assert httpx.get(tileset_url).status_code == 200


def test_storage_rate_limit_and_expired_signature(svc: LocalMeshExportService, tileset_url: str) -> None:
    svc.faults.add(Fault.rate_limit("storage", retry_after_s=4))
    limited = httpx.get(tileset_url)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "4")
    svc.faults.add(Fault.expired_signature("storage"))
    expired = httpx.get(tileset_url)
    assert expired.status_code == 403
    assert expired.headers["x-ms-error-code"] == "AuthenticationFailed"
    assert httpx.get(tileset_url).status_code == 200


def test_storage_reset_truncate_and_stall(svc: LocalMeshExportService, tileset_url: str) -> None:
    whole = svc.file_bytes(SEED, "tileset.json")
    svc.faults.add(Fault.truncate("storage", after_bytes=100))
    with pytest.raises(httpx.RemoteProtocolError, match="received 100 bytes"):
        httpx.get(tileset_url)
    svc.faults.add(Fault.reset("storage", after_bytes=100))
    received = b""
    with pytest.raises(httpx.ReadError), httpx.stream("GET", tileset_url) as response:
        for chunk in response.iter_raw():
            received += chunk
    assert len(received) <= 100
    svc.faults.add(Fault.stall("storage", 0.05, after_bytes=100))
    stalled = httpx.get(tileset_url)
    assert stalled.content == whole


def test_a_stall_longer_than_the_read_timeout_times_out(svc: LocalMeshExportService, tileset_url: str) -> None:
    svc.faults.add(Fault.stall("storage", 1.0, after_bytes=10))
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(tileset_url, timeout=0.2)


def test_storage_faults_respect_a_range(svc: LocalMeshExportService, tileset_url: str) -> None:
    whole = svc.file_bytes(SEED, "tileset.json")
    svc.faults.add(Fault.truncate("storage", after_bytes=5))
    with pytest.raises(httpx.RemoteProtocolError, match="received 5 bytes, expected 50"):
        httpx.get(tileset_url, headers={"Range": "bytes=100-149"})
    ranged = httpx.get(tileset_url, headers={"Range": "bytes=100-149"})
    assert ranged.content == whole[100:150]


def test_a_path_pattern_limits_a_fault_to_matching_files(svc: LocalMeshExportService, tileset_url: str) -> None:
    svc.faults.add(Fault.server_error("storage", 500, times=None, path="*.glb"))
    base, _, query = tileset_url.partition("?")
    glb = base.replace("tileset.json", "tiles/0/0.glb") + "?" + query
    assert httpx.get(tileset_url).status_code == 200
    assert httpx.get(glb).status_code == 500
    assert httpx.get(glb).status_code == 500  # times=None: until removed
    svc.faults.clear()
    assert httpx.get(glb).status_code == 200


def test_cdn_faults_are_separate_from_blob_faults(svc: LocalMeshExportService) -> None:
    svc.faults.add(Fault.html("cdn", 504))
    assert httpx.get(svc.tileset_url(SEED)).status_code == 200
    response = httpx.get(svc.tileset_url(SEED, cdn=True))
    assert response.status_code == 504
    assert response.headers["content-type"].startswith("text/html")


def test_a_fault_for_any_route_applies_to_the_next_request_whatever_it_is(svc: LocalMeshExportService) -> None:
    svc.faults.add(Fault.server_error(Route.ANY, 500, times=2))
    assert httpx.get(svc.tileset_url(SEED)).status_code == 500
    assert _get_export(svc).status_code == 500
    assert _get_export(svc).status_code == 200


def test_faults_armed_at_start() -> None:
    with LocalMeshExportService(faults=[Fault.server_error("get-exports", 500, times=1)]) as svc:
        headers = {"Authorization": f"Bearer {svc.token}"}
        assert httpx.get(svc.api_url + "/", headers=headers).status_code == 500
        assert httpx.get(svc.api_url + "/", headers=headers).status_code == 200


def test_faults_over_the_admin_endpoint(svc: LocalMeshExportService) -> None:
    admin = svc.admin_url + "/faults"
    created = httpx.post(
        admin, json=[Fault.server_error("get-export", 502, times=3).to_dict(), {"route": "storage", "kind": "reset"}]
    )
    assert created.status_code == 201
    first, second = created.json()["ids"]
    listed = httpx.get(admin).json()["faults"]
    assert [(f["id"], f["remaining"], f["fault"]["status"]) for f in listed] == [(first, 3, 502), (second, 1, None)]
    assert _get_export(svc).status_code == 502
    assert httpx.get(admin).json()["faults"][0]["remaining"] == 2
    assert httpx.delete(f"{admin}/{first}").status_code == 204
    assert httpx.delete(f"{admin}/{first}").status_code == 404
    assert _get_export(svc).status_code == 200
    assert httpx.delete(admin).status_code == 204
    assert httpx.get(admin).json()["faults"] == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"route": "nowhere", "kind": "status"}, "unknown fault route"),
        ({"route": "get-export", "kind": "explode"}, "unknown fault kind"),
        ({"route": "get-export"}, "needs kind"),
        ({"route": "get-export", "kind": "status", "status": 99}, "status must be"),
        ({"route": "get-export", "kind": "status", "colour": "red"}, "unknown fault field"),
        ({"route": "storage", "kind": "body", "set_fields": {"a": 1}}, "needs a JSON route"),
        ({"route": "token", "kind": "expired_signature"}, "no meaning"),
        ({"route": "get-export", "kind": "body"}, "needs set_fields or remove_fields"),
        ({"route": "get-export", "kind": "delay", "delay_s": -1}, "delay_s must be"),
        ({"route": "get-export", "kind": "reset", "times": 0}, "times must be"),
        ("not an object", "a fault is a JSON object"),
    ],
)
def test_bad_faults_are_refused_with_a_clear_error(svc: LocalMeshExportService, payload: Any, message: str) -> None:
    response = httpx.post(svc.admin_url + "/faults", json=payload)
    assert response.status_code == 400
    assert message in response.json()["error"]
    with pytest.raises(FaultSpecError, match=message):
        Fault.from_dict(payload)


def test_fault_json_round_trips() -> None:
    fault = Fault.unknown_enum("get-exports", "request.exportType", "3DFT", times=None, path="*/mesh-export/")
    assert Fault.from_dict(fault.to_dict()) == fault


def test_the_registry_counts_uses_and_removes_spent_faults() -> None:
    registry = FaultRegistry([Fault.server_error("get-export", times=2)])
    assert registry.take(Route.GET_EXPORTS, "/x") is None
    assert registry.take(Route.GET_EXPORT, "/x") is not None
    assert registry.armed()[0]["remaining"] == 1
    assert registry.take(Route.GET_EXPORT, "/x") is not None
    assert registry.take(Route.GET_EXPORT, "/x") is None
    with pytest.raises(FaultSpecError):
        registry.add("not a fault")  # type: ignore[arg-type]
