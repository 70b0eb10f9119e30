"""How long a file download waits before trying again, and when it gives up.

The storage (Azure Blob, or a CDN) is not the API, so this policy is the downloader's own: a
failed attempt that wrote no new byte counts against `max_retries`; one that made progress resets
the count, so a flaky connection that keeps delivering finishes a large file.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from ._retry import retry_after_s

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "parse_retry_after_s"]

# Statuses worth another attempt: timeouts, throttling and server-side failures. Azure Blob
# answers 503 ServerBusy and 500 OperationTimedOut; CDNs answer 502/504 when the origin stalls.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# First backoff (s), its growth cap (s): 0.5, 1, 2, 4, 8, 8 ... with jitter in [50%, 100%].
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
# Default number of attempts in a row that may fail without progress, after the first one.
DEFAULT_MAX_RETRIES = 5
# A Retry-After longer than this is not slept through silently: the file fails instead.
DEFAULT_MAX_RETRY_AFTER_S = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff schedule for one file's attempts. `random` is injectable for reproducible tests."""

    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S
    random: Callable[[], float] = random.random

    def backoff_s(self, failures: int) -> float:
        """The pause before the next attempt after `failures` failed attempts in a row (>= 1)."""
        ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** max(0, failures - 1))
        return ceiling * (0.5 + self.random() / 2)


def parse_retry_after_s(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None when
    absent or unreadable. Never negative.

    Read exactly as the API client reads it (`_retry.retry_after_s`, one rule for both): a
    negative or non-finite number of seconds is unreadable, so the backoff applies, where reading
    it as 0 would retry at once against a storage that is throttling; a date in the past means now."""
    if value is None:
        return None
    return retry_after_s({"retry-after": value}, now())
