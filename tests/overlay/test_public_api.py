"""The public surface: `__all__` pinned and sorted, everything in it importable and typed."""

from __future__ import annotations

from pathlib import Path

import itwin_mesh_export

PUBLIC = [
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
    "DEFAULT_BASE_URL",
    "DownloadError",
    "ErrorDetail",
    "Export",
    "ExportFailedError",
    "ExportLinks",
    "ExportResultBody",
    "ExportStatsDisplay",
    "ExportStatus",
    "ExportSummary",
    "ExportType",
    "ExportsOrderBy",
    "IncompleteDownloadError",
    "InternalServerError",
    "InvalidArgumentError",
    "Link",
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
    "TokenProvider",
    "UnprocessableEntityError",
    "UnsafeTilesetError",
    "WaitTimeoutError",
    "__version__",
    "last_modified_at",
    "mesh_href",
    "parse_timestamp",
]


def _isort_style(name: str) -> tuple[int, str]:
    """ruff's RUF022 order, which `ruff check` enforces: CONSTANTS, then Classes, then the rest."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


def test_all_is_sorted() -> None:
    assert itwin_mesh_export.__all__ == sorted(itwin_mesh_export.__all__, key=_isort_style)
    assert len(set(itwin_mesh_export.__all__)) == len(itwin_mesh_export.__all__)


def test_the_overlay_names_are_public() -> None:
    # The download branch of the package adds its own names; the overlay's must all be there.
    missing = sorted(set(PUBLIC) - set(itwin_mesh_export.__all__))
    assert missing == []


def test_every_public_name_is_importable() -> None:
    for name in itwin_mesh_export.__all__:
        assert getattr(itwin_mesh_export, name) is not None, name


def test_the_package_is_typed() -> None:
    assert (Path(itwin_mesh_export.__file__).parent / "py.typed").is_file()


def test_models_are_the_generated_ones() -> None:
    import itwin_mesh_export_generated.models as generated

    for name in ("Export", "ExportStatus", "ExportType", "ExportsOrderBy", "Link", "TilerConfigItem"):
        assert getattr(itwin_mesh_export, name) is getattr(generated, name)
