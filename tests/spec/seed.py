"""Reads Bentley's Get Export reference page (openapi/seed/get-export.txt) into its JSON blocks.

The page is text with one JSON value per line under a heading: "Response 200 OK" for a response
example, or a schema's name (its title) for that schema. Nothing else on the page starts with "{".
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.conftest import SEED_PATH

RESPONSE_HEADING = re.compile(r"^Response \d{3} ")

# Headings on the page, as the page spells them, and the component each names in the spec.
SCHEMA_HEADINGS = {
    "Link": "Link",
    "TilerConfigItem": "TilerConfigItem",
    "ExportResultBody exportType": "ExportResultBody-exportType",
    "ExportResultBody": "ExportResultBody",
    "ExportResponse": "ExportResponse",
    "ExportStatus": "ExportStatus",
    "ExportDirStructure": "ExportDirStructure",
    "ExportMetrics": "ExportMetrics",
    "ExportStatsDisplay": "ExportStatsDisplay",
    "Export": "Export",
    "Error": "Error",
    "Error Response": "Error-Response",
}


def seed_lines() -> list[str]:
    return SEED_PATH.read_text(encoding="utf-8").splitlines()


def seed_blocks() -> list[tuple[str, Any]]:
    """(heading, parsed JSON) for every JSON block, in page order."""
    blocks: list[tuple[str, Any]] = []
    heading = ""
    for line in seed_lines():
        stripped = line.strip()
        if stripped.startswith("{"):
            blocks.append((heading, json.loads(stripped)))
        elif stripped in SCHEMA_HEADINGS or RESPONSE_HEADING.match(stripped):
            heading = stripped
    return blocks


def seed_schemas() -> dict[str, Any]:
    return {h: v for h, v in seed_blocks() if h in SCHEMA_HEADINGS}


def seed_response_examples() -> dict[int, Any]:
    """Status code -> the example body the page shows for it."""
    return {int(h.split()[1]): v for h, v in seed_blocks() if RESPONSE_HEADING.match(h)}


def seed_descriptions_of(heading: str) -> list[str]:
    """The lines of text the page shows under a schema heading, before its JSON block."""
    lines = seed_lines()
    start = lines.index(heading) + 1
    out = []
    for line in lines[start:]:
        if line.startswith("{") or line in SCHEMA_HEADINGS:
            break
        out.append(line)
    return out
