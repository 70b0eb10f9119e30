"""Configuration, clocks, the Python API's surface and its typed errors."""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import time
import warnings
from typing import Any

import httpx
import pytest

import itwin_mesh_export.testing as testing
from itwin_mesh_export.testing import (
    LocalMeshExportService,
    ManualClock,
    ScaledClock,
    SeedExport,
    ServiceConfig,
    ServiceConfigError,
    ServiceStartError,
    make_seed_exports,
)


def test_the_public_surface_is_explicit_and_sorted() -> None:
    assert testing.__all__ == sorted(testing.__all__)
    assert all(hasattr(testing, name) for name in testing.__all__)
    assert {
        "LocalMeshExportService",
        "ServiceConfig",
        "SeedExport",
        "Fault",
        "FaultKind",
        "Route",
        "TilesetSpec",
        "ManualClock",
        "ScaledClock",
        "make_seed_exports",
    } <= set(testing.__all__)


def test_the_subpackage_imports_no_client_module_of_the_overlay() -> None:
    import ast
    from pathlib import Path

    package = Path(testing.__file__).parent
    for module in package.glob("*.py"):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(alias.name.startswith("itwin_mesh_export") for alias in node.names), ast.unparse(node)
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{module.name} imports from the overlay: {ast.unparse(node)}"
                assert not (node.module or "").startswith("itwin_mesh_export."), ast.unparse(node)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"not_started_s": -1}, "not_started_s must be a number >= 0"),
        ({"token_lifetime_s": 0}, "token_lifetime_s must be a number > 0"),
        ({"default_page_size": 0}, "default_page_size must be an int >= 1"),
        ({"default_page_size": 50, "max_page_size": 10}, "must not exceed max_page_size"),
        ({"client_secret": ""}, "client_id and client_secret must be non-empty"),
        ({"static_token": "has space"}, "static_token must be None"),
        ({"container": "a/b"}, "container must be"),
        ({"timestamp_style": "iso"}, "timestamp_style must be"),
        ({"media_type": "text/plain"}, "media_type must be"),
        ({"seed_exports": [SeedExport("m", index=1), SeedExport("m", index=1)]}, "share the id"),
        ({"seed_exports": ["x"]}, "must hold SeedExport objects"),
        ({"faults": ["x"]}, "must hold Fault objects"),
    ],
)
def test_bad_configuration_is_a_typed_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ServiceConfigError, match=message):
        ServiceConfig(**kwargs)


def test_unknown_overrides_and_bad_ports_are_typed_errors() -> None:
    with pytest.raises(ServiceConfigError, match="unknown ServiceConfig field"):
        LocalMeshExportService(in_progres_s=1)
    with pytest.raises(ServiceConfigError, match="a port must be"):
        LocalMeshExportService(port=70000).start()
    with pytest.raises(ServiceConfigError, match=r"SeedExport\.imodel_id"):
        SeedExport("")
    with pytest.raises(ServiceConfigError, match="count must be"):
        make_seed_exports(-1)


def _open_sockets() -> set[tuple[int, str]]:
    """(fd, "socket:[inode]") of every socket this process has open."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the fd listdir itself used is gone by now
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:"):
                found.add((int(fd), target))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_a_busy_port_is_a_start_error_and_nothing_is_left_bound() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        service = LocalMeshExportService(storage_port=port)  # the API port is bound first, then this fails
        before = _open_sockets()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            with pytest.raises(ServiceStartError, match=f"cannot listen on 127.0.0.1:{port}"):
                service.start()
            after = _open_sockets()
            gc.collect()  # a socket dropped without close() warns here at the latest
    assert after == before
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert unclosed == []  # the API socket was closed by start(), not by the garbage collector
    assert not service.running


def test_start_stop_and_restart_rules() -> None:
    service = LocalMeshExportService()
    assert "not started" in repr(service)
    with service:
        assert service.running
        assert service.api_url == f"http://127.0.0.1:{service.port}/mesh-export"
        assert len({service.api_origin, service.storage_origin, service.cdn_origin}) == 3
        with pytest.raises(ServiceStartError, match="already started"):
            service.start()
    assert not service.running
    service.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(service.api_url + "/")


def test_manual_clock() -> None:
    clock = ManualClock(100.0)
    assert clock.now() == 100.0
    assert clock.advance(5) == 105.0
    clock.set(50)
    assert clock.now() == 50.0
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)


def test_scaled_clock_runs_factor_times_faster() -> None:
    real = [500.0]
    clock = ScaledClock(60.0, start_epoch_s=1000.0, monotonic=lambda: real[0])
    assert clock.now() == 1000.0
    real[0] += 2.5
    assert clock.now() == 1000.0 + 150.0
    with pytest.raises(ValueError, match="must be positive"):
        ScaledClock(0)


def test_a_scaled_clock_makes_exports_finish_without_long_waits() -> None:
    with LocalMeshExportService(clock=ScaledClock(1000.0), not_started_s=5, in_progress_s=10) as svc:
        headers = {"Authorization": f"Bearer {svc.token}"}
        export_id = httpx.post(svc.api_url + "/", json={"iModelId": "m"}, headers=headers).json()["export"]["id"]
        deadline = time.monotonic() + 10
        while svc.export_status(export_id) != "Complete":
            assert time.monotonic() < deadline
            time.sleep(0.005)


def test_the_admin_clock_moves_only_a_manual_clock() -> None:
    clock = ManualClock()
    with LocalMeshExportService(clock=clock) as svc:
        before = clock.now()
        response = httpx.post(svc.admin_url + "/clock", json={"advance_s": 90})
        assert response.status_code == 200
        assert clock.now() == before + 90
        assert httpx.post(svc.admin_url + "/clock", json={"advance_s": "x"}).status_code == 400
    with LocalMeshExportService() as svc:
        assert httpx.post(svc.admin_url + "/clock", json={"advance_s": 1}).status_code == 409


def test_admin_adds_exports_and_lists_requests() -> None:
    with LocalMeshExportService() as svc:
        created = httpx.post(svc.admin_url + "/exports", json={"count": 3, "imodel_id": "admin-imodel"})
        assert created.status_code == 201
        more = httpx.post(svc.admin_url + "/exports", json={"count": 2, "imodel_id": "admin-imodel"})
        assert more.status_code == 201
        ids = created.json()["ids"] + more.json()["ids"]
        assert len(set(ids)) == 5
        one = httpx.post(svc.admin_url + "/exports", json={"imodel_id": "x", "status": "Invalid", "error": "boom"})
        assert svc.export_status(one.json()["ids"][0]) == "Invalid"
        bad = httpx.post(svc.admin_url + "/exports", json={"imodel": "x"})
        assert bad.status_code == 400
        assert "unknown seed export field" in bad.json()["error"]
        httpx.get(svc.api_url + "/nothing")
        log = httpx.get(svc.admin_url + "/requests").json()["requests"]
        assert {
            "origin": "api",
            "method": "GET",
            "path": "/mesh-export/nothing",
            "status": 401,
            "raw_path": "/mesh-export/nothing",
        } in log
        assert httpx.delete(svc.admin_url + "/requests").status_code == 204
        assert svc.requests == [testing.RequestRecord("api", "DELETE", "/_admin/requests", 204)]


def test_python_helpers_for_files_and_links() -> None:
    seed = make_seed_exports(1)[0]
    with LocalMeshExportService(seed_exports=[seed]) as svc:
        files = svc.export_files(seed.export_id)
        assert files[0].path == "tileset.json"
        assert b"".join(svc.iter_file(seed.export_id, "tileset.json")) == svc.file_bytes(seed.export_id, "tileset.json")
        with pytest.raises(KeyError):
            svc.file_bytes(seed.export_id, "missing.glb")
        with pytest.raises(KeyError):
            svc.mesh_url("nope")
        assert httpx.get(svc.tileset_url(seed.export_id)).status_code == 200
        expired = svc.mesh_url(seed.export_id, expired=True)
        base, _, query = expired.partition("?")
        assert httpx.get(f"{base}/tileset.json?{query}").status_code == 403
        summary = svc.summary()
        assert summary["API base URL"] == svc.api_url
        assert summary["Static token"] == svc.token


def test_without_the_server_extra_the_import_error_says_what_to_install() -> None:
    import subprocess
    import sys

    code = "import sys; sys.modules['uvicorn'] = None; import itwin_mesh_export.testing"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "pip install 'itwin-mesh-export[server]'" in proc.stderr
