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

# name -> module, imported when the name is first looked up. The models are the generated ones.
_MODELS = "itwin_mesh_export_generated.models"
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
    "Export": _MODELS,
    "ExportLinks": _MODELS,
    "ExportResultBody": _MODELS,
    "ExportsOrderBy": _MODELS,
    "ExportStatsDisplay": _MODELS,
    "ExportStatus": _MODELS,
    "ExportSummary": _MODELS,
    "ExportType": _MODELS,
    "Link": _MODELS,
    "TilerConfigItem": _MODELS,
    "mesh_href": "._models",
    "RetryPolicy": "._retry",
    "MANIFEST_NAME": ".download",
    "DownloadProgress": ".download",
    "DownloadResult": ".download",
    "ManifestEntry": ".download",
    "TilesetLimits": ".download",
    "download_tileset": ".download",
    "download_tileset_async": ".download",
    "verify_download": ".download",
}

if TYPE_CHECKING:
    from itwin_mesh_export_generated.models import (
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
    )

    from ._auth import CallableToken, ClientCredentials, StaticToken, TokenProvider
    from ._client import DEFAULT_BASE_URL, AsyncMeshExportClient, MeshExportClient
    from ._dates import last_modified_at, parse_timestamp
    from ._models import mesh_href
    from ._retry import RetryPolicy
    from .download import (
        MANIFEST_NAME,
        DownloadProgress,
        DownloadResult,
        ManifestEntry,
        TilesetLimits,
        download_tileset,
        download_tileset_async,
        verify_download,
    )

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
