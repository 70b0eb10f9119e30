from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Link")


def _redact_query(value: object) -> str:
    """The repr of a URL whose query string is a credential (x-secret-query): values hidden."""
    if not isinstance(value, str):
        return repr(value)
    base, sep, query = value.partition("?")
    if not sep:
        return repr(value)
    hidden = "&".join(part.split("=", 1)[0] + "=REDACTED" for part in query.split("&") if part)
    return repr(f"{base}?{hidden}")


@_attrs_define
class Link:
    """An href link reference.

    Attributes:
        href (str): Http reference Example: https://api.bentley.com/path1/path2/id.
    """

    href: str = _attrs_field(repr=_redact_query)

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
