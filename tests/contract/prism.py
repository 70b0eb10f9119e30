"""Prism (`@stoplight/prism-cli`, pinned in package.json) as a mock of the committed spec, and the
transports that talk to it for the contract tests.

`PrismServer.start(mode)` runs `prism mock` on 127.0.0.1 with a port the OS picks (`-p 0`; the
port is read from Prism's "listening on" line), waits until it answers, and `stop()` ends its
whole process group. Its log goes to a file, never to a pipe that nobody reads.

Prism takes its own controls from the query string (`__code`, `__example`, `__dynamic`, `__seed`)
*only when the request has no `Prefer` header*: with one, it parses that header as its own
preferences and ignores the query. Get Exports sends the API's own `Prefer: return=...` header,
so a Get Exports request that needs a control goes without its `Prefer` header (the request is
still valid: the header is optional). Every other request keeps the client's headers untouched.
`PrismTransport` applies those controls, records every exchange (each retry attempt included)
with its body read, and keeps Prism's `sl-violations` header, where Prism reports what in a
request or in its own response breaks the spec.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from tests.conftest import ROOT, SPEC_PATH

PRISM = ROOT / "node_modules" / ".bin" / "prism"
VND = "application/vnd.bentley.itwin-platform.v1+json"
_LISTENING = re.compile(r"Prism is listening on http://127\.0\.0\.1:(\d+)")
_START_TIMEOUT_S = 60.0  # Prism parses the spec with node: seconds on a busy 2-core machine
_STOP_TIMEOUT_S = 10.0

Mode = Literal["static", "dynamic"]
_DROPPED_PREFER = "tests.prism_dropped_prefer"


class PrismStartError(RuntimeError):
    pass


@dataclass
class PrismServer:
    """One running `prism mock` process."""

    mode: Mode
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""

    @classmethod
    def start(cls, mode: Mode, log_dir: Path) -> PrismServer:
        if not os.access(PRISM, os.X_OK):
            raise PrismStartError(f"{PRISM} is missing: run `make install` (npm ci installs it from package-lock.json)")
        log_path = log_dir / f"prism-{mode}.log"
        # --errors: a response Prism cannot make valid (a spec example that breaks its own schema)
        # becomes an error response, so it fails the test instead of passing unnoticed.
        command = [str(PRISM), "mock", str(SPEC_PATH), "--host", "127.0.0.1", "--port", "0", "--errors"]
        if mode == "dynamic":
            command.append("--dynamic")
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,  # its own process group: stop() ends node and anything it forks
            )
        server = cls(mode, process, log_path)
        try:
            server.url = server._wait_until_listening()
            server._wait_until_answering()
        except BaseException:
            server.stop()
            raise
        return server

    def _log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def _fail(self, what: str) -> PrismStartError:
        tail = self._log_text()[-2000:]
        return PrismStartError(f"Prism ({self.mode}) {what}; log {self.log_path}:\n{tail}")

    def _wait_until_listening(self) -> str:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            match = _LISTENING.search(self._log_text())
            if match:
                return f"http://127.0.0.1:{match.group(1)}"
            if self.process.poll() is not None:
                raise self._fail(f"exited with status {self.process.returncode} before listening")
            time.sleep(0.05)
        raise self._fail(f"did not listen within {_START_TIMEOUT_S:.0f} s")

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            try:
                # No token: Prism answers the spec's 401, which proves it routes with the spec loaded.
                response = httpx.get(self.url + "/", headers={"Accept": VND}, timeout=5.0)
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise self._fail("does not answer") from None
                time.sleep(0.05)
                continue
            if response.status_code != 401:
                raise self._fail(f"answered an unauthenticated Get Exports with {response.status_code}")
            return

    def stop(self) -> None:
        """End the process group (SIGTERM, then SIGKILL) and reap the process."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(_STOP_TIMEOUT_S)
        # Anything node forked into the group (nothing, without --multiprocess) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


# ---- what Prism says about a request ----


def violations(response: httpx.Response) -> list[dict[str, Any]]:
    """Prism's `sl-violations` header as a list ([] when absent). A header that is not the JSON
    Prism writes counts as one violation, so it cannot pass unnoticed."""
    raw = response.headers.get("sl-violations")
    if raw is None:
        return []
    try:
        parsed = json.loads(raw)
    except ValueError:
        return [{"location": ["unparsed"], "message": raw}]
    return parsed if isinstance(parsed, list) else [{"location": ["unparsed"], "message": raw}]


# ---- transports that apply Prism controls and record every exchange ----


@dataclass
class Exchange:
    """One attempt as it went over the wire, with the response body read."""

    request: httpx.Request
    response: httpx.Response
    controls: Mapping[str, str]
    dropped_prefer: bool

    @property
    def body(self) -> bytes:
        return self.response.content

    def json(self) -> Any:
        return json.loads(self.response.content)

    def to_record(self) -> dict[str, Any]:
        """A JSON-friendly copy, for the files a failing test leaves behind."""
        return {
            "request": {
                "method": self.request.method,
                "url": str(self.request.url),
                "headers": dict(self.request.headers),
                "body": self.request.content.decode("utf-8", "replace"),
            },
            "prism_controls": dict(self.controls),
            "prefer_dropped_for_prism": self.dropped_prefer,
            "response": {
                "status": self.response.status_code,
                "headers": dict(self.response.headers),
                "body": self.response.content.decode("utf-8", "replace"),
            },
        }


@dataclass
class _Recorder:
    controls: dict[str, str] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list)

    def prepare(self, request: httpx.Request) -> tuple[dict[str, str], bool]:
        controls = dict(self.controls)
        if controls:
            request.url = request.url.copy_merge_params(controls)
            if "prefer" in request.headers:
                # Prism would read its controls from this header and ignore the query (module docstring).
                del request.headers["prefer"]
                request.extensions[_DROPPED_PREFER] = True  # a retry sends this same request again
        return controls, bool(request.extensions.get(_DROPPED_PREFER))

    def take(self) -> list[Exchange]:
        """The exchanges since the last call, and forget them."""
        taken, self.exchanges = self.exchanges, []
        return taken


class PrismTransport(httpx.BaseTransport, _Recorder):
    def __init__(self) -> None:
        _Recorder.__init__(self)
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        controls, dropped = self.prepare(request)
        response = self._inner.handle_request(request)
        try:
            response.read()
        finally:
            response.close()
        self.exchanges.append(Exchange(request, response, controls, dropped))
        return response

    def close(self) -> None:
        self._inner.close()


class AsyncPrismTransport(httpx.AsyncBaseTransport, _Recorder):
    def __init__(self) -> None:
        _Recorder.__init__(self)
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        controls, dropped = self.prepare(request)
        response = await self._inner.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        self.exchanges.append(Exchange(request, response, controls, dropped))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
