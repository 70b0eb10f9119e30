"""4. Waiting at scale: 1,000 exports waited for concurrently with `AsyncMeshExportClient` in one
event loop, against the local service in its own process; baseline: a raw httpx fixed-interval
poller (`benchmarks/workloads/waiting.py`).

Targets: at most one request per export per poll interval (counted by the service), peak RSS of
the client process ≤ 200 MiB. CPU is reported per export waited for and per request.
"""

from __future__ import annotations

from ._common import Context, Row, fmt_s, fmt_x
from ._harness import Variant, interleave, local_service

__all__ = ["REQUESTS_TARGET", "RSS_TARGET_MIB", "measure"]

REQUESTS_TARGET = 1.0
RSS_TARGET_MIB = 200.0


def measure(ctx: Context) -> list[Row]:
    size = ctx.size
    flags = ["--not-started-s", "0", "--in-progress-s", str(size.wait_in_progress_s)]
    with local_service(ctx.log_dir, *flags) as service:
        args = {
            "api_url": service.api_url,
            "admin_url": service.admin_url,
            "token": service.token,
            "count": size.wait_exports,
            "poll_interval_s": size.wait_poll_interval_s,
        }
        variants = [
            Variant("overlay-wait", "benchmarks.workloads.waiting:overlay_wait", args),
            Variant("raw-wait", "benchmarks.workloads.waiting:raw_wait", args),
        ]
        got = interleave(variants, size.wait_rounds, log_dir=ctx.log_dir / "waiting", fresh_process=True)
    ours, raw = got["overlay-wait"], got["raw-wait"]
    n = f"{size.wait_exports:,}"
    setting = f"exports Complete after {size.wait_in_progress_s:g} s, poll_interval_s={size.wait_poll_interval_s:g}"
    worst = max(float(s.extra["max_requests_per_interval"]) for s in ours.samples)
    worst_raw = max(float(s.extra["max_requests_per_interval"]) for s in raw.samples)
    requests, requests_raw = ours.extra_median("requests"), raw.extra_median("requests")
    cpu_per_request = ours.cpu_per_unit_s * ours.units / requests
    cpu_per_request_raw = raw.cpu_per_unit_s * raw.units / requests_raw
    rss_mib, rss_raw_mib = ours.peak_rss_kib / 1024, raw.peak_rss_kib / 1024
    return [
        Row(
            number=4,
            key="waiting-requests",
            scenario=f"Wait for {n} exports at once (async, one event loop; {setting})",
            unit="request per export per poll interval",
            result=(
                f"max {worst:.2f}, mean {ours.extra_median('mean_requests_per_interval'):.2f} "
                f"({requests / ours.units:.1f} requests per export; last wait ended after "
                f"{ours.extra_median('wait_s_max'):.1f} s)"
            ),
            baseline=(
                f"max {worst_raw:.2f}, mean {raw.extra_median('mean_requests_per_interval'):.2f} "
                f"({requests_raw / raw.units:.1f} per export; fixed-interval raw httpx poller)"
            ),
            ratio=fmt_x(requests / requests_raw) + " requests",
            target=f"≤ {REQUESTS_TARGET:g}",
            met=worst <= REQUESTS_TARGET,
            values={"max_requests_per_interval": worst},
        ),
        Row(
            number=4,
            key="waiting-cpu",
            scenario=f"Wait for {n} exports at once: client CPU",
            unit="export waited for; request",
            result=(
                f"{fmt_s(ours.cpu_per_unit_s)} CPU per export, {fmt_s(cpu_per_request)} per request "
                f"({fmt_s(ours.cpu_per_unit_s * ours.units)} CPU in all)"
            ),
            baseline=(
                f"{fmt_s(raw.cpu_per_unit_s)} CPU per export, {fmt_s(cpu_per_request_raw)} per request "
                f"({fmt_s(raw.cpu_per_unit_s * raw.units)} in all)"
            ),
            ratio=f"{fmt_x(ours.cpu_per_unit_s / raw.cpu_per_unit_s)} CPU per export, "
            f"{fmt_x(cpu_per_request / cpu_per_request_raw)} per request",
            target="(reported)",
            met=None,
            values={"cpu_per_export_s": ours.cpu_per_unit_s, "cpu_per_request_s": cpu_per_request},
        ),
        Row(
            number=4,
            key="waiting-rss",
            scenario=f"Wait for {n} exports at once: peak RSS of the client process",
            unit="MiB",
            result=f"{rss_mib:.0f} MiB",
            baseline=f"{rss_raw_mib:.0f} MiB (raw httpx poller)",
            ratio=fmt_x(rss_mib / rss_raw_mib),
            target=f"≤ {RSS_TARGET_MIB:g} MiB",
            met=rss_mib <= RSS_TARGET_MIB,
            values={"peak_rss_mib": rss_mib},
        ),
    ]
