"""Finding an export to reuse before starting one, so a retried pipeline never starts duplicates.

Start Export is a POST: repeating it after a timeout may start a second job, and the API takes no
idempotency key. What makes it safe is domain knowledge the spec does not carry: an export is
identified by (iModel, changeset, export type); exportType comes back as `3DTILES` or `3DTiles`
(compare case-insensitively); Complete and in-flight exports can be reused, Invalid ones cannot;
without a changeset the caller means "the latest", which Get Exports lists first.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from itwin_mesh_export_generated.models import Export, ExportStatus, ExportType

from ._dates import last_modified_at

if TYPE_CHECKING:  # asyncio is imported on first use: it is a quarter of the package's import time (BENCHMARKS.md)
    import asyncio

__all__ = ["AsyncKeyedLock", "KeyedLock", "ReuseKey", "pick_reusable", "same_export_type"]

ReuseKey = tuple[str, str, str]  # (iModel id, changeset id or "", export type case-folded)
_OLDEST = datetime.min.replace(tzinfo=UTC)


def same_export_type(a: ExportType | str, b: ExportType | str) -> bool:
    """`3DTILES` and `3DTiles` are the same type; so are any two spellings differing in case."""
    return str(a).casefold() == str(b).casefold()


def _reusable_rank(export: Export) -> int | None:
    """0 for Complete, 1 for in flight (NotStarted, InProgress, or a status this version does not
    know, which the waiter also treats as not finished), None for Invalid."""
    if export.status is ExportStatus.COMPLETE:
        return 0
    if export.status is ExportStatus.INVALID:
        return None
    return 1


def _changeset_order(export: Export, position: int) -> tuple[int, int]:
    """Sort key, larger is newer: the changeset index when the server gives it, else list order
    (Get Exports without a changeset filter lists the newest changeset first)."""
    index = export.request.changeset_index
    if isinstance(index, str) and index.strip().isascii() and index.strip().isdigit():  # not "²": isdigit, no int
        return (1, int(index))
    return (0, -position)


def pick_reusable(
    exports: Iterable[Export], *, imodel_id: str, changeset_id: str | None, export_type: ExportType | str
) -> Export | None:
    """The export to reuse for (iModel, changeset, type), or None to start one.

    With a changeset: a Complete export of it if there is one, else an in-flight one. Without:
    only exports of the newest changeset that has an export of that type count; if those are all
    Invalid, None (a new export of the latest changeset is what the caller wants).
    """
    matching: list[tuple[int, Export]] = []
    for position, export in enumerate(exports):
        request = export.request
        if request.i_model_id != imodel_id or not same_export_type(request.export_type, export_type):
            continue
        if changeset_id is not None and request.changeset_id != changeset_id:
            continue
        matching.append((position, export))
    if not matching:
        return None
    if changeset_id is None:
        newest = max(matching, key=lambda item: _changeset_order(item[1], item[0]))[1].request.changeset_id
        matching = [(p, e) for p, e in matching if e.request.changeset_id == newest]
    candidates = [(rank, e) for _, e in matching if (rank := _reusable_rank(e)) is not None]
    if not candidates:
        return None
    best_rank = min(rank for rank, _ in candidates)
    best = [e for rank, e in candidates if rank == best_rank]
    return max(best, key=lambda e: last_modified_at(e) or _OLDEST)


class KeyedLock:
    """One lock per key, dropped when nobody holds or waits for it: concurrent `ensure_export`
    calls for the same export in one process take turns, different exports do not."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[ReuseKey, tuple[threading.Lock, list[int]]] = {}

    @contextmanager
    def hold(self, key: ReuseKey) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users[0] -= 1
                if users[0] == 0:
                    del self._locks[key]


class AsyncKeyedLock:
    """`KeyedLock` for the tasks of one event loop."""

    def __init__(self) -> None:
        self._locks: dict[ReuseKey, tuple[asyncio.Lock, list[int]]] = {}

    @asynccontextmanager
    async def hold(self, key: ReuseKey) -> AsyncIterator[None]:
        import asyncio

        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[key]
