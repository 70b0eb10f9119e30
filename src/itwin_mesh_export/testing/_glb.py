"""Binary glTF (GLB) tile content: one coloured box per tile, valid for the Khronos glTF validator.

A GLB is a 12-byte header, a JSON chunk and a BIN chunk. The box takes 648 bytes of the BIN
chunk; a tile that must be larger (a 16 KiB tile, a 1 GiB tile) gets a longer buffer whose tail
no buffer view uses. This module builds only the small part in front of that tail (`GlbPrefix`):
`_tiles.py` streams the tail, so no large file is ever held in memory. No glTF library is used:
the format needed here is a few dozen lines of `struct`, and a library would not stream.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

__all__ = ["GLB_MEDIA_TYPE", "GlbPrefix", "box_glb"]

GLB_MEDIA_TYPE = "model/gltf-binary"

_MAGIC = 0x46546C67  # "glTF"
_JSON_CHUNK = 0x4E4F534A  # "JSON"
_BIN_CHUNK = 0x004E4942  # "BIN\0"
_ARRAY_BUFFER = 34962
_ELEMENT_ARRAY_BUFFER = 34963
_FLOAT = 5126
_UNSIGNED_SHORT = 5123

# The six faces of a box in the tileset's z-up frame: normal, then two tangents with u x v = n,
# so that the vertex order (-,-), (+,-), (+,+), (-,+) winds counter-clockwise seen from outside.
_FACES: tuple[tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]], ...] = (
    ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    ((-1, 0, 0), (0, 0, 1), (0, 1, 0)),
    ((0, 1, 0), (0, 0, 1), (1, 0, 0)),
    ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
    ((0, 0, 1), (1, 0, 0), (0, 1, 0)),
    ((0, 0, -1), (0, 1, 0), (1, 0, 0)),
)
_CORNERS = ((-1, -1), (1, -1), (1, 1), (-1, 1))


@dataclass(frozen=True)
class GlbPrefix:
    """Everything of a GLB file except the unused tail of its buffer: `size` bytes in all."""

    prefix: bytes
    tail_length: int

    @property
    def size(self) -> int:
        return len(self.prefix) + self.tail_length


def _f32(value: float) -> float:
    """The value as the float32 the file stores (accessor min/max must match the data exactly)."""
    result: float = struct.unpack("<f", struct.pack("<f", value))[0]
    return result


def _to_y_up(x: float, y: float, z: float) -> tuple[float, float, float]:
    """3D Tiles is z-up and glTF is y-up; a viewer rotates glTF content by +90 degrees about x."""
    return (x, z, -y)


def _geometry(
    center: tuple[float, float, float], half: tuple[float, float, float]
) -> tuple[bytes, list[float], list[float]]:
    positions: list[float] = []
    normals: list[float] = []
    for normal, u, v in _FACES:
        for su, sv in _CORNERS:
            point = tuple(center[i] + normal[i] * half[i] + su * u[i] * half[i] + sv * v[i] * half[i] for i in range(3))
            positions.extend(_f32(c) for c in _to_y_up(*point))
            normals.extend(float(c) for c in _to_y_up(*normal))
    indices: list[int] = []
    for face in range(6):
        base = face * 4
        indices.extend((base, base + 1, base + 2, base, base + 2, base + 3))
    data = struct.pack(f"<{len(positions)}f", *positions)
    data += struct.pack(f"<{len(normals)}f", *normals)
    data += struct.pack(f"<{len(indices)}H", *indices)
    data += b"\0" * (-len(data) % 4)
    xs, ys, zs = positions[0::3], positions[1::3], positions[2::3]
    return data, [min(xs), min(ys), min(zs)], [max(xs), max(ys), max(zs)]


def _document(
    name: str, rgba: tuple[float, float, float, float], pmin: list[float], pmax: list[float], buffer_length: int
) -> bytes:
    gltf = {
        "asset": {"version": "2.0", "generator": "itwin-mesh-export local service"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "NORMAL": 1}, "indices": 2, "material": 0}]}],
        "materials": [
            {"pbrMetallicRoughness": {"baseColorFactor": list(rgba), "metallicFactor": 0.0, "roughnessFactor": 1.0}}
        ],
        "accessors": [
            {"bufferView": 0, "componentType": _FLOAT, "count": 24, "type": "VEC3", "min": pmin, "max": pmax},
            {"bufferView": 1, "componentType": _FLOAT, "count": 24, "type": "VEC3"},
            {"bufferView": 2, "componentType": _UNSIGNED_SHORT, "count": 36, "type": "SCALAR"},
        ],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": 288, "target": _ARRAY_BUFFER},
            {"buffer": 0, "byteOffset": 288, "byteLength": 288, "target": _ARRAY_BUFFER},
            {"buffer": 0, "byteOffset": 576, "byteLength": 72, "target": _ELEMENT_ARRAY_BUFFER},
        ],
        "buffers": [{"byteLength": buffer_length}],
    }
    text = json.dumps(gltf, separators=(",", ":")).encode()
    return text + b" " * (-len(text) % 4)


def box_glb(
    *,
    name: str,
    center: tuple[float, float, float],
    half_extents: tuple[float, float, float],
    rgba: tuple[float, float, float, float],
    min_size: int = 0,
) -> GlbPrefix:
    """A box of the given centre and half extents (tileset frame, z-up), at least `min_size` bytes.

    The file is `min_size` rounded up to a multiple of 4 bytes long, or its natural size (about
    1.6 KiB) when that is larger, or a few bytes more when `min_size` is just above it.
    """
    geometry, pmin, pmax = _geometry(center, half_extents)
    target = min_size + (-min_size % 4)
    document = _document(name, rgba, pmin, pmax, len(geometry))
    buffer_length = len(geometry)
    if 12 + 8 + len(document) + 8 + buffer_length < target:
        # The JSON states the buffer length, whose digits change the JSON's own length. Size the
        # JSON chunk for a length with at least as many digits (the target itself), then fill the
        # real document up to that chunk length with spaces, which JSON allows at its end.
        chunk_length = len(_document(name, rgba, pmin, pmax, target))
        # A target a few bytes above the natural size cannot be met exactly: round it up.
        buffer_length = max(target - (12 + 8 + chunk_length + 8), len(geometry))
        document = _document(name, rgba, pmin, pmax, buffer_length)
        document += b" " * (chunk_length - len(document))
    total = 12 + 8 + len(document) + 8 + buffer_length
    header = struct.pack("<III", _MAGIC, 2, total)
    json_chunk = struct.pack("<II", len(document), _JSON_CHUNK) + document
    bin_header = struct.pack("<II", buffer_length, _BIN_CHUNK)
    prefix = header + json_chunk + bin_header + geometry
    return GlbPrefix(prefix=prefix, tail_length=buffer_length - len(geometry))
