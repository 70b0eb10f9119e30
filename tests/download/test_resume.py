"""Resuming: partial files continue with Range (never spliced across two versions), a crash
mid-file leaves a .part that the next run continues, and the resumed tree equals an
uninterrupted one byte for byte."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from itwin_mesh_export import MANIFEST_NAME, DownloadProgress, StorageError, verify_download
from itwin_mesh_export.download._disk import boot_id
from tests.download.conftest import BIG, Runner, standard_export, tree
from tests.download.fake_storage import FakeStorage, tileset


class Crash(Exception):
    """Stands for the process dying: raised from the progress callback in the middle of a file."""


def crash_after(byte_count: int, path: str = "big.glb"):  # type: ignore[no-untyped-def]
    def on_progress(progress: DownloadProgress) -> None:
        if progress.path == path and progress.bytes_downloaded >= byte_count:
            raise Crash

    return on_progress


def parts(dest: Path) -> list[Path]:
    return sorted((dest / ".itwin-mesh-export" / "parts").rglob("*.part"))


def test_resume_after_a_crash_mid_file_gives_the_uninterrupted_tree(
    run: Runner, storage: FakeStorage, tmp_path: Path
) -> None:
    standard_export(storage)
    reference = tmp_path / "reference"
    run(reference)
    dest = tmp_path / "resumed"
    storage.served.clear()

    with pytest.raises(Crash):
        run(dest, on_progress=crash_after(300_000), concurrency=1)
    (part,) = parts(dest)
    kept = part.stat().st_size
    assert 0 < kept < len(BIG)
    assert BIG.startswith(part.read_bytes())
    sidecar = json.loads(part.with_suffix(".json").read_text())
    assert sidecar["path"] == "big.glb" and sidecar["size"] == len(BIG) and sidecar["etag"] == storage.etag("big.glb")
    assert not (dest / "big.glb").exists()  # never a half file under the final name
    storage.served.clear()

    run(dest)

    big_requests = storage.requests_for("big.glb")
    assert [(r.range, r.if_range, r.status, r.start) for r in big_requests] == [
        (f"bytes={kept}-", storage.etag("big.glb"), 206, kept)
    ]
    finished_before = {"tileset.json", "tiles/0.glb", "tiles/1.glb", "nested/tileset.json"}
    assert not finished_before & {r.path for r in storage.served}  # complete files were not fetched again
    assert tree(dest) == tree(reference)  # byte-identical, manifest included


def test_a_file_changed_between_runs_is_fetched_whole_not_spliced(
    run: Runner, storage: FakeStorage, tmp_path: Path
) -> None:
    storage.put("tileset.json", tileset("big.glb"))
    storage.put("big.glb", BIG)
    with pytest.raises(Crash):
        run(tmp_path, on_progress=crash_after(200_000))
    new_version = bytes(reversed(BIG))
    storage.put("big.glb", new_version)  # re-exported: another ETag
    storage.served.clear()

    run(tmp_path)

    (request,) = storage.requests_for("big.glb")
    assert request.range is not None and request.if_range is not None  # it asked to resume...
    assert (request.status, request.start) == (200, 0)  # ...and If-Range made the storage send it all
    assert (tmp_path / "big.glb").read_bytes() == new_version


def test_a_connection_reset_mid_body_resumes_from_the_bytes_written(
    run: Runner, storage: FakeStorage, tmp_path: Path
) -> None:
    storage.put("tileset.json", tileset("big.glb"))
    storage.put("big.glb", BIG)
    storage.cuts["big.glb"] = [400_000, 700_000]  # two resets in a row, each after some progress

    result = run(tmp_path, max_retries=1)  # progress resets the count: two resets are fine

    assert [(r.status, r.start) for r in storage.requests_for("big.glb")] == [(200, 0), (206, 400_000), (206, 700_000)]
    assert (tmp_path / "big.glb").read_bytes() == BIG
    assert result.bytes_downloaded == len(BIG) + len(storage.files["tileset.json"])  # no byte fetched twice
    assert len(run.sleeps) == 2


def test_a_partial_file_in_the_flat_layout_of_earlier_versions_is_resumed(
    run: Runner, storage: FakeStorage, tmp_path: Path
) -> None:
    """Partial files now live in subdirectories of parts/; one an earlier version left directly in
    parts/ (with its sidecar) is moved to its subdirectory and continued, not fetched again."""
    storage.put("tileset.json", tileset("big.glb"))
    storage.put("big.glb", BIG)
    with pytest.raises(Crash):
        run(tmp_path, on_progress=crash_after(300_000))
    (part,) = parts(tmp_path)
    kept = part.stat().st_size
    flat = tmp_path / ".itwin-mesh-export" / "parts"
    for file in (part, part.with_suffix(".json")):
        file.rename(flat / file.name)
    part.parent.rmdir()
    storage.served.clear()

    run(tmp_path)

    assert [(r.range, r.status) for r in storage.requests_for("big.glb")] == [(f"bytes={kept}-", 206)]
    assert (tmp_path / "big.glb").read_bytes() == BIG


def test_the_parts_directory_removed_under_a_running_download_is_created_again(
    run: Runner, storage: FakeStorage, tmp_path: Path
) -> None:
    standard_export(storage)
    state = tmp_path / ".itwin-mesh-export"

    def remove_parts(progress: DownloadProgress) -> None:
        if progress.path == "tileset.json" and progress.files_done == 1:
            shutil.rmtree(state / "parts")

    run(tmp_path, on_progress=remove_parts, concurrency=1)
    assert verify_download(tmp_path)


def test_a_partial_without_sidecar_is_not_trusted(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    standard_export(storage)
    with pytest.raises(Crash):
        run(tmp_path, on_progress=crash_after(100_000), concurrency=1)
    (part,) = parts(tmp_path)
    part.with_suffix(".json").unlink()  # the validator is gone: the bytes cannot be matched to a version
    storage.served.clear()
    run(tmp_path)
    (request,) = storage.requests_for("big.glb")
    assert request.range is None
    assert (tmp_path / "big.glb").read_bytes() == BIG


@pytest.mark.skipif(boot_id() is None, reason="the boot id is known on Linux only")
def test_a_partial_file_of_another_boot_is_dropped(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    """Neither the partial file nor its sidecar is fsynced while a download runs: after a reboot
    their bytes may not be those written, so the file starts again from zero."""
    storage.put("tileset.json", tileset("big.glb"))
    storage.put("big.glb", BIG)
    with pytest.raises(Crash):
        run(tmp_path, on_progress=crash_after(300_000))
    (part,) = parts(tmp_path)
    sidecar = part.with_suffix(".json")
    record = json.loads(sidecar.read_text())
    assert record["boot"] == boot_id()
    record["boot"] = "another-boot"
    sidecar.write_text(json.dumps(record))
    storage.served.clear()

    run(tmp_path)

    assert [(r.range, r.status) for r in storage.requests_for("big.glb")] == [(None, 200)]
    assert (tmp_path / "big.glb").read_bytes() == BIG


def test_a_complete_part_left_by_a_crash_before_rename_is_finished_with_416(
    run: Runner, storage: FakeStorage, tmp_path: Path
) -> None:
    storage.put("tileset.json", tileset("big.glb"))
    storage.put("big.glb", BIG)
    with pytest.raises(Crash):
        # the last chunk arrived (after the tileset's bytes), then the crash
        run(tmp_path, on_progress=crash_after(len(BIG) + len(storage.files["tileset.json"])))
    (part,) = parts(tmp_path)
    assert part.stat().st_size == len(BIG)
    storage.served.clear()
    result = run(tmp_path)
    assert [(r.status, r.range) for r in storage.requests_for("big.glb")] == [(416, f"bytes={len(BIG)}-")]
    assert (tmp_path / "big.glb").read_bytes() == BIG
    # big.glb was not complete on disk: it counts as downloaded (by the two runs), the tileset as skipped
    assert (result.files_downloaded, result.files_skipped) == (1, 1)


def test_a_storage_that_ignores_range_replaces_the_partial(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset("big.glb"))
    storage.put("big.glb", BIG)
    with pytest.raises(Crash):
        run(tmp_path, on_progress=crash_after(100_000))
    storage.faults["big.glb"] = [(206, {"content-range": "bytes 0-9/1048576", "content-length": "0"})]
    result = run(tmp_path)
    # a 206 that does not start where our bytes end is dropped, and the file is fetched whole
    assert [r.status for r in storage.requests_for("big.glb")][-1] == 200
    assert (tmp_path / "big.glb").read_bytes() == BIG
    assert result.files_downloaded == 1


def test_a_body_shorter_than_announced_is_retried(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset("a.glb"))
    storage.put("a.glb", b"x" * 10)
    storage.faults["a.glb"] = [(200, {"content-length": "5"})]  # and an empty body
    run(tmp_path)
    assert [r.status for r in storage.requests_for("a.glb")] == [200, 200]
    assert (tmp_path / "a.glb").read_bytes() == b"x" * 10
    assert len(run.sleeps) == 1


def test_a_body_longer_than_announced_is_an_error(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset("a.glb"))
    storage.faults["a.glb"] = [(200, {"content-length": "3"}, b"0123456789")]
    with pytest.raises(StorageError, match="more than the 3 bytes"):
        run(tmp_path)
    assert not (tmp_path / "a.glb").exists()


def test_interrupted_downloads_keep_no_state_once_finished(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    standard_export(storage)
    with pytest.raises(Crash):
        run(tmp_path, on_progress=crash_after(10))
    assert (tmp_path / ".itwin-mesh-export").is_dir()
    run(tmp_path)
    assert not (tmp_path / ".itwin-mesh-export").exists()
    assert (tmp_path / MANIFEST_NAME).is_file()


def test_give_up_keeps_the_partial_for_the_next_run(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset("big.glb"))
    storage.put("big.glb", BIG)
    storage.cuts["big.glb"] = [500_000]
    storage.faults["big.glb"] = []
    with pytest.raises(StorageError, match="giving up"):
        run(tmp_path, max_retries=0)
    (part,) = parts(tmp_path)
    assert part.stat().st_size == 500_000
    storage.served.clear()
    run(tmp_path)
    assert [(r.status, r.start) for r in storage.requests_for("big.glb")] == [(206, 500_000)]
    assert (tmp_path / "big.glb").read_bytes() == BIG


@pytest.mark.anyio
async def test_cancelling_an_async_download_keeps_its_bytes_for_the_next_run(
    storage: FakeStorage, tmp_path: Path
) -> None:
    import anyio

    from itwin_mesh_export import download_tileset_async

    storage.put("tileset.json", tileset("big.glb"))
    storage.put("big.glb", BIG)
    with anyio.CancelScope() as scope:

        def cancel_midway(progress: DownloadProgress) -> None:
            if progress.path == "big.glb" and progress.bytes_downloaded > 300_000:
                scope.cancel()  # as a caller's timeout or shutdown would

        await download_tileset_async(
            "https://storage.example/exports/c0ffee?sig=" + "S1gnatureValueOne%2Bsecret",
            tmp_path,
            transport=storage.transport(),
            on_progress=cancel_midway,
        )
    assert scope.cancelled_caught
    (part,) = parts(tmp_path)
    kept = part.stat().st_size
    assert 300_000 < kept < len(BIG)
    storage.served.clear()

    await download_tileset_async(
        "https://storage.example/exports/c0ffee?sig=S1gnatureValueOne%2Bsecret", tmp_path, transport=storage.transport()
    )

    assert [(r.status, r.start) for r in storage.requests_for("big.glb")] == [(206, kept)]
    assert (tmp_path / "big.glb").read_bytes() == BIG
