"""The on-disk state between runs: the journal (torn lines, another boot, another source, a full
disk), the manifest as a record of finished files, and how often a finished file is read again.
(Retry-After parsing and the backoff are the API client's: tests/overlay/test_retry.py.)"""

from __future__ import annotations

import errno
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from itwin_mesh_export import MANIFEST_NAME, DownloadError, DownloadProgress
from itwin_mesh_export.download import _manifest, _transfer
from itwin_mesh_export.download._disk import boot_id
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


def pretend_reboot(dest: Path) -> None:
    """Rewrite the journal's header as if the machine had restarted since it was written."""
    journal = dest / JOURNAL
    lines = journal.read_text().splitlines()
    header = json.loads(lines[0])
    header["boot"] = "another-boot"
    journal.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")


def test_a_journal_line_nested_beyond_the_parser_is_ignored(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    interrupted(run, storage, tmp_path)
    with (tmp_path / JOURNAL).open("a") as journal:
        journal.write("[" * 100_000 + "\n")  # json.loads raises RecursionError on it
    storage.served.clear()
    run(tmp_path)
    assert "tiles/0.glb" not in {s.path for s in storage.served}  # the other lines still count
    assert (tmp_path / "big.glb").read_bytes() == BIG


def test_a_full_disk_while_journaling_is_a_download_error_and_loses_nothing(
    run: Runner, storage: FakeStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = standard_export(storage)
    real_write_all = _manifest.write_all

    def full_disk(fd: int, data: bytes) -> None:
        if data.startswith(b'{"path"'):  # a journal line (the header and the tiles' bytes go through)
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write_all(fd, data)

    monkeypatch.setattr(_manifest, "write_all", full_disk)
    with pytest.raises(DownloadError, match=r"could not write the download journal.*No space left") as info:
        run(tmp_path, concurrency=1)
    assert type(info.value) is DownloadError
    monkeypatch.undo()
    run(tmp_path)
    on_disk = tree(tmp_path)
    on_disk.pop(MANIFEST_NAME)
    assert on_disk == files


def test_a_file_unreadable_after_a_reboot_is_fetched_again(
    run: Runner, storage: FakeStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    interrupted(run, storage, tmp_path)
    pretend_reboot(tmp_path)
    hashed: list[str] = []

    def unreadable(path: Path) -> str:
        hashed.append(path.name)
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(_transfer, "sha256_file", unreadable)  # the plain files' check after a reboot
    storage.served.clear()
    run(tmp_path)
    assert sorted(hashed) == ["0.glb", "1.glb"]
    fetched = {s.path for s in storage.served}
    assert {"tiles/0.glb", "tiles/1.glb"} <= fetched and "tileset.json" not in fetched
    assert (tmp_path / "tiles" / "1.glb").read_bytes() == storage.files["tiles/1.glb"]


@pytest.mark.parametrize("reboot", [False, True], ids=["same boot", "after a reboot"])
def test_a_skipped_tileset_is_read_from_disk_once(
    run: Runner, storage: FakeStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reboot: bool
) -> None:
    """A tileset an earlier run finished is read and hashed once (whether its hash must be checked
    after a reboot, or because it is parsed again and must be the bytes downloaded)."""
    interrupted(run, storage, tmp_path)
    if reboot:
        pretend_reboot(tmp_path)
    opened: list[str] = []
    real_open = Path.open

    def counting_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name.endswith(".json") and tmp_path in self.parents:
            opened.append(self.relative_to(tmp_path).as_posix())
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", counting_open)
    storage.served.clear()
    result = run(tmp_path)
    assert not {"tileset.json", "nested/tileset.json"} & {s.path for s in storage.served}
    assert Counter(p for p in opened if p in ("tileset.json", "nested/tileset.json")) == {
        "tileset.json": 1,
        "nested/tileset.json": 1,
    }
    assert result.files_skipped == 4


def test_a_tileset_lost_in_a_power_cut_is_fetched_again(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    interrupted(run, storage, tmp_path)
    pretend_reboot(tmp_path)
    nested = tmp_path / "nested" / "tileset.json"
    nested.write_bytes(b"\0" * nested.stat().st_size)  # same size, the bytes never reached the disk
    storage.served.clear()
    run(tmp_path)
    assert "nested/tileset.json" in {s.path for s in storage.served}
    assert nested.read_bytes() == storage.files["nested/tileset.json"]


def test_a_tileset_changed_on_disk_since_it_was_downloaded_is_refused_then_fetched_again(
    run: Runner, storage: FakeStorage, tmp_path: Path
) -> None:
    """Same boot: the size is checked, not the hash; but a tileset is parsed again, so its bytes
    must be the ones downloaded. A changed one is an error (not a silent other tileset), and is
    removed so that the next run fetches it again."""
    standard_export(storage)
    run(tmp_path)
    root = tmp_path / "tileset.json"
    root.write_bytes(root.read_bytes().replace(b'"ADD"', b'"add"'))  # same size
    with pytest.raises(DownloadError, match="changed on disk since it was downloaded"):
        run(tmp_path)
    assert not root.exists()
    storage.served.clear()
    run(tmp_path)
    assert [s.path for s in storage.served] == ["tileset.json"]
    assert root.read_bytes() == storage.files["tileset.json"]
