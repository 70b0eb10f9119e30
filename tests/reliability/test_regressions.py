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
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from itwin_mesh_export import (
    AsyncMeshExportClient,
    ClientCredentials,
    InternalServerError,
    InvalidArgumentError,
    MeshExportClient,
)
from tests.overlay.conftest import Script, export_json, respond

API = "https://api.bentley.com/mesh-export"
BODY = httpx.Response(200, json={"export": export_json("e1")}).content


class _BreakingStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that sends its first bytes, then fails as a reset connection does."""

    def __init__(self, data: bytes, fail: bool) -> None:
        self._data = data
        self._fail = fail

    def __iter__(self) -> Iterator[bytes]:
        yield self._data[:10]
        if self._fail:
            raise httpx.ReadError("[Errno 104] Connection reset by peer")
        yield self._data[10:]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self:
            yield chunk


class _BreaksOnce(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Answers 200 with a streamed body; the first body breaks off after 10 bytes."""

    def __init__(self) -> None:
        self.requests = 0

    def _respond(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        stream = _BreakingStream(BODY, fail=self.requests == 1)
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=stream)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._respond(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self._respond(request)


def test_a_get_whose_body_breaks_off_is_retried_sync() -> None:
    transport = _BreaksOnce()
    sleeps: list[float] = []
    with MeshExportClient("tok", base_url=API, transport=transport, sleep=sleeps.append) as client:
        assert client.get_export("e1").id == "e1"
    assert transport.requests == 2 and len(sleeps) == 1


def test_a_get_whose_body_breaks_off_is_retried_async() -> None:
    transport = _BreaksOnce()

    async def no_sleep(_: float) -> None:
        pass

    async def main() -> str:
        async with AsyncMeshExportClient("tok", base_url=API, transport=transport, sleep=no_sleep) as client:
            return (await client.get_export("e1")).id

    assert asyncio.run(main()) == "e1"
    assert transport.requests == 2


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
def test_the_token_request_is_repeated_after_a_5xx_or_a_timeout(first: object) -> None:
    replies = [first, respond(200, {"access_token": "fresh", "expires_in": 3600})]
    seen: list[httpx.Request] = []

    def ims(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        reply = replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        assert callable(reply)
        response: httpx.Response = reply(request)
        return response

    sleeps: list[float] = []
    credentials = ClientCredentials(
        "id",
        "secret",
        token_url="https://ims.example/connect/token",
        transport=httpx.MockTransport(ims),
        sleep=sleeps.append,
    )
    assert credentials.get_token() == "fresh"
    assert len(seen) == 2 and len(sleeps) == 1


def test_start_export_is_still_not_repeated_after_a_5xx() -> None:
    script = Script(respond(503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}))
    client = MeshExportClient("tok", base_url=API, transport=httpx.MockTransport(script), sleep=lambda _: None)
    with client, pytest.raises(InternalServerError):
        client.start_export("m1")
    assert script.count == 1
