"""The download engine: an export's whole 3D Tiles tileset from its signed storage link to a
verified directory, in parallel, resumably, safely.

It knows nothing of the Mesh Export API: it takes a link (`_links.mesh.href`) and, to renew an
expired one, a function; the clients' `download_export` supplies both. Its modules, one noun each:
`_storage_link` (the link, and the safety gate every tileset URI passes), `_tileset` (what a
tileset or glTF file references, bounded), `_plan` (the queue, the link, progress, the result),
`_transfer` (one file's attempts as a state machine), `_partial_file` (the bytes of a file in
progress on disk), `_manifest` (the journal and the final manifest), `_disk` (file-system helpers),
`_driver` (the entry points, and the loops that move bytes). The public names load on first use.
"""

from typing import TYPE_CHECKING, Any

__all__ = [
    "MANIFEST_NAME",
    "DownloadOptions",
    "DownloadProgress",
    "DownloadResult",
    "ManifestEntry",
    "TilesetLimits",
    "download_tileset",
    "download_tileset_async",
    "verify_download",
]

_LAZY = {
    "MANIFEST_NAME": "._storage_link",
    "DownloadOptions": "._driver",
    "DownloadProgress": "._plan",
    "DownloadResult": "._plan",
    "ManifestEntry": "._manifest",
    "TilesetLimits": "._tileset",
    "download_tileset": "._driver",
    "download_tileset_async": "._driver",
    "verify_download": "._manifest",
}

if TYPE_CHECKING:
    from ._driver import DownloadOptions, download_tileset, download_tileset_async
    from ._manifest import ManifestEntry, verify_download
    from ._plan import DownloadProgress, DownloadResult
    from ._storage_link import MANIFEST_NAME
    from ._tileset import TilesetLimits


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
