"""Checks of what callers pass to the clients, before any request: each returns the value in the
form the generated request builders take, or raises InvalidArgumentError (never a bare ValueError).

The generated functions accept whatever their annotations say and let httpx fail later, or send
it: an empty export id would be a request for the collection, `..` a request for another path of
the API host, token included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from itwin_mesh_export_generated.models import (
    Export,
    ExportsOrderBy,
    ExportStatus,
    ExportType,
    PreferReturn,
    StartExport,
    TilerConfigItem,
)
from itwin_mesh_export_generated.types import UNSET, Unset

from ._exceptions import ExportFailedError, ExportNotCompleteError, InvalidArgumentError
from ._http import ACCEPT, DEFAULT_TIMEOUT, USER_AGENT, check_secure_url
from ._models import mesh_href

__all__ = [
    "cdn_flag",
    "check_base_url",
    "check_callable",
    "check_export_id",
    "check_id",
    "check_page_size",
    "check_timeout",
    "default_headers",
    "download_href",
    "export_id_of",
    "export_type",
    "list_query",
    "optional_str",
    "start_body",
]

MAX_TILER_CONFIG_ITEMS = 100


def check_id(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{name} must be a non-empty str, got {value!r}")
    return value.strip()


def check_export_id(value: object) -> str:
    """An export id for the URL path. The generated code percent-encodes it into one segment, but
    `.` and `..` stay dot segments, which httpx (and any proxy, RFC 3986 5.2.4) resolves: `..`
    would send the request, token included, to another path of the API host. No export has them."""
    export_id = check_id(value, "export_id")
    if export_id in (".", ".."):
        raise InvalidArgumentError(f"export_id {export_id!r} is a path segment, not an export id")
    return export_id


def optional_str(value: object, name: str) -> str | Unset:
    if value is None:
        return UNSET
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a str or None, got {type(value).__name__}")
    return value


def export_type(value: object) -> ExportType:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"export_type must be an ExportType or a non-empty str, got {value!r}")
    return value if isinstance(value, ExportType) else ExportType(value.strip())


def _order_by(value: object) -> ExportsOrderBy | Unset:
    if value is None:
        return UNSET
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"order_by must be an ExportsOrderBy, a str or None, got {value!r}")
    return value if isinstance(value, ExportsOrderBy) else ExportsOrderBy(value.strip())


def cdn_flag(value: object) -> int | Unset:
    """The `cdn` query parameter: 1 for True, absent for False."""
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"cdn must be a bool, got {value!r}")
    return 1 if value else UNSET


def check_page_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"page_size must be an int >= 1, got {value!r}")
    return value


def check_callable(value: object, name: str) -> None:
    if value is not None and not callable(value):
        raise InvalidArgumentError(f"{name} must be callable")


def _tiler_config(value: object) -> list[TilerConfigItem] | Unset:
    """`{"key": value, ...}` or a sequence of TilerConfigItem; values are str, number or bool."""
    if value is None:
        return UNSET
    if isinstance(value, Mapping):
        items = [TilerConfigItem(key=k, value=v) for k, v in value.items()]
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = list(value)
    else:
        raise InvalidArgumentError("tiler_config must be a mapping of key to value or a sequence of TilerConfigItem")
    if not 1 <= len(items) <= MAX_TILER_CONFIG_ITEMS:
        raise InvalidArgumentError(f"tiler_config must have 1 to {MAX_TILER_CONFIG_ITEMS} items, got {len(items)}")
    for item in items:
        if not isinstance(item, TilerConfigItem):
            raise InvalidArgumentError(f"tiler_config items must be TilerConfigItem, got {type(item).__name__}")
        if not isinstance(item.key, str) or not item.key:
            raise InvalidArgumentError(f"tiler_config keys must be non-empty str, got {item.key!r}")
        v = item.value
        if not isinstance(v, str | bool | int | float) or (isinstance(v, float) and not math.isfinite(v)):
            raise InvalidArgumentError(f"tiler_config[{item.key!r}] must be a str, a finite number or a bool")
    return items


def start_body(imodel_id: object, changeset_id: object, kind: object, tiler_config: object) -> StartExport:
    return StartExport(
        i_model_id=check_id(imodel_id, "imodel_id"),
        changeset_id=optional_str(changeset_id, "changeset_id"),
        export_type=export_type(kind),
        tiler_config=_tiler_config(tiler_config),
    )


def list_query(imodel_id: object, changeset_id: object, kind: object, order_by: object, cdn: object) -> dict[str, Any]:
    """The Get Exports filters, as the generated `build_request` takes them; always the full
    representation of each export (`Prefer: return=representation`)."""
    return {
        "i_model_id": optional_str(imodel_id, "imodel_id"),
        "changeset_id": optional_str(changeset_id, "changeset_id"),
        "export_type": UNSET if kind is None else export_type(kind),
        "order_by": _order_by(order_by),
        "cdn": cdn_flag(cdn),
        "prefer": PreferReturn.REPRESENTATION,
    }


def export_id_of(export: object) -> str:
    """`download_export` takes an Export or its id; only the id is used (the export is fetched
    again for a fresh link)."""
    if isinstance(export, Export):
        return export.id
    if isinstance(export, str):
        return export
    raise InvalidArgumentError(f"export must be an Export or an export id str, got {type(export).__name__}")


def download_href(export: Export) -> str:
    """The signed link to download from, or the typed error saying why a download cannot start."""
    if export.status == ExportStatus.INVALID:
        raise ExportFailedError(export.id, export.error if isinstance(export.error, str) else None, export)
    href = mesh_href(export)
    if export.status != ExportStatus.COMPLETE or href is None:
        raise ExportNotCompleteError(export.id, str(export.status.value))
    return href


def check_base_url(url: str) -> str:
    url = check_secure_url(url, what="base_url")
    parsed = httpx.URL(url)
    if parsed.query or parsed.fragment:
        raise InvalidArgumentError("base_url must not have a query string or a fragment")
    return url.rstrip("/")


def check_timeout(timeout: object) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        values = timeout.as_dict().values()
        if all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in values):
            return timeout
    elif not isinstance(timeout, bool) and isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0:
        return httpx.Timeout(float(timeout), connect=min(float(timeout), DEFAULT_TIMEOUT.connect or 5.0))
    raise InvalidArgumentError(
        f"timeout must be seconds > 0 or an httpx.Timeout with every part set, got {timeout!r} "
        "(None would let a request hang forever)"
    )


def default_headers(extra: Mapping[str, str] | None) -> dict[str, str]:
    headers = {"Accept": ACCEPT, "User-Agent": USER_AGENT}
    if extra is not None and not isinstance(extra, Mapping):
        raise InvalidArgumentError(f"headers must be a mapping of str to str, got {type(extra).__name__}")
    for name, value in (extra or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            kinds = f"{type(name).__name__}: {type(value).__name__}"
            raise InvalidArgumentError(f"header names and values must be str, got {kinds} for {name!r}")
        lower = name.lower()
        if lower in ("authorization", "proxy-authorization"):
            raise InvalidArgumentError(f"pass credentials with token=..., not as a {name} header")
        if lower == "user-agent":
            headers["User-Agent"] = f"{value} {USER_AGENT}"  # the application first, as Azure does
        elif lower == "accept":
            headers["Accept"] = value  # replaces the default: two Accept headers would go out otherwise
        else:
            headers[name] = value
    return headers
