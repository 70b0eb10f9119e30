"""Regeneration is byte-stable, equals what is committed, and a spec change flows through alone."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator.generate import OUTPUT, PACKAGE, compare_trees, generate
from release.versions import tree_sha256
from tests.conftest import ROOT, SPEC_PATH


@pytest.fixture(scope="module")
def two_fresh_generations(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    first = tmp_path_factory.mktemp("gen-a") / PACKAGE
    second = tmp_path_factory.mktemp("gen-b") / PACKAGE
    generate(SPEC_PATH, first)
    generate(SPEC_PATH, second)
    return first, second


def test_generating_twice_gives_identical_bytes(two_fresh_generations: tuple[Path, Path]) -> None:
    first, second = two_fresh_generations
    assert compare_trees(first, second) == []


def test_committed_client_is_what_the_spec_generates(two_fresh_generations: tuple[Path, Path]) -> None:
    first, _ = two_fresh_generations
    assert compare_trees(first, OUTPUT) == [], "run `make generate` and commit; never edit generated code"


def test_output_has_py_typed_and_no_caches(two_fresh_generations: tuple[Path, Path]) -> None:
    first, _ = two_fresh_generations
    assert (first / "py.typed").is_file()
    leftovers = [p for p in first.rglob("*") if p.name in {".ruff_cache", "__pycache__", ".mypy_cache"}]
    assert leftovers == []


def test_check_reports_changed_missing_and_stray_files(tmp_path: Path) -> None:
    committed = tmp_path / PACKAGE
    generate(SPEC_PATH, committed)
    (committed / "models" / "link.py").write_text("# edited by hand\n", encoding="utf-8")
    (committed / "models" / "export_metrics.py").unlink()
    (committed / "stray.py").write_text("", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "generator/generate.py", "check", "--out", str(committed)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "+# edited by hand" in proc.stdout
    assert "missing from" in proc.stdout and "models/export_metrics.py" in proc.stdout
    assert "stray.py" in proc.stdout


def test_generate_removes_files_the_spec_no_longer_produces(tmp_path: Path) -> None:
    out = tmp_path / PACKAGE
    out.mkdir()
    (out / "api").mkdir()
    (out / "api" / "removed_operation.py").write_text("", encoding="utf-8")
    generate(SPEC_PATH, out)
    assert not (out / "api" / "removed_operation.py").exists()
    assert (out / "api" / "exports" / "get_export.py").is_file()


def test_a_new_optional_property_changes_only_its_model(tmp_path: Path) -> None:
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    spec["components"]["schemas"]["Export"]["properties"]["tileFormatVersion"] = {
        "type": "string",
        "description": "Tile format version of the produced tiles.",
    }
    changed_spec = tmp_path / "mesh-export.yaml"
    changed_spec.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    out = tmp_path / "changed" / PACKAGE
    generate(changed_spec, out)

    differing = compare_trees(out, OUTPUT)
    assert len(differing) == 1 and differing[0].startswith("--- generated/models/export.py")

    module = _load_module(out / "models" / "export.py", f"{PACKAGE}.models.export")
    body = {
        "id": "e",
        "displayName": "d",
        "status": "Complete",
        "lastModified": "2024-08-22T03:18:43Z",
        "request": {"iModelId": "i", "changesetId": "c", "exportType": "3DTiles"},
        "tileFormatVersion": "1.1",
    }
    export = module.Export.from_dict(body)
    assert export.tile_format_version == "1.1"
    assert export.to_dict() == body


def _load_module(path: Path, name: str):  # type: ignore[no-untyped-def]
    # Load the changed module in place of the committed one, under its package, then restore.
    saved = sys.modules.get(name)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        if saved is not None:
            sys.modules[name] = saved
    return module


def test_generated_package_passes_mypy_strict() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(OUTPUT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_tool_caches_are_ignored_alike_by_the_check_and_by_the_release_hash(tmp_path: Path) -> None:
    clean, littered = tmp_path / "clean", tmp_path / "littered"
    for root in (clean, littered):
        (root / "models").mkdir(parents=True)
        (root / "models" / "export.py").write_text("x = 1\n", encoding="utf-8")
    for cache in (".ruff_cache", "__pycache__", ".mypy_cache", ".pytest_cache"):
        (littered / "models" / cache).mkdir()
        (littered / "models" / cache / "entry").write_bytes(b"cached")
    assert compare_trees(clean, littered) == []
    assert tree_sha256(clean) == tree_sha256(littered)
    (littered / "models" / "stray.py").write_text("", encoding="utf-8")  # a real file still counts for both
    assert compare_trees(clean, littered) != [] and tree_sha256(clean) != tree_sha256(littered)
