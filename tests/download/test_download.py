"""Whole downloads against the fake storage, each in the sync and the async form: the tree on
disk, the manifest, progress, the completeness check, and what never reaches the storage."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from itwin_mesh_export import (
    MANIFEST_NAME,
    DownloadError,
    DownloadProgress,
    IncompleteDownloadError,
    InvalidArgumentError,
    InvalidTilesetError,
    StorageError,
    download_tileset,
    verify_download,
)
from itwin_mesh_export._download_plan import DownloadPlan
from tests.download.conftest import Runner, assert_no_secret, sha256, standard_export, tree
from tests.download.fake_storage import HOST, SIG1, FakeStorage, href, tileset


def test_full_download_writes_every_file_of_nested_tilesets(
    run: Runner, storage: FakeStorage, tmp_path: Path, secret_logs: pytest.LogCaptureFixture
) -> None:
    files = standard_export(storage)
    result = run(tmp_path, concurrency=4)

    on_disk = tree(tmp_path)
    manifest = json.loads(on_disk.pop(MANIFEST_NAME))
    assert on_disk == files  # nothing missing, nothing extra (no partial state left behind)
    assert manifest["format"] == "itwin-mesh-export.manifest"
    assert manifest["version"] == 1
    assert manifest["root"] == "tileset.json"
    assert manifest["source"] == f"https://{HOST}/exports/c0ffee"
    assert manifest["files"] == [{"path": p, "size": len(d), "sha256": sha256(d)} for p, d in sorted(files.items())]
    assert [e.path for e in result.files] == sorted(files)
    assert result.bytes_total == sum(map(len, files.values()))
    assert result.files_downloaded == len(files) and result.files_skipped == 0
    assert result.bytes_downloaded == result.bytes_total
    assert result.link_refreshes == 0
    assert result.manifest_path == tmp_path / MANIFEST_NAME
    # every request carried the signature, none an Authorization header, none went elsewhere
    assert all(s.sig == SIG1.replace("%2B", "+") for s in storage.served)
    assert all(s.authorization is None for s in storage.served)
    assert storage.foreign_requests == []
    assert sorted(s.path for s in storage.served) == sorted(files)  # each file fetched once
    assert verify_download(tmp_path) == list(result.files)


def test_second_run_skips_every_complete_file(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    files = standard_export(storage)
    run(tmp_path)
    first = tree(tmp_path)
    storage.served.clear()

    result = run(tmp_path)

    assert storage.served == []  # not even the tilesets: they are read back from disk
    assert result.files_skipped == len(files) and result.files_downloaded == 0
    assert result.bytes_downloaded == 0
    assert tree(tmp_path) == first


def test_a_missing_file_is_fetched_again_on_the_next_run(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    standard_export(storage)
    run(tmp_path)
    first = tree(tmp_path)
    (tmp_path / "tiles" / "1.glb").unlink()
    storage.served.clear()

    result = run(tmp_path)

    assert [s.path for s in storage.served] == ["tiles/1.glb"]
    assert result.files_downloaded == 1
    assert tree(tmp_path) == first


def test_progress_reports_files_and_bytes_up_to_final_totals(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    files = standard_export(storage)
    events: list[DownloadProgress] = []
    run(tmp_path, on_progress=events.append, concurrency=3)

    total = sum(map(len, files.values()))
    last = events[-1]
    assert (last.files_done, last.files_total) == (len(files), len(files))
    assert (last.bytes_done, last.bytes_total, last.bytes_downloaded) == (total, total, total)
    assert last.totals_final
    assert not events[0].totals_final  # the tileset had not been read yet
    done = [e.files_done for e in events]
    assert done == sorted(done)
    assert all(e.files_done <= e.files_total and e.bytes_done <= e.bytes_downloaded for e in events)
    assert {e.path for e in events if e.path} == set(files)


def test_progress_counts_skipped_files_as_done_not_downloaded(
    run: Runner, storage: FakeStorage, tmp_path: Path
) -> None:
    files = standard_export(storage)
    run(tmp_path)
    events: list[DownloadProgress] = []
    run(tmp_path, on_progress=events.append)
    total = sum(map(len, files.values()))
    assert (events[-1].bytes_done, events[-1].bytes_total, events[-1].bytes_downloaded) == (total, total, 0)
    assert events[-1].files_done == len(files)


def test_completeness_check_lists_files_gone_before_the_end(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    standard_export(storage)

    def remove_a_finished_tile(progress: DownloadProgress) -> None:
        target = tmp_path / "tiles" / "0.glb"
        if progress.path == "tiles/0.glb" and target.exists():
            target.unlink()  # someone deletes a file under our feet

    with pytest.raises(IncompleteDownloadError) as info:
        run(tmp_path, on_progress=remove_a_finished_tile, concurrency=1)
    assert info.value.missing == ["tiles/0.glb"]
    assert "tiles/0.glb" in str(info.value)
    assert not (tmp_path / MANIFEST_NAME).exists()


def test_a_missing_blob_is_a_storage_error_and_the_rest_is_kept(
    run: Runner, storage: FakeStorage, tmp_path: Path, secret_logs: pytest.LogCaptureFixture
) -> None:
    storage.put("tileset.json", tileset("a.glb", "gone.glb"))
    storage.put("a.glb", b"a")
    with pytest.raises(StorageError) as info:
        run(tmp_path, concurrency=1)
    assert info.value.status_code == 404
    assert info.value.error_code == "BlobNotFound"
    assert "gone.glb" in str(info.value)
    assert_no_secret(str(info.value), repr(info.value), info.value.url)
    storage.put("gone.glb", b"back")
    storage.served.clear()
    run(tmp_path)
    assert [s.path for s in storage.served] == ["gone.glb"]  # the rest was kept


def test_redirects_are_not_followed(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset("a.glb"))
    storage.faults["a.glb"] = [(302, {"location": "https://elsewhere.example/a.glb"})]
    with pytest.raises(StorageError, match="redirects are not followed"):
        run(tmp_path)
    assert storage.foreign_requests == []


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"asset": {}}', b'{"root": {"content": {"uri": 7}}}', b"\xff\xfe"],
    ids=["not-json", "array", "no-root", "uri-not-string", "not-utf8"],
)
def test_a_malformed_tileset_is_a_typed_error(run: Runner, storage: FakeStorage, tmp_path: Path, body: bytes) -> None:
    storage.put("tileset.json", body)
    with pytest.raises(InvalidTilesetError) as info:
        run(tmp_path)
    assert info.value.path == "tileset.json"


def test_gltf_json_content_brings_its_buffers_and_images(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    gltf = {
        "asset": {"version": "2.0"},
        "buffers": [{"uri": "model.bin", "byteLength": 3}, {"uri": "data:application/octet-stream;base64,AAA="}],
        "images": [{"uri": "textures/t%20x.png"}, {"bufferView": 0, "mimeType": "image/png"}],
    }
    storage.put("tileset.json", tileset("m/model.gltf"))
    storage.put("m/model.gltf", json.dumps(gltf).encode())
    storage.put("m/model.bin", b"bin")
    storage.put("m/textures/t x.png", b"png")
    result = run(tmp_path)
    assert {e.path for e in result.files} == {"tileset.json", "m/model.gltf", "m/model.bin", "m/textures/t x.png"}


def test_tiles_1_1_contents_arrays_and_schema_uri(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    document = {
        "asset": {"version": "1.1"},
        "schemaUri": "schema.json",
        "geometricError": 1,
        "root": {"geometricError": 1, "contents": [{"uri": "a.glb"}, {"uri": "b.glb"}], "content": {"url": "c.glb"}},
    }
    storage.put("tileset.json", json.dumps(document).encode())
    for name in ("schema.json", "a.glb", "b.glb", "c.glb"):
        storage.put(name, name.encode())
    result = run(tmp_path)
    # schema.json is data, not an external tileset: it is not parsed as one
    assert {e.path for e in result.files} == {"tileset.json", "schema.json", "a.glb", "b.glb", "c.glb"}


def test_the_same_file_referenced_twice_is_fetched_once(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset("a.glb", "./a.glb", "x/../a.glb", "s/t.json", "s/u.json"))
    storage.put("s/t.json", tileset("../a.glb", "shared.json"))
    storage.put("s/u.json", tileset("shared.json"))  # a diamond, not a cycle
    storage.put("s/shared.json", tileset("../a.glb"))
    storage.put("a.glb", b"a")
    run(tmp_path)
    assert sorted(s.path for s in storage.served) == ["a.glb", "s/shared.json", "s/t.json", "s/u.json", "tileset.json"]


def test_tilesets_finished_at_once_never_queue_a_file_twice(
    run: Runner, storage: FakeStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker records its own file and queues what it references (no scheduling thread in
    between): eight external tilesets naming the same tiles, finished by eight workers at once,
    still fetch each tile once. Each reference's check is slowed down (1 ms, the GIL released, as
    a loaded machine may stall a thread), so that the workers' updates of the plan overlap."""
    check = DownloadPlan._check_file_or_directory

    def slow_check(self: DownloadPlan, parent: str, path: str, uri: str) -> None:
        time.sleep(0.001)
        check(self, parent, path, uri)

    monkeypatch.setattr(DownloadPlan, "_check_file_or_directory", slow_check)
    shared = [f"t/{i}.glb" for i in range(40)]
    subtilesets = [f"s{i}/tileset.json" for i in range(8)]
    storage.put("tileset.json", tileset(*subtilesets))
    for sub in subtilesets:
        storage.put(sub, tileset(*[f"../{tile}" for tile in shared]))
    for tile in shared:
        storage.put(tile, tile.encode())
    result = run(tmp_path, concurrency=8)
    assert sorted(s.path for s in storage.served) == sorted(["tileset.json", *subtilesets, *shared])  # each once
    assert len(result.files) == 1 + 8 + 40


def test_a_plain_http_link_is_refused_unless_loopback(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="plain http"):
        download_tileset(f"http://{HOST}/c?sig={SIG1}", tmp_path)
    assert not (tmp_path / ".itwin-mesh-export").exists()  # refused before anything was written
    for bad in ("", "not a url", "ftp://host/c?sig=x", "https://user:pw@host/c?sig=x"):
        with pytest.raises(InvalidArgumentError) as info:
            download_tileset(bad, tmp_path)
        assert_no_secret(str(info.value))


@pytest.mark.parametrize(
    "kwargs",
    [{"concurrency": 0}, {"concurrency": 10_000}, {"concurrency": True}, {"max_retries": -1}],
)
def test_bad_arguments_are_invalid_argument_errors(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError):
        download_tileset(href(), tmp_path, **kwargs)  # type: ignore[arg-type]


def test_a_storage_client_with_credentials_is_refused(storage: FakeStorage, tmp_path: Path) -> None:
    standard_export(storage)
    for client in (
        httpx.Client(transport=storage.transport(), headers={"Authorization": "Bearer api-token"}),
        httpx.Client(transport=storage.transport(), auth=("user", "password")),
    ):
        with client, pytest.raises(InvalidArgumentError, match="must not carry credentials"):
            download_tileset(href(), tmp_path, http_client=client)
    assert storage.served == []


def test_a_caller_client_is_used_and_left_open(storage: FakeStorage, tmp_path: Path) -> None:
    standard_export(storage)
    with httpx.Client(transport=storage.transport()) as client:
        download_tileset(href(), tmp_path, http_client=client, fsync=False)
        assert not client.is_closed
    assert len(storage.served) == 9


def test_two_downloads_into_one_directory_at_once_are_refused(storage: FakeStorage, tmp_path: Path) -> None:
    standard_export(storage)
    blocked: list[BaseException] = []

    def second_download(progress: DownloadProgress) -> None:
        if not blocked:
            try:
                download_tileset(href(), tmp_path, transport=storage.transport(), fsync=False)
            except DownloadError as exc:
                blocked.append(exc)

    download_tileset(href(), tmp_path, transport=storage.transport(), on_progress=second_download, fsync=False)
    assert len(blocked) == 1 and "another download" in str(blocked[0])


def test_verify_download_finds_a_changed_file(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    standard_export(storage)
    run(tmp_path)
    (tmp_path / "tiles" / "2.glb").write_bytes(b"tampered")
    with pytest.raises(IncompleteDownloadError) as info:
        verify_download(tmp_path)
    assert info.value.missing == ["tiles/2.glb"]
    with pytest.raises(DownloadError, match="manifest"):
        verify_download(tmp_path / "nested")
