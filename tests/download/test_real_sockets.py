"""End to end over real sockets (a stdlib storage server on 127.0.0.1): a full download, a
download killed with SIGKILL in the middle of a large file and resumed by a new process, and a
signature that expires while a body streams. No timing is asserted: waits only have deadlines."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from itwin_mesh_export import download_tileset, download_tileset_async
from tests.download.conftest import largest_part, tree
from tests.download.fake_storage import tileset
from tests.download.http_storage import StorageServer, random_bytes, write_files

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

SIG1, SIG2 = "Real1SignatureSecret", "Real2SignatureSecret"
LARGE = 24 * 1024 * 1024


@pytest.fixture(scope="module")
def export_files() -> dict[str, bytes]:
    files = {
        "tileset.json": tileset("large.glb", "tiles/a.glb", "sub/tileset.json"),
        "large.glb": random_bytes(LARGE, seed=7),
        "tiles/a.glb": random_bytes(50_000, seed=1),
        "sub/tileset.json": tileset("b.glb", "../tiles/c.glb"),
        "sub/b.glb": random_bytes(300_000, seed=2),
        "tiles/c.glb": random_bytes(10, seed=3),
    }
    return files


@pytest.fixture
def server(tmp_path: Path, export_files: dict[str, bytes]) -> Iterator[StorageServer]:
    root = tmp_path / "storage"
    write_files(root, export_files)
    with StorageServer(root, sigs={SIG1}) as storage:
        yield storage


def test_full_download_over_sockets_sync_and_async(
    server: StorageServer, tmp_path: Path, export_files: dict[str, bytes]
) -> None:
    sync_result = download_tileset(server.href(SIG1), tmp_path / "sync", concurrency=4)

    async def main() -> None:
        await download_tileset_async(server.href(SIG1), tmp_path / "async", concurrency=4)

    anyio.run(main)
    for dest in (tmp_path / "sync", tmp_path / "async"):
        on_disk = tree(dest)
        on_disk.pop("itwin-mesh-export.manifest.json")
        assert on_disk == export_files
    assert tree(tmp_path / "sync") == tree(tmp_path / "async")  # manifests included
    assert sync_result.bytes_total == sum(map(len, export_files.values()))
    assert server.requests and all(r.authorization is None for r in server.requests)  # no token leak


def _download_in_subprocess(href: str, dest: Path) -> subprocess.Popen[bytes]:
    code = "import sys; from itwin_mesh_export import download_tileset; download_tileset(sys.argv[1], sys.argv[2])"
    return subprocess.Popen([sys.executable, "-c", code, href, str(dest)], stderr=subprocess.PIPE)


def _kill_when_part_reaches(process: subprocess.Popen[bytes], dest: Path, size: int) -> int:
    """SIGKILL the download once the large file's partial holds at least `size` bytes; returns
    how many bytes the partial held after the kill."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if largest_part(dest) >= size:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return largest_part(dest)
        if process.poll() is not None:
            pytest.fail(f"the download ended before it could be killed: {process.stderr.read()!r}")  # type: ignore[union-attr]
        time.sleep(0.01)
    process.kill()
    pytest.fail("the partial file never reached the size to kill at")


def test_kill_9_mid_file_then_resume_gives_a_byte_identical_tree(
    server: StorageServer, tmp_path: Path, export_files: dict[str, bytes]
) -> None:
    reference = tmp_path / "reference"
    download_tileset(server.href(SIG1), reference)
    dest = tmp_path / "killed"
    server.pace_s = 0.01  # ~100 chunks of 256 KiB: the kill lands mid-file
    kept = []
    for fraction in (0.2, 0.6):  # killed twice, each time further in
        process = _download_in_subprocess(server.href(SIG1), dest)
        kept.append(_kill_when_part_reaches(process, dest, int(LARGE * fraction)))
        assert process.returncode == -signal.SIGKILL
        assert not (dest / "large.glb").exists()  # never a partial file under the final name
    assert kept[0] < kept[1] < LARGE
    server.pace_s = 0.0
    server.requests.clear()

    result = download_tileset(server.href(SIG1), dest)

    large = [r for r in server.requests if r.path == "large.glb"]
    assert [(r.range, r.status) for r in large] == [(f"bytes={kept[1]}-", 206)]  # continued, not restarted
    assert result.bytes_downloaded == LARGE - kept[1]
    assert tree(dest) == tree(reference)  # byte-identical, manifest included
    digest = hashlib.sha256(export_files["large.glb"]).hexdigest()
    assert any(e.path == "large.glb" and e.sha256 == digest for e in result.files)


def test_signature_expiring_mid_body_is_refreshed_once_over_sockets(
    server: StorageServer, tmp_path: Path, export_files: dict[str, bytes]
) -> None:
    server.revoke_at_byte = LARGE // 3  # the signature expires while large.glb streams; the body is cut
    refreshes = []

    def refresh() -> str:
        refreshes.append(1)
        server.sigs.add(SIG2)
        return server.href(SIG2)

    result = download_tileset(
        server.href(SIG1), tmp_path / "dest", refresh_href=refresh, sleep=lambda _: None, concurrency=2
    )

    assert len(refreshes) == 1 and result.link_refreshes == 1
    large = [(r.range, r.status) for r in server.requests if r.path == "large.glb"]
    assert large[0] == (None, 200)
    resumed = [rng or "" for rng, status in large if status == 206]
    assert len(resumed) == 1 and int(resumed[0].split("=")[1].rstrip("-")) > 0  # went on from its bytes
    assert [status for _, status in large].count(200) == 1  # never fetched from zero again
    on_disk = tree(tmp_path / "dest")
    on_disk.pop("itwin-mesh-export.manifest.json")
    assert on_disk == export_files


@pytest.mark.anyio
async def test_async_signature_expiry_over_sockets(server: StorageServer, tmp_path: Path) -> None:
    server.revoke_at_byte = LARGE // 2
    refreshes = []

    async def refresh() -> str:
        refreshes.append(1)
        server.sigs.add(SIG2)
        return server.href(SIG2)

    async def no_sleep(_: float) -> None:
        pass

    result = await download_tileset_async(
        server.href(SIG1), tmp_path / "dest", refresh_href=refresh, sleep=no_sleep, concurrency=3
    )
    assert len(refreshes) == 1 and result.link_refreshes == 1
    assert [r.status for r in server.requests if r.path == "large.glb"].count(200) == 1
    assert os.path.getsize(tmp_path / "dest" / "large.glb") == LARGE
