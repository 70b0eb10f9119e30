"""5. Download: 2,000 tiles of 16 KiB and one 1 GiB file from the local service's storage (its own
process), `download_tileset` vs plain httpx with the same concurrency
(`benchmarks/workloads/download.py`).

Targets: ≥ 0.9x the baseline's throughput (bytes per wall second) on both; peak RSS of the client
process ≤ 100 MiB for the 1 GiB file (a fresh process per round, so the peak is that round's);
concurrency 16 faster than concurrency 1 on the small tiles, measured with 20 ms added to each
storage answer (a tenth of the tiles), as a network would; on loopback it is only reported.
"""

from __future__ import annotations

from ._common import Context, Row, fmt_bytes, fmt_x
from ._harness import LocalService, Summary, Variant, interleave, local_service

__all__ = ["CONCURRENCY", "RSS_TARGET_MIB", "THROUGHPUT_TARGET", "measure"]

THROUGHPUT_TARGET = 0.9
RSS_TARGET_MIB = 100.0
CONCURRENCY = 16
# Storage answers arrive this much later in the concurrency scenario (a delay fault of the local
# service): on loopback a request waits for nothing but CPU, so concurrency can only overlap the
# client's CPU with the one-process server's, which says little about real storage.
LATENCY_S = 0.02


def _href(service: LocalService, tileset: dict[str, int]) -> str:
    ids = service.admin("POST", "/exports", {"count": 1, "imodel_id": f"bench-{tileset}", "tileset": tileset})["ids"]
    href: str = service.get_export(ids[0])["_links"]["mesh"]["href"]
    return href


def _mib_s(s: Summary) -> float:
    return 1 / s.wall_per_unit_s / (1 << 20)


def _cpu_s_per_mib(s: Summary) -> float:
    return s.cpu_per_unit_s * (1 << 20)


def _trees(s: Summary) -> set[tuple[int, int, int]]:
    """(files the round reported, files on disk after it, their bytes), one per round."""
    return {(int(x.extra["files"]), int(x.extra["files_on_disk"]), int(x.extra["bytes_on_disk"])) for x in s.samples}


def _same_tree(what: str, *summaries: Summary) -> None:
    """Every round of every variant left the same tree: as many files as it reported, the same
    count and bytes on disk (a variant that skipped or cut files would be fast for nothing)."""
    trees = {s.name: _trees(s) for s in summaries}
    every = set().union(*trees.values())
    if len(every) != 1 or any(reported != on_disk for reported, on_disk, _ in every):
        raise AssertionError(f"{what}: the variants left different trees (files, on disk, bytes): {trees}")


def _throughput_row(key: str, scenario: str, ours: Summary, raw: Summary) -> Row:
    ratio = raw.wall_per_unit_s / ours.wall_per_unit_s
    return Row(
        number=5,
        key=key,
        scenario=scenario,
        unit="MiB/s (wall)",
        result=f"{_mib_s(ours):.0f} MiB/s, {_cpu_s_per_mib(ours) * 1e3:.1f} ms CPU/MiB",
        baseline=f"{_mib_s(raw):.0f} MiB/s, {_cpu_s_per_mib(raw) * 1e3:.1f} ms CPU/MiB (plain httpx)",
        ratio=f"{fmt_x(ratio)} throughput ({fmt_x(ours.cpu_per_unit_s / raw.cpu_per_unit_s)} CPU)",
        target=f"≥ {THROUGHPUT_TARGET:.1f}x baseline",
        met=ratio >= THROUGHPUT_TARGET,
        values={"throughput_ratio": ratio, "mib_s": _mib_s(ours)},
    )


def _with_hashed_baseline(row: Row, ours: Summary, hashed: Summary) -> Row:
    """The row, its baseline cell also showing plain httpx that hashes every byte as the engine does."""
    row.baseline += f"; plain httpx + SHA-256 of each file: {_mib_s(hashed):.0f} MiB/s, "
    row.baseline += f"{_cpu_s_per_mib(hashed) * 1e3:.1f} ms CPU/MiB"
    row.values["throughput_ratio_vs_hashing_baseline"] = hashed.wall_per_unit_s / ours.wall_per_unit_s
    row.ratio += f"; {fmt_x(hashed.wall_per_unit_s / ours.wall_per_unit_s)} vs the hashing baseline"
    return row


def measure(ctx: Context) -> list[Row]:
    size = ctx.size
    work = str(ctx.work_dir / "downloads")
    small = {"tile_count": size.tiles, "tile_bytes": size.tile_bytes}
    large = {"tile_count": 3, "large_tile_bytes": size.large_bytes}
    with local_service(ctx.log_dir) as service:
        small_href, large_href = _href(service, small), _href(service, large)

        def variants(href: str, concurrency: int, suffix: str = "") -> list[Variant]:
            args = {"href": href, "work_dir": work, "concurrency": concurrency}
            return [
                Variant(f"overlay{suffix}", "benchmarks.workloads.download:overlay_download", args),
                Variant(f"raw{suffix}", "benchmarks.workloads.download:raw_download", args),
            ]

        rounds = size.download_rounds
        got_small = interleave(
            [*variants(small_href, CONCURRENCY), *variants(small_href, 1, "-c1")],
            rounds,
            log_dir=ctx.log_dir / "download-small",
        )
        hashed = Variant(
            "raw-sha256",
            "benchmarks.workloads.download:raw_download",
            {"href": large_href, "work_dir": work, "concurrency": CONCURRENCY, "sha256": True},
        )
        got_large = interleave(
            [*variants(large_href, CONCURRENCY), hashed],
            rounds,
            log_dir=ctx.log_dir / "download-large",
            fresh_process=True,
        )
    latency_tiles = max(size.tiles // 10, 3)
    with local_service(ctx.log_dir) as service:
        href = _href(service, {"tile_count": latency_tiles, "tile_bytes": size.tile_bytes})
        service.admin("POST", "/faults", {"route": "storage", "kind": "delay", "delay_s": LATENCY_S, "times": None})
        args = {"href": href, "work_dir": work}
        got_latency = interleave(
            [
                Variant(f"{name}-c{n}", f"benchmarks.workloads.download:{name}_download", {**args, "concurrency": n})
                for name in ("overlay", "raw")
                for n in (CONCURRENCY, 1)
            ],
            rounds,
            log_dir=ctx.log_dir / "download-latency",
        )
    _same_tree("small tiles", *got_small.values())
    _same_tree("large file", *got_large.values())
    _same_tree("small tiles with latency", *got_latency.values())
    many = f"c{CONCURRENCY}"
    latency_speedup = got_latency["overlay-c1"].wall_per_unit_s / got_latency[f"overlay-{many}"].wall_per_unit_s
    latency_raw_speedup = got_latency["raw-c1"].wall_per_unit_s / got_latency[f"raw-{many}"].wall_per_unit_s
    tiles = f"{size.tiles:,} tiles of {fmt_bytes(size.tile_bytes)}"
    one = f"one {fmt_bytes(size.large_bytes)} file"
    ours_c16, ours_c1 = got_small["overlay"], got_small["overlay-c1"]
    speedup = ours_c1.wall_per_unit_s / ours_c16.wall_per_unit_s
    raw_speedup = got_small["raw-c1"].wall_per_unit_s / got_small["raw"].wall_per_unit_s
    large_rss = got_large["overlay"].peak_rss_kib / 1024
    return [
        _throughput_row(
            "download-small",
            f"Download {tiles} (concurrency {CONCURRENCY})",
            ours_c16,
            got_small["raw"],
        ),
        _throughput_row("download-small-c1", f"Download {tiles} (concurrency 1)", ours_c1, got_small["raw-c1"]),
        Row(
            number=5,
            key="download-speedup",
            scenario=(
                f"Download {latency_tiles:,} tiles of {fmt_bytes(size.tile_bytes)}, each storage answer "
                f"{LATENCY_S * 1e3:.0f} ms late: concurrency {CONCURRENCY} over concurrency 1"
            ),
            unit="speedup (wall)",
            result=(
                f"{fmt_x(latency_speedup)} ({_mib_s(got_latency[f'overlay-{many}']):.1f} vs "
                f"{_mib_s(got_latency['overlay-c1']):.1f} MiB/s)"
            ),
            baseline=f"{fmt_x(latency_raw_speedup)} (plain httpx)",
            ratio=fmt_x(latency_speedup / latency_raw_speedup),
            target="> 1x",
            met=latency_speedup > 1.0,
            values={"speedup": latency_speedup},
        ),
        Row(
            number=5,
            key="download-speedup-loopback",
            scenario=f"Download {tiles} on loopback: concurrency {CONCURRENCY} over concurrency 1",
            unit="speedup (wall)",
            result=f"{fmt_x(speedup)} ({_mib_s(ours_c16):.0f} vs {_mib_s(ours_c1):.0f} MiB/s)",
            baseline=f"{fmt_x(raw_speedup)} (plain httpx)",
            ratio=fmt_x(speedup / raw_speedup),
            target="(reported)",
            met=None,
            values={"speedup": speedup},
        ),
        _with_hashed_baseline(
            _throughput_row(
                "download-large", f"Download {one} (concurrency {CONCURRENCY})", got_large["overlay"], got_large["raw"]
            ),
            got_large["overlay"],
            got_large["raw-sha256"],
        ),
        Row(
            number=5,
            key="download-large-rss",
            scenario=f"Download {one}: peak RSS of the client process",
            unit="MiB",
            result=f"{large_rss:.0f} MiB",
            baseline=f"{got_large['raw'].peak_rss_kib / 1024:.0f} MiB (plain httpx)",
            ratio=fmt_x(got_large["overlay"].peak_rss_kib / got_large["raw"].peak_rss_kib),
            target=f"≤ {RSS_TARGET_MIB:g} MiB",
            met=large_rss <= RSS_TARGET_MIB,
            values={"peak_rss_mib": large_rss},
        ),
    ]
