"""The command line of the local service: `python -m itwin_mesh_export.testing --port 8080`.

It builds a `ServiceConfig` from flags, starts the service, prints where everything is (as text,
or as one JSON object with `--json`) and serves until Ctrl-C or SIGTERM. argparse (standard
library) is enough here; the project's own CLI (click) can start the same service from Python.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import TextIO

from ._clock import Clock, ScaledClock, SystemClock
from ._config import JSON_MEDIA_TYPE, VND_MEDIA_TYPE, ServiceConfig, ServiceConfigError, make_seed_exports
from ._faults import Fault, FaultSpecError
from ._service import LocalMeshExportService, ServiceStartError
from ._tiles import TilesetSpec, TilesetSpecError

__all__ = ["build_parser", "main"]

_SIZE = re.compile(r"(?i)\s*(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*")
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20}
_UNITS.update({"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30})


def _size(text: str) -> int:
    """A byte count: 16384, 16KiB, 300MiB, 1GiB (binary units)."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (examples: 16384, 16KiB, 300MiB, 1GiB)")
    return int(match.group(1)) * _UNITS[(match.group(2) or "").lower()]


def _fault(text: str) -> Fault:
    try:
        return Fault.from_dict(json.loads(text))
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"--fault takes a JSON object: {exc}") from None
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser(prog: str = "python -m itwin_mesh_export.testing") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="A local Mesh Export service (API, token endpoint, blob storage, CDN) on 127.0.0.1.",
    )
    where = parser.add_argument_group("ports (0: any free port)")
    where.add_argument("--port", type=int, default=8080, help="API port (default 8080)")
    where.add_argument("--storage-port", type=int, default=0, help="blob storage port")
    where.add_argument("--cdn-port", type=int, default=0, help="CDN port")
    exports = parser.add_argument_group("exports")
    exports.add_argument(
        "--seed-exports", type=int, default=3, metavar="N", help="Complete exports at start (default 3)"
    )
    exports.add_argument(
        "--imodel-id", action="append", metavar="ID", help="iModel id of the seed exports (repeatable)"
    )
    exports.add_argument(
        "--fail-imodel", action="append", default=[], metavar="ID[=TEXT]", help="exports of this iModel end Invalid"
    )
    exports.add_argument("--not-started-s", type=float, default=1.0, help="seconds an export stays NotStarted")
    exports.add_argument("--in-progress-s", type=float, default=2.0, help="seconds an export stays InProgress")
    exports.add_argument("--time-scale", type=float, default=1.0, help="run the service clock this many times faster")
    auth = parser.add_argument_group("auth")
    auth.add_argument("--client-id", default="local-client")
    auth.add_argument("--client-secret", default="local-secret")
    auth.add_argument("--token", default="local-static-token", help="static bearer token (never expires)")
    auth.add_argument("--no-static-token", action="store_true", help="accept only tokens from /connect/token")
    auth.add_argument("--token-lifetime-s", type=float, default=3600.0)
    auth.add_argument("--link-lifetime-s", type=float, default=3600.0, help="validity of signed storage links")
    files = parser.add_argument_group("files of each export")
    files.add_argument("--tile-count", type=int, default=15, help="tiles with GLB content (>= 3)")
    files.add_argument("--branching", type=int, default=2, help="children per tile")
    files.add_argument("--tile-bytes", type=_size, default=0, help="minimum size of each GLB, e.g. 16KiB")
    files.add_argument("--large-tile-bytes", type=_size, default=0, help="size of the root GLB, e.g. 1GiB")
    wire = parser.add_argument_group("wire format and faults")
    wire.add_argument("--timestamp-style", choices=("z", "dotnet", "mixed"), default="z")
    wire.add_argument("--media-type", choices=("json", "vnd", "negotiate"), default="json")
    wire.add_argument("--fault", type=_fault, action="append", default=[], metavar="JSON", help="arm a fault at start")
    parser.add_argument("--json", action="store_true", help="print the service's URLs as one JSON object")
    return parser


def _config(args: argparse.Namespace) -> ServiceConfig:
    failing = {}
    for item in args.fail_imodel:
        imodel_id, _, text = item.partition("=")
        failing[imodel_id] = text or "The export failed."
    tileset = TilesetSpec(
        tile_count=args.tile_count,
        branching=args.branching,
        tile_bytes=args.tile_bytes,
        large_tile_bytes=args.large_tile_bytes,
    )
    media = {"json": JSON_MEDIA_TYPE, "vnd": VND_MEDIA_TYPE, "negotiate": "negotiate"}[args.media_type]
    seeds = make_seed_exports(args.seed_exports, imodel_ids=args.imodel_id)
    return ServiceConfig(
        seed_exports=seeds,
        not_started_s=args.not_started_s,
        in_progress_s=args.in_progress_s,
        failing_imodels=failing,
        client_id=args.client_id,
        client_secret=args.client_secret,
        static_token=None if args.no_static_token else args.token,
        token_lifetime_s=args.token_lifetime_s,
        link_lifetime_s=args.link_lifetime_s,
        tileset=tileset,
        timestamp_style=args.timestamp_style,
        media_type=media,  # type: ignore[arg-type]
        faults=tuple(args.fault),
    )


def _print_summary(service: LocalMeshExportService, as_json: bool, out: TextIO) -> None:
    summary = service.summary()
    if as_json:
        out.write(json.dumps(summary) + "\n")
    else:
        out.write("Local Mesh Export service\n")
        width = max(len(k) for k in summary)
        for key, value in summary.items():
            out.write(f"  {key:<{width}}  {value}\n")
        out.write("Press Ctrl-C to stop.\n")
    out.flush()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, prog: str | None = None) -> int:
    """Run the service until Ctrl-C or SIGTERM; 0 then. Bad flags exit through argparse
    (SystemExit 2); 2 is returned only when the service cannot start (a port in use).
    `prog` names the command in usage lines (`itwin-mesh-export serve` uses it)."""
    out = out or sys.stdout
    parser = build_parser(prog) if prog is not None else build_parser()
    args = parser.parse_args(argv)
    try:
        config = _config(args)
        clock: Clock = ScaledClock(args.time_scale) if args.time_scale != 1.0 else SystemClock()
        service = LocalMeshExportService(
            config, clock=clock, port=args.port, storage_port=args.storage_port, cdn_port=args.cdn_port
        )
        service.start()
    except (ServiceConfigError, TilesetSpecError, FaultSpecError, ValueError) as exc:
        parser.error(str(exc))
    except ServiceStartError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        _print_summary(service, args.json, out)
        service.wait()
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
        signal.signal(signal.SIGTERM, previous)
    out.write("stopped\n")
    out.flush()
    return 0
