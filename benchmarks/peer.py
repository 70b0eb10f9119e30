"""The peer: a client generated from the same committed spec by openapi-generator's `python`
generator (pydantic + urllib3), the other generator a user of this API would pick.

It is built, never committed, into `build/bench/peer-<key>/`: an isolated virtual environment
with the exact pins of `benchmarks/peer-requirements.txt` (openapi-generator-cli bundles the
generator's jar), and the generated package beside it. `<key>` hashes the spec, the pins and the
Python version, so a changed input builds a new peer and an unchanged one is reused (the smoke
test and `make bench` share it). A file lock keeps two runs from building it at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ._harness import ROOT

__all__ = ["PEER_PACKAGE", "PeerBuild", "build_peer"]

SPEC = ROOT / "openapi" / "mesh-export.yaml"
REQUIREMENTS = ROOT / "benchmarks" / "peer-requirements.txt"
PEER_PACKAGE = "mesh_export_peer"
_GENERATOR = "python"


@dataclass(frozen=True)
class PeerBuild:
    python: Path  # the isolated venv's interpreter
    client_dir: Path  # put on PYTHONPATH: holds the generated `mesh_export_peer`
    generator_version: str
    build_s: float  # 0 when reused


def _key() -> str:
    digest = hashlib.sha256()
    for part in (SPEC.read_bytes(), REQUIREMENTS.read_bytes(), sys.version.encode(), _GENERATOR.encode()):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


def _pinned(name: str) -> str:
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        if line.lower().startswith(f"{name}=="):
            return line.split("==", 1)[1].strip()
    raise RuntimeError(f"{name} is not pinned in {REQUIREMENTS}")


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=cwd)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def build_peer(cache_root: Path) -> PeerBuild:
    """The peer for the committed spec, built now or reused from `cache_root`."""
    cache_root.mkdir(parents=True, exist_ok=True)
    target = cache_root / f"peer-{_key()}"
    version = _pinned("openapi-generator-cli")
    build = PeerBuild(target / "venv" / "bin" / "python", target / "client", version, 0.0)
    with (cache_root / ".peer.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "ok").exists():
            return build
        started = time.perf_counter()
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        _run([sys.executable, "-m", "venv", str(target / "venv")], "creating the peer's venv")
        pip = [str(build.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run([*pip, "--no-deps", "-r", str(REQUIREMENTS)], "installing the peer's pins")
        generate = [
            str(target / "venv" / "bin" / "openapi-generator-cli"), "generate",
            "--generator-name", _GENERATOR,
            "--input-spec", str(SPEC),
            "--output", str(target / "client"),
            "--package-name", PEER_PACKAGE,
            "--global-property", "apiTests=false,modelTests=false,apiDocs=false,modelDocs=false",
        ]  # fmt: skip
        _run(generate, f"openapi-generator-cli {version} generate")
        _run([str(build.python), "-c", f"import {PEER_PACKAGE}"], "importing the peer", cwd=build.client_dir)
        (target / "ok").write_text(version + "\n", encoding="utf-8")
        return PeerBuild(build.python, build.client_dir, version, time.perf_counter() - started)
