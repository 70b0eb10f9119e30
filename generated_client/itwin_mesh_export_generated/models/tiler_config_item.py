from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="TilerConfigItem")


@_attrs_define
class TilerConfigItem:
    """A key-value configuration item for the tilerConfig.

    Attributes:
        key (str): Configuration key name.
        value (bool | float | str): Configuration value; may be a string, number, or boolean.
    """

    key: str
    value: bool | float | str

    def to_dict(self) -> dict[str, Any]:
        key = self.key

        value: bool | float | str
        value = self.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "key": key,
                "value": value,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = src_dict
        key = d["key"]

        def _parse_value(data: object) -> bool | float | str:
            return cast(bool | float | str, data)

        value = _parse_value(d["value"])

        tiler_config_item = cls(
            key=key,
            value=value,
        )

        return tiler_config_item
