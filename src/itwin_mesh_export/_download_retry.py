"""How long a file download waits before trying again, and when it gives up.

The storage (Azure Blob, or a CDN) is not the API, but the waits are the API client's
(`_retry`): the same backoff (0.5 s, 1 s, 2 s ... up to 8 s, up to half taken off at random), the
same reading of `Retry-After`/`retry-after-ms`, the same 60 s cap by default. What differs is
when to stop: a failed attempt that wrote no new byte counts against `max_retries`; one that made
progress resets the count, so a flaky connection that keeps delivering finishes a large file.
Which statuses are retried is `_partial_file.judge_response`'s decision.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from . import _retry
from ._exceptions import InvalidArgumentError

__all__ = ["DEFAULT_MAX_RETRIES", "DEFAULT_MAX_RETRY_AFTER_S", "RetryPolicy"]

# Default number of attempts in a row that may fail without progress, after the first one.
DEFAULT_MAX_RETRIES = 5
# A Retry-After longer than this is not slept through: the file fails instead.
DEFAULT_MAX_RETRY_AFTER_S = _retry.RETRY_AFTER_CAP_S


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff schedule for one file's attempts. `random` is injectable for reproducible tests.
    Raises InvalidArgumentError for a bad value, as `_retry.RetryPolicy` does."""

    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S
    random: Callable[[], float] = random.random
    _backoff: _retry.RetryPolicy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise InvalidArgumentError(f"max_retries must be an integer >= 0, got {self.max_retries!r}")
        value = self.max_retry_after_s
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise InvalidArgumentError(f"max_retry_after_s must be a finite number >= 0, got {value!r}")
        object.__setattr__(self, "_backoff", _retry.RetryPolicy(random=self.random))

    def backoff_s(self, failures: int) -> float:
        """The pause before the next attempt after `failures` failed attempts in a row (>= 1)."""
        return self._backoff.backoff_s(failures)
