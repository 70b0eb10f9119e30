"""`client.download_export`: the download engine wired into both clients. The API part on
httpx.MockTransport (which export, which link, typed errors before any download), then the whole
path over real sockets against the local Mesh Export service: a full download, a link that expires
mid-download and is refreshed through the client's own Get Export, and no token at the storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio
import httpx
import pytest

from itwin_mesh_export import (
    AsyncMeshExportClient,
    DownloadProgress,
    DownloadResult,
    ExportFailedError,
    ExportNotCompleteError,
    InvalidArgumentError,
    MeshExportClient,
    NotFoundError,
)
from itwin_mesh_export.testing import LocalMeshExportService, ManualClock, TilesetSpec, make_seed_exports
from tests.download.conftest import assert_no_secret, standard_export, tree
from tests.download.fake_storage import SIG1, SIG2, FakeStorage, href
from tests.overlay.conftest import API, TOKEN, export_json

MANIFEST = "itwin-mesh-export.manifest.json"


class FakeAPI:
    """Get Export answers with the export in `statuses` order (the last one repeats), its link
    signed with the next signature of `signatures` each time."""

    def __init__(self, *statuses: str, signatures: tuple[str, ...] = (SIG1, SIG2), error: str | None = None) -> None:
        self.statuses = list(statuses)
        self.signatures = list(signatures)
        self.error = error
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path != "/mesh-export/e1":
            return httpx.Response(404, json={"error": {"code": "ExportNotFound", "message": "Not found."}})
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        sig = self.signatures.pop(0) if len(self.signatures) > 1 else self.signatures[0]
        return httpx.Response(200, json={"export": export_json("e1", status, href=href(sig), error=self.error)})


def download(
    mode: str, api: FakeAPI, storage: FakeStorage, dest: Path, export: Any = "e1", **kw: Any
) -> DownloadResult:
    """`download_export` through the sync or the async client, on mock transports."""
    if mode == "sync":
        with MeshExportClient(TOKEN, base_url=API, transport=httpx.MockTransport(api)) as client:
            return client.download_export(export, dest, storage_transport=storage.transport(), **kw)

    async def main() -> DownloadResult:
        async with AsyncMeshExportClient(TOKEN, base_url=API, transport=httpx.MockTransport(api)) as client:
            return await client.download_export(export, dest, storage_transport=storage.transport(), **kw)

    return anyio.run(main)


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


@MODES
def test_downloads_the_export_by_id_and_writes_the_manifest(mode: str, tmp_path: Path) -> None:
    storage = FakeStorage()
    files = standard_export(storage)
    api = FakeAPI("Complete")
    result = download(mode, api, storage, tmp_path)

    on_disk = tree(tmp_path)
    assert on_disk.pop(MANIFEST)
    assert on_disk == files
    assert result.manifest_path == tmp_path / MANIFEST and result.link_refreshes == 0
    assert [r.url.path for r in api.requests] == ["/mesh-export/e1"]
    assert {s.authorization for s in storage.served} == {None}  # the token stayed with the API


@MODES
def test_an_export_object_is_fetched_again_by_its_id_and_cdn_asks_for_the_cdn_link(mode: str, tmp_path: Path) -> None:
    storage = FakeStorage()
    standard_export(storage)
    api = FakeAPI("Complete", signatures=(SIG1,))
    with MeshExportClient(TOKEN, base_url=API, transport=httpx.MockTransport(api)) as client:
        stale = client.get_export("e1")
    api.requests.clear()
    download(mode, api, storage, tmp_path, export=stale, cdn=True)
    assert [(r.url.path, r.url.params.get("cdn")) for r in api.requests] == [("/mesh-export/e1", "1")]


@MODES
def test_a_refused_signature_gets_a_fresh_link_from_get_export(mode: str, tmp_path: Path) -> None:
    storage = FakeStorage(valid_sigs={SIG2})  # the first link's signature has expired
    files = standard_export(storage)
    api = FakeAPI("Complete", signatures=(SIG1, SIG2))
    progress: list[DownloadProgress] = []
    result = download(mode, api, storage, tmp_path, on_progress=progress.append, concurrency=2)

    assert result.link_refreshes == 1
    assert len(api.requests) == 2  # the first link, then one refresh shared by every file
    assert {s.sig for s in storage.served if s.status == 403} == {unquote(SIG1)}
    on_disk = tree(tmp_path)
    on_disk.pop(MANIFEST)
    assert on_disk == files
    assert progress[-1].files_done == progress[-1].files_total == len(files)


@MODES
def test_an_invalid_export_is_export_failed_error_and_nothing_is_fetched(mode: str, tmp_path: Path) -> None:
    storage = FakeStorage()
    standard_export(storage)
    with pytest.raises(ExportFailedError) as info:
        download(mode, FakeAPI("Invalid", error="Out of memory"), storage, tmp_path)
    assert info.value.export_id == "e1" and info.value.error == "Out of memory"
    assert storage.served == [] and list(tmp_path.iterdir()) == []


@MODES
@pytest.mark.parametrize("status", ["NotStarted", "InProgress", "Queued"])
def test_an_export_without_files_yet_is_export_not_complete_error(mode: str, status: str, tmp_path: Path) -> None:
    storage = FakeStorage()
    with pytest.raises(ExportNotCompleteError) as info:
        download(mode, FakeAPI(status), storage, tmp_path)
    assert (info.value.export_id, info.value.status) == ("e1", status)
    assert str(info.value) == f"export e1 is {status}, not Complete: it has no files to download yet"
    assert storage.served == []


@MODES
def test_a_complete_export_without_a_link_is_export_not_complete_error(mode: str, tmp_path: Path) -> None:
    def no_link(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"export": export_json("e1", "Complete", href=None)})

    if mode == "sync":
        with (
            MeshExportClient(TOKEN, base_url=API, transport=httpx.MockTransport(no_link)) as client,
            pytest.raises(ExportNotCompleteError, match="is Complete but the API gave no link"),
        ):
            client.download_export("e1", tmp_path)
    else:

        async def main() -> None:
            async with AsyncMeshExportClient(TOKEN, base_url=API, transport=httpx.MockTransport(no_link)) as client:
                await client.download_export("e1", tmp_path)

        with pytest.raises(ExportNotCompleteError, match="is Complete but the API gave no link"):
            anyio.run(main)


@MODES
def test_an_export_deleted_before_the_refresh_is_not_found(mode: str, tmp_path: Path) -> None:
    storage = FakeStorage(valid_sigs={SIG2})  # the first link is refused, so the client asks again
    standard_export(storage)
    first = FakeAPI("Complete")
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return first(request)
        return httpx.Response(404, json={"error": {"code": "ExportNotFound", "message": "Export not found."}})

    with pytest.raises(NotFoundError):
        if mode == "sync":
            with MeshExportClient(TOKEN, base_url=API, transport=httpx.MockTransport(handler)) as client:
                client.download_export("e1", tmp_path, storage_transport=storage.transport())
        else:

            async def main() -> None:
                async with AsyncMeshExportClient(TOKEN, base_url=API, transport=httpx.MockTransport(handler)) as client:
                    await client.download_export("e1", tmp_path, storage_transport=storage.transport())

            anyio.run(main)
    assert len(calls) == 2


@MODES
@pytest.mark.parametrize(("export", "kw"), [(42, {}), ("e1", {"cdn": "yes"}), ("e1", {"concurrency": 0})])
def test_bad_arguments_are_invalid_argument_error(mode: str, export: Any, kw: dict[str, Any], tmp_path: Path) -> None:
    storage = FakeStorage()
    standard_export(storage)
    with pytest.raises(InvalidArgumentError):
        download(mode, FakeAPI("Complete"), storage, tmp_path, export=export, **kw)
    assert storage.served == []


def test_the_api_client_is_never_the_storage_client(tmp_path: Path) -> None:
    storage = FakeStorage()
    standard_export(storage)
    transport = httpx.MockTransport(FakeAPI("Complete"))
    with (
        MeshExportClient(TOKEN, base_url=API, transport=transport) as client,
        pytest.raises(InvalidArgumentError, match="must not carry credentials"),
    ):
        client.download_export("e1", tmp_path, storage_client=client._http)
    assert storage.served == []


# ---- over real sockets, against the local service ----------------------------------------------

LARGE_PATH = "tiles/0/0.glb"
SEEDS = make_seed_exports(1, tileset=TilesetSpec(tile_count=31, large_tile_bytes=2 * 1024 * 1024))


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def svc(clock: ManualClock) -> Iterator[LocalMeshExportService]:
    with LocalMeshExportService(clock=clock, seed_exports=SEEDS, link_lifetime_s=600) as service:
        yield service


@pytest.fixture
def export_id(svc: LocalMeshExportService) -> Iterator[str]:
    svc.clear_requests()
    yield SEEDS[0].export_id
    svc.faults.clear()


def expected_files(svc: LocalMeshExportService, export_id: str) -> dict[str, bytes]:
    return {f.path: svc.file_bytes(export_id, f.path) for f in svc.export_files(export_id)}


@MODES
@pytest.mark.parametrize("cdn", [False, True], ids=["blob", "cdn"])
def test_full_download_through_the_client_from_the_local_service(
    svc: LocalMeshExportService, export_id: str, tmp_path: Path, mode: str, cdn: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    if mode == "sync":
        with MeshExportClient(svc.token, base_url=svc.api_url) as client:
            result = client.download_export(export_id, tmp_path, cdn=cdn)
    else:

        async def main() -> DownloadResult:
            async with AsyncMeshExportClient(svc.token, base_url=svc.api_url) as client:
                return await client.download_export(export_id, tmp_path, cdn=cdn)

        result = anyio.run(main)

    on_disk = tree(tmp_path)
    on_disk.pop(MANIFEST)
    assert on_disk == expected_files(svc, export_id)
    assert result.files_downloaded == len(on_disk) and result.bytes_total == sum(map(len, on_disk.values()))
    origins = {r.origin for r in svc.requests if r.origin != "api"}
    assert origins == {"cdn" if cdn else "storage"}
    assert svc.storage_authorization_headers == []  # the token never reached the storage
    messages = [r.getMessage() for r in caplog.get_records("call")]
    assert messages
    assert all(svc.token not in m for m in messages)
    query = svc.mesh_url(export_id, cdn=cdn).split("?", 1)[1]
    for value in (pair.split("=", 1)[1] for pair in query.split("&")):
        if len(value) > 12:  # signature and key values; sr=c, sp=rl are not secret
            assert all(value not in m for m in messages), [m for m in messages if value in m][:3]


@MODES
def test_a_link_expiring_mid_download_is_refreshed_through_the_client(
    svc: LocalMeshExportService, clock: ManualClock, export_id: str, tmp_path: Path, mode: str
) -> None:
    jumped: list[bool] = []

    def on_progress(progress: DownloadProgress) -> None:
        # once the first files are down, the link expires (the service clock jumps 11 minutes)
        if progress.files_done >= 3 and not jumped:
            jumped.append(True)
            clock.advance(660)

    if mode == "sync":
        with MeshExportClient(svc.token, base_url=svc.api_url) as client:
            result = client.download_export(export_id, tmp_path, concurrency=2, on_progress=on_progress)
    else:

        async def main() -> DownloadResult:
            async with AsyncMeshExportClient(svc.token, base_url=svc.api_url) as client:
                return await client.download_export(export_id, tmp_path, concurrency=2, on_progress=on_progress)

        result = anyio.run(main)

    assert jumped and result.link_refreshes == 1
    assert any(r.status == 403 for r in svc.requests if r.origin == "storage")  # the link did expire
    assert [r.method for r in svc.requests if r.origin == "api"] == ["GET", "GET"]  # the link, one refresh
    on_disk = tree(tmp_path)
    on_disk.pop(MANIFEST)
    assert on_disk == expected_files(svc, export_id)
    assert svc.storage_authorization_headers == []
    assert_no_secret(str(result))
