from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ExportResponse")


@_attrs_define
class ExportResponse:
    """Response containing the details of a single export.

    Example:
        {'export': {'id': 'fc3aa1e5-5196-4dd9-a73e-4cfda693e576', 'displayName': 'My iModel', 'status': 'Complete',
            'lastModified': '2024-08-22T03:18:43Z', 'request': {'iModelId': 'b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc',
            'changesetId': 'ed94ed9a0704918d36eeb620219f5e17d8858858', 'exportType': '3DTiles'}, '_links': {'mesh': {'href':
            'https://example.cloudfront.net/mesh-export/fc3aa1e5-5196-4dd9-a73e-4cfda693e576'}}}}

    Attributes:
        export (Export | Unset): An export with all its details. Example: {'id': 'fc3aa1e5-5196-4dd9-a73e-4cfda693e576',
            'displayName': 'My iModel', 'status': 'Complete', 'request': {'iModelId':
            'b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc', 'changesetId': 'ed94ed9a0704918d36eeb620219f5e17d8858858', 'exportType':
            '3DTiles'}, '_links': {'mesh': {'href': 'https://example.cloudfront.net/mesh-
            export/fc3aa1e5-5196-4dd9-a73e-4cfda693e576'}}}.
    """

    export: Export | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        export: dict[str, Any] | Unset = UNSET
        if not isinstance(self.export, Unset):
            export = self.export.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if export is not UNSET:
            field_dict["export"] = export

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = src_dict
        _export = d.get("export", UNSET)
        export: Export | Unset
        if isinstance(_export, Unset):
            export = UNSET
        else:
            export = Export.from_dict(_export)

        export_response = cls(
            export=export,
        )

        return export_response


from ..models.export import Export  # noqa: E402
