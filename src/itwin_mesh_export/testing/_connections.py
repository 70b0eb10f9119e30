"""The TCP connection behind a request, so that a fault can reset it.

ASGI gives an application no handle on its connection, and closing a response early only sends
a FIN (which `truncate` faults use). A real reset (RST) needs SO_LINGER set to zero on the socket
before it closes. This module hands uvicorn a subclass of its own h11 protocol that records each
connection's transport under the peer address that uvicorn also puts in `scope["client"]`; the
`reset` and `truncate` faults look the transport up there. Nothing else of uvicorn is changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["ConnectionRegistry"]


class ConnectionRegistry:
    """Live connections of one service, by peer address."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_peer: dict[tuple[str, int], asyncio.Transport] = {}

    def protocol_class(self) -> type[asyncio.Protocol]:
        """An `H11Protocol` subclass that registers its connection here (pass as uvicorn `http=`)."""
        registry = self

        class RecordingH11Protocol(H11Protocol):
            def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
                super().connection_made(transport)
                if self.client is not None:
                    with registry._lock:
                        registry._by_peer[self.client] = transport

            def connection_lost(self, exc: Exception | None) -> None:
                if self.client is not None:
                    with registry._lock:
                        if registry._by_peer.get(self.client) is self.transport:
                            del registry._by_peer[self.client]
                super().connection_lost(exc)

        return RecordingH11Protocol

    async def close(self, client: Any, *, reset: bool, grace_s: float = 0.2) -> bool:
        """Close the connection of `client` (a scope's "client") once its written bytes are out.

        `reset=True` sends a TCP reset (RST), otherwise a normal close (FIN). Waits until the
        transport's buffer is empty and `grace_s` more, so the peer has read what was sent, and
        after closing until uvicorn has seen the connection go (then it does not log the
        unfinished response as an application error). False when the connection is unknown.
        """
        if not isinstance(client, tuple | list) or len(client) != 2:
            return False
        peer = (str(client[0]), int(client[1]))
        with self._lock:
            transport = self._by_peer.get(peer)
        if transport is None or transport.is_closing():
            return False
        for _ in range(200):
            if transport.get_write_buffer_size() == 0:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(grace_s)
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):  # the peer may already be gone
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
        for _ in range(200):
            with self._lock:
                if self._by_peer.get(peer) is not transport:
                    break
            await asyncio.sleep(0.005)
        return True
