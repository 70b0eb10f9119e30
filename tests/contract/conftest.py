"""Prism servers (one static, one dynamic per test session and worker, started on first use) and
a facade that drives the sync or the async client through one call and checks what Prism saw."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from itwin_mesh_export import AsyncMeshExportClient, MeshExportClient, RetryPolicy
from tests.contract.oracle import Outcome, check_listing, check_single
from tests.contract.prism import VND, AsyncPrismTransport, Exchange, PrismServer, PrismTransport, violations

TOKEN = "contract-test-token"
KINDS = ["sync", "async"]
OPERATIONS = ["get-exports", "get-export", "start-export", "delete-export"]
_METHODS = {
    "get-exports": "iter_exports",
    "get-export": "get_export",
    "start-export": "start_export",
    "delete-export": "delete_export",
}


def _prism(mode: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismServer]:
    server = PrismServer.start("static" if mode == "static" else "dynamic", tmp_path_factory.mktemp(f"prism-{mode}"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def prism_static(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismServer]:
    """`prism mock --errors` of the committed spec: answers from the spec's examples."""
    yield from _prism("static", tmp_path_factory)


@pytest.fixture(scope="session")
def prism_dynamic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismServer]:
    """`prism mock --errors --dynamic`: random responses generated from the spec's schemas."""
    yield from _prism("dynamic", tmp_path_factory)


class Call:
    """One client call against Prism and everything it left behind."""

    def __init__(self, op: str, outcome: Outcome, exchanges: list[Exchange], sleeps: list[float]) -> None:
        self.op = op
        self.outcome = outcome
        self.exchanges = exchanges
        self.sleeps = sleeps

    def wire_problems(self) -> list[str]:
        """Request violations Prism reported, and requests without the client's default headers."""
        problems: list[str] = []
        for number, exchange in enumerate(self.exchanges, start=1):
            request = exchange.request
            found = violations(exchange.response)
            if found:
                problems.append(f"request {number} ({request.method} {request.url}): Prism reported {found}")
            headers = request.headers
            if headers.get("accept") != VND:
                problems.append(f"request {number} has Accept {headers.get('accept')!r}")
            if not headers.get("user-agent", "").startswith("itwin-mesh-export/"):
                problems.append(f"request {number} has User-Agent {headers.get('user-agent')!r}")
            if headers.get("authorization") != f"Bearer {TOKEN}":
                problems.append(f"request {number} has Authorization {headers.get('authorization')!r}")
            prefer = headers.get("prefer")
            if self.op == "get-exports" and not exchange.dropped_prefer and prefer != "return=representation":
                problems.append(f"request {number} has Prefer {prefer!r}")
        return problems

    def problems(self, *, page_size: int = 100) -> list[str]:
        """Everything wrong with this call: on the wire, and in what the client made of the answers."""
        if self.op == "get-exports":
            semantic = check_listing(self.outcome, self.exchanges, self.sleeps, page_size=page_size)
        else:
            body_key = None if self.op == "delete-export" else "export"
            semantic = check_single(self.outcome, self.exchanges, self.sleeps, body_key=body_key)
        return self.wire_problems() + semantic


class ContractClient:
    """The real client (sync or async) on a recording transport, with sleeps recorded instead of
    slept and the retry jitter pinned to 0 so that every wait is known exactly."""

    def __init__(self, kind: str, prism: PrismServer) -> None:
        self.kind = kind
        self.sleeps: list[float] = []
        retry = RetryPolicy(random=lambda: 0.0)
        self.transport: PrismTransport | AsyncPrismTransport
        self.client: MeshExportClient | AsyncMeshExportClient
        if kind == "sync":
            self.transport = PrismTransport()
            self.client = MeshExportClient(
                TOKEN, base_url=prism.url, transport=self.transport, sleep=self.sleeps.append, retry=retry
            )
        else:
            self.transport = AsyncPrismTransport()

            async def asleep(seconds: float) -> None:
                self.sleeps.append(seconds)

            self.client = AsyncMeshExportClient(
                TOKEN, base_url=prism.url, transport=self.transport, sleep=asleep, retry=retry
            )

    async def call(self, op: str, *args: Any, controls: Mapping[str, str] | None = None, **kwargs: Any) -> Call:
        """Run one operation (or a helper method named by its Python name) with Prism `controls`."""
        self.transport.take()
        self.sleeps.clear()
        self.transport.controls = dict(controls or {})
        outcome = Outcome()
        method = getattr(self.client, _METHODS.get(op, op))
        try:
            if op == "get-exports":
                iterator = method(*args, **kwargs)
                if hasattr(iterator, "__aiter__"):
                    async for item in iterator:
                        outcome.items.append(item)
                else:
                    for item in iterator:
                        outcome.items.append(item)
            else:
                result = method(*args, **kwargs)
                outcome.value = await result if inspect.isawaitable(result) else result
        except Exception as exc:  # the oracle judges every exception, bare ones included
            outcome.error = exc
        finally:
            self.transport.controls = {}
        return Call(op, outcome, self.transport.take(), list(self.sleeps))

    async def close(self) -> None:
        if isinstance(self.client, AsyncMeshExportClient):
            await self.client.aclose()
        else:
            self.client.close()
