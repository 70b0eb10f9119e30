"""wait_for_export and ensure_export end to end: an export moves through its statuses as the
client's waits move the service's clock."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from itwin_mesh_export import Export, ExportFailedError, ExportStatus, WaitTimeoutError, mesh_href
from itwin_mesh_export.testing import SeedExport
from tests.e2e.conftest import FAILING_IMODEL, FAILURE_TEXT, IMODEL, OTHER_IMODEL, api_requests

pytestmark = pytest.mark.anyio

CHANGESET = "ed94ed9a0704918d36eeb620219f5e17d8858858"


async def test_wait_sees_not_started_then_in_progress_then_complete(service: Any, make_api: Any) -> None:
    svc = service(not_started_s=10, in_progress_s=60)
    api = make_api(svc)
    started = await api.call("start_export", IMODEL, CHANGESET)
    seen: list[Export] = []
    done = await api.call("wait_for_export", started.id, timeout_s=3600, poll_interval_s=5, on_status=seen.append)
    assert [e.status for e in seen] == [ExportStatus.NOT_STARTED, ExportStatus.IN_PROGRESS, ExportStatus.COMPLETE]
    assert seen[-1] is done and done.id == started.id
    href = mesh_href(done)
    assert href is not None and href.startswith(svc.storage_origin)
    # It took the client's own waits (which moved the service's clock) to get there.
    assert 70 <= sum(api.sleeps) < 70 + 30 * 1.2
    polls = api_requests(svc, "GET")
    assert len(polls) == len(api.sleeps) + 1 and all(status == 200 for _, _, status in polls)


async def test_wait_with_cdn_links(service: Any, make_api: Any) -> None:
    svc = service(not_started_s=0, in_progress_s=5)
    api = make_api(svc)
    started = await api.call("start_export", IMODEL)
    done = await api.call("wait_for_export", started.id, poll_interval_s=5, cdn=True)
    assert (mesh_href(done) or "").startswith(svc.cdn_origin)
    assert {dict(r.url.params).get("cdn") for r in api.requests if r.method == "GET"} == {"1"}


async def test_an_invalid_export_fails_the_wait_with_the_service_error_text(service: Any, make_api: Any) -> None:
    svc = service(failing_imodels={FAILING_IMODEL: FAILURE_TEXT}, not_started_s=5, in_progress_s=20)
    api = make_api(svc)
    started = await api.call("start_export", FAILING_IMODEL)
    statuses: list[ExportStatus] = []
    with pytest.raises(ExportFailedError) as raised:
        await api.call("wait_for_export", started.id, poll_interval_s=5, on_status=lambda e: statuses.append(e.status))
    assert (raised.value.export_id, raised.value.error) == (started.id, FAILURE_TEXT)
    assert FAILURE_TEXT in str(raised.value)
    assert statuses[-1] is ExportStatus.INVALID and ExportStatus.COMPLETE not in statuses


async def test_a_wait_that_outlasts_its_timeout(service: Any, make_api: Any) -> None:
    svc = service(not_started_s=0, in_progress_s=100_000)
    api = make_api(svc)
    started = await api.call("start_export", IMODEL)
    with pytest.raises(WaitTimeoutError) as raised:
        await api.call("wait_for_export", started.id, timeout_s=120, poll_interval_s=5)
    error = raised.value
    assert (error.export_id, error.last_status) == (started.id, "InProgress")
    assert error.waited_s == pytest.approx(120)  # the manual clock: exactly the budget, no more
    assert svc.export_status(started.id) == "InProgress"


async def test_ensure_reuses_a_complete_export_without_starting_one(service: Any, make_api: Any) -> None:
    seed = SeedExport(imodel_id=IMODEL, changeset_id=CHANGESET, export_type="3DTILES")
    svc = service(seed_exports=[seed])
    api = make_api(svc)
    export = await api.call("ensure_export", IMODEL, CHANGESET, "3DTiles")  # the type in the other case
    assert export.id == seed.export_id and export.status is ExportStatus.COMPLETE
    assert api_requests(svc, "POST") == []


async def test_ensure_twice_starts_once_and_finds_it_again_when_complete(service: Any, make_api: Any) -> None:
    svc = service(not_started_s=5, in_progress_s=10)
    api = make_api(svc)
    first = await api.call("ensure_export", OTHER_IMODEL)
    second = await api.call("ensure_export", OTHER_IMODEL)
    assert first.status is ExportStatus.NOT_STARTED and second.id == first.id
    assert len(api_requests(svc, "POST")) == 1
    await api.call("wait_for_export", first.id, poll_interval_s=5)
    third = await api.call("ensure_export", OTHER_IMODEL, first.request.changeset_id)
    assert third.id == first.id and third.status is ExportStatus.COMPLETE
    assert len(api_requests(svc, "POST")) == 1


async def test_ensure_does_not_reuse_an_invalid_export(service: Any, make_api: Any) -> None:
    failed = SeedExport(imodel_id=IMODEL, changeset_id=CHANGESET, status="Invalid", error="Out of memory.")
    svc = service(seed_exports=[failed])
    api = make_api(svc)
    export = await api.call("ensure_export", IMODEL, CHANGESET)
    assert export.id != failed.export_id and export.status is ExportStatus.NOT_STARTED
    assert [status for _, _, status in api_requests(svc, "POST")] == [202]


async def test_concurrent_ensures_start_one_export(kind: str, service: Any, make_api: Any) -> None:
    svc = service()
    api = make_api(svc)
    if kind == "async":
        results = await asyncio.gather(*(api.client.ensure_export(IMODEL, CHANGESET) for _ in range(5)))
    else:
        with ThreadPoolExecutor(5) as pool:
            results = list(pool.map(lambda _: api.client.ensure_export(IMODEL, CHANGESET), range(5)))
    assert len({export.id for export in results}) == 1
    assert len(api_requests(svc, "POST")) == 1
