"""Every subcommand against the local service over real sockets: what it prints (text and the
stable `--json` documents), where (data on stdout, progress and status on stderr), and that it
did what it says (the export exists, the files are on disk and match the service's bytes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from itwin_mesh_export import __version__
from itwin_mesh_export.cli import EXIT_CODES
from itwin_mesh_export.testing import LocalMeshExportService
from tests.cli.conftest import CLI, COMPLETE, FILTERED, INVALID, MARKUP, QUEUED

EXPORT_KEYS = [
    "id",
    "display_name",
    "status",
    "imodel_id",
    "changeset_id",
    "export_type",
    "last_modified",
    "error",
    "mesh_url",
]
DOWNLOAD_KEYS = [
    "export_id",
    "dest",
    "manifest",
    "files",
    "bytes",
    "files_downloaded",
    "files_skipped",
    "bytes_downloaded",
    "link_refreshes",
    "elapsed_s",
]
MANIFEST = "itwin-mesh-export.manifest.json"


def on_disk(root: Path) -> dict[str, bytes]:
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    files.pop(MANIFEST)
    return files


def served(svc: LocalMeshExportService, export_id: str) -> dict[str, bytes]:
    return {f.path: svc.file_bytes(export_id, f.path) for f in svc.export_files(export_id)}


def test_version_prints_the_package_version(cli: CLI) -> None:
    result = cli("--version")
    assert (result.code, result.out, result.err) == (0, f"itwin-mesh-export {__version__}\n", "")


def test_help_lists_the_subcommands_and_every_exit_code(cli: CLI) -> None:
    result = cli("--help")
    assert result.code == 0
    for command in ("get", "list", "start", "wait", "download", "verify", "delete", "serve"):
        assert f"\n  {command} " in result.out, command
    for code, meaning in EXIT_CODES.items():
        assert f"{code:>3}  {meaning}" in result.out, code


def test_get_json_is_the_documented_document(cli: CLI, svc: LocalMeshExportService) -> None:
    seed = COMPLETE[0]
    result = cli("get", seed.export_id, "--json")
    assert result.code == 0 and result.err == ""
    document = result.json()
    assert list(document) == EXPORT_KEYS
    assert document["id"] == seed.export_id and document["status"] == "Complete"
    assert document["imodel_id"] == "cli-imodel" and document["error"] is None
    assert document["last_modified"].endswith("Z")
    assert document["mesh_url"] == svc.mesh_url(seed.export_id).split("?")[0]  # the folder, never the signature


def test_get_text_shows_the_fields(cli: CLI) -> None:
    result = cli("get", INVALID.export_id)
    assert result.code == 0
    lines = dict(line.split(None, 1) for line in result.out.splitlines())
    assert lines["id"] == INVALID.export_id and lines["status"] == "Invalid" and lines["error"] == "Out of memory"
    assert "mesh_url" not in lines  # no link for an Invalid export


def test_list_json_reads_every_page(cli: CLI, svc: LocalMeshExportService) -> None:
    result = cli("list", "--json")
    assert result.code == 0
    exports = result.json()
    assert isinstance(exports, list) and all(list(e) == EXPORT_KEYS for e in exports)
    expected = {s.export_id for s in [*COMPLETE, INVALID, QUEUED]}
    assert expected <= {e["id"] for e in exports}
    pages = [r for r in svc.requests if r.origin == "api" and r.method == "GET" and r.path.endswith("/mesh-export/")]
    assert len(pages) >= 3  # two exports a page in this service


def test_list_filters_and_limit(cli: CLI) -> None:
    result = cli("list", "--imodel-id", "cli-imodel", "--order-by", "date:asc", "--json")
    assert [e["id"] for e in result.json()] == [s.export_id for s in reversed(COMPLETE)]  # oldest first
    limited = cli("list", "--imodel-id", "cli-imodel", "--limit", "2", "--json")
    assert len(limited.json()) == 2


def test_list_table(cli: CLI) -> None:
    result = cli("list", "--imodel-id", "cli-imodel")
    assert result.code == 0
    header, *rows = [line for line in result.out.splitlines() if line.strip() and not line.startswith("─")]
    assert header.split()[:3] == ["ID", "STATUS", "IMODEL"]
    assert rows[-1] == "3 exports"
    assert {row.split()[0] for row in rows[:-1]} == {s.export_id for s in COMPLETE}


def test_start_wait_download_verify_delete(cli: CLI, svc: LocalMeshExportService, tmp_path: Path) -> None:
    started = cli("start", "new-imodel", "--tiler-config", "maxTextureSize=1024", "--json")
    assert started.code == 0
    export = started.json()
    assert list(export) == EXPORT_KEYS and export["status"] == "NotStarted" and export["imodel_id"] == "new-imodel"

    waited = cli("wait", export["id"], "--poll-interval", "0.1", "--json")
    assert waited.code == 0 and waited.json()["status"] == "Complete"
    # stderr is not a terminal here: one status line per change, no progress bar
    statuses = waited.err.splitlines()
    assert statuses[-1] == f"export {export['id']}: Complete"
    assert all(line.startswith(f"export {export['id']}: ") for line in statuses)

    dest = tmp_path / "tiles"
    downloaded = cli("download", export["id"], str(dest), "--json")
    assert downloaded.code == 0 and downloaded.err == ""  # no bar when stderr is not a terminal
    summary = downloaded.json()
    assert list(summary) == DOWNLOAD_KEYS
    files = on_disk(dest)
    assert files == served(svc, export["id"])
    assert summary["files"] == summary["files_downloaded"] == len(files) and summary["files_skipped"] == 0
    assert summary["bytes"] == summary["bytes_downloaded"] == sum(map(len, files.values()))
    assert summary["dest"] == str(dest) and summary["manifest"] == str(dest / MANIFEST)
    assert svc.storage_authorization_headers == []

    verified = cli("verify", str(dest), "--json")
    assert verified.code == 0
    assert verified.json() == {"dest": str(dest.resolve()), "files": len(files), "bytes": summary["bytes"]}

    deleted = cli("delete", export["id"], "--json")
    assert (deleted.code, deleted.json()) == (0, {"id": export["id"], "deleted": True})
    assert svc.export_status(export["id"]) is None


def test_download_again_resumes_and_skips_finished_files(cli: CLI, svc: LocalMeshExportService, tmp_path: Path) -> None:
    export_id = COMPLETE[1].export_id
    first = cli("download", export_id, str(tmp_path), "--json").json()
    (tmp_path / "tiles" / "0" / "0.glb").unlink()  # as if the first run had been cut short
    again = cli("download", export_id, str(tmp_path), "--json").json()
    assert again["files_downloaded"] == 1 and again["files_skipped"] == first["files"] - 1
    assert on_disk(tmp_path) == served(svc, export_id)


def test_download_text_and_forced_progress_bar(cli: CLI, svc: LocalMeshExportService, tmp_path: Path) -> None:
    export_id = COMPLETE[2].export_id
    result = cli("download", export_id, str(tmp_path), "--progress", "--concurrency", "2")
    assert result.code == 0
    count = len(svc.export_files(export_id))
    assert result.out.startswith(f"downloaded export {export_id}: {count} files, ")
    assert f"{count}/{count} files" in result.err  # the bar's last state, on stderr only
    assert "\x1b[" in result.err and "\x1b[" not in result.out


def test_wait_progress_spinner_when_forced_and_quiet_silences_it(cli: CLI) -> None:
    export_id = cli("start", "spinner-imodel", "--json").json()["id"]
    forced = cli("wait", export_id, "--poll-interval", "0.1", "--progress", "--json")
    assert forced.code == 0 and json.loads(forced.out)["status"] == "Complete"
    assert f"export {export_id}: Complete" in forced.err and "\x1b[" in forced.err
    quiet = cli("--quiet", "wait", export_id, "--json")
    assert quiet.code == 0 and quiet.err == ""


def test_server_text_prints_as_it_is_never_as_rich_markup(cli: CLI) -> None:
    texts = [MARKUP.export_id, MARKUP.status, MARKUP.export_type]  # `[/]` and `[bold]` in each but the id

    table = cli("list", "--imodel-id", MARKUP.imodel_id)
    assert table.code == 0, table.err
    [row] = [line for line in table.out.splitlines() if line.startswith(MARKUP.export_id)]
    assert row.split()[:2] == texts[:2] and texts[2] in row.split()

    text = cli("get", MARKUP.export_id)
    assert text.code == 0, text.err
    lines = dict(line.split(None, 1) for line in text.out.splitlines())
    assert [lines["id"], lines["status"], lines["export_type"]] == texts

    # the spinner's text on stderr (a status no wait ends on: it times out, exit 7)
    waited = cli("wait", MARKUP.export_id, "--progress", "--timeout", "0.3", "--poll-interval", "0.1")
    assert waited.code == 7 and "MarkupError" not in waited.err, waited.err
    assert f"export {MARKUP.export_id}: {MARKUP.status}" in waited.err


def test_start_sends_tiler_config_values_as_booleans_numbers_and_text(cli: CLI, svc: LocalMeshExportService) -> None:
    options = ["size=1024", "ratio=0.5", "draco=TRUE", "flat=false", "name=abc", "huge=1e999", "version=1.2.3"]
    args = [arg for option in options for arg in ("--tiler-config", option)]
    started = cli("start", "tiler-imodel", *args, "--json")
    assert started.code == 0, started.err
    view = svc.exports.view(started.json()["id"])
    assert view is not None and view.record.tiler_config is not None
    sent = [(item["key"], type(item["value"]), item["value"]) for item in view.record.tiler_config]
    assert sent == [
        ("size", int, 1024),
        ("ratio", float, 0.5),
        ("draco", bool, True),
        ("flat", bool, False),
        ("name", str, "abc"),
        ("huge", str, "1e999"),  # not a finite number: sent as written
        ("version", str, "1.2.3"),
    ]


def test_start_sends_the_changeset_and_the_export_type(cli: CLI, svc: LocalMeshExportService) -> None:
    started = cli("start", "typed-imodel", "--changeset-id", "cs-42", "--export-type", "CESIUM", "--json")
    assert started.code == 0, started.err
    export = started.json()
    assert (export["changeset_id"], export["export_type"]) == ("cs-42", "CESIUM")
    view = svc.exports.view(export["id"])
    assert view is not None and (view.record.changeset_id, view.record.export_type) == ("cs-42", "CESIUM")


def test_list_filters_by_export_type_and_changeset_at_the_service(cli: CLI) -> None:
    def listed(*options: str) -> set[str]:
        result = cli("list", "--imodel-id", "filter-imodel", *options, "--json")
        assert result.code == 0, result.err
        return {export["id"] for export in result.json()}

    cesium_a, tiles_a, cesium_b = (seed.export_id for seed in FILTERED)
    assert listed() == {cesium_a, tiles_a, cesium_b}
    assert listed("--export-type", "CESIUM") == {cesium_a, cesium_b}
    assert listed("--changeset-id", "cs-a") == {cesium_a, tiles_a}
    assert listed("--changeset-id", "cs-b", "--export-type", "CESIUM") == {cesium_b}


def test_download_cdn_fetches_every_file_from_the_cdn(cli: CLI, svc: LocalMeshExportService, tmp_path: Path) -> None:
    export_id = COMPLETE[0].export_id
    result = cli("download", export_id, str(tmp_path), "--cdn", "--json")
    assert result.code == 0, result.err
    origins = [r.origin for r in svc.requests if r.origin != "api"]
    assert len(origins) >= len(svc.export_files(export_id)) and set(origins) == {"cdn"}
    assert on_disk(tmp_path) == served(svc, export_id)


def test_download_fsync_makes_every_file_durable(
    cli: CLI, svc: LocalMeshExportService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export_id = COMPLETE[0].export_id
    calls: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    assert cli("download", export_id, str(tmp_path / "plain"), "--json").code == 0
    plain = len(calls)
    calls.clear()
    assert cli("download", export_id, str(tmp_path / "durable"), "--fsync", "--json").code == 0
    assert len(calls) >= plain + len(svc.export_files(export_id))


def test_no_progress_draws_no_bar_even_on_a_terminal(cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: stderr is a terminal, so bars are the default
    export_id = COMPLETE[1].export_id
    default = cli("download", export_id, str(tmp_path / "a"), "--json")
    assert default.code == 0 and "\x1b[" in default.err
    off = cli("download", export_id, str(tmp_path / "b"), "--no-progress", "--json")
    assert (off.code, off.err) == (0, "")


def test_start_reuse_returns_the_existing_export(cli: CLI) -> None:
    result = cli("start", "cli-imodel", "--reuse", "--json")
    assert result.code == 0 and result.json()["id"] in {s.export_id for s in COMPLETE}


def test_client_credentials_from_options(
    cli: CLI, svc: LocalMeshExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ITWIN_ACCESS_TOKEN")
    before = svc.tokens_issued
    monkeypatch.setenv("ITWIN_CLIENT_SECRET", svc.client_secret)
    result = cli("--client-id", svc.client_id, "--token-url", svc.token_url, "get", COMPLETE[0].export_id, "--json")
    assert result.code == 0 and result.json()["id"] == COMPLETE[0].export_id
    assert svc.tokens_issued == before + 1


def test_client_credentials_from_the_environment(
    cli: CLI, svc: LocalMeshExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ITWIN_ACCESS_TOKEN")
    monkeypatch.setenv("ITWIN_CLIENT_ID", svc.client_id)
    monkeypatch.setenv("ITWIN_CLIENT_SECRET", svc.client_secret)
    monkeypatch.setenv("ITWIN_TOKEN_URL", svc.token_url)
    result = cli("list", "--limit", "1", "--json")
    assert result.code == 0 and len(result.json()) == 1


def test_base_url_option_wins_over_the_environment(
    cli: CLI, svc: LocalMeshExportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ITWIN_MESH_EXPORT_BASE_URL", "http://127.0.0.1:9/mesh-export")  # nothing listens there
    result = cli("--base-url", svc.api_url, "get", COMPLETE[0].export_id, "--json")
    assert result.code == 0


def test_importing_the_package_does_not_import_the_cli() -> None:
    code = (
        "import sys, itwin_mesh_export; print(sorted(m for m in sys.modules if m.startswith('itwin_mesh_export.cli')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr
