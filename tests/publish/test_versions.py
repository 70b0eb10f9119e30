"""The version scheme tied to the spec (release/versions.py): the committed record matches, and a
change to the spec or the generated package under a recorded version fails the check."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import itwin_mesh_export
from itwin_mesh_export._http import USER_AGENT
from release import versions
from release.versions import Paths, ReleaseCheckError
from tests.conftest import ROOT


@pytest.fixture
def project(tmp_path: Path) -> Paths:
    """A copy of everything the scheme reads, to change freely."""
    shutil.copytree(versions.GENERATED, tmp_path / "generated", ignore=shutil.ignore_patterns("__pycache__"))
    for name, source in (
        ("spec.yaml", versions.SPEC),
        ("_version.py", versions.VERSION_FILE),
        ("versions.json", versions.RECORD),
        ("CHANGELOG.md", versions.CHANGELOG),
    ):
        shutil.copy(source, tmp_path / name)
    return Paths(
        spec=tmp_path / "spec.yaml",
        generated=tmp_path / "generated",
        version_file=tmp_path / "_version.py",
        record=tmp_path / "versions.json",
        changelog=tmp_path / "CHANGELOG.md",
    )


def _set_version(paths: Paths, version: str, changelog: bool = True) -> None:
    paths.version_file.write_text(f'"""v"""\n\n__version__ = "{version}"\n', encoding="utf-8")
    if changelog:
        with paths.changelog.open("a", encoding="utf-8") as f:
            f.write(f"\n## {version}\n\nSomething.\n")


# The committed version and the next ones after it: the tests below hold for whichever is current.
CURRENT = versions.current_version()
_MAJOR, _MINOR, _PATCH = (int(part) for part in CURRENT.split("."))
NEXT_PATCH = f"{_MAJOR}.{_MINOR}.{_PATCH + 1}"
NEXT_MINOR = f"{_MAJOR}.{_MINOR + 1}.0"


def _change_generated(paths: Paths) -> None:
    target = paths.generated / "models" / "export.py"
    target.write_text(target.read_text(encoding="utf-8") + "\n# a spec change\n", encoding="utf-8")


def test_the_committed_record_matches_the_committed_spec_and_generated_package() -> None:
    proc = subprocess.run(
        [sys.executable, "release/versions.py", "check"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"version {itwin_mesh_export.__version__} matches" in proc.stdout


def test_the_version_is_visible_at_run_time() -> None:
    from importlib.metadata import version

    assert itwin_mesh_export.__version__ == versions.current_version()
    assert itwin_mesh_export.__version__ == version("itwin-mesh-export")
    assert USER_AGENT.startswith(f"itwin-mesh-export/{itwin_mesh_export.__version__} python/")


def test_a_changed_generated_package_under_a_recorded_version_fails(project: Paths) -> None:
    assert versions.check(project) == []
    _change_generated(project)
    [problem] = versions.check(project)
    assert "the generated package" in problem and f"changed since version {CURRENT} was recorded" in problem
    assert f"set __version__ to {NEXT_MINOR} or higher" in problem


def test_a_spec_change_needs_a_new_version_even_when_the_generated_package_stays(project: Paths) -> None:
    project.spec.write_text(project.spec.read_text(encoding="utf-8") + "\n# comment\n", encoding="utf-8")
    [problem] = versions.check(project)
    assert "the spec (openapi/mesh-export.yaml) changed" in problem
    assert f"set __version__ to {NEXT_PATCH} or higher" in problem


def test_recording_a_new_version_needs_the_minor_bump_and_a_changelog_section(project: Paths) -> None:
    _change_generated(project)
    _set_version(project, NEXT_PATCH)
    with pytest.raises(
        ReleaseCheckError, match=rf"the generated package changed: set __version__ to {re.escape(NEXT_MINOR)}"
    ):
        versions.record(project)
    _set_version(project, NEXT_MINOR, changelog=False)
    with pytest.raises(ReleaseCheckError, match=rf"CHANGELOG.md has no `## {re.escape(NEXT_MINOR)}` section"):
        versions.record(project)
    _set_version(project, NEXT_MINOR)
    assert versions.record(project).startswith(f"recorded {NEXT_MINOR}")
    assert versions.check(project) == []
    assert list(json.loads(project.record.read_text())["versions"])[-2:] == [CURRENT, NEXT_MINOR]


def test_a_recorded_version_is_never_re_recorded_unless_replaced_explicitly(project: Paths) -> None:
    _change_generated(project)
    with pytest.raises(ReleaseCheckError, match="recorded with other contents"):
        versions.record(project)
    versions.record(project, replace=True)  # the newest version, never published
    assert versions.check(project) == []


def test_a_record_whose_versions_skip_the_minor_bump_fails(project: Paths) -> None:
    record = json.loads(project.record.read_text())
    newest = record["versions"][CURRENT]
    record["versions"][NEXT_PATCH] = {**newest, "generated_sha256": "0" * 64}
    project.record.write_text(json.dumps(record))
    _set_version(project, NEXT_PATCH)
    problems = versions.check(project)
    expected = f"it must be {NEXT_MINOR} or higher"
    assert any(f"{NEXT_PATCH} follows {CURRENT}" in p and expected in p for p in problems), problems


def test_an_unrecorded_version_fails(project: Paths) -> None:
    unrecorded = f"{_MAJOR}.{_MINOR + 5}.0"
    _set_version(project, unrecorded)
    [problem] = versions.check(project)
    assert f"version {unrecorded}" in problem and "is not in versions.json" in problem


def test_the_tree_hash_sees_renames_additions_and_removals(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x")
    first = versions.tree_sha256(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"cache")
    assert versions.tree_sha256(tmp_path) == first
    (tmp_path / "a.py").rename(tmp_path / "b.py")
    renamed = versions.tree_sha256(tmp_path)
    assert renamed != first
    (tmp_path / "c.py").write_text("")
    assert versions.tree_sha256(tmp_path) not in {first, renamed}
