"""A real-socket blob store for the downloader's end-to-end tests (kill -9, expiry, throughput).

Standard library only (ThreadingHTTPServer on 127.0.0.1), so these tests need nothing but the
package: it serves the files of a directory under a container path, checks a `sig` query value
that can be revoked, honours Range and If-Range with strong ETags, can pace a body (so a test can
kill a download in the middle of a file), and records every request's path, Range and
Authorization header.
"""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

CONTAINER = "/exports/e1"
CHUNK = 256 * 1024


@dataclass
class Request:
    path: str
    status: int
    range: str | None
    authorization: str | None


class StorageServer:
    def __init__(self, root: Path, *, sigs: set[str], pace_s: float = 0.0) -> None:
        self.root = root
        self.sigs = set(sigs)
        self.pace_s = pace_s  # sleep between body chunks of CHUNK bytes
        self.requests: list[Request] = []
        self.revoke_at_byte: int | None = None  # revoke every signature once a body passes this offset
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server._serve(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def href(self, sig: str) -> str:
        return f"{self.url}{CONTAINER}?sv=2024&sr=c&sp=rl&sig={sig}"

    def __enter__(self) -> StorageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        raw = parts.path
        rel = unquote(raw[len(CONTAINER) + 1 :]) if raw.startswith(CONTAINER + "/") else None
        sig = parse_qs(parts.query).get("sig", [""])[0]
        record = Request(rel or raw, 0, h.headers.get("Range"), h.headers.get("Authorization"))
        self._record(record)
        if sig not in self.sigs:
            record.status = 403
            return self._empty(h, 403, {"x-ms-error-code": "AuthenticationFailed"})
        target = self.root.joinpath(*rel.split("/")) if rel else None
        if target is None or not target.is_file():
            record.status = 404
            return self._empty(h, 404, {"x-ms-error-code": "BlobNotFound"})
        stat = target.stat()
        etag = f'"0x{stat.st_mtime_ns:X}{stat.st_size:X}"'
        size, start, status = stat.st_size, 0, 200
        headers = {"ETag": etag, "Accept-Ranges": "bytes"}
        match = re.fullmatch(r"bytes=(\d+)-", h.headers.get("Range") or "")
        if match and h.headers.get("If-Range") in (None, etag):
            start = int(match[1])
            if start >= size:
                record.status = 416
                return self._empty(h, 416, {"Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        record.status = status
        h.send_response(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(size - start))
        h.end_headers()
        with target.open("rb") as f:
            f.seek(start)
            offset = start
            while chunk := f.read(CHUNK):
                if self.revoke_at_byte is not None and offset >= self.revoke_at_byte:
                    self.sigs.clear()  # the link expires mid-body; Azure then cuts the connection
                    self.revoke_at_byte = None
                    h.close_connection = True
                    return
                try:
                    h.wfile.write(chunk)
                except OSError:  # the client went away (killed)
                    return
                offset += len(chunk)
                if self.pace_s:
                    time.sleep(self.pace_s)

    @staticmethod
    def _empty(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str]) -> None:
        h.send_response(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("Content-Length", "0")
        h.end_headers()


def write_files(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        target = root.joinpath(*path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def random_bytes(size: int, seed: int = 1) -> bytes:
    """Incompressible, reproducible bytes (os.urandom would differ between runs)."""
    return random.Random(seed).randbytes(size)


__all__ = ["CONTAINER", "StorageServer", "random_bytes", "write_files"]
