"""Reading 3D Tiles tileset files (and glTF JSON files) for the URIs they reference, with bounds a
hostile file cannot get past.

Covers 3D Tiles 1.0 and 1.1: `content.uri` (and the pre-1.0 `content.url`), 1.1's `contents`
arrays, `children`, and the 1.1 metadata `schemaUri`. A content URI ending in `.json` is an external
tileset, read in turn; one ending in `.gltf` is a glTF JSON file whose `buffers` and `images` URIs
are files too. Implicit tiling (`implicitTiling`) needs the binary subtree files decoded to know
which tiles exist; it is refused with a clear error rather than half-downloaded. The walk is
iterative, and JSON nested too deeply for the parser is refused, so no RecursionError escapes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._exceptions import InvalidTilesetError, UnsafeTilesetError

__all__ = ["Reference", "TilesetLimits", "file_kind", "parse_gltf", "parse_tileset"]

# What a downloaded file is read for, decided by its name's extension (lower case).
KIND_TILESET = "tileset"
KIND_GLTF = "gltf"
KIND_PLAIN = "plain"


@dataclass(frozen=True)
class TilesetLimits:
    """Bounds on what a tileset may ask for; going past one raises UnsafeTilesetError.

    The defaults are far above what Mesh Export produces (a few thousand files, external tilesets
    two or three deep) and far below what would exhaust a machine.
    """

    max_files: int = 1_000_000
    """Files referenced in total, tilesets included."""
    max_external_depth: int = 32
    """Nesting of external tilesets (the root tileset is depth 0)."""
    max_tile_depth: int = 256
    """Nesting of tiles (`children`) inside one tileset file."""
    max_json_bytes: int = 256 * 1024 * 1024
    """Size of one tileset or glTF JSON file; the download of a bigger one is stopped."""


@dataclass(frozen=True)
class Reference:
    """A URI found in a file, and whether a `.json` target is an external tileset (content) or
    plain data (a metadata schema)."""

    uri: str
    content: bool


def file_kind(path: str, *, content: bool) -> str:
    """How a referenced file must be read once downloaded: as a tileset, a glTF JSON, or not at all."""
    lower = path.lower()
    if content and lower.endswith(".json"):
        return KIND_TILESET
    if lower.endswith(".gltf"):
        return KIND_GLTF
    return KIND_PLAIN


def parse_tileset(data: bytes, *, path: str, limits: TilesetLimits) -> list[Reference]:
    """Every URI the tileset file at relative `path` references, in document order."""
    document = _load_json(data, path=path, what="tileset")
    root = document.get("root")
    if not isinstance(root, Mapping):
        raise InvalidTilesetError(f"{path} is not a 3D Tiles tileset: it has no `root` tile object", path=path)
    references: list[Reference] = []
    schema_uri = document.get("schemaUri")
    if schema_uri is not None:
        references.append(Reference(_uri(schema_uri, path=path, where="schemaUri"), content=False))
    for tile, depth in _tiles(root, path=path):
        if depth > limits.max_tile_depth:
            raise UnsafeTilesetError(
                f"{path} nests tiles deeper than {limits.max_tile_depth} levels; refusing to walk it", uri=path
            )
        if "implicitTiling" in tile:
            raise InvalidTilesetError(
                f"{path} uses implicit tiling, which this downloader does not support (its tiles are listed "
                "only in binary subtree files)",
                path=path,
            )
        contents: list[Any] = []
        if "content" in tile:
            contents.append(tile["content"])
        if "contents" in tile:
            if not isinstance(tile["contents"], list):
                raise InvalidTilesetError(f"{path}: a tile's `contents` is not an array", path=path)
            contents.extend(tile["contents"])
        for content in contents:
            if not isinstance(content, Mapping):
                raise InvalidTilesetError(f"{path}: a tile's content is not an object", path=path)
            uri = content.get("uri", content.get("url"))
            references.append(Reference(_uri(uri, path=path, where="content uri"), content=True))
    return references


def parse_gltf(data: bytes, *, path: str) -> list[Reference]:
    """The external files a glTF JSON file names (`buffers` and `images` URIs; data URIs included,
    the caller skips them)."""
    document = _load_json(data, path=path, what="glTF")
    references = []
    for key in ("buffers", "images"):
        items = document.get(key, [])
        if not isinstance(items, list):
            raise InvalidTilesetError(f"{path}: glTF `{key}` is not an array", path=path)
        for item in items:
            if not isinstance(item, Mapping):
                raise InvalidTilesetError(f"{path}: a glTF `{key}` entry is not an object", path=path)
            if "uri" in item:  # a buffer without uri is the GLB chunk; an image may use bufferView
                references.append(Reference(_uri(item["uri"], path=path, where=f"{key} uri"), content=False))
    return references


def _tiles(root: Mapping[str, Any], *, path: str) -> Iterator[tuple[Mapping[str, Any], int]]:
    stack: list[tuple[Mapping[str, Any], int]] = [(root, 0)]
    while stack:
        tile, depth = stack.pop()
        yield tile, depth
        children = tile.get("children", [])
        if not isinstance(children, Sequence) or isinstance(children, str):
            raise InvalidTilesetError(f"{path}: a tile's `children` is not an array", path=path)
        for child in reversed(children):
            if not isinstance(child, Mapping):
                raise InvalidTilesetError(f"{path}: a child tile is not an object", path=path)
            stack.append((child, depth + 1))


def _uri(value: object, *, path: str, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidTilesetError(f"{path}: a {where} is missing or not a string", path=path)
    return value


def _load_json(data: bytes, *, path: str, what: str) -> Mapping[str, Any]:
    try:
        document = json.loads(data)
    except RecursionError:
        raise UnsafeTilesetError(f"{path} nests JSON too deeply to be read; refusing it", uri=path) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidTilesetError(f"{path} is not a valid {what} JSON file: {exc}", path=path) from None
    if not isinstance(document, Mapping):
        raise InvalidTilesetError(f"{path} is not a {what}: its JSON is not an object", path=path)
    return document
