"""Walking Get Exports page by page.

The spec can say that a page has `_links.next`, not what to do with it. Following it here means
reading its `$top` and `$skip` and calling the generated function with them, so the request is
still built by the generated code and goes to the client's own base URL (a next link naming
another host, as a proxy or a local service may produce, is never fetched as such). The checks
that a page is what the caller asked for (full exports, a next link that moves on) live here too.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import httpx

from itwin_mesh_export_generated.models import Export, ExportsPage
from itwin_mesh_export_generated.types import Unset

from ._exceptions import ResponseValidationError
from ._redact import redact_url
from ._responses import check_export

__all__ = ["DEFAULT_PAGE_SIZE", "PageCursor", "full_exports", "next_page"]

# Items per page asked for with `$top`. The API documents no maximum; its own example uses 100.
DEFAULT_PAGE_SIZE = 100

PageCursor = tuple[int, int]  # ($top, $skip)


def next_page(page: ExportsPage, seen: set[PageCursor]) -> PageCursor | None:
    """`($top, $skip)` of the page after `page`, or None when `page` is the last one. `seen` holds
    the cursors read so far (the first page's too): a next link back to one of them is a loop the
    server made, refused; otherwise the new cursor is added to it."""
    links = page.field_links
    if isinstance(links, Unset) or isinstance(links.next_, Unset):
        return None
    href = links.next_.href
    if not isinstance(href, str) or not href.strip():
        return None
    try:
        query = {key.lower(): value for key, value in parse_qsl(urlsplit(href).query, keep_blank_values=True)}
        top, skip = int(query["$top"]), int(query["$skip"])
    except (KeyError, ValueError) as exc:
        raise ResponseValidationError(
            f"Get Exports gave a next link without usable $top and $skip: {redact_url(href)}"
        ) from exc
    if top < 1 or skip < 0:
        raise ResponseValidationError(f"Get Exports gave a next link with $top < 1 or $skip < 0: {redact_url(href)}")
    if (top, skip) in seen:
        raise ResponseValidationError(f"Get Exports sent a next link back to a page already read: {(top, skip)}")
    seen.add((top, skip))
    return top, skip


def full_exports(page: ExportsPage, response: httpx.Response | None = None) -> list[Export]:
    """The page's items, each checked to be a full export (`Prefer: return=representation`)."""
    exports = page.exports
    if not isinstance(exports, list):
        raise ResponseValidationError("Get Exports answered without an exports list", response=response)
    for index, item in enumerate(exports):
        if not isinstance(item, Export):
            item_id = getattr(item, "id", None)
            raise ResponseValidationError(
                f"Get Exports item {index} (id {item_id!r}) is not a full export: it lacks required fields "
                "such as request, or has fields of the wrong type",
                response=response,
            )
        check_export(item, where=f"Get Exports item {index}", response=response)
    return exports  # type: ignore[return-value]  # every item was just checked to be an Export
