"""The download engine's defaults, importable without the engine.

The clients' `download_export` signatures use them; importing the engine itself (anyio, thread
pools, hashing, the state machine) is about a quarter of the package's import time, which a
program that never downloads should not pay (BENCHMARKS.md, import time).
"""

from __future__ import annotations

import httpx

__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_TIMEOUT", "MAX_CONCURRENCY"]

DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 256
# Storage reads can stall longer than API calls (large blobs, cold CDN edges): a longer read timeout.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=None)
