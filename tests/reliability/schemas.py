"""The committed spec's response schemas as plain JSON Schema, for hypothesis-jsonschema.

OpenAPI 3.0 schemas are not JSON Schema: `nullable: true` means "or null" (JSON Schema says
`"type": [t, "null"]`), `$ref`s point into the document's `components`, and keywords such as
`example`, `discriminator` or `x-...` extensions mean nothing to a validator or a generator. The
conversion here inlines every `$ref`, turns `nullable` into a null alternative (on `type`, on
`enum`, or as `anyOf` around a schema without a type), turns 3.0's boolean `exclusiveMinimum` /
`exclusiveMaximum` into draft-7 numbers, and drops annotations. Formats are kept
(`date-time` is generated as RFC 3339 text by hypothesis-jsonschema).
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

from tests.conftest import load_spec

__all__ = ["model_name", "response_schema_names", "to_json_schema"]

_ANNOTATIONS = frozenset(
    {
        "description",
        "title",
        "example",
        "examples",
        "externalDocs",
        "deprecated",
        "readOnly",
        "writeOnly",
        "xml",
        "discriminator",
    }
)
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SUBSCHEMA = ("items", "not", "additionalProperties")


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, got {ref}")
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _convert(spec: dict[str, Any], node: Any, stack: tuple[str, ...]) -> Any:
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in stack:
            raise ValueError(f"recursive schema through {ref}: not supported by this conversion")
        return _convert(spec, _resolve(spec, ref), (*stack, ref))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ANNOTATIONS or key.startswith("x-") or key == "nullable":
            continue
        if key == "properties":
            out[key] = {name: _convert(spec, sub, stack) for name, sub in value.items()}
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [_convert(spec, sub, stack) for sub in value]
        elif key in _SUBSCHEMA and isinstance(value, dict):
            out[key] = _convert(spec, value, stack)
        else:
            out[key] = copy.deepcopy(value)
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if out.get(bound) is True:
            out[bound] = out.pop(limit)
        elif out.get(bound) is False:
            del out[bound]
    if node.get("nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def to_json_schema(component: str) -> dict[str, Any]:
    """`components/schemas/<component>` of the committed spec, as self-contained JSON Schema."""
    spec = load_spec()
    schema: dict[str, Any] = _convert(spec, {"$ref": f"#/components/schemas/{component}"}, ())
    return schema


@functools.cache
def response_schema_names() -> tuple[str, ...]:
    """Every schema a response of the spec has (by component name), sorted."""
    spec = load_spec()
    names: set[str] = set()
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for response in operation["responses"].values():
                if "$ref" in response:
                    response = _resolve(spec, response["$ref"])
                for media in response.get("content", {}).values():
                    ref = media["schema"].get("$ref", "")
                    if not ref.startswith("#/components/schemas/"):
                        raise ValueError(f"a response schema that is not a component: {media['schema']}")
                    names.add(ref.rsplit("/", 1)[1])
    return tuple(sorted(names))


def model_name(component: str) -> str:
    """The generated class of a component: `DetailedError-Response` -> `DetailedErrorResponse`."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", component) if part)


# ---- hypothesis-jsonschema 0.23.1 on Hypothesis >= 6.150 ----
#
# hypothesis-jsonschema (its last release, 0.23.1) builds objects by driving Hypothesis' private
# `conjecture.utils.many` with `elements.more()`. Hypothesis 6.150 turned `many` into an iterator
# used inside a `with` block, so every object schema failed with "'many' object has no attribute
# 'more'". The adapter below gives it the old interface over the new one: the same draws and spans,
# so generation and shrinking work as before. It is installed on hypothesis-jsonschema's own
# module reference only; nothing else in Hypothesis changes.


class _ManyWithMore:
    _DONE = object()

    def __init__(self, data: Any, **kwargs: Any) -> None:
        from hypothesis.internal.conjecture import utils as cu

        self._many = cu.many(data, **kwargs)
        self._elements: Any = None

    def more(self) -> bool:
        if self._elements is None:
            self._many.__enter__()
            self._elements = iter(self._many)
        if next(self._elements, self._DONE) is self._DONE:
            self._many.__exit__(None, None, None)
            return False
        return True

    def reject(self, why: str | None = None) -> None:
        self._many.reject(why)


def _install_many_adapter() -> None:
    import types

    import hypothesis_jsonschema._from_schema as from_schema_module

    if not hasattr(getattr(from_schema_module, "cu").many, "more"):  # noqa: B009 - not exported
        setattr(from_schema_module, "cu", types.SimpleNamespace(many=_ManyWithMore))  # noqa: B010


_install_many_adapter()
