"""Whole downloads against the fake storage, each in the sync and the async form: the tree on
disk, the manifest, progress, the completeness check, and what never reaches the storage."""

from __future__ import annotations

import gzip
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import anyio
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
    download_tileset_async,
    verify_download,
)
from itwin_mesh_export.download import _driver, _partial_file
from itwin_mesh_export.download._plan import DownloadPlan
from tests.download.conftest import Runner, assert_no_secret, sha256, standard_export, tree
from tests.download.fake_storage import HOST, SIG1, FakeStorage, _CutStream, href, tileset


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
    [
        {"concurrency": 0},
        {"concurrency": 10_000},
        {"concurrency": True},
        {"max_retries": -1},
        {"max_retries": "3"},
        {"max_retry_after_s": "5"},
        {"max_retry_after_s": -1},
        {"max_retry_after_s": float("nan")},
        {"max_retry_after_s": True},
        {"on_progress": 5},
        {"limits": {"max_files": 10}},
    ],
)
def test_bad_arguments_are_invalid_argument_errors(run: Runner, tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError):
        run(tmp_path / "dest", **kwargs)
    assert not (tmp_path / "dest").exists()  # refused before anything was written


@pytest.mark.parametrize("name", ["refresh_href", "sleep"])
def test_callbacks_that_cannot_be_called_are_invalid_argument_errors(
    storage: FakeStorage, tmp_path: Path, name: str
) -> None:
    standard_export(storage)
    storage.valid_sigs.clear()  # no request succeeds: a download that went ahead fails another way
    kwargs: dict[str, Any] = {name: "not callable"}
    with pytest.raises(InvalidArgumentError, match=name):
        download_tileset(href(), tmp_path, transport=storage.transport(), **kwargs)
    with pytest.raises(InvalidArgumentError, match=name):
        anyio.run(lambda: download_tileset_async(href(), tmp_path, transport=storage.transport(), **kwargs))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dest", [5, b"bytes", "with\x00nul"])
def test_a_bad_target_directory_is_an_invalid_argument_error(dest: object) -> None:
    with pytest.raises(InvalidArgumentError, match="dest"):
        download_tileset(href(), dest)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="dest"):
        verify_download(dest)  # type: ignore[arg-type]


@pytest.mark.skipif(os.name == "nt", reason="no directory lock on Windows")
def test_any_failure_while_opening_the_state_releases_the_directory_lock(
    storage: FakeStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    standard_export(storage)

    class Interrupted(BaseException):  # as ^C (KeyboardInterrupt) would be
        pass

    def interrupted(state_dir: Path) -> set[str]:
        raise Interrupted

    monkeypatch.setattr(_driver, "leftover_keys", interrupted)
    with pytest.raises(Interrupted) as info:
        download_tileset(href(), tmp_path, transport=storage.transport(), fsync=False)
    monkeypatch.undo()
    # `info` keeps the failed call's frames alive: a lock it had not released would still be held
    download_tileset(href(), tmp_path, transport=storage.transport(), fsync=False)
    assert info.value is not None and verify_download(tmp_path)


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


@pytest.mark.parametrize("fsync", [True, False])
def test_fsync_makes_every_file_durable_before_its_rename(
    run: Runner, storage: FakeStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    files = standard_export(storage)
    events: list[tuple[str, int]] = []  # ("fsync" | "rename", inode), in order
    real_fsync, real_fdatasync, real_replace = os.fsync, _partial_file._fdatasync, os.replace

    def recording_fsync(fd: int) -> None:
        events.append(("fsync", os.fstat(fd).st_ino))
        real_fsync(fd)

    def recording_fdatasync(fd: int) -> None:
        events.append(("fsync", os.fstat(fd).st_ino))
        real_fdatasync(fd)

    def recording_replace(src: Any, dst: Any, **kwargs: Any) -> None:
        events.append(("rename", os.stat(src).st_ino))
        real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(_partial_file, "_fdatasync", recording_fdatasync)
    monkeypatch.setattr(os, "replace", recording_replace)
    run(tmp_path, fsync=fsync)
    monkeypatch.undo()

    for path in files:
        inode = (tmp_path / path).stat().st_ino
        renamed = max(i for i, event in enumerate(events) if event == ("rename", inode))  # into place
        assert (("fsync", inode) in events[:renamed]) is fsync, path
    manifest = (tmp_path / MANIFEST_NAME).stat().st_ino
    assert ("fsync", manifest) in events  # the manifest is fsynced either way


def test_a_compressed_response_is_decoded_and_never_resumed(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    """A storage that insists on a Content-Encoding (despite Accept-Encoding: identity): the body
    is decoded, and the bytes received so far cannot be continued with Range (they are not the
    encoded bytes the range would count), so an attempt cut short starts again from zero."""
    data = random.Random(0).randbytes(1 << 20)  # incompressible: half the body is half the file
    body = gzip.compress(data)
    storage.put("tileset.json", tileset("big.glb"))
    asked: list[tuple[str | None, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/big.glb"):
            return storage.handle(request)
        asked.append((request.headers.get("range"), request.headers.get("accept-encoding")))
        headers = {"content-encoding": "gzip", "etag": '"0x1"', "content-length": str(len(body))}
        cut = len(body) // 2 if len(asked) == 1 else None
        return httpx.Response(200, headers=headers, stream=_CutStream(body, cut, None))

    result = run(tmp_path, transport=httpx.MockTransport(handler))
    assert asked == [(None, "identity"), (None, "identity")]
    assert (tmp_path / "big.glb").read_bytes() == data
    assert {e.path: (e.size, e.sha256) for e in result.files}["big.glb"] == (len(data), sha256(data))


@pytest.mark.parametrize(
    "path", ["../../../../etc/hostname", "/etc/hostname", "a/../../x", "nul\x00.glb", "a\\b", ".itwin-mesh-export/lock"]
)
def test_verify_download_refuses_a_manifest_naming_a_path_outside_the_download(
    run: Runner, storage: FakeStorage, tmp_path: Path, path: str
) -> None:
    storage.put("tileset.json", tileset())
    dest = tmp_path / "a" / "b" / "c" / "dest"
    run(dest)
    manifest = json.loads((dest / MANIFEST_NAME).read_text())
    outside = tmp_path / "x"
    outside.write_bytes(b"x")
    manifest["files"].append({"path": path, "size": 1, "sha256": sha256(b"x")})
    (dest / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(DownloadError, match="lists") as info:
        verify_download(dest)
    assert type(info.value) is DownloadError


def test_verify_download_finds_a_changed_file(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    standard_export(storage)
    run(tmp_path)
    (tmp_path / "tiles" / "2.glb").write_bytes(b"tampered")
    with pytest.raises(IncompleteDownloadError) as info:
        verify_download(tmp_path)
    assert info.value.missing == ["tiles/2.glb"]
    with pytest.raises(DownloadError, match="manifest"):
        verify_download(tmp_path / "nested")
