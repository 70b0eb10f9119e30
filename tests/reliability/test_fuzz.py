"""Schema-driven fuzzing of every response schema of the committed spec, through the generated
models and through the overlay's public calls.

Valid payloads come from two JSON Schema engines nobody here wrote: hypothesis-jsonschema
(through the adapter in `schemas.py`) and schemathesis' own generator, both over the spec's
response schemas converted from OpenAPI 3.0 (`schemas.py`: nullable, $ref, annotations); every
payload is checked first against the spec itself, unconverted, with an OpenAPI 3.0 validator
(openapi-schema-validator's OAS30Validator), so neither an engine bug nor a bug of the conversion
can pass for a client bug. For them:

- the generated model parses the payload, and **round-trips** it: `Model.from_dict(p).to_dict()`
  equals `p` exactly, except for `format: date-time` fields (`stats.startTime`), which the model
  holds as an aware `datetime` and writes back with `isoformat()`: the same instant (to the
  microsecond; Python keeps no finer digits) and the same UTC offset, in Python's spelling
  (`Z` becomes `+00:00`, `.5` becomes `.500000`); the expected instant is built from the text's
  RFC 3339 fields by hand, not by the parser under test. After that one pass the text is stable:
  `from_dict(to_dict(m)) == m` and its `to_dict()` is identical;
- the overlay (`get_export`, `iter_exports`, or an error status for the error schemas, over
  `httpx.MockTransport`) returns the same model, or, where the call promises more than the schema
  (an `export` in Get Export's body, full exports in a listing, export ids that are not empty),
  raises ResponseValidationError;
  error bodies become the status's error class with `code`, `error_message`, `target` and
  `details` taken from the body.

One known exception: RFC 3339 date-times that Python 3.11's `datetime.fromisoformat` cannot
represent, namely a leap second `:60` and the year 0000, make the generated parser raise ValueError,
and the whole call a ResponseValidationError. (Lower-case `t` and `z` are read: the generator's
date-time template upper-cases the text before parsing.) schemathesis' engine is given a
generator of the full RFC 3339 grammar, so these are counted.

Invalid payloads (valid ones mutated until the schema rejects them, arbitrary JSON, bytes that are
not JSON at all) may parse or not, but raise only what is documented: the generated `from_dict`
KeyError / TypeError / ValueError / AttributeError / RecursionError (the overlay's PARSE_ERRORS),
the overlay ResponseValidationError for a 2xx and the status's APIStatusError otherwise. Whatever
the overlay returns has the declared types.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import string
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from schemathesis.generation.jsonschema.builder import build as schemathesis_build

import itwin_mesh_export_generated.models as generated
from itwin_mesh_export import (
    APIStatusError,
    ErrorDetail,
    Export,
    ExportStatus,
    ExportType,
    MeshExportClient,
    RateLimitError,
    ResponseValidationError,
)
from itwin_mesh_export._exceptions import _STATUS_CLASSES, InternalServerError
from itwin_mesh_export._responses import PARSE_ERRORS
from itwin_mesh_export_generated.types import Unset
from tests.conftest import load_spec
from tests.reliability.budget import BUDGET, record_result
from tests.reliability.schemas import model_name, response_schema_names, to_json_schema

API = "https://api.bentley.com/mesh-export"
COMPONENTS = response_schema_names()
ENGINES = ("hypothesis-jsonschema", "schemathesis")
ERROR_STATUSES = (400, 401, 403, 404, 408, 409, 418, 422, 429, 500, 502, 503, 504, 520)


def fuzz_settings(examples: int = BUDGET.fuzz_examples) -> settings:
    """Deterministic (derandomized) in the normal suite; random in the long run, where a failure
    prints its seed and the `@reproduce_failure` blob."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not BUDGET.long,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )


# ---- RFC 3339 date-time, the whole grammar (section 5.6) ----

_DIGITS = string.digits


def _n(low: int, high: int, width: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda v: f"{v:0{width}d}")


RFC3339_DATE_TIME = st.builds(
    "{}-{}-{}{}{}:{}:{}{}{}".format,
    _n(0, 9999, 4),
    _n(1, 12, 2),
    _n(1, 28, 2),
    st.sampled_from("Tt"),
    _n(0, 23, 2),
    _n(0, 59, 2),
    st.one_of(_n(0, 59, 2), st.just("60")),  # a leap second is in the grammar
    st.just("") | st.text(_DIGITS, min_size=1, max_size=9).map(".".__add__),
    st.sampled_from("Zz") | st.builds("{}{}:{}".format, st.sampled_from("+-"), _n(0, 23, 2), _n(0, 59, 2)),
)
_PYTHON_CANNOT_READ = re.compile(r"^0000-|:60(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)$")


def python_cannot_read(text: str) -> bool:
    """The RFC 3339 forms the generated parser refuses (an oracle of its own, not a call): Python
    3.11's fromisoformat, after the template's upper-casing, has no leap second and no year 0."""
    return bool(_PYTHON_CANNOT_READ.search(text))


def _start_times(payload: Any) -> list[str]:
    """The spec's own stats.startTime texts of a body (free-form objects may hold anything)."""
    found = []
    for export in _exports_of(payload):
        stats = export.get("stats") if isinstance(export, dict) else None
        if isinstance(stats, dict) and isinstance(stats.get("startTime"), str):
            found.append(stats["startTime"])
    return found


def _exports_of(payload: Any) -> list[Any]:
    if not isinstance(payload, dict):
        return []
    if isinstance(payload.get("export"), dict):
        return [payload["export"]]
    if isinstance(payload.get("exports"), list):
        return list(payload["exports"])
    return []


def round_trip_view(value: Any) -> Any:
    """`value` with each stats.startTime replaced by (instant, UTC offset): what round-trip keeps."""
    if isinstance(value, dict):
        return {k: (_stats_view(v) if k == "stats" else round_trip_view(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [round_trip_view(v) for v in value]
    return value


def _stats_view(stats: Any) -> Any:
    if not isinstance(stats, dict):
        return stats
    out = dict(stats)
    if isinstance(out.get("startTime"), str):
        instant = rfc3339_instant(out["startTime"])
        out["startTime"] = ("date-time", instant, instant.utcoffset())
    return out


_RFC3339 = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<offset_hour>\d{2}):(?P<offset_minute>\d{2}))"
)


def rfc3339_instant(text: str) -> datetime:
    """The instant an RFC 3339 date-time names, to the microsecond (finer digits are dropped, as the
    model keeps none), with its UTC offset: read field by field, independently of the parser the
    generated model uses. Raises ValueError for text that is not RFC 3339, or for the two forms
    `datetime` cannot hold (a leap second, the year 0000)."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 date-time: {text!r}")
    field = {k: int(v) for k, v in match.groupdict().items() if v is not None and k not in ("utc", "sign", "fraction")}
    microsecond = int((match["fraction"] or "").ljust(6, "0")[:6])
    offset = timedelta(0)
    if match["sign"] is not None:
        offset = timedelta(hours=field["offset_hour"], minutes=field["offset_minute"])
        offset = -offset if match["sign"] == "-" else offset
    return datetime(
        field["year"],
        field["month"],
        field["day"],
        field["hour"],
        field["minute"],
        field["second"],
        microsecond,
        tzinfo=timezone(offset),
    )


# ---- the engines ----


def valid_payloads(component: str, engine: str) -> st.SearchStrategy[Any]:
    schema = to_json_schema(component)
    if engine == "hypothesis-jsonschema":
        return from_schema(schema)
    return schemathesis_build(schema, draft=7, formats={"date-time": RFC3339_DATE_TIME})


@functools.cache
def validator(component: str) -> OAS30Validator:
    """An OpenAPI 3.0 validator of `components/schemas/<component>` on the committed spec as it is
    (not the JSON Schema conversion the engines generate from). Formats are not asserted, as in
    JSON Schema: `date-time` is checked by the round trip and `python_cannot_read` instead."""
    registry: Registry = Registry().with_resource(
        "spec.yaml", Resource.from_contents(load_spec(), default_specification=DRAFT4)
    )
    return OAS30Validator({"$ref": f"spec.yaml#/components/schemas/{component}"}, registry=registry)


# ---- the overlay, over MockTransport ----


class Served:
    """One client whose transport answers every request with the current status and body."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"{}"
        self.next_page: bytes | None = None
        self.requests = 0
        self.client = MeshExportClient(
            "fuzz-token", base_url=API, transport=httpx.MockTransport(self._answer), max_attempts=1
        )

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        body = self.body if self.requests == 1 or self.next_page is None else self.next_page
        return httpx.Response(self.status, content=body, headers={"content-type": "application/json"})

    def serve(self, status: int, body: bytes, next_page: bytes | None = None) -> None:
        self.status, self.body, self.next_page, self.requests = status, body, next_page, 0


SERVED = Served()


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=True).encode()  # \u escapes: lone surrogates survive


def assert_declared_types(export: Export) -> None:
    assert isinstance(export, Export) and isinstance(export.id, str) and export.id
    assert isinstance(export.display_name, str) and isinstance(export.last_modified, str)
    assert isinstance(export.status, ExportStatus) and isinstance(export.status.value, str)
    assert isinstance(export.request.i_model_id, str) and isinstance(export.request.changeset_id, str)
    assert isinstance(export.request.export_type, ExportType)
    assert isinstance(export.error, Unset | str)


def overlay_outcome(component: str, payload: Any, *, raw: bytes | None = None, status: int = 200) -> Any:
    """What the public call makes of this body: its result, or the MeshExportError it raised.
    Anything else propagates (and fails the test)."""
    body = raw if raw is not None else dumps(payload)
    try:
        if component == "ExportResponse":
            SERVED.serve(status, body)
            return SERVED.client.get_export("e1")
        if component == "ExportsPage":
            SERVED.serve(status, body, next_page=b'{"exports": []}')
            return list(SERVED.client.iter_exports())
        SERVED.serve(status, body)
        return SERVED.client.get_export("e1")
    except (ResponseValidationError, APIStatusError) as exc:
        return exc


def expected_error_class(status: int) -> type[APIStatusError]:
    if status == 429:
        return RateLimitError
    return _STATUS_CLASSES.get(status) or (InternalServerError if status >= 500 else APIStatusError)


def _with_next_link(draw: Any, payload: Any) -> Any:
    """A listing's `_links.next` is either gone or a usable link (random text is fuzzed apart)."""
    links = payload.get("_links") if isinstance(payload, dict) else None
    if isinstance(links, dict) and "next" in links:
        if draw(st.booleans()):
            links["next"] = {"href": f"{API}/?$top=100&$skip=100"}
        else:
            del links["next"]
    return payload


# ---- valid payloads ----


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("component", COMPONENTS)
def test_valid_payloads_parse_round_trip_and_pass_the_overlay(component: str, engine: str) -> None:
    model = getattr(generated, model_name(component))
    check = validator(component)
    counts = {"examples": 0, "round_trips": 0, "overlay_returned": 0, "overlay_refused": 0, "unreadable_dates": 0}
    error_status = st.sampled_from(ERROR_STATUSES)

    @fuzz_settings()
    @given(payload=valid_payloads(component, engine), data=st.data())
    def run(payload: Any, data: st.DataObject) -> None:
        counts["examples"] += 1
        assert check.is_valid(payload), "the engine produced a payload the spec's schema rejects"
        unreadable = any(python_cannot_read(t) for t in _start_times(payload))
        if unreadable:
            counts["unreadable_dates"] += 1
            if component == "ExportsPage":  # oneOf: the item falls back to a summary, its details lost
                page = model.from_dict(copy.deepcopy(payload))
                assert any(isinstance(e, generated.ExportSummary) for e in page.exports)
            else:
                with pytest.raises(ValueError):
                    model.from_dict(copy.deepcopy(payload))
        else:
            parsed = model.from_dict(copy.deepcopy(payload))
            out = parsed.to_dict()
            assert round_trip_view(out) == round_trip_view(payload)
            again = model.from_dict(copy.deepcopy(out))
            assert again == parsed and again.to_dict() == out
            counts["round_trips"] += 1

        if component in ("ExportResponse", "ExportsPage"):
            if component == "ExportsPage":
                payload = _with_next_link(data.draw, copy.deepcopy(payload))
            outcome = overlay_outcome(component, payload)
            exports = [payload["export"]] if "export" in payload else []
            if component == "ExportsPage":
                exports = payload["exports"]
            promised = (
                bool(exports) or component == "ExportsPage"
            ) and all(  # full exports with an id the client could fetch again (the schema allows "")
                isinstance(e, dict) and "request" in e and e["id"] != "" for e in exports
            )
            if promised and not unreadable:
                assert not isinstance(outcome, Exception), outcome
                expected = model.from_dict(copy.deepcopy(payload))
                exports = [outcome] if component == "ExportResponse" else outcome
                assert exports == ([expected.export] if component == "ExportResponse" else expected.exports)
                for export in exports:
                    assert_declared_types(export)
                counts["overlay_returned"] += 1
            else:
                assert isinstance(outcome, ResponseValidationError), outcome
                counts["overlay_refused"] += 1
        else:
            status = data.draw(error_status)
            outcome = overlay_outcome(component, payload, status=status)
            assert type(outcome) is expected_error_class(status), (status, outcome)
            error = payload["error"]
            assert outcome.code == error["code"] and outcome.error_message == error["message"]
            assert outcome.target == error.get("target")
            raw_details = error.get("details")
            if component == "DetailedError-Response" or raw_details is None:
                # The schema's details (DetailedError): each entry exactly; absent or null: none.
                details = [ErrorDetail(d["code"], d["message"], d.get("target")) for d in raw_details or []]
                assert list(outcome.details) == details
            else:
                # The seed's Error has no `details` but allows extra properties, so a valid body may
                # carry any value there: the overlay reads the error objects it can and never fails.
                assert all(isinstance(d, ErrorDetail) for d in outcome.details)
                if not isinstance(raw_details, list):
                    assert list(outcome.details) == []
            counts["overlay_refused"] += 1

    run()
    record_result("fuzz", f"valid--{component}--{engine}", {"component": component, "engine": engine, **counts})
    assert counts["examples"] >= min(BUDGET.fuzz_examples, 10)


def _export_with_start_time(text: str) -> dict[str, Any]:
    return {
        "export": {
            "id": "e1",
            "displayName": "d",
            "status": "Complete",
            "lastModified": "2024-08-22T03:18:43Z",
            "request": {"iModelId": "m", "changesetId": "c", "exportType": "3DTiles"},
            "stats": {"startTime": text},
        }
    }


def test_date_times_python_cannot_read_are_a_typed_error_not_a_crash() -> None:
    """The known limitation, shown on its own: valid RFC 3339, refused by the generated parser."""
    for text in ("2024-08-22T23:59:60Z", "2024-08-22t23:59:60z", "0000-01-01T00:00:00Z"):
        assert python_cannot_read(text)
        payload = _export_with_start_time(text)
        assert validator("ExportResponse").is_valid(payload)
        with pytest.raises(ValueError):
            generated.ExportResponse.from_dict(payload)
        assert isinstance(overlay_outcome("ExportResponse", payload), ResponseValidationError)
    for text in (
        "2024-08-22T03:18:43Z",
        "2024-08-22t03:18:43Z",
        "2024-08-22t03:18:43z",
        "2024-08-22T03:18:43.0000000+00:00",
        "2024-08-22T03:18:59.123456789-05:30",
    ):
        assert not python_cannot_read(text)
        payload = _export_with_start_time(text)
        parsed = generated.ExportResponse.from_dict(payload)  # and the oracle agrees with the model
        start_time = parsed.export.stats.start_time  # type: ignore[union-attr]
        assert start_time == rfc3339_instant(text)
        assert start_time.utcoffset() == rfc3339_instant(text).utcoffset()  # type: ignore[union-attr]


# ---- invalid payloads ----

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=16,
)


def _positions(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, sub in value.items():
            out += _positions(sub, (*path, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            out += _positions(sub, (*path, index))
    return out


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _json_type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _of_another_type(current: str) -> st.SearchStrategy[Any]:
    return JSON_VALUES.filter(lambda v: _json_type(v) != current)


@st.composite
def mutated(draw: Any, component: str) -> Any:
    """A valid payload with one to three changes: a key removed, a value of another JSON type, a
    null, an unknown enum value, a deep nest of arrays, an extra key, or a whole other body."""
    value = copy.deepcopy(draw(valid_payloads(component, "schemathesis")))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_positions(value)))
        kind = draw(st.sampled_from(["delete", "retype", "null", "enum", "nest", "extra", "root"]))
        if kind == "root" or not path:
            value = draw(JSON_VALUES)
            continue
        parent = _get(value, path[:-1])
        key = path[-1]
        if kind == "delete" and isinstance(parent, dict):
            del parent[key]
        elif kind == "retype":
            parent[key] = draw(_of_another_type(_json_type(parent[key])))
        elif kind == "null":
            parent[key] = None
        elif kind == "enum":
            parent[key] = draw(st.sampled_from(["Queued", "3DFT", "", "complete"]))
        elif kind == "nest":
            nested: Any = 0
            for _ in range(draw(st.integers(50, 400))):
                nested = [nested]
            parent[key] = nested
        elif kind == "extra" and isinstance(parent[key], dict):
            parent[key][draw(st.text(min_size=1, max_size=8))] = draw(JSON_VALUES)
    return value


@pytest.mark.parametrize("component", COMPONENTS)
def test_invalid_payloads_raise_only_documented_errors(component: str) -> None:
    model = getattr(generated, model_name(component))
    check = validator(component)
    counts = {"examples": 0, "generated_parsed": 0, "generated_refused": 0, "overlay_returned": 0, "overlay_refused": 0}

    @fuzz_settings()
    @given(payload=st.one_of(mutated(component), JSON_VALUES), status=st.sampled_from(ERROR_STATUSES))
    def run(payload: Any, status: int) -> None:
        assume(not check.is_valid(payload))
        counts["examples"] += 1
        try:
            model.from_dict(copy.deepcopy(payload))
            counts["generated_parsed"] += 1
        except PARSE_ERRORS:
            counts["generated_refused"] += 1

        if component in ("ExportResponse", "ExportsPage"):
            outcome = overlay_outcome(component, payload)
            if isinstance(outcome, Exception):
                assert isinstance(outcome, ResponseValidationError), outcome
                counts["overlay_refused"] += 1
            else:
                for export in [outcome] if component == "ExportResponse" else outcome:
                    assert_declared_types(export)
                counts["overlay_returned"] += 1
        else:
            outcome = overlay_outcome(component, payload, status=status)
            assert type(outcome) is expected_error_class(status), (status, outcome)
            for name in ("code", "error_message", "target"):
                assert isinstance(getattr(outcome, name), str | None)
            assert all(isinstance(d, ErrorDetail) for d in outcome.details)
            counts["overlay_refused"] += 1

    run()
    record_result("fuzz", f"invalid--{component}", {"component": component, **counts})
    assert counts["examples"] >= min(BUDGET.fuzz_examples, 10)


NOT_JSON = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"",
            b"\xff\xfe\x00",
            b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>",
            b'{"export": NaN}',
            b"[" * 100_000,
            b'{"export": {"id": "e1", "displayName": "d", "status": "Compl',
            b"null",
            b"\x00",
        ]
    ),
    st.integers(1, 400).map(lambda n: dumps({"exports": []})[:n]),
)


@pytest.mark.parametrize("component", ["ExportResponse", "ExportsPage"])
def test_bodies_that_are_not_json_are_a_response_validation_error(component: str) -> None:
    count = 0

    @fuzz_settings()
    @given(raw=NOT_JSON)
    def run(raw: bytes) -> None:
        nonlocal count
        try:
            json.loads(raw)
            assume(False)  # JSON after all: the other properties cover it
        except (ValueError, RecursionError):
            pass
        count += 1
        assert isinstance(overlay_outcome(component, None, raw=raw), ResponseValidationError)

    run()
    record_result("fuzz", f"not-json--{component}", {"component": component, "examples": count})
    assert count >= min(BUDGET.fuzz_examples, 10)
