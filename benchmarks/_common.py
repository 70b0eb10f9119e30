"""What every measurement shares: the sizes of a run, its context, a table row, number formats."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FULL", "SIZES", "SMOKE", "Context", "Row", "Size", "fmt_bytes", "fmt_s", "fmt_x"]


@dataclass(frozen=True)
class Size:
    """How much work each measurement does. FULL is `make bench`; SMOKE is the test's tiny run,
    which goes through every code path in seconds (its numbers mean nothing)."""

    name: str
    # 1. per-call overhead: calls per round
    calls: int
    api_rounds: int
    # 2. listing: exports across pages of `page_size`
    list_exports: int
    page_size: int
    # 4. waiting at scale
    wait_exports: int
    wait_in_progress_s: float
    wait_poll_interval_s: float
    wait_rounds: int
    # 5. download
    tiles: int
    tile_bytes: int
    large_bytes: int
    download_rounds: int
    # 6. import time, 7. generation
    import_rounds: int
    generation_rounds: int


FULL = Size(
    name="full",
    calls=2000,
    api_rounds=7,
    list_exports=10_000,
    page_size=100,
    wait_exports=1000,
    wait_in_progress_s=12.0,
    wait_poll_interval_s=1.0,
    wait_rounds=3,
    tiles=2000,
    tile_bytes=16 << 10,
    large_bytes=1 << 30,
    download_rounds=7,  # the 1 GiB row's single rounds spread widely (benchmarks/notes.py)
    import_rounds=21,
    generation_rounds=3,
)

SMOKE = Size(
    name="smoke",
    calls=20,
    api_rounds=2,
    list_exports=250,
    page_size=100,
    wait_exports=5,
    wait_in_progress_s=0.5,
    wait_poll_interval_s=0.2,
    wait_rounds=1,
    tiles=12,
    tile_bytes=1 << 10,
    large_bytes=256 << 10,
    download_rounds=1,
    import_rounds=2,
    generation_rounds=1,
)

SIZES = {s.name: s for s in (FULL, SMOKE)}


@dataclass
class Context:
    """One run: its size, where it keeps its files, and what earlier steps produced."""

    size: Size
    work_dir: Path
    peer_cache: Path
    skip_peer_reason: str | None = None
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.work_dir / "logs"


@dataclass
class Row:
    """One line of the table. `met` is None for a row without a target (context for others)."""

    number: int  # the measurement's number in issue 7
    key: str  # stable id, used by the notes and the smoke test
    scenario: str
    unit: str
    result: str
    baseline: str
    ratio: str
    target: str
    met: bool | None
    values: dict[str, float] = field(default_factory=dict)


def fmt_s(seconds: float) -> str:
    """A duration with a unit that keeps three significant digits."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def fmt_bytes(count: float) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count:.0f} B"


def fmt_x(ratio: float) -> str:
    return f"{ratio:.2f}x"
