"""The client against Prism in dynamic mode: hundreds of random, schema-valid responses generated
from the committed spec, every one of which must go through the client as documented.

A run is a plan drawn from one base seed: which operation, with which arguments, and (for a
quarter of the calls) which documented error status. Get Export, Start Export and Delete Export
requests carry `__seed=<base>-<n>`, so Prism generates the same body for them again; Get Exports
requests go with the client's own headers untouched (Prism ignores query controls next to a
`Prefer` header) and so draw from Prism's random state, which the seeded requests before them
set. A failing call is written, with every exchange of it, to a JSON file under the test's
temporary directory; the failure message names the directory and the seed, and
`ITWIN_PRISM_SEED=<seed>` runs the same plan again.

The oracle (`tests/contract/oracle.py`) decides from the recorded responses alone what the client
must have returned or raised, how long it must have waited before each retry, and which page it
must have asked for next; the client's own answer is compared with it. Prism must report no
violation on any request.
"""

from __future__ import annotations

import json
import os
import random
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from itwin_mesh_export import ExportsOrderBy, ExportType
from tests.contract.conftest import ContractClient
from tests.contract.prism import PrismServer

pytestmark = pytest.mark.anyio

CALLS = {"sync": 400, "async": 200}
# Statuses each operation documents besides its 2xx (the spec's responses).
ERROR_STATUSES = {
    "get-exports": ["401", "422", "429"],
    "get-export": ["401", "404", "429"],
    "start-export": ["401", "404", "422", "429"],
    "delete-export": ["401", "404", "422", "429"],
}
OPERATION_WEIGHTS = {"get-exports": 3, "get-export": 3, "start-export": 2, "delete-export": 2}
ERROR_SHARE = 0.25
IDS = ["fc3aa1e5-5196-4dd9-a73e-4cfda693e576", "a/b", "x?y#z", "ü", "%2F", "..."]
MAX_SAVED_FAILURES = 50


@dataclass
class PlannedCall:
    number: int
    op: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    controls: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "op": self.op,
            "args": self.args,
            "kwargs": self.kwargs,
            "controls": self.controls,
        }


def _arguments(rng: random.Random, op: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if op == "get-exports":
        kwargs: dict[str, Any] = {"page_size": rng.choice([1, 2, 10, 100, 1000])}
        if rng.random() < 0.5:
            kwargs["imodel_id"] = str(rng.getrandbits(64))
        if rng.random() < 0.3:
            kwargs["changeset_id"] = rng.choice(["", "ed94ed9a0704918d36eeb620219f5e17d8858858"])
        if rng.random() < 0.5:
            kwargs["export_type"] = rng.choice(list(ExportType))
        if rng.random() < 0.5:
            kwargs["order_by"] = rng.choice(list(ExportsOrderBy))
        kwargs["cdn"] = rng.random() < 0.3
        return (), kwargs
    if op in ("get-export", "delete-export"):
        kwargs = {"cdn": rng.random() < 0.5} if op == "get-export" else {}
        return (rng.choice(IDS),), kwargs
    kwargs = {"export_type": rng.choice(list(ExportType))}
    if rng.random() < 0.5:
        kwargs["changeset_id"] = rng.choice(["", "ed94ed9a0704918d36eeb620219f5e17d8858858"])
    if rng.random() < 0.4:
        values = [rng.choice(["fast", "x" * rng.randint(1, 1000)]), rng.random() * 1e6, rng.random() < 0.5, -7]
        kwargs["tiler_config"] = {f"key{i}": v for i, v in enumerate(rng.sample(values, rng.randint(1, 4)))}
    return (str(rng.getrandbits(64)),), kwargs


def plan(base_seed: str, kind: str, count: int) -> list[PlannedCall]:
    rng = random.Random(f"{base_seed}/{kind}")
    ops = list(OPERATION_WEIGHTS)
    weights = list(OPERATION_WEIGHTS.values())
    calls = []
    for number in range(count):
        # The first call is seeded, so Prism's random state is set before any unseeded listing.
        op = "get-export" if number == 0 else rng.choices(ops, weights)[0]
        args, kwargs = _arguments(rng, op)
        controls: dict[str, str] = {}
        error = rng.random() < ERROR_SHARE
        if op != "get-exports" or error:
            controls["__seed"] = f"{base_seed}-{kind}-{number}"
        if error:
            controls["__code"] = rng.choice(ERROR_STATUSES[op])
        calls.append(PlannedCall(number, op, args, kwargs, controls))
    return calls


def _save(directory: Path, planned: PlannedCall, call: Any, problems: list[str], seed: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    record = {
        "base_seed": seed,
        "call": planned.describe(),
        "problems": problems,
        "outcome": call.outcome.describe(),
        "sleeps": call.sleeps,
        "exchanges": [e.to_record() for e in call.exchanges],
    }
    path = directory / f"{planned.number:04d}-{planned.op}.json"
    path.write_text(json.dumps(record, indent=2, default=repr), encoding="utf-8")


@pytest.mark.parametrize("kind", list(CALLS))
async def test_hundreds_of_random_responses_go_through_the_client_as_documented(
    kind: str, prism_dynamic: PrismServer, tmp_path: Path
) -> None:
    seed = os.environ.get("ITWIN_PRISM_SEED") or secrets.token_hex(4)
    contract = ContractClient(kind, prism_dynamic)
    failures = tmp_path / "prism-dynamic-failures"
    failed: list[str] = []
    requests = 0
    ops: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    try:
        for planned in plan(seed, kind, CALLS[kind]):
            call = await contract.call(planned.op, *planned.args, controls=planned.controls, **planned.kwargs)
            requests += len(call.exchanges)
            ops[planned.op] = ops.get(planned.op, 0) + 1
            ending = type(call.outcome.error).__name__ if call.outcome.error is not None else "returned"
            outcomes[ending] = outcomes.get(ending, 0) + 1
            problems = call.problems(page_size=planned.kwargs.get("page_size", 100))
            if problems:
                failed.append(f"call {planned.number} ({planned.op}): {problems[0]}")
                if len(failed) <= MAX_SAVED_FAILURES:
                    _save(failures, planned, call, problems, seed)
    finally:
        await contract.close()
    summary = f"{requests} requests, calls per operation {ops}, endings {outcomes}"
    if failed:
        shown = "\n  ".join(failed[:10])
        pytest.fail(
            f"{len(failed)} of {CALLS[kind]} calls went wrong ({summary}).\n  {shown}\n"
            f"Base seed {seed}: rerun with ITWIN_PRISM_SEED={seed}. "
            f"The failing calls, with every request and response, are in {failures}",
            pytrace=False,
        )
    # The run did what it is for: every operation, every kind of ending, and enough requests.
    assert set(ops) == set(OPERATION_WEIGHTS), summary
    assert requests >= CALLS[kind], summary
    assert {"returned", "ResponseValidationError", "RateLimitError", "NotFoundError"} <= set(outcomes), summary
