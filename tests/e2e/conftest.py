"""End to end: the real client (sync and async) over real sockets against the local Mesh Export
service, both on 127.0.0.1, each test with its own service from the plugin's factory.

The service runs on a `ManualClock`, and the client's `sleep` advances that same clock: a wait
for an export moves the export through its statuses exactly as far as the client slept, with no
real sleeping and no timing in any assertion. The client's transport is a real
`httpx.HTTPTransport` that also records each request (URL, headers) as sent, so a test can see
the query of every page and the headers that went out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from itwin_mesh_export import AsyncMeshExportClient, MeshExportClient, RetryPolicy
from itwin_mesh_export.testing import LocalMeshExportService, ManualClock

# The plugin's fixture, used as a user of the package would (a non-root conftest may not set
# `pytest_plugins`): every service it starts is stopped after the test.
from itwin_mesh_export.testing.pytest_plugin import mesh_export_service_factory  # noqa: F401
from tests.overlay.conftest import Api as ClientDriver

KINDS = ["sync", "async"]
IMODEL = "b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc"
OTHER_IMODEL = "0c2f9d7e-31a4-4e58-9b61-2f0d4b8a6c13"
FAILING_IMODEL = "deadbeef-0000-4000-8000-00000000bad1"
FAILURE_TEXT = "The iModel could not be opened: the briefcase is corrupt."


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


class Recording(httpx.HTTPTransport):
    """A real socket transport that keeps every request it sent."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return super().handle_request(request)


class AsyncRecording(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await super().handle_async_request(request)


class Api(ClientDriver):
    """The overlay tests' driver (every call awaited, the sync client's calls inline; `collect`
    gathers an iteration) on a real client of either kind, talking to `svc` over real sockets.
    `sleeps` are the client's waits, each of which moved the service's clock forward."""

    def __init__(self, kind: str, svc: LocalMeshExportService, clock: ManualClock, token: Any) -> None:
        self.svc = svc
        self.sleeps: list[float] = []
        common: dict[str, Any] = {"base_url": svc.api_url, "clock": clock.now, "retry": RetryPolicy(random=lambda: 0.0)}
        client: MeshExportClient | AsyncMeshExportClient
        self.transport: Recording | AsyncRecording
        if kind == "sync":

            def sleep(seconds: float) -> None:
                self.sleeps.append(seconds)
                clock.advance(seconds)

            self.transport = Recording()
            client = MeshExportClient(token, transport=self.transport, sleep=sleep, **common)
        else:

            async def asleep(seconds: float) -> None:
                self.sleeps.append(seconds)
                clock.advance(seconds)

            self.transport = AsyncRecording()
            client = AsyncMeshExportClient(token, transport=self.transport, sleep=asleep, **common)
        super().__init__(kind, client)

    @property
    def requests(self) -> list[httpx.Request]:
        return self.transport.requests

    async def close(self) -> None:
        await super().close()
        # A provider passed in (ClientCredentials) belongs to the caller, who closes its pool.
        close = getattr(self.client.token_provider, "close", None)
        if callable(close):
            close()


@pytest.fixture
async def make_api(kind: str, clock: ManualClock) -> Any:
    """`make_api(svc, token=None)` -> Api of the parametrized kind (the service's static token by
    default); every client is closed after the test."""
    made: list[Api] = []

    def make(svc: LocalMeshExportService, token: Any = None) -> Api:
        api = Api(kind, svc, clock, svc.token if token is None else token)
        made.append(api)
        return api

    yield make
    for api in made:
        await api.close()


@pytest.fixture
def service(
    mesh_export_service_factory: Callable[..., LocalMeshExportService],  # noqa: F811
    clock: ManualClock,
) -> Callable[..., LocalMeshExportService]:
    """`service(**ServiceConfig fields)`: a running service on the test's manual clock."""

    def start(**fields: Any) -> LocalMeshExportService:
        return mesh_export_service_factory(clock=clock, **fields)

    return start


def api_requests(svc: LocalMeshExportService, method: str | None = None) -> list[tuple[str, str, int]]:
    """(method, path, status) of every API request the service received (not the token endpoint)."""
    return [
        (r.method, r.path, r.status)
        for r in svc.requests
        if r.origin == "api" and r.path.startswith("/mesh-export") and (method is None or r.method == method)
    ]
