"""Get Export and Get Exports through the overlay and through raw httpx + `json.loads`.

Both talk to the loopback server (`benchmarks._loopback`) with the same headers, one connection
kept alive. The raw variant is what a user without this package would write: a request and a
`json.loads` of its body, no model, no check. The overlay variant is the public API:
`client.get_export(id)` (typed, checked `Export`) and `client.iter_exports()` (every page, each
item a checked full `Export`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

__all__ = ["overlay_get_export", "overlay_list", "raw_get_export", "raw_list"]

TOKEN = "benchmark-token"
ACCEPT = "application/vnd.bentley.itwin-platform.v1+json"


class _Round:
    """A round callable with an optional event loop that lives as long as the worker."""

    def __init__(self, body: Callable[[], int], close: Callable[[], None]) -> None:
        self._body = body
        self.close = close

    def __call__(self) -> int:
        return self._body()


def _async_round(make: Callable[[], Any], body: Callable[[Any], Any], close: Callable[[Any], Any]) -> _Round:
    """A round that runs `body(client)` on an event loop kept for the worker's life (the client is
    made inside it, so its connections stay open from round to round)."""
    loop = asyncio.new_event_loop()
    client = loop.run_until_complete(_made(make))

    def finish() -> None:
        loop.run_until_complete(close(client))
        loop.close()

    return _Round(lambda: int(loop.run_until_complete(body(client))), finish)


async def _made(make: Callable[[], Any]) -> Any:
    return make()


def _raw_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", "Accept": ACCEPT}


# ---- Get Export, one call at a time ----


def overlay_get_export(base_url: str, export_id: str, calls: int, mode: str) -> _Round:
    from itwin_mesh_export import AsyncMeshExportClient, MeshExportClient

    if mode == "sync":
        client = MeshExportClient(TOKEN, base_url=base_url)

        def run() -> int:
            get = client.get_export
            for _ in range(calls):
                get(export_id)
            return calls

        return _Round(run, client.close)

    async def arun(aclient: AsyncMeshExportClient) -> int:
        get = aclient.get_export
        for _ in range(calls):
            await get(export_id)
        return calls

    return _async_round(lambda: AsyncMeshExportClient(TOKEN, base_url=base_url), arun, lambda c: c.aclose())


def raw_get_export(base_url: str, export_id: str, calls: int, mode: str) -> _Round:
    import httpx

    url = f"{base_url}/{export_id}"
    if mode == "sync":
        client = httpx.Client(headers=_raw_headers())

        def run() -> int:
            get, loads = client.get, json.loads
            for _ in range(calls):
                loads(get(url).content)
            return calls

        return _Round(run, client.close)

    async def arun(aclient: httpx.AsyncClient) -> int:
        get, loads = aclient.get, json.loads
        for _ in range(calls):
            loads((await get(url)).content)
        return calls

    return _async_round(lambda: httpx.AsyncClient(headers=_raw_headers()), arun, lambda c: c.aclose())


# ---- Get Exports, every page, full representation ----


def overlay_list(base_url: str, expected: int, page_size: int, mode: str) -> _Round:
    from itwin_mesh_export import AsyncMeshExportClient, MeshExportClient

    if mode == "sync":
        client = MeshExportClient(TOKEN, base_url=base_url)

        def run() -> int:
            count = 0
            for _ in client.iter_exports(page_size=page_size):
                count += 1
            return _checked(count, expected)

        return _Round(run, client.close)

    async def arun(aclient: AsyncMeshExportClient) -> int:
        count = 0
        async for _ in aclient.iter_exports(page_size=page_size):
            count += 1
        return _checked(count, expected)

    return _async_round(lambda: AsyncMeshExportClient(TOKEN, base_url=base_url), arun, lambda c: c.aclose())


def raw_list(base_url: str, expected: int, page_size: int, mode: str) -> _Round:
    import httpx

    url = f"{base_url}/"
    headers = {**_raw_headers(), "Prefer": "return=representation"}
    if mode == "sync":
        client = httpx.Client(headers=headers)

        def run() -> int:
            count = skip = 0
            while True:
                page = json.loads(client.get(url, params={"$top": page_size, "$skip": skip}).content)
                for _ in page["exports"]:
                    count += 1
                if "next" not in page.get("_links", {}):
                    return _checked(count, expected)
                skip += page_size

        return _Round(run, client.close)

    async def arun(aclient: httpx.AsyncClient) -> int:
        count = skip = 0
        while True:
            page = json.loads((await aclient.get(url, params={"$top": page_size, "$skip": skip})).content)
            for _ in page["exports"]:
                count += 1
            if "next" not in page.get("_links", {}):
                return _checked(count, expected)
            skip += page_size

    return _async_round(lambda: httpx.AsyncClient(headers=headers), arun, lambda c: c.aclose())


def _checked(count: int, expected: int) -> int:
    if count != expected:
        raise AssertionError(f"listed {count} exports, expected {expected}")
    return count
