"""BENCHMARKS.md: the table, the machine, the load, and a paragraph per row where a target is
missed (from `benchmarks/notes.py`, written by whoever profiled it)."""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata

from ._common import Row, Size
from .notes import FIXED, MISSED, UNMEASURED_NOTE, note_text

__all__ = ["LoadRecord", "machine_info", "render"]

_MET = {True: "yes", False: "**no**", None: "-"}


@dataclass(frozen=True)
class LoadRecord:
    """1-minute load averages sampled during the run."""

    samples: tuple[float, ...]
    cores: int

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples) if self.samples else 0.0

    @property
    def peak(self) -> float:
        return max(self.samples, default=0.0)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            kib = int(info.readline().split()[1])
        return f"{kib / (1 << 20):.0f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown memory"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> str:
    libraries = ", ".join(f"{n} {_version(n)}" for n in ("httpx", "httpcore", "attrs", "anyio", "uvicorn"))
    return (
        f"{_cpu_model()}, {os.cpu_count()} cores, {_memory_gib()}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()} ({platform.python_implementation()}); {libraries}"
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(
    rows: Sequence[Row],
    *,
    size: Size,
    started: datetime.datetime,
    elapsed_s: float,
    load: LoadRecord,
    peer: str,
    errors: Sequence[str],
) -> str:
    heavy = load.mean > 0.75 * load.cores
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m benchmarks --size {size.name}`) on "
        f"{started.strftime('%Y-%m-%d %H:%M %Z').strip()}, in {elapsed_s / 60:.1f} minutes. Do not edit by hand: "
        "rerun `make bench`. The harness is `benchmarks/` (its README says how it measures).",
        "",
        f"- **Machine**: {machine_info()}.",
        f"- **Load during the run** (1-minute load average, sampled every few seconds): mean {load.mean:.2f}, "
        f"peak {load.peak:.2f} on {load.cores} cores."
        + (
            " **Measured under load** (other work shared the cores): absolute times are inflated and "
            "noisy; the ratios, whose two sides ran interleaved in the same minutes, are what to read."
            if heavy
            else ""
        ),
        f"- **Peer**: {peer}.",
        "- **How**: each variant runs in its own process against a server in another process; rounds of "
        "all variants of a row are interleaved and each figure is the median of the rounds "
        f"(per-call and listing {size.api_rounds} rounds of {size.calls:,} calls / "
        f"{size.list_exports:,} exports; waiting {size.wait_rounds}; download {size.download_rounds}; "
        f"import {size.import_rounds}; generation {size.generation_rounds}). CPU is the client process's "
        "CPU time (user + system, all threads); wall is elapsed time.",
        "",
        "| # | Scenario | Unit | Result | Baseline (same run) | Ratio | Target | Met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = (str(row.number), row.scenario, row.unit, row.result, row.baseline, row.ratio, row.target)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + f" | {_MET[row.met]} |")
    if errors:
        lines += ["", "## Measurements that failed", ""]
        lines += [f"- {_cell(e)}" for e in errors]
    by_key = {row.key: row for row in rows}
    missed = [row for row in rows if row.met is False]
    lines += ["", "## Where a target is missed", ""]
    if not missed:
        lines.append("Every target with a number is met in this run.")
    for row in missed:
        lines += [f"**{row.scenario}** ({row.key}). " + note_text(MISSED.get(row.key, UNMEASURED_NOTE), by_key), ""]
    fixed = [row for row in rows if row.key in FIXED]
    if fixed:
        lines += ["", "## What was profiled and fixed", ""]
        for row in fixed:
            lines += [f"**{row.scenario}** ({row.key}). {note_text(FIXED[row.key], by_key)}", ""]
    return "\n".join(lines).rstrip() + "\n"
