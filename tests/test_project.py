"""Project-wide checks that CI runs through `make test`: the hand-written code lints clean."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

HAND_WRITTEN = [p for p in ("src", "generator", "release", "tests", "benchmarks") if (ROOT / p).is_dir()]


def test_hand_written_code_passes_ruff() -> None:
    for args in (["check"], ["format", "--check"]):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args, *HAND_WRITTEN], cwd=ROOT, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
