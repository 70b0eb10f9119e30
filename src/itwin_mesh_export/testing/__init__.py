"""A local Mesh Export service for tests: the API, an IMS-like token endpoint, blob storage and a CDN.

It keeps to the committed spec (`openapi/mesh-export.yaml`, checked by schemathesis), runs over
real sockets on 127.0.0.1, and needs the `server` extra (`pip install itwin-mesh-export[server]`):

    from itwin_mesh_export.testing import Fault, LocalMeshExportService, make_seed_exports

    with LocalMeshExportService(seed_exports=make_seed_exports(3), in_progress_s=0.5) as svc:
        svc.api_url            # http://127.0.0.1:<port>/mesh-export, a client's base URL
        svc.token              # a static bearer token; or svc.client_id / svc.client_secret
        svc.token_url          # for the client-credentials flow (POST /connect/token)
        svc.faults.add(Fault.rate_limit("get-export", retry_after_s=2, times=2))
        svc.storage_authorization_headers   # [] unless someone sent a token to storage

From the command line: `python -m itwin_mesh_export.testing --port 8080`. With pytest: add
`pytest_plugins = ["itwin_mesh_export.testing.pytest_plugin"]` and use the
`mesh_export_service` fixture. The module docstrings of `_api`, `_storage`, `_faults` and
`_admin` describe the routes, the storage signatures, the faults and the admin endpoints.
"""

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra installed
    raise ImportError(
        f"itwin_mesh_export.testing needs the 'server' extra ({exc.name} is missing): "
        "pip install 'itwin-mesh-export[server]'"
    ) from exc

from ._clock import Clock, ManualClock, ScaledClock, SystemClock
from ._config import SeedExport, ServiceConfig, ServiceConfigError, make_seed_exports
from ._context import RequestRecord
from ._faults import Fault, FaultKind, FaultRegistry, FaultSpecError, Route
from ._service import LocalMeshExportService, ServiceStartError
from ._tiles import ExportFiles, FileInfo, TilesetLayout, TilesetSpec, TilesetSpecError

__all__ = [
    "Clock",
    "ExportFiles",
    "Fault",
    "FaultKind",
    "FaultRegistry",
    "FaultSpecError",
    "FileInfo",
    "LocalMeshExportService",
    "ManualClock",
    "RequestRecord",
    "Route",
    "ScaledClock",
    "SeedExport",
    "ServiceConfig",
    "ServiceConfigError",
    "ServiceStartError",
    "SystemClock",
    "TilesetLayout",
    "TilesetSpec",
    "TilesetSpecError",
    "make_seed_exports",
]
