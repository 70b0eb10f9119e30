"""An in-memory blob container behind httpx.MockTransport, for the downloader's tests.

It checks the signature query (and can revoke it: an expired SAS), honours Range and If-Range
with strong ETags as Azure Blob does, records every request (with its Authorization header, if
any), and can inject faults per file: error statuses, Retry-After, and connection resets in the
middle of a body. Works for sync and async clients alike.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

HOST = "storage.example"
CONTAINER = "/exports/c0ffee"
SIG1 = "S1gnatureValueOne%2Bsecret"
SIG2 = "S1gnatureValueTwo%2Bsecret"


def href(sig: str = SIG1) -> str:
    return f"https://{HOST}{CONTAINER}?sv=2024-05-04&se=2030-01-01T00%3A00%3A00Z&sr=c&sp=rl&sig={sig}"


def tileset(*uris: str, children: list[dict[str, Any]] | None = None) -> bytes:
    """A tileset whose root has one child tile per URI (and optional extra children)."""
    tiles: list[dict[str, Any]] = [{"geometricError": 0, "content": {"uri": uri}} for uri in uris]
    document = {
        "asset": {"version": "1.1"},
        "geometricError": 100,
        "root": {"geometricError": 50, "refine": "ADD", "children": tiles + (children or [])},
    }
    return json.dumps(document).encode()


@dataclass
class Served:
    path: str
    status: int
    start: int  # first byte of the body sent
    sig: str
    authorization: str | None
    range: str | None
    if_range: str | None


class _CutStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that stops with a connection reset after `cut` bytes."""

    def __init__(self, data: bytes, cut: int | None, on_cut: Callable[[], None] | None) -> None:
        self._data, self._cut, self._on_cut = data, cut, on_cut

    def _chunks(self) -> Iterator[bytes]:
        end = len(self._data) if self._cut is None else self._cut
        for i in range(0, end, 64 * 1024):
            yield self._data[i : min(i + 64 * 1024, end)]
        if self._cut is not None:
            if self._on_cut is not None:
                self._on_cut()
            raise httpx.ReadError("connection reset by peer")

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks():
            yield chunk


@dataclass
class FakeStorage:
    files: dict[str, bytes] = field(default_factory=dict)
    valid_sigs: set[str] = field(default_factory=lambda: {SIG1})
    served: list[Served] = field(default_factory=list)
    # per path: statuses (or (status, headers[, body])) to answer before serving normally
    faults: dict[str, list[int | tuple[int, dict[str, str]] | tuple[int, dict[str, str], bytes]]] = field(
        default_factory=dict
    )
    # per path: cut the next body after this many bytes (then serve normally)
    cuts: dict[str, list[int]] = field(default_factory=dict)
    on_cut: Callable[[], None] | None = None
    foreign_requests: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def put(self, path: str, data: bytes) -> None:
        with self._lock:
            self.files[path] = data
            self.versions[path] = self.versions.get(path, 0) + 1

    def etag(self, path: str) -> str:
        digest = hashlib.md5(self.files[path] + str(self.versions[path]).encode()).hexdigest()[:16]
        return f'"0x{digest.upper()}"'

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def requests_for(self, path: str) -> list[Served]:
        return [s for s in self.served if s.path == path]

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            return self._handle(request)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.host != HOST or not url.raw_path.decode().startswith(CONTAINER + "/"):
            self.foreign_requests.append(str(url))
            return httpx.Response(404)
        path = unquote(url.raw_path.decode().split("?", 1)[0][len(CONTAINER) + 1 :])
        sig = parse_qs(urlsplit(str(url)).query).get("sig", [""])[0]
        record = Served(
            path,
            0,
            0,
            sig,
            request.headers.get("authorization"),
            request.headers.get("range"),
            request.headers.get("if-range"),
        )
        self.served.append(record)
        if sig not in {unquote(s) for s in self.valid_sigs}:
            record.status = 403
            return httpx.Response(403, headers={"x-ms-error-code": "AuthenticationFailed"}, text="<Error/>")
        pending = self.faults.get(path)
        if pending:
            fault = pending.pop(0)
            status, headers, body = (fault, {}, b"") if isinstance(fault, int) else (fault[0], fault[1], b"")
            if isinstance(fault, tuple) and len(fault) == 3:
                body = fault[2]
            record.status = status
            return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))
        if path not in self.files:
            record.status = 404
            return httpx.Response(404, headers={"x-ms-error-code": "BlobNotFound"})
        data, etag = self.files[path], self.etag(path)
        headers = {"etag": etag, "last-modified": "Wed, 21 Oct 2015 07:28:00 GMT", "accept-ranges": "bytes"}
        start = 0
        status = 200
        range_header = request.headers.get("range")
        if range_header and (request.headers.get("if-range") in (None, etag)):
            match = re.fullmatch(r"bytes=(\d+)-", range_header)
            assert match, range_header
            start = int(match[1])
            if start >= len(data):
                record.status = 416
                return httpx.Response(416, headers={"content-range": f"bytes */{len(data)}"})
            status = 206
            headers["content-range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        headers["content-length"] = str(len(body))
        record.status, record.start = status, start
        cuts = self.cuts.get(path)
        cut = cuts.pop(0) - start if cuts else None
        return httpx.Response(status, headers=headers, stream=_CutStream(body, cut, self.on_cut))
