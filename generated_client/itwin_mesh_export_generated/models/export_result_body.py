from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.export_type import ExportType
from ..types import UNSET, Unset

T = TypeVar("T", bound="ExportResultBody")


@_attrs_define
class ExportResultBody:
    """The original export request body stored with the result.

    Attributes:
        i_model_id (str): ID of the iModel.
        changeset_id (str): ID of the changeset extracted from.
        export_type (ExportType): Type of mesh exported.
        context_id (str | Unset): Context/iTwin ID of the export (kept for backwards compatibility).
        i_twin_id (str | Unset): iTwin ID of the export.
        changeset_index (str | Unset): Index of the changeset.
        tiler_config (list[TilerConfigItem] | Unset): A list of key value pairs forwarded to the tiler executable.
    """

    i_model_id: str
    changeset_id: str
    export_type: ExportType
    context_id: str | Unset = UNSET
    i_twin_id: str | Unset = UNSET
    changeset_index: str | Unset = UNSET
    tiler_config: list[TilerConfigItem] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        i_model_id = self.i_model_id

        changeset_id = self.changeset_id

        export_type = self.export_type.value

        context_id = self.context_id

        i_twin_id = self.i_twin_id

        changeset_index = self.changeset_index

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
                "changesetId": changeset_id,
                "exportType": export_type,
            }
        )
        if context_id is not UNSET:
            field_dict["contextId"] = context_id
        if i_twin_id is not UNSET:
            field_dict["iTwinId"] = i_twin_id
        if changeset_index is not UNSET:
            field_dict["changesetIndex"] = changeset_index
        if tiler_config is not UNSET:
            field_dict["tilerConfig"] = tiler_config

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = src_dict
        i_model_id = d["iModelId"]

        changeset_id = d["changesetId"]

        export_type = ExportType(d["exportType"])

        context_id = d.get("contextId", UNSET)

        i_twin_id = d.get("iTwinId", UNSET)

        changeset_index = d.get("changesetIndex", UNSET)

        _tiler_config = d.get("tilerConfig", UNSET)
        tiler_config: list[TilerConfigItem] | Unset = UNSET
        if _tiler_config is not UNSET:
            tiler_config = []
            for tiler_config_item_data in _tiler_config:
                tiler_config_item = TilerConfigItem.from_dict(tiler_config_item_data)

                tiler_config.append(tiler_config_item)

        export_result_body = cls(
            i_model_id=i_model_id,
            changeset_id=changeset_id,
            export_type=export_type,
            context_id=context_id,
            i_twin_id=i_twin_id,
            changeset_index=changeset_index,
            tiler_config=tiler_config,
        )

        return export_result_body


from ..models.tiler_config_item import TilerConfigItem  # noqa: E402
