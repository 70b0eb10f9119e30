"""The files of a Complete export: a real 3D Tiles 1.1 tileset, generated on demand and streamed.

`TilesetSpec` says how big the tileset is; `TilesetLayout` (one per spec, cached) lists its files:
a root `tileset.json`, an external tileset `ext/tileset.json` holding the subtree of the root's
last child, and one GLB per tile. Every child URI is relative. Tiles form a complete tree of
`branching` children per tile, filled breadth-first until `tile_count` tiles exist, so any count
from 3 to many thousands is exact.

Bytes are a pure function of (spec, export id, path): the same configuration always serves the
same bytes, so a resumed download can be compared byte for byte. A GLB's small prefix (header,
JSON, box geometry) is built once per tile; the unused tail of its buffer, which makes a tile as
large as asked (16 KiB or 1 GiB), is streamed from a 1 MiB pseudo-random pattern rotated by a
per-block hash, so no file is ever held in memory whole and every block differs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ._glb import GLB_MEDIA_TYPE, GlbPrefix, box_glb

__all__ = ["ExportFiles", "FileInfo", "TilesetLayout", "TilesetSpec", "TilesetSpecError", "layout_for"]

JSON_MEDIA_TYPE = "application/json"
_PATTERN_SIZE = 1 << 20
_ROOT_CENTER = (0.0, 0.0, 60.0)
_ROOT_HALF = (512.0, 512.0, 60.0)
_ROOT_GEOMETRIC_ERROR = 256.0
_EXTERNAL_DIR = "ext/"


class TilesetSpecError(ValueError):
    """A `TilesetSpec` that cannot describe a tileset (too few tiles, negative sizes, ...)."""


@dataclass(frozen=True)
class TilesetSpec:
    """How large the generated tileset is.

    - `tile_count`: number of tiles with GLB content over both tileset files (at least 3: the
      root, one child in the root tileset and one in the external tileset).
    - `branching`: children per tile (2: binary tree, 4: quadtree, ...).
    - `tile_bytes`: minimum size of every GLB (0 keeps their natural size, about 1.5 KiB).
    - `large_tile_bytes`: when > 0, the root tile's GLB (`tiles/0/0.glb`) is this large instead.
    """

    tile_count: int = 15
    branching: int = 2
    tile_bytes: int = 0
    large_tile_bytes: int = 0

    def __post_init__(self) -> None:
        for name in ("tile_count", "branching", "tile_bytes", "large_tile_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TilesetSpecError(f"TilesetSpec.{name} must be an int, got {type(value).__name__}")
        if self.branching < 2:
            raise TilesetSpecError(f"TilesetSpec.branching must be at least 2, got {self.branching}")
        if self.tile_count < 3:
            raise TilesetSpecError(f"TilesetSpec.tile_count must be at least 3, got {self.tile_count}")
        if self.tile_bytes < 0 or self.large_tile_bytes < 0:
            raise TilesetSpecError("TilesetSpec sizes must not be negative")


@dataclass(frozen=True)
class _Tile:
    index: int
    level: int
    center: tuple[float, float, float]
    half: tuple[float, float, float]
    children: tuple[int, ...]

    def geometric_error(self) -> float:
        return _ROOT_GEOMETRIC_ERROR / (2**self.level) if self.children else 0.0

    def bounding_volume(self) -> dict[str, list[float]]:
        (cx, cy, cz), (hx, hy, hz) = self.center, self.half
        box = [cx, cy, cz, hx, 0.0, 0.0, 0.0, hy, 0.0, 0.0, 0.0, hz]
        return {"box": [round(v, 6) for v in box]}


@dataclass(frozen=True)
class FileInfo:
    """One file of the export: its path relative to the export folder, size and media type."""

    path: str
    size: int
    media_type: str


def _build_tree(spec: TilesetSpec) -> list[_Tile]:
    count, b = spec.tile_count, spec.branching
    levels = [0] * count
    centers: list[tuple[float, float, float]] = [_ROOT_CENTER] * count
    halves: list[tuple[float, float, float]] = [_ROOT_HALF] * count
    for i in range(1, count):
        parent = (i - 1) // b
        slot = (i - 1) % b
        level = levels[parent] + 1
        levels[i] = level
        axis = (level - 1) % 2  # split along x, then y, then x ...
        pc, ph = centers[parent], halves[parent]
        width = 2 * ph[axis] / b
        center = list(pc)
        half = list(ph)
        center[axis] = pc[axis] - ph[axis] + width * (slot + 0.5)
        half[axis] = width / 2
        half[2] = ph[2] * 0.8  # children are lower, so a child box is strictly inside its parent's
        center[2] = pc[2] - ph[2] + half[2]
        centers[i] = (center[0], center[1], center[2])
        halves[i] = (half[0], half[1], half[2])
    return [
        _Tile(
            index=i,
            level=levels[i],
            center=centers[i],
            half=halves[i],
            children=tuple(range(b * i + 1, min(b * i + b, count - 1) + 1)),
        )
        for i in range(count)
    ]


class TilesetLayout:
    """The file list of one `TilesetSpec`, and the bytes of its JSON files and GLB prefixes."""

    def __init__(self, spec: TilesetSpec) -> None:
        self.spec = spec
        self._tiles = _build_tree(spec)
        self._external_root = self._tiles[0].children[-1]
        self._glb_paths: dict[str, int] = {}
        self._glb_cache: dict[str, GlbPrefix] = {}
        self._json: dict[str, bytes] = {}
        external = self._subtree(self._external_root)
        self._json["tileset.json"] = self._tileset_json(0, external_uri_base="", external=external)
        self._json[_EXTERNAL_DIR + "tileset.json"] = self._tileset_json(
            self._external_root, external_uri_base=_EXTERNAL_DIR, external=set()
        )
        self._paths = ["tileset.json", _EXTERNAL_DIR + "tileset.json", *self._glb_paths]

    def _subtree(self, root: int) -> set[int]:
        found, stack = set(), [root]
        while stack:
            i = stack.pop()
            found.add(i)
            stack.extend(self._tiles[i].children)
        return found

    def _tile_json(self, i: int, *, base: str, external: set[int]) -> dict[str, Any]:
        tile = self._tiles[i]
        node: dict[str, Any] = {
            "boundingVolume": tile.bounding_volume(),
            "geometricError": tile.geometric_error(),
        }
        if i in external and i == self._external_root:
            node["content"] = {"uri": _EXTERNAL_DIR + "tileset.json"}
            return node
        uri = f"tiles/{tile.level}/{i}.glb"
        self._glb_paths[base + uri] = i
        node["content"] = {"uri": uri}
        if tile.children:
            node["children"] = [self._tile_json(c, base=base, external=external) for c in tile.children]
        return node

    def _tileset_json(self, root: int, *, external_uri_base: str, external: set[int]) -> bytes:
        root_node = self._tile_json(root, base=external_uri_base, external=external)
        if root == 0:
            root_node["refine"] = "REPLACE"
        document = {
            "asset": {"version": "1.1", "generator": "itwin-mesh-export local service"},
            # The root tileset's error is twice its root's; an external tileset's equals the error of
            # the tile that points at it, so errors never grow on the way down.
            "geometricError": 2 * root_node["geometricError"] if root == 0 else root_node["geometricError"],
            "root": root_node,
        }
        return json.dumps(document, separators=(",", ":")).encode()

    @property
    def paths(self) -> list[str]:
        """Every file path, relative to the export folder: the two tileset files first."""
        return list(self._paths)

    def has(self, path: str) -> bool:
        return path in self._json or path in self._glb_paths

    def glb(self, path: str) -> GlbPrefix:
        """The GLB's prefix (built once per tile: a few KiB each) and the length of its tail."""
        cached = self._glb_cache.get(path)
        if cached is not None:
            return cached
        i = self._glb_paths[path]
        tile = self._tiles[i]
        size = self.spec.large_tile_bytes if (i == 0 and self.spec.large_tile_bytes) else self.spec.tile_bytes
        rng = random.Random(i)
        rgba = (round(rng.uniform(0.2, 1.0), 3), round(rng.uniform(0.2, 1.0), 3), round(rng.uniform(0.2, 1.0), 3), 1.0)
        half = (tile.half[0] * 0.9, tile.half[1] * 0.9, tile.half[2] * 0.9)
        built = box_glb(name=f"tile {i}", center=tile.center, half_extents=half, rgba=rgba, min_size=size)
        self._glb_cache[path] = built
        return built

    def info(self, path: str) -> FileInfo:
        """Size and media type of `path`; KeyError when the tileset has no such file."""
        if path in self._json:
            return FileInfo(path, len(self._json[path]), JSON_MEDIA_TYPE)
        return FileInfo(path, self.glb(path).size, GLB_MEDIA_TYPE)

    def json_bytes(self, path: str) -> bytes | None:
        return self._json.get(path)

    @functools.cached_property
    def total_size(self) -> int:
        return sum(self.info(p).size for p in self._paths)


@functools.lru_cache(maxsize=64)
def layout_for(spec: TilesetSpec) -> TilesetLayout:
    """The (cached) layout of a spec: every export with the same spec shares it."""
    return TilesetLayout(spec)


@functools.cache
def _pattern() -> bytes:
    return random.Random(0x1A2B3C4D).randbytes(_PATTERN_SIZE)


class ExportFiles:
    """The files of one export: the spec's layout, with tails salted by the export id."""

    def __init__(self, spec: TilesetSpec, export_id: str) -> None:
        self.layout = layout_for(spec)
        self.export_id = export_id
        self._salt = export_id.encode()

    def files(self) -> list[FileInfo]:
        return [self.layout.info(p) for p in self.layout.paths]

    def info(self, path: str) -> FileInfo | None:
        return self.layout.info(path) if self.layout.has(path) else None

    def etag(self, path: str) -> str:
        """An Azure-style strong ETag, stable for the same (spec, export, path)."""
        digest = hashlib.blake2b(f"{self.layout.spec!r}|{self.export_id}|{path}".encode(), digest_size=8).hexdigest()
        return f'"0x8D{digest[:13].upper()}"'

    def iter_bytes(
        self, path: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        """Bytes `start` to `end` (exclusive; None: the file's end) in pieces of at most `chunk_size`."""
        size = self.layout.info(path).size
        end = size if end is None else min(end, size)
        data = self.layout.json_bytes(path)
        if data is not None:
            for offset in range(start, end, chunk_size):
                yield data[offset : min(offset + chunk_size, end)]
            return
        glb = self.layout.glb(path)
        prefix = glb.prefix
        offset = start
        while offset < end and offset < len(prefix):
            stop = min(end, len(prefix), offset + chunk_size)
            yield prefix[offset:stop]
            offset = stop
        while offset < end:
            stop = min(end, offset + chunk_size)
            yield self._tail(path, offset - len(prefix), stop - len(prefix))
            offset = stop

    def read(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        """The bytes of `path` (or of a range of it) in memory: for small files and tests."""
        return b"".join(self.iter_bytes(path, start, end))

    def _tail(self, path: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of a GLB's unused buffer tail, block by block of the pattern."""
        pattern = _pattern()
        pieces: list[bytes] = []
        offset = start
        while offset < end:
            block, within = divmod(offset, _PATTERN_SIZE)
            stop = min(end, (block + 1) * _PATTERN_SIZE)
            length = stop - offset
            digest = hashlib.blake2b(self._salt + b"|" + path.encode() + b"|" + str(block).encode(), digest_size=8)
            rotation = int.from_bytes(digest.digest(), "big") % _PATTERN_SIZE
            first = (rotation + within) % _PATTERN_SIZE
            if first + length <= _PATTERN_SIZE:
                pieces.append(pattern[first : first + length])
            else:
                pieces.append(pattern[first:] + pattern[: first + length - _PATTERN_SIZE])
            offset = stop
        return b"".join(pieces)
