"""Hostile tilesets: every URI that escapes the target directory or names another scheme or host
is refused before anything is fetched from it; cycles, depth and size are bounded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from itwin_mesh_export import (
    InvalidTilesetError,
    TilesetLimits,
    UnsafeTilesetError,
)
from itwin_mesh_export.download._storage_link import resolve_reference
from tests.download.conftest import Runner, assert_no_secret, tree
from tests.download.fake_storage import FakeStorage, tileset

ESCAPES = [
    "../escape.glb",
    "../../../../etc/passwd",
    "tiles/../../escape.glb",
    "./../escape.glb",
    "/etc/passwd",
    "/exports/c0ffee/tiles/0.glb",  # an absolute path, even one inside the container
    "\\windows\\system32\\x.glb",
    "tiles\\..\\..\\escape.glb",
    "C:/Windows/x.glb",
    "c:x.glb",
    "tiles/C:x.glb",
    "tiles/stream.glb:hidden",
    'tiles/a"b.glb',
    "tiles/a*.glb",
    "%2e%2e/escape.glb",
    "%2E%2E%2Fescape.glb",
    "..%2fescape.glb",
    "..%5cescape.glb",
    "tiles/%2e%2e/%2e%2e/escape.glb",
    "tiles%2f..%2f..%2fescape.glb",
    "%00.glb",
    "tiles/a%0a.glb",
    "tiles/",
    ".",
    "..",
    "a//b.glb",
    "tile.glb.",
    "https://evil.example/x.glb",
    "http://storage.example/exports/c0ffee/x.glb",  # same host, but absolute and plain http
    "https://storage.example/exports/c0ffee/x.glb?sig=stolen",
    "//evil.example/x.glb",
    "///etc/passwd",
    "file:///etc/passwd",
    "ftp://evil.example/x.glb",
    "javascript:alert(1)",
    "x.glb?sig=their-own-signature",
    ".itwin-mesh-export/parts/x.part",
    "itwin-mesh-export.manifest.json",
    # the same names on a case-insensitive disk (Windows, macOS)
    ".ITWIN-MESH-EXPORT/completed.jsonl",
    "Itwin-Mesh-Export.Manifest.json",
    ".Itwin-mesh-export/parts/a/" + "a" * 40 + ".part",
    "ITWIN-MESH-EXPORT.MANIFEST.JSON/x.glb",
    ".itwin-mesh-export.manifest.json.tmp",  # the manifest's temporary name
    "\ud800.glb",  # a lone surrogate (JSON "\ud800"): no UTF-8 file name
    "%ff.glb",
    "a" * 300 + ".glb",
]


@pytest.mark.parametrize("uri", ESCAPES)
def test_unsafe_uris_are_refused_before_any_request(
    run: Runner, storage: FakeStorage, tmp_path: Path, uri: str, secret_logs: pytest.LogCaptureFixture
) -> None:
    dest = tmp_path / "dest"
    storage.put("tileset.json", tileset("tiles/0.glb", uri))
    storage.put("tiles/0.glb", b"0")
    with pytest.raises(UnsafeTilesetError) as info:
        run(dest, concurrency=1)
    assert [s.path for s in storage.served] == ["tileset.json"]  # nothing fetched after reading it
    assert storage.foreign_requests == []
    assert "nothing was fetched" in str(info.value) or "reserves" in str(info.value)
    assert_no_secret(str(info.value), repr(info.value), info.value.uri)
    assert "stolen" not in str(info.value) and "their-own-signature" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]  # nothing written outside dest


@pytest.mark.parametrize("uri", ESCAPES)
def test_unsafe_uris_are_unsafe_from_any_depth(uri: str) -> None:
    with pytest.raises(UnsafeTilesetError):
        resolve_reference("tileset.json", uri)
    if not uri.startswith((".", "%2", "/", "\\")) and ":" not in uri:  # relative names stay unsafe deeper
        with pytest.raises(UnsafeTilesetError):
            resolve_reference("nested/deeper/tileset.json", "../../" + uri)


@pytest.mark.parametrize(
    "uri",
    ["../../../x.glb", "../../%2e%2e/x.glb", "a/../../../../x.glb", "..%2f..%2f..%2fx.glb", "../../.."],
)
def test_traversal_from_a_nested_tileset_is_refused(uri: str) -> None:
    with pytest.raises(UnsafeTilesetError):
        resolve_reference("nested/deeper/tileset.json", uri)


@pytest.mark.parametrize(
    ("referrer", "uri", "expected"),
    [
        ("tileset.json", "tiles/0.glb", "tiles/0.glb"),
        ("tileset.json", "./tiles/./0.glb", "tiles/0.glb"),
        ("nested/tileset.json", "../tiles/0.glb", "tiles/0.glb"),
        ("nested/tileset.json", "a/../b.glb", "nested/b.glb"),
        ("tileset.json", "tiles/a%20b.glb", "tiles/a b.glb"),
        ("tileset.json", "tiles/%C3%A9t%C3%A9.glb", "tiles/été.glb"),
        ("tileset.json", "tiles/0.glb#fragment", "tiles/0.glb"),
        ("tileset.json", "data:application/octet-stream;base64,AAAA", None),
    ],
)
def test_safe_references_resolve_to_relative_paths(referrer: str, uri: str, expected: str | None) -> None:
    assert resolve_reference(referrer, uri) == expected


def test_dot_dot_that_stays_inside_the_export_is_followed(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset("a/b/tileset.json"))
    storage.put("a/b/tileset.json", tileset("../../top.glb", "../side.glb"))
    storage.put("top.glb", b"top")
    storage.put("a/side.glb", b"side")
    run(tmp_path)
    assert (tmp_path / "top.glb").read_bytes() == b"top" and (tmp_path / "a" / "side.glb").read_bytes() == b"side"


@pytest.mark.parametrize(
    "layout",
    [
        {"tileset.json": ["tileset.json"]},
        {"tileset.json": ["a.json"], "a.json": ["tileset.json"]},
        {"tileset.json": ["a.json"], "a.json": ["b.json"], "b.json": ["c/../a.json"]},
        {"tileset.json": ["x/a.json", "y/b.json"], "x/a.json": ["../y/b.json"], "y/b.json": ["../x/a.json"]},
    ],
    ids=["self", "two", "three", "sideways"],
)
def test_cycles_of_external_tilesets_are_refused(
    run: Runner, storage: FakeStorage, tmp_path: Path, layout: dict[str, list[str]]
) -> None:
    for path, uris in layout.items():
        storage.put(path, tileset(*uris))
    with pytest.raises(UnsafeTilesetError, match="cycle"):
        run(tmp_path)
    assert len(storage.served) <= len(layout)  # each tileset read at most once


def test_external_tileset_depth_is_bounded(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset("d1.json"))
    for i in range(1, 10):
        storage.put(f"d{i}.json", tileset(f"d{i + 1}.json"))
    with pytest.raises(UnsafeTilesetError, match="deeper than 3"):
        run(tmp_path, limits=TilesetLimits(max_external_depth=3))
    assert len(storage.served) == 4


def _deep_tiles(depth: int) -> dict[str, Any]:
    tile: dict[str, Any] = {"geometricError": 0, "content": {"uri": "leaf.glb"}}
    for _ in range(depth):
        tile = {"geometricError": 0, "children": [tile]}
    return tile


def test_tile_nesting_depth_is_bounded(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    document = {"asset": {"version": "1.1"}, "geometricError": 1, "root": _deep_tiles(40)}
    storage.put("tileset.json", json.dumps(document).encode())
    with pytest.raises(UnsafeTilesetError, match="deeper than 30"):
        run(tmp_path, limits=TilesetLimits(max_tile_depth=30))


def test_json_nested_beyond_the_parser_is_refused_not_crashed(
    run: Runner, storage: FakeStorage, tmp_path: Path
) -> None:
    storage.put("tileset.json", b'{"root": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    with pytest.raises(UnsafeTilesetError, match="too deeply"):
        run(tmp_path)


def test_the_number_of_files_is_bounded(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset(*[f"t/{i}.glb" for i in range(50)]))
    with pytest.raises(UnsafeTilesetError, match="more than 10 files"):
        run(tmp_path, limits=TilesetLimits(max_files=10))
    assert [s.path for s in storage.served] == ["tileset.json"]


def test_an_oversized_tileset_is_not_read(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset(*[f"t/{i}.glb" for i in range(100)]))
    with pytest.raises(UnsafeTilesetError, match="larger than the 1000 bytes"):
        run(tmp_path, limits=TilesetLimits(max_json_bytes=1000))
    assert not (tmp_path / "tileset.json").exists()


def test_an_oversized_tileset_without_length_is_cut_off(storage: FakeStorage, tmp_path: Path) -> None:
    import httpx

    from itwin_mesh_export import download_tileset

    huge = tileset(*[f"t/{i}.glb" for i in range(2000)])

    def chunked(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter([huge[i : i + 1000] for i in range(0, len(huge), 1000)]))

    with pytest.raises(UnsafeTilesetError, match="larger than"):
        download_tileset(
            "https://storage.example/c?sig=x",
            tmp_path,
            transport=httpx.MockTransport(chunked),
            limits=TilesetLimits(max_json_bytes=5000),
            fsync=False,
        )
    parts = list((tmp_path / ".itwin-mesh-export" / "parts").rglob("*.part"))
    assert parts and all(p.stat().st_size <= 5000 for p in parts)


def test_a_file_and_a_directory_of_the_same_name_are_refused(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    storage.put("tileset.json", tileset("a", "a/b.glb"))
    storage.put("a", b"file")
    with pytest.raises(UnsafeTilesetError, match="is a file of the tileset too"):
        run(tmp_path)
    storage.put("tileset.json", tileset("x/y.glb", "x"))
    with pytest.raises(UnsafeTilesetError, match="inside it"):
        run(tmp_path / "other")


@pytest.mark.parametrize(
    ("first", "second"),
    [("tiles/a.glb", "tiles/A.glb"), ("Tiles/a.glb", "tiles/a.glb"), ("a.json", "x/../A.JSON")],
)
def test_names_differing_only_in_case_are_refused(
    run: Runner, storage: FakeStorage, tmp_path: Path, first: str, second: str
) -> None:
    """On a case-insensitive disk they are one file: two files of the tileset would overwrite each
    other (and on a case-sensitive one, downloading only one would leave the other missing)."""
    storage.put("tileset.json", tileset(first, second))
    with pytest.raises(UnsafeTilesetError, match="differ only in case"):
        run(tmp_path, concurrency=1)
    assert not (tmp_path / "itwin-mesh-export.manifest.json").exists()


def test_a_file_and_a_directory_differing_only_in_case_are_refused(
    run: Runner, storage: FakeStorage, tmp_path: Path
) -> None:
    storage.put("tileset.json", tileset("A", "a/b.glb"))
    with pytest.raises(UnsafeTilesetError, match="is a file of the tileset too"):
        run(tmp_path)
    storage.put("tileset.json", tileset("x/Y/z.glb", "X/y"))
    with pytest.raises(UnsafeTilesetError, match="inside it"):
        run(tmp_path / "other")


def test_directories_spelled_in_two_cases_are_followed(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    """Two files in `Tiles/` and `tiles/` are two files on any disk: both are kept."""
    storage.put("tileset.json", tileset("Tiles/a.glb", "tiles/b.glb", "tiles/a.json"))
    storage.put("tiles/a.json", tileset("../Tiles/a.glb"))  # the same spelling again: the same file
    for path in ("Tiles/a.glb", "tiles/b.glb"):
        storage.put(path, path.encode())
    result = run(tmp_path)
    assert sorted(e.path for e in result.files) == sorted(
        ["Tiles/a.glb", "tileset.json", "tiles/a.json", "tiles/b.glb"]
    )
    assert len(storage.requests_for("Tiles/a.glb")) == 1


def test_implicit_tiling_is_refused_with_a_clear_error(run: Runner, storage: FakeStorage, tmp_path: Path) -> None:
    document = {
        "asset": {"version": "1.1"},
        "geometricError": 1,
        "root": {
            "geometricError": 1,
            "content": {"uri": "content/{level}/{x}/{y}.glb"},
            "implicitTiling": {"subdivisionScheme": "QUADTREE", "subtreeLevels": 2, "subtrees": {"uri": "s.subtree"}},
        },
    }
    storage.put("tileset.json", json.dumps(document).encode())
    with pytest.raises(InvalidTilesetError, match="implicit tiling"):
        run(tmp_path)


def test_a_hostile_tileset_leaves_the_target_directory_resumable(
    run: Runner, storage: FakeStorage, tmp_path: Path
) -> None:
    storage.put("tileset.json", tileset("ok.glb", "nested.json"))
    storage.put("ok.glb", b"ok")
    storage.put("nested.json", tileset("../../escape.glb"))
    with pytest.raises(UnsafeTilesetError):
        run(tmp_path, concurrency=1)
    assert not (tmp_path.parent / "escape.glb").exists()
    assert not (tmp_path / "nested.json").exists()  # the refused tileset is not kept as complete
    storage.put("nested.json", tileset("fixed.glb"))  # the export is fixed upstream
    storage.put("fixed.glb", b"fixed")
    storage.served.clear()
    run(tmp_path)
    assert sorted(s.path for s in storage.served) == ["fixed.glb", "nested.json"]  # the rest was kept
    assert tree(tmp_path)["ok.glb"] == b"ok"


def test_a_malformed_nested_tileset_is_fetched_again_next_time(
    run: Runner, storage: FakeStorage, tmp_path: Path
) -> None:
    storage.put("tileset.json", tileset("nested.json"))
    storage.put("nested.json", b"{truncated")
    with pytest.raises(InvalidTilesetError):
        run(tmp_path)
    storage.put("nested.json", tileset())
    run(tmp_path)
    assert [s.path for s in storage.requests_for("nested.json")] == ["nested.json", "nested.json"]
