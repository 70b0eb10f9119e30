from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.export_status import ExportStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="Export")


@_attrs_define
class Export:
    """An export with all its details.

    Example:
        {'id': 'fc3aa1e5-5196-4dd9-a73e-4cfda693e576', 'displayName': 'My iModel', 'status': 'Complete', 'request':
            {'iModelId': 'b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc', 'changesetId': 'ed94ed9a0704918d36eeb620219f5e17d8858858',
            'exportType': '3DTiles'}, '_links': {'mesh': {'href': 'https://example.cloudfront.net/mesh-
            export/fc3aa1e5-5196-4dd9-a73e-4cfda693e576'}}}

    Attributes:
        id (str): ID of the export request.
        display_name (str): Name of the exported iModel
        status (ExportStatus): Status of the export.
        last_modified (str): Date when job metadata was last modified
        request (ExportResultBody): The original export request body stored with the result.
        stats (ExportStatsDisplay | Unset): Statistics of the export job. This obsoletes the Consumption type.
        error (str | Unset): Error message for Invalid exports.
        field_links (ExportLinks | Unset):
    """

    id: str
    display_name: str
    status: ExportStatus
    last_modified: str
    request: ExportResultBody
    stats: ExportStatsDisplay | Unset = UNSET
    error: str | Unset = UNSET
    field_links: ExportLinks | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        display_name = self.display_name

        status = self.status.value

        last_modified = self.last_modified

        request = self.request.to_dict()

        stats: dict[str, Any] | Unset = UNSET
        if not isinstance(self.stats, Unset):
            stats = self.stats.to_dict()

        error = self.error

        field_links: dict[str, Any] | Unset = UNSET
        if not isinstance(self.field_links, Unset):
            field_links = self.field_links.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "displayName": display_name,
                "status": status,
                "lastModified": last_modified,
                "request": request,
            }
        )
        if stats is not UNSET:
            field_dict["stats"] = stats
        if error is not UNSET:
            field_dict["error"] = error
        if field_links is not UNSET:
            field_dict["_links"] = field_links

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = src_dict
        id = d["id"]

        display_name = d["displayName"]

        status = ExportStatus(d["status"])

        last_modified = d["lastModified"]

        request = ExportResultBody.from_dict(d["request"])

        _stats = d.get("stats", UNSET)
        stats: ExportStatsDisplay | Unset
        if isinstance(_stats, Unset):
            stats = UNSET
        else:
            stats = ExportStatsDisplay.from_dict(_stats)

        error = d.get("error", UNSET)

        _field_links = d.get("_links", UNSET)
        field_links: ExportLinks | Unset
        if isinstance(_field_links, Unset):
            field_links = UNSET
        else:
            field_links = ExportLinks.from_dict(_field_links)

        export = cls(
            id=id,
            display_name=display_name,
            status=status,
            last_modified=last_modified,
            request=request,
            stats=stats,
            error=error,
            field_links=field_links,
        )

        return export


from ..models.export_links import ExportLinks  # noqa: E402
from ..models.export_result_body import ExportResultBody  # noqa: E402
from ..models.export_stats_display import ExportStatsDisplay  # noqa: E402
