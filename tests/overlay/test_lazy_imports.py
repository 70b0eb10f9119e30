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
           "itwin_mesh_export._client", "itwin_mesh_export.download._driver")
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


_CLI_PROBE = """
import json, sys
from itwin_mesh_export.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
defaults = "itwin_mesh_export.download._defaults"
engine = sorted(m for m in sys.modules if m.startswith("itwin_mesh_export.download.") and m != defaults)
print(json.dumps({"anyio": "anyio" in sys.modules, "engine": engine}))
"""


def _cli_loads(*argv: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", _CLI_PROBE, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    loaded: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return loaded


def test_the_command_line_loads_no_download_engine_for_version_or_get() -> None:
    # --version: no engine, and no anyio (nothing of it is needed to print a version).
    assert _cli_loads("--version") == {"anyio": False, "engine": []}
    # `get` against a closed port fails to connect, after loading all it loads to try: no engine
    # module beyond its defaults. (anyio is loaded there by httpx's own transport, httpcore, whose
    # `_synchronization` imports it for every client, sync ones included: not this package's doing.)
    loaded = _cli_loads("--base-url", "http://127.0.0.1:9/mesh-export", "--token", "t", "get", "e1")
    assert loaded["engine"] == [], loaded
