"""Responses that break on purpose: cut short, reset, or stalled in the middle of the body.

`BodyResponse` is Starlette's `StreamingResponse` (which stops streaming when the client goes
away) with the body faults added at the one point they need: between two pieces of the body.
Without a fault it streams the pieces as they come; a HEAD request gets the headers only, and
the pieces are never produced.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ._connections import ConnectionRegistry
from ._faults import Fault, FaultKind

__all__ = ["BodyResponse"]

STREAM_FAULTS = frozenset({FaultKind.RESET, FaultKind.TRUNCATE, FaultKind.STALL})


async def _aiter(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    # The pieces are cheap to make (a slice of a pattern, at most a MiB): no thread pool needed.
    for piece in pieces:
        yield piece


class BodyResponse(StreamingResponse):
    """A body of known `length` sent piece by piece, honouring a reset/truncate/stall fault."""

    def __init__(
        self,
        pieces: Iterable[bytes],
        *,
        length: int,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        fault: Fault | None = None,
        connections: ConnectionRegistry | None = None,
    ) -> None:
        all_headers = {"content-length": str(length), **(headers or {})}
        super().__init__(_aiter(pieces), status_code=status_code, headers=all_headers, media_type=media_type)
        self.length = length
        self.fault = fault if fault is not None and fault.kind in STREAM_FAULTS else None
        self.connections = connections
        self._scope: Scope | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._scope = scope
        if scope.get("method") == "HEAD":
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await super().__call__(scope, receive, send)

    def _cutoff(self) -> int:
        assert self.fault is not None
        cutoff = self.fault.after_bytes if self.fault.after_bytes is not None else self.length // 2
        if self.fault.kind is not FaultKind.STALL:
            cutoff = min(cutoff, max(self.length - 1, 0))  # a cut after the last byte would cut nothing
        return cutoff

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        fault = self.fault
        cutoff = self._cutoff() if fault is not None else -1
        sent = 0
        cut_done = fault is None
        async for piece in self.body_iterator:
            data = piece if isinstance(piece, bytes) else bytes(piece)  # type: ignore[arg-type]
            if not cut_done and sent + len(data) >= cutoff:
                head, data = data[: cutoff - sent], data[cutoff - sent :]
                if head:
                    await send({"type": "http.response.body", "body": head, "more_body": True})
                    sent += len(head)
                cut_done = True
                assert fault is not None
                if fault.kind is FaultKind.STALL:
                    await asyncio.sleep(fault.stall_s)
                else:
                    await self._break(fault)
                    return
            if data:
                await send({"type": "http.response.body", "body": data, "more_body": True})
                sent += len(data)
        if not cut_done and fault is not None:
            # An empty body: the cut comes right after the headers.
            if fault.kind is FaultKind.STALL:
                await asyncio.sleep(fault.stall_s)
            else:
                await self._break(fault)
                return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _break(self, fault: Fault) -> None:
        """End the response early: a TCP reset (reset) or a normal close (truncate).

        Either way the client has fewer bytes than Content-Length announced. (Should the
        connection be unknown, returning without the final body message makes uvicorn close it.)
        """
        if self.connections is not None and self._scope is not None:
            await self.connections.close(self._scope.get("client"), reset=fault.kind is FaultKind.RESET)
