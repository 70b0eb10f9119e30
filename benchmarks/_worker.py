"""One measured variant in its own process: `python -m benchmarks._worker MODULE:FACTORY ARGS_JSON`.

The factory (a function in a workload module) is called once with the JSON arguments and returns a
`round` callable; each `{"op": "run"}` line on stdin runs it once and answers one JSON line with the
round's process CPU time (`time.process_time()`, every thread of this process: the client's own
cost, the server being another process), its wall time, the units it handled, the process's peak
RSS so far, and whatever extra counts the round reports. `prepare()` and `after()` (optional, on
the callable) run before and after each round, outside the timing; `after` may add counts. Only
the standard library is imported here, so the peer's isolated virtual environment runs this file.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import resource
import sys
import time
import traceback
from typing import Any

__all__ = ["main"]


def _peak_rss_kib() -> int:
    """This process's peak RSS in KiB: `VmHWM` from /proc/self/status.

    Not `getrusage().ru_maxrss`: Linux carries the parent's high-water mark into a child across
    fork + exec (the harness's own ~67 MiB showed up as every worker's floor). Where /proc is
    absent (not Linux), `ru_maxrss` is the fallback, inheritance included (macOS reports it in bytes)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])  # "VmHWM:   12345 kB"
    except OSError:
        pass
    maxrss = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return maxrss // 1024 if sys.platform == "darwin" else maxrss


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target, options = args[0], json.loads(args[1]) if len(args) > 1 else {}
    module_name, _, factory_name = target.partition(":")
    # The protocol owns the real stdout; anything a workload prints goes to stderr.
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr

    def send(message: dict[str, Any]) -> None:
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    try:
        round_ = getattr(importlib.import_module(module_name), factory_name)(**options)
    except BaseException:
        send({"error": traceback.format_exc()})
        return 1
    send({"ready": True, "peak_rss_kib": _peak_rss_kib()})
    prepare = getattr(round_, "prepare", None)
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("op") != "run":
            break
        try:
            if prepare is not None:
                prepare()
            gc.collect()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            outcome = round_()
            wall1, cpu1 = time.perf_counter(), time.process_time()
        except BaseException:
            send({"error": traceback.format_exc()})
            return 1
        units, extra = (outcome, {}) if isinstance(outcome, int | float) else (outcome["units"], dict(outcome))
        after = getattr(round_, "after", None)
        if after is not None:
            extra.update(after())
        send(
            {
                "cpu_s": cpu1 - cpu0,
                "wall_s": wall1 - wall0,
                "units": units,
                "peak_rss_kib": _peak_rss_kib(),
                "extra": {k: v for k, v in extra.items() if k != "units"},
            }
        )
    close = getattr(round_, "close", None)
    if close is not None:
        close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
