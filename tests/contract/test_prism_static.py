"""The client against Prism in static mode: Prism answers from the committed spec's examples and
validates every request against the spec.

Every operation is called through the real client with its real default headers (Accept,
User-Agent, Authorization), and Prism must report no violation (`sl-violations`) on any request.
Every documented example of every operation and status then goes through the client and must
come out as the models (or the typed error) the client promises, equal to the example. Prism
picks the status and example from `__code` / `__example` in the query; for Get Exports the
client's `Prefer` header must be left off those requests, because Prism reads its own controls
from a `Prefer` header when there is one (`tests/contract/prism.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from itwin_mesh_export import (
    Export,
    ExportsOrderBy,
    ExportType,
    InvalidArgumentError,
    ResponseValidationError,
    TilerConfigItem,
)
from tests.conftest import load_spec
from tests.contract.conftest import KINDS, OPERATIONS, TOKEN, ContractClient
from tests.contract.oracle import ERROR_CLASSES
from tests.contract.prism import VND, PrismServer, PrismTransport, violations

pytestmark = pytest.mark.anyio

EXPORT_ID = "fc3aa1e5-5196-4dd9-a73e-4cfda693e576"
IMODEL_ID = "b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc"
CHANGESET_ID = "ed94ed9a0704918d36eeb620219f5e17d8858858"


@pytest.fixture(params=KINDS)
async def contract(request: pytest.FixtureRequest, prism_static: PrismServer) -> Any:
    client = ContractClient(str(request.param), prism_static)
    yield client
    await client.close()


def _default_call(op: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return {
        "get-exports": ((), {}),
        "get-export": ((EXPORT_ID,), {}),
        "start-export": ((IMODEL_ID,), {}),
        "delete-export": ((EXPORT_ID,), {}),
    }[op]


# ---- the client's own requests, untouched ----


@pytest.mark.parametrize("op", OPERATIONS)
async def test_each_operation_with_the_clients_own_requests(contract: ContractClient, op: str) -> None:
    args, kwargs = _default_call(op)
    call = await contract.call(op, *args, **kwargs)
    assert call.exchanges, "no request reached Prism"
    assert call.problems() == []
    if op == "get-exports":
        # Prism reads the client's `Prefer: return=representation` as its own preferences and
        # answers the first example, ExportsRepresentation: one whole page of full exports.
        assert call.outcome.error is None, call.outcome.describe()
        assert [item.id for item in call.outcome.items] == [EXPORT_ID]
    elif op == "delete-export":
        assert call.outcome.error is None and call.outcome.value is None
    else:
        assert isinstance(call.outcome.value, Export) and call.outcome.value.id == EXPORT_ID


# ---- every documented example ----


@dataclass(frozen=True)
class DocumentedExample:
    op: str
    status: int
    name: str | None  # None: the response has no body (204)
    value: Any

    def __str__(self) -> str:
        return f"{self.op}-{self.status}-{self.name or 'no-body'}"


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def documented_examples() -> list[DocumentedExample]:
    """Every (operation, status, example) of the committed spec, for the media type the client asks for."""
    spec = load_spec()
    cases: list[DocumentedExample] = []
    for item in spec["paths"].values():
        for method, operation in item.items():
            if method not in ("get", "post", "delete"):
                continue
            for status, response in operation["responses"].items():
                content = _resolve(spec, response).get("content")
                if content is None:
                    cases.append(DocumentedExample(operation["operationId"], int(status), None, None))
                    continue
                for name, example in content[VND]["examples"].items():
                    value = _resolve(spec, example)["value"]
                    cases.append(DocumentedExample(operation["operationId"], int(status), name, value))
    return cases


EXAMPLES = documented_examples()


def test_the_example_table_covers_every_operation_and_status() -> None:
    spec = load_spec()
    statuses = {
        (op["operationId"], int(code))
        for item in spec["paths"].values()
        for method, op in item.items()
        if method in ("get", "post", "delete")
        for code in op["responses"]
    }
    assert {(case.op, case.status) for case in EXAMPLES} == statuses
    assert {op for op, _ in statuses} == set(OPERATIONS)


@pytest.mark.parametrize("case", EXAMPLES, ids=str)
async def test_each_documented_example_through_the_client(contract: ContractClient, case: DocumentedExample) -> None:
    controls = {"__code": str(case.status)}
    if case.name is not None:
        controls["__example"] = case.name
    args, kwargs = _default_call(case.op)
    call = await contract.call(case.op, *args, controls=controls, **kwargs)
    assert call.problems() == []
    assert all(e.response.status_code == case.status for e in call.exchanges)
    outcome = call.outcome
    if case.status >= 400:
        error = outcome.error
        assert type(error) is ERROR_CLASSES[case.status]
        expected = case.value["error"]
        assert (error.code, error.error_message) == (expected["code"], expected["message"])  # type: ignore[union-attr]
        assert [(d.code, d.message, d.target) for d in error.details] == [  # type: ignore[union-attr]
            (d["code"], d["message"], d["target"]) for d in expected.get("details", [])
        ]
    elif case.op == "delete-export":
        assert outcome.error is None and outcome.value is None
    elif case.op == "get-exports":
        if case.name == "ExportsMinimal":
            assert isinstance(outcome.error, ResponseValidationError) and outcome.items == []
        else:
            # ExportsRepresentation is one whole page (no next link): its exports, then the end.
            assert outcome.error is None, outcome.describe()
            assert [e.to_dict() for e in outcome.items] == case.value["exports"]
            assert len(call.exchanges) == 1
    else:
        assert outcome.error is None
        assert isinstance(outcome.value, Export) and outcome.value.to_dict() == case.value["export"]


# ---- every parameter the client can send, validated by Prism ----

CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("get-exports", (), {"imodel_id": IMODEL_ID}),
    ("get-exports", (), {"imodel_id": IMODEL_ID, "changeset_id": CHANGESET_ID}),
    ("get-exports", (), {"changeset_id": ""}),
    *[("get-exports", (), {"export_type": t}) for t in ExportType],
    *[("get-exports", (), {"order_by": o}) for o in ExportsOrderBy],
    ("get-exports", (), {"order_by": "date:desc", "export_type": "3DTiles", "cdn": True, "page_size": 1}),
    ("get-exports", (), {"page_size": 1000}),
    ("get-export", (EXPORT_ID,), {"cdn": True}),
    ("start-export", (IMODEL_ID, CHANGESET_ID), {}),
    ("start-export", (IMODEL_ID,), {"changeset_id": ""}),
    *[("start-export", (IMODEL_ID,), {"export_type": t}) for t in ExportType],
    ("start-export", (IMODEL_ID,), {"tiler_config": {"maxTileSize": 512, "draco": True, "mode": "fast", "e": 0.5}}),
    ("start-export", (IMODEL_ID,), {"tiler_config": [TilerConfigItem(key=f"k{i}", value=i) for i in range(100)]}),
    ("get_mesh_href", (EXPORT_ID,), {"cdn": True}),
    ("wait_for_export", (EXPORT_ID,), {"timeout_s": 60, "poll_interval_s": 5, "cdn": True}),
]


@pytest.mark.parametrize(("op", "args", "kwargs"), CALLS, ids=lambda v: repr(v)[:60] if v else "-")
async def test_every_argument_becomes_a_request_prism_accepts(
    contract: ContractClient, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    call = await contract.call(op, *args, **kwargs)
    assert call.exchanges and call.wire_problems() == []
    assert call.outcome.error is None, call.outcome.describe()


# ---- export ids go into the path as exactly one segment ----

IDS = [EXPORT_ID, "a/b", "with space", "ü-ñ", "x?y#z", "%2F", "a/../..", "...", " padded "]


@pytest.mark.parametrize("op", ["get-export", "delete-export"])
@pytest.mark.parametrize("export_id", IDS)
async def test_an_export_id_is_one_path_segment(contract: ContractClient, op: str, export_id: str) -> None:
    call = await contract.call(op, export_id)
    assert call.problems() == []
    [exchange] = call.exchanges
    assert exchange.request.url.raw_path == ("/" + quote(export_id.strip(), safe="")).encode()
    # Prism matched the operation the client meant (a body of Get Exports would not parse).
    assert call.outcome.error is None


@pytest.mark.parametrize("op", ["get-export", "delete-export", "wait_for_export", "get_mesh_href"])
@pytest.mark.parametrize("export_id", [".", "..", " .. "])
async def test_a_dot_segment_export_id_is_refused_before_any_request(
    contract: ContractClient, op: str, export_id: str
) -> None:
    # `/..` would leave the API's path (GET https://api.bentley.com/ with the token) and `/.`
    # would be Get Exports: the id is refused instead of naming another URL.
    call = await contract.call(op, export_id)
    assert isinstance(call.outcome.error, InvalidArgumentError)
    assert call.exchanges == []


# ---- the checks themselves can fail ----


def test_the_violation_check_sees_a_request_that_breaks_the_spec(prism_static: PrismServer) -> None:
    transport = PrismTransport()
    headers = {"Accept": VND, "Authorization": f"Bearer {TOKEN}", "Prefer": "return=everything"}
    with httpx.Client(base_url=prism_static.url, transport=transport, headers=headers) as http:
        http.get("/", params={"$top": "0", "$orderBy": "name"})
        http.post("/", json={"iModelId": "", "extra": 1})
    listing, start = (violations(e.response) for e in transport.take())
    # Prism writes parameter names in lower case.
    assert {tuple(v["location"]) for v in listing} == {
        ("request", "query", "$top"),
        ("request", "query", "$orderby"),
        ("request", "header", "prefer"),
    }
    assert {v["location"][1] for v in start} == {"body"}
