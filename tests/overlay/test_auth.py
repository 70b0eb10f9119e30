"""Token providers, the bearer auth and its host rule, the 401 replay, and one token request for
20 threads and 20 tasks."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from itwin_mesh_export import (
    AsyncMeshExportClient,
    AuthenticationError,
    CallableToken,
    ClientCredentials,
    InternalServerError,
    InvalidArgumentError,
    MeshExportClient,
    ResponseValidationError,
    StaticToken,
    TokenProvider,
)
from itwin_mesh_export._auth import DEFAULT_TOKEN_URL, BearerTokenAuth
from tests.overlay.conftest import API, TOKEN, FakeClock, Script, export_json, respond

pytestmark = pytest.mark.anyio

SECRET = "client-secret-value-9f8e7d"
OK = respond(200, {"export": export_json()})
UNAUTHORIZED = respond(401, {"error": {"code": "InvalidToken", "message": "Token expired."}})


def ims_token(token: str, expires_in: Any = 3600) -> Any:
    return respond(200, {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"})


def credentials(script: Script, clock: FakeClock | None = None, **kwargs: Any) -> ClientCredentials:
    return ClientCredentials(
        "service-app", SECRET, transport=httpx.MockTransport(script), clock=clock or FakeClock(), **kwargs
    )


def bearer(request: httpx.Request) -> str | None:
    value: str | None = request.headers.get("authorization")
    return value


# ---- static and callable tokens ----


async def test_a_static_token_is_sent_as_a_bearer_header(api_factory: Any) -> None:
    script = Script(OK)
    await api_factory(script, token=f"Bearer {TOKEN}").call("get_export", "e1")
    assert script.authorizations[0] == f"Bearer {TOKEN}"


async def test_a_static_token_is_not_replayed_after_a_401(api_factory: Any) -> None:
    script = Script(UNAUTHORIZED, OK)
    with pytest.raises(AuthenticationError) as caught:
        await api_factory(script).call("get_export", "e1")
    assert script.count == 1
    assert caught.value.code == "InvalidToken"


@pytest.mark.parametrize("bad", ["", "   ", "Bearer ", "abc\r\nX-Evil: 1", "two words"])
def test_a_malformed_token_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        StaticToken(bad)
    assert "Evil" not in str(caught.value)


async def test_a_callable_token_is_asked_on_every_request_and_after_a_401(api_factory: Any) -> None:
    issued: list[str] = []

    def next_token() -> str:
        issued.append(f"tok-{len(issued) + 1}")
        return issued[-1]

    script = Script(OK, UNAUTHORIZED, OK)
    api = api_factory(script, token=next_token)
    await api.call("get_export", "e1")
    await api.call("get_export", "e1")  # 401 with tok-2, replayed with tok-3
    assert script.authorizations == ["Bearer tok-1", "Bearer tok-2", "Bearer tok-3"]


async def test_an_async_token_function_works_with_the_async_client_only() -> None:
    async def fetch() -> str:
        return "async-token"

    script = Script(OK)
    async with AsyncMeshExportClient(fetch, transport=httpx.MockTransport(script)) as client:
        await client.get_export("e1")
    assert script.authorizations[0] == "Bearer async-token"
    with pytest.raises(InvalidArgumentError):
        MeshExportClient(fetch, transport=httpx.MockTransport(script))
    with pytest.raises(InvalidArgumentError):
        CallableToken(lambda: fetch()).get_token()  # an awaitable returned to the sync path


async def test_a_custom_provider_object_is_used_as_is(api_factory: Any) -> None:
    class Rotating:
        def __init__(self) -> None:
            self.invalidated: list[str] = []
            self.current = "first"

        def get_token(self) -> str:
            return self.current

        async def aget_token(self) -> str:
            return self.current

        def invalidate(self, token: str) -> None:
            self.invalidated.append(token)
            self.current = "second"

    provider = Rotating()
    assert isinstance(provider, TokenProvider)
    script = Script(UNAUTHORIZED, OK)
    await api_factory(script, token=provider).call("get_export", "e1")
    assert provider.invalidated == ["first"]
    assert script.authorizations == ["Bearer first", "Bearer second"]


# ---- client credentials ----


async def test_client_credentials_posts_the_form_to_ims_and_caches_the_token(api_factory: Any) -> None:
    ims = Script(ims_token("tok-1"))
    api_script = Script(OK)
    api = api_factory(api_script, token=credentials(ims))
    for _ in range(3):
        await api.call("get_export", "e1")
    assert ims.count == 1
    request = ims.requests[0]
    assert str(request.url) == DEFAULT_TOKEN_URL and request.method == "POST"
    form = parse_qs(request.content.decode())
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": ["service-app"],
        "client_secret": [SECRET],
        "scope": ["itwin-platform"],
    }
    assert api_script.authorizations == ["Bearer tok-1"] * 3


async def test_a_401_replays_once_with_a_fresh_token(api_factory: Any) -> None:
    ims = Script(ims_token("tok-1"), ims_token("tok-2"))
    api_script = Script(lambda r: UNAUTHORIZED(r) if bearer(r) == "Bearer tok-1" else OK(r))
    export = await api_factory(api_script, token=credentials(ims)).call("get_export", "e1")
    assert export.id == "e1"
    assert api_script.authorizations == ["Bearer tok-1", "Bearer tok-2"]
    assert ims.count == 2


async def test_a_second_401_raises_authentication_error(api_factory: Any) -> None:
    ims = Script(ims_token("tok-1"), ims_token("tok-2"), ims_token("tok-3"))
    api_script = Script(UNAUTHORIZED)
    with pytest.raises(AuthenticationError):
        await api_factory(api_script, token=credentials(ims)).call("get_export", "e1")
    assert api_script.count == 2 and ims.count == 2


async def test_a_401_replays_a_post_with_its_body(api_factory: Any) -> None:
    ims = Script(ims_token("tok-1"), ims_token("tok-2"))
    api_script = Script(UNAUTHORIZED, respond(202, {"export": export_json(status="NotStarted")}))
    await api_factory(api_script, token=credentials(ims)).call("start_export", "m1", "c1")
    assert api_script.authorizations == ["Bearer tok-1", "Bearer tok-2"]
    assert [json.loads(body) for body in api_script.bodies] == [
        {"iModelId": "m1", "changesetId": "c1", "exportType": "3DTiles"}
    ] * 2


def test_the_token_is_refreshed_before_it_expires() -> None:
    clock = FakeClock()
    ims = Script(ims_token("tok-1", 3600), ims_token("tok-2", 3600))
    provider = credentials(ims, clock)
    assert provider.get_token() == "tok-1"
    clock.now += 3600 - 300 - 1  # just before the refresh margin
    assert provider.get_token() == "tok-1" and ims.count == 1
    clock.now += 2  # inside the margin
    assert provider.get_token() == "tok-2" and ims.count == 2


def test_a_failed_refresh_serves_the_current_token_until_it_is_about_to_expire(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    ims = Script(ims_token("tok-1", 3600), respond(503, {"error": "temporarily_unavailable"}))
    provider = credentials(ims, clock, sleep=lambda _: None)
    assert provider.get_token() == "tok-1"
    clock.now += 3400  # advisory window: refresh due, token still valid
    with caplog.at_level(logging.WARNING, logger="itwin_mesh_export"):
        assert provider.get_token() == "tok-1"
    assert ims.count == 4  # the token request is retried like a GET: 3 attempts
    assert "refreshing the access token failed" in caplog.text and SECRET not in caplog.text
    assert provider.get_token() == "tok-1" and ims.count == 4  # backs off before trying again
    clock.now += 180  # 3580 s: past expiry minus 30 s, no stale token any more
    with pytest.raises(InternalServerError):
        provider.get_token()
    assert ims.count == 7


async def test_the_same_provider_serves_the_async_path_from_its_cache() -> None:
    ims = Script(ims_token("tok-1"))
    provider = credentials(ims)
    assert provider.get_token() == "tok-1"
    assert await provider.aget_token() == "tok-1"
    assert ims.count == 1


def test_twenty_threads_and_twenty_tasks_cause_exactly_one_token_request() -> None:
    release = threading.Event()
    requests = 0
    count_lock = threading.Lock()

    def ims(request: httpx.Request) -> httpx.Response:
        nonlocal requests
        with count_lock:
            requests += 1
        assert release.wait(10), "the test never released the token endpoint"
        return httpx.Response(200, json={"access_token": "shared-token", "expires_in": 3600})

    entered = threading.Condition()
    entries = 0

    class Counting(ClientCredentials):
        def get_token(self) -> str:
            nonlocal entries
            with entered:
                entries += 1
                entered.notify_all()
            return super().get_token()

        async def aget_token(self) -> str:
            nonlocal entries
            with entered:
                entries += 1
                entered.notify_all()
            return await super().aget_token()

    provider = Counting("service-app", SECRET, transport=httpx.MockTransport(ims))
    results: list[str] = []
    results_lock = threading.Lock()

    def in_thread() -> None:
        token = provider.get_token()
        with results_lock:
            results.append(token)

    async def tasks() -> None:
        tokens = await asyncio.gather(*(provider.aget_token() for _ in range(20)))
        with results_lock:
            results.extend(tokens)

    threads = [threading.Thread(target=in_thread) for _ in range(20)]
    threads.append(threading.Thread(target=lambda: asyncio.run(tasks())))
    for thread in threads:
        thread.start()
    # 20 threads + 20 tasks, plus the one task that takes the asyncio lock and refreshes through
    # a worker thread: 41 entries, all made while the token endpoint is still holding its answer.
    with entered:
        assert entered.wait_for(lambda: entries >= 41, timeout=10)
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == ["shared-token"] * 40
    assert requests == 1


async def test_token_endpoint_errors_are_typed_and_keep_the_secret_out(api_factory: Any) -> None:
    ims = Script(respond(401, {"error": "invalid_client", "error_description": "Client authentication failed."}))
    api_script = Script(OK)
    with pytest.raises(AuthenticationError) as caught:
        await api_factory(api_script, token=credentials(ims)).call("get_export", "e1")
    assert caught.value.code == "invalid_client"
    assert caught.value.error_message == "Client authentication failed."
    assert "ims.bentley.com" in str(caught.value)
    assert SECRET not in str(caught.value) + repr(caught.value)
    assert api_script.count == 0


@pytest.mark.parametrize(
    "reply",
    [
        respond(200, text="<html>login</html>"),
        respond(200, ["not", "an", "object"]),
        respond(200, {"token_type": "Bearer"}),
        respond(200, {"access_token": "", "expires_in": 3600}),
        respond(200, {"access_token": "t", "expires_in": "soon"}),
        respond(200, {"access_token": "t", "expires_in": -5}),
        respond(200, {"access_token": "t", "expires_in": True}),
    ],
)
def test_a_junk_token_response_is_a_response_validation_error(reply: Any) -> None:
    with pytest.raises(ResponseValidationError):
        credentials(Script(reply)).get_token()


def test_a_token_response_without_expires_in_lasts_an_hour() -> None:
    clock = FakeClock()
    ims = Script(respond(200, {"access_token": "t1"}), ims_token("t2"))
    provider = credentials(ims, clock)
    assert provider.get_token() == "t1"
    clock.now += 3000
    assert provider.get_token() == "t1" and ims.count == 1


# ---- where the token may go ----


def test_the_token_goes_to_the_api_origin_only() -> None:
    script = Script(respond(200, {}))
    auth = BearerTokenAuth(StaticToken(TOKEN), API)
    with httpx.Client(auth=auth, transport=httpx.MockTransport(script)) as client:
        client.get(f"{API}/e1")
        client.get("https://api.bentley.com/imodels/x")  # same origin, other API
        client.get("https://example.blob.core.windows.net/exports/e1/tileset.json?sig=abc")
        client.get("http://api.bentley.com/mesh-export/e1")  # other scheme
        client.get("https://api.bentley.com:8443/mesh-export/e1")  # other port
        client.get("https://api.bentley.com.evil.example/mesh-export/e1")
    assert script.authorizations == [f"Bearer {TOKEN}", f"Bearer {TOKEN}", None, None, None, None]


@pytest.mark.parametrize(
    "url", ["http://api.bentley.com/mesh-export", "http://10.0.0.5/mesh-export", "ftp://api.bentley.com/x", "/relative"]
)
def test_plain_http_and_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidArgumentError):
        MeshExportClient(TOKEN, base_url=url)
    with pytest.raises(InvalidArgumentError):
        ClientCredentials("id", SECRET, token_url=url)


@pytest.mark.parametrize(
    "url", ["http://localhost:8000/mesh-export", "http://127.0.0.1:8000/mesh-export", "http://[::1]:8000/mesh-export"]
)
def test_plain_http_is_allowed_to_loopback_hosts(url: str) -> None:
    script = Script(OK)
    with MeshExportClient(TOKEN, base_url=url, transport=httpx.MockTransport(script)) as client:
        client.get_export("e1")
    assert script.authorizations[0] == f"Bearer {TOKEN}"
    assert str(script.requests[0].url) == url + "/e1"


def test_credentials_in_headers_are_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        MeshExportClient(TOKEN, headers={"Authorization": "Bearer other"})


# ---- the environment ----


def test_the_token_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ITWIN_ACCESS_TOKEN", "ITWIN_CLIENT_ID", "ITWIN_CLIENT_SECRET", "ITWIN_TOKEN_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(InvalidArgumentError, match="ITWIN_ACCESS_TOKEN"):
        MeshExportClient()
    monkeypatch.setenv("ITWIN_CLIENT_ID", "service-app")
    with pytest.raises(InvalidArgumentError, match="ITWIN_CLIENT_SECRET"):
        MeshExportClient()
    monkeypatch.setenv("ITWIN_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("ITWIN_TOKEN_URL", "https://qa-ims.bentley.com/connect/token")
    client = MeshExportClient()
    provider = client.token_provider
    assert isinstance(provider, ClientCredentials)
    assert provider.client_id == "service-app" and provider.token_url == "https://qa-ims.bentley.com/connect/token"
    client.close()
    monkeypatch.setenv("ITWIN_ACCESS_TOKEN", TOKEN)  # a ready token wins
    client = MeshExportClient()
    assert isinstance(client.token_provider, StaticToken) and client.token_provider.get_token() == TOKEN
    client.close()


def test_reprs_hide_tokens_and_secrets() -> None:
    ims = Script(ims_token("tok-1"))
    provider = credentials(ims)
    provider.get_token()
    client = MeshExportClient(provider)
    texts = repr(StaticToken(TOKEN)) + repr(provider) + repr(client) + str(client) + repr(provider._token)
    assert TOKEN not in texts and SECRET not in texts and "tok-1" not in texts
    assert "service-app" in repr(provider)
    client.close()


# ---- what every provider's token goes through, and what the token request is not ----


@pytest.mark.parametrize("bad", [None, "", "  ", 42, "two words"])
async def test_a_custom_providers_bad_token_is_refused_before_any_request(api_factory: Any, bad: Any) -> None:
    class Broken:
        def get_token(self) -> Any:
            return bad

        async def aget_token(self) -> Any:
            return bad

        def invalidate(self, token: str) -> None:
            pass

    script = Script(OK)
    with pytest.raises(InvalidArgumentError, match="the token from Broken"):
        await api_factory(script, token=Broken()).call("get_export", "e1")
    assert script.count == 0  # never "Authorization: Bearer None"


async def test_a_token_functions_own_error_reaches_the_caller_unchanged(api_factory: Any) -> None:
    """Not reported as a bad response body: no response was read."""
    failure = ValueError("the vault is unavailable")

    def token() -> str:
        raise failure

    script = Script(OK)
    with pytest.raises(ValueError) as caught:
        await api_factory(script, token=token).call("get_export", "e1")
    assert caught.value is failure
    assert not isinstance(caught.value, ResponseValidationError)
    assert script.count == 0


async def test_the_token_request_keeps_its_own_timeout_and_retries_under_with_options(api_factory: Any) -> None:
    ims = Script(respond(503, text="busy"), ims_token("tok-1"))
    api_script = Script(OK)
    api = api_factory(api_script, token=credentials(ims))
    api.client = api.client.with_options(timeout=0.25, max_attempts=1)
    await api.call("get_export", "e1")
    assert ims.count == 2  # the 503 retried by the token client's policy, not the call's max_attempts=1
    assert ims.requests[-1].extensions["timeout"]["read"] == 30.0
    assert api_script.requests[0].extensions["timeout"]["read"] == 0.25


async def test_a_token_that_turns_bad_after_a_good_one_is_still_refused(api_factory: Any) -> None:
    class Souring:
        def __init__(self) -> None:
            self.current: Any = "good-token"

        def get_token(self) -> Any:
            return self.current

        async def aget_token(self) -> Any:
            return self.current

        def invalidate(self, token: str) -> None:
            self.current = None

    script = Script(OK, UNAUTHORIZED)
    api = api_factory(script, token=Souring())
    await api.call("get_export", "e1")
    with pytest.raises(InvalidArgumentError, match="the token from Souring"):
        await api.call("get_export", "e1")  # a 401, then the provider's fresh token is None
    assert script.authorizations == ["Bearer good-token", "Bearer good-token"]
