"""Waiting at scale: many exports waited for concurrently in one event loop, against the local
service in its own process.

Each round adds fresh exports to the service (NotStarted now, InProgress at once, Complete after
the service's `--in-progress-s`), clears its request log, waits for all of them, then reads the
log back (outside the timing) to count the Get Export requests each export received.

- `overlay_wait`: `AsyncMeshExportClient.wait_for_export` for every export, `asyncio.gather`ed.
- `raw_wait`: the loop a user would write with raw httpx: poll every `poll_interval_s` (no
  backoff) with at most 100 requests in flight (an `asyncio.Semaphore`: without one, httpx's pool
  slows down badly with a thousand queued requests), `json.loads` each answer.

The factories import what the round uses and build and close one throwaway client of their kind
(which loads httpcore and anyio), so that neither side pays a first import inside the timed round:
the package loads its clients lazily (PEP 562), and these rounds run in fresh processes.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections import Counter
from typing import Any

from .._harness import LocalService

__all__ = ["overlay_wait", "raw_wait"]

_RAW_IN_FLIGHT = 100


class _WaitRound:
    def __init__(self, api_url: str, admin_url: str, token: str, count: int, poll_interval_s: float) -> None:
        self.api_url, self.token = api_url, token
        self.service = LocalService(api_url, admin_url, token)
        self.count, self.poll_interval_s = count, poll_interval_s
        self.ids: list[str] = []
        self.durations_s: dict[str, float] = {}

    def prepare(self) -> None:
        imodel = f"wait-{uuid.uuid4()}"
        request = {"count": self.count, "imodel_id": imodel, "status": "NotStarted"}
        added = self.service.admin("POST", "/exports", request)
        self.ids = list(added["ids"])
        self.service.admin("DELETE", "/requests")

    def after(self) -> dict[str, Any]:
        log = self.service.admin("GET", "/requests")["requests"]
        polls = Counter(r["path"].rsplit("/", 1)[-1] for r in log if r["method"] == "GET" and r["origin"] == "api")
        # A poller sending one request per interval, the first at once, sends floor(d / P) + 1 in d s.
        rates = [
            polls[export_id] / (math.floor(self.durations_s[export_id] / self.poll_interval_s) + 1)
            for export_id in self.ids
        ]
        return {
            "requests": sum(polls[export_id] for export_id in self.ids),
            "max_requests_per_interval": max(rates),
            "mean_requests_per_interval": sum(rates) / len(rates),
            "wait_s_max": max(self.durations_s.values()),
        }

    async def _timed(self, export_id: str, wait: Any) -> Any:
        started = time.monotonic()
        result = await wait
        self.durations_s[export_id] = time.monotonic() - started
        return result


class _OverlayWait(_WaitRound):
    def __call__(self) -> int:
        from itwin_mesh_export import AsyncMeshExportClient, ExportStatus  # loaded by the factory

        async def main() -> None:
            async with AsyncMeshExportClient(self.token, base_url=self.api_url) as client:
                waits = [
                    self._timed(i, client.wait_for_export(i, poll_interval_s=self.poll_interval_s, timeout_s=600))
                    for i in self.ids
                ]
                exports = await asyncio.gather(*waits)
                if any(export.status is not ExportStatus.COMPLETE for export in exports):
                    raise AssertionError("a wait returned an export that is not Complete")

        asyncio.run(main())
        return self.count


class _RawWait(_WaitRound):
    def __call__(self) -> int:
        import httpx

        async def one(client: httpx.AsyncClient, limit: asyncio.Semaphore, export_id: str) -> None:
            while True:
                async with limit:
                    response = await client.get(f"{self.api_url}/{export_id}")
                response.raise_for_status()
                if json.loads(response.content)["export"]["status"] in ("Complete", "Invalid"):
                    return
                await asyncio.sleep(self.poll_interval_s)

        async def main() -> None:
            limit = asyncio.Semaphore(_RAW_IN_FLIGHT)
            headers = {"Authorization": f"Bearer {self.token}"}
            async with httpx.AsyncClient(headers=headers, timeout=60) as client:
                await asyncio.gather(*(self._timed(i, one(client, limit, i)) for i in self.ids))

        asyncio.run(main())
        return self.count


def overlay_wait(api_url: str, admin_url: str, token: str, count: int, poll_interval_s: float) -> _OverlayWait:
    # The package loads its clients on first use (PEP 562): load them here, not in a round.
    from itwin_mesh_export import AsyncMeshExportClient, ExportStatus  # noqa: F401

    async def warm() -> None:
        async with AsyncMeshExportClient(token, base_url=api_url):
            pass

    asyncio.run(warm())
    return _OverlayWait(api_url, admin_url, token, count, poll_interval_s)


def raw_wait(api_url: str, admin_url: str, token: str, count: int, poll_interval_s: float) -> _RawWait:
    import httpx

    async def warm() -> None:
        async with httpx.AsyncClient():
            pass

    asyncio.run(warm())
    return _RawWait(api_url, admin_url, token, count, poll_interval_s)
