"""Hostile input over real sockets: export ids that would break a URL, and tilesets that try to
escape, to reach other hosts, to grow without end or to loop.

Export ids go into the path percent-encoded, as one segment, and the service's request log shows
what arrived (`raw_path`, still encoded): ids with `?`, `#`, spaces, `%`, unicode or dots reach the
export of that id; ids with `/` arrive as one segment too (the service, like most, decodes `%2F`
before routing, so it finds no such export: a NotFoundError). `.` and `..` are refused before any
request: percent-encoding leaves them dot segments, which URL resolution removes.

Hostile tilesets are refused or bounded before anything is fetched from them (the download tests
cover each URI form on a fake transport, `tests/download/test_hostile.py`; here each class of
attack runs once over real sockets, with a second server standing for the foreign host).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest

from itwin_mesh_export import (
    APIStatusError,
    AsyncMeshExportClient,
    InvalidArgumentError,
    MeshExportClient,
    NotFoundError,
    TilesetLimits,
    UnsafeTilesetError,
    download_tileset,
    download_tileset_async,
)
from itwin_mesh_export.testing import LocalMeshExportService, SeedExport
from tests.download.fake_storage import tileset
from tests.download.http_storage import StorageServer, write_files
from tests.reliability.budget import record_result

SIG = "HostileSignatureValue"
SEEDED_IDS = [
    "with space",
    "query?x=1&y=2",
    "hash#fragment",
    "percent%2Fencoded%41",
    "plus+sign",
    "unicode-é✓漢字",
    "..x",
    "x..",
    "...",
    "semi;colon,comma",
    "quote'\"`",
    "at@colon:",
    "tab\tand\nnewline",
]
SLASH_IDS = ["a/b", "../escape", "a/../../b", "/leading", "trailing/"]
DOT_IDS = [".", ".."]


@pytest.fixture(scope="module")
def svc() -> Iterator[LocalMeshExportService]:
    seeds = [SeedExport(imodel_id="hostile-ids", id=export_id) for export_id in SEEDED_IDS]
    with LocalMeshExportService(seed_exports=seeds) as service:
        yield service


def _segment(raw_path: str) -> str:
    prefix, _, segment = raw_path.rpartition("/")
    assert prefix == "/mesh-export", raw_path
    return segment


async def _calls(mode: str, svc: LocalMeshExportService, export_id: str, method: str) -> Any:
    if mode == "sync":
        with MeshExportClient(svc.token, base_url=svc.api_url, max_attempts=1) as client:
            return getattr(client, method)(export_id)
    async with AsyncMeshExportClient(svc.token, base_url=svc.api_url, max_attempts=1) as aclient:
        return await getattr(aclient, method)(export_id)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_hostile_export_ids_reach_the_server_as_one_encoded_segment(svc: LocalMeshExportService, mode: str) -> None:
    seen = {}
    for export_id in SEEDED_IDS:
        svc.clear_requests()
        export = asyncio.run(_calls(mode, svc, export_id, "get_export"))
        assert export.id == export_id
        (request,) = svc.requests
        segment = _segment(request.raw_path)
        assert unquote(segment) == export_id and segment == quote(export_id, safe="")
        seen[export_id] = request.raw_path
    for export_id in SLASH_IDS:
        svc.clear_requests()
        # 404, or for "trailing/" the router's 307 to the path without the slash, not followed
        with pytest.raises((NotFoundError, APIStatusError)) as caught:
            asyncio.run(_calls(mode, svc, export_id, "get_export"))
        assert caught.value.status_code in (404, 307)
        (request,) = svc.requests
        assert unquote(_segment(request.raw_path)) == export_id.strip()  # one segment, %2F inside
        seen[export_id] = request.raw_path
    for export_id in DOT_IDS:
        svc.clear_requests()
        for method in ("get_export", "delete_export"):
            with pytest.raises(InvalidArgumentError):
                asyncio.run(_calls(mode, svc, export_id, method))
        assert svc.requests == []
    record_result("hostile", f"ids--{mode}", {"mode": mode, "ids": seen, "refused": DOT_IDS})


def test_hostile_ids_can_be_deleted_and_only_that_export_goes(svc: LocalMeshExportService) -> None:
    victim = "query?x=1&y=2"
    before = {export_id for export_id in SEEDED_IDS if svc.export_status(export_id) is not None}
    asyncio.run(_calls("sync", svc, victim, "delete_export"))
    after = {export_id for export_id in SEEDED_IDS if svc.export_status(export_id) is not None}
    assert before - after == {victim}


# ---- hostile tilesets, over real sockets ----


def _nested_tiles(depth: int) -> bytes:
    tile: dict[str, Any] = {"geometricError": 0, "content": {"uri": "leaf.glb"}}
    for _ in range(depth):
        tile = {"geometricError": 1, "children": [tile]}
    return json.dumps({"asset": {"version": "1.1"}, "geometricError": 1, "root": tile}).encode()


def _external_chain(length: int) -> dict[str, bytes]:
    files = {"tileset.json": tileset("t1/tileset.json")}
    prefix = ""
    for level in range(1, length + 1):
        prefix += f"t{level}/"
        files[f"{prefix}tileset.json"] = tileset(f"t{level + 1}/tileset.json")
    return files


def _cases(foreign: str) -> dict[str, tuple[dict[str, bytes], TilesetLimits | None, int]]:
    """name -> (files in the export, limits, storage requests allowed before the refusal)."""
    many = {"tileset.json": tileset(*(f"tiles/{i}.glb" for i in range(5000)))}
    return {
        "path traversal": ({"tileset.json": tileset("ok.glb", "../../outside.glb"), "ok.glb": b"ok"}, None, 1),
        "encoded traversal": ({"tileset.json": tileset("%2e%2e/%2e%2e/outside.glb")}, None, 1),
        "absolute URL to a foreign host": ({"tileset.json": tileset(f"{foreign}/exports/e1/x.glb?sig={SIG}")}, None, 1),
        "protocol-relative foreign host": ({"tileset.json": tileset(foreign.replace("http:", "") + "/x.glb")}, None, 1),
        "foreign host in a nested tileset": (
            {"tileset.json": tileset("sub/tileset.json"), "sub/tileset.json": tileset(f"{foreign}/x.glb")},
            None,
            2,
        ),
        "5000 files over a limit of 1000": (many, TilesetLimits(max_files=1000), 1),
        "tiles nested 300 deep": ({"tileset.json": _nested_tiles(300)}, None, 1),
        "JSON nested 200000 deep": ({"tileset.json": b'{"root": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"}, None, 1),
        "external tilesets 40 deep": (_external_chain(40), None, 33),
        "a cycle of external tilesets": (
            {
                "tileset.json": tileset("a/tileset.json"),
                "a/tileset.json": tileset("../b/tileset.json"),
                "b/tileset.json": tileset("../a/tileset.json"),
            },
            None,
            3,
        ),
        "a tileset larger than max_json_bytes": (
            {"tileset.json": tileset(*(["x.glb"] * 400))},
            TilesetLimits(max_json_bytes=4096),
            1,
        ),
    }


CASE_NAMES = list(_cases("http://127.0.0.1:1"))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StorageServer, StorageServer, Path]]:
    """The export's storage, and a foreign host serving files too (it must never be asked)."""
    base = tmp_path_factory.mktemp("hostile-tilesets")
    root, foreign_root = base / "storage", base / "foreign"
    root.mkdir()
    write_files(foreign_root, {"x.glb": b"foreign", "exports/e1/x.glb": b"foreign"})
    with StorageServer(foreign_root, sigs={SIG}) as foreign, StorageServer(root, sigs={SIG}) as storage:
        yield storage, foreign, root


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", CASE_NAMES)
def test_hostile_tilesets_are_refused_or_bounded_over_sockets(
    servers: tuple[StorageServer, StorageServer, Path], tmp_path: Path, case: str, mode: str
) -> None:
    storage, foreign, root = servers
    shutil.rmtree(root)
    files, limits, allowed = _cases(foreign.url)[case]
    write_files(root, files)
    storage.requests.clear()
    foreign.requests.clear()
    dest = tmp_path / "work" / "dest"
    kwargs: dict[str, Any] = {"concurrency": 2, "limits": limits}
    error: BaseException | None = None
    try:
        if mode == "sync":
            download_tileset(storage.href(SIG), dest, sleep=lambda _: None, **kwargs)
        else:

            async def main() -> None:
                async def no_sleep(_: float) -> None:
                    pass

                await download_tileset_async(storage.href(SIG), dest, sleep=no_sleep, **kwargs)

            asyncio.run(main())
    except Exception as exc:  # recorded, then checked below
        error = exc
    beside = sorted(p.name for p in (tmp_path / "work").iterdir() if p.name != "dest")
    outside = [str(p) for p in tmp_path.rglob("outside.glb")]
    texts = "" if error is None else str(error) + repr(error)
    if isinstance(error, UnsafeTilesetError):
        texts += error.uri
    # What happened, recorded whatever it was (the report prints a case from this record only).
    record_result(
        "hostile-tilesets",
        f"{case}--{mode}",
        {
            "case": case,
            "mode": mode,
            "error": None if error is None else type(error).__name__,
            "storage_requests": len(storage.requests),
            "requests_allowed": allowed,
            "foreign_requests": len(foreign.requests),
            "storage_requests_not_200_or_with_authorization": sum(
                1 for r in storage.requests if r.status != 200 or r.authorization is not None
            ),
            "written_beside": beside + outside,
            "signature_in_error": SIG in texts,
        },
    )
    assert isinstance(error, UnsafeTilesetError), repr(error)
    assert foreign.requests == []  # nothing ever went to the foreign host
    assert 1 <= len(storage.requests) <= allowed, [r.path for r in storage.requests]
    assert all(r.status == 200 and r.authorization is None for r in storage.requests), storage.requests
    assert SIG not in texts
    assert beside == [] and outside == []  # nothing written beside dest
