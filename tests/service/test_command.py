"""`python -m itwin_mesh_export.testing`: started as a subprocess on port 0, used, stopped.

The subprocess binds port 0 itself and prints the port it got (`--json`): no port number is
picked here and handed over, which another process could take in between."""

from __future__ import annotations

import io
import json
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from itwin_mesh_export.testing import (
    Clock,
    Fault,
    LocalMeshExportService,
    ScaledClock,
    ServiceConfig,
    ServiceStartError,
    _command,
)
from itwin_mesh_export.testing._command import main
from itwin_mesh_export.testing._config import VND_MEDIA_TYPE
from tests.conftest import ROOT


def _port_of(url: str) -> int:
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1", url
    assert parts.port is not None and parts.port > 0, url
    return parts.port


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
    with _service("--port", "0", "--seed-exports", "2", "--in-progress-s", "0.5") as (proc, info):
        port = _port_of(info["API base URL"])
        assert info["API base URL"] == f"http://127.0.0.1:{port}/mesh-export"
        assert len({port, _port_of(info["Storage origin"]), _port_of(info["CDN origin"])}) == 3
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
    fault = json.dumps({"route": "get-export", "kind": "status", "status": 520})
    with _service(
        "--port", "0", "--no-static-token", "--tile-count", "5", "--tile-bytes", "16KiB", "--fault", fault
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


def _parsed(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> dict[str, Any]:
    """What `main(argv)` hands the service (config, clock, ports), without starting a server."""
    seen: dict[str, Any] = {}

    def fake_service(
        config: ServiceConfig, *, clock: Clock, port: int, storage_port: int, cdn_port: int
    ) -> LocalMeshExportService:
        seen.update(config=config, clock=clock, port=port, storage_port=storage_port, cdn_port=cdn_port)
        raise ServiceStartError("not started by this test")

    monkeypatch.setattr(_command, "LocalMeshExportService", fake_service)
    assert main(argv, out=io.StringIO()) == 2  # the fake's start error
    return seen


def _clock_kind(seen: dict[str, Any]) -> tuple[str, float | None]:
    clock = seen["clock"]
    return type(clock).__name__, clock.factor if isinstance(clock, ScaledClock) else None


_FLAG_CASES: list[tuple[list[str], Callable[[dict[str, Any]], Any], Any]] = [
    (["--media-type", "vnd"], lambda s: s["config"].media_type, VND_MEDIA_TYPE),
    (["--media-type", "negotiate"], lambda s: s["config"].media_type, "negotiate"),
    (["--timestamp-style", "dotnet"], lambda s: s["config"].timestamp_style, "dotnet"),
    (["--timestamp-style", "mixed"], lambda s: s["config"].timestamp_style, "mixed"),
    (["--time-scale", "60"], _clock_kind, ("ScaledClock", 60.0)),
    (["--port", "4100"], lambda s: s["port"], 4100),
    (["--storage-port", "4101"], lambda s: s["storage_port"], 4101),
    (["--cdn-port", "4102"], lambda s: s["cdn_port"], 4102),
    (["--branching", "4"], lambda s: s["config"].tileset.branching, 4),
    (["--tile-count", "7"], lambda s: s["config"].tileset.tile_count, 7),
    (["--tile-bytes", "16KiB"], lambda s: s["config"].tileset.tile_bytes, 16 << 10),
    (["--large-tile-bytes", "2MiB"], lambda s: s["config"].tileset.large_tile_bytes, 2 << 20),
    (["--link-lifetime-s", "120"], lambda s: s["config"].link_lifetime_s, 120.0),
    (["--token-lifetime-s", "90.5"], lambda s: s["config"].token_lifetime_s, 90.5),
    (["--client-id", "my-client"], lambda s: s["config"].client_id, "my-client"),
    (["--client-secret", "my-secret"], lambda s: s["config"].client_secret, "my-secret"),
    (["--token", "my-token"], lambda s: s["config"].static_token, "my-token"),
    (["--no-static-token"], lambda s: s["config"].static_token, None),
    (["--not-started-s", "0.25"], lambda s: s["config"].not_started_s, 0.25),
    (["--in-progress-s", "7"], lambda s: s["config"].in_progress_s, 7.0),
    (["--seed-exports", "5"], lambda s: len(s["config"].seed_exports), 5),
    (
        ["--seed-exports", "2", "--imodel-id", "a", "--imodel-id", "b"],
        lambda s: [seed.imodel_id for seed in s["config"].seed_exports],
        ["a", "b"],
    ),
    (
        ["--fail-imodel", "m1=Out of memory", "--fail-imodel", "m2"],
        lambda s: dict(s["config"].failing_imodels),
        {"m1": "Out of memory", "m2": "The export failed."},
    ),
    (
        ["--fault", '{"route": "storage", "kind": "reset"}'],
        lambda s: list(s["config"].faults),
        [Fault.reset("storage")],
    ),
]


@pytest.mark.parametrize(
    ("flags", "read", "expected"), [pytest.param(*case, id=" ".join(case[0])) for case in _FLAG_CASES]
)
def test_each_flag_reaches_the_service(
    monkeypatch: pytest.MonkeyPatch, flags: list[str], read: Callable[[dict[str, Any]], Any], expected: Any
) -> None:
    default = read(_parsed(monkeypatch, []))
    assert default != expected  # else this case would pass without the flag
    assert read(_parsed(monkeypatch, flags)) == expected
