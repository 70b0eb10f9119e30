"""`make build`: what the sdist and the wheel hold, that twine accepts them, and that the wheel built
from the sdist is the wheel built from the tree."""

from __future__ import annotations

import email.parser
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from itwin_mesh_export import __version__
from tests.publish.conftest import Build

PACKAGES = {
    "itwin_mesh_export": Path("src") / "itwin_mesh_export",
    "itwin_mesh_export_generated": Path("generated_client") / "itwin_mesh_export_generated",
}
LEFTOVERS = ("__pycache__", ".pyc", ".pyo", ".ruff_cache", ".mypy_cache", ".pytest_cache", ".orig", ".rej", "~")
DIST_INFO = f"itwin_mesh_export-{__version__}.dist-info"


def _wheel_files(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return sorted(zf.namelist())


def _source_files(source: Path, package: str) -> set[str]:
    root = source / PACKAGES[package]
    return {
        f"{package}/{p.relative_to(root).as_posix()}"
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        return email.parser.Parser().parsestr(zf.read(f"{DIST_INFO}/METADATA").decode())


def test_the_build_makes_one_sdist_and_one_wheel_of_the_current_version(build: Build) -> None:
    assert sorted(p.name for p in build.dist.iterdir()) == [
        f"itwin_mesh_export-{__version__}-py3-none-any.whl",
        f"itwin_mesh_export-{__version__}.tar.gz",
    ]


def test_twine_check_is_clean(build: Build) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(build.wheel), str(build.sdist)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def test_the_wheel_holds_both_packages_with_py_typed_and_nothing_else(build: Build) -> None:
    files = _wheel_files(build.wheel)
    outside = [f for f in files if f.split("/")[0] not in {*PACKAGES, DIST_INFO}]
    assert outside == []
    for package in PACKAGES:
        assert f"{package}/py.typed" in files
        # Every source file, and only those: nothing missing, nothing the tree does not have.
        assert {f for f in files if f.startswith(f"{package}/")} == _source_files(build.source, package)
    assert [f for f in files if any(bit in f for bit in LEFTOVERS)] == []
    assert [f for f in files if "/tests/" in f or f.split("/")[-1].startswith("test_")] == []
    assert sorted(f for f in files if f.startswith(DIST_INFO)) == [
        f"{DIST_INFO}/{name}" for name in ("METADATA", "RECORD", "WHEEL", "entry_points.txt")
    ]


def test_the_local_service_ships_with_its_dependencies_as_the_server_extra(build: Build) -> None:
    files = _wheel_files(build.wheel)
    assert "itwin_mesh_export/testing/__init__.py" in files
    assert "itwin_mesh_export/testing/pytest_plugin.py" in files
    meta = _metadata(build.wheel)
    assert meta["Version"] == __version__
    requires = meta.get_all("Requires-Dist") or []
    base = {r.split(";")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower() for r in requires if ";" not in r}
    assert {"attrs", "httpx", "sniffio"} <= base
    assert not {"starlette", "uvicorn"} & base, "the local service's dependencies must stay optional"
    server = sorted(r.split(";")[0] for r in requires if "extra == 'server'" in r)
    assert [r.split(">")[0] for r in server] == ["starlette", "uvicorn"]
    assert "server" in (meta.get_all("Provides-Extra") or [])
    with zipfile.ZipFile(build.wheel) as zf:
        entry_points = zf.read(f"{DIST_INFO}/entry_points.txt").decode()
    assert "itwin-mesh-export = itwin_mesh_export.cli:main" in entry_points


def test_the_wheel_built_from_the_sdist_equals_the_wheel_built_from_the_tree(build: Build) -> None:
    assert _wheel_files(build.wheel) == _wheel_files(build.tree_wheel)
    # Byte for byte too: RECORD lists every file's sha256 (hatchling builds are reproducible).
    with zipfile.ZipFile(build.wheel) as a, zipfile.ZipFile(build.tree_wheel) as b:
        assert a.read(f"{DIST_INFO}/RECORD") == b.read(f"{DIST_INFO}/RECORD")


def test_the_sdist_holds_the_sources_the_spec_and_no_tests(build: Build) -> None:
    with tarfile.open(build.sdist) as tf:
        names = [n.split("/", 1)[1] for n in tf.getnames() if "/" in n]
    for needed in (
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "openapi/mesh-export.yaml",
        "src/itwin_mesh_export/py.typed",
        "generated_client/itwin_mesh_export_generated/py.typed",
    ):
        assert needed in names
    assert [n for n in names if n.startswith(("tests/", ".venv/", "node_modules/", "dist/", "release/"))] == []
    assert [n for n in names if any(bit in n for bit in LEFTOVERS)] == []
