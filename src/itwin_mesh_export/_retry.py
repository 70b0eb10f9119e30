"""Retry policy: which failures deserve another attempt, how long to wait first, and when to stop.

The generated client has no retries, and httpx's own `retries=` covers connection failures only.
What a generator cannot know is which Mesh Export calls are safe to repeat (Start Export is a POST
that creates a job) and how the platform signals overload (429 with `Retry-After`). `RetryPolicy`
is pure (no I/O, an injectable random source); the API clients' transports (`_async/transport.py`,
and its generated sync twin) and the download engine's per-file attempts both follow it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from ._exceptions import InvalidArgumentError
from ._http import retry_after_s

__all__ = [
    "BACKOFF_INITIAL_S",
    "BACKOFF_JITTER",
    "BACKOFF_MAX_S",
    "DEFAULT_DEADLINE_S",
    "DEFAULT_MAX_ATTEMPTS",
    "IDEMPOTENT_EXTENSION",
    "IDEMPOTENT_METHODS",
    "RETRY_AFTER_CAP_S",
    "RETRY_AFTER_JITTER",
    "RETRY_POLICY_EXTENSION",
    "RETRY_STATUSES",
    "RetryPolicy",
    "retry_after_s",
]

# The first attempt plus two retries, as openai-python and anthropic do.
DEFAULT_MAX_ATTEMPTS = 3
# All attempts of one request and the waits between them; each attempt's own timeouts are cut to
# what is left of it. Azure's 7-day budget never bites; two minutes does.
DEFAULT_DEADLINE_S = 120.0
# Exponential backoff when the server gives no hint: 0.5 s, 1 s, 2 s ... up to 8 s (openai's numbers).
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 8.0
# Up to half of each backoff is taken off at random, so clients that failed together come back apart.
BACKOFF_JITTER = 0.5
# A server hint longer than this is not slept through: the caller gets RateLimitError(retry_after_s)
# and decides (anthropic silently falls back to its backoff and comes back too early; openai gives up).
RETRY_AFTER_CAP_S = 60.0
# Up to 10% added to a server hint: many clients told the same `Retry-After` do not return together.
RETRY_AFTER_JITTER = 0.1
# Request timeout, rate limit, and the 5xx that mean "try again" (not 501 or 505: they will not change).
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Methods that may be repeated after the server might have acted on them. POST is not one: a Start
# Export that timed out may have started a job, and `ensure_export` is the safe way to retry it.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "PUT"})
# Failures that prove the request never reached the server: safe to retry whatever the method.
_NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures worth another attempt of an idempotent request: timeouts, resets, broken connections.
_TRANSIENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
RETRY_POLICY_EXTENSION = "itwin_mesh_export.retry_policy"
# `request.extensions[IDEMPOTENT_EXTENSION] = True` marks a request that is safe to repeat whatever
# its method: the token endpoint's POST (fetching a token twice has no effect to undo).
IDEMPOTENT_EXTENSION = "itwin_mesh_export.idempotent"
# An attempt always gets at least this long, even when the deadline is (almost) used up.
_MIN_ATTEMPT_TIMEOUT_S = 0.001


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts, how long in all, how to back off. Immutable; derive with
    `dataclasses.replace` or `client.with_options(...)`.

    `deadline_s=None` means no overall deadline (each attempt still has its own timeouts).
    `random` returns a float in [0, 1) and drives the jitter; inject a constant in tests.
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    deadline_s: float | None = DEFAULT_DEADLINE_S
    backoff_initial_s: float = BACKOFF_INITIAL_S
    backoff_max_s: float = BACKOFF_MAX_S
    retry_after_cap_s: float = RETRY_AFTER_CAP_S
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise InvalidArgumentError(f"max_attempts must be an int >= 1, got {self.max_attempts!r}")
        if self.deadline_s is not None and not _positive(self.deadline_s):
            raise InvalidArgumentError(f"deadline_s must be a number > 0 or None, got {self.deadline_s!r}")
        for name in ("backoff_initial_s", "backoff_max_s", "retry_after_cap_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise InvalidArgumentError(f"{name} must be a finite number >= 0, got {value!r}")

    def backoff_s(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based) when the server gave no hint."""
        ceiling = min(self.backoff_initial_s * 2.0 ** (attempt - 1), self.backoff_max_s)
        return ceiling * (1.0 - BACKOFF_JITTER * self.random())

    def delay_after_status(
        self,
        method: str,
        status_code: int,
        headers: Mapping[str, str],
        attempt: int,
        now_epoch_s: float,
        *,
        idempotent: bool | None = None,
    ) -> float | None:
        """Seconds to wait before another attempt after this response, or None not to retry.
        `idempotent` overrides what the method says (None: GET, DELETE... are, POST is not)."""
        if attempt >= self.max_attempts or status_code not in RETRY_STATUSES:
            return None
        # A 429 means the server refused the request without acting on it: even a POST may repeat it.
        if not _idempotent(method, idempotent) and status_code != 429:
            return None
        hint = retry_after_s(headers, now_epoch_s)
        if hint is None:
            return self.backoff_s(attempt)
        if hint > self.retry_after_cap_s:
            return None  # over the cap: the caller gets the error (RateLimitError.retry_after_s) at once
        return hint * (1.0 + RETRY_AFTER_JITTER * self.random())

    def delay_after_error(
        self, method: str, error: httpx.TransportError, attempt: int, *, idempotent: bool | None = None
    ) -> float | None:
        """Seconds to wait before another attempt after this transport failure, or None."""
        if attempt >= self.max_attempts:
            return None
        if isinstance(error, _NOT_SENT_ERRORS):
            return self.backoff_s(attempt)
        if _idempotent(method, idempotent) and isinstance(error, _TRANSIENT_ERRORS):
            return self.backoff_s(attempt)
        return None


def _idempotent(method: str, override: bool | None) -> bool:
    return method in IDEMPOTENT_METHODS if override is None else override


def _positive(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value) and value > 0
