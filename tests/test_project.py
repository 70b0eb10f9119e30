"""Project-wide checks that CI runs through `make test`: the hand-written code lints clean and
passes `mypy --strict`, on exactly the directories `make lint` and `make typecheck` name (read
from the Makefile, so the two lists cannot drift apart)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

BIN = Path(sys.executable).parent  # the venv's own tools, the pinned versions


def makefile_list(name: str) -> list[str]:
    """The words of `NAME := ...` in the Makefile."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{name} := (.+)$", makefile, re.MULTILINE)
    assert match, f"the Makefile defines no {name}"
    words = shlex.split(match.group(1))
    missing = [w for w in words if not (ROOT / w).exists()]
    assert words and missing == [], f"{name} names what does not exist: {missing}"
    return words


def test_the_makefile_lints_and_typechecks_the_listed_code() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "\t$(BIN)/ruff check $(HAND_WRITTEN)\n" in makefile
    assert "\t$(BIN)/ruff format --check $(HAND_WRITTEN)\n" in makefile
    assert "\t$(BIN)/mypy --strict $(TYPECHECKED)\n" in makefile
    hand_written = makefile_list("HAND_WRITTEN")
    assert {"src", "generator", "release", "scripts", "tests", "benchmarks"} <= set(hand_written)
    assert {"src/itwin_mesh_export", "release", "scripts"} <= set(makefile_list("TYPECHECKED"))


def test_hand_written_code_passes_ruff() -> None:
    hand_written = makefile_list("HAND_WRITTEN")
    for args in (["check"], ["format", "--check"]):
        proc = subprocess.run([str(BIN / "ruff"), *args, *hand_written], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_code_passes_mypy_strict(tmp_path: Path) -> None:
    cache = tmp_path / "mypy-cache"  # not the shared .mypy_cache: parallel runs must not share it
    proc = subprocess.run(
        [str(BIN / "mypy"), "--strict", "--cache-dir", str(cache), *makefile_list("TYPECHECKED")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
