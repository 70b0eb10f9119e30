"""Python client for Bentley's iTwin Platform Mesh Export API.

The download engine's names (`download_tileset`, `DownloadResult`, `verify_download`, ...) are
loaded on first use (PEP 562 `__getattr__` below): importing the engine is about a quarter of the
package's import time, which a program that never downloads should not pay (BENCHMARKS.md).
"""

from typing import TYPE_CHECKING, Any

from ._auth import CallableToken, ClientCredentials, StaticToken, TokenProvider
from ._client import DEFAULT_BASE_URL, AsyncMeshExportClient, MeshExportClient
from ._dates import last_modified_at, parse_timestamp
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DownloadError,
    ErrorDetail,
    ExportFailedError,
    ExportNotCompleteError,
    IncompleteDownloadError,
    InternalServerError,
    InvalidArgumentError,
    InvalidTilesetError,
    LinkExpiredError,
    MeshExportError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    StorageError,
    UnprocessableEntityError,
    UnsafeTilesetError,
    WaitTimeoutError,
)
from ._models import (
    Export,
    ExportLinks,
    ExportResultBody,
    ExportsOrderBy,
    ExportStatsDisplay,
    ExportStatus,
    ExportSummary,
    ExportType,
    Link,
    TilerConfigItem,
    mesh_href,
)
from ._retry import RetryPolicy
from ._version import __version__

# name -> module, imported when the name is first looked up
_LAZY = {
    "MANIFEST_NAME": "._storage_link",
    "DownloadProgress": "._download_plan",
    "DownloadResult": "._download_plan",
    "ManifestEntry": "._manifest",
    "TilesetLimits": "._tileset",
    "download_tileset": "._download",
    "download_tileset_async": "._download",
    "verify_download": "._manifest",
}

if TYPE_CHECKING:
    from ._download import download_tileset, download_tileset_async
    from ._download_plan import DownloadProgress, DownloadResult
    from ._manifest import ManifestEntry, verify_download
    from ._storage_link import MANIFEST_NAME
    from ._tileset import TilesetLimits

__all__ = [
    "DEFAULT_BASE_URL",
    "MANIFEST_NAME",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncMeshExportClient",
    "AuthenticationError",
    "BadRequestError",
    "CallableToken",
    "ClientCredentials",
    "ConflictError",
    "DownloadError",
    "DownloadProgress",
    "DownloadResult",
    "ErrorDetail",
    "Export",
    "ExportFailedError",
    "ExportLinks",
    "ExportNotCompleteError",
    "ExportResultBody",
    "ExportStatsDisplay",
    "ExportStatus",
    "ExportSummary",
    "ExportType",
    "ExportsOrderBy",
    "IncompleteDownloadError",
    "InternalServerError",
    "InvalidArgumentError",
    "InvalidTilesetError",
    "Link",
    "LinkExpiredError",
    "ManifestEntry",
    "MeshExportClient",
    "MeshExportError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "RetryPolicy",
    "StaticToken",
    "StorageError",
    "TilerConfigItem",
    "TilesetLimits",
    "TokenProvider",
    "UnprocessableEntityError",
    "UnsafeTilesetError",
    "WaitTimeoutError",
    "__version__",
    "download_tileset",
    "download_tileset_async",
    "last_modified_at",
    "mesh_href",
    "parse_timestamp",
    "verify_download",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
