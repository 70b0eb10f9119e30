"""wait_for_export through NotStarted -> InProgress -> Complete, to Invalid, to a timeout, through
an unknown status, and through rate limits and server errors; the polling schedule."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import httpx
import pytest

from itwin_mesh_export import (
    Export,
    ExportFailedError,
    ExportStatus,
    NotFoundError,
    RetryPolicy,
    WaitTimeoutError,
)
from itwin_mesh_export._waiting import MAX_POLL_INTERVAL_S, POLL_GROWTH
from tests.overlay.conftest import FakeClock, Script, export_json, make_client, respond

pytestmark = pytest.mark.anyio


def status(value: str, **kwargs: Any) -> Any:
    return respond(200, {"export": export_json("e1", value, **kwargs)})


class Recorder:
    """An on_status callback that records the statuses it saw (sync)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, export: Export) -> None:
        self.seen.append(export.status.value)


async def test_not_started_in_progress_complete(api_factory: Any, clock: FakeClock) -> None:
    script = Script(
        status("NotStarted"), status("NotStarted"), status("InProgress"), status("InProgress"), status("Complete")
    )
    on_status = Recorder()
    export = await api_factory(script).call("wait_for_export", "e1", poll_interval_s=2.0, on_status=on_status)
    assert export.status is ExportStatus.COMPLETE and export.id == "e1"
    assert on_status.seen == ["NotStarted", "InProgress", "Complete"]  # changes only
    assert script.count == 5
    assert clock.sleeps == [2.0, 2.0 * POLL_GROWTH, 2.0 * POLL_GROWTH**2, 2.0 * POLL_GROWTH**3]
    assert all(r.url.path == "/mesh-export/e1" for r in script.requests)


async def test_the_interval_grows_to_its_maximum(api_factory: Any, clock: FakeClock) -> None:
    script = Script(*([status("InProgress")] * 12), status("Complete"))
    await api_factory(script).call("wait_for_export", "e1", poll_interval_s=5.0)
    assert max(clock.sleeps) == MAX_POLL_INTERVAL_S
    assert clock.sleeps == sorted(clock.sleeps)


async def test_jitter_never_polls_faster_than_the_interval(api_factory: Any, clock: FakeClock) -> None:
    script = Script(*([status("InProgress")] * 6), status("Complete"))
    api = api_factory(script, retry=RetryPolicy(random=lambda: 0.999))
    await api.call("wait_for_export", "e1", poll_interval_s=3.0)
    assert len(clock.sleeps) == 6
    assert all(sleep >= 3.0 for sleep in clock.sleeps)
    assert clock.sleeps[0] > 3.0 * 1.19  # up to 20% added


async def test_invalid_raises_export_failed_with_the_export_error(api_factory: Any) -> None:
    script = Script(status("InProgress"), status("Invalid", error="Changeset ed94ed9a could not be processed."))
    on_status = Recorder()
    with pytest.raises(ExportFailedError) as caught:
        await api_factory(script).call("wait_for_export", "e1", on_status=on_status)
    assert caught.value.export_id == "e1"
    assert caught.value.error == "Changeset ed94ed9a could not be processed."
    assert "could not be processed" in str(caught.value)
    assert caught.value.export.status is ExportStatus.INVALID
    assert on_status.seen == ["InProgress", "Invalid"]


async def test_invalid_without_error_text_still_fails_clearly(api_factory: Any) -> None:
    with pytest.raises(ExportFailedError, match="no error text"):
        await api_factory(Script(status("Invalid"))).call("wait_for_export", "e1")


async def test_timeout_raises_wait_timeout_error(api_factory: Any, clock: FakeClock) -> None:
    script = Script(status("InProgress"))
    started = clock.now
    with pytest.raises(WaitTimeoutError) as caught:
        await api_factory(script).call("wait_for_export", "e1", timeout_s=60.0, poll_interval_s=5.0)
    assert caught.value.last_status == "InProgress"
    assert caught.value.waited_s == pytest.approx(60.0)
    assert clock.now - started == pytest.approx(60.0)
    # Polls at 0, 5, 12.5, 23.75, 40.6 and a last one at the deadline (60), no later.
    assert script.count == 6


async def test_one_request_per_poll_interval_at_most(api_factory: Any, clock: FakeClock) -> None:
    times: list[float] = []

    def handler(request: Any) -> Any:
        times.append(clock.now)
        return status("InProgress")(request)

    with pytest.raises(WaitTimeoutError):
        await api_factory(Script(handler)).call("wait_for_export", "e1", timeout_s=31.0, poll_interval_s=10.0)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps and all(gap >= 10.0 for gap in gaps)
    # 0, 10, 25: the deadline (31) is only 6 s after the last poll, so no extra poll is sent.
    assert times == [1000.0, 1010.0, 1025.0]


async def test_an_unknown_status_is_not_terminal_and_warns_once(
    api_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    script = Script(status("Queued"), status("Queued"), status("Queued"), status("Complete"))
    on_status = Recorder()
    with caplog.at_level(logging.WARNING, logger="itwin_mesh_export"):
        export = await api_factory(script).call("wait_for_export", "e1", on_status=on_status)
    assert export.status is ExportStatus.COMPLETE
    assert on_status.seen == ["Queued", "Complete"]
    warnings = [r for r in caplog.records if "does not know" in r.getMessage()]
    assert len(warnings) == 1 and "'Queued'" in warnings[0].getMessage()


async def test_a_429_during_the_wait_is_honoured_and_the_wait_goes_on(api_factory: Any, clock: FakeClock) -> None:
    limited = respond(
        429, {"error": {"code": "RateLimitExceeded", "message": "slow down"}}, headers={"Retry-After": "45"}
    )
    script = Script(status("InProgress"), limited, status("Complete"))
    # The poll's own retries are off, so the waiter itself must honour the Retry-After.
    api = api_factory(script, retry=RetryPolicy(max_attempts=1, random=lambda: 0.0))
    export = await api.call("wait_for_export", "e1", poll_interval_s=5.0)
    assert export.status is ExportStatus.COMPLETE
    assert clock.sleeps == [5.0, 45.0]


async def test_server_errors_and_network_failures_do_not_end_the_wait(api_factory: Any) -> None:
    script = Script(status("InProgress"), respond(503, None), httpx.ConnectError("down"), status("Complete"))
    api = api_factory(script, retry=RetryPolicy(max_attempts=1, random=lambda: 0.0))
    export = await api.call("wait_for_export", "e1", poll_interval_s=1.0)
    assert export.status is ExportStatus.COMPLETE and script.count == 4


async def test_a_missing_export_ends_the_wait_at_once(api_factory: Any) -> None:
    script = Script(
        respond(404, {"error": {"code": "ExportNotFound", "message": "Requested export is not available."}})
    )
    with pytest.raises(NotFoundError):
        await api_factory(script).call("wait_for_export", "e1")
    assert script.count == 1


async def test_a_timeout_while_rate_limited_chains_the_cause(api_factory: Any) -> None:
    limited = respond(
        429, {"error": {"code": "RateLimitExceeded", "message": "slow down"}}, headers={"Retry-After": "50"}
    )
    script = Script(limited)
    api = api_factory(script, retry=RetryPolicy(max_attempts=1, random=lambda: 0.0))
    with pytest.raises(WaitTimeoutError) as caught:
        await api.call("wait_for_export", "e1", timeout_s=30.0, poll_interval_s=5.0)
    assert caught.value.last_status is None
    assert caught.value.__cause__ is not None


async def test_an_async_on_status_is_awaited(clock: FakeClock) -> None:
    seen: list[str] = []

    async def on_status(export: Export) -> None:
        seen.append(export.status.value)

    client = make_client("async", Script(status("InProgress"), status("Complete")), clock)
    await client.wait_for_export("e1", on_status=on_status)  # type: ignore[misc]
    assert seen == ["InProgress", "Complete"]


async def test_each_poll_gets_a_retry_deadline_within_the_wait(api_factory: Any) -> None:
    script = Script(status("InProgress"), status("Complete"))
    await api_factory(script).call("wait_for_export", "e1", timeout_s=20.0, poll_interval_s=5.0)
    first, second = (r.extensions["timeout"]["read"] for r in script.requests)
    assert first == 20.0  # the default read timeout (30 s) cut to what is left of the wait
    assert second == 15.0
