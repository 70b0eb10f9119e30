"""`python -m itwin_mesh_export.testing`: started as a subprocess on a free port, used, stopped."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from itwin_mesh_export.testing._command import main
from tests.conftest import ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _service(*args: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "itwin_mesh_export.testing", *args, "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, proc.kill)  # never leave a server behind, whatever happens
    watchdog.start()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        yield proc, json.loads(line)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        watchdog.cancel()


def test_the_command_line_starts_serves_and_stops_on_ctrl_c() -> None:
    port = _free_port()
    with _service("--port", str(port), "--seed-exports", "2", "--in-progress-s", "0.5") as (proc, info):
        assert info["API base URL"] == f"http://127.0.0.1:{port}/mesh-export"
        assert info["Token endpoint"] == f"http://127.0.0.1:{port}/connect/token"
        headers = {"Authorization": f"Bearer {info['Static token']}"}
        listed = httpx.get(info["API base URL"] + "/", headers=headers, params={"$top": "5"})
        assert listed.status_code == 200
        assert len(listed.json()["exports"]) == 2
        token = httpx.post(
            info["Token endpoint"],
            data={
                "grant_type": "client_credentials",
                "client_id": info["Client id"],
                "client_secret": info["Client secret"],
                "scope": "itwin-platform",
            },
        ).json()["access_token"]
        assert httpx.get(info["API base URL"] + "/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        armed = httpx.post(info["Admin"] + "/faults", json={"route": "get-exports", "kind": "status", "status": 503})
        assert armed.status_code == 201
        assert httpx.get(info["API base URL"] + "/", headers=headers).status_code == 503
        export_id = listed.json()["exports"][0]["id"]
        files = httpx.get(f"{info['Admin']}/exports/{export_id}/files").json()["files"]
        assert files[0]["path"] == "tileset.json"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert out.strip().endswith("stopped")
        with pytest.raises(httpx.ConnectError):
            httpx.get(info["API base URL"] + "/", headers=headers)


def test_sigterm_stops_it_too_and_flags_reach_the_service() -> None:
    port = _free_port()
    fault = json.dumps({"route": "get-export", "kind": "status", "status": 520})
    with _service(
        "--port", str(port), "--no-static-token", "--tile-count", "5", "--tile-bytes", "16KiB", "--fault", fault
    ) as (proc, info):
        assert info["Static token"].startswith("(none")
        assert (
            httpx.get(info["API base URL"] + "/", headers={"Authorization": "Bearer local-static-token"}).status_code
            == 401
        )
        armed = httpx.get(info["Admin"] + "/faults").json()["faults"]
        assert [f["fault"]["status"] for f in armed] == [520]
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
        assert proc.returncode == 0


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "itwin_mesh_export.testing", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tile-count", "1"], "tile_count must be at least 3"),
        (["--tile-bytes", "lots"], "not a size"),
        (["--fault", "{}"], "a fault needs route and kind"),
        (["--in-progress-s", "-1"], "in_progress_s must be a number >= 0"),
    ],
)
def test_bad_flags_are_usage_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--port", "0", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
