"""RELIABILITY.md says what the run recorded, failures included: the report is written from
hand-made records here (no run), and each test fails if the report hides what the records say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.matrix import ROWS, Expect
from tests.reliability.report import write_report
from tests.reliability.test_hostile_input import CASE_NAMES

SOAK = {
    "calls": 10,
    "threads": 2,
    "tasks": 2,
    "wall_s": 1.0,
    "faults_applied": 3,
    "outcomes": {"ok": 8, "InternalServerError": 1, "ESCAPED OSError: x": 1},
    "unended": 0,
    "escaped": 1,
    "max_call_s": 0.5,
    "over_deadline": 0,
    "client_attempts": 12,
    "client_attempts_reached": 12,
    "api_requests_at_server": 12,
    "unreached": {},
    "token_requests": 1,
    "statuses_at_server": {"200": 11, "503": 1},
    "over_policy": 0,
    "mismatched": 0,
    "fds_before": 10,
    "fds_peak": 20,
    "fds_after": 10,
    "sockets_before": 2,
    "sockets_after": 2,
    "fds_after_service_stopped": 8,
    "fds_without_service": 8,
    "threads_leaked": 0,
    "failed_checks": ["nothing but typed errors escaped"],
}


def _write(results: Path, kind: str, name: str, data: dict[str, Any]) -> None:
    (results / kind).mkdir(parents=True, exist_ok=True)
    (results / kind / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")


def _tileset(case: str, mode: str, **changes: Any) -> dict[str, Any]:
    record = {
        "case": case,
        "mode": mode,
        "error": "UnsafeTilesetError",
        "storage_requests": 1,
        "requests_allowed": 1,
        "foreign_requests": 0,
        "storage_requests_not_200_or_with_authorization": 0,
        "written_beside": [],
        "signature_in_error": False,
    }
    return record | changes


def _report(tmp_path: Path, run: dict[str, Any] | None) -> str:
    output = tmp_path / "RELIABILITY.md"
    write_report(tmp_path / "results", output, run)
    return output.read_text(encoding="utf-8")


@pytest.fixture
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    _write(root, "soak", "soak", SOAK)
    first, second = CASE_NAMES[0], CASE_NAMES[1]
    _write(root, "hostile-tilesets", "a", _tileset(first, "sync"))
    _write(root, "hostile-tilesets", "b", _tileset(first, "async", error=None, storage_requests=4))
    _write(root, "hostile-tilesets", "c", _tileset(second, "sync", foreign_requests=1))
    row = ROWS[0]
    op, expect = next(iter(row.cells.items()))
    cell = {
        "row": row.key,
        "op": op,
        "mode": "sync",
        "outcome": expect.error or "ok",
        "attempts": 99,  # not what the table promises
        "log_records": 5,
        "secrets_checked": 3,
        "secrets_found": 2,
        "problems": [],
    }
    _write(root, "matrix", "cell", cell)
    return root


def test_a_failed_run_says_so_at_the_top(tmp_path: Path, results: Path) -> None:
    run = {"command": "pytest", "summary": "1 failed, 9 passed", "wall_s": 3.0, "rc": 1}
    text = _report(tmp_path, run)
    title, banner = text.split("\n\n")[:2]
    assert title == "# Reliability and security"
    assert banner.startswith("> **THIS RUN FAILED**: pytest exited with status 1 (1 failed, 9 passed)")
    passed = _report(tmp_path, run | {"rc": 0, "summary": "10 passed"})
    assert "THIS RUN FAILED" not in passed


def test_the_soak_prints_its_failed_checks_and_counts(tmp_path: Path, results: Path) -> None:
    text = _report(tmp_path, None)
    soak = text.split("## Soak", 1)[1].split("\n## ", 1)[0]
    assert "**Checks that failed in this run: nothing but typed errors escaped.**" in soak
    assert "Every check of the soak held" not in soak
    assert "errors other than a MeshExportError that escaped: 1;" in soak


def test_tileset_cases_come_from_the_records(tmp_path: Path, results: Path) -> None:
    text = _report(tmp_path, None)
    rows = {line.split(" | ")[0][2:]: line for line in text.splitlines() if line.startswith("| ")}
    first, second, third = CASE_NAMES[:3]
    assert "| ✓ UnsafeTilesetError after 1 storage request(s) (≤ 1 allowed) | ✗ no error after 4" in rows[first]
    assert "1 to the foreign host" in rows[second] and rows[second].endswith("| not recorded |")
    assert rows[third].endswith("| not recorded | not recorded |")
    assert "1 of 3 recorded downloads refused as above" in text


def test_matrix_cells_outside_their_promise_and_found_secrets_are_counted(tmp_path: Path, results: Path) -> None:
    text = _report(tmp_path, None)
    assert "1 cells run (1 table cells, sync and async), 1 not as promised" in text
    assert ": 2 texts held one." in text
    assert "sync ✗" in text


@pytest.mark.parametrize(
    ("attempts", "n", "fits"), [(2, 2, True), (2, 3, False), ((1, 3), 1, True), ((1, 3), 3, True), ((1, 3), 4, False)]
)
def test_expect_fits_exact_counts_and_inclusive_ranges(attempts: int | tuple[int, int], n: int, fits: bool) -> None:
    assert Expect(None, attempts).fits(n) is fits
