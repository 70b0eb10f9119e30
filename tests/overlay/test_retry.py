"""Each retry path, for both clients and at the transport: Retry-After as seconds and as an HTTP
date, over the cap, backoff, POST rules, attempts and the overall deadline."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from itwin_mesh_export import (
    APIConnectionError,
    APITimeoutError,
    InternalServerError,
    InvalidArgumentError,
    RateLimitError,
    RetryPolicy,
)
from itwin_mesh_export._retry import (
    BACKOFF_INITIAL_S,
    RETRY_AFTER_CAP_S,
    RETRY_POLICY_EXTENSION,
    retry_after_s,
)
from itwin_mesh_export._transport import RetryTransport
from tests.overlay.conftest import FakeClock, Script, export_json, respond

pytestmark = pytest.mark.anyio

OK = respond(200, {"export": export_json()})
RATE_LIMITED = {"error": {"code": "RateLimitExceeded", "message": "Too many requests."}}


async def test_retry_after_seconds_is_slept_then_the_call_succeeds(api_factory: Any, clock: FakeClock) -> None:
    script = Script(respond(429, RATE_LIMITED, headers={"Retry-After": "7"}), OK)
    api = api_factory(script)
    export = await api.call("get_export", "e1")
    assert export.id == "e1"
    assert script.count == 2
    assert clock.sleeps == [7.0]


async def test_retry_after_as_an_http_date_in_the_past_retries_at_once(api_factory: Any, clock: FakeClock) -> None:
    script = Script(respond(503, None, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), OK)
    api = api_factory(script)
    await api.call("get_export", "e1")
    assert script.count == 2
    assert clock.sleeps == [0.0]


async def test_retry_after_as_an_http_date_beyond_the_cap_raises_rate_limit_error(
    api_factory: Any, clock: FakeClock
) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    script = Script(respond(429, RATE_LIMITED, headers={"Retry-After": later}), OK)
    api = api_factory(script)
    with pytest.raises(RateLimitError) as caught:
        await api.call("get_export", "e1")
    assert script.count == 1
    assert clock.sleeps == []
    assert caught.value.retry_after_s is not None and caught.value.retry_after_s > 3600
    assert caught.value.code == "RateLimitExceeded"


async def test_retry_after_seconds_over_the_cap_raises_at_once(api_factory: Any, clock: FakeClock) -> None:
    script = Script(respond(429, RATE_LIMITED, headers={"Retry-After": str(int(RETRY_AFTER_CAP_S) + 1)}), OK)
    api = api_factory(script)
    with pytest.raises(RateLimitError) as caught:
        await api.call("get_export", "e1")
    assert caught.value.retry_after_s == RETRY_AFTER_CAP_S + 1
    assert script.count == 1 and clock.sleeps == []


async def test_the_cap_is_configurable(api_factory: Any, clock: FakeClock) -> None:
    script = Script(respond(429, RATE_LIMITED, headers={"Retry-After": "90"}), OK)
    api = api_factory(script, retry=RetryPolicy(retry_after_cap_s=120, random=lambda: 0.0))
    await api.call("get_export", "e1")
    assert clock.sleeps == [90.0]


async def test_retries_give_up_after_max_attempts_with_growing_backoff(api_factory: Any, clock: FakeClock) -> None:
    script = Script(respond(503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}))
    api = api_factory(script, retry=RetryPolicy(max_attempts=4, random=lambda: 0.0))
    with pytest.raises(InternalServerError):
        await api.call("get_export", "e1")
    assert script.count == 4
    assert clock.sleeps == [BACKOFF_INITIAL_S, 2 * BACKOFF_INITIAL_S, 4 * BACKOFF_INITIAL_S]


async def test_jitter_only_shortens_the_backoff_by_up_to_half(api_factory: Any, clock: FakeClock) -> None:
    script = Script(respond(500, None), respond(502, None), OK)
    api = api_factory(script, retry=RetryPolicy(random=lambda: 0.999))
    await api.call("get_export", "e1")
    assert len(clock.sleeps) == 2
    assert BACKOFF_INITIAL_S * 0.5 <= clock.sleeps[0] < BACKOFF_INITIAL_S * 0.51
    assert BACKOFF_INITIAL_S <= clock.sleeps[1] < BACKOFF_INITIAL_S * 1.01


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_get_retries_the_transient_statuses(api_factory: Any, status: int) -> None:
    script = Script(respond(status, None), OK)
    await api_factory(script).call("get_export", "e1")
    assert script.count == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501, 505, 520])
async def test_other_statuses_are_not_retried(api_factory: Any, status: int) -> None:
    script = Script(respond(status, None), OK)
    with pytest.raises(Exception):  # noqa: B017 - the class is checked in test_errors
        await api_factory(script).call("get_export", "e1")
    assert script.count == 1


async def test_delete_retries_on_500_and_timeouts(api_factory: Any) -> None:
    script = Script(respond(500, None), httpx.ReadTimeout("timed out"), respond(204))
    await api_factory(script).call("delete_export", "e1")
    assert [r.method for r in script.requests] == ["DELETE"] * 3


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
async def test_post_is_not_retried_on_server_errors(api_factory: Any, status: int) -> None:
    script = Script(respond(status, None), respond(202, {"export": export_json(status="NotStarted")}))
    with pytest.raises(Exception) as caught:
        await api_factory(script).call("start_export", "m1")
    assert caught.value.status_code == status  # type: ignore[attr-defined]
    assert script.count == 1


async def test_post_is_not_retried_after_a_read_timeout(api_factory: Any) -> None:
    # The server may have started the export: repeating the POST could start a second one.
    script = Script(httpx.ReadTimeout("timed out"), respond(202, {"export": export_json(status="NotStarted")}))
    with pytest.raises(APITimeoutError):
        await api_factory(script).call("start_export", "m1")
    assert script.count == 1


async def test_post_is_retried_on_429_and_when_the_request_was_never_sent(api_factory: Any, clock: FakeClock) -> None:
    started = respond(202, {"export": export_json(status="NotStarted")})
    script = Script(
        respond(429, RATE_LIMITED, headers={"Retry-After": "2"}),
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("connect timed out"),
        started,
    )
    api = api_factory(script, retry=RetryPolicy(max_attempts=4, random=lambda: 0.0))
    export = await api.call("start_export", "m1")
    assert export.status.value == "NotStarted"
    assert [r.method for r in script.requests] == ["POST"] * 4
    assert clock.sleeps == [2.0, 2 * BACKOFF_INITIAL_S, 4 * BACKOFF_INITIAL_S]


async def test_the_overall_deadline_stops_retries_early(api_factory: Any, clock: FakeClock) -> None:
    script = Script(respond(503, None, headers={"Retry-After": "20"}), OK)
    api = api_factory(script, deadline_s=10.0)
    with pytest.raises(InternalServerError):
        await api.call("get_export", "e1")
    assert script.count == 1 and clock.sleeps == []


async def test_attempt_timeouts_are_cut_to_the_remaining_deadline(api_factory: Any) -> None:
    script = Script(OK)
    api = api_factory(script, deadline_s=2.0)
    await api.call("get_export", "e1")
    timeouts = script.requests[0].extensions["timeout"]
    assert timeouts == {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}


async def test_with_options_overrides_attempts_per_call(api_factory: Any, clock: FakeClock) -> None:
    script = Script(respond(503, None), respond(503, None), OK)
    api = api_factory(script)
    once = api.client.with_options(max_attempts=1)
    with pytest.raises(InternalServerError):
        result = once.get_export("e1")
        if hasattr(result, "__await__"):
            await result
    assert script.count == 1
    await api.call("get_export", "e1")  # the original client still retries
    assert script.count == 3
    assert once.retry_policy.max_attempts == 1 and api.client.retry_policy.max_attempts == 3


async def test_connection_errors_are_retried_for_get_then_raise(api_factory: Any, clock: FakeClock) -> None:
    script = Script(httpx.ConnectError("refused"), httpx.ReadError("reset"), OK)
    export = await api_factory(script).call("get_export", "e1")
    assert export.id == "e1" and script.count == 3
    script2 = Script(httpx.RemoteProtocolError("broken"))
    with pytest.raises(APIConnectionError):
        await api_factory(script2).call("get_export", "e1")
    assert script2.count == 3


# ---- the transport alone: exact HTTP-date arithmetic, per-request policy ----


def test_an_http_date_retry_after_is_measured_against_the_wall_clock() -> None:
    now = datetime(2024, 8, 22, 3, 18, 43, tzinfo=UTC)
    sleeps: list[float] = []
    script = Script(
        respond(503, None, headers={"Retry-After": format_datetime(now + timedelta(seconds=30), usegmt=True)}), OK
    )
    transport = RetryTransport(
        httpx.MockTransport(script),
        RetryPolicy(random=lambda: 0.0),
        sleep=sleeps.append,
        clock=FakeClock(),
        wall_clock=now.timestamp,
    )
    with httpx.Client(transport=transport) as client:
        assert client.get("https://api.bentley.com/mesh-export/e1").status_code == 200
    assert sleeps == [30.0]


def test_a_request_may_carry_its_own_policy() -> None:
    script = Script(respond(503, None), OK)
    sleeps: list[float] = []
    transport = RetryTransport(httpx.MockTransport(script), RetryPolicy(), sleep=sleeps.append, clock=FakeClock())
    with httpx.Client(transport=transport) as client:
        response = client.get(
            "https://storage.example/x", extensions={RETRY_POLICY_EXTENSION: RetryPolicy(max_attempts=1)}
        )
    assert response.status_code == 503 and script.count == 1 and sleeps == []


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "5"}, 5.0),
        ({"Retry-After": " 2.5 "}, 2.5),
        ({"Retry-After": "-3"}, None),  # not delay-seconds: the backoff applies, not "at once"
        ({"retry-after-ms": "-5", "Retry-After": "9"}, 9.0),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
        ({"retry-after-ms": "junk", "Retry-After": "9"}, 9.0),
        ({"Retry-After": "Thu, 22 Aug 2024 03:19:13 GMT"}, 30.0),
        ({"Retry-After": "Thu, 22 Aug 2024 03:18:00 GMT"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "1e999"}, None),
        ({"Retry-After": ""}, None),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers: dict[str, str], expected: float | None) -> None:
    now = datetime(2024, 8, 22, 3, 18, 43, tzinfo=UTC).timestamp()
    assert retry_after_s(httpx.Headers(headers), now) == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"max_attempts": 0},
        {"max_attempts": 1.5},
        {"max_attempts": True},
        {"deadline_s": 0},
        {"deadline_s": float("inf")},
        {"backoff_initial_s": -1},
        {"retry_after_cap_s": float("nan")},
    ],
)
def test_a_bad_policy_is_an_invalid_argument(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        dataclasses.replace(RetryPolicy(), **changes)


def test_no_deadline_is_allowed() -> None:
    assert RetryPolicy(deadline_s=None).deadline_s is None
