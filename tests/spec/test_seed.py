"""The spec's Get Export is Bentley's reference page, exactly: schemas, examples, texts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import load_spec
from tests.spec.seed import (
    SCHEMA_HEADINGS,
    seed_blocks,
    seed_descriptions_of,
    seed_lines,
    seed_response_examples,
    seed_schemas,
)


def _strip_extensions(node: Any) -> Any:
    """Drop x-* keys (the generator's naming hints), which the page does not render."""
    if isinstance(node, dict):
        return {k: _strip_extensions(v) for k, v in node.items() if not k.startswith("x-")}
    if isinstance(node, list):
        return [_strip_extensions(v) for v in node]
    return node


def _collapse_rendered_refs(node: Any, schemas: dict[str, Any]) -> Any:
    """The page renders a `$ref` with the referenced schema's keys inlined beside it.

    Check that those inlined keys equal the referenced schema, then keep only the `$ref`, which
    is what the spec itself must hold.
    """
    if isinstance(node, dict):
        if "$ref" in node and len(node) > 1:
            target = node["$ref"].rsplit("/", 1)[-1]
            inlined = {k: v for k, v in node.items() if k != "$ref"}
            assert inlined == _strip_extensions(schemas[target]), f"rendered {node['$ref']} differs from the spec"
            return {"$ref": node["$ref"]}
        return {k: _collapse_rendered_refs(v, schemas) for k, v in node.items()}
    if isinstance(node, list):
        return [_collapse_rendered_refs(v, schemas) for v in node]
    return node


def test_the_page_has_every_block_we_know_of() -> None:
    # Ten schema blocks plus four response examples. A page edited by someone would change this.
    assert len(seed_blocks()) == 14
    assert set(seed_response_examples()) == {200, 401, 404, 429}


@pytest.mark.parametrize("heading", sorted(seed_schemas()))
def test_schema_equals_the_page(heading: str) -> None:
    schemas = load_spec()["components"]["schemas"]
    key = SCHEMA_HEADINGS[heading]
    expected = _collapse_rendered_refs(copy.deepcopy(seed_schemas()[heading]), schemas)
    # JSON has no comments, YAML examples keep their order; compare values only.
    assert _strip_extensions(schemas[key]) == expected


@pytest.mark.parametrize("heading", ["ExportDirStructure", "ExportMetrics"])
def test_schemas_the_page_only_describes(heading: str) -> None:
    # The page shows a description and no JSON for these two: a free-form object with that text.
    schema = load_spec()["components"]["schemas"][SCHEMA_HEADINGS[heading]]
    assert seed_descriptions_of(heading) == [schema["description"]]
    assert _strip_extensions(schema) == {"type": "object", "description": schema["description"]}


def test_get_export_operation_equals_the_page() -> None:
    spec = load_spec()
    path = spec["paths"]["/{id}"]
    op = path["get"]
    lines = seed_lines()
    assert op["description"].startswith(lines[0])
    (id_param,) = path["parameters"]
    assert (id_param["name"], id_param["in"], id_param["required"]) == ("id", "path", True)
    assert id_param["description"] == lines[2]
    cdn = spec["components"]["parameters"]["cdn"]
    assert op["parameters"] == [{"$ref": "#/components/parameters/cdn"}]
    assert (cdn["name"], cdn["in"], cdn["required"], cdn["description"]) == ("cdn", "query", False, lines[3])
    assert sorted(op["responses"]) == ["200", "401", "404", "429"]
    assert op["responses"]["200"]["description"] == "Specified export"
    assert op["security"] == [{"oauth2": ["itwin-platform"]}]


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = spec["components"][section][name]
    return node


@pytest.mark.parametrize("status", [200, 401, 404, 429])
def test_get_export_examples_and_texts_equal_the_page(status: int) -> None:
    spec = load_spec()
    response = _resolve(spec, spec["paths"]["/{id}"]["get"]["responses"][str(status)])
    lines = seed_lines()
    heading = next(i for i, line in enumerate(lines) if line.startswith(f"Response {status} "))
    assert response["description"] == lines[heading + 1]
    for media_type in ("application/vnd.bentley.itwin-platform.v1+json", "application/json"):
        content = response["content"][media_type]
        (example,) = content["examples"].values()
        assert _resolve(spec, example)["value"] == seed_response_examples()[status]
        expected_schema = "ExportResponse" if status == 200 else "Error-Response"
        assert content["schema"] == {"$ref": f"#/components/schemas/{expected_schema}"}


def test_rate_limit_response_declares_retry_after_in_seconds() -> None:
    spec = load_spec()
    response = _resolve(spec, spec["paths"]["/{id}"]["get"]["responses"]["429"])
    header = _resolve(spec, response["headers"]["Retry-After"])
    lines = seed_lines()
    assert header["description"] == lines[lines.index("Response headers") + 1]
    assert header["schema"] == {"type": "integer", "minimum": 0}


def test_accept_and_authorization_are_not_declared_parameters() -> None:
    # OpenAPI ignores header parameters named Accept, Content-Type and Authorization; the overlay
    # sets them. Declaring them would only mislead readers and tools.
    spec = load_spec()
    names = set()
    for path in spec["paths"].values():
        for op in [path] + [v for k, v in path.items() if k in {"get", "post", "delete"}]:
            for param in op.get("parameters", []):
                names.add(_resolve(spec, param)["name"].lower())
    assert names.isdisjoint({"accept", "authorization", "content-type"})
