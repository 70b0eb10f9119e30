"""Shared paths and loaders for every test layer."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "openapi" / "mesh-export.yaml"
SEED_PATH = ROOT / "openapi" / "seed" / "get-export.txt"


@functools.cache
def load_spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


@pytest.fixture
def anyio_backend() -> str:
    # The async client (AsyncMeshExportClient) targets asyncio: every anyio test runs on it.
    return "asyncio"
