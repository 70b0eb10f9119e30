"""7. Generation: wall time of `make generate` and `make check-generated`.

Each runs its Make recipe's command (`generator/generate.py generate` / `check`), not Make itself:
Make would first run `install`, and `generate` would replace the committed output in a checkout
other people may be using. So `generate` writes to a temporary directory (`--out`), which is the
same work: generate into a staging directory, clean it, move it into place. Rounds alternate.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._common import Context, Row, fmt_s
from ._harness import ROOT

__all__ = ["measure"]


def _timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


def measure(ctx: Context) -> list[Row]:
    driver = [sys.executable, "generator/generate.py"]
    times: dict[str, list[float]] = {"generate": [], "check": []}
    with tempfile.TemporaryDirectory(prefix="bench-generate-", dir=ctx.work_dir) as tmp:
        out = Path(tmp) / "itwin_mesh_export_generated"
        for _ in range(ctx.size.generation_rounds):
            times["generate"].append(_timed([*driver, "generate", "--out", str(out)]))
            times["check"].append(_timed([*driver, "check"]))
    rows = []
    for key, name, scenario in (
        ("generate", "generate", "`make generate` (spec → generated package)"),
        ("check-generated", "check", "`make check-generated` (regenerate, compare byte for byte)"),
    ):
        wall = statistics.median(times[name])
        rows.append(
            Row(
                number=7,
                key=key,
                scenario=scenario,
                unit="run",
                result=f"{fmt_s(wall)} wall",
                baseline="",
                ratio="",
                target="(reported)",
                met=None,
                values={"wall_s": wall},
            )
        )
    return rows
