"""The demo (`make demo` runs `scripts/demo.py`): the whole workflow through the CLI against a
local service on fresh ports, and the service stopped afterwards, also when a step fails."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from itwin_mesh_export.cli import EXIT_SERVE
from tests.conftest import ROOT

DEMO = [sys.executable, str(ROOT / "scripts" / "demo.py")]
FAST = ["--serve-arg=--not-started-s=0.1", "--serve-arg=--in-progress-s=0.3"]
IMODEL_ID = "b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc"


def api_url(output: str) -> str:
    match = re.search(r"^local service: API (http://127\.0\.0\.1:\d+/mesh-export),", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def assert_stopped(url: str) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/", timeout=5)


def test_the_demo_runs_start_wait_download_verify_and_stops_the_service(tmp_path: Path) -> None:
    dest = tmp_path / "tiles"
    done = subprocess.run([*DEMO, "--dest", str(dest), *FAST], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    commands = [line.split()[2:4] for line in out.splitlines() if line.startswith("$ itwin-mesh-export ")]
    assert [c[0] for c in commands] == ["start", "wait", "download", "verify"]
    export_id = commands[1][1]
    manifest = json.loads((dest / "itwin-mesh-export.manifest.json").read_text())
    files, size = len(manifest["files"]), sum(f["size"] for f in manifest["files"])
    assert out.splitlines()[-5:-1] == [
        "Demo complete",
        f"  export   {export_id} (iModel {IMODEL_ID}, Complete)",
        f"  files    {files}, {size} bytes ({size / 1048576:.1f} MiB), verified",
        f"  into     {dest}",
    ]
    assert re.fullmatch(r"  time     \d+\.\d s in all: wait \d+\.\d s, download \d+\.\d s", out.splitlines()[-1])
    assert "local service stopped" in out
    assert f"export {export_id}: Complete" in done.stderr  # the wait's status lines (stderr is not a terminal)
    for secret in ("local-secret", "local-static-token"):
        assert secret not in out + done.stderr
    assert_stopped(api_url(out))


def test_a_failed_step_ends_the_demo_with_its_exit_code_and_still_stops_the_service(tmp_path: Path) -> None:
    fail = f"--serve-arg=--fail-imodel={IMODEL_ID}=Out of memory"
    done = subprocess.run([*DEMO, "--dest", str(tmp_path), *FAST, fail], capture_output=True, text=True, timeout=180)
    assert done.returncode == 6, done.stdout + done.stderr
    assert "error: export " in done.stderr and " failed: Out of memory" in done.stderr
    assert done.stderr.splitlines()[-1] == "demo failed: `itwin-mesh-export wait` failed with exit code 6"
    assert "Traceback" not in done.stderr
    assert "local service stopped" in done.stdout
    assert_stopped(api_url(done.stdout))


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_script", ROOT / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def printing(text: str) -> list[str]:
    """A stand-in for the CLI that prints `text` whatever it is asked."""
    return [sys.executable, "-c", f"print({text!r})"]


def test_output_that_is_not_the_expected_json_is_a_demo_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = load_demo()
    monkeypatch.setattr(demo, "cli_command", lambda: printing("not json"))
    assert demo.main(["--dest", str(tmp_path)]) == EXIT_SERVE
    err = capsys.readouterr().err
    assert err == "demo failed: the local service did not print a JSON object: 'not json'\n"

    env = dict(os.environ)
    with pytest.raises(demo.DemoError, match="`itwin-mesh-export start --json` did not print a JSON object") as bad:
        demo.run_step(["start", IMODEL_ID], env, ["id"])
    assert bad.value.exit_code == 1
    monkeypatch.setattr(demo, "cli_command", lambda: printing('{"status": "NotStarted"}'))
    with pytest.raises(demo.DemoError, match=r"printed a JSON object without id$"):
        demo.run_step(["start", IMODEL_ID], env, ["id", "status"])
    monkeypatch.setattr(demo, "cli_command", lambda: printing("[1, 2]"))
    with pytest.raises(demo.DemoError, match="did not print a JSON object"):
        demo.run_step(["start", IMODEL_ID], env, ["id"])
