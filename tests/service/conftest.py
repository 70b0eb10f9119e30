"""Shared pieces of the local service's tests: one service per module, and an HTTP client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from itwin_mesh_export.testing import LocalMeshExportService, ManualClock, make_seed_exports

SEED_IMODEL = "b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc"
OTHER_IMODEL = "0c2f9d7e-31a4-4e58-9b61-2f0d4b8a6c13"
FAILING_IMODEL = "deadbeef-0000-4000-8000-00000000bad1"


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def svc(clock: ManualClock) -> Iterator[LocalMeshExportService]:
    """A service on a manual clock: 5 Complete seeds of one iModel, 2 of another, one that fails."""
    seeds = make_seed_exports(5, imodel_id=SEED_IMODEL) + make_seed_exports(2, imodel_id=OTHER_IMODEL)
    with LocalMeshExportService(
        clock=clock,
        seed_exports=seeds,
        not_started_s=10,
        in_progress_s=20,
        failing_imodels={FAILING_IMODEL: "The iModel could not be opened."},
    ) as service:
        yield service


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "svc" in request.fixturenames:
        service: LocalMeshExportService = request.getfixturevalue("svc")
        service.faults.clear()
        service.clear_requests()


@pytest.fixture
def api(svc: LocalMeshExportService) -> Iterator[httpx.Client]:
    """An httpx client on the API with the static token."""
    with httpx.Client(base_url=svc.api_url, headers={"Authorization": f"Bearer {svc.token}"}, timeout=10) as client:
        yield client
