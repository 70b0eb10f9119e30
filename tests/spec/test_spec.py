"""The committed spec is valid OpenAPI, lints clean, covers the resource, and its provenance is current."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from tests.conftest import ROOT, SPEC_PATH, load_spec

PROVENANCE = ROOT / "openapi" / "PROVENANCE.md"
LOCK = ROOT / "requirements" / "dev.txt"
REDOCLY = ROOT / "node_modules" / ".bin" / "redocly"
VND_JSON = "application/vnd.bentley.itwin-platform.v1+json"


def test_spec_passes_openapi_spec_validator() -> None:
    spec_dict, base_uri = read_from_filename(str(SPEC_PATH))
    validate(spec_dict, base_uri=base_uri)


def test_spec_lints_clean_with_redocly() -> None:
    if not REDOCLY.exists():  # pragma: no cover - `make install` runs `npm ci` before any test
        pytest.fail("node_modules/.bin/redocly is missing: run `make install` (npm ci)")
    node = shutil.which("node")
    assert node is not None, "Node.js is required for the spec linter"
    proc = subprocess.run(
        [str(REDOCLY), "lint", str(SPEC_PATH), "--format=stylish"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stdout.lower().replace("0 errors", "")


def test_every_operation_of_the_resource_is_there() -> None:
    spec = load_spec()
    ops = {
        (path, method): op["operationId"]
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "delete", "put", "patch"}
    }
    assert ops == {
        ("/", "get"): "get-exports",
        ("/", "post"): "start-export",
        ("/{id}", "get"): "get-export",
        ("/{id}", "delete"): "delete-export",
    }


def test_every_operation_needs_the_itwin_platform_scope() -> None:
    spec = load_spec()
    flows = spec["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "https://ims.bentley.com/connect/token"
    assert flows["authorizationCode"]["tokenUrl"] == "https://ims.bentley.com/connect/token"
    for flow in flows.values():
        assert set(flow["scopes"]) == {"itwin-platform"}
    assert spec["security"] == [{"oauth2": ["itwin-platform"]}]
    for item in spec["paths"].values():
        for method in {"get", "post", "delete"} & item.keys():
            assert item[method]["security"] == [{"oauth2": ["itwin-platform"]}]


def test_every_json_response_is_servable_for_bentleys_accept_header() -> None:
    # A mock server that negotiates content types (Prism) answers 406 unless the media type the
    # client asks for is declared.
    spec = load_spec()
    responses = spec["components"]["responses"]
    for item in spec["paths"].values():
        for method in {"get", "post", "delete"} & item.keys():
            for status, response in item[method]["responses"].items():
                if "$ref" in response:
                    response = responses[response["$ref"].rsplit("/", 1)[-1]]
                if status == "204":
                    assert "content" not in response
                    continue
                assert VND_JSON in response["content"], (method, status)
                assert "application/json" in response["content"], (method, status)


def test_get_exports_parameters_and_shapes() -> None:
    spec = load_spec()
    op = spec["paths"]["/"]["get"]
    names = [p.get("name") or p["$ref"].rsplit("/", 1)[-1] for p in op["parameters"]]
    assert names == [
        "iModelId", "changesetId", "$top", "$skip", "$orderBy", "cdn", "tileVersion", "exportType", "iTwinJS", "Prefer"
    ]  # fmt: skip
    schemas = spec["components"]["schemas"]
    assert schemas["ExportsOrderBy"]["enum"] == ["date:asc", "date:desc"]
    assert schemas["PreferReturn"]["enum"] == ["return=minimal", "return=representation"]
    items = schemas["ExportsPage"]["properties"]["exports"]["items"]["oneOf"]
    assert items == [{"$ref": "#/components/schemas/Export"}, {"$ref": "#/components/schemas/ExportSummary"}]
    assert set(schemas["PageLinks"]["properties"]) == {"self", "next", "prev"}


def test_start_and_delete_responses() -> None:
    spec = load_spec()
    start = spec["paths"]["/"]["post"]["responses"]
    delete = spec["paths"]["/{id}"]["delete"]["responses"]
    assert sorted(start) == ["202", "401", "404", "422", "429"]
    assert sorted(delete) == ["204", "401", "404", "422", "429"]
    detailed = {"$ref": "#/components/schemas/DetailedError-Response"}
    assert start["422"]["content"][VND_JSON]["schema"] == detailed
    assert delete["422"]["content"][VND_JSON]["schema"] == detailed
    body = spec["components"]["schemas"]["StartExport"]
    assert body["required"] == ["iModelId"]
    assert set(body["properties"]) == {"iModelId", "changesetId", "exportType", "tilerConfig"}


def test_provenance_records_this_spec_and_the_pinned_tools() -> None:
    text = PROVENANCE.read_text(encoding="utf-8")
    digest = hashlib.sha256(SPEC_PATH.read_bytes()).hexdigest()
    recorded = re.search(r"sha256: `([0-9a-f]{64})`", text)
    assert recorded, "PROVENANCE.md must record the spec's sha256"
    assert recorded.group(1) == digest, "the spec changed: update its sha256 (and what changed) in PROVENANCE.md"
    lock = LOCK.read_text(encoding="utf-8")
    for tool in ("openapi-python-client", "ruff"):
        pinned = re.search(rf"^{tool}==(\S+)$", lock, re.MULTILINE)
        assert pinned, tool
        assert f"{tool} {pinned.group(1)}" in text, f"PROVENANCE.md must name {tool} {pinned.group(1)}"
