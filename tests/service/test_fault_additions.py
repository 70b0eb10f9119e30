"""What the reliability work (issue 8) added to the local service: a redirect fault, faults that
apply to a share of requests, and the raw (still percent-encoded) path in the request log."""

from __future__ import annotations

import httpx
import pytest

from itwin_mesh_export.testing import (
    Fault,
    FaultRegistry,
    FaultSpecError,
    LocalMeshExportService,
    Route,
    make_seed_exports,
)
from tests.service.conftest import SEED_IMODEL

SEED = make_seed_exports(1, imodel_id=SEED_IMODEL)[0].export_id


def test_a_redirect_fault_on_the_api_and_on_storage(svc: LocalMeshExportService) -> None:
    elsewhere = f"{svc.cdn_origin}/somewhere"
    svc.faults.add(Fault.redirect("get-export", elsewhere))
    svc.faults.add(Fault.redirect("storage", elsewhere, status=302))
    api = httpx.get(f"{svc.api_url}/{SEED}", headers={"Authorization": f"Bearer {svc.token}"})
    assert (api.status_code, api.headers["location"]) == (307, elsewhere)
    storage = httpx.get(svc.tileset_url(SEED))
    assert (storage.status_code, storage.headers["location"]) == (302, elsewhere)
    assert len(svc.faults) == 0


def test_a_redirect_needs_a_location_and_travels_as_json(svc: LocalMeshExportService) -> None:
    with pytest.raises(FaultSpecError, match="needs a location"):
        Fault(route="get-export", kind="redirect")  # type: ignore[arg-type]
    fault = Fault.redirect("token", "http://elsewhere.example/x", times=None, probability=0.5)
    assert Fault.from_dict(fault.to_dict()) == fault
    response = httpx.post(svc.admin_url + "/faults", json=fault.to_dict())
    assert response.status_code == 201


@pytest.mark.parametrize("probability", [0, -0.1, 1.5, True, "half"])
def test_a_probability_must_be_a_share(probability: object) -> None:
    with pytest.raises(FaultSpecError, match="probability must be"):
        Fault.server_error("get-export", probability=probability)


def test_a_fault_with_a_probability_applies_to_about_that_share_reproducibly() -> None:
    def draws(seed: int) -> list[bool]:
        registry = FaultRegistry([Fault.server_error("get-export", times=None, probability=0.25)], seed=seed)
        return [registry.take(Route.GET_EXPORT, "/x") is not None for _ in range(2000)]

    first = draws(7)
    assert first == draws(7)  # the same seed, the same requests faulted
    assert first != draws(8)
    assert 400 < sum(first) < 600  # a quarter of 2000, give or take


def test_faults_with_probabilities_are_drawn_in_order_and_fall_through() -> None:
    registry = FaultRegistry(
        [
            Fault.server_error("get-export", 503, times=None, probability=0.5),
            Fault.server_error("get-export", 520, times=None),
        ]
    )
    statuses = [fault.status for fault in (registry.take(Route.GET_EXPORT, "/x") for _ in range(400)) if fault]
    assert set(statuses) == {503, 520} and len(statuses) == 400
    assert 100 < statuses.count(503) < 300  # about half drew the first fault


def test_the_request_log_keeps_the_raw_path(svc: LocalMeshExportService) -> None:
    httpx.get(f"{svc.api_url}/a%2Fb%20c%3F", headers={"Authorization": f"Bearer {svc.token}"})
    (record,) = svc.requests
    assert record.path == "/mesh-export/a/b c?" and record.raw_path == "/mesh-export/a%2Fb%20c%3F"
