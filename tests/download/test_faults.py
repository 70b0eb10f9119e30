"""Retries (5xx, 429 with Retry-After, connection errors) and the expired signature: one refresh
shared by every file in flight, no file restarted from zero, typed errors when it cannot help."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from itwin_mesh_export import DownloadError, LinkExpiredError, StorageError
from tests.download.conftest import BIG, Runner, assert_no_secret, standard_export, tree
from tests.download.fake_storage import SIG1, SIG2, FakeStorage, href, tileset


def test_5xx_answers_are_retried_with_backoff(
    run: Runner, storage: FakeStorage, tmp_path: Path, secret_logs: pytest.LogCaptureFixture
) -> None:
    storage.put("tileset.json", tileset("a.glb"))
    storage.put("a.glb", b"a")
    storage.faults["a.glb"] = [503, 500, 502]
    run(tmp_path)
    assert [r.status for r in storage.requests_for("a.glb")] == [503, 500, 502, 200]
    assert len(run.sleeps) == 3
    assert all(0 < s <= 8 for s in run.sleeps)
    assert run.sleeps[2] > run.sleeps[0] * 0.99  # it backs off (jitter stays within [50%, 100%])
    assert any("503" in r.getMessage() for r in secret_logs.records if r.levelname == "WARNING")


def test_429_waits_as_long_as_retry_after_says(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset("a.glb"))
    storage.put("a.glb", b"a")
    storage.faults["a.glb"] = [(429, {"retry-after": "7"}), (503, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})]
    run(tmp_path)
    assert run.sleeps == [7.0, 0.0]  # an HTTP date in the past: no wait


def test_retry_after_ms_is_read_as_the_api_client_reads_it(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset("a.glb"))
    storage.put("a.glb", b"a")
    storage.faults["a.glb"] = [(503, {"retry-after-ms": "1500", "retry-after": "9"})]
    run(tmp_path)
    assert run.sleeps == [1.5]


@pytest.mark.parametrize("status", [501, 505, 520])
def test_the_storage_is_retried_on_any_status_above_500(
    run: Runner, storage: FakeStorage, tmp_path: Path, status: int
) -> None:
    """Unlike the API client's (408, 429, 500, 502-504): RELIABILITY.md, the 520 row."""
    storage.put("tileset.json", tileset("a.glb"))
    storage.put("a.glb", b"a")
    storage.faults["a.glb"] = [status]
    run(tmp_path)
    assert [r.status for r in storage.requests_for("a.glb")] == [status, 200]


def test_a_negative_retry_after_backs_off_instead_of_retrying_at_once(
    run: Runner, storage: FakeStorage, tmp_path: Path
) -> None:
    # As the API client reads it (tests/overlay/test_retry.py): not a hint, so the backoff applies.
    storage.put("tileset.json", tileset("a.glb"))
    storage.put("a.glb", b"a")
    storage.faults["a.glb"] = [(429, {"retry-after": "-3"}), (503, {"retry-after": "-1"})]
    run(tmp_path)
    assert [r.status for r in storage.requests_for("a.glb")] == [429, 503, 200]
    assert len(run.sleeps) == 2
    assert all(0.25 <= s <= 1.0 for s in run.sleeps), run.sleeps  # 0.5 s then 1 s, jitter in [50%, 100%]


def test_a_retry_after_beyond_the_cap_fails_instead_of_sleeping(
    run: Runner, storage: FakeStorage, tmp_path: Path
) -> None:
    storage.put("tileset.json", tileset("a.glb"))
    storage.faults["a.glb"] = [(429, {"retry-after": "3600"})]
    with pytest.raises(StorageError, match="asked to wait 3600 s") as info:
        run(tmp_path, max_retry_after_s=60)
    assert info.value.status_code == 429
    assert run.sleeps == []


def test_retries_give_up_after_max_retries(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset("a.glb"))
    storage.faults["a.glb"] = [500] * 10
    with pytest.raises(StorageError, match="after 3 attempts") as info:
        run(tmp_path, max_retries=2)
    assert info.value.status_code == 500
    assert len(storage.requests_for("a.glb")) == 3
    assert len(run.sleeps) == 2


def test_connection_errors_are_retried(storage: FakeStorage, tmp_path: Path) -> None:
    standard_export(storage)
    failures = {"tiles/1.glb": 2}

    def flaky(request: httpx.Request) -> httpx.Response:
        path = request.url.path.rsplit("/c0ffee/", 1)[1]
        if failures.get(path):
            failures[path] -= 1
            raise httpx.ConnectError(f"connection refused for {request.url}")  # the URL holds the signature
        return storage.handle(request)

    sleeps: list[float] = []
    from itwin_mesh_export import download_tileset

    download_tileset(href(), tmp_path, transport=httpx.MockTransport(flaky), sleep=sleeps.append, fsync=False)
    assert len(sleeps) == 2
    assert (tmp_path / "tiles" / "1.glb").read_bytes() == storage.files["tiles/1.glb"]


def test_a_transport_error_message_is_scrubbed_of_the_signature(storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset("a.glb"))

    def broken(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("a.glb"):
            raise httpx.ReadTimeout(f"timed out reading {request.url}")
        return storage.handle(request)

    from itwin_mesh_export import download_tileset

    with pytest.raises(StorageError) as info:
        download_tileset(
            href(), tmp_path, transport=httpx.MockTransport(broken), sleep=lambda _: None, max_retries=1, fsync=False
        )
    assert "ReadTimeout" in str(info.value)
    assert "REDACTED" in str(info.value)
    assert_no_secret(str(info.value), repr(info.value))


def test_an_expired_signature_is_refreshed_once_for_all_files_and_nothing_restarts(
    run: Runner, storage: FakeStorage, tmp_path: Path, secret_logs: pytest.LogCaptureFixture
) -> None:
    files = standard_export(storage)
    more = [f"more/{i}.glb" for i in range(20)]
    for i, path in enumerate(more):
        files[path] = storage.files["tiles/0.glb"] + bytes([i])
        storage.put(path, files[path])
    storage.put("tileset.json", tileset("tiles/0.glb", "tiles/1.glb", "nested/tileset.json", "big.glb", *more))
    files["tileset.json"] = storage.files["tileset.json"]
    storage.cuts["big.glb"] = [300_000]
    storage.on_cut = lambda: storage.valid_sigs.discard(SIG1)  # the link expires while big.glb streams
    storage.valid_sigs.add(SIG2)

    result = run(tmp_path, refresh=run.refresher(SIG2), concurrency=8)

    assert run.refreshes == 1 and result.link_refreshes == 1
    refused = [r for r in storage.served if r.status == 403]
    assert refused and all(r.sig == SIG1.replace("%2B", "+") for r in refused)
    # no file was sent twice from byte 0: every file after the expiry went on from where it was
    for path in files:
        assert [r.start for r in storage.requests_for(path) if r.status in (200, 206)].count(0) <= 1, path
    assert [(r.status, r.start) for r in storage.requests_for("big.glb") if r.status != 403] == [
        (200, 0),
        (206, 300_000),
    ]
    on_disk = tree(tmp_path)
    on_disk.pop("itwin-mesh-export.manifest.json")
    assert on_disk == files


def test_an_expired_signature_without_refresh_is_a_link_expired_error(
    run: Runner, storage: FakeStorage, tmp_path: Path, secret_logs: pytest.LogCaptureFixture
) -> None:
    standard_export(storage)
    storage.valid_sigs.clear()
    with pytest.raises(LinkExpiredError) as info:
        run(tmp_path)
    assert info.value.status_code == 403
    assert "refresh_href" in str(info.value) and "expired" in str(info.value)
    assert_no_secret(str(info.value), repr(info.value), info.value.url)


def test_a_fresh_link_that_is_refused_too_ends_after_one_refresh(
    run: Runner, storage: FakeStorage, tmp_path: Path
) -> None:
    standard_export(storage)
    storage.valid_sigs.clear()  # neither SIG1 nor SIG2 works: access revoked, not expired
    with pytest.raises(LinkExpiredError, match="fresh"):
        run(tmp_path, refresh=run.refresher(SIG2))
    assert run.refreshes == 1


def test_a_file_refused_even_with_a_working_fresh_link_fails(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    standard_export(storage)
    storage.valid_sigs.add(SIG2)
    storage.faults["big.glb"] = [403] * 10  # this one blob is forbidden whatever the link
    with pytest.raises(LinkExpiredError, match="even with a freshly fetched link"):
        run(tmp_path, refresh=run.refresher(SIG2), concurrency=1)
    assert run.refreshes == 1


def test_refresh_returning_garbage_is_a_download_error(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    standard_export(storage)
    storage.valid_sigs.clear()
    with pytest.raises(DownloadError, match="refresh_href did not return a usable storage link"):
        run(tmp_path, refresh=lambda: "not a link")


def test_an_error_in_refresh_href_propagates_unchanged(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    standard_export(storage)
    storage.valid_sigs.clear()

    class ApiDown(Exception):
        pass

    def refresh() -> str:
        raise ApiDown("the API is down")

    with pytest.raises(ApiDown):
        run(tmp_path, refresh=refresh)


def test_big_files_stream_in_chunks(storage: FakeStorage, tmp_path: Path) -> None:
    """The body reaches the disk chunk by chunk: the progress callback sees the file grow."""
    storage.put("tileset.json", tileset("big.glb"))
    storage.put("big.glb", BIG)
    sizes: list[int] = []

    def watch(progress: object) -> None:
        part = list((tmp_path / ".itwin-mesh-export" / "parts").rglob("*.part"))
        if part:
            sizes.append(part[0].stat().st_size)

    from itwin_mesh_export import download_tileset

    download_tileset(href(), tmp_path, transport=storage.transport(), on_progress=watch, fsync=False)
    growing = sorted(set(sizes))
    assert len(growing) >= 3 and growing[0] < len(BIG) // 2


def test_a_failure_does_not_wait_for_other_files_backoff(
    storage: FakeStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an injected sleep, a file waiting out a long Retry-After stops as soon as another
    file fails (the real wait is interruptible), and the error is the failing file's."""
    import threading
    import time

    from itwin_mesh_export import download_tileset

    slept: list[float] = []  # time.sleep cannot be interrupted when another file fails: it must not be used
    monkeypatch.setattr(time, "sleep", slept.append)

    storage.put("tileset.json", tileset("slow.glb", "gone.glb"))
    storage.faults["slow.glb"] = [(503, {"retry-after": "50"})] * 3
    waiting = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("gone.glb"):
            waiting.wait(10)  # fail only once slow.glb is in its 50 s wait
            return httpx.Response(404, headers={"x-ms-error-code": "BlobNotFound"})
        response = storage.handle(request)
        if request.url.path.endswith("slow.glb"):
            waiting.set()
        return response

    with pytest.raises(StorageError, match=r"gone\.glb"):
        download_tileset(href(), tmp_path, transport=httpx.MockTransport(handler), max_retry_after_s=60, fsync=False)
    assert [r.status for r in storage.requests_for("slow.glb")] == [503]  # it never woke to try again
    assert slept == []
