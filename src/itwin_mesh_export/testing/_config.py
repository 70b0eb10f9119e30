"""What a local service is made of: its exports at start, its timings, credentials and sizes.

`ServiceConfig` is plain data, checked when built (`ServiceConfigError` says what is wrong), so a
test can write `ServiceConfig(in_progress_s=0.5, failing_imodels={"bad": "Out of memory"})`
and the command line can build the same object from its flags.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ._faults import Fault
from ._tiles import TilesetSpec

__all__ = [
    "JSON_MEDIA_TYPE",
    "VND_MEDIA_TYPE",
    "SeedExport",
    "ServiceConfig",
    "ServiceConfigError",
    "make_seed_exports",
]

JSON_MEDIA_TYPE = "application/json"
VND_MEDIA_TYPE = "application/vnd.bentley.itwin-platform.v1+json"
_SEED_NAMESPACE = uuid.UUID("6f1d8a5c-2b0e-4c9a-9d3e-5a7b1c0e4f21")


class ServiceConfigError(ValueError):
    """A service configuration that cannot work (negative durations, empty credentials, ...)."""


@dataclass(frozen=True)
class SeedExport:
    """An export that exists when the service starts, as if generated automatically.

    `status` is any string: Complete and Invalid (and values the spec does not list, such as
    "Queued") stay as given; NotStarted and InProgress progress from the service's start like a
    started export. `id` defaults to a UUID derived from `imodel_id` and `index`, so the same
    configuration always yields the same ids (and the same file bytes).
    """

    imodel_id: str
    index: int = 0
    id: str | None = None
    changeset_id: str | None = None
    export_type: str = "3DTiles"
    display_name: str | None = None
    status: str = "Complete"
    error: str | None = None
    last_modified: datetime | float | None = None
    tileset: TilesetSpec | None = None
    tile_version: str | None = None
    itwinjs_version: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.imodel_id, str) or not self.imodel_id:
            raise ServiceConfigError("SeedExport.imodel_id must be a non-empty string")
        if not isinstance(self.status, str) or not self.status:
            raise ServiceConfigError("SeedExport.status must be a non-empty string")
        if self.id is not None and (not isinstance(self.id, str) or not self.id or "/" in self.id):
            raise ServiceConfigError(f"SeedExport.id must be a non-empty string without '/', got {self.id!r}")

    @property
    def export_id(self) -> str:
        return self.id or str(uuid.uuid5(_SEED_NAMESPACE, f"{self.imodel_id}/{self.index}"))


def make_seed_exports(
    count: int,
    *,
    imodel_id: str = "b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc",
    imodel_ids: Sequence[str] | None = None,
    export_type: str = "3DTiles",
    status: str = "Complete",
    tileset: TilesetSpec | None = None,
) -> list[SeedExport]:
    """`count` Complete exports (by default) of one iModel, or spread round-robin over `imodel_ids`.

    Their lastModified times step back one minute each from the service's start, newest first.
    """
    if not isinstance(count, int) or count < 0:
        raise ServiceConfigError(f"count must be an int >= 0, got {count!r}")
    ids = list(imodel_ids) if imodel_ids else [imodel_id]
    return [
        SeedExport(imodel_id=ids[i % len(ids)], index=i, export_type=export_type, status=status, tileset=tileset)
        for i in range(count)
    ]


MediaTypeChoice = Literal["application/json", "application/vnd.bentley.itwin-platform.v1+json", "negotiate"]
_JSON: MediaTypeChoice = "application/json"
TimestampStyle = Literal["z", "dotnet", "mixed"]


@dataclass(frozen=True)
class ServiceConfig:
    """Everything a `LocalMeshExportService` can be told at start. Every field has a default.

    Exports: `seed_exports` exist at start; `not_started_s` and `in_progress_s` time a started
    export's progress (service clock); `failing_imodels` maps iModel ids to the error text their
    exports end Invalid with; `imodels` maps known iModel ids to display names (None: every id is
    known, and Start Export answers 404 IModelNotFound only for ids in `missing_imodels`).

    Auth: one client (`client_id`, `client_secret`) gets tokens from `/connect/token` that live
    `token_lifetime_s`; `static_token` (None: none) is accepted too and never expires.

    Links and files: `link_lifetime_s` is the validity of the signed storage URLs; `tileset`
    sizes each export's files; `container` names the blob container; `signing_key` fixes the
    signing key (None: random per start); `storage_rejects_authorization` makes storage answer 403
    to any request that carries an Authorization header, as the blob store does with a bearer token
    it did not issue.

    Wire format: `default_page_size` / `max_page_size` bound `$top`; `timestamp_style` is "z"
    (2024-08-22T03:18:43Z), "dotnet" (2024-08-22T03:18:43.0000000+00:00) or "mixed" (alternating);
    `media_type` labels JSON bodies application/json, the vnd type, or "negotiate" (the vnd type
    when the request's Accept names it).

    `faults` are armed at start; `chunk_size` is the size of streamed file pieces.
    """

    seed_exports: Sequence[SeedExport] = ()
    not_started_s: float = 1.0
    in_progress_s: float = 2.0
    failing_imodels: Mapping[str, str] = field(default_factory=dict)
    imodels: Mapping[str, str] | None = None
    missing_imodels: frozenset[str] = frozenset()
    client_id: str = "local-client"
    client_secret: str = "local-secret"
    static_token: str | None = "local-static-token"
    token_lifetime_s: float = 3600.0
    link_lifetime_s: float = 3600.0
    tileset: TilesetSpec = field(default_factory=TilesetSpec)
    container: str = "exports"
    signing_key: bytes | None = None
    storage_rejects_authorization: bool = True
    default_page_size: int = 100
    max_page_size: int = 1000
    timestamp_style: TimestampStyle = "z"
    media_type: MediaTypeChoice = _JSON
    faults: Sequence[Fault] = ()
    chunk_size: int = 1 << 20

    def __post_init__(self) -> None:
        for name in ("not_started_s", "in_progress_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ServiceConfigError(f"{name} must be a number >= 0, got {value!r}")
        for name in ("token_lifetime_s", "link_lifetime_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ServiceConfigError(f"{name} must be a number > 0, got {value!r}")
        for name in ("default_page_size", "max_page_size", "chunk_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ServiceConfigError(f"{name} must be an int >= 1, got {value!r}")
        if self.default_page_size > self.max_page_size:
            raise ServiceConfigError("default_page_size must not exceed max_page_size")
        if not self.client_id or not self.client_secret:
            raise ServiceConfigError("client_id and client_secret must be non-empty")
        if self.static_token is not None and (not self.static_token or any(c.isspace() for c in self.static_token)):
            raise ServiceConfigError("static_token must be None or a non-empty string without spaces")
        if not self.container or "/" in self.container:
            raise ServiceConfigError(f"container must be a non-empty name without '/', got {self.container!r}")
        if self.timestamp_style not in ("z", "dotnet", "mixed"):
            raise ServiceConfigError(f"timestamp_style must be 'z', 'dotnet' or 'mixed', got {self.timestamp_style!r}")
        if self.media_type not in (JSON_MEDIA_TYPE, VND_MEDIA_TYPE, "negotiate"):
            raise ServiceConfigError(
                f"media_type must be {JSON_MEDIA_TYPE!r}, {VND_MEDIA_TYPE!r} or 'negotiate', got {self.media_type!r}"
            )
        if not isinstance(self.tileset, TilesetSpec):
            raise ServiceConfigError("tileset must be a TilesetSpec")
        seen: set[str] = set()
        for seed in self.seed_exports:
            if not isinstance(seed, SeedExport):
                raise ServiceConfigError(f"seed_exports must hold SeedExport objects, got {type(seed).__name__}")
            if seed.export_id in seen:
                raise ServiceConfigError(f"two seed exports share the id {seed.export_id!r}")
            seen.add(seed.export_id)
        for fault in self.faults:
            if not isinstance(fault, Fault):
                raise ServiceConfigError(f"faults must hold Fault objects, got {type(fault).__name__}")
        object.__setattr__(self, "missing_imodels", frozenset(self.missing_imodels))
