"""The downloader against the local Mesh Export service (itwin_mesh_export.testing) over real
sockets: its Azure-like and CloudFront-like storage, links that expire by the service's clock, a
fresh link fetched from its API, faults mid-body, and a download killed with SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from itwin_mesh_export import DownloadProgress, LinkExpiredError, download_tileset, download_tileset_async
from itwin_mesh_export.testing import Fault, LocalMeshExportService, ManualClock, TilesetSpec, make_seed_exports
from tests.download.conftest import assert_no_secret, largest_part, sha256, tree

LARGE = 8 * 1024 * 1024
LARGE_PATH = "tiles/0/0.glb"  # the root tile's GLB is the large one (TilesetSpec.large_tile_bytes)


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()


SEEDS = make_seed_exports(1, tileset=TilesetSpec(tile_count=31, large_tile_bytes=LARGE))


@pytest.fixture(scope="module")
def svc(clock: ManualClock) -> Iterator[LocalMeshExportService]:
    with LocalMeshExportService(clock=clock, seed_exports=SEEDS, link_lifetime_s=600) as service:
        yield service


@pytest.fixture
def export_id(svc: LocalMeshExportService) -> Iterator[str]:
    svc.clear_requests()
    yield SEEDS[0].export_id
    svc.faults.clear()


def fresh_href(svc: LocalMeshExportService, export_id: str, *, cdn: bool = False) -> Callable[[], str]:
    """What the client's download_export does on expiry: Get Export again, read _links.mesh.href."""

    def fetch() -> str:
        params = {"cdn": "1"} if cdn else {}
        with httpx.Client(base_url=svc.api_url, headers={"Authorization": f"Bearer {svc.token}"}) as api:
            return str(api.get(f"/{export_id}", params=params).json()["export"]["_links"]["mesh"]["href"])

    return fetch


def expected_files(svc: LocalMeshExportService, export_id: str) -> dict[str, bytes]:
    return {f.path: svc.file_bytes(export_id, f.path) for f in svc.export_files(export_id)}


def storage_requests(svc: LocalMeshExportService, path: str) -> list[int]:
    return [r.status for r in svc.requests if r.origin in ("storage", "cdn") and r.path.endswith("/" + path)]


@pytest.mark.parametrize("cdn", [False, True], ids=["blob", "cdn"])
def test_full_download_from_the_local_service(
    svc: LocalMeshExportService, export_id: str, tmp_path: Path, cdn: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    href = fresh_href(svc, export_id, cdn=cdn)()
    result = download_tileset(href, tmp_path, concurrency=8)

    expected = expected_files(svc, export_id)
    on_disk = tree(tmp_path)
    on_disk.pop("itwin-mesh-export.manifest.json")
    assert on_disk == expected
    assert {(e.path, e.size, e.sha256) for e in result.files} == {(p, len(d), sha256(d)) for p, d in expected.items()}
    assert svc.storage_authorization_headers == []  # the token never reached the storage
    signature_values = [pair.split("=", 1)[1] for pair in href.split("?", 1)[1].split("&")]
    for value in signature_values:
        if len(value) > 12:  # the signature and key parameters; short ones (sr=c, sp=rl) are not secret
            # the client side only: the service's own uvicorn access log shows the query it received
            client = [r for r in caplog.get_records("call") if not r.name.startswith("uvicorn")]
            assert client and all(value not in r.getMessage() for r in client), value


def test_async_download_from_the_local_service(svc: LocalMeshExportService, export_id: str, tmp_path: Path) -> None:
    async def main() -> None:
        await download_tileset_async(fresh_href(svc, export_id)(), tmp_path, concurrency=8)

    anyio.run(main)
    on_disk = tree(tmp_path)
    on_disk.pop("itwin-mesh-export.manifest.json")
    assert on_disk == expected_files(svc, export_id)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_link_expiring_mid_download_is_refreshed_through_the_api_once(
    svc: LocalMeshExportService, clock: ManualClock, export_id: str, tmp_path: Path, mode: str
) -> None:
    # the large tile is cut after 3 MiB; by then the link has expired (the clock jumped 11 minutes)
    svc.faults.add(Fault.reset("storage", after_bytes=3 * 1024 * 1024, path=f"*/{LARGE_PATH}"))
    refreshes: list[str] = []
    fetch = fresh_href(svc, export_id)
    jumped: list[bool] = []

    def refresh() -> str:
        refreshes.append(mode)
        return fetch()

    def on_progress(progress: DownloadProgress) -> None:
        if progress.path == LARGE_PATH and progress.bytes_downloaded > 1024 * 1024 and not jumped:
            jumped.append(True)
            clock.advance(660)

    href = fetch()
    if mode == "sync":
        result = download_tileset(href, tmp_path, refresh_href=refresh, on_progress=on_progress, sleep=lambda _: None)
    else:

        async def arefresh() -> str:
            return refresh()

        async def no_sleep(_: float) -> None:
            pass

        async def main() -> object:
            return await download_tileset_async(
                href, tmp_path, refresh_href=arefresh, on_progress=on_progress, sleep=no_sleep
            )

        result = anyio.run(main)  # type: ignore[assignment]

    assert len(refreshes) == 1 and result.link_refreshes == 1
    assert any(r.status == 403 for r in svc.requests if r.origin == "storage")  # the link did expire
    large = storage_requests(svc, LARGE_PATH)
    assert large.count(200) == 1 and large[-1] == 206  # resumed with Range after the cut, not restarted
    on_disk = tree(tmp_path)
    on_disk.pop("itwin-mesh-export.manifest.json")
    assert on_disk == expected_files(svc, export_id)


def test_without_refresh_an_expired_link_is_a_typed_error(
    svc: LocalMeshExportService, clock: ManualClock, export_id: str, tmp_path: Path
) -> None:
    href = fresh_href(svc, export_id)()
    clock.advance(601)
    with pytest.raises(LinkExpiredError) as info:
        download_tileset(href, tmp_path)
    assert info.value.status_code == 403 and info.value.error_code == "AuthenticationFailed"
    assert_no_secret(str(info.value))
    assert href.split("sig=")[1].split("&")[0] not in str(info.value) + repr(info.value)


def test_kill_9_while_the_large_tile_streams_then_resume(
    svc: LocalMeshExportService, export_id: str, tmp_path: Path
) -> None:
    reference = tmp_path / "reference"
    download_tileset(fresh_href(svc, export_id)(), reference)
    dest = tmp_path / "killed"
    half = LARGE // 2
    # the storage sends half of the large tile, then goes quiet: the kill lands mid-file
    svc.faults.add(Fault.stall("storage", 3.0, after_bytes=half, path=f"*/{LARGE_PATH}"))
    code = "import sys; from itwin_mesh_export import download_tileset; download_tileset(sys.argv[1], sys.argv[2])"
    process = subprocess.Popen([sys.executable, "-c", code, fresh_href(svc, export_id)(), str(dest)])
    deadline = time.monotonic() + 60
    while largest_part(dest) < half:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("the download never reached the middle of the large tile")
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    assert not (dest / LARGE_PATH).exists()
    svc.faults.clear()
    svc.clear_requests()

    result = download_tileset(fresh_href(svc, export_id)(), dest)

    assert storage_requests(svc, LARGE_PATH) == [206]  # the rest only
    assert result.bytes_downloaded < sum(f.size for f in svc.export_files(export_id)) - half + 1
    assert tree(dest) == tree(reference)  # byte-identical, manifest included
