"""A minimal HTTP/1.1 server on 127.0.0.1 that answers from canned bodies, for the per-call and
listing measurements.

Why not the local service: its Starlette/uvicorn stack costs far more per request than the client
under test, so on a two-core machine it would set the pace and hide the client's own cost. This
server is an asyncio `Protocol` that finds the end of each request head, picks a canned body by
path and `$skip`, and writes one pre-built response (keep-alive, `Content-Length`). It runs in its
own process (`python -m benchmarks._loopback BODIES.json`), prints `{"port": N}` on stdout when
ready, and stops on SIGTERM or when its stdin closes.

Routes, relative to any prefix: a path ending in `/` is Get Exports (page `$skip // $top` of the
canned pages, the last page for a skip past the end); any other path is Get Export (the canned
export). Only the standard library is imported, so the peer's isolated venv can use it too.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["build_responses", "main", "watch_stdin"]

_HEAD_END = b"\r\n\r\n"


def _response(body: bytes) -> bytes:
    head = (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: keep-alive\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


def build_responses(bodies: dict[str, object]) -> tuple[bytes, list[bytes], int]:
    """(Get Export response, Get Exports responses by page, page size) from the bodies file."""
    export = str(bodies["export"]).encode("utf-8")
    pages = [str(page).encode("utf-8") for page in bodies["pages"]]  # type: ignore[attr-defined]
    page_size = int(bodies["page_size"])  # type: ignore[call-overload]
    return _response(export), [_response(page) for page in pages], page_size


class _Canned(asyncio.Protocol):
    def __init__(self, export: bytes, pages: list[bytes], page_size: int) -> None:
        self._export = export
        self._pages = pages
        self._page_size = page_size
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(_HEAD_END)
            if end < 0:
                return
            head = self._buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            total = end + len(_HEAD_END) + length
            if len(self._buffer) < total:
                return
            self._buffer = self._buffer[total:]
            target = head.split(b" ", 2)[1].decode("latin-1")
            assert self._transport is not None
            self._transport.write(self._answer(target))

    def _answer(self, target: str) -> bytes:
        parts = urlsplit(target)
        if not parts.path.endswith("/"):
            return self._export
        query = {unquote(k).lower(): v for k, v in parse_qsl(parts.query)}
        skip = int(query.get("$skip", "0"))
        return self._pages[min(skip // self._page_size, len(self._pages) - 1)]


def watch_stdin(on_close: Callable[[], None]) -> None:
    """Call `on_close` when stdin reaches its end: the parent closed it, or died."""

    def watch() -> None:
        sys.stdin.buffer.read()
        on_close()

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


async def _serve(bodies_path: Path) -> None:
    export, pages, page_size = build_responses(json.loads(bodies_path.read_text(encoding="utf-8")))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Canned(export, pages, page_size), "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    watch_stdin(lambda: loop.call_soon_threadsafe(stop.set))
    await stop.wait()
    server.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m benchmarks._loopback BODIES.json\n")
        return 2
    asyncio.run(_serve(Path(args[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
