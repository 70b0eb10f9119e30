"""Fixtures for the overlay tests: a fake clock, scripted MockTransport handlers, real-shaped
bodies, and one facade that drives the sync or the async client through the same scenario."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest

from itwin_mesh_export import AsyncMeshExportClient, MeshExportClient, RetryPolicy

API = "https://api.bentley.com/mesh-export"
SIGNATURE = "c2lnbmF0dXJlLXNlY3JldA"
SIGNED_HREF = (
    "https://example.blob.core.windows.net/exports/e1"
    f"?sv=2021-08-06&se=2024-08-22T04%3A18%3A43Z&sr=c&sp=rl&sig={SIGNATURE}"
)
TOKEN = "eyJhbGciOi.token-secret.value"


class FakeClock:
    """Monotonic seconds that move only when something sleeps. Records every sleep."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, seconds
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def export_json(
    export_id: str = "e1",
    status: str = "Complete",
    *,
    imodel_id: str = "m1",
    changeset_id: str = "c1",
    export_type: str = "3DTiles",
    last_modified: str = "2024-08-22T03:18:43Z",
    href: str | None = SIGNED_HREF,
    error: str | None = None,
    changeset_index: str | None = None,
) -> dict[str, Any]:
    """An export as the reference pages show it (representation)."""
    request: dict[str, Any] = {"iModelId": imodel_id, "changesetId": changeset_id, "exportType": export_type}
    if changeset_index is not None:
        request["changesetIndex"] = changeset_index
    body: dict[str, Any] = {
        "id": export_id,
        "displayName": "My iModel",
        "status": status,
        "lastModified": last_modified,
        "request": request,
    }
    if href is not None and status == "Complete":
        body["_links"] = {"mesh": {"href": href}}
    if error is not None:
        body["error"] = error
    return body


def page_json(exports: list[dict[str, Any]], *, next_href: str | None = None) -> dict[str, Any]:
    links: dict[str, Any] = {"self": {"href": f"{API}/?$top=100&$skip=0"}}
    if next_href is not None:
        links["next"] = {"href": next_href}
    return {"exports": exports, "_links": links}


Reply = httpx.Response | BaseException | Callable[[httpx.Request], httpx.Response]


def respond(
    status: int, body: Any = None, *, headers: dict[str, str] | None = None, text: str | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    """A reply factory: a fresh httpx.Response each time it is used."""

    def make(_: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return make


class Script:
    """A MockTransport handler that answers with `replies` in order (the last one repeats) and
    records every request. A reply is a factory, or an exception to raise."""

    def __init__(self, *replies: Reply) -> None:
        assert replies
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []
        # The Authorization header as each request carried it (a replay reuses the request object).
        self.authorizations: list[str | None] = []
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.authorizations.append(request.headers.get("authorization"))
        self.bodies.append(request.read())
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return reply(request)

    @property
    def count(self) -> int:
        return len(self.requests)


class Api:
    """Drives either client with one scenario: every call is awaited (the sync client's calls
    simply run inline), `collect` gathers `iter_exports` from an iterator or an async iterator."""

    def __init__(self, kind: str, client: MeshExportClient | AsyncMeshExportClient) -> None:
        self.kind = kind
        self.client = client

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.client, name)(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def collect(self, *args: Any, **kwargs: Any) -> list[Any]:
        iterator = self.client.iter_exports(*args, **kwargs)
        if hasattr(iterator, "__aiter__"):
            return [item async for item in iterator]
        return list(iterator)

    async def close(self) -> None:
        if isinstance(self.client, AsyncMeshExportClient):
            await self.client.aclose()
        else:
            self.client.close()


def make_client(
    kind: str,
    handler: Callable[[httpx.Request], httpx.Response],
    clock: FakeClock,
    **kwargs: Any,
) -> MeshExportClient | AsyncMeshExportClient:
    kwargs.setdefault("token", TOKEN)
    kwargs.setdefault("retry", RetryPolicy(random=lambda: 0.0))
    transport = httpx.MockTransport(handler)
    if kind == "sync":
        return MeshExportClient(transport=transport, sleep=clock.sleep, clock=clock, **kwargs)
    return AsyncMeshExportClient(transport=transport, sleep=clock.asleep, clock=clock, **kwargs)


KINDS = ["sync", "async"]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def api_factory(kind: str, clock: FakeClock) -> Callable[..., Api]:
    """`api_factory(handler, **client_kwargs)` -> Api for the parametrized client kind."""

    def build(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> Api:
        return Api(kind, make_client(kind, handler, clock, **kwargs))

    return build


def all_text(values: Iterable[object]) -> str:
    return "\n".join(str(v) + "\n" + repr(v) for v in values)
