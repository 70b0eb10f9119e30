"""Download a tileset from the local service's storage: `download_tileset` vs plain httpx.

The baseline is what a user would write with httpx alone, at the same concurrency: fetch
`tileset.json`, collect every `content.uri` / `contents[].uri` (following external tilesets),
and stream each file to disk from a thread pool of `concurrency` workers, one httpx client with
the same pool size. It does none of the engine's work for safety, resuming, retries, hashing or
the manifest; the engine must still keep ≥ 0.9x its throughput. With `sha256=True` it also hashes
each file as it arrives, the one piece of the engine's work that costs CPU per byte. Each round writes into a fresh
directory, removed after the round (outside the timing).
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
    def __init__(self, href: str, work_dir: str, concurrency: int, sha256: bool = False) -> None:
        self.href, self.work_dir, self.concurrency = href, Path(work_dir), concurrency
        self.sha256 = sha256
        self.dest: Path | None = None

    def prepare(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.dest = Path(tempfile.mkdtemp(prefix="round-", dir=self.work_dir))

    def after(self) -> dict[str, Any]:
        assert self.dest is not None
        files = sum(1 for p in self.dest.rglob("*") if p.is_file() and ".itwin-mesh-export" not in p.parts)
        shutil.rmtree(self.dest, ignore_errors=True)
        return {"files_on_disk": files}


class _Overlay(_DownloadRound):
    def __call__(self) -> dict[str, Any]:
        from itwin_mesh_export import download_tileset

        assert self.dest is not None
        result = download_tileset(self.href, self.dest, concurrency=self.concurrency)
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


def overlay_download(href: str, work_dir: str, concurrency: int) -> _Overlay:
    import itwin_mesh_export  # noqa: F401 - imported here, outside the timed round

    return _Overlay(href, work_dir, concurrency)


def raw_download(href: str, work_dir: str, concurrency: int, sha256: bool = False) -> _Raw:
    """`sha256=True`: also hash every file as it arrives (the work the engine's manifest needs)."""
    import httpx  # noqa: F401 - imported here, outside the timed round

    return _Raw(href, work_dir, concurrency, sha256)
