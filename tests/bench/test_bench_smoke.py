"""The benchmark itself, at a tiny size: every measurement's code path runs (servers in their own
processes, workers, the peer built or reused from build/bench/, the report written), and the report
has every row. No timing is asserted anywhere: the numbers of a tiny run mean nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks._common import fmt_s
from benchmarks.notes import FIXED
from tests.conftest import ROOT

# Every row BENCHMARKS.md must carry, in table order: the seven measurements of issue 7.
EXPECTED_ROWS = [
    (1, "per-call-sync"),
    (1, "per-call-async"),
    (2, "listing-sync"),
    (2, "listing-async"),
    (3, "peer-per-call"),
    (3, "peer-listing"),
    (4, "waiting-requests"),
    (4, "waiting-cpu"),
    (4, "waiting-rss"),
    (5, "download-small"),
    (5, "download-small-c1"),
    (5, "download-speedup"),
    (5, "download-speedup-loopback"),
    (5, "download-large"),
    (5, "download-large-rss"),
    (6, "import"),
    (6, "import-first-call"),
    (6, "import-download"),
    (6, "import-breakdown"),
    (7, "generate"),
    (7, "check-generated"),
]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any], str]:
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "BENCHMARKS.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--size", "smoke", "--out", str(out), "--work-dir", str(tmp / "work")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"the smoke run failed:\n{proc.stderr[-6000:]}"
    results = json.loads((tmp / "work" / "results.json").read_text(encoding="utf-8"))
    return out.read_text(encoding="utf-8"), results, str(tmp / "work" / "results.json")


def test_every_measurement_produces_its_rows(smoke_run: tuple[str, dict[str, Any], str]) -> None:
    _, results, _ = smoke_run
    assert results["size"] == "smoke"
    assert results["errors"] == []
    assert [(row["number"], row["key"]) for row in results["rows"]] == EXPECTED_ROWS


def test_every_row_was_measured_not_skipped(smoke_run: tuple[str, dict[str, Any], str]) -> None:
    _, results, _ = smoke_run
    for row in results["rows"]:
        assert row["result"] and row["result"] != "not run", row
        assert row["values"], f"{row['key']} carries no measured value"
        if row["target"] != "(reported)":
            assert row["met"] in (True, False), row
            assert row["baseline"], f"{row['key']} has a target but no baseline from the same run"


def test_the_report_has_the_table_machine_load_and_notes(smoke_run: tuple[str, dict[str, Any], str]) -> None:
    text, results, _ = smoke_run
    assert text.startswith("# Benchmarks\n")
    assert "| # | Scenario | Unit | Result | Baseline (same run) | Ratio | Target | Met |" in text
    table = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| #")]
    assert len(table) == len(EXPECTED_ROWS)
    for row in results["rows"]:
        assert row["scenario"].replace("|", "\\|") in text
    assert "**Machine**:" in text and "cores" in text
    assert "**Load during the run**" in text
    assert "**Peer**: openapi-generator" in text


def _section(text: str, heading: str) -> str:
    """The text under `## heading`, up to the next `## ` heading ("" when there is no such section)."""
    if f"\n## {heading}\n" not in text:
        return ""
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def _paragraph_keys(section: str) -> list[str]:
    """The row keys of the section's paragraphs (`**scenario** (key). ...`), in order."""
    return re.findall(r"^\*\*.+?\*\* \(([a-z0-9-]+)\)\. ", section, flags=re.MULTILINE)


def test_the_notes_follow_the_rows_of_this_run(smoke_run: tuple[str, dict[str, Any], str]) -> None:
    text, results, _ = smoke_run
    rows = results["rows"]
    # One paragraph for each target this tiny run missed, and none for any other row.
    missed = [row["key"] for row in rows if row["met"] is False]
    section = _section(text, "Where a target is missed")
    assert _paragraph_keys(section) == missed
    assert ("Every target with a number is met in this run." in section) == (not missed)
    # What was fixed: a paragraph for each row of this run that has a note, in table order.
    assert _paragraph_keys(_section(text, "What was profiled and fixed")) == [
        row["key"] for row in rows if row["key"] in FIXED
    ]
    # A note that quotes figures quotes this run's: the import note, from the import rows.
    imports = {row["key"]: row for row in rows if row["number"] == 6}
    fixed_import = next(p for p in text.split("\n\n") if p.startswith("**") and "(import). " in p)
    assert fmt_s(imports["import"]["values"]["wall_s"]) in fixed_import
    assert fmt_s(imports["import"]["values"]["baseline_wall_s"]) in fixed_import
    assert fmt_s(imports["import-breakdown"]["values"]["imports_s"]) in fixed_import


def test_the_report_is_rerendered_from_the_results_alone(
    smoke_run: tuple[str, dict[str, Any], str], tmp_path: Path
) -> None:
    text, _, results_path = smoke_run
    again = tmp_path / "again.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--render-only", results_path, "--out", str(again)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert again.read_text(encoding="utf-8") == text
