"""The pytest plugin, used exactly as a user would: `pytest_plugins` in a conftest of another project."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

CONFTEST = """
pytest_plugins = ["itwin_mesh_export.testing.pytest_plugin"]
"""

TESTS = """
import httpx
import pytest

from itwin_mesh_export.testing import LocalMeshExportService, make_seed_exports

SEEN = []


def test_default_service(mesh_export_service):
    assert isinstance(mesh_export_service, LocalMeshExportService)
    assert mesh_export_service.running
    response = httpx.get(
        mesh_export_service.api_url + "/", headers={"Authorization": f"Bearer {mesh_export_service.token}"}
    )
    assert response.status_code == 200
    SEEN.append(mesh_export_service)


@pytest.mark.mesh_export_service(seed_exports=make_seed_exports(4), static_token="plugin-token")
def test_marker_configures_the_service(mesh_export_service):
    response = httpx.get(mesh_export_service.api_url + "/", headers={"Authorization": "Bearer plugin-token"})
    assert len(response.json()["exports"]) == 4
    SEEN.append(mesh_export_service)


def test_factory_starts_several(mesh_export_service_factory):
    first = mesh_export_service_factory(seed_exports=make_seed_exports(1))
    second = mesh_export_service_factory()
    assert first.api_url != second.api_url
    assert first.running and second.running
    SEEN.extend([first, second])


def test_everything_was_stopped_after_its_test():
    assert len(SEEN) == 4
    assert not any(service.running for service in SEEN)
"""


def test_the_plugin_fixtures_and_marker_work_in_a_users_project(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_user.py").write_text(textwrap.dedent(TESTS))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout
