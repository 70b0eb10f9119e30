"""Fixtures for the downloader's tests: a fake storage holding a small export, and a runner that
drives the sync or the async form with the same arguments (so every scenario runs on both)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from itwin_mesh_export import DownloadResult, download_tileset, download_tileset_async
from tests.download.fake_storage import SIG1, SIG2, FakeStorage, href, tileset

BIG = bytes(range(256)) * 4096  # 1 MiB, every byte position distinguishable


def standard_export(storage: FakeStorage) -> dict[str, bytes]:
    """A root tileset with tiles, a nested external tileset referencing up and down, a 1 MiB tile."""
    files = {
        "tileset.json": tileset("tiles/0.glb", "tiles/1.glb", "nested/tileset.json", "big.glb"),
        "tiles/0.glb": b"glTF-0" * 100,
        "tiles/1.glb": b"glTF-1" * 200,
        "nested/tileset.json": tileset("../tiles/2.glb", "deeper/leaf.json", "n 0.glb"),
        "nested/deeper/leaf.json": tileset("../../tiles/3.glb"),
        "nested/n 0.glb": b"space in name",
        "tiles/2.glb": b"glTF-2" * 300,
        "tiles/3.glb": b"glTF-3" * 10,
        "big.glb": BIG,
    }
    for path, data in files.items():
        storage.put(path, data)
    return files


class Runner:
    """Runs a download in one mode ("sync" or "async"); records the sleeps and refreshes."""

    def __init__(self, mode: str, storage: FakeStorage) -> None:
        self.mode = mode
        self.storage = storage
        self.sleeps: list[float] = []
        self.refreshes = 0

    def refresher(self, new_sig: str = SIG2) -> Callable[[], str]:
        def refresh() -> str:
            self.refreshes += 1
            return href(new_sig)

        return refresh

    def __call__(
        self, dest: Path, *, link: str | None = None, refresh: Callable[[], str] | None = None, **kwargs: Any
    ) -> DownloadResult:
        kwargs.setdefault("transport", self.storage.transport())
        kwargs.setdefault("fsync", False)
        if self.mode == "sync":
            return download_tileset(link or href(), dest, refresh_href=refresh, sleep=self.sleeps.append, **kwargs)

        async def asleep(delay: float) -> None:
            self.sleeps.append(delay)

        async def arefresh() -> str:
            assert refresh is not None
            return refresh()

        async def main() -> DownloadResult:
            return await download_tileset_async(
                link or href(), dest, refresh_href=arefresh if refresh else None, sleep=asleep, **kwargs
            )

        return anyio.run(main)


@pytest.fixture
def storage() -> FakeStorage:
    return FakeStorage()


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest, storage: FakeStorage) -> Runner:
    return Runner(request.param, storage)


@pytest.fixture
def secret_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every log record at DEBUG; on teardown, no record may hold a signature value."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    records = caplog.get_records("call")  # caplog.records would be the (empty) teardown phase's
    assert records, "no log record was captured: the check would prove nothing"
    assert_no_secret(*(record.getMessage() for record in records))


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (SIG1, SIG2, "S1gnatureValue"):
            assert secret not in text, text


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path -> bytes)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def largest_part(dest: Path) -> int:
    """Bytes of the largest partial file in a download's state (0 if none): small files' partials
    come and go while a download runs, so one may vanish between listing and stat."""
    sizes = [0]
    for part in (dest / ".itwin-mesh-export" / "parts").rglob("*.part"):
        with contextlib.suppress(FileNotFoundError):
            sizes.append(part.stat().st_size)
    return max(sizes)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
