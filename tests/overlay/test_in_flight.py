"""The async client lets at most `max_in_flight` requests into httpx's connection pool at once.

Why it matters (BENCHMARKS.md, waiting at scale): a thousand concurrent waits queued inside
httpcore's pool cost ~25 ms of CPU per request; queued on the client's semaphore they cost what a
request costs. These tests count concurrency inside the transport; they time nothing.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from itwin_mesh_export import APIConnectionError, AsyncMeshExportClient
from itwin_mesh_export._backends import DEFAULT_MAX_IN_FLIGHT
from tests.overlay.conftest import API, TOKEN, export_json

pytestmark = pytest.mark.anyio


class _Gate:
    """A transport handler that holds every request until `release` and records how many were
    inside it at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.seen = 0
        self.release = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.inside += 1
        self.seen += 1
        self.most = max(self.most, self.inside)
        try:
            await self.release.wait()
        finally:
            self.inside -= 1
        return httpx.Response(200, json={"export": export_json(request.url.path.rsplit("/", 1)[-1])})


async def _settle(gate: _Gate, expected: int) -> None:
    for _ in range(1000):
        if gate.seen >= expected:
            return
        await asyncio.sleep(0)


async def test_concurrent_calls_beyond_the_limit_wait_outside_the_pool() -> None:
    gate = _Gate()
    calls = DEFAULT_MAX_IN_FLIGHT * 3
    async with AsyncMeshExportClient(TOKEN, base_url=API, transport=httpx.MockTransport(gate)) as client:
        tasks = [asyncio.create_task(client.get_export(f"e{i}")) for i in range(calls)]
        await _settle(gate, DEFAULT_MAX_IN_FLIGHT)
        for _ in range(50):  # give the others every chance to get in
            await asyncio.sleep(0)
        assert gate.inside == DEFAULT_MAX_IN_FLIGHT  # the limit is reached, not undershot
        gate.release.set()
        exports = await asyncio.gather(*tasks)
    assert [e.id for e in exports] == [f"e{i}" for i in range(calls)]
    assert gate.most == DEFAULT_MAX_IN_FLIGHT
    assert gate.seen == calls


async def test_an_error_frees_its_slot() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")  # raised while the request holds the slot

    transport = httpx.MockTransport(handler)
    async with AsyncMeshExportClient(TOKEN, base_url=API, transport=transport, max_attempts=1) as client:
        slots = client._io.slots
        assert isinstance(slots, asyncio.Semaphore)
        for _ in range(DEFAULT_MAX_IN_FLIGHT + 3):  # more errors than slots: each left its slot free
            with pytest.raises(APIConnectionError):
                await asyncio.wait_for(client.get_export("e1"), timeout=5)
        assert slots._value == DEFAULT_MAX_IN_FLIGHT
