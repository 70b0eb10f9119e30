"""2. Listing (and the peer's listing, 3): every export of a 10,000-export account in full
representation, a page of 100 at a time, through `iter_exports` vs the same pages fetched with raw
httpx + `json.loads`, sync and async, against the loopback server.

Target: ≥ 0.5x the raw throughput (exports per CPU second). The canned pages are recorded once per
run from the local service (`benchmarks._bodies`), so they are what the spec-faithful service sends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._common import Context, Row, fmt_s, fmt_x
from ._harness import Summary, Variant, interleave, loopback_server
from .peer import build_peer

__all__ = ["LISTING_TARGET", "canned_bodies", "measure", "peer_variant"]

LISTING_TARGET = 0.5


def canned_bodies(ctx: Context) -> Path:
    """The recorded bodies for this run (recorded on first use)."""
    path = ctx.work_dir / f"bodies-{ctx.size.list_exports}.json"
    if not path.exists():
        from ._bodies import record_bodies

        record_bodies(path, export_count=ctx.size.list_exports, page_size=ctx.size.page_size)
    return path


def peer_variant(ctx: Context, name: str, target: str, args: dict[str, Any]) -> Variant | None:
    """The peer's worker, or None (with `ctx.skip_peer_reason` set) when it is skipped or cannot be built."""
    if ctx.skip_peer_reason is not None:
        return None
    try:
        build = ctx.shared.get("peer") or build_peer(ctx.peer_cache)
    except Exception as exc:  # no network, no Java: the rows say why, the rest still runs
        ctx.skip_peer_reason = f"the peer could not be built: {str(exc).strip().splitlines()[0]}"
        return None
    ctx.shared["peer"] = build
    return Variant(name, target, args, python=str(build.python), env={"PYTHONPATH": str(build.client_dir)})


def _throughput_row(key: str, scenario: str, ours: Summary, base: Summary) -> Row:
    ratio = base.cpu_per_unit_s / ours.cpu_per_unit_s
    return Row(
        number=2,
        key=key,
        scenario=scenario,
        unit="export",
        result=(
            f"{1 / ours.cpu_per_unit_s:,.0f}/CPU s, {1 / ours.wall_per_unit_s:,.0f}/s wall "
            f"({fmt_s(ours.cpu_per_unit_s)} CPU each)"
        ),
        baseline=(
            f"{1 / base.cpu_per_unit_s:,.0f}/CPU s, {1 / base.wall_per_unit_s:,.0f}/s wall "
            f"({fmt_s(base.cpu_per_unit_s)} CPU each; raw httpx + json.loads)"
        ),
        ratio=f"{fmt_x(ratio)} CPU throughput ({fmt_x(base.wall_per_unit_s / ours.wall_per_unit_s)} wall)",
        target=f"≥ {LISTING_TARGET:.1f}x raw throughput",
        met=ratio >= LISTING_TARGET,
        values={"throughput_ratio": ratio, "cpu_s": ours.cpu_per_unit_s, "baseline_cpu_s": base.cpu_per_unit_s},
    )


def measure(ctx: Context) -> list[Row]:
    size = ctx.size
    bodies = canned_bodies(ctx)
    with loopback_server(bodies, ctx.log_dir) as base_url:
        args = {"base_url": base_url, "expected": size.list_exports, "page_size": size.page_size}
        variants = [
            Variant("overlay-sync", "benchmarks.workloads.api:overlay_list", {**args, "mode": "sync"}),
            Variant("raw-sync", "benchmarks.workloads.api:raw_list", {**args, "mode": "sync"}),
            Variant("overlay-async", "benchmarks.workloads.api:overlay_list", {**args, "mode": "async"}),
            Variant("raw-async", "benchmarks.workloads.api:raw_list", {**args, "mode": "async"}),
        ]
        peer = peer_variant(ctx, "peer-sync", "benchmarks.workloads.peer:peer_list", args)
        if peer is not None:
            variants.append(peer)
        got = interleave(variants, size.api_rounds, log_dir=ctx.log_dir / "listing")
    n = f"{size.list_exports:,}"
    rows = [
        _throughput_row(
            "listing-sync", f"List {n} full exports, sync: `iter_exports`", got["overlay-sync"], got["raw-sync"]
        ),
        _throughput_row(
            "listing-async", f"List {n} full exports, async: `iter_exports`", got["overlay-async"], got["raw-async"]
        ),
    ]
    rows.append(_peer_row(ctx, got, n))
    return rows


def _peer_row(ctx: Context, got: dict[str, Summary], n: str) -> Row:
    scenario = f"List {n} full exports, sync: overlay vs the openapi-generator peer"
    if "peer-sync" not in got:
        reason = ctx.skip_peer_reason or "not run"
        return Row(3, "peer-listing", scenario, "export", "not run", reason, "", "aim: ≥ 1x", None)
    ours, peer, raw = got["overlay-sync"], got["peer-sync"], got["raw-sync"]
    ratio = peer.cpu_per_unit_s / ours.cpu_per_unit_s
    broken = peer.extra_median("generated_parser_fails") > 0
    return Row(
        number=3,
        key="peer-listing",
        scenario=scenario,
        unit="export",
        result=f"overlay {1 / ours.cpu_per_unit_s:,.0f}/CPU s, {1 / ours.wall_per_unit_s:,.0f}/s wall",
        baseline=(
            f"peer {1 / peer.cpu_per_unit_s:,.0f}/CPU s, {1 / peer.wall_per_unit_s:,.0f}/s wall"
            + (" (its generated page parser raises on full exports: items built one by one)" if broken else "")
            + f"; raw httpx {1 / raw.cpu_per_unit_s:,.0f}/CPU s"
        ),
        ratio=f"{fmt_x(ratio)} CPU throughput ({fmt_x(peer.wall_per_unit_s / ours.wall_per_unit_s)} wall)",
        target="aim: ≥ 1x (ahead of the peer)",
        met=ratio >= 1.0,
        values={"throughput_ratio": ratio, "peer_parser_broken": float(broken)},
    )
