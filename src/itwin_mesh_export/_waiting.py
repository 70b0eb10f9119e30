"""Waiting for an export to finish: the polling schedule and what each status means.

The spec lists the statuses; it cannot say which ones end a job, how often to ask, or what to do
with a status it does not list. Here: Complete ends the wait, Invalid fails it, anything else
(NotStarted, InProgress, or a value this version does not know) means "ask again later". Polls
start at `poll_interval_s` and grow by half each time up to `MAX_POLL_INTERVAL_S`, with jitter
that only lengthens the wait, so one export never costs more than one request per
`poll_interval_s`. This module does no I/O: the sync and async clients drive it, so a thousand
concurrent waits are a thousand small objects in one event loop, not a thousand threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from itwin_mesh_export_generated.models import Export, ExportStatus

from ._exceptions import (
    APIConnectionError,
    ExportFailedError,
    InternalServerError,
    InvalidArgumentError,
    MeshExportError,
    RateLimitError,
    WaitTimeoutError,
)
from ._logging import logger

__all__ = [
    "DEFAULT_POLL_INTERVAL_S",
    "DEFAULT_WAIT_TIMEOUT_S",
    "MAX_POLL_INTERVAL_S",
    "POLL_GROWTH",
    "POLL_JITTER",
    "TRANSIENT_ERRORS",
    "WaitState",
]

# Exports take minutes (first generations for an iModel longer): an hour before giving up.
DEFAULT_WAIT_TIMEOUT_S = 3600.0
# The first wait between polls; the itwin CLI polls every 5 s, CesiumJS suggests 10-20 s.
DEFAULT_POLL_INTERVAL_S = 5.0
# Each wait is this much longer than the last, up to MAX_POLL_INTERVAL_S.
POLL_GROWTH = 1.5
MAX_POLL_INTERVAL_S = 30.0
# Up to 20% added at random to each wait, so exports started together are not polled together.
POLL_JITTER = 0.2
# Failures that do not end a wait (the poll's own retries are used up, but the job goes on):
# overload, server errors, and a network that is away for a while.
TRANSIENT_ERRORS: tuple[type[MeshExportError], ...] = (RateLimitError, InternalServerError, APIConnectionError)


def _check_seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise InvalidArgumentError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


class WaitState:
    """One wait: its deadline, the next interval, the last status seen."""

    __slots__ = (
        "_clock",
        "_interval_s",
        "_last_poll_at",
        "_random",
        "_warned",
        "deadline",
        "export_id",
        "last_status",
        "max_interval_s",
        "min_interval_s",
        "started",
    )

    def __init__(
        self,
        export_id: str,
        *,
        timeout_s: float,
        poll_interval_s: float,
        clock: Callable[[], float],
        random: Callable[[], float],
    ) -> None:
        timeout_s = _check_seconds("timeout_s", timeout_s)
        self.min_interval_s = _check_seconds("poll_interval_s", poll_interval_s)
        self.max_interval_s = max(MAX_POLL_INTERVAL_S, self.min_interval_s)
        self.export_id = export_id
        self._clock = clock
        self._random = random
        self._interval_s = self.min_interval_s
        self._warned: set[str] = set()
        self.started = clock()
        self.deadline = self.started + timeout_s
        self.last_status: ExportStatus | None = None
        self._last_poll_at = self.started

    def remaining_s(self) -> float:
        return self.deadline - self._clock()

    def polled(self) -> None:
        """Note that a poll was sent now."""
        self._last_poll_at = self._clock()

    def observe(self, export: Export) -> bool:
        """Record the export's status; True when it differs from the last one seen."""
        status = export.status
        changed = self.last_status is None or status.value != self.last_status.value
        self.last_status = status
        if not status.is_known and status.value not in self._warned:
            self._warned.add(status.value)
            logger.warning(
                "export %s has status %r, which this client version does not know; waiting on as if in progress",
                self.export_id,
                status.value,
            )
        return changed

    def outcome(self, export: Export) -> Export | None:
        """The export when Complete; ExportFailedError when Invalid; None to keep waiting."""
        status = export.status
        if status is ExportStatus.COMPLETE:
            return export
        if status is ExportStatus.INVALID:
            error = export.error if isinstance(export.error, str) and export.error else None
            raise ExportFailedError(export.id, error, export)
        return None

    def next_delay_s(self, *, at_least_s: float = 0.0) -> float:
        """Seconds to sleep before the next poll. Raises WaitTimeoutError when no poll fits before
        the deadline any more (a last poll happens at the deadline if it is at least
        `poll_interval_s` after the previous one)."""
        delay = max(self._interval_s * (1.0 + POLL_JITTER * self._random()), at_least_s)
        self._interval_s = min(self._interval_s * POLL_GROWTH, self.max_interval_s)
        now = self._clock()
        remaining = self.deadline - now
        if delay <= remaining:
            return delay
        if remaining > 0 and now + remaining - self._last_poll_at >= self.min_interval_s:
            return remaining
        raise self.timeout_error()

    def timeout_error(self) -> WaitTimeoutError:
        last = self.last_status.value if self.last_status is not None else None
        return WaitTimeoutError(self.export_id, waited_s=self._clock() - self.started, last_status=last)

    def delay_after_error_s(self, error: MeshExportError) -> float:
        """Seconds to sleep after a transient poll failure (the server's Retry-After if longer)."""
        logger.warning("polling export %s failed, polling on: %s", self.export_id, error)
        hint = error.retry_after_s if isinstance(error, RateLimitError) else None
        return self.next_delay_s(at_least_s=hint or 0.0)
