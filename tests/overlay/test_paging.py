"""iter_exports: three pages through `_links.next`, lazily, with the filters and the
representation header, and the ways a next link can be wrong."""

from __future__ import annotations

from typing import Any

import pytest

from itwin_mesh_export import ExportsOrderBy, ExportType, ResponseValidationError, UnprocessableEntityError
from tests.overlay.conftest import API, Script, export_json, page_json, respond

pytestmark = pytest.mark.anyio


def three_pages() -> Script:
    return Script(
        respond(200, page_json([export_json("a"), export_json("b")], next_href=f"{API}/?$top=2&$skip=2")),
        # The next link may name another host (a gateway) and encode `$`: only its query is used.
        respond(
            200, page_json([export_json("c"), export_json("d")], next_href="https://gw.example/x/?%24top=2&%24skip=4")
        ),
        respond(200, page_json([export_json("e")])),
    )


async def test_three_pages_are_followed_in_order(api_factory: Any) -> None:
    script = three_pages()
    api = api_factory(script)
    exports = await api.collect("m1", "c1", ExportType.THREE_D_TILES_UPPERCASE, ExportsOrderBy.DATE_DESC, page_size=2)
    assert [e.id for e in exports] == ["a", "b", "c", "d", "e"]
    assert script.count == 3
    queries = [dict(r.url.params) for r in script.requests]
    filters = {"iModelId": "m1", "changesetId": "c1", "exportType": "3DTILES", "$orderBy": "date:desc"}
    assert queries == [
        {**filters, "$top": "2"},
        {**filters, "$top": "2", "$skip": "2"},
        {**filters, "$top": "2", "$skip": "4"},
    ]
    assert all(r.url.host == "api.bentley.com" and r.url.path == "/mesh-export/" for r in script.requests)
    assert all(r.headers["prefer"] == "return=representation" for r in script.requests)


async def test_pages_are_fetched_only_as_the_iteration_needs_them(kind: str, api_factory: Any) -> None:
    script = three_pages()
    api = api_factory(script)
    iterator = api.client.iter_exports(page_size=2)
    assert script.count == 0
    if kind == "sync":
        first = [next(iterator), next(iterator)]
        assert script.count == 1
        first.append(next(iterator))
    else:
        first = [await anext(iterator), await anext(iterator)]
        assert script.count == 1
        first.append(await anext(iterator))
    assert [e.id for e in first] == ["a", "b", "c"]
    assert script.count == 2


async def test_cdn_and_no_filters(api_factory: Any) -> None:
    script = Script(respond(200, page_json([export_json("a")])))
    await api_factory(script).collect(cdn=True)
    assert dict(script.requests[0].url.params) == {"cdn": "1", "$top": "100"}


async def test_an_empty_listing_yields_nothing(api_factory: Any) -> None:
    script = Script(respond(200, {"exports": []}))
    assert await api_factory(script).collect() == []
    assert script.count == 1


async def test_a_next_link_back_to_a_read_page_is_an_error_not_a_loop(api_factory: Any) -> None:
    script = Script(
        respond(200, page_json([export_json("a")], next_href=f"{API}/?$top=1&$skip=1")),
        respond(200, page_json([export_json("b")], next_href=f"{API}/?$top=1&$skip=1")),
    )
    with pytest.raises(ResponseValidationError, match="already read"):
        await api_factory(script).collect(page_size=1)
    assert script.count == 2


@pytest.mark.parametrize(
    "href",
    [f"{API}/?$top=2", f"{API}/?$skip=x&$top=2", f"{API}/?$top=0&$skip=2", f"{API}/?$top=2&$skip=-1", "no query"],
)
async def test_an_unusable_next_link_is_a_response_validation_error(api_factory: Any, href: str) -> None:
    script = Script(respond(200, page_json([export_json("a")], next_href=href)))
    with pytest.raises(ResponseValidationError):
        await api_factory(script).collect()


async def test_a_summary_in_a_representation_listing_is_an_error(api_factory: Any) -> None:
    summary = {"id": "a", "displayName": "d", "status": "Complete", "lastModified": "2024-08-22T03:18:43Z"}
    script = Script(respond(200, {"exports": [export_json("x"), summary]}))
    with pytest.raises(ResponseValidationError, match="item 1"):
        await api_factory(script).collect()


async def test_a_page_error_status_raises_the_typed_error(api_factory: Any) -> None:
    body = {
        "error": {
            "code": "InvalidMeshExportRequest",
            "message": "Cannot list exports.",
            "details": [{"code": "InvalidParameter", "message": "$top must be a positive integer.", "target": "$top"}],
        }
    }
    script = Script(respond(200, page_json([export_json("a")], next_href=f"{API}/?$top=1&$skip=1")), respond(422, body))
    with pytest.raises(UnprocessableEntityError) as caught:
        await api_factory(script).collect()
    assert caught.value.details[0].target == "$top"
