"""The paragraphs BENCHMARKS.md prints beside its rows: what was profiled, what was fixed, and, where
a target is missed, what remains and why. Keyed by `Row.key`. Written by hand, after profiling;
the report prints MISSED[key] only when that row's target is missed in the run being reported."""

from __future__ import annotations

__all__ = ["FIXED", "MISSED", "UNMEASURED_NOTE"]

UNMEASURED_NOTE = (
    "Missed in this run, and no note has been written for it yet: profile it (pyinstrument is pinned in "
    "requirements/dev.txt) and add what you find to `benchmarks/notes.py`."
)

MISSED: dict[str, str] = {}

FIXED: dict[str, str] = {}
