from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.export_type import ExportType
from ..types import UNSET, Unset

T = TypeVar("T", bound="StartExport")


@_attrs_define
class StartExport:
    """Request body of Start Export. If exportType is omitted, the export type defaults to 3DTiles.

    Attributes:
        i_model_id (str): ID of the iModel to extract from.
        changeset_id (str | Unset): ID of the changeset to extract from. If omitted or empty, the latest changeset is
            exported.
        export_type (ExportType | Unset): Type of mesh exported.
        tiler_config (list[TilerConfigItem] | Unset): A list of key-value pair configuration items forwarded to the
            tiler executable to customize tile generation behavior.
    """

    i_model_id: str
    changeset_id: str | Unset = UNSET
    export_type: ExportType | Unset = UNSET
    tiler_config: list[TilerConfigItem] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        i_model_id = self.i_model_id

        changeset_id = self.changeset_id

        export_type: str | Unset = UNSET
        if not isinstance(self.export_type, Unset):
            export_type = self.export_type.value

        tiler_config: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.tiler_config, Unset):
            tiler_config = []
            for tiler_config_item_data in self.tiler_config:
                tiler_config_item = tiler_config_item_data.to_dict()
                tiler_config.append(tiler_config_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "iModelId": i_model_id,
            }
        )
        if changeset_id is not UNSET:
            field_dict["changesetId"] = changeset_id
        if export_type is not UNSET:
            field_dict["exportType"] = export_type
        if tiler_config is not UNSET:
            field_dict["tilerConfig"] = tiler_config

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = src_dict
        i_model_id = d["iModelId"]

        changeset_id = d.get("changesetId", UNSET)

        _export_type = d.get("exportType", UNSET)
        export_type: ExportType | Unset
        if isinstance(_export_type, Unset):
            export_type = UNSET
        else:
            export_type = ExportType(_export_type)

        _tiler_config = d.get("tilerConfig", UNSET)
        tiler_config: list[TilerConfigItem] | Unset = UNSET
        if _tiler_config is not UNSET:
            tiler_config = []
            for tiler_config_item_data in _tiler_config:
                tiler_config_item = TilerConfigItem.from_dict(tiler_config_item_data)

                tiler_config.append(tiler_config_item)

        start_export = cls(
            i_model_id=i_model_id,
            changeset_id=changeset_id,
            export_type=export_type,
            tiler_config=tiler_config,
        )

        return start_export


from ..models.tiler_config_item import TilerConfigItem  # noqa: E402
