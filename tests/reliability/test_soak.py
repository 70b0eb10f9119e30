"""Soak: many calls at once from threads (the sync client) and asyncio tasks (the async client)
against the local service, with a steady share of injected faults and tokens expiring under load.

Every call must end, in success or a typed error (a MeshExportError): nothing else escapes. How
long calls took is recorded for the report (the longest, and how many ran past their own deadline:
RetryPolicy.deadline_s per request) but not asserted: on a shared machine that is a timing, not a
contract. Retries stay within policy:
each call's attempts, counted at the service by the export id in its path and by the client's
transport, are at most `max_attempts` per request (twice that when a 401 was replayed once with a
fresh token). Nothing leaks: open file descriptors, sockets and threads of this process (the
service runs in it too) return to where they were once the clients are closed.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from itwin_mesh_export import (
    AsyncMeshExportClient,
    ClientCredentials,
    MeshExportClient,
    MeshExportError,
    RetryPolicy,
)
from itwin_mesh_export.testing import Fault, LocalMeshExportService, SeedExport
from tests.reliability.budget import BUDGET, record_result
from tests.reliability.harness import CALL_TAG, Traffic, count_fds, reached_server, server_route

MAX_ATTEMPTS = 3
DEADLINE_S = 8.0
READ_TIMEOUT_S = 1.0
SOAK_LIST = "soak-list-imodel"
KINDS = (("get", 55), ("href", 10), ("list", 15), ("wait", 10), ("delete", 10))

# A steady share of faults on every API route (and the token endpoint): each request draws them
# in this order, each with its own probability (about 15% of requests in all).
SOAK_FAULTS = [
    Fault.server_error("*", 503, times=None, probability=0.03),
    Fault.rate_limit("*", retry_after_s=0, times=None, probability=0.02),
    Fault.reset("*", after_bytes=12, times=None, probability=0.02),
    Fault.truncate("*", after_bytes=12, times=None, probability=0.02),
    Fault.delay("*", READ_TIMEOUT_S + 0.5, times=None, probability=0.01),
    Fault.html("*", 502, times=None, probability=0.01),
    Fault.server_error("*", 520, times=None, probability=0.01),
    Fault.unknown_enum("*", "status", "Queued", times=None, probability=0.02),
    Fault.missing_fields("*", ("displayName",), times=None, probability=0.005),
]


@dataclass
class Call:
    tag: str
    kind: str
    export_id: str | None
    client: str  # "sync" or "async"
    started: float = 0.0
    ended: float = 0.0
    outcome: str = ""


def _plan(count: int, ids: list[str], rng: random.Random) -> list[Call]:
    kinds = [k for k, weight in KINDS for _ in range(weight)]
    pool = iter(ids)
    calls = []
    for n in range(count):
        kind = rng.choice(kinds)
        calls.append(Call(f"c{n}", kind, None if kind == "list" else next(pool), "sync" if n % 2 else "async"))
    return calls


def _budget_s(call: Call) -> float:
    """The call's own deadline: one request's, two for a two-page listing, the wait's timeout plus
    its last poll for a wait. Reported, not asserted."""
    return {"list": 2 * DEADLINE_S, "wait": 2 * DEADLINE_S}.get(call.kind, DEADLINE_S)


def _outcome(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    if isinstance(exc, MeshExportError):
        return type(exc).__name__
    return f"ESCAPED {type(exc).__name__}: {exc}"


def _sync_call(client: MeshExportClient, call: Call) -> None:
    CALL_TAG.set(call.tag)
    call.started = time.monotonic()
    try:
        if call.kind == "get":
            client.get_export(call.export_id or "")
        elif call.kind == "href":
            client.get_mesh_href(call.export_id or "")
        elif call.kind == "list":
            list(client.iter_exports(imodel_id=SOAK_LIST, page_size=5))
        elif call.kind == "wait":
            client.wait_for_export(call.export_id or "", timeout_s=DEADLINE_S, poll_interval_s=0.2)
        else:
            client.delete_export(call.export_id or "")
        call.outcome = "ok"
    except BaseException as exc:  # classified: anything but a MeshExportError is an escape
        call.outcome = _outcome(exc)
    finally:
        call.ended = time.monotonic()


async def _async_call(client: AsyncMeshExportClient, call: Call) -> None:
    CALL_TAG.set(call.tag)
    call.started = time.monotonic()
    try:
        if call.kind == "get":
            await client.get_export(call.export_id or "")
        elif call.kind == "href":
            await client.get_mesh_href(call.export_id or "")
        elif call.kind == "list":
            [e async for e in client.iter_exports(imodel_id=SOAK_LIST, page_size=5)]
        elif call.kind == "wait":
            await client.wait_for_export(call.export_id or "", timeout_s=DEADLINE_S, poll_interval_s=0.2)
        else:
            await client.delete_export(call.export_id or "")
        call.outcome = "ok"
    except BaseException as exc:
        call.outcome = _outcome(exc)
    finally:
        call.ended = time.monotonic()


def _wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_soak_threads_and_tasks_under_faults() -> None:
    rng = random.Random(8)
    count = BUDGET.soak_calls
    seeds = [SeedExport(imodel_id="soak-imodel", index=i) for i in range(count)]
    seeds += [SeedExport(imodel_id=SOAK_LIST, index=i) for i in range(10)]
    threads_before = threading.active_count()
    fds_no_service, sockets_no_service = count_fds()
    with LocalMeshExportService(seed_exports=seeds, token_lifetime_s=3600) as svc:
        threads_with_service = threading.active_count()
        fds_before, sockets_before = count_fds()
        calls = _plan(count, [s.export_id for s in seeds[:count]], rng)
        traffic = Traffic()
        policy = RetryPolicy(
            max_attempts=MAX_ATTEMPTS, deadline_s=DEADLINE_S, backoff_initial_s=0.05, backoff_max_s=0.2
        )
        credentials = ClientCredentials(
            svc.client_id, svc.client_secret, token_url=svc.token_url, transport=traffic.transport()
        )
        sync_client = MeshExportClient(
            svc.token, base_url=svc.api_url, retry=policy, timeout=READ_TIMEOUT_S, transport=traffic.transport()
        )
        async_client = AsyncMeshExportClient(
            credentials,
            base_url=svc.api_url,
            retry=policy,
            timeout=READ_TIMEOUT_S,
            transport=traffic.async_transport(),
        )
        for fault in SOAK_FAULTS:
            svc.faults.add(fault)

        peak = [fds_before]
        running = threading.Event()
        running.set()

        def watch() -> None:  # the peak of open descriptors, and tokens expiring under load
            ticks = 0
            while running.is_set():
                peak[0] = max(peak[0], count_fds()[0])
                ticks += 1
                if ticks % 40 == 0:  # about every two seconds
                    svc.expire_tokens()
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

        async def run_tasks() -> None:
            gate = asyncio.Semaphore(BUDGET.soak_tasks)

            async def one(call: Call) -> None:
                async with gate:
                    await _async_call(async_client, call)

            await asyncio.gather(*(one(c) for c in calls if c.client == "async"))
            await async_client.aclose()

        started = time.monotonic()
        loop_thread = threading.Thread(target=lambda: asyncio.run(run_tasks()))
        loop_thread.start()
        with ThreadPoolExecutor(BUDGET.soak_threads) as pool:
            list(pool.map(lambda c: _sync_call(sync_client, c), [c for c in calls if c.client == "sync"]))
        loop_thread.join(600)
        loop_ended = not loop_thread.is_alive()
        wall_s = time.monotonic() - started
        sync_client.close()
        credentials.close()
        running.clear()
        watcher.join(5)

        api_reached = [a for a in traffic.attempts if a.route != "token" and reached_server(a)]
        _wait_for(lambda: len([r for r in svc.requests if server_route(r) != "token"]) >= len(api_reached), 15)
        server = [r for r in svc.requests if server_route(r) != "token"]

        # every call ended: success or a typed error (how long it took is reported, not asserted)
        unended = [c.tag for c in calls if not c.outcome or not c.ended]
        escaped = [c for c in calls if c.outcome.startswith("ESCAPED")]
        over_deadline = [c for c in calls if c.ended and c.ended - c.started > _budget_s(c)]

        # retries within policy, per call, counted at the service by the export id in the path
        per_path = Counter(r.path for r in server)
        attempts_by_tag: dict[str, list[Any]] = {}
        for attempt in traffic.attempts:
            if attempt.tag is not None and attempt.route != "token":
                attempts_by_tag.setdefault(attempt.tag, []).append(attempt)
        over_policy = []
        mismatched = []
        for call in calls:
            mine = attempts_by_tag.get(call.tag, [])
            replays = 1 if any(a.status == 401 for a in mine) else 0
            per_request = MAX_ATTEMPTS * (1 + replays)
            limit = per_request * (2 if call.kind == "list" else 1)
            if call.kind == "wait":  # polls at least 0.2 s apart until the timeout
                limit = per_request * int(1 + DEADLINE_S / 0.2)
            if len(mine) > limit:
                over_policy.append((call.tag, call.kind, len(mine)))
            if call.kind in ("get", "href", "delete") and call.export_id is not None:
                at_server = per_path[f"/mesh-export/{call.export_id}"]
                if at_server > per_request:
                    over_policy.append((call.tag, call.kind, at_server))
                if at_server != sum(1 for a in mine if reached_server(a)):
                    mismatched.append((call.tag, at_server, len(mine)))

        outcomes = Counter(c.outcome for c in calls)
        statuses = Counter(r.status for r in server)
        summary = {
            "calls": len(calls),
            "threads": BUDGET.soak_threads,
            "tasks": BUDGET.soak_tasks,
            "wall_s": round(wall_s, 1),
            "outcomes": dict(outcomes),
            "api_requests_at_server": len(server),
            "client_attempts": len([a for a in traffic.attempts if a.route != "token"]),
            "client_attempts_reached": len(api_reached),
            "unreached": dict(
                Counter(a.error for a in traffic.attempts if a.route != "token" and not reached_server(a))
            ),
            "token_requests": len([a for a in traffic.attempts if a.route == "token"]),
            "statuses_at_server": {str(k): v for k, v in sorted(statuses.items())},
            "faults_applied": sum(e["applied"] for e in svc.faults.armed()),
            "max_call_s": round(max((c.ended - c.started for c in calls if c.ended), default=0.0), 2),
            "unended": len(unended),
            "escaped": len(escaped),
            "over_deadline": len(over_deadline),
            "over_policy": len(over_policy),
            "mismatched": len(mismatched),
            "fds_before": fds_before,
            "fds_peak": peak[0],
            "sockets_before": sockets_before,
        }
        svc.faults.clear()
        # leaks: with the clients closed, the process is back where it was before them (the
        # service's side of each connection closes once the client's has)
        _wait_for(lambda: count_fds()[0] <= fds_before and threading.active_count() <= threads_with_service, 15)
        fds_after, sockets_after = count_fds()
        threads_after = threading.active_count()

    _wait_for(lambda: count_fds()[0] <= fds_no_service and threading.active_count() <= threads_before, 15)
    fds_stopped, sockets_stopped = count_fds()
    threads_stopped = threading.active_count()
    summary.update(
        {
            "fds_after": fds_after,
            "sockets_after": sockets_after,
            "fds_after_service_stopped": fds_stopped,
            "fds_without_service": fds_no_service,
            "threads_leaked": max(threads_after - threads_with_service, 0) + max(threads_stopped - threads_before, 0),
        }
    )
    # Every check below, by name, and whether it held: recorded with the figures, before the
    # assertions, so that a failing soak's report says it failed.
    checks = {
        "every call ended": loop_ended and not unended,
        "nothing but typed errors escaped": not escaped,
        "retries within policy": not over_policy,
        "the service counted what the client sent, per call": not mismatched,
        "the service saw every attempt that reached it": len(server) == len(api_reached),
        "faults were injected and calls still succeeded": summary["faults_applied"] > 0 and outcomes["ok"] > 0,
        "some faults got through the retries as typed errors": any(k != "ok" for k in outcomes),
        "no file descriptor or socket leaked": fds_after <= fds_before
        and sockets_after <= sockets_before
        and fds_stopped <= fds_no_service
        and sockets_stopped <= sockets_no_service,
        "no thread leaked": threads_after <= threads_with_service and threads_stopped <= threads_before,
    }
    summary["failed_checks"] = [name for name, held in checks.items() if not held]
    record_result("soak", "soak", summary)

    assert loop_ended and unended == [], unended[:5]
    assert escaped == [], [(c.tag, c.kind, c.outcome) for c in escaped[:5]]
    assert over_policy == [], over_policy[:5]
    assert mismatched == [], mismatched[:5]
    assert len(server) == len(api_reached)  # the service saw every attempt the client made
    assert summary["faults_applied"] > 0 and outcomes["ok"] > 0
    assert any(k != "ok" for k in outcomes), outcomes  # some faults got through the retries: typed errors
    assert fds_after <= fds_before and sockets_after <= sockets_before, summary
    assert threads_after <= threads_with_service, summary
    assert fds_stopped <= fds_no_service and sockets_stopped <= sockets_no_service, summary
    assert threads_stopped <= threads_before, summary
    assert summary["failed_checks"] == []  # the record agrees with the assertions above
