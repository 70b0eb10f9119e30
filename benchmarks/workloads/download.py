"""Download a tileset from the local service's storage: `download_tileset` vs plain httpx.

The baseline is what a user would write with httpx alone, at the same concurrency: fetch
`tileset.json`, collect every `content.uri` / `contents[].uri` (following external tilesets),
and stream each file to disk from a thread pool of `concurrency` workers, one httpx client with
the same pool size. It does none of the engine's work for safety, resuming, retries, hashing or
the manifest; the engine must still keep ≥ 0.9x its throughput. With `sha256=True` it also hashes
each file as it arrives, the one piece of the engine's work that costs CPU per byte. Each round
writes into a fresh directory; after the round (outside the timing) the files on disk and their
bytes are counted (`files_on_disk`, `bytes_on_disk`: the measurement checks that every variant
left the same tree) and the directory is removed.

The factories import what the round calls and build one throwaway httpx client (which loads
httpcore, anyio, certifi), so that no variant pays a first import inside a timed round: the
package loads its download engine lazily (PEP 562), and the 1 GiB row runs without a warm-up.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["overlay_download", "raw_download"]


class _DownloadRound:
    # Files in the destination that are the engine's bookkeeping, not the tileset's.
    not_tiles: frozenset[str] = frozenset()

    def __init__(self, href: str, work_dir: str, concurrency: int, sha256: bool = False) -> None:
        self.href, self.work_dir, self.concurrency = href, Path(work_dir), concurrency
        self.sha256 = sha256
        self.dest: Path | None = None

    def prepare(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.dest = Path(tempfile.mkdtemp(prefix="round-", dir=self.work_dir))

    def after(self) -> dict[str, Any]:
        assert self.dest is not None
        tiles = [
            p
            for p in self.dest.rglob("*")
            if p.is_file() and ".itwin-mesh-export" not in p.parts and p.name not in self.not_tiles
        ]
        on_disk = {"files_on_disk": len(tiles), "bytes_on_disk": sum(p.stat().st_size for p in tiles)}
        shutil.rmtree(self.dest, ignore_errors=True)
        return on_disk


class _Overlay(_DownloadRound):
    download: Any = None  # `download_tileset`, imported by the factory

    def __call__(self) -> dict[str, Any]:
        assert self.dest is not None
        result = self.download(self.href, self.dest, concurrency=self.concurrency)
        return {"units": result.bytes_total, "files": len(result.files)}


def _file_url(href: str, path: str) -> str:
    parts = urlsplit(href)
    return urlunsplit((parts.scheme, parts.netloc, f"{parts.path.rstrip('/')}/{path}", parts.query, ""))


def _references(tileset: dict[str, Any], base: str) -> Iterator[str]:
    stack = [tileset["root"]]
    while stack:
        tile = stack.pop()
        contents = list(tile.get("contents", []))
        if "content" in tile:
            contents.append(tile["content"])
        for content in contents:
            yield f"{base}{content['uri']}"
        stack.extend(tile.get("children", []))


class _Raw(_DownloadRound):
    def __call__(self) -> dict[str, Any]:
        import httpx

        assert self.dest is not None
        dest = self.dest
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        with httpx.Client(limits=limits, timeout=60) as client, ThreadPoolExecutor(self.concurrency) as pool:

            def fetch(path: str) -> tuple[str, int, bytes | None]:
                target = dest / path
                target.parent.mkdir(parents=True, exist_ok=True)
                size = 0
                keep = path.endswith(".json")
                kept = bytearray()
                digest = hashlib.sha256() if self.sha256 else None
                with client.stream("GET", _file_url(self.href, path)) as response, target.open("wb") as out:
                    response.raise_for_status()
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                        size += len(chunk)
                        if digest is not None:
                            digest.update(chunk)
                        if keep:
                            kept += chunk
                return path, size, bytes(kept) if keep else None

            total = files = 0
            pending = [pool.submit(fetch, "tileset.json")]
            while pending:
                future = pending.pop(0)
                path, size, body = future.result()
                total += size
                files += 1
                if body is not None:
                    folder = path.rpartition("/")[0]
                    base = f"{folder}/" if folder else ""
                    pending.extend(pool.submit(fetch, uri) for uri in _references(json.loads(body), base))
        return {"units": total, "files": files}


def _load_httpx_transport() -> None:
    """Build and close one httpx client: its transport's modules load here, outside the timing."""
    import httpx

    httpx.Client().close()


def overlay_download(href: str, work_dir: str, concurrency: int) -> _Overlay:
    # The package loads its download engine on first use (PEP 562): load it here, not in a round.
    from itwin_mesh_export import MANIFEST_NAME, download_tileset

    _load_httpx_transport()
    round_ = _Overlay(href, work_dir, concurrency)
    round_.download = download_tileset
    round_.not_tiles = frozenset({MANIFEST_NAME})
    return round_


def raw_download(href: str, work_dir: str, concurrency: int, sha256: bool = False) -> _Raw:
    """`sha256=True`: also hash every file as it arrives (the work the engine's manifest needs)."""
    _load_httpx_transport()
    return _Raw(href, work_dir, concurrency, sha256)
