from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="PageLinks")


@_attrs_define
class PageLinks:
    """Links to this page and, where they exist, to the previous and the next page.

    Attributes:
        self_ (Link | Unset): An href link reference.
        prev (Link | Unset): An href link reference.
        next_ (Link | Unset): An href link reference.
    """

    self_: Link | Unset = UNSET
    prev: Link | Unset = UNSET
    next_: Link | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        self_: dict[str, Any] | Unset = UNSET
        if not isinstance(self.self_, Unset):
            self_ = self.self_.to_dict()

        prev: dict[str, Any] | Unset = UNSET
        if not isinstance(self.prev, Unset):
            prev = self.prev.to_dict()

        next_: dict[str, Any] | Unset = UNSET
        if not isinstance(self.next_, Unset):
            next_ = self.next_.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if self_ is not UNSET:
            field_dict["self"] = self_
        if prev is not UNSET:
            field_dict["prev"] = prev
        if next_ is not UNSET:
            field_dict["next"] = next_

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = src_dict
        _self_ = d.get("self", UNSET)
        self_: Link | Unset
        if isinstance(_self_, Unset):
            self_ = UNSET
        else:
            self_ = Link.from_dict(_self_)

        _prev = d.get("prev", UNSET)
        prev: Link | Unset
        if isinstance(_prev, Unset):
            prev = UNSET
        else:
            prev = Link.from_dict(_prev)

        _next_ = d.get("next", UNSET)
        next_: Link | Unset
        if isinstance(_next_, Unset):
            next_ = UNSET
        else:
            next_ = Link.from_dict(_next_)

        page_links = cls(
            self_=self_,
            prev=prev,
            next_=next_,
        )

        return page_links


from ..models.link import Link  # noqa: E402
