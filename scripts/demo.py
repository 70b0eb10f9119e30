"""The one-command demo (`make demo`): the whole workflow through the `itwin-mesh-export` command
line, against the local Mesh Export service on free ports of 127.0.0.1.

    serve (in the background) -> start -> wait (progress) -> download (progress) -> verify

then a short summary (export id, files, bytes, time). The service is stopped on every way out:
success, a failed step, Ctrl-C. Exit code: 0, or the failed step's own (README, "Command-line
tool"), or 130 on Ctrl-C. Needs the project installed with the `server` extra (`make install`).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from itwin_mesh_export.cli import EXIT_INTERRUPTED, EXIT_SERVE

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = ROOT / "build" / "demo"
IMODEL_ID = "b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc"
# A started export stays NotStarted, then InProgress, this long (seconds) in the local service.
SERVE_ARGS = [
    "--seed-exports", "2",
    "--not-started-s", "0.5",
    "--in-progress-s", "2",
    "--tile-count", "63",
    "--tile-bytes", "64KiB",
]  # fmt: skip
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0


class DemoError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def json_object(text: str, what: str, keys: Sequence[str], exit_code: int = 1) -> dict[str, Any]:
    """`text` as a JSON object with `keys`, or DemoError saying what `what` printed instead."""
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise DemoError(f"{what} did not print a JSON object: {text.strip()[:200]!r}", exit_code)
    missing = [key for key in keys if key not in document]
    if missing:
        raise DemoError(f"{what} printed a JSON object without {', '.join(missing)}", exit_code)
    return document


def cli_command() -> list[str]:
    """The installed console script next to this Python, else the module."""
    script = Path(sys.executable).parent / "itwin-mesh-export"
    return [str(script)] if script.exists() else [sys.executable, "-m", "itwin_mesh_export.cli"]


def clean_env() -> dict[str, str]:
    """This environment without the caller's own iTwin credentials or endpoints (a real token
    must not be sent to the local service, nor win over the demo's credentials)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ITWIN_")}


def say(text: str = "") -> None:
    print(text, flush=True)


@contextmanager
def local_service(serve_args: Sequence[str]) -> Iterator[dict[str, str]]:
    """`itwin-mesh-export serve --port 0 --json` in the background; yields its summary, stops it
    (SIGTERM, then SIGKILL if it does not exit) whatever happens."""
    command = [*cli_command(), "serve", "--port", "0", "--json", *serve_args]
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, env=clean_env())
        try:
            yield _summary(proc, errors)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            say("local service stopped")


def _summary(proc: subprocess.Popen[str], errors: IO[str]) -> dict[str, str]:
    """The service's first stdout line (its JSON summary), or DemoError if none comes in time."""
    stdout = proc.stdout
    assert stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT_S)
    if not lines or not lines[0].strip():
        proc.kill()
        proc.wait()
        errors.seek(0)
        raise DemoError(f"the local service did not start: {errors.read().strip() or 'no output'}", EXIT_SERVE)
    keys = ["API base URL", "Storage origin", "Client id", "Client secret", "Token endpoint"]
    return json_object(lines[0], "the local service", keys, EXIT_SERVE)


def run_step(args: Sequence[str], env: dict[str, str], keys: Sequence[str]) -> tuple[dict[str, Any], float]:
    """Run one CLI command with --json: progress and status lines go to this terminal (stderr),
    the JSON document (with `keys`) comes back. A failure ends the demo with the command's exit code."""
    say(f"$ itwin-mesh-export {shlex.join(args)}")
    started = time.monotonic()
    done = subprocess.run([*cli_command(), *args, "--json"], stdout=subprocess.PIPE, text=True, env=env)
    elapsed_s = time.monotonic() - started
    if done.returncode != 0:
        raise DemoError(f"`itwin-mesh-export {args[0]}` failed with exit code {done.returncode}", done.returncode)
    return json_object(done.stdout, f"`itwin-mesh-export {args[0]} --json`", keys), elapsed_s


def mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def demo(dest: Path | None, serve_args: Sequence[str]) -> int:
    started = time.monotonic()
    say("itwin-mesh-export demo: the local Mesh Export service, then start -> wait -> download -> verify")
    with local_service([*SERVE_ARGS, *serve_args]) as service:
        say(f"local service: API {service['API base URL']}, storage {service['Storage origin']}")
        env = clean_env()
        # Authenticated as a service application would be: client credentials against the token endpoint.
        env.update(
            ITWIN_MESH_EXPORT_BASE_URL=service["API base URL"],
            ITWIN_CLIENT_ID=service["Client id"],
            ITWIN_CLIENT_SECRET=service["Client secret"],
            ITWIN_TOKEN_URL=service["Token endpoint"],
        )
        export, _ = run_step(["start", IMODEL_ID], env, ["id", "status"])
        export_id = export["id"]
        say(f"  started export {export_id} ({export['status']})")
        wait = ["wait", export_id, "--poll-interval", "0.5", "--timeout", "120"]
        export, wait_s = run_step(wait, env, ["status", "imodel_id"])
        say(f"  export {export_id} is {export['status']} after {wait_s:.1f} s")
        if dest is None:
            shutil.rmtree(DEFAULT_DEST, ignore_errors=True)  # the demo's own directory, from an earlier run
            dest = DEFAULT_DEST / export_id
        result, download_s = run_step(["download", export_id, str(dest)], env, ["files", "bytes"])
        say(f"  {result['files']} files, {result['bytes']} bytes in {download_s:.1f} s")
        verified, _ = run_step(["verify", str(dest)], env, ["files", "bytes"])
        say(f"  {verified['files']} files match the manifest")
    total_s = time.monotonic() - started
    say()
    say("Demo complete")
    say(f"  export   {export_id} (iModel {export['imodel_id']}, {export['status']})")
    say(f"  files    {verified['files']}, {verified['bytes']} bytes ({mib(verified['bytes'])}), verified")
    say(f"  into     {dest}")
    say(f"  time     {total_s:.1f} s in all: wait {wait_s:.1f} s, download {download_s:.1f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--dest", type=Path, help=f"where to download (default {DEFAULT_DEST}/<export id>)")
    parser.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="an extra option for `itwin-mesh-export serve` (repeatable), e.g. --serve-arg=--in-progress-s=5",
    )
    args = parser.parse_args(argv)
    try:
        return demo(args.dest, args.serve_arg)
    except DemoError as exc:
        print(f"demo failed: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("demo interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
