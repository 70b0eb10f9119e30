"""Running measured variants side by side, and the servers they talk to.

Every variant (the overlay, its baseline, the peer) is a long-lived worker process
(`benchmarks._worker`). Rounds are interleaved: round 1 of every variant, then round 2 of every
variant (in a rotated order), and so on, so a colleague's test run or a CPU-frequency change lands
on all variants alike, and the ratio of medians compares like with like. Servers run in processes
of their own, so client and server never share a GIL and the client's process CPU time is the
client's cost alone.
"""

from __future__ import annotations

import json
import os
import selectors
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ROOT",
    "BenchmarkError",
    "LocalService",
    "Sample",
    "Summary",
    "Variant",
    "interleave",
    "local_service",
    "loopback_server",
    "rotated",
    "summarize",
    "worker_env",
]

ROOT = Path(__file__).resolve().parent.parent
_READY_TIMEOUT_S = 120.0
_ROUND_TIMEOUT_S = 600.0


class BenchmarkError(RuntimeError):
    """A worker or a server failed; the message carries its traceback or output."""


@dataclass(frozen=True)
class Variant:
    """One measured variant: `target` is `module:factory` (see `benchmarks._worker`)."""

    name: str
    target: str
    args: dict[str, Any] = field(default_factory=dict)
    python: str = sys.executable
    env: dict[str, str] | None = None


@dataclass(frozen=True)
class Sample:
    cpu_s: float
    wall_s: float
    units: float
    peak_rss_kib: int
    extra: dict[str, Any]


@dataclass(frozen=True)
class Summary:
    """Medians over rounds, per unit."""

    name: str
    rounds: int
    units: float
    cpu_per_unit_s: float
    wall_per_unit_s: float
    peak_rss_kib: int
    samples: tuple[Sample, ...]

    def extra_median(self, key: str) -> float:
        return statistics.median(float(s.extra[key]) for s in self.samples)


def summarize(name: str, samples: Sequence[Sample]) -> Summary:
    if not samples:
        raise BenchmarkError(f"{name}: no samples")
    return Summary(
        name=name,
        rounds=len(samples),
        units=statistics.median(s.units for s in samples),
        cpu_per_unit_s=statistics.median(s.cpu_s / s.units for s in samples),
        wall_per_unit_s=statistics.median(s.wall_s / s.units for s in samples),
        peak_rss_kib=max(s.peak_rss_kib for s in samples),
        samples=tuple(samples),
    )


def worker_env(extra: dict[str, str] | None) -> dict[str, str]:
    """The environment of a worker or server: the project root importable (for `benchmarks`),
    plus `extra` (whose PYTHONPATH, if any, is added to the root's)."""
    env = dict(os.environ)
    extra = dict(extra or {})
    paths = [str(ROOT), extra.pop("PYTHONPATH", ""), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env.pop("ITWIN_MESH_EXPORT_LOG", None)  # a debug log would measure logging, not the client
    env.update(extra)
    return env


def _read_line(proc: subprocess.Popen[bytes], timeout_s: float, what: str) -> dict[str, Any]:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            proc.kill()
            raise BenchmarkError(f"{what}: no answer within {timeout_s:.0f} s")
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=10)
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr is not None else ""
        raise BenchmarkError(f"{what}: the process exited ({proc.returncode}):\n{stderr[-4000:]}")
    message: dict[str, Any] = json.loads(line)
    if "error" in message:
        raise BenchmarkError(f"{what} failed:\n{message['error']}")
    return message


class _Worker:
    def __init__(self, variant: Variant, stderr_path: Path) -> None:
        self.variant = variant
        self._stderr = stderr_path.open("ab")
        self._proc = subprocess.Popen(
            [variant.python, "-m", "benchmarks._worker", variant.target, json.dumps(variant.args)],
            cwd=ROOT,
            env=worker_env(variant.env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        _read_line(self._proc, _READY_TIMEOUT_S, f"{variant.name} (start)")

    def run(self) -> Sample:
        assert self._proc.stdin is not None
        self._proc.stdin.write(b'{"op": "run"}\n')
        self._proc.stdin.flush()
        m = _read_line(self._proc, _ROUND_TIMEOUT_S, self.variant.name)
        return Sample(m["cpu_s"], m["wall_s"], float(m["units"]), int(m["peak_rss_kib"]), m["extra"])

    def close(self) -> None:
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.write(b'{"op": "exit"}\n')
                self._proc.stdin.close()
            self._proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait()
        finally:
            self._stderr.close()


def interleave(
    variants: Sequence[Variant],
    rounds: int,
    *,
    log_dir: Path,
    warmup: int = 1,
    fresh_process: bool = False,
) -> dict[str, Summary]:
    """Run `rounds` rounds of every variant, interleaved, after `warmup` unrecorded rounds.

    `fresh_process=True` starts a new worker for every round (no warm-up), so that a round's peak
    RSS is that round's alone."""
    log_dir.mkdir(parents=True, exist_ok=True)
    samples: dict[str, list[Sample]] = {v.name: [] for v in variants}
    if fresh_process:
        for r in range(rounds):
            for variant in rotated(variants, r):
                worker = _Worker(variant, log_dir / f"{variant.name}.stderr")
                try:
                    samples[variant.name].append(worker.run())
                finally:
                    worker.close()
        return {name: summarize(name, s) for name, s in samples.items()}
    workers: list[_Worker] = []
    try:
        for variant in variants:
            workers.append(_Worker(variant, log_dir / f"{variant.name}.stderr"))
        for _ in range(warmup):
            for worker in workers:
                worker.run()
        for r in range(rounds):
            for worker in rotated(workers, r):
                samples[worker.variant.name].append(worker.run())
    finally:
        for worker in workers:
            worker.close()
    return {name: summarize(name, s) for name, s in samples.items()}


def rotated(items: Sequence[Any], by: int) -> list[Any]:
    k = by % len(items) if items else 0
    return list(items[k:]) + list(items[:k])


# ---- servers ----


@contextmanager
def _server_process(cmd: list[str], what: str, log: Path) -> Iterator[dict[str, Any]]:
    """A server in its own process that prints one JSON line when ready and stops when its stdin
    closes or on SIGTERM. Yields that JSON object."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as stderr:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=worker_env(None), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
        )
        try:
            info = _read_line(proc, _READY_TIMEOUT_S, what)
            yield info
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()


@contextmanager
def loopback_server(bodies: Path, log_dir: Path) -> Iterator[str]:
    """The canned-body server (`benchmarks._loopback`); yields its base URL."""
    cmd = [sys.executable, "-m", "benchmarks._loopback", str(bodies)]
    with _server_process(cmd, "loopback server", log_dir / "loopback.stderr") as info:
        yield f"http://127.0.0.1:{info['port']}/mesh-export"


@dataclass(frozen=True)
class LocalService:
    api_url: str
    admin_url: str
    token: str

    def admin(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            f"{self.admin_url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            body = response.read()
        return json.loads(body) if body else None

    def get_export(self, export_id: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.api_url}/{export_id}", headers={"Authorization": f"Bearer {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body: dict[str, Any] = json.loads(response.read())["export"]
        return body


@contextmanager
def local_service(log_dir: Path, *flags: str) -> Iterator[LocalService]:
    """The local Mesh Export service (`python -m itwin_mesh_export.testing`) in its own process."""
    cmd = [sys.executable, "-m", "itwin_mesh_export.testing", "--port", "0", "--json", "--seed-exports", "0", *flags]
    with _server_process(cmd, "local service", log_dir / "local-service.stderr") as info:
        service = LocalService(info["API base URL"], info["Admin"], info["Static token"])
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while True:  # the summary is printed once the sockets listen; make sure it answers
            try:
                service.admin("GET", "/faults")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield service
