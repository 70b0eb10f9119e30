"""The clients' wiring: headers, base URL, timeouts, context managers, with_options, the four
operations' requests as the generated functions build them, and dates."""

from __future__ import annotations

import json
import platform
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from itwin_mesh_export import (
    DEFAULT_BASE_URL,
    AsyncMeshExportClient,
    ClientCredentials,
    ExportStatus,
    ExportType,
    InvalidArgumentError,
    MeshExportClient,
    TilerConfigItem,
    __version__,
    last_modified_at,
    mesh_href,
    parse_timestamp,
)
from itwin_mesh_export_generated.models import Export
from tests.overlay.conftest import SIGNED_HREF, TOKEN, Script, export_json, respond

pytestmark = pytest.mark.anyio

OK = respond(200, {"export": export_json()})


async def test_every_request_carries_accept_and_an_identifying_user_agent(api_factory: Any) -> None:
    script = Script(OK)
    await api_factory(script).call("get_export", "e1")
    headers = script.requests[0].headers
    assert headers["accept"] == "application/vnd.bentley.itwin-platform.v1+json"
    assert headers["user-agent"] == f"itwin-mesh-export/{__version__} python/{platform.python_version()}"
    assert re.fullmatch(r"itwin-mesh-export/\d+\.\d+\.\d+\S* python/3\.\d+\.\d+", headers["user-agent"])


async def test_an_application_user_agent_goes_first(api_factory: Any) -> None:
    script = Script(OK)
    await api_factory(script, headers={"User-Agent": "my-pipeline/2.0", "X-Trace": "t1"}).call("get_export", "e1")
    headers = script.requests[0].headers
    assert headers["user-agent"].startswith("my-pipeline/2.0 itwin-mesh-export/")
    assert headers["x-trace"] == "t1"


async def test_the_four_operations_build_their_requests_from_the_spec(api_factory: Any) -> None:
    script = Script(
        OK,
        respond(202, {"export": export_json("new", "NotStarted")}),
        respond(204),
    )
    api = api_factory(script)
    await api.call("get_export", "e/1 ?", cdn=True)
    started = await api.call(
        "start_export", "m1", "c1", ExportType.CESIUM, tiler_config={"maxTileSize": 512, "draco": True}
    )
    assert await api.call("delete_export", "new") is None
    get, post, delete = script.requests
    assert (get.method, str(get.url)) == ("GET", f"{DEFAULT_BASE_URL}/e%2F1%20%3F?cdn=1")
    assert (post.method, str(post.url)) == ("POST", f"{DEFAULT_BASE_URL}/")
    assert post.headers["content-type"] == "application/json"
    assert json.loads(script.bodies[1]) == {
        "iModelId": "m1",
        "changesetId": "c1",
        "exportType": "CESIUM",
        "tilerConfig": [{"key": "maxTileSize", "value": 512}, {"key": "draco", "value": True}],
    }
    assert (delete.method, str(delete.url)) == ("DELETE", f"{DEFAULT_BASE_URL}/new")
    assert started.status is ExportStatus.NOT_STARTED


async def test_tiler_config_items_and_defaults(api_factory: Any) -> None:
    script = Script(respond(202, {"export": export_json("new", "NotStarted")}))
    api = api_factory(script)
    await api.call("start_export", "m1", tiler_config=[TilerConfigItem(key="k", value="v")])
    assert json.loads(script.bodies[0]) == {
        "iModelId": "m1",
        "exportType": "3DTiles",
        "tilerConfig": [{"key": "k", "value": "v"}],
    }


async def test_the_base_url_is_overridable(api_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script(OK)
    await api_factory(script, base_url="https://qa-api.bentley.com/mesh-export/").call("get_export", "e1")
    assert str(script.requests[0].url) == "https://qa-api.bentley.com/mesh-export/e1"
    monkeypatch.setenv("ITWIN_MESH_EXPORT_BASE_URL", "https://dev-api.bentley.com/mesh-export")
    await api_factory(script).call("get_export", "e2")
    assert str(script.requests[1].url) == "https://dev-api.bentley.com/mesh-export/e2"


@pytest.mark.parametrize("url", ["https://api.bentley.com/mesh-export?x=1", "https://user:pw@api.bentley.com/m", ""])
def test_a_base_url_with_a_query_or_credentials_is_refused(url: str) -> None:
    with pytest.raises(InvalidArgumentError):
        MeshExportClient(TOKEN, base_url=url)


@pytest.mark.parametrize(
    "timeout",
    [None, 0, -1, float("inf"), httpx.Timeout(None), httpx.Timeout(5.0, read=None), httpx.Timeout(float("inf"))],
)
def test_a_timeout_is_never_none(timeout: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        MeshExportClient(TOKEN, timeout=timeout)


async def test_the_default_timeout_is_connect_5_read_30(api_factory: Any) -> None:
    script = Script(OK)
    await api_factory(script, deadline_s=None).call("get_export", "e1")
    assert script.requests[0].extensions["timeout"] == {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 30.0}


async def test_with_options_changes_the_timeout_for_its_calls_only(api_factory: Any) -> None:
    script = Script(OK)
    api = api_factory(script, deadline_s=None)
    quick = api.client.with_options(timeout=2.0)
    result = quick.get_export("e1")
    if hasattr(result, "__await__"):
        await result
    await api.call("get_export", "e1")
    assert script.requests[0].extensions["timeout"]["read"] == 2.0
    assert script.requests[1].extensions["timeout"]["read"] == 30.0


async def test_an_accept_header_in_any_case_replaces_the_default(api_factory: Any) -> None:
    script = Script(OK)
    await api_factory(script, headers={"accept": "application/json"}).call("get_export", "e1")
    assert script.requests[0].headers.get_list("accept") == ["application/json"]


@pytest.mark.parametrize("headers", [{"X-Count": 5}, {b"X-Raw": "v"}, [("X-A", "b")]])
def test_headers_that_are_not_str_are_a_typed_error(headers: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="header"):
        MeshExportClient(TOKEN, headers=headers)


def test_the_sync_client_closes_as_a_context_manager() -> None:
    with MeshExportClient(TOKEN, transport=httpx.MockTransport(Script(OK))) as client:
        client.get_export("e1")
    assert client._http.is_closed


async def test_the_async_client_closes_as_a_context_manager() -> None:
    async with AsyncMeshExportClient(TOKEN, transport=httpx.MockTransport(Script(OK))) as client:
        await client.get_export("e1")
    assert client._http.is_closed


async def test_cookies_are_neither_stored_nor_sent(api_factory: Any) -> None:
    script = Script(respond(200, {"export": export_json()}, headers={"Set-Cookie": "ARRAffinity=abc; Path=/"}))
    api = api_factory(script)
    await api.call("get_export", "e1")
    await api.call("get_export", "e1")
    assert "cookie" not in script.requests[1].headers
    assert len(api.client._http.cookies) == 0


def test_cookies_set_by_hand_are_dropped_not_shared_between_clients() -> None:
    script = Script(OK, OK)
    with MeshExportClient(TOKEN, transport=httpx.MockTransport(script)) as first:
        first._http.cookies["session"] = "one"
        first._http.cookies.set("other", "two", domain="api.bentley.com")
        first._http.cookies.update({"third": "three"})
        first.get_export("e1")
        with MeshExportClient(TOKEN, transport=httpx.MockTransport(script)) as second:
            second.get_export("e1")
            assert len(first._http.cookies) == len(second._http.cookies) == 0
    assert all("cookie" not in request.headers for request in script.requests)


async def test_get_mesh_href_returns_the_fresh_signed_link(api_factory: Any) -> None:
    script = Script(OK, respond(200, {"export": export_json(status="InProgress")}))
    api = api_factory(script)
    assert await api.call("get_mesh_href", "e1") == SIGNED_HREF
    assert await api.call("get_mesh_href", "e1") is None


def test_mesh_href_of_exports_with_and_without_links() -> None:
    assert mesh_href(Export.from_dict(export_json())) == SIGNED_HREF
    assert mesh_href(Export.from_dict(export_json(href=None))) is None


def test_the_client_repr_names_its_url_and_hides_its_token() -> None:
    client = MeshExportClient(TOKEN)
    assert repr(client) == f"MeshExportClient(base_url='{DEFAULT_BASE_URL}', token=StaticToken(token=<hidden>))"
    client.close()


# ---- dates ----


@pytest.mark.parametrize(
    "text",
    ["2024-08-22T03:18:43Z", "2024-08-22T03:18:43.0000000+00:00", "2024-08-22t03:18:43z", "2024-08-22T05:18:43+02:00"],
)
def test_both_timestamp_forms_give_the_same_aware_datetime(text: str) -> None:
    parsed = parse_timestamp(text)
    assert parsed.tzinfo is not None
    assert parsed == datetime(2024, 8, 22, 3, 18, 43, tzinfo=UTC)


def test_fractions_are_kept_to_the_microsecond_and_naive_means_utc() -> None:
    assert parse_timestamp("2024-08-22T03:18:43.1234567Z").microsecond == 123456
    assert parse_timestamp("2024-08-22T03:18:43") == datetime(2024, 8, 22, 3, 18, 43, tzinfo=UTC)


@pytest.mark.parametrize("junk", ["", "yesterday", "2024-08-22", "2024-13-45T99:99:99Z", "x" * 500, 5, None])
def test_junk_timestamps_raise_a_typed_error(junk: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        parse_timestamp(junk)


def test_last_modified_at_is_none_for_junk() -> None:
    assert last_modified_at(Export.from_dict(export_json(last_modified="2024-08-22T03:18:43.0000000+00:00"))) == (
        datetime(2024, 8, 22, 3, 18, 43, tzinfo=UTC)
    )
    assert last_modified_at(Export.from_dict(export_json(last_modified="not a date"))) is None


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_closing_a_client_closes_the_provider_it_made_and_not_one_it_was_given(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[object] = []
    monkeypatch.setattr(ClientCredentials, "close", lambda self: closed.append(self))
    monkeypatch.setenv("ITWIN_CLIENT_ID", "service-app")
    monkeypatch.setenv("ITWIN_CLIENT_SECRET", "secret-value")
    monkeypatch.delenv("ITWIN_ACCESS_TOKEN", raising=False)
    given = ClientCredentials("other-app", "other-secret")
    for token, expected in ((None, 1), (given, 0)):
        closed.clear()
        transport = httpx.MockTransport(Script(OK))
        if kind == "sync":
            client: Any = MeshExportClient(token, transport=transport)
            client.close()
        else:
            client = AsyncMeshExportClient(token, transport=transport)
            await client.aclose()
        assert len(closed) == expected, token  # made from the environment: closed; the caller's: left open
        assert given not in closed
