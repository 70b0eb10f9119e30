"""The fault matrix over real sockets: every operation under every injected fault, in the sync and
the async client (alternately in the normal suite, both in `make reliability`), against the local
Mesh Export service (table and outcomes: `matrix.py`).

Each cell checks that the call ended exactly as the table says (returned, or raised exactly that
typed error, and nothing else escaped), after the number of attempts the table says, counted by
the client's transport and by the service alike; that the fault did fire; that with DEBUG logging
on, no log line, exception or repr holds the token or a signature value; that the storage never
received an Authorization header; and, when the call returned, that it returned what it promises
(a downloaded tree byte-identical to the service's files).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from itwin_mesh_export import RateLimitError
from itwin_mesh_export.testing import LocalMeshExportService, ManualClock
from tests.reliability.budget import BUDGET, record_result
from tests.reliability.cells import Observation, run_cell, start_matrix_service
from tests.reliability.matrix import Expect, Row, cells

pytestmark = [
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning"),
]


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[LocalMeshExportService, ManualClock]]:
    svc, clock = start_matrix_service()
    try:
        yield svc, clock
    finally:
        svc.stop()


def row_checks(row: Row, op: str, obs: Observation) -> list[str]:
    """What a row promises beyond its outcome: waits that follow Retry-After, one refresh, one token."""
    problems = []
    if row.key == "429-seconds" and not any(s >= 2.0 for s in obs.sleeps):
        problems.append(f"no wait of Retry-After's 2 s: {obs.sleeps}")
    if row.key == "429-http-date" and not any(0.5 <= s <= 2.5 for s in obs.sleeps):  # a date has whole seconds
        problems.append(f"no wait of about 2 s for the HTTP date: {obs.sleeps}")
    if row.key == "429-over-cap":
        if op == "wait":
            if not any(s >= 120 for s in obs.sleeps):
                problems.append(f"the wait did not honour Retry-After: 120: {obs.sleeps}")
        else:
            if any(s >= 60 for s in obs.sleeps):
                problems.append(f"slept through a Retry-After over the cap: {obs.sleeps}")
            if op != "download":
                if not isinstance(obs.error, RateLimitError):
                    problems.append(f"no RateLimitError to carry the hint: {obs.error!r}")
                elif obs.error.retry_after_s is None or not 119 <= obs.error.retry_after_s <= 121:
                    problems.append(f"RateLimitError.retry_after_s is {obs.error.retry_after_s}, not 120")
    if row.key in ("expired-signature", "expired-link-from-api") and op == "download" and obs.refreshes != 1:
        problems.append(f"refresh_href was called {obs.refreshes} times, not once")
    if row.special in ("token-expired", "token-credentials") and obs.tokens_fetched != 1:
        problems.append(f"{obs.tokens_fetched} tokens were fetched, not one")
    return problems


CELLS = cells()
# The long run puts every cell through both clients; the normal suite alternates between them, so
# each row still meets both, in half the time.
PARAMS = [
    (row, op, mode)
    for i, (row, op) in enumerate(CELLS)
    for mode in (("sync", "async") if BUDGET.long else (("sync", "async")[i % 2],))
]


@pytest.mark.parametrize(("row", "op", "mode"), PARAMS, ids=[f"{r.key}-{op}-{mode}" for r, op, mode in PARAMS])
def test_fault_matrix(
    service: tuple[LocalMeshExportService, ManualClock], row: Row, op: str, mode: str, tmp_path: Path
) -> None:
    svc, clock = service
    expect: Expect = row.cells[op]
    obs = run_cell(svc, clock, row, op, mode, tmp_path / "dest")
    problems = obs.problems + row_checks(row, op, obs)
    # Recorded with everything the assertions below look at, so the report shows a failing cell as such.
    summary = {**obs.summary(), "problems": problems}
    record_result("matrix", f"{row.key}--{op}--{mode}", {"row": row.key, "op": op, "mode": mode, **summary})

    assert not obs.outcome.startswith("ESCAPED"), obs.outcome
    observed = (obs.outcome, expect.fits(obs.attempts), problems)
    assert observed == (expect.error or "ok", True, []), (obs.attempts, expect.attempts, repr(obs.error)[:500])
    assert obs.log_records > 0 and obs.secrets_checked > 0  # the secrets check looked at something
