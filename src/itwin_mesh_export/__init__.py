"""Python client for Bentley's iTwin Platform Mesh Export API.

Only the error tree and the version load with the package. The clients, the token providers, the
models (the generated package, built with attrs) and the download engine load on first use
(PEP 562 `__getattr__` below): a program that only catches this package's errors, or a command
line that prints its version, should not pay for them (BENCHMARKS.md, import time). Static type
checkers see every name through the `TYPE_CHECKING` imports.
"""

from typing import TYPE_CHECKING, Any

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
from ._version import __version__

# name -> module, imported when the name is first looked up
_LAZY = {
    "CallableToken": "._auth",
    "ClientCredentials": "._auth",
    "StaticToken": "._auth",
    "TokenProvider": "._auth",
    "DEFAULT_BASE_URL": "._client",
    "AsyncMeshExportClient": "._client",
    "MeshExportClient": "._client",
    "last_modified_at": "._dates",
    "parse_timestamp": "._dates",
    "Export": "._models",
    "ExportLinks": "._models",
    "ExportResultBody": "._models",
    "ExportsOrderBy": "._models",
    "ExportStatsDisplay": "._models",
    "ExportStatus": "._models",
    "ExportSummary": "._models",
    "ExportType": "._models",
    "Link": "._models",
    "TilerConfigItem": "._models",
    "mesh_href": "._models",
    "RetryPolicy": "._retry",
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
    from ._auth import CallableToken, ClientCredentials, StaticToken, TokenProvider
    from ._client import DEFAULT_BASE_URL, AsyncMeshExportClient, MeshExportClient
    from ._dates import last_modified_at, parse_timestamp
    from ._download import download_tileset, download_tileset_async
    from ._download_plan import DownloadProgress, DownloadResult
    from ._manifest import ManifestEntry, verify_download
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
