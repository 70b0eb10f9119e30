"""ensure_export reuses a Complete or in-flight export found through Get Exports, compares
exportType case-insensitively, and never starts duplicates, even when called concurrently."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest

from itwin_mesh_export import ExportStatus, ExportType
from itwin_mesh_export._ensure import AsyncKeyedLock, KeyedLock, ReuseKey, pick_reusable
from itwin_mesh_export_generated.models import Export
from tests.overlay.conftest import API, FakeClock, export_json, make_client, page_json

pytestmark = pytest.mark.anyio


class FakeService:
    """Just enough of Mesh Export for ensure: a list of exports, Get Exports in pages of the
    requested size with next links, and Start Export appending a NotStarted one."""

    def __init__(self, exports: list[dict[str, Any]] | None = None) -> None:
        self.exports = list(exports or [])
        self.posts: list[dict[str, Any]] = []
        self.lists = 0
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            if request.method == "POST":
                body = json.loads(request.read())
                self.posts.append(body)
                created = export_json(
                    f"new-{len(self.posts)}",
                    "NotStarted",
                    imodel_id=body["iModelId"],
                    changeset_id=body.get("changesetId", "latest"),
                    export_type=body.get("exportType", "3DTiles"),
                )
                self.exports.insert(0, created)
                return httpx.Response(202, json={"export": created})
            self.lists += 1
            params = request.url.params
            selected = [
                e
                for e in self.exports
                if e["request"]["iModelId"] == params.get("iModelId", e["request"]["iModelId"])
                and e["request"]["changesetId"] == params.get("changesetId", e["request"]["changesetId"])
            ]
            top, skip = int(params.get("$top", "100")), int(params.get("$skip", "0"))
            page = selected[skip : skip + top]
            next_href = f"{API}/?$top={top}&$skip={skip + top}" if skip + top < len(selected) else None
            return httpx.Response(200, json=page_json(page, next_href=next_href))


async def test_a_complete_export_is_reused_whatever_the_case_of_its_type(api_factory: Any) -> None:
    service = FakeService([export_json("old", "Complete", changeset_id="c1", export_type="3DTILES")])
    export = await api_factory(service).call("ensure_export", "m1", "c1", ExportType.THREE_D_TILES)
    assert export.id == "old" and service.posts == []


async def test_an_in_flight_export_is_reused(api_factory: Any) -> None:
    service = FakeService([export_json("running", "InProgress", changeset_id="c1")])
    export = await api_factory(service).call("ensure_export", "m1", "c1")
    assert export.id == "running" and export.status is ExportStatus.IN_PROGRESS and service.posts == []


async def test_complete_is_preferred_to_in_flight_and_newest_to_oldest(api_factory: Any) -> None:
    service = FakeService(
        [
            export_json("running", "InProgress", changeset_id="c1", last_modified="2024-08-23T00:00:00Z"),
            export_json("old", "Complete", changeset_id="c1", last_modified="2024-08-20T00:00:00Z"),
            export_json("newer", "Complete", changeset_id="c1", last_modified="2024-08-21T00:00:00.0000000+00:00"),
        ]
    )
    export = await api_factory(service).call("ensure_export", "m1", "c1")
    assert export.id == "newer"


@pytest.mark.parametrize(
    "existing",
    [
        [],
        [export_json("failed", "Invalid", changeset_id="c1")],
        [export_json("other-changeset", "Complete", changeset_id="c0")],
        [export_json("other-type", "Complete", changeset_id="c1", export_type="CESIUM")],
        [export_json("other-imodel", "Complete", changeset_id="c1", imodel_id="m2")],
    ],
    ids=["none", "invalid", "other-changeset", "other-type", "other-imodel"],
)
async def test_nothing_reusable_starts_one_export(api_factory: Any, existing: list[dict[str, Any]]) -> None:
    service = FakeService(existing)
    export = await api_factory(service).call("ensure_export", "m1", "c1", "3DTILES")
    assert export.id == "new-1" and export.status is ExportStatus.NOT_STARTED
    assert service.posts == [{"iModelId": "m1", "changesetId": "c1", "exportType": "3DTILES"}]


async def test_a_retried_pipeline_does_not_start_a_duplicate(api_factory: Any) -> None:
    service = FakeService([])
    api = api_factory(service)
    first = await api.call("ensure_export", "m1", "c1")
    second = await api.call("ensure_export", "m1", "c1")
    assert first.id == second.id == "new-1"
    assert len(service.posts) == 1


async def test_reuse_is_found_on_a_later_page(api_factory: Any) -> None:
    others = [export_json(f"x{i}", "Invalid", changeset_id="c1") for i in range(150)]
    service = FakeService([*others, export_json("keeper", "Complete", changeset_id="c1")])
    export = await api_factory(service).call("ensure_export", "m1", "c1")
    assert export.id == "keeper" and service.posts == [] and service.lists == 2


async def test_without_a_changeset_the_newest_changeset_decides(api_factory: Any) -> None:
    # Listed newest changeset first, as the API does without a changeset filter.
    service = FakeService(
        [
            export_json("latest-failed", "Invalid", changeset_id="c9"),
            export_json("old-complete", "Complete", changeset_id="c8"),
        ]
    )
    export = await api_factory(service).call("ensure_export", "m1")
    assert export.id == "new-1"  # the latest changeset has no usable export: start one for it
    assert service.posts == [{"iModelId": "m1", "exportType": "3DTiles"}]
    again = await api_factory(service).call("ensure_export", "m1")
    assert again.id == "new-1" and len(service.posts) == 1


def test_the_changeset_index_outranks_list_order() -> None:
    exports = [
        Export.from_dict(export_json("a", "Complete", changeset_id="c1", changeset_index="4")),
        Export.from_dict(export_json("b", "InProgress", changeset_id="c2", changeset_index="12")),
    ]
    found = pick_reusable(exports, imodel_id="m1", changeset_id=None, export_type="3dtiles")
    assert found is not None and found.id == "b"


@pytest.mark.parametrize("index", ["²", "١٢", "-3", "4.5", " "])
def test_a_changeset_index_that_is_not_ascii_digits_falls_back_to_list_order(index: str) -> None:
    exports = [
        Export.from_dict(export_json("a", "Complete", changeset_id="c1", changeset_index=index)),
        Export.from_dict(export_json("b", "Complete", changeset_id="c2", changeset_index="12")),
    ]
    found = pick_reusable(exports, imodel_id="m1", changeset_id=None, export_type="3DTiles")
    assert found is not None and found.id == "b"  # the one with a usable index outranks it, no ValueError


class CountingLock(KeyedLock):
    """The client's per-export lock, counting callers that reached it and callers let through."""

    def __init__(self) -> None:
        super().__init__()
        self.cond = threading.Condition()
        self.arrived = self.entered = self.listing = 0

    @contextmanager
    def hold(self, key: ReuseKey) -> Iterator[None]:
        with self.cond:
            self.arrived += 1
            self.cond.notify_all()
        with super().hold(key):
            with self.cond:
                self.entered += 1
                self.cond.notify_all()
            yield


class AsyncCountingLock(AsyncKeyedLock):
    def __init__(self) -> None:
        super().__init__()
        self.arrived = self.entered = self.listing = 0

    @asynccontextmanager
    async def hold(self, key: ReuseKey) -> AsyncIterator[None]:
        self.arrived += 1
        async with super().hold(key):
            self.entered += 1
            yield


def test_concurrent_sync_ensures_start_one_export() -> None:
    service = FakeService([])
    locks = CountingLock()

    def handler(request: httpx.Request) -> httpx.Response:
        # Hold the first listings (already answered: no export yet) until all 8 callers reached
        # ensure's lock and every caller it let through has listed: without the lock, all 8
        # would see an empty list and start an export each.
        first_round = request.method == "GET" and not service.posts
        response = service(request)
        if first_round:
            with locks.cond:
                locks.listing += 1
                locks.cond.notify_all()
                assert locks.cond.wait_for(lambda: locks.arrived == 8 and locks.listing == locks.entered, timeout=10)
        return response

    client: Any = make_client("sync", handler, FakeClock())
    client._io._locks = locks
    results: list[str] = []
    barrier = threading.Barrier(8)

    def run() -> None:
        barrier.wait()
        results.append(client.ensure_export("m1", "c1").id)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == ["new-1"] * 8 and len(service.posts) == 1


async def test_concurrent_async_ensures_start_one_export() -> None:
    service = FakeService([])
    locks = AsyncCountingLock()

    async def handler(request: httpx.Request) -> httpx.Response:
        first_round = request.method == "GET" and not service.posts
        response = service(request)
        if first_round:
            locks.listing += 1
            for _ in range(100_000):
                if locks.arrived == 8 and locks.listing == locks.entered:
                    break
                await asyncio.sleep(0)  # a yield to the other tasks, not a wait
            else:
                raise AssertionError("the other tasks never reached ensure_export")
        return response

    client: Any = make_client("async", handler, FakeClock())  # type: ignore[arg-type]
    client._io._locks = locks
    exports = await asyncio.gather(*(client.ensure_export("m1", "c1") for _ in range(8)))
    assert {e.id for e in exports} == {"new-1"} and len(service.posts) == 1
    # Different exports do not wait for each other, and the per-key locks are dropped after use.
    await asyncio.gather(client.ensure_export("m1", "c2"), client.ensure_export("m2", "c1"))
    assert len(service.posts) == 3
    assert locks._locks == {}
