from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="Link")


@_attrs_define
class Link:
    """An href link reference.

    Attributes:
        href (str): Http reference Example: https://api.bentley.com/path1/path2/id.
    """

    href: str

    def to_dict(self) -> dict[str, Any]:
        href = self.href

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "href": href,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = src_dict
        href = d["href"]

        link = cls(
            href=href,
        )

        return link
