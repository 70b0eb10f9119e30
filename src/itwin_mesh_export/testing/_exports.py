"""The service's exports and how they move: NotStarted -> InProgress -> Complete (or Invalid).

Status is computed from the clock when asked, never advanced by a background task: an export
started at t is NotStarted until t + not_started_s, InProgress until t + not_started_s +
in_progress_s, then Complete, or Invalid with its error text when its iModel is configured to
fail. A thousand exports waited on concurrently therefore cost nothing between requests. The
store is shared by the event loop and the test thread, so every change holds a lock.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ._clock import Clock
from ._config import SeedExport, ServiceConfig, TimestampStyle
from ._tiles import ExportFiles, TilesetSpec

__all__ = ["ExportRecord", "ExportStore", "ExportView", "format_timestamp"]

NOT_STARTED = "NotStarted"
IN_PROGRESS = "InProgress"
COMPLETE = "Complete"
INVALID = "Invalid"
_PROGRESSING = (NOT_STARTED, IN_PROGRESS)
# Bentley's QA/dev Start Export page: "IMODEL, CESIUM and 3DTiles (or 3DTILES)": one type, two
# spellings, and clients filter with either (CesiumJS 3DTILES, cesium-native 3DTiles; the research
# notes `mesh-export-api.md` that openapi/PROVENANCE.md cites). Other values match exactly.
_THREE_D_TILES = frozenset({"3DTiles", "3DTILES"})


def format_timestamp(epoch_s: float, style: str) -> str:
    """2024-08-22T03:18:43Z ("z") or 2024-08-22T03:18:43.0000000+00:00 ("dotnet")."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    if style == "dotnet":
        ticks = round((epoch_s - int(epoch_s)) * 10_000_000) % 10_000_000
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ticks:07d}+00:00"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(value: datetime | float) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return float(value)


def latest_changeset_id(imodel_id: str) -> str:
    """The id Start Export records when the request names no changeset: stable per iModel."""
    return hashlib.sha1(f"latest:{imodel_id}".encode()).hexdigest()


@dataclass
class ExportRecord:
    """One export as the service keeps it. `status_at(now)` says where it is."""

    id: str
    seq: int
    imodel_id: str
    changeset_id: str
    export_type: str
    display_name: str
    created_s: float
    not_started_s: float
    in_progress_s: float
    final_status: str
    error: str | None
    tileset: TilesetSpec
    tiler_config: list[Any] | None = None
    tile_version: str | None = None
    itwinjs_version: str | None = None
    fixed_last_modified_s: float | None = None

    def status_at(self, now: float) -> tuple[str, float]:
        """(status, lastModified epoch seconds) at clock time `now`."""
        if self.fixed_last_modified_s is not None:
            return self.final_status, self.fixed_last_modified_s
        started = self.created_s + self.not_started_s
        if now < started:
            return NOT_STARTED, self.created_s
        finished = started + self.in_progress_s
        if now < finished:
            return IN_PROGRESS, started
        return self.final_status, finished

    def files(self) -> ExportFiles:
        return ExportFiles(self.tileset, self.id)


@dataclass(frozen=True)
class ExportView:
    """An export at one moment: the record, its status and its lastModified time."""

    record: ExportRecord
    status: str
    last_modified_s: float


@dataclass(frozen=True)
class ListQuery:
    imodel_id: str | None = None
    changeset_id: str | None = None
    export_type: str | None = None  # exact; "3DTiles" and "3DTILES" match each other's exports
    tile_version: str | None = None
    itwinjs_version: str | None = None
    order_by: str | None = None  # None: newest first; "date:asc" / "date:desc": by lastModified


class ExportStore:
    """All exports of one service, keyed by id, in creation order."""

    def __init__(self, config: ServiceConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._exports: dict[str, ExportRecord] = {}
        self._ordered: list[ExportRecord] | None = None
        self._seq = itertools.count()
        start = clock.now()
        # Seeds are listed newest first in the order given: seed i was last modified i minutes ago.
        seeds = list(config.seed_exports)
        for position, seed in enumerate(seeds):
            self.add_seed(seed, default_last_modified_s=start - 60.0 * (position + 1), seq=position + 1)

    # ---- creation ----

    def display_name(self, imodel_id: str) -> str:
        if self._config.imodels is not None and imodel_id in self._config.imodels:
            return self._config.imodels[imodel_id]
        return f"iModel {imodel_id[:8]}"

    def imodel_exists(self, imodel_id: str) -> bool:
        if imodel_id in self._config.missing_imodels:
            return False
        return self._config.imodels is None or imodel_id in self._config.imodels

    def add_seed(
        self, seed: SeedExport, *, default_last_modified_s: float | None = None, seq: int | None = None
    ) -> ExportRecord:
        """Add an export as if it had been generated automatically (see `SeedExport`).

        Seeds given at start take negative sequence numbers (-1 for the first), so they list
        after every export added later and in the order given among themselves.
        """
        now = self._clock.now()
        progressing = seed.status in _PROGRESSING
        last_modified = seed.last_modified
        if progressing:
            created = now if seed.status == NOT_STARTED else now - self._config.not_started_s
            fixed = None
            final = INVALID if seed.imodel_id in self._config.failing_imodels else COMPLETE
        else:
            fixed = _epoch(last_modified) if last_modified is not None else (default_last_modified_s or now)
            final = seed.status
            created = fixed  # unused: a fixed status has no timeline (see status_at)
        error = seed.error
        if error is None and final == INVALID:
            error = self._config.failing_imodels.get(seed.imodel_id, "The export failed.")
        record = ExportRecord(
            id=seed.export_id,
            seq=next(self._seq) if seq is None else -seq,
            imodel_id=seed.imodel_id,
            changeset_id=seed.changeset_id or latest_changeset_id(seed.imodel_id),
            export_type=seed.export_type,
            display_name=seed.display_name or self.display_name(seed.imodel_id),
            created_s=created,
            not_started_s=self._config.not_started_s,
            in_progress_s=self._config.in_progress_s,
            final_status=final,
            error=error,
            tileset=seed.tileset or self._config.tileset,
            tile_version=seed.tile_version,
            itwinjs_version=seed.itwinjs_version,
            fixed_last_modified_s=fixed,
        )
        with self._lock:
            if record.id in self._exports:
                raise ValueError(f"an export with id {record.id!r} already exists")
            self._exports[record.id] = record
            self._ordered = None
        return record

    def start(
        self, imodel_id: str, changeset_id: str | None, export_type: str, tiler_config: list[Any] | None
    ) -> ExportRecord:
        """A new NotStarted export (Start Export)."""
        record = ExportRecord(
            id=str(uuid.uuid4()),
            seq=next(self._seq),
            imodel_id=imodel_id,
            changeset_id=changeset_id or latest_changeset_id(imodel_id),
            export_type=export_type,
            display_name=self.display_name(imodel_id),
            created_s=self._clock.now(),
            not_started_s=self._config.not_started_s,
            in_progress_s=self._config.in_progress_s,
            final_status=INVALID if imodel_id in self._config.failing_imodels else COMPLETE,
            error=self._config.failing_imodels.get(imodel_id),
            tileset=self._config.tileset,
            tiler_config=tiler_config,
        )
        with self._lock:
            self._exports[record.id] = record
            self._ordered = None
        return record

    # ---- reading ----

    def view(self, export_id: str) -> ExportView | None:
        with self._lock:
            record = self._exports.get(export_id)
        if record is None:
            return None
        status, last_modified = record.status_at(self._clock.now())
        return ExportView(record, status, last_modified)

    def _newest_first(self) -> list[ExportRecord]:
        """Every record, newest first; cached until the next addition or deletion."""
        with self._lock:
            if self._ordered is None:
                self._ordered = sorted(self._exports.values(), key=lambda r: r.seq, reverse=True)
            return self._ordered

    def page(self, query: ListQuery, skip: int, size: int) -> tuple[int, list[ExportView]]:
        """What a Get Exports call sees: the number of matching exports, and the page asked for.

        Filters do not depend on the status, so only the exports of the page (or, to order by
        date, the matching ones) have their status computed: listing 10,000 exports page by page
        stays cheap.
        """
        now = self._clock.now()
        wanted_types: frozenset[str] | None = None
        if query.export_type is not None:
            wanted_types = _THREE_D_TILES if query.export_type in _THREE_D_TILES else frozenset({query.export_type})
        records = self._newest_first()
        if any(
            v is not None
            for v in (query.imodel_id, query.changeset_id, wanted_types, query.tile_version, query.itwinjs_version)
        ):
            records = [
                r
                for r in records
                if (query.imodel_id is None or r.imodel_id == query.imodel_id)
                and (query.changeset_id is None or r.changeset_id == query.changeset_id)
                and (wanted_types is None or r.export_type in wanted_types)
                and (query.tile_version is None or r.tile_version in (None, query.tile_version))
                and (query.itwinjs_version is None or r.itwinjs_version in (None, query.itwinjs_version))
            ]
        if query.order_by in ("date:asc", "date:desc"):
            keyed = sorted(
                ((r.status_at(now)[1], r.seq, r) for r in records),
                key=lambda item: (item[0], item[1]),
                reverse=query.order_by == "date:desc",
            )
            records = [item[2] for item in keyed]
        window = records[skip : skip + size]
        views = []
        for record in window:
            status, last_modified = record.status_at(now)
            views.append(ExportView(record, status, last_modified))
        return len(records), views

    # ---- deletion ----

    def delete(self, export_id: str) -> str:
        """ "deleted", "not_found", or "in_progress" (NotStarted and InProgress cannot be deleted)."""
        with self._lock:
            record = self._exports.get(export_id)
            if record is None:
                return "not_found"
            status, _ = record.status_at(self._clock.now())
            if status in _PROGRESSING:
                return "in_progress"
            del self._exports[export_id]
            self._ordered = None
            return "deleted"

    def __len__(self) -> int:
        with self._lock:
            return len(self._exports)


def timestamp_style_for(style: TimestampStyle, seq: int) -> str:
    if style == "mixed":
        return "dotnet" if seq % 2 else "z"
    return style
