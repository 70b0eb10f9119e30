"""The on-disk state between runs: the journal (torn lines, another boot, another source), the
manifest as a record of finished files, and the Retry-After parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from itwin_mesh_export import MANIFEST_NAME, DownloadProgress
from itwin_mesh_export._download_retry import RetryPolicy, parse_retry_after_s
from itwin_mesh_export._manifest import boot_id
from tests.download.conftest import BIG, Runner, standard_export, tree
from tests.download.fake_storage import FakeStorage, tileset

JOURNAL = Path(".itwin-mesh-export") / "completed.jsonl"


class Crash(Exception):
    pass


def crash_on(path: str):  # type: ignore[no-untyped-def]
    def on_progress(progress: DownloadProgress) -> None:
        if progress.path == path and progress.bytes_downloaded > 0 and progress.files_done >= 3:
            raise Crash

    return on_progress


def interrupted(run: Runner, storage: FakeStorage, dest: Path) -> list[dict[str, object]]:
    """Start a download of the standard export and crash it in big.glb; return the journal lines."""
    standard_export(storage)
    with pytest.raises(Crash):
        run(dest, on_progress=crash_on("big.glb"), concurrency=1)
    return [json.loads(line) for line in (dest / JOURNAL).read_text().splitlines() if line.strip()]


def test_the_journal_records_finished_files_after_a_header(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    header, *entries = interrupted(run, storage, tmp_path)
    assert header == {"source": "https://storage.example/exports/c0ffee", "boot": boot_id()}
    assert {e["path"] for e in entries} == {"tileset.json", "tiles/0.glb", "tiles/1.glb", "nested/tileset.json"}
    for entry in entries:
        assert entry["size"] == len(storage.files[str(entry["path"])])


def test_a_torn_journal_line_is_ignored(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    interrupted(run, storage, tmp_path)
    with (tmp_path / JOURNAL).open("a") as journal:
        journal.write('{"path": "tiles/2.glb", "si')  # a kill in the middle of a line
    storage.served.clear()
    run(tmp_path)
    assert "tiles/0.glb" not in {s.path for s in storage.served}  # earlier lines still count
    assert (tmp_path / "tiles" / "2.glb").read_bytes() == storage.files["tiles/2.glb"]


def test_after_a_reboot_journaled_files_are_checked_by_hash(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    interrupted(run, storage, tmp_path)
    journal = tmp_path / JOURNAL
    lines = journal.read_text().splitlines()
    header = json.loads(lines[0])
    header["boot"] = "another-boot"  # as if the machine had restarted since
    journal.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    (tmp_path / "tiles" / "1.glb").write_bytes(b"\0" * len(storage.files["tiles/1.glb"]))  # lost in a power cut
    storage.served.clear()

    run(tmp_path)

    fetched = {s.path for s in storage.served}
    assert "tiles/1.glb" in fetched  # same size, wrong bytes: fetched again
    assert "tiles/0.glb" not in fetched  # intact: kept
    assert (tmp_path / "tiles" / "1.glb").read_bytes() == storage.files["tiles/1.glb"]


def test_records_of_another_export_are_ignored(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    standard_export(storage)
    run(tmp_path)
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    manifest["source"] = "https://storage.example/exports/another"
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(manifest))
    storage.served.clear()
    result = run(tmp_path)
    assert result.files_skipped == 0 and len(storage.served) == len(storage.files)


def test_a_corrupt_manifest_only_costs_a_new_download(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    standard_export(storage)
    run(tmp_path)
    first = tree(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    run(tmp_path)
    assert tree(tmp_path) == first


def test_small_files_keep_no_sidecar_large_ones_do(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset("small.glb", "big.glb"))
    storage.put("small.glb", b"s" * 1000)
    storage.put("big.glb", BIG)
    sidecars: set[int] = set()

    def look(progress: DownloadProgress) -> None:
        parts = tmp_path / ".itwin-mesh-export" / "parts"
        if parts.is_dir():
            sidecars.update(len(json.loads(p.read_text())["path"]) for p in parts.rglob("*.json"))

    run(tmp_path, on_progress=look, concurrency=1)
    assert sidecars == {len("big.glb")}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("7", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("soon", None),
        ("", None),
        ("-3", None),  # not delay-seconds: no hint (the backoff applies), not "retry at once"
        ("nan", None),
        ("inf", None),
    ],
)
def test_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after_s(header) == expected


def test_retry_after_http_date_counts_from_now() -> None:
    assert parse_retry_after_s("Wed, 21 Oct 2015 07:28:30 GMT", now=lambda: 1445412480.0) == 30.0


def test_backoff_doubles_up_to_its_cap_with_bounded_jitter() -> None:
    low, high = RetryPolicy(random=lambda: 0.0), RetryPolicy(random=lambda: 1.0)
    assert [high.backoff_s(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert [low.backoff_s(n) for n in range(1, 4)] == [0.25, 0.5, 1.0]
