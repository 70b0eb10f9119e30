"""`python -m benchmarks`: run every measurement of issue 7 and write BENCHMARKS.md.

    python -m benchmarks                      # the full run (`make bench`), ~6-7 minutes on 2 cores
    python -m benchmarks --size smoke --out /tmp/B.md   # every code path at a tiny size, seconds
    python -m benchmarks --render-only build/bench/full/results.json   # rewrite BENCHMARKS.md from a
                                              # run's results, after editing benchmarks/notes.py

Exit status 1 when a measurement failed (its error is in the report); missed targets do not
change the exit status: they are results.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from . import download, generation, import_time, listing, per_call, waiting
from ._common import SIZES, Context, Row
from ._harness import ROOT
from .report import LoadRecord, render

__all__ = ["MEASUREMENTS", "main"]

# In the order they run: the quiet ones first, the heavy ones last.
MEASUREMENTS: dict[str, Callable[[Context], list[Row]]] = {
    "import": import_time.measure,
    "generation": generation.measure,
    "per-call": per_call.measure,
    "listing": listing.measure,
    "waiting": waiting.measure,
    "download": download.measure,
}


class _LoadSampler:
    def __init__(self, every_s: float = 5.0) -> None:
        self._samples: list[float] = []
        self._stop = threading.Event()
        self._every_s = every_s
        self._thread = threading.Thread(target=self._run, name="load-sampler", daemon=True)

    def _run(self) -> None:
        while True:
            self._samples.append(os.getloadavg()[0])
            if self._stop.wait(self._every_s):
                return

    def __enter__(self) -> _LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._samples.append(os.getloadavg()[0])

    def record(self) -> LoadRecord:
        return LoadRecord(tuple(self._samples), os.cpu_count() or 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--work-dir", type=Path, help="scratch files and worker logs (default build/bench/<size>)")
    parser.add_argument("--peer-cache", type=Path, default=ROOT / "build" / "bench", help="where the peer is built")
    parser.add_argument("--skip-peer", action="store_true", help="do not build or run the peer")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(MEASUREMENTS)}")
    parser.add_argument("--render-only", type=Path, metavar="RESULTS_JSON", help="measure nothing: re-render a run")
    args = parser.parse_args(argv)
    if args.render_only is not None:
        return _render_only(args.render_only, args.out)
    size = SIZES[args.size]
    chosen = list(MEASUREMENTS) if not args.only else [m.strip() for m in args.only.split(",")]
    unknown = [m for m in chosen if m not in MEASUREMENTS]
    if unknown:
        parser.error(f"unknown measurement(s): {', '.join(unknown)}")
    work_dir = args.work_dir or ROOT / "build" / "bench" / size.name
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    ctx = Context(size, work_dir, args.peer_cache, skip_peer_reason="--skip-peer was given" if args.skip_peer else None)
    started = datetime.datetime.now().astimezone()
    t0 = time.perf_counter()
    rows: list[Row] = []
    errors: list[str] = []
    with _LoadSampler() as sampler:
        for name in chosen:
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            t = time.perf_counter()
            try:
                rows.extend(MEASUREMENTS[name](ctx))
            except Exception as exc:
                traceback.print_exc()
                errors.append(f"{name}: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}")
            print(f"[bench] {name} done in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - t0
    rows.sort(key=lambda r: r.number)
    build = ctx.shared.get("peer")
    if build is not None:
        peer = (
            f"openapi-generator {build.generator_version} `python` generator (pydantic + urllib3) from the same "
            f"spec, isolated venv pinned by `benchmarks/peer-requirements.txt`"
            + (f" (built in {build.build_s:.0f} s for this run)" if build.build_s else " (reused from the cache)")
        )
    else:
        peer = f"not run ({ctx.skip_peer_reason or 'no measurement needed it'})"
    text = render(rows, size=size, started=started, elapsed_s=elapsed, load=sampler.record(), peer=peer, errors=errors)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    results = {
        "size": size.name,
        "started": started.isoformat(),
        "peer": peer,
        "elapsed_s": elapsed,
        "load": dataclasses.asdict(sampler.record()),
        "errors": errors,
        "rows": [dataclasses.asdict(r) for r in rows],
    }
    (work_dir / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"[bench] wrote {args.out} and {work_dir / 'results.json'} in {elapsed / 60:.1f} min", file=sys.stderr)
    return 1 if errors else 0


def _render_only(results_path: Path, out: Path) -> int:
    data = json.loads(results_path.read_text(encoding="utf-8"))
    rows = [Row(**row) for row in data["rows"]]
    load = LoadRecord(tuple(data["load"]["samples"]), int(data["load"]["cores"]))
    text = render(
        rows,
        size=SIZES[data["size"]],
        started=datetime.datetime.fromisoformat(data["started"]),
        elapsed_s=float(data["elapsed_s"]),
        load=load,
        peer=data["peer"],
        errors=data["errors"],
    )
    out.write_text(text, encoding="utf-8")
    print(f"[bench] re-rendered {out} from {results_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
