from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ExportsPage")


@_attrs_define
class ExportsPage:
    """A page of exports.

    Attributes:
        exports (list[Export | ExportSummary]): Full exports with Prefer return=representation, summaries with
            return=minimal.
        field_links (PageLinks | Unset): Links to this page and, where they exist, to the previous and the next page.
    """

    exports: list[Export | ExportSummary]
    field_links: PageLinks | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        exports = []
        for exports_item_data in self.exports:
            exports_item: dict[str, Any]
            if isinstance(exports_item_data, Export):
                exports_item = exports_item_data.to_dict()
            else:
                exports_item = exports_item_data.to_dict()

            exports.append(exports_item)

        field_links: dict[str, Any] | Unset = UNSET
        if not isinstance(self.field_links, Unset):
            field_links = self.field_links.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "exports": exports,
            }
        )
        if field_links is not UNSET:
            field_dict["_links"] = field_links

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = src_dict
        exports = []
        _exports = d["exports"]
        for exports_item_data in _exports:

            def _parse_exports_item(data: object) -> Export | ExportSummary:
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    exports_item_type_0 = Export.from_dict(data)

                    return exports_item_type_0
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                if not isinstance(data, dict):
                    raise TypeError()
                exports_item_type_1 = ExportSummary.from_dict(data)

                return exports_item_type_1

            exports_item = _parse_exports_item(exports_item_data)

            exports.append(exports_item)

        _field_links = d.get("_links", UNSET)
        field_links: PageLinks | Unset
        if isinstance(_field_links, Unset):
            field_links = UNSET
        else:
            field_links = PageLinks.from_dict(_field_links)

        exports_page = cls(
            exports=exports,
            field_links=field_links,
        )

        return exports_page


from ..models.export import Export  # noqa: E402
from ..models.export_summary import ExportSummary  # noqa: E402
from ..models.page_links import PageLinks  # noqa: E402
