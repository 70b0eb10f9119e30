from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="ErrorResponse")


@_attrs_define
class ErrorResponse:
    """Gives details for an error that occurred while handling the request. Note that clients MUST NOT assume that every
    failed request will produce an object of this schema, or that all of the properties in the response will be non-
    null, as the error may have prevented this response from being constructed.

        Attributes:
            error (Error): Contains error information.
    """

    error: Error

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
        error = Error.from_dict(d["error"])

        error_response = cls(
            error=error,
        )

        return error_response


from ..models.error import Error  # noqa: E402
