from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ExportLinks")


@_attrs_define
class ExportLinks:
    """
    Attributes:
        mesh (Link | Unset): An href link reference.
    """

    mesh: Link | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        mesh: dict[str, Any] | Unset = UNSET
        if not isinstance(self.mesh, Unset):
            mesh = self.mesh.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if mesh is not UNSET:
            field_dict["mesh"] = mesh

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = src_dict
        _mesh = d.get("mesh", UNSET)
        mesh: Link | Unset
        if isinstance(_mesh, Unset):
            mesh = UNSET
        else:
            mesh = Link.from_dict(_mesh)

        export_links = cls(
            mesh=mesh,
        )

        return export_links


from ..models.link import Link  # noqa: E402
