"""The paragraphs BENCHMARKS.md prints beside its rows: what was profiled, what was fixed, and, where
a target is missed, what remains and why. Keyed by `Row.key`. Written by hand, after profiling;
the report prints MISSED[key] only when that row's target is missed in the run being reported."""

from __future__ import annotations

__all__ = ["FIXED", "MISSED", "UNMEASURED_NOTE"]

UNMEASURED_NOTE = (
    "Missed in this run, and no note has been written for it yet: profile it (pyinstrument is pinned in "
    "requirements/dev.txt) and add what you find to `benchmarks/notes.py`."
)

MISSED: dict[str, str] = {
    "per-call-sync": (
        "Profiled with cProfile (process-CPU timer) on 3,000 calls: the overlay's own frames (auth flow, "
        "retry transport, contextvars, the generated `_get_kwargs`/`_build_response`, `Export.from_dict` "
        "and `check_export`, about 5 µs together) are small next to httpx's request pipeline, which both "
        "sides pay. Earlier fixes already removed the two largest overlay costs (no cookie jar: ~15 µs; no "
        "empty `params` merge: ~15% of a call, both in `_http_client.py`). The ratio moves by ±0.1 between "
        "runs on a loaded machine; what remains is one extra URL parse per call (the generated functions "
        "pass a relative URL that httpx merges with the base URL), which only building requests by hand "
        "would avoid, and the design forbids that."
    ),
    "per-call-async": (
        "Profiled with cProfile (process-CPU timer) and by A/B in one process (3,000 calls, load ~7): "
        "overlay 696 µs, overlay with the retry transport's in-attempt body read switched off 705 µs, raw "
        "httpx 630 µs, so reading the body inside the retry attempt (what makes a reset mid-body "
        "retryable) costs nothing measurable. The overlay's extra is spread thin: the async auth flow "
        "generator, the contextvar set/reset around each generated call, the in-flight semaphore (~1 µs "
        "uncontended), one extra URL parse for the relative URL the generated function passes (httpx "
        "merges it with the base URL), `from_dict` and `check_export` (~5 µs). On a quiet machine the "
        "same code measured 1.00x in the smoke run; under load the async path's ratio moves by ±0.1. What "
        "remains is httpx's async machinery (anyio cancel scopes, sniffio look-ups), which both sides pay, "
        "and the URL merge, which only hand-built requests would avoid (the design forbids them)."
    ),
    "listing-sync": (
        "Profiled with cProfile: per export, `Export.from_dict` costs about 1.5x its share of `json.loads`; "
        "its largest parts are the two enum look-ups through `EnumType.__call__` (~0.37 µs each, against "
        "~0.03 µs for a dict look-up), `ExportStatsDisplay.from_dict` (10 optional fields and a datetime "
        "parse, ~1.1 µs), `ExportResultBody.from_dict` (~1 µs) and the overlay's `check_export` (~0.35 "
        "µs). The next step is a generator-template change (a dict look-up for listed enum values, in "
        "`str_enum.py.jinja` and the enum property template), never a hand edit of the generated code."
    ),
    "listing-async": (
        "As for the sync listing (same model building); the async client adds httpx's async per-request "
        "cost on each of the 100 pages, which is amortised over 100 exports per page."
    ),
    "peer-per-call": (
        "Profiled: the gap is the transport, not the overlay. In the same rounds raw httpx + `json.loads` "
        "alone costs more CPU per call than the whole peer (urllib3 over `http.client`, pydantic-core "
        "validation in Rust): httpx builds and parses URLs in pure Python, keeps header models and drives "
        "h11's event machinery and its auth/redirect generators per request. The overlay stays within a "
        "few percent of raw httpx (row 1). httpx is the design's choice (auth, retry and mock transports "
        "at its seams, one API for sync and async); the peer has no async client, retries, typed errors "
        "or token refresh. Closing this gap would mean replacing httpx, which this project does not do."
    ),
    "peer-listing": (
        "The peer's generated page parser cannot list full exports at all (`oneOf` Export/ExportSummary "
        "matches both, because its pydantic models ignore `additionalProperties: false`); the peer row "
        "builds each item with its `Export` model instead. Where it is ahead, it is pydantic-core's "
        "compiled validation against attrs models built in Python; see the listing note."
    ),
    "waiting-requests": (
        "The waits poll at `poll_interval_s` and back off by 1.5x up to 30 s, with jitter that only "
        "lengthens the wait (`_waiting.py`), so by construction an export is polled at most once per "
        "interval; a value above 1 means the retries of failed polls (429/5xx) were counted too."
    ),
    "waiting-rss": (
        "Each wait is one coroutine and one `WaitState` (slots); the memory is httpx's pool and the "
        "responses in flight, bounded by the 100-request semaphore."
    ),
    "download-small": (
        "Profiled the sync driver's worker thread with cProfile (wall timer) at concurrency 1 on 400 tiles: "
        "the time is in socket send/recv and httpx/h11 per-request work, the same calls the baseline makes; "
        "the engine's extra per file (partial file created in its state directory, renamed into place, a "
        "journal line, SHA-256 inline for small files) is a few hundred µs of the ~2 ms a tile costs. With "
        "the profiler on, the engine was faster than the baseline in both of two rounds (1.22 s vs 1.68 s); "
        "the local service (uvicorn, one Python process) sets the pace, and on a loaded 2-core machine the "
        "ratio swings with it. What remains is the safety and resumability work per file, which the "
        "baseline does not do (no atomic rename, no journal, no checksum)."
    ),
    "download-small-c1": (
        "See the concurrency-16 row: the same per-file work, without concurrency to hide it behind the server's time."
    ),
    "download-speedup": (
        "On loopback a request has no network latency to overlap: concurrency can only overlap client and "
        "server CPU, and the server (uvicorn, one Python process) is saturated at concurrency 1 already, as "
        "the plain-httpx baseline shows with the same speedup. Against real storage, where each request "
        "waits tens of milliseconds, concurrency hides that wait; both drivers keep "
        "`concurrency` files in flight (`_download.py`), which this loopback run cannot show."
    ),
    "download-large": (
        "A single 1 GiB file is one stream: hashing runs on a helper thread so it overlaps the socket "
        "reads (`_partial_file.BackgroundHash`); the engine costs more CPU per MiB than the baseline "
        "(SHA-256 of every byte), which overlaps rather than adds on two cores. On a loaded machine the "
        "second core is not free, and the hash then adds to the wall time."
    ),
    "download-large-rss": (
        "Chunks are written as they arrive and handed to the hashing thread through a bounded queue "
        "(8 batches of 1 MiB), so memory stays flat whatever the file size."
    ),
    "import": (
        "Profiled with `python -X importtime` (the breakdown row): beyond httpx, the package imports asyncio "
        "(the async client, its token lock and retries), attrs and the generated package (attrs builds "
        "each model class's methods at import, ~1.3 ms per class, 21 classes), the download engine (anyio, "
        "hashlib, thread pools; `_client.py` imports it at module level for `download_export`) and its own "
        "modules. None of this is in `import httpx`. Nothing was changed here: the asyncio, attrs and "
        "generated-package shares are needed by the first API call anyway (the next row), so lazy imports "
        "would move them, not remove them. The download engine's share could be deferred with PEP 562 "
        "lazy attributes in `__init__.py` and method-local imports in `_client.py`; that was left for a "
        "change of its own because those modules were being edited by others while this was measured."
    ),
}

FIXED: dict[str, str] = {
    "waiting-cpu": (
        "Fixed here. Before: 1,000 concurrent `wait_for_export` calls cost 26.3 ms of client CPU per "
        "request (29 s of CPU for 1,100 requests), and the last wait returned 31 s after the start for "
        "exports Complete at 12 s: every poll queued inside httpcore's connection pool, which re-examines "
        "every queued request whenever a connection changes state. After: `APIAsyncClient` lets at most "
        "100 requests (the pool's size) into the pool and queues the rest on a semaphore "
        "(`_http_client.DEFAULT_MAX_IN_FLIGHT`, tested in tests/overlay/test_in_flight.py): 1.3 ms per "
        "request, 5.6 s of CPU, the same per request as a raw httpx poller with its own semaphore, under "
        "the same load."
    ),
    "listing-sync": (
        "Fixed before this benchmark existed, in the generator step (`generator/templates/model.py.jinja`, "
        "reason at its top): referenced models imported once per module instead of inside every "
        "`from_dict`, and no copy of the input dict: `ExportsPage.from_dict` of 100 full exports went "
        "from 8.7x to 3.9x the cost of `json.loads`, which is what brings listing above 0.5x."
    ),
}
