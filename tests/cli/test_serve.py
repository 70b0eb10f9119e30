"""`itwin-mesh-export serve`: the local service as a process of its own (started, used by the other
subcommands, stopped with SIGTERM), and its failures: a port in use, a bad flag, no `server` extra."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import CLI, SIGNATURE, assert_clean

SERVE = [sys.executable, "-m", "itwin_mesh_export.cli", "serve"]


def test_serve_runs_the_service_until_sigterm(cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["--port", "0", "--json", "--seed-exports", "1", "--token", "serve-test-token-123456"]
    proc = subprocess.Popen([*SERVE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        summary = json.loads(proc.stdout.readline())
        assert summary["API base URL"].startswith("http://127.0.0.1:")
        monkeypatch.setenv("ITWIN_MESH_EXPORT_BASE_URL", summary["API base URL"])
        monkeypatch.setenv("ITWIN_ACCESS_TOKEN", summary["Static token"])
        exports = cli("list", "--json").json()
        assert len(exports) == 1
        downloaded = cli("download", exports[0]["id"], str(tmp_path), "--json")
        assert downloaded.code == 0 and downloaded.json()["files"] > 1
        assert summary["Static token"] not in downloaded.out + downloaded.err
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert out == "stopped\n"
    assert not SIGNATURE.search(err), err  # the requests it served left no signed URL in its output
    assert "Traceback" not in err


def test_a_port_in_use_is_12(cli: CLI) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", "--port", str(port))
    assert result.code == 12
    assert result.error_line.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")


def test_serve_help_and_bad_flags(cli: CLI) -> None:
    helped = cli("serve", "--help")
    assert helped.code == 0 and helped.out.startswith("usage: itwin-mesh-export serve [-h] [--port PORT]")
    bad = cli("serve", "--tile-count", "many")
    assert bad.code == 2 and "itwin-mesh-export serve: error: argument --tile-count" in bad.err


def test_serve_without_the_server_extra_says_what_to_install(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m.startswith("itwin_mesh_export.testing")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if uvicorn were not installed
    result = cli("serve", "--port", "0")
    assert result.code == 12
    assert result.error_line == (
        "error: itwin_mesh_export.testing needs the 'server' extra (uvicorn is missing): "
        "pip install 'itwin-mesh-export[server]'"
    )


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "itwin-mesh-export"
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("itwin-mesh-export ")
    assert_clean(done.stdout, done.stderr)
