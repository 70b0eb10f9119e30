"""One implementation serves both clients (`_backends`): the sync client runs the same coroutines
on blocking I/O, refuses an awaitable where only a blocking answer can do, closes what a `break`
leaves behind, and every request is built and read by the generated halves, with no context
variable in between."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from itwin_mesh_export import InvalidArgumentError, MeshExportClient
from itwin_mesh_export._backends import run_sync
from itwin_mesh_export_generated.api.exports import delete_export, get_export, get_exports, start_export
from itwin_mesh_export_generated.models import ExportResponse
from tests.conftest import ROOT
from tests.overlay.conftest import API, TOKEN, FakeClock, export_json, page_json

OPERATIONS = (get_export, get_exports, start_export, delete_export)


def test_a_coroutine_that_suspends_under_the_sync_runner_is_refused_not_hung() -> None:
    import asyncio

    async def suspends() -> None:
        await asyncio.sleep(0)  # needs an event loop: the blocking runner has none

    with pytest.raises(InvalidArgumentError, match="AsyncMeshExportClient"):
        run_sync(suspends())


def test_an_async_on_status_given_to_the_sync_client_is_a_typed_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"export": export_json(status="InProgress")})

    async def on_status(export: Any) -> None:
        return None

    clock = FakeClock()
    with (
        MeshExportClient(
            TOKEN, base_url=API, transport=httpx.MockTransport(handler), sleep=clock.sleep, clock=clock
        ) as client,
        pytest.raises(InvalidArgumentError, match="returned an awaitable"),
    ):
        client.wait_for_export("e1", on_status=on_status)


def test_breaking_out_of_a_sync_listing_stops_it_and_closes_it() -> None:
    pages: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        pages.append(str(request.url))
        skip = int(request.url.params.get("$skip", "0"))
        items = [export_json(f"e{skip + i}") for i in range(2)]
        return httpx.Response(200, json=page_json(items, next_href=f"{API}/?$top=2&$skip={skip + 2}"))

    with MeshExportClient(TOKEN, base_url=API, transport=httpx.MockTransport(handler)) as client:
        iterator = client.iter_exports(page_size=2)
        seen = [next(iterator).id for _ in range(3)]  # the first page and one item of the second
        iterator.close()  # what a `break` does
        assert seen == ["e0", "e1", "e2"]
        assert len(pages) == 2
        with pytest.raises(StopIteration):
            next(iterator)
    assert len(pages) == 2


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.__name__.rsplit(".", 1)[-1])
def test_every_operation_module_has_a_public_request_half_and_response_half(operation: Any) -> None:
    assert callable(operation.build_request) and callable(operation.parse_response)
    assert "client" not in inspect.signature(operation.build_request).parameters
    assert list(inspect.signature(operation.parse_response).parameters) == ["response", "raise_on_unexpected_status"]


def test_the_halves_describe_and_read_a_get_export() -> None:
    kwargs = get_export.build_request("a b/c", cdn=1)
    assert kwargs["method"] == "get" and kwargs["url"] == "/a%20b%2Fc" and kwargs["params"] == {"cdn": 1}
    response = httpx.Response(200, json={"export": export_json("e9")})
    parsed = get_export.parse_response(response)
    assert isinstance(parsed, ExportResponse) and parsed.export.id == "e9"
    assert get_export.parse_response(httpx.Response(520, json={})) is None  # not documented: not parsed


def test_the_client_sends_what_the_generated_half_builds() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=page_json([export_json("e1")]))

    with MeshExportClient(TOKEN, base_url=API, transport=httpx.MockTransport(handler)) as client:
        assert [e.id for e in client.iter_exports(imodel_id="m1", order_by="date:desc", page_size=5)] == ["e1"]
    built = get_exports.build_request(
        i_model_id="m1",
        top=5,
        order_by=get_exports.ExportsOrderBy("date:desc"),
        prefer=get_exports.PreferReturn("return=representation"),
    )
    [request] = sent
    assert request.method == built["method"].upper()
    assert dict(request.url.params) == {k: str(v) for k, v in built["params"].items()}
    assert request.headers["Prefer"] == built["headers"]["Prefer"]


def test_no_context_variable_carries_requests_or_responses() -> None:
    pattern = re.compile(r"\bContextVar\b|contextvars")
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "src" / "itwin_mesh_export").rglob("*.py"))
        if pattern.search(Path(path).read_text(encoding="utf-8"))
    ]
    assert offenders == []
