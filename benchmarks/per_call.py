"""1. Per-call overhead (and the peer's per-call cost, 3): `get_export` through the overlay vs the
same request with raw httpx + `json.loads`, sync and async, against the loopback server.

Target: overlay ≤ 1.10x raw httpx CPU per call. The peer (openapi-generator, urllib3 + pydantic)
runs the same call in the same interleaved rounds; its ratio is reported, with the aim of being
ahead (a ratio below 1 means the overlay costs less CPU per call).
"""

from __future__ import annotations

import json

from ._common import Context, Row, fmt_s, fmt_x
from ._harness import Summary, Variant, interleave, loopback_server
from .listing import canned_bodies, peer_variant

__all__ = ["PER_CALL_TARGET", "measure"]

PER_CALL_TARGET = 1.10


def _row(key: str, scenario: str, ours: Summary, base: Summary) -> Row:
    ratio = ours.cpu_per_unit_s / base.cpu_per_unit_s
    return Row(
        number=1,
        key=key,
        scenario=scenario,
        unit="call",
        result=f"{fmt_s(ours.cpu_per_unit_s)} CPU, {fmt_s(ours.wall_per_unit_s)} wall",
        baseline=f"{fmt_s(base.cpu_per_unit_s)} CPU, {fmt_s(base.wall_per_unit_s)} wall (raw httpx + json.loads)",
        ratio=f"{fmt_x(ratio)} CPU ({fmt_x(ours.wall_per_unit_s / base.wall_per_unit_s)} wall)",
        target=f"≤ {PER_CALL_TARGET:.2f}x CPU",
        met=ratio <= PER_CALL_TARGET,
        values={"cpu_ratio": ratio, "cpu_s": ours.cpu_per_unit_s, "baseline_cpu_s": base.cpu_per_unit_s},
    )


def measure(ctx: Context) -> list[Row]:
    size = ctx.size
    bodies = canned_bodies(ctx)
    export_id = json.loads(json.loads(bodies.read_text(encoding="utf-8"))["export"])["export"]["id"]
    with loopback_server(bodies, ctx.log_dir) as base_url:
        args = {"base_url": base_url, "export_id": export_id, "calls": size.calls}
        variants = [
            Variant("overlay-sync", "benchmarks.workloads.api:overlay_get_export", {**args, "mode": "sync"}),
            Variant("raw-sync", "benchmarks.workloads.api:raw_get_export", {**args, "mode": "sync"}),
            Variant("overlay-async", "benchmarks.workloads.api:overlay_get_export", {**args, "mode": "async"}),
            Variant("raw-async", "benchmarks.workloads.api:raw_get_export", {**args, "mode": "async"}),
        ]
        peer = peer_variant(ctx, "peer-sync", "benchmarks.workloads.peer:peer_get_export", args)
        if peer is not None:
            variants.append(peer)
        got = interleave(variants, size.api_rounds, log_dir=ctx.log_dir / "per-call")
    rows = [
        _row("per-call-sync", "Get Export, sync: `MeshExportClient.get_export`", got["overlay-sync"], got["raw-sync"]),
        _row(
            "per-call-async",
            "Get Export, async: `AsyncMeshExportClient.get_export`",
            got["overlay-async"],
            got["raw-async"],
        ),
    ]
    rows.append(_peer_row(ctx, got))
    return rows


def _peer_row(ctx: Context, got: dict[str, Summary]) -> Row:
    if "peer-sync" not in got:
        return Row(3, "peer-per-call", "Get Export: overlay vs the peer", "call", "not run", "", "", "aim: < 1x", None)
    ours, peer, raw = got["overlay-sync"], got["peer-sync"], got["raw-sync"]
    ratio = ours.cpu_per_unit_s / peer.cpu_per_unit_s
    return Row(
        number=3,
        key="peer-per-call",
        scenario="Get Export, sync: overlay vs the openapi-generator peer (urllib3 + pydantic)",
        unit="call",
        result=f"overlay {fmt_s(ours.cpu_per_unit_s)} CPU, {fmt_s(ours.wall_per_unit_s)} wall",
        baseline=(
            f"peer {fmt_s(peer.cpu_per_unit_s)} CPU, {fmt_s(peer.wall_per_unit_s)} wall "
            f"(raw httpx: {fmt_s(raw.cpu_per_unit_s)} CPU)"
        ),
        ratio=f"{fmt_x(ratio)} CPU ({fmt_x(ours.wall_per_unit_s / peer.wall_per_unit_s)} wall)",
        target="aim: ≤ 1x (ahead of the peer)",
        met=ratio <= 1.0,
        values={"cpu_ratio": ratio, "peer_vs_raw_httpx": peer.cpu_per_unit_s / raw.cpu_per_unit_s},
    )
