from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="DetailedErrorResponse")


@_attrs_define
class DetailedErrorResponse:
    """Gives details for an error that occurred while handling the request, with the more specific errors that caused it.

    Attributes:
        error (DetailedError): Contains error information and an array of more specific errors.
    """

    error: DetailedError

    def to_dict(self) -> dict[str, Any]:
        error = self.error.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "error": error,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = src_dict
        error = DetailedError.from_dict(d["error"])

        detailed_error_response = cls(
            error=error,
        )

        return detailed_error_response


from ..models.detailed_error import DetailedError  # noqa: E402
