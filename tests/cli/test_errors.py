"""Every expected failure: one line on stderr, its documented exit code, no traceback, no secret.
The faults come from the local service (statuses, rate limits, Invalid and stuck exports), so the
whole path runs: HTTP answer -> typed exception -> exit code."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from itwin_mesh_export import MeshExportClient
from itwin_mesh_export.cli import _errors
from itwin_mesh_export.testing import Fault, LocalMeshExportService
from tests.cli.conftest import CLI, COMPLETE, INVALID, QUEUED, TOKEN, assert_clean

# The documented table (README, `--help`): pinned here so that a change is a decision.
DOCUMENTED = {
    "EXIT_OK": 0,
    "EXIT_UNEXPECTED": 1,
    "EXIT_USAGE": 2,
    "EXIT_NOT_FOUND": 3,
    "EXIT_AUTH": 4,
    "EXIT_RATE_LIMITED": 5,
    "EXIT_EXPORT_FAILED": 6,
    "EXIT_WAIT_TIMEOUT": 7,
    "EXIT_NOT_COMPLETE": 8,
    "EXIT_DOWNLOAD": 9,
    "EXIT_CONNECTION": 10,
    "EXIT_API": 11,
    "EXIT_SERVE": 12,
    "EXIT_INTERRUPTED": 130,
    "EXIT_BROKEN_PIPE": 141,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_the_exit_codes_are_the_documented_ones_and_distinct() -> None:
    assert {name: getattr(_errors, name) for name in DOCUMENTED} == DOCUMENTED
    assert sorted(_errors.EXIT_CODES) == sorted(DOCUMENTED.values())


def test_not_found_is_3(cli: CLI) -> None:
    result = cli("get", "no-such-export")
    assert result.code == 3
    assert result.error_line.startswith("error: not found: 404 Not Found for GET http://127.0.0.1:")
    assert "no-such-export" in result.error_line and result.out == ""


def test_a_wrong_token_is_4(cli: CLI) -> None:
    result = cli("--token", "not-the-right-token", "list")
    assert result.code == 4
    assert result.error_line.startswith("error: authentication failed: 401")
    assert "not-the-right-token" not in result.err


def test_permission_denied_is_4(cli: CLI, svc: LocalMeshExportService) -> None:
    svc.faults.add(Fault.status_code("get-export", 403, times=None))
    result = cli("get", COMPLETE[0].export_id)
    assert result.code == 4 and result.error_line.startswith("error: permission denied: 403")


def test_rate_limited_past_the_budget_is_5(cli: CLI, svc: LocalMeshExportService) -> None:
    # Retry-After above the client's 60 s cap: not slept through, RateLimitError at once
    svc.faults.add(Fault.rate_limit("get-exports", retry_after_s=120, times=None))
    result = cli("list")
    assert result.code == 5
    assert result.error_line.startswith("error: rate limited: 429")
    assert result.error_line.endswith("(the server asks to retry after 120 s)")


def test_an_invalid_export_is_6_for_wait_and_for_download(cli: CLI, tmp_path: Path) -> None:
    waited = cli("--quiet", "wait", INVALID.export_id)
    assert waited.code == 6 and waited.error_line == f"error: export {INVALID.export_id} failed: Out of memory"
    downloaded = cli("download", INVALID.export_id, str(tmp_path))
    assert downloaded.code == 6 and downloaded.error_line == f"error: export {INVALID.export_id} failed: Out of memory"
    assert list(tmp_path.iterdir()) == []


def test_a_wait_that_times_out_is_7(cli: CLI) -> None:
    result = cli("--quiet", "wait", QUEUED.export_id, "--timeout", "0.3", "--poll-interval", "0.1")
    assert result.code == 7
    assert result.error_line.startswith(f"error: export {QUEUED.export_id} still Queued after waiting ")


def test_downloading_an_export_that_is_not_complete_is_8(cli: CLI, tmp_path: Path) -> None:
    result = cli("download", QUEUED.export_id, str(tmp_path))
    assert result.code == 8
    assert result.error_line == (
        f"error: export {QUEUED.export_id} is Queued, not Complete: it has no files to download yet "
        f"(run `itwin-mesh-export wait {QUEUED.export_id}` first)"
    )


def test_a_storage_failure_is_9_and_a_rerun_resumes(cli: CLI, svc: LocalMeshExportService, tmp_path: Path) -> None:
    export_id = COMPLETE[0].export_id
    svc.faults.add(Fault.status_code("storage", 404, path="*/tiles/1/*", times=None))
    failed = cli("download", export_id, str(tmp_path), "--concurrency", "1")
    assert failed.code == 9
    assert "404" in failed.error_line and failed.error_line.endswith("run the same command again to resume)")
    svc.faults.clear()
    again = cli("download", export_id, str(tmp_path), "--json")
    assert again.code == 0 and again.json()["files_skipped"] > 0


def test_verify_of_a_changed_file_is_9(cli: CLI, tmp_path: Path) -> None:
    assert cli("download", COMPLETE[0].export_id, str(tmp_path)).code == 0
    (tmp_path / "tileset.json").write_bytes(b"{}")
    result = cli("verify", str(tmp_path))
    assert result.code == 9 and result.error_line.startswith("error: 1 of ") and "tileset.json" in result.error_line
    nothing = cli("verify", str(tmp_path / "nothing-here"))
    assert nothing.code == 9 and "manifest" in nothing.error_line


def test_an_unreachable_api_is_10(cli: CLI) -> None:
    result = cli("--base-url", f"http://127.0.0.1:{free_port()}/mesh-export", "get", "x")
    assert result.code == 10 and result.error_line.startswith("error: connection failed: ")


def test_any_other_api_error_is_11(cli: CLI) -> None:
    export_id = cli("start", "busy-imodel", "--json").json()["id"]
    result = cli("delete", export_id)  # still NotStarted: the API answers 422
    assert result.code == 11 and result.error_line.startswith("error: 422 Unprocessable")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["get"], "error: Missing argument 'EXPORT_ID'. (see 'itwin-mesh-export get --help')"),
        (["download", "x", "d", "--concurrency", "0"], "error: Invalid value for '--concurrency'"),
        (["wait", "x", "--timeout", "0"], "error: Invalid value for '--timeout'"),
        (["start", "m", "--tiler-config", "novalue"], "error: Invalid value for '--tiler-config'"),
        (["frobnicate"], "error: No such command 'frobnicate'."),
        (["--base-url", "ftp://example.com", "get", "x"], "error: base_url must"),
        (["get", ".."], "error: export_id"),
    ],
)
def test_bad_arguments_are_2(cli: CLI, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.code == 2
    assert result.error_line.startswith(message), result.error_line


def test_reuse_with_tiler_config_is_2_before_credentials_or_any_request(
    cli: CLI, svc: LocalMeshExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = "error: --reuse finds exports by iModel, changeset and type: drop --tiler-config"
    result = cli("start", "m", "--reuse", "--tiler-config", "a=1")
    assert (result.code, result.error_line) == (2, message)
    assert svc.requests == []
    monkeypatch.delenv("ITWIN_ACCESS_TOKEN")
    without_credentials = cli("start", "m", "--reuse", "--tiler-config", "a=1")
    assert (without_credentials.code, without_credentials.error_line) == (2, message)


def test_no_credentials_is_2(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ITWIN_ACCESS_TOKEN")
    result = cli("list")
    assert result.code == 2
    assert result.error_line == (
        "error: no credentials: set ITWIN_ACCESS_TOKEN, or ITWIN_CLIENT_ID and ITWIN_CLIENT_SECRET "
        "(or pass --token, or --client-id and --client-secret)"
    )
    monkeypatch.setenv("ITWIN_CLIENT_ID", "someone")
    half = cli("list")
    assert half.code == 2 and "ITWIN_CLIENT_SECRET (or --client-secret) is not set" in half.error_line


def test_an_unexpected_error_is_1_redacted_and_debug_shows_the_traceback(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: MeshExportClient, export_id: str, **kw: object) -> None:
        raise RuntimeError(f"boom at https://storage.example/c/tileset.json?sig=abcdefgh12345 with {TOKEN}")

    monkeypatch.setattr(MeshExportClient, "get_export", broken)
    result = cli("get", "x")
    assert result.code == 1
    assert result.error_line == (
        "error: unexpected RuntimeError: boom at https://storage.example/c/tileset.json?sig=REDACTED with REDACTED "
        "(a bug; --debug shows the traceback)"
    )
    debug = cli("--debug", "get", "x")
    assert debug.code == 1 and "Traceback (most recent call last)" in debug.err
    assert debug.err.splitlines()[-1] == result.error_line


def test_ctrl_c_during_a_wait_is_130_without_a_traceback(svc: LocalMeshExportService) -> None:
    env = {"ITWIN_MESH_EXPORT_BASE_URL": svc.api_url, "ITWIN_ACCESS_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "itwin_mesh_export.cli", "wait", QUEUED.export_id, "--poll-interval", "0.2"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stderr is not None
        lines = [proc.stderr.readline()]
        while not lines[-1].startswith("export "):  # the first status line: the wait is under way
            assert lines[-1].startswith("warning: "), lines  # the status no enum lists
            lines.append(proc.stderr.readline())
        assert lines[-1] == f"export {QUEUED.export_id}: Queued\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert err == "error: interrupted\n" and out == ""
    assert_clean(out, err, *lines)


def test_library_warnings_are_warning_lines_and_quiet_drops_them(cli: CLI) -> None:
    result = cli("wait", QUEUED.export_id, "--timeout", "0.3", "--poll-interval", "0.1")
    assert result.code == 7
    *before, last = result.err.splitlines()
    assert last.startswith("error: ")
    assert before[0].startswith(f"warning: export {QUEUED.export_id} has status 'Queued', which this client")
    assert f"export {QUEUED.export_id}: Queued" in before
    quiet = cli("--quiet", "wait", QUEUED.export_id, "--timeout", "0.3", "--poll-interval", "0.1")
    assert quiet.code == 7 and quiet.error_line.startswith("error: ")


def test_ctrl_c_during_a_download_is_130_and_a_rerun_resumes(
    cli: CLI, svc: LocalMeshExportService, tmp_path: Path
) -> None:
    export_id = COMPLETE[0].export_id
    svc.faults.add(Fault.delay("storage", 2, path="*/tiles/1/*", times=None))  # a download under way
    env = {"ITWIN_MESH_EXPORT_BASE_URL": svc.api_url, "ITWIN_ACCESS_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "itwin_mesh_export.cli", "download", export_id, str(tmp_path)]
    command += ["--concurrency", "1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not any(r.origin == "storage" and r.path.endswith(".glb") for r in svc.requests):
            assert proc.poll() is None and time.monotonic() < deadline, "the download did not start"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err == "error: interrupted: the files on disk are kept, run the same command to resume\n" and out == ""
    svc.faults.clear()
    again = cli("download", export_id, str(tmp_path), "--json")
    assert again.code == 0 and again.json()["files_skipped"] > 0


@pytest.mark.parametrize("args", [["list", "--json"], ["list"], ["get", COMPLETE[0].export_id]])
def test_a_reader_that_stops_reading_is_a_quiet_141(svc: LocalMeshExportService, args: list[str]) -> None:
    """`itwin-mesh-export list --json | head -c0`: stdout closed before anything is written."""
    env = {"ITWIN_MESH_EXPORT_BASE_URL": svc.api_url, "ITWIN_ACCESS_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "itwin_mesh_export.cli", *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before the command has printed anything
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (_errors.EXIT_BROKEN_PIPE, "")
    assert _errors.EXIT_BROKEN_PIPE == 128 + signal.SIGPIPE


def test_an_os_error_is_9_only_in_download_and_verify() -> None:
    for command in ("download", "verify"):
        code, message = _errors.failure(PermissionError(13, "Permission denied"), command)
        assert (code, message) == (9, "cannot read or write files: [Errno 13] Permission denied")
    for command in ("list", "get", None):
        code, message = _errors.failure(OSError(28, "No space left on device"), command)
        assert code == 1 and message.startswith("unexpected OSError: [Errno 28] No space left on device"), message
