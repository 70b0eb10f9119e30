"""`import itwin_mesh_export` leaves the clients, the models, asyncio and the download engine for later.

Each is loaded on first use (a client, a model, the async client, a download): together they are
nearly all of the package's import time beyond httpx (BENCHMARKS.md, import time). This checks
which modules an import loads, in a fresh interpreter; it times nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

_PROBE = """
import json, sys
import itwin_mesh_export
MODULES = ("asyncio", "anyio", "attrs", "itwin_mesh_export_generated",
           "itwin_mesh_export._client", "itwin_mesh_export._download")
before = {m: m in sys.modules for m in MODULES}
itwin_mesh_export.MeshExportError, itwin_mesh_export.__version__
itwin_mesh_export.download_tileset
from itwin_mesh_export import AsyncMeshExportClient
AsyncMeshExportClient("t", base_url="http://127.0.0.1:9/mesh-export")
after = {m: m in sys.modules for m in MODULES}
print(json.dumps({"before": before, "after": after}))
"""


def test_the_package_import_defers_asyncio_and_the_download_engine() -> None:
    proc = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    assert set(loaded["before"].values()) == {False}, loaded["before"]
    # ...and the names still work: using them loads what they need.
    assert set(loaded["after"].values()) == {True}, loaded["after"]
