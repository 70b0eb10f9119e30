"""The download engine's defaults, importable without the engine.

The clients' `download_export` signatures and the command line use them; importing the engine
itself (anyio, thread pools, hashing, the state machine) is about a quarter of the package's import
time, which a program that never downloads should not pay (BENCHMARKS.md, import time).
"""

from __future__ import annotations

import httpx

from .._retry import RETRY_AFTER_CAP_S

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_RETRY_AFTER_S",
    "DEFAULT_TIMEOUT",
    "MAX_CONCURRENCY",
]

DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 256
# Storage reads can stall longer than API calls (large blobs, cold CDN edges): a longer read timeout.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=None)
# Attempts of one file in a row that may fail without progress, after the first one (one that
# made progress resets the count, so a flaky connection that keeps delivering finishes a large file).
DEFAULT_MAX_RETRIES = 5
# A Retry-After longer than this is not slept through: the file fails instead (the API's cap).
DEFAULT_MAX_RETRY_AFTER_S = RETRY_AFTER_CAP_S
