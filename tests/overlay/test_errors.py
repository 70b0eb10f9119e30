"""Every error class from a real-shaped body, for both clients; junk never escapes untyped."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itwin_mesh_export import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncMeshExportClient,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ErrorDetail,
    InternalServerError,
    InvalidArgumentError,
    MeshExportError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    RetryPolicy,
    UnprocessableEntityError,
)
from tests.overlay.conftest import TOKEN, FakeClock, Script, export_json, make_client, page_json, respond

pytestmark = pytest.mark.anyio

HEADER_NOT_FOUND = {
    "error": {"code": "HeaderNotFound", "message": "Header Authorization was not found in the request. Access denied."}
}
EXPORT_NOT_FOUND = {"error": {"code": "ExportNotFound", "message": "Requested export is not available."}}
RATE_LIMITED = {
    "error": {
        "code": "RateLimitExceeded",
        "message": "The client sent more requests than allowed by this API for the current tier of the client.",
    }
}
CANNOT_DELETE = {
    "error": {
        "code": "InvalidMeshExportRequest",
        "message": "Cannot delete exported job.",
        "details": [{"code": "InvalidParameter", "message": "id is invalid.", "target": "id"}],
    }
}

# (status, body, expected class, expected Bentley code)
CASES: list[tuple[int, dict[str, Any], type[APIStatusError], str]] = [
    (400, {"error": {"code": "BadRequest", "message": "The request is malformed."}}, BadRequestError, "BadRequest"),
    (401, HEADER_NOT_FOUND, AuthenticationError, "HeaderNotFound"),
    (
        403,
        {"error": {"code": "InsufficientPermissions", "message": "Not allowed."}},
        PermissionDeniedError,
        "InsufficientPermissions",
    ),
    (404, EXPORT_NOT_FOUND, NotFoundError, "ExportNotFound"),
    (409, {"error": {"code": "Conflict", "message": "Export is being modified."}}, ConflictError, "Conflict"),
    (422, CANNOT_DELETE, UnprocessableEntityError, "InvalidMeshExportRequest"),
    (429, RATE_LIMITED, RateLimitError, "RateLimitExceeded"),
    (
        500,
        {"error": {"code": "InternalServerError", "message": "Something failed."}},
        InternalServerError,
        "InternalServerError",
    ),
    (
        503,
        {"error": {"code": "ServiceUnavailable", "message": "Try later."}},
        InternalServerError,
        "ServiceUnavailable",
    ),
    (520, {"error": {"code": "Unknown", "message": "Origin error."}}, InternalServerError, "Unknown"),
    (418, {"error": {"code": "Teapot", "message": "Short and stout."}}, APIStatusError, "Teapot"),
]


@pytest.mark.parametrize(("status", "body", "cls", "code"), CASES, ids=[str(c[0]) for c in CASES])
async def test_each_status_raises_its_class_with_the_bentley_fields(
    api_factory: Any, status: int, body: dict[str, Any], cls: type[APIStatusError], code: str
) -> None:
    script = Script(respond(status, body, headers={"x-correlation-id": "corr-123", "Retry-After": "3600"}))
    api = api_factory(script, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(cls) as caught:
        await api.call("delete_export", "e1")
    error = caught.value
    assert type(error) is cls
    assert error.status_code == status
    assert error.code == code
    assert error.error_message == body["error"]["message"]
    assert error.request_id == "corr-123"
    assert error.headers["x-correlation-id"] == "corr-123"
    assert code in str(error) and str(status) in str(error)
    assert error.method == "DELETE" and error.url == "https://api.bentley.com/mesh-export/e1"
    assert TOKEN not in str(error) + repr(error)
    if cls is UnprocessableEntityError:
        assert error.details == [ErrorDetail("InvalidParameter", "id is invalid.", "id")]
    if isinstance(error, RateLimitError):
        assert error.retry_after_s == 3600.0


@pytest.mark.parametrize(
    ("status", "text", "headers", "expected"),
    [
        (502, "<html><body><h1>502 Bad Gateway</h1></body></html>", {"content-type": "text/html"}, "502 Bad Gateway"),
        (503, "", {}, "(empty body)"),
        (520, "", {}, "(empty body)"),
        (404, "not json {", {"content-type": "application/json"}, "not json {"),
    ],
)
async def test_html_and_empty_error_bodies_still_give_a_clear_message(
    api_factory: Any, status: int, text: str, headers: dict[str, str], expected: str
) -> None:
    api = api_factory(Script(respond(status, text=text, headers=headers)), retry=RetryPolicy(max_attempts=1))
    with pytest.raises(APIStatusError) as caught:
        await api.call("get_export", "e1")
    assert caught.value.status_code == status
    assert caught.value.code is None
    assert expected in str(caught.value)
    assert "GET https://api.bentley.com/mesh-export/e1" in str(caught.value)


async def test_a_connection_failure_is_an_api_connection_error(api_factory: Any) -> None:
    script = Script(httpx.ConnectError("[Errno 111] Connection refused"))
    api = api_factory(script)
    with pytest.raises(APIConnectionError) as caught:
        await api.call("get_export", "e1")
    assert not isinstance(caught.value, APITimeoutError)
    assert "Connection refused" in str(caught.value)
    assert script.count == 3  # retried up to max_attempts
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_a_timeout_is_an_api_timeout_error(api_factory: Any) -> None:
    api = api_factory(Script(httpx.ReadTimeout("timed out")))
    with pytest.raises(APITimeoutError) as caught:
        await api.call("get_export", "e1")
    assert isinstance(caught.value, APIConnectionError)
    assert caught.value.url == "https://api.bentley.com/mesh-export/e1"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>ok</html>",
        b"null",
        b"[]",
        b'"export"',
        b"{}",
        b'{"export": null}',
        b'{"export": []}',
        b'{"export": {"id": "e1"}}',
        b'{"export": {"id": 5, "displayName": "d", "status": "Complete", "lastModified": "x",'
        b' "request": {"iModelId": "m", "changesetId": "c", "exportType": "3DTiles"}}}',
        b'{"export": {"id": "e1", "displayName": "d", "status": 7, "lastModified": "x",'
        b' "request": {"iModelId": "m", "changesetId": "c", "exportType": "3DTiles"}}}',
        b'{"export": {"id": "e1", "displayName": "d", "status": "Complete", "lastModified": "x",'
        b' "request": {"iModelId": "m", "changesetId": "c", "exportType": "3DTiles"}, "_links": {"mesh": {}}}}',
        b"\xff\xfe\x00garbage",
        b"[" * 100_000,
    ],
)
async def test_a_2xx_body_that_is_not_an_export_is_a_response_validation_error(api_factory: Any, body: bytes) -> None:
    api = api_factory(Script(lambda request: httpx.Response(200, content=body)))
    with pytest.raises(ResponseValidationError) as caught:
        await api.call("get_export", "e1")
    assert caught.value.status_code == 200
    assert "Get Export" in str(caught.value)


async def test_a_2xx_page_that_is_not_a_page_is_a_response_validation_error(api_factory: Any) -> None:
    for body in (b"{}", b'{"exports": 5}', b'{"exports": [1, 2]}', b'{"exports": [{"id": "x"}]}'):
        api = api_factory(Script(respond(200, text=body.decode())))
        with pytest.raises(ResponseValidationError):
            await api.collect()


async def test_an_unknown_status_or_type_is_kept_not_an_error(api_factory: Any) -> None:
    body = {"export": export_json(status="Queued", export_type="3DFT")}
    api = api_factory(Script(respond(200, body)))
    export = await api.call("get_export", "e1")
    assert export.status.value == "Queued" and not export.status.is_known
    assert export.request.export_type.value == "3DFT"


async def test_an_undocumented_2xx_is_read_with_the_same_model(api_factory: Any) -> None:
    # Start Export documents 202; a server answering 201 or 200 still gives an Export.
    api = api_factory(Script(respond(201, {"export": export_json(status="NotStarted")})))
    export = await api.call("start_export", "m1")
    assert export.id == "e1" and export.status.value == "NotStarted"


@pytest.mark.parametrize(
    ("name", "args", "kwargs"),
    [
        ("get_export", ("",), {}),
        ("get_export", (None,), {}),
        ("get_export", ("e1",), {"cdn": "yes"}),
        ("delete_export", ("  ",), {}),
        ("start_export", ("",), {}),
        ("start_export", ("m1",), {"tiler_config": {}}),
        ("start_export", ("m1",), {"tiler_config": {"k": float("nan")}}),
        ("start_export", ("m1",), {"tiler_config": "a=b"}),
        ("start_export", ("m1", 5), {}),
        ("start_export", ("m1",), {"export_type": ""}),
        ("wait_for_export", ("e1",), {"timeout_s": 0}),
        ("wait_for_export", ("e1",), {"poll_interval_s": -1}),
        ("wait_for_export", ("e1",), {"timeout_s": float("inf")}),
        ("ensure_export", ("",), {}),
    ],
)
async def test_bad_arguments_raise_invalid_argument_error_before_any_request(
    api_factory: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    script = Script(respond(200, {"export": export_json()}))
    api = api_factory(script)
    with pytest.raises(InvalidArgumentError) as caught:
        await api.call(name, *args, **kwargs)
    assert isinstance(caught.value, ValueError)  # InvalidArgumentError is also a ValueError
    assert script.count == 0


async def test_bad_listing_arguments_raise_before_any_request(api_factory: Any) -> None:
    script = Script(respond(200, page_json([])))
    api = api_factory(script)
    for kwargs in ({"page_size": 0}, {"page_size": True}, {"imodel_id": 5}, {"order_by": ""}, {"cdn": 1}):
        with pytest.raises(InvalidArgumentError):
            await api.collect(**kwargs)
    assert script.count == 0


# ---- junk from the server: only the package's own errors may come out ----

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
export_keys = st.sampled_from(["id", "displayName", "status", "lastModified", "request", "_links", "error", "stats"])
export_like = st.dictionaries(export_keys, json_values, max_size=8)
bodies = st.one_of(
    st.binary(max_size=64),
    json_values.map(lambda v: json.dumps(v).encode()),
    export_like.map(lambda e: json.dumps({"export": e}).encode()),
    export_like.map(lambda e: json.dumps({"exports": [e], "_links": {"next": {"href": "?$top=1&$skip=1"}}}).encode()),
)
statuses = st.sampled_from([200, 201, 202, 204, 299, 301, 400, 401, 404, 418, 422, 429, 500, 503, 520, 599])
headers = st.dictionaries(
    st.sampled_from(["retry-after", "retry-after-ms", "content-type", "x-request-id"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    max_size=3,
)


def _run(kind: str, body: bytes, status: int, header_values: dict[str, str]) -> None:
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=header_values)

    client = make_client(kind, handler, clock, retry=RetryPolicy(max_attempts=2, random=lambda: 0.0))

    async def calls() -> None:
        for call in (
            lambda: client.get_export("e1"),
            lambda: client.start_export("m1"),
            lambda: client.delete_export("e1"),
            lambda: client.wait_for_export("e1", timeout_s=20, poll_interval_s=5),
            lambda: client.ensure_export("m1", "c1"),
        ):
            try:
                result = call()
                if asyncio.iscoroutine(result):
                    await result
            except MeshExportError:
                pass
        try:
            iterator = client.iter_exports()
            if isinstance(client, AsyncMeshExportClient):
                [item async for item in iterator]  # type: ignore[union-attr]
            else:
                list(iterator)  # type: ignore[arg-type]
        except MeshExportError:
            pass

    asyncio.run(calls())  # any exception outside MeshExportError fails the test


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, status=statuses, header_values=headers)
def test_junk_from_the_server_only_raises_package_errors_sync(
    body: bytes, status: int, header_values: dict[str, str]
) -> None:
    _run("sync", body, status, header_values)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, status=statuses, header_values=headers)
def test_junk_from_the_server_only_raises_package_errors_async(
    body: bytes, status: int, header_values: dict[str, str]
) -> None:
    _run("async", body, status, header_values)


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        (None, []),  # an error body may leave any property null (the seed's Error Response says so)
        ("id is invalid", []),
        ({"code": "X", "message": "m"}, []),
        (
            [{"code": "InvalidParameter", "message": "id is invalid.", "target": "id"}, "junk", 7, {"code": 3}],
            [ErrorDetail("InvalidParameter", "id is invalid.", "id"), ErrorDetail(None, None, None)],
        ),
    ],
)
async def test_odd_details_are_read_as_far_as_they_go(
    api_factory: Any, details: Any, expected: list[ErrorDetail]
) -> None:
    body = {"error": {"code": "InvalidMeshExportRequest", "message": "bad", "details": details}}
    api = api_factory(Script(respond(422, body)), retry=RetryPolicy(max_attempts=1))
    with pytest.raises(UnprocessableEntityError) as caught:
        await api.call("get_export", "e1")
    assert caught.value.code == "InvalidMeshExportRequest"
    assert list(caught.value.details) == expected
