"""How much each reliability test does: a small deterministic budget in the normal suite (`make
test`), thousands in the long run (`make reliability`, which sets ITWIN_RELIABILITY=long), and
where the long run writes its figures for the RELIABILITY.md generator (`report.py`)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BUDGET", "ENV_MODE", "ENV_RESULTS", "Budget", "record_result"]

ENV_MODE = "ITWIN_RELIABILITY"
ENV_RESULTS = "ITWIN_RELIABILITY_RESULTS"


@dataclass(frozen=True)
class Budget:
    long: bool
    fuzz_examples: int  # hypothesis examples per property
    soak_calls: int  # calls per soak run (threads and tasks together)
    soak_threads: int
    soak_tasks: int
    kill_rounds: int  # SIGKILLs of a download before it is let finish
    kill_tile_count: int
    kill_large_tile_bytes: int

    @classmethod
    def from_env(cls) -> Budget:
        if os.environ.get(ENV_MODE, "").strip().lower() == "long":
            return cls(True, 2000, 6000, 24, 96, 20, 255, 48 * 1024 * 1024)
        return cls(False, 60, 400, 8, 24, 2, 15, 4 * 1024 * 1024)


BUDGET = Budget.from_env()


def record_result(kind: str, name: str, data: dict[str, Any]) -> None:
    """Write one JSON result for the report, when the long run asked for them (else nothing)."""
    root = os.environ.get(ENV_RESULTS)
    if not root:
        return
    directory = Path(root) / kind
    directory.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:150]
    (directory / f"{safe}.json").write_text(json.dumps(data, indent=1, sort_keys=True, default=str), encoding="utf-8")
