from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.export_status import ExportStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="ExportSummary")


@_attrs_define
class ExportSummary:
    """An export as Get Exports returns it with Prefer return=minimal.

    Attributes:
        id (str): ID of the export request.
        display_name (str): Name of the exported iModel
        status (ExportStatus): Status of the export.
        last_modified (str | Unset): Date when job metadata was last modified
    """

    id: str
    display_name: str
    status: ExportStatus
    last_modified: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        display_name = self.display_name

        status = self.status.value

        last_modified = self.last_modified

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "displayName": display_name,
                "status": status,
            }
        )
        if last_modified is not UNSET:
            field_dict["lastModified"] = last_modified

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = src_dict
        id = d["id"]

        display_name = d["displayName"]

        status = ExportStatus(d["status"])

        last_modified = d.get("lastModified", UNSET)

        export_summary = cls(
            id=id,
            display_name=display_name,
            status=status,
            last_modified=last_modified,
        )

        return export_summary
