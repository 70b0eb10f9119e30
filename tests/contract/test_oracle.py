"""The oracle itself: it accepts what the client should do, and finds each deliberately wrong
outcome. No Prism here: the exchanges are built by hand (nothing is sent anywhere)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from itwin_mesh_export import Export, NotFoundError, ResponseValidationError, UnprocessableEntityError
from tests.contract.oracle import Outcome, check_listing, check_single
from tests.contract.prism import Exchange

API = "http://127.0.0.1:9/mesh-export"  # only a name in the hand-made requests: never contacted


def _raw(export_id: str = "e1", status: str = "Complete") -> dict[str, Any]:
    return {
        "id": export_id,
        "displayName": "Bridge",
        "status": status,
        "lastModified": "2024-08-22T03:18:43Z",
        "request": {"iModelId": "m1", "changesetId": "c1", "exportType": "3DTiles"},
    }


def _exchange(method: str, url: str, status: int, body: Any = None, headers: dict[str, str] | None = None) -> Exchange:
    request = httpx.Request(method, url)
    content = b"" if body is None else json.dumps(body).encode()
    response = httpx.Response(
        status, content=content, headers={"content-type": "application/json", **(headers or {})}, request=request
    )
    return Exchange(request=request, response=response, controls={}, dropped_prefer=False)


def _get(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Exchange:
    return _exchange("GET", f"{API}/e1", status, body, headers)


NOT_FOUND = {"error": {"code": "ExportNotFound", "message": "Requested export is not available."}}


def _not_found_error(exchange: Exchange, cls: type[NotFoundError | UnprocessableEntityError]) -> Exception:
    return cls("not found", response=exchange.response, body=exchange.body.decode())


def _page(items: list[dict[str, Any]], next_href: str | None = None) -> dict[str, Any]:
    links: dict[str, Any] = {"self": {"href": f"{API}/?$top=100&$skip=0"}}
    if next_href is not None:
        links["next"] = {"href": next_href}
    return {"exports": items, "_links": links}


PAGE_1 = _exchange("GET", f"{API}/?$top=100", 200, _page([_raw("a")], f"{API}/?$top=100&$skip=100"))
PAGE_2 = _exchange("GET", f"{API}/?$top=100&$skip=100", 200, _page([_raw("b")]))
LOOPING = _exchange("GET", f"{API}/?$top=100", 200, _page([_raw("a")], f"{API}/?$top=100&$skip=0"))


def _single(exchanges: list[Exchange], outcome: Outcome, sleeps: list[float] | None = None) -> list[str]:
    return check_single(outcome, exchanges, sleeps or [], body_key="export")


def _export(raw: dict[str, Any]) -> Export:
    return Export.from_dict(raw)


# (the exchanges and the right outcome -> no problem) for every scenario below
RIGHT: dict[str, Callable[[], list[str]]] = {
    "get-export": lambda: _single([_get(200, {"export": _raw()})], Outcome(value=_export(_raw()))),
    "404": lambda: _single([ex := _get(404, NOT_FOUND)], Outcome(error=_not_found_error(ex, NotFoundError))),
    "retry after a 503": lambda: _single(
        [_get(503), _get(200, {"export": _raw()})], Outcome(value=_export(_raw())), [0.5]
    ),
    "empty id": lambda: _single(
        [_get(200, {"export": _raw(export_id="")})],
        Outcome(error=ResponseValidationError("the export has no id string")),
    ),
    "delete": lambda: check_single(Outcome(), [_exchange("DELETE", f"{API}/e1", 204)], [], body_key=None),
    "listing": lambda: check_listing(
        Outcome(items=[_export(_raw("a")), _export(_raw("b"))]), [PAGE_1, PAGE_2], [], page_size=100
    ),
    "looping listing": lambda: check_listing(
        Outcome(items=[_export(_raw("a"))], error=ResponseValidationError("page already read")),
        [LOOPING],
        [],
        page_size=100,
    ),
}

# (the same exchanges, a wrong outcome, and what the oracle must say about it)
WRONG: list[tuple[str, Callable[[], list[str]], str]] = [
    (
        "an Export that differs from the body",
        lambda: _single([_get(200, {"export": _raw()})], Outcome(value=_export(_raw(status="Invalid")))),
        "the Export differs from the body",
    ),
    (
        "a dict instead of an Export",
        lambda: _single([_get(200, {"export": _raw()})], Outcome(value=_raw())),
        "not an Export",
    ),
    (
        "success on a 404",
        lambda: _single([_get(404, NOT_FOUND)], Outcome(value=_export(_raw()))),
        "expected NotFoundError",
    ),
    (
        "the wrong error class for a 404",
        lambda: _single([ex := _get(404, NOT_FOUND)], Outcome(error=_not_found_error(ex, UnprocessableEntityError))),
        "expected NotFoundError",
    ),
    (
        "a retry without a wait",
        lambda: _single([_get(503), _get(200, {"export": _raw()})], Outcome(value=_export(_raw()))),
        "was retried without a wait",
    ),
    (
        "a retry after the wrong wait",
        lambda: _single([_get(503), _get(200, {"export": _raw()})], Outcome(value=_export(_raw())), [2.0]),
        "was not 0.5 s",
    ),
    (
        "no retry of a 429 with Retry-After",
        lambda: _single([_get(429, headers={"retry-after": "2"})], Outcome(error=RuntimeError("gave up"))),
        "should have been retried after 2.0 s",
    ),
    (
        "an export without an id accepted",
        lambda: _single([_get(200, {"export": _raw(export_id="")})], Outcome(value=_export(_raw(export_id="")))),
        "expected ResponseValidationError",
    ),
    (
        "Delete Export returning something",
        lambda: check_single(Outcome(value=True), [_exchange("DELETE", f"{API}/e1", 204)], [], body_key=None),
        "Delete Export returned True",
    ),
    (
        "a listing that stops before the next link",
        lambda: check_listing(Outcome(items=[_export(_raw("a"))]), [PAGE_1], [], page_size=100),
        "did not follow the next link",
    ),
    (
        "a listing that loses an item",
        lambda: check_listing(Outcome(items=[_export(_raw("a"))]), [PAGE_1, PAGE_2], [], page_size=100),
        "yielded 1 exports, the pages held 2",
    ),
    (
        "a listing asked with another page size",
        lambda: check_listing(Outcome(items=[_export(_raw("a"))]), [LOOPING], [], page_size=50),
        "page 1 was asked with",
    ),
    (
        "a listing that loops back without an error",
        lambda: check_listing(Outcome(items=[_export(_raw("a"))]), [LOOPING], [], page_size=100),
        "expected ResponseValidationError",
    ),
]


@pytest.mark.parametrize("scenario", sorted(RIGHT))
def test_the_oracle_accepts_the_right_outcome(scenario: str) -> None:
    assert RIGHT[scenario]() == []


@pytest.mark.parametrize(("check", "finding"), [pytest.param(c, f, id=name) for name, c, f in WRONG])
def test_the_oracle_finds_a_wrong_outcome(check: Callable[[], list[str]], finding: str) -> None:
    problems = check()
    assert any(finding in problem for problem in problems), problems
