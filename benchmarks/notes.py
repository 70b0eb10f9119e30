"""The paragraphs BENCHMARKS.md prints beside its rows: what was profiled, what was fixed, and, where
a target is missed, what remains and why. Keyed by `Row.key`. Written by hand, after profiling;
the report prints MISSED[key] only when that row's target is missed in the run being reported.

A note is text, or a function of the run's rows (by key) that returns text: figures the run
measures are taken from the rows, never typed in (the figures typed in below are from the
profiling or the earlier runs each note names)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ._common import Row, fmt_s, fmt_x

__all__ = ["FIXED", "MISSED", "UNMEASURED_NOTE", "Note", "note_text"]

Note = str | Callable[[Mapping[str, Row]], str]


def note_text(note: Note, rows: Mapping[str, Row]) -> str:
    """The paragraph of a note for this run's rows."""
    return note if isinstance(note, str) else note(rows)


def _import_figures(rows: Mapping[str, Row]) -> str:
    """This run's import rows in one sentence: the import, what a first call and the engine add,
    and where the first call's time goes (the breakdown row)."""
    bare, call, engine = rows.get("import"), rows.get("import-first-call"), rows.get("import-download")
    if bare is None or call is None or engine is None or "baseline_wall_s" not in bare.values:
        return "(This run's results do not carry the import figures: rerun `make bench`.)"
    base = bare.values["baseline_wall_s"]
    text = (
        f"This run: `import itwin_mesh_export` {fmt_s(bare.values['wall_s'])} against `import httpx` "
        f"{fmt_s(base)} ({fmt_x(bare.values['wall_ratio'])}); with a client built and `get_export` bound, "
        f"{fmt_s(call.values['wall_s'])} ({fmt_x(call.values['wall_ratio'])}); with `download_tileset` "
        f"looked up, {fmt_s(engine.values['wall_s'])} ({fmt_x(engine.values['wall_ratio'])})."
    )
    split = rows.get("import-breakdown")
    if split is not None and "httpx_transport_s" in split.values:  # results older than this row say less
        v = split.values
        text += (
            f" Of the first call's {fmt_s(v['wall_s'])} after httpx (breakdown row), imports take "
            f"{fmt_s(v['imports_s'])}: httpx's own transport {fmt_s(v['httpx_transport_s'])} (httpcore, "
            "h11, anyio and certifi, which any httpx client loads when it is built), attrs "
            f"{fmt_s(v['attrs_s'])}, the generated package {fmt_s(v['generated_package_s'])}, the "
            f"overlay's modules {fmt_s(v['overlay_modules_s'])}; building the client, which is not "
            f"importing, {fmt_s(v['other_s'])}."
        )
    return text


def _import_fixed(rows: Mapping[str, Row]) -> str:
    return (
        "Fixed here: `import itwin_mesh_export` loaded asyncio and the download engine (anyio, thread "
        "pools, hashing, the state machine), which a program that never downloads or never uses the async "
        "client does not need. Now only the error tree and the version load with the package; the clients, "
        "token providers, models (the generated package, built with attrs) and the download engine load on "
        "first use (PEP 562 `__getattr__` in `__init__.py`, method-local imports in the clients, the "
        "engine's defaults in `_download_defaults.py`), and asyncio is imported where async code runs; "
        "tests/overlay/test_lazy_imports.py pins which modules the import leaves out. Before: 1.73x httpx "
        "(full run, load 5.5: asyncio 21 ms, attrs 18, generated package 25, download engine 29, the rest 23 "
        f"of 116 ms). {_import_figures(rows)} So for a program that makes an API call, the lazy loading moves "
        "the cost of the models and the client from the import to the first call; what it saves is asyncio "
        "and the download engine, for a program that never uses the async client or never downloads."
    )


def _import_missed(rows: Mapping[str, Row]) -> str:
    return (
        "Not profiled in this state (the package loads lazily, see the note on what was fixed): the import "
        "itself loads only `__init__.py`, the error classes and the version, so a miss is worth checking "
        "with `python -X importtime -c 'import httpx, itwin_mesh_export'` and an A/B of the two imports "
        f"before anything is changed. {_import_figures(rows)}"
    )


UNMEASURED_NOTE = (
    "Missed in this run, and no note has been written for it yet: profile it (pyinstrument is pinned in "
    "requirements/dev.txt) and add what you find to `benchmarks/notes.py`."
)

MISSED: dict[str, Note] = {
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
        "Profiled again after the change described below (A/B variants of the engine in interleaved "
        "rounds with plain httpx, 2,000 tiles at concurrency 16): what the engine still does that the "
        "baseline does not is the SHA-256 of every tile for the manifest (switched off, the ratio moved "
        "by 0.02 to 0.06), one rename into place and one journal line per file (the journal alone about "
        "0.01: it is still written line by line, since a batched journal would make a kill -9 forget "
        "files already in place), and the completeness check and the manifest at the end (~30 ms of a "
        "~2.7 s round). On this 2-core machine, which the one-process storage shares, the ratio of single "
        "rounds spreads by about ±0.08 around the median, so a median of a few rounds can land below 0.9 "
        "on a busy run: compare with an A/B run before profiling again."
    ),
    "download-small-c1": (
        "The same per-file work as at concurrency 16 (see that row), without other files in flight to "
        "overlap it with the server's time."
    ),
    "download-speedup": (
        "With storage latency added, concurrency hides the wait as long as the server keeps up; on a loaded "
        "2-core machine the one-process local service and the client compete for the same cores. The "
        "plain-httpx baseline in the same rounds shows what the machine allows."
    ),
    "download-large": (
        "Profiled by switching the engine's SHA-256 off (A/B on 512 MiB, two rounds, load ~4): without "
        "hashing the engine took 1.12-1.44 s against the baseline's 1.34 s, with it 1.70-2.02 s. The whole "
        "gap is the SHA-256 of every byte, which the manifest records (`verify_download`, and a resume after "
        "a reboot re-checks files by it); the baseline computes no checksum. The engine already hashes on a "
        "helper thread (`_partial_file.BackgroundHash`) so that hashing overlaps the socket reads, but on 2 "
        "cores with the server using one, that thread has no free core. The row also shows plain httpx that "
        "hashes as it downloads: that is the same work as the engine's, done inline. Single rounds of this "
        "row spread widely on this machine (from 0.57x to 1.05x; two full runs of three rounds each, same "
        "code, gave 0.62x and 0.81x), which is why the full run now takes seven. The small-file changes "
        "(a bare file descriptor instead of io.FileIO, "
        "partial files in subdirectories, workers that take their own files) leave the per-byte path as it "
        "was: A/B over 8 fresh-process rounds, 0.82x (1.73x CPU) before, 0.87x (1.64x CPU) after."
    ),
    "download-large-rss": (
        "Chunks are written as they arrive and handed to the hashing thread through a bounded queue "
        "(8 batches of 1 MiB), so memory stays flat whatever the file size."
    ),
    "import": _import_missed,
}

FIXED: dict[str, Note] = {
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
        "from 8.7x to 3.9x the cost of `json.loads`, which is what brings listing above 0.5x. Profiled "
        "again here (cProfile): the next candidate is the two enum look-ups per export through "
        "`EnumType.__call__` (~0.3 µs each against ~0.03 µs for a dict look-up), about 4% of an export's "
        "cost; a template that did it was written and measured, and left out because the target is met "
        "and it needs Enum's private `_value2member_map_` in generated code."
    ),
    "download-small": (
        "Fixed first: the storage client kept httpx's cookie jar, which parses every response for cookies "
        "(`CookielessClient`, shared with the API clients, now), and each tile's signed URL was redacted "
        "for a debug line even when nothing logs it (~25 µs; now only when shown). Then the engine's "
        "driver and its per-file disk work. Profiled with cProfile (thread-CPU timers in every worker), "
        "strace -c and perf stat: the workers were busy, but the process spent 1.35x the baseline's CPU "
        "per tile at concurrency 16 against 1.08x at 1. Per tile, a scheduling thread was woken and "
        "handed the next file back to a pool thread; ten system calls went where the baseline makes "
        "five (a mkdir of the parts directory, a sidecar open and a stat that found nothing, io.open's "
        "fstat and lseek, a mkdir of the target directory, the rename, a flushed journal write), each a "
        "GIL hand-off among 16 threads (311k futex calls for 2,000 tiles, the baseline 160k); and all "
        "16 workers created their partial files in one directory and renamed them out of it, queueing "
        "on that directory's kernel lock (16 threads: 1.2 ms of CPU per file, 0.6 ms with the files "
        "spread). Now each worker takes its next file from the plan and records it there itself, in "
        "both drivers (`_download.py`); an earlier run's partial files are listed once at the start, so "
        "a new one is created with a single os.open; the target directory is made only when the rename "
        "finds it missing; the journal line is one os.write, still written as soon as the file is in "
        "place; partial files are spread over 16 subdirectories (`_partial_file.py`). Per tile: open, "
        "write, close, rename, one journal write (110k futex calls). A/B, 6 interleaved rounds, load "
        "~1.5: concurrency 16 0.70x -> 0.77x (driver) -> 0.92x (disk work), concurrency 1 0.94x -> "
        "1.03x -> 1.04x. Full runs: before, 0.69x (1.35x CPU) and 0.92x on a quiet machine; after, "
        "0.98x (1.02x CPU) and 1.04x (full run, 2026-11-28, mean load 1.07). The guarantees are those of "
        "before: a kill -9 at any "
        "moment resumes to a byte-identical tree (tests/reliability/test_kill_restart.py), a file gets "
        "its name only by the rename of a complete file, one link refresh for all files in flight."
    ),
    "import": _import_fixed,
}
