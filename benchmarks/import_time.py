"""6. Import time: `import itwin_mesh_export` vs `import httpx`, each in a fresh interpreter
(alternating, so both see the same machine), timed inside the process around the import statement
alone (interpreter start-up excluded). Bytecode caches are warm, as on any second run.

Target: ≤ 1.3x httpx. The package loads its clients, models and download engine on first use
(PEP 562), so two more variants show what that defers rather than saves: the package plus what a
first API call needs (`MeshExportClient` built, `get_export` bound), and the package plus the
download engine. A last row splits the first call's cost (`python -X importtime`, same statement)
into the imports it triggers, by group, and the rest (building the client).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from ._common import Context, Row, fmt_s, fmt_x
from ._harness import ROOT, rotated, worker_env

__all__ = ["IMPORT_TARGET", "measure"]

IMPORT_TARGET = 1.3

_PROGRAM = """
import json, time
c0, w0 = time.process_time(), time.perf_counter()
{statement}
w1, c1 = time.perf_counter(), time.process_time()
print(json.dumps({{"cpu_s": c1 - c0, "wall_s": w1 - w0}}))
"""

_VARIANTS = {
    "httpx": "import httpx",
    "overlay": "import itwin_mesh_export",
    "overlay+client": (
        "import itwin_mesh_export\nitwin_mesh_export.MeshExportClient('t', base_url='http://127.0.0.1:9/x').get_export"
    ),
    "overlay+download": "import itwin_mesh_export\nitwin_mesh_export.download_tileset",
}


def _once(statement: str) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROGRAM.format(statement=statement)],
        cwd=ROOT,
        env=worker_env(None),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# Where a first API call's cost goes beyond `import httpx`, from `python -X importtime` on the
# "overlay+client" statement (since the package loads its names lazily, PEP 562, the bare import
# costs little and this is where the time went): every module's own time goes to the group of its
# nearest importer that starts a group (a module in the download engine's subtree counts for the
# engine even if it is from the standard library). Order matters: the first matching group wins.
_GROUPS = {
    "httpx's transport (httpcore, h11, anyio, certifi)": ("httpcore", "h11", "anyio", "sniffio", "certifi"),
    "asyncio": ("asyncio",),
    "attrs": ("attr", "attrs"),
    "generated package": ("itwin_mesh_export_generated",),
    "download engine": ("itwin_mesh_export.download._driver",),
    "overlay modules": ("itwin_mesh_export",),
}
_BREAKDOWN_STATEMENT = "overlay+client"

_BREAKDOWN_PROGRAM = """
import json, time
import httpx
w0 = time.perf_counter()
{statement}
print(json.dumps({{"wall_s": time.perf_counter() - w0}}))
"""


def _group_of(module: str) -> str | None:
    for name, roots in _GROUPS.items():
        if any(module == root or module.startswith(root + ".") for root in roots):
            return name
    return None


def _breakdown() -> dict[str, float]:
    """Seconds per group of `_GROUPS` for the first-call statement after `import httpx`, in a fresh
    interpreter under `-X importtime`; "imports" (every import it triggered), "wall" (the statement,
    timed in the same process) and "other" (wall minus imports: the work that is not importing,
    such as building the client)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            _BREAKDOWN_PROGRAM.format(statement=_VARIANTS[_BREAKDOWN_STATEMENT]),
        ],
        cwd=ROOT,
        env=worker_env(None),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    wall = float(json.loads(proc.stdout.strip().splitlines()[-1])["wall_s"])
    entries: list[tuple[int, int, int, str]] = []  # (depth, self us, cumulative us, module), in output order
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        depth = len(name) - len(name.lstrip(" "))
        entries.append((depth, int(parts[0].split(":")[-1]), int(parts[1]), name.strip()))
    # What the statement loaded is what importtime prints after `httpx` (children before parents).
    top = next(i for i, e in enumerate(entries) if e[3] == "httpx" and e[0] == 1)
    ours = entries[top + 1 :]
    totals = dict.fromkeys(_GROUPS, 0.0)
    stack: list[tuple[int, str | None]] = []
    for depth, self_us, _, module in reversed(ours):  # parents first
        while stack and stack[-1][0] >= depth:
            stack.pop()
        group = _group_of(module) or (stack[-1][1] if stack else None)
        stack.append((depth, group))
        if group is not None:
            totals[group] += self_us / 1e6
    imports = sum(cumulative for depth, _, cumulative, _ in ours if depth == 1) / 1e6
    return totals | {"imports": imports, "wall": wall, "other": max(wall - imports, 0.0)}


def measure(ctx: Context) -> list[Row]:
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in _VARIANTS}
    for statement in _VARIANTS.values():  # warm the bytecode caches
        _once(statement)
    for r in range(ctx.size.import_rounds):
        for name in rotated(list(_VARIANTS), r):
            samples[name].append(_once(_VARIANTS[name]))

    def median(name: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[name])

    base_wall, base_cpu = median("httpx", "wall_s"), median("httpx", "cpu_s")
    rows = []
    for key, name, scenario in (
        ("import", "overlay", "`import itwin_mesh_export` (fresh process)"),
        ("import-first-call", "overlay+client", "… plus what a first API call loads (client built)"),
        ("import-download", "overlay+download", "… plus the download engine (`download_tileset`)"),
    ):
        wall, cpu = median(name, "wall_s"), median(name, "cpu_s")
        ratio = wall / base_wall
        target = key == "import"
        rows.append(
            Row(
                number=6,
                key=key,
                scenario=scenario,
                unit="import",
                result=f"{fmt_s(wall)} wall, {fmt_s(cpu)} CPU",
                baseline=f"{fmt_s(base_wall)} wall, {fmt_s(base_cpu)} CPU (`import httpx`)",
                ratio=f"{fmt_x(ratio)} wall ({fmt_x(cpu / base_cpu)} CPU)",
                target=f"≤ {IMPORT_TARGET:.1f}x" if target else "(reported)",
                met=(ratio <= IMPORT_TARGET) if target else None,
                values={
                    "wall_ratio": ratio,
                    "wall_s": wall,
                    "cpu_ratio": cpu / base_cpu,
                    "baseline_wall_s": base_wall,
                },
            )
        )
    runs = [_breakdown() for _ in range(max(3, ctx.size.import_rounds // 4))]
    parts = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
    imports, wall, other = parts.pop("imports"), parts.pop("wall"), parts.pop("other")
    rest = max(imports - sum(parts.values()), 0.0)
    loaded = [f"{name} {fmt_s(t)}" for name, t in parts.items() if t]
    not_loaded = [name for name, t in parts.items() if not t]
    rows.append(
        Row(
            number=6,
            key="import-breakdown",
            scenario=(
                "Where a first API call's cost goes, after `import httpx` (the client-built statement above, "
                "under `python -X importtime`)"
            ),
            unit="import",
            result=f"imports: {', '.join(loaded)}, the rest {fmt_s(rest)}; not imports (building the client) "
            f"{fmt_s(other)}" + (f"; not loaded: {', '.join(not_loaded)}" if not_loaded else ""),
            baseline=f"{fmt_s(wall)} in all, {fmt_s(imports)} of it imports",
            ratio="",
            target="(reported)",
            met=None,
            values={_key(name): t for name, t in parts.items()}
            | {"rest_s": rest, "imports_s": imports, "other_s": other, "wall_s": wall},
        )
    )
    return rows


def _key(group: str) -> str:
    """A group's key in `Row.values`: `httpx's transport (httpcore, ...)` -> `httpx_transport_s`."""
    words = group.split(" (")[0].replace("'s", "").split()
    return "_".join(words) + "_s"
