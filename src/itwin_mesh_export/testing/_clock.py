"""The service's sense of time: every expiry and status change reads one injectable clock.

Exports progress, tokens expire and signatures lapse by this clock, so tests can move time
forward (`ManualClock.advance`) or speed it up (`ScaledClock`) instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "ScaledClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything with `now()`: seconds since the Unix epoch, as a float."""

    def now(self) -> float: ...


class SystemClock:
    """The wall clock (`time.time()`)."""

    def now(self) -> float:
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that moves only when told to: `advance(seconds)` or `set(epoch_s)`. Thread-safe."""

    def __init__(self, start_epoch_s: float = 1_724_296_723.0) -> None:
        # Default start: 2024-08-22T03:18:43Z, the timestamp of the reference pages' examples.
        self._now = float(start_epoch_s)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by `seconds` (not backward) and return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward; got advance({seconds!r})")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, epoch_s: float) -> None:
        """Jump to `epoch_s` (any direction: a test may want a clock that went back)."""
        with self._lock:
            self._now = float(epoch_s)

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now()!r})"


class ScaledClock:
    """Wall time that passes `factor` times faster from the moment the clock is made.

    `ScaledClock(60)` turns a one-hour link lifetime into one real minute, and a 30 s export into
    half a second, while every timestamp the service shows still moves forward consistently.
    """

    def __init__(
        self, factor: float, *, start_epoch_s: float | None = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if not factor > 0:
            raise ValueError(f"a time scale must be positive; got {factor!r}")
        self.factor = float(factor)
        self._monotonic = monotonic
        self._origin_real = monotonic()
        self._origin_epoch = time.time() if start_epoch_s is None else float(start_epoch_s)

    def now(self) -> float:
        return self._origin_epoch + (self._monotonic() - self._origin_real) * self.factor

    def __repr__(self) -> str:
        return f"ScaledClock(factor={self.factor!r})"
