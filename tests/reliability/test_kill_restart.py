"""Downloads under faults: a large download in a child process, SIGKILLed at random points and
started again, under a steady share of storage faults (resets, cuts, stalls, 5xx, 429, HTML pages,
refused signatures), always ends in a tree byte-identical to what the storage serves.

After every kill, each file under its final name is already byte-identical to the storage's (a
partial file never gets a final name), and every file complete after one round is still there,
unchanged, after the next (nothing completed is lost or fetched again). The last run is let finish
and must exit 0; then the tree equals the export's files plus the manifest, `verify_download`
agrees, and the storage never received an Authorization header.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from itwin_mesh_export import MANIFEST_NAME, verify_download
from itwin_mesh_export.testing import Fault, LocalMeshExportService, SeedExport, TilesetSpec
from tests.conftest import ROOT
from tests.reliability.budget import BUDGET, record_result

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

STATE_DIR = ".itwin-mesh-export"
KILLS_PER_RUN = 5
LARGE_TILE = "*/tiles/0/0.glb"


def storage_faults(share: float) -> list[Fault]:
    """About one storage request in six goes wrong (`share` 1.0; the normal suite uses less, to
    stay quick); the large tile also stalls now and then, so kills land in the middle of it as well
    as between small files."""
    return [
        Fault.reset("storage", after_bytes=64 * 1024, times=None, probability=0.04 * share),
        Fault.truncate("storage", after_bytes=32 * 1024, times=None, probability=0.03 * share),
        Fault.server_error("storage", 503, times=None, probability=0.04 * share),
        Fault.rate_limit("storage", retry_after_s=0, times=None, probability=0.02 * share),
        Fault.html("storage", 502, times=None, probability=0.02 * share),
        Fault.expired_signature("storage", times=None, probability=0.01 * share),
        Fault.stall("storage", 0.2, after_bytes=1024 * 1024, path=LARGE_TILE, times=None, probability=0.5),
        Fault.delay("storage", 0.02, times=None, probability=0.5),
    ]


def on_disk(dest: Path) -> dict[str, Path]:
    """Files under their final names (the downloader's state directory and the manifest aside)."""
    return {
        p.relative_to(dest).as_posix(): p
        for p in dest.rglob("*")
        if p.is_file() and STATE_DIR not in p.relative_to(dest).parts and p.name != MANIFEST_NAME
    }


def progress(dest: Path) -> int:
    """Bytes on disk: finished files and partial ones."""
    total = 0
    for p in dest.rglob("*"):
        with contextlib.suppress(FileNotFoundError):  # a partial renamed into place meanwhile
            total += p.stat().st_size if p.is_file() else 0
    return total


@contextlib.contextmanager
def spawned(svc: LocalMeshExportService, export_id: str, dest: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The download child, killed on the way out if it is still running (a failed assertion, a
    timeout or an error in the test must not leave it downloading)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability._download_child", svc.api_url, svc.token, export_id, str(dest)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        if process.stderr is not None and not process.stderr.closed:  # not read yet: reap it
            process.communicate()


def test_random_kills_and_storage_faults_end_in_a_byte_identical_tree(tmp_path: Path) -> None:
    rng_seed = 1 if not BUDGET.long else time.time_ns() % 1_000_000  # the long run's kill points vary
    rng = random.Random(rng_seed)
    spec = TilesetSpec(
        tile_count=BUDGET.kill_tile_count, tile_bytes=16 * 1024, large_tile_bytes=BUDGET.kill_large_tile_bytes
    )
    export = SeedExport(imodel_id="kill-restart", tileset=spec)
    runs = max(1, BUDGET.kill_rounds // KILLS_PER_RUN)
    kills_per_run = min(KILLS_PER_RUN, BUDGET.kill_rounds)
    figures: dict[str, int] = {"runs": runs, "kills": 0, "mid_file_kills": 0, "files": 0, "bytes": 0, "seed": rng_seed}
    where = f"(kill points from random.Random({rng_seed}))"
    with LocalMeshExportService(
        seed_exports=[export], link_lifetime_s=3600, faults=storage_faults(1.0 if BUDGET.long else 0.5)
    ) as svc:
        export_id = export.export_id
        reference = {f.path: svc.file_bytes(export_id, f.path) for f in svc.export_files(export_id)}
        total = sum(map(len, reference.values()))
        figures.update({"files": len(reference), "bytes": total})
        for run in range(runs):
            dest = tmp_path / f"run{run}"
            kept: dict[str, bytes] = {}
            for _ in range(kills_per_run):
                before = progress(dest) if dest.exists() else 0
                target = before + int(rng.uniform(0.05, 0.6) * (total - before))
                with spawned(svc, export_id, dest) as process:
                    deadline = time.monotonic() + 120
                    while process.poll() is None and progress(dest) < target and time.monotonic() < deadline:
                        time.sleep(0.005)
                    if process.poll() is not None:  # it finished (or failed) before the kill point
                        _, stderr = process.communicate()
                        assert process.returncode == 0, f"{where}\n{stderr.decode()[-2000:]}"
                        break
                    process.send_signal(signal.SIGKILL)
                    process.communicate()
                    assert process.returncode == -signal.SIGKILL, where
                figures["kills"] += 1
                parts = list((dest / STATE_DIR / "parts").rglob("*.part")) if dest.exists() else []
                if any(p.stat().st_size > 0 for p in parts if p.exists()):
                    figures["mid_file_kills"] += 1
                files = on_disk(dest)
                for path, file in files.items():
                    assert path in reference, f"{path} is not a file of the export {where}"
                    assert file.read_bytes() == reference[path], (
                        f"{path} is under its final name but not complete {where}"
                    )
                for path, data in kept.items():
                    assert files[path].read_bytes() == data, f"{path}, complete before, was lost or changed {where}"
                kept = {path: file.read_bytes() for path, file in files.items()}

            with spawned(svc, export_id, dest) as process:  # the last run is let finish
                _, stderr = process.communicate(timeout=600)
            assert process.returncode == 0, f"{where}\n{stderr.decode()[-2000:]}"
            files = on_disk(dest)
            assert {path: file.read_bytes() for path, file in files.items()} == reference, where
            assert (dest / MANIFEST_NAME).is_file() and not (dest / STATE_DIR).exists(), where
            assert {e.path for e in verify_download(dest)} == set(reference), where
        applied = sum(entry["applied"] for entry in svc.faults.armed())
        figures.update({"storage_faults_applied": applied, "storage_requests": len(svc.requests)})
        assert svc.storage_authorization_headers == [], where
    record_result("kill", "kill-restart", figures)
    assert figures["kills"] and applied > 0, where
