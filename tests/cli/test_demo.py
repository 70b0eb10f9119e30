"""The demo (`make demo` runs `scripts/demo.py`): the whole workflow through the CLI against a
local service on fresh ports, and the service stopped afterwards, also when a step fails."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

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
