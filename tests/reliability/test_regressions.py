"""The bugs the reliability work found, each pinned by a test that fails without its fix (the fault
matrix shows them over real sockets too; these need no server, so they say exactly what broke).

1. A GET whose body broke off mid-way (reset, cut short, stalled past the read timeout) was not
   retried: httpx reads a body only after the transport returns, so the failure happened outside
   the retry transport, and a single reset of a Get Export answer failed the call. The retry
   transport now reads successful bodies inside the attempt.
2. Export ids `.` and `..` stayed dot segments after percent-encoding, and httpx resolved them:
   `get_export("..")` sent the bearer token to the root of the API host, `delete_export(".")`
   sent DELETE to the collection. They are refused as invalid arguments, before any request.
3. The token endpoint's POST was treated like Start Export (never repeated after a 5xx or a
   timeout), so one 503 from IMS failed a call that would have survived the same 503 from the API.
   Fetching a token has no effect to repeat: it is now retried like a GET.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from itwin_mesh_export import (
    AsyncMeshExportClient,
    ClientCredentials,
    InternalServerError,
    InvalidArgumentError,
    MeshExportClient,
)
from tests.download.fake_storage import _CutStream
from tests.overlay.conftest import Reply, Script, export_json, respond

API = "https://api.bentley.com/mesh-export"
BODY = httpx.Response(200, json={"export": export_json("e1")}).content


def _breaks_off_once() -> Script:
    """Answers 200 with a streamed body; the first body breaks off after 10 bytes, as a reset
    connection does (the download tests' cut stream), the next is whole."""

    def cut(_: httpx.Request) -> httpx.Response:
        stream = _CutStream(BODY, 10, None)
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=stream)

    return Script(cut, respond(200, {"export": export_json("e1")}))


def test_a_get_whose_body_breaks_off_is_retried_sync() -> None:
    script = _breaks_off_once()
    sleeps: list[float] = []
    transport = httpx.MockTransport(script)
    with MeshExportClient("tok", base_url=API, transport=transport, sleep=sleeps.append) as client:
        assert client.get_export("e1").id == "e1"
    assert script.count == 2 and len(sleeps) == 1


def test_a_get_whose_body_breaks_off_is_retried_async() -> None:
    script = _breaks_off_once()

    async def no_sleep(_: float) -> None:
        pass

    async def main() -> str:
        transport = httpx.MockTransport(script)
        async with AsyncMeshExportClient("tok", base_url=API, transport=transport, sleep=no_sleep) as client:
            return (await client.get_export("e1")).id

    assert asyncio.run(main()) == "e1"
    assert script.count == 2


@pytest.mark.parametrize("export_id", [".", "..", " .. "])
@pytest.mark.parametrize("method", ["get_export", "delete_export", "wait_for_export", "get_mesh_href"])
def test_dot_segment_export_ids_are_refused_before_any_request(export_id: str, method: str) -> None:
    script = Script(respond(200, {"export": export_json("e1")}))
    client = MeshExportClient("tok", base_url=API, transport=httpx.MockTransport(script))
    with client, pytest.raises(InvalidArgumentError, match="path segment"):
        getattr(client, method)(export_id)
    assert script.count == 0


@pytest.mark.parametrize("export_id", ["...", "..x", "a..b", "../x", "./x", ".x"])
def test_ids_that_only_contain_dots_go_out_as_one_encoded_segment(export_id: str) -> None:
    script = Script(respond(200, {"export": export_json(export_id)}))
    with MeshExportClient("tok", base_url=API, transport=httpx.MockTransport(script)) as client:
        assert client.get_export(export_id).id == export_id
    (request,) = script.requests
    prefix, _, segment = request.url.raw_path.decode().rpartition("/")
    assert prefix == "/mesh-export" and httpx.URL("/" + segment).path == "/" + export_id


@pytest.mark.parametrize(
    "first", [respond(503, {"error": "temporarily_unavailable"}), httpx.ReadTimeout("slow")], ids=["503", "timeout"]
)
def test_the_token_request_is_repeated_after_a_5xx_or_a_timeout(first: Reply) -> None:
    ims = Script(first, respond(200, {"access_token": "fresh", "expires_in": 3600}))
    sleeps: list[float] = []
    credentials = ClientCredentials(
        "id",
        "secret",
        token_url="https://ims.example/connect/token",
        transport=httpx.MockTransport(ims),
        sleep=sleeps.append,
    )
    assert credentials.get_token() == "fresh"
    assert [r.url.path for r in ims.requests] == ["/connect/token"] * 2 and len(sleeps) == 1


def test_start_export_is_still_not_repeated_after_a_5xx() -> None:
    script = Script(respond(503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}))
    client = MeshExportClient("tok", base_url=API, transport=httpx.MockTransport(script), sleep=lambda _: None)
    with client, pytest.raises(InternalServerError):
        client.start_export("m1")
    assert script.count == 1
