"""The served files are a real 3D Tiles 1.1 tileset: sound structure, and GLBs the Khronos validator passes."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from itwin_mesh_export.testing import (
    ExportFiles,
    LocalMeshExportService,
    TilesetSpec,
    TilesetSpecError,
    make_seed_exports,
)
from tests.conftest import ROOT

VALIDATOR_SCRIPT = Path(__file__).with_name("gltf_validate.js")
SPECS = [
    TilesetSpec(),
    TilesetSpec(tile_count=3, branching=2),
    TilesetSpec(tile_count=40, branching=4, tile_bytes=16 * 1024),
    TilesetSpec(tile_count=7, branching=3, large_tile_bytes=2 * 1024 * 1024 + 3),
]


def _glb_json(data: bytes) -> dict[str, Any]:
    magic, version, length = struct.unpack_from("<III", data, 0)
    assert (magic, version, length) == (0x46546C67, 2, len(data))
    chunk_length, chunk_type = struct.unpack_from("<II", data, 12)
    assert chunk_type == 0x4E4F534A
    document: dict[str, Any] = json.loads(data[20 : 20 + chunk_length])
    return document


def _walk(files: ExportFiles, tileset_path: str, seen: dict[str, int]) -> None:
    """Check one tileset file and recurse into external tilesets; count content per uri."""
    document = json.loads(files.read(tileset_path))
    assert document["asset"]["version"] == "1.1"
    folder = PurePosixPath(tileset_path).parent

    def visit(tile: dict[str, Any], parent: dict[str, Any] | None) -> None:
        box = tile["boundingVolume"]["box"]
        assert len(box) == 12
        if parent is not None:
            assert tile["geometricError"] < parent["geometricError"]
            parent_box = parent["boundingVolume"]["box"]
            for axis, half_at in ((0, 3), (1, 7), (2, 11)):
                assert box[axis] - box[half_at] >= parent_box[axis] - parent_box[half_at] - 1e-6
                assert box[axis] + box[half_at] <= parent_box[axis] + parent_box[half_at] + 1e-6
        uri = tile["content"]["uri"]
        assert not uri.startswith("/") and "://" not in uri and "?" not in uri  # relative
        resolved = str(folder / uri) if str(folder) != "." else uri
        assert files.info(resolved) is not None, resolved
        seen[resolved] = seen.get(resolved, 0) + 1
        if resolved.endswith(".json"):
            assert "children" not in tile  # a tile pointing at an external tileset has no children
            external = json.loads(files.read(resolved))
            assert external["root"]["geometricError"] <= tile["geometricError"]
            _walk(files, resolved, seen)
        else:
            _check_glb_inside(files.read(resolved), box)
        for child in tile.get("children", []):
            visit(child, tile)

    assert document["geometricError"] >= document["root"]["geometricError"]
    visit(document["root"], None)


def _check_glb_inside(data: bytes, box: list[float]) -> None:
    accessor = _glb_json(data)["accessors"][0]
    (x0, y0, z0), (x1, y1, z1) = accessor["min"], accessor["max"]
    # glTF is y-up: (x, y, z) in glTF is (x, -z, y) in the tileset's z-up frame.
    lows, highs = (x0, -z1, y0), (x1, -z0, y1)
    for axis, half_at in ((0, 3), (1, 7), (2, 11)):
        assert lows[axis] >= box[axis] - box[half_at] - 1e-3
        assert highs[axis] <= box[axis] + box[half_at] + 1e-3


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.tile_count}x{s.branching}")
def test_the_tileset_structure_is_sound(spec: TilesetSpec) -> None:
    files = ExportFiles(spec, "structure")
    seen: dict[str, int] = {}
    _walk(files, "tileset.json", seen)
    paths = {info.path for info in files.files()}
    assert set(seen) | {"tileset.json"} == paths  # every file is referenced, every reference exists
    assert all(count == 1 for count in seen.values())
    glbs = [p for p in paths if p.endswith(".glb")]
    assert len(glbs) == spec.tile_count
    assert "ext/tileset.json" in seen  # at least one external tileset
    assert any(p.startswith("ext/tiles/") for p in glbs)
    depth = max(int(p.split("/")[-2]) for p in glbs)
    assert depth >= 1 if spec.tile_count == 3 else depth >= 2


def test_tile_sizes_follow_the_spec() -> None:
    files = ExportFiles(TilesetSpec(tile_count=9, tile_bytes=16 * 1024, large_tile_bytes=5_000_001), "sizes")
    sizes = {info.path: info.size for info in files.files()}
    assert sizes["tiles/0/0.glb"] == 5_000_004
    assert {size for path, size in sizes.items() if path.endswith(".glb") and path != "tiles/0/0.glb"} == {16 * 1024}
    for path, size in sizes.items():
        assert len(files.read(path)) == size
        assert b"".join(files.iter_bytes(path, chunk_size=7777)) == files.read(path)


def test_thousands_of_tiles_in_an_exact_count() -> None:
    files = ExportFiles(TilesetSpec(tile_count=2000, branching=4, tile_bytes=16 * 1024), "many")
    glbs = [info for info in files.files() if info.path.endswith(".glb")]
    assert len(glbs) == 2000
    assert all(info.size == 16 * 1024 for info in glbs)


@pytest.mark.parametrize(
    "kwargs",
    [{"tile_count": 2}, {"branching": 1}, {"tile_bytes": -1}, {"tile_count": 3.5}, {"large_tile_bytes": True}],
)
def test_a_spec_that_cannot_be_built_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TilesetSpecError):
        TilesetSpec(**kwargs)


def test_every_distinct_glb_passes_the_khronos_validator(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "gltf-validator").is_dir():
        pytest.skip("node or node_modules/gltf-validator is missing (run `make install`)")
    written: list[str] = []
    for index, spec in enumerate(SPECS):
        files = ExportFiles(spec, f"validator-{index}")
        for info in files.files():
            if info.path.endswith(".glb"):
                target = tmp_path / f"{index}-{info.path.replace('/', '_')}"
                with target.open("wb") as out:
                    for piece in files.iter_bytes(info.path):
                        out.write(piece)
                written.append(str(target))
    proc = subprocess.run([node, str(VALIDATOR_SCRIPT), *written], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    reports = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["file"] for r in reports] == written
    failures = {r["file"]: r["messages"] for r in reports if r["numErrors"] or r["numWarnings"]}
    assert failures == {}
    assert all(r["version"] for r in reports)


def test_a_client_that_resolves_relative_uris_and_keeps_the_query_reaches_every_file() -> None:
    seed = make_seed_exports(1, tileset=TilesetSpec(tile_count=10, branching=3))
    with LocalMeshExportService(seed_exports=seed) as svc:
        export_id = seed[0].export_id
        root = svc.tileset_url(export_id)
        query = root.partition("?")[2]
        fetched: set[str] = set()

        def fetch_tileset(url: str) -> None:
            response = httpx.get(url)
            assert response.status_code == 200
            fetched.add(url.partition("?")[0])

            def visit(tile: dict[str, Any]) -> None:
                child = urljoin(url.partition("?")[0], tile["content"]["uri"]) + "?" + query
                without_query = httpx.get(child.partition("?")[0])
                assert without_query.status_code == 403  # the query is needed on every file
                if tile["content"]["uri"].endswith(".json"):
                    fetch_tileset(child)
                else:
                    assert httpx.get(child).status_code == 200
                    fetched.add(child.partition("?")[0])
                for sub in tile.get("children", []):
                    visit(sub)

            visit(response.json()["root"])

        fetch_tileset(root)
        folder = root.partition("?")[0].rsplit("/", 1)[0]
        assert fetched == {f"{folder}/{info.path}" for info in svc.export_files(export_id)}
