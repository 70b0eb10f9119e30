"""The fault matrix: one table of what is injected and what each operation must then do.

Rows are faults, columns are operations; a cell is the outcome the overlay promises: the call
returns (after N HTTP attempts on the faulted route) or raises exactly one typed error (after N
attempts). A missing cell means the fault has no meaning for that operation. The tests
(`test_fault_matrix.py`) run every cell over real sockets against the local service, in the sync
and the async client; the report (`report.py`) prints this same table with what was observed.

Attempts are counted on the route the fault is armed on (for a download: the storage requests for
the faulted file, or the API requests for faults on the API), by the client's transport and, where
the request can reach it, by the service's request log too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from itwin_mesh_export.testing import Fault

__all__ = ["OPERATIONS", "OP_ROUTE", "ROWS", "Expect", "Row", "Target", "err", "ok"]

# The public calls under test. `download` is what a pipeline does: get the export, download its
# tileset with `refresh_href=client.get_mesh_href` (so API faults reach it through Get Export).
OPERATIONS = ("get", "list", "start", "delete", "wait", "ensure", "download")
OP_TITLES = {
    "get": "get_export",
    "list": "iter_exports",
    "start": "start_export",
    "delete": "delete_export",
    "wait": "wait_for_export",
    "ensure": "ensure_export",
    "download": "download_tileset",
}
# The route each operation's HTTP faults go on (the service's fault routes).
OP_ROUTE = {
    "get": "get-export",
    "list": "get-exports",
    "start": "start-export",
    "delete": "delete-export",
    "wait": "get-export",
    "ensure": "get-exports",
    "download": "storage",
}
# The route body faults (JSON field changes) go on: the download's come through Get Export.
OP_API_ROUTE = {**OP_ROUTE, "download": "get-export"}

# The large tile of the matrix's export: storage faults mid-body land in it.
LARGE_TILE = "*/tiles/0/0.glb"
ROOT_TILESET = "*/tileset.json"
# The client's read timeout in the timeout rows; the service holds its answer longer.
SHORT_TIMEOUT_S = 0.5
HOLD_S = 1.0

Attempts = int | tuple[int, int]  # exactly n, or an inclusive range


@dataclass(frozen=True)
class Expect:
    """`error` is the exact class name raised (None: the call returns); `attempts` on the route."""

    error: str | None
    attempts: Attempts
    note: str = ""

    def fits(self, attempts: int) -> bool:
        """Whether `attempts` is what the cell promises: exactly n, or within the inclusive range."""
        if isinstance(self.attempts, int):
            return attempts == self.attempts
        return self.attempts[0] <= attempts <= self.attempts[1]

    def describe(self) -> str:
        n = self.attempts if isinstance(self.attempts, int) else f"{self.attempts[0]}-{self.attempts[1]}"
        what = "ok" if self.error is None else self.error
        return f"{what} after {n}"


def ok(attempts: Attempts, note: str = "") -> Expect:
    return Expect(None, attempts, note)


def err(error: str, attempts: Attempts, note: str = "") -> Expect:
    return Expect(error, attempts, note)


@dataclass(frozen=True)
class Target:
    """Where a row's faults go for one operation; `elsewhere` is a URL on another host."""

    route: str
    path: str | None
    elsewhere: str = ""


@dataclass(frozen=True)
class Row:
    """One injected fault. `faults(target)` builds the service faults (none for the special rows);
    `target` says which route: the operation's own ("http"), its API route ("api": body faults),
    or the token endpoint ("token"). `special` names set-ups the service cannot inject by itself."""

    key: str
    title: str
    cells: Mapping[str, Expect]
    faults: Callable[[Target], list[Fault]] = lambda _: []
    target: str = "http"
    storage_path: str = LARGE_TILE
    special: str = ""  # "refused", "token-expired", "token-credentials", "no-refresh", "redirect"
    client_timeout_s: float | None = None
    issue4: bool = False  # one of issue 4's injected faults

    def route(self, op: str) -> str:
        if self.target == "token":
            return "token"
        return OP_API_ROUTE[op] if self.target == "api" else OP_ROUTE[op]

    def make_target(self, op: str, elsewhere: str = "") -> Target:
        route = self.route(op)
        return Target(route, self.storage_path if route == "storage" else None, elsewhere)


def _once(builder: Callable[[Target], Fault]) -> Callable[[Target], list[Fault]]:
    return lambda target: [builder(target)]


def _path(target: Target) -> dict[str, Any]:
    return {"path": target.path} if target.path else {}


def _server_error(status: int) -> Callable[[Target], Fault]:
    return lambda t: Fault.server_error(t.route, status, **_path(t))


def _after(target: Target) -> int:
    """Where a mid-body cut lands: inside the JSON of an API answer, a quarter into the large tile."""
    return 256 * 1024 if target.route == "storage" else 20


# Outcomes shared by many rows: a transient failure once, a broken 2xx body, a body change.
def _transient_once(download: Expect | None = None, *, delete: Expect | None = None) -> dict[str, Expect]:
    return {
        "get": ok(2),
        "list": ok(3),
        "start": err("InternalServerError", 1, "a POST is not repeated after a 5xx: use ensure_export"),
        "delete": delete or ok(2),
        "wait": ok(3),
        "ensure": ok(2),
        "download": download or ok(2),
    }


def _broken_2xx(download: str = "InvalidTilesetError") -> dict[str, Expect]:
    return {
        "get": err("ResponseValidationError", 1),
        "list": err("ResponseValidationError", 1),
        "start": err("ResponseValidationError", 1),
        "delete": ok(1, "Delete Export reads no body"),
        "wait": err("ResponseValidationError", 1),
        "ensure": err("ResponseValidationError", 1),
        "download": err(download, 1),
    }


def _cut_mid_body(error: str) -> dict[str, Expect]:
    return {
        "get": ok(2),
        "list": ok(3),
        "start": err(error, 1, "the POST reached the server: not repeated"),
        "delete": ok(1, "a 204 has no body to cut"),
        "wait": ok(3),
        "ensure": ok(2),
        "download": ok(2, "resumed with Range from the bytes on disk"),
    }


_BODY_OK = {
    "get": ok(1),
    "list": ok(2),
    "start": ok(1),
    "delete": ok(1),
    "wait": ok(2),
    "ensure": ok(1),
    "download": ok(1),
}
_BODY_BAD = {
    "get": err("ResponseValidationError", 1),
    "list": err("ResponseValidationError", 1),
    "start": err("ResponseValidationError", 1),
    "delete": ok(1, "Delete Export has no body to change"),
    "wait": err("ResponseValidationError", 1),
    "ensure": err("ResponseValidationError", 1),
    "download": err("ResponseValidationError", 1),
}
_ALL_OK_TWICE = {
    "get": ok(2),
    "list": ok(3),
    "start": ok(2),
    "delete": ok(2),
    "wait": ok(3),
    "ensure": ok(2),
    "download": ok(2),
}


ROWS: tuple[Row, ...] = (
    Row(
        "429-seconds",
        "429 with Retry-After: 2 (seconds)",
        {**_ALL_OK_TWICE, "start": ok(2, "a 429 was not acted on: even a POST is repeated")},
        _once(lambda t: Fault.rate_limit(t.route, retry_after_s=2, **_path(t))),
        issue4=True,
    ),
    Row(
        "429-http-date",
        "429 with Retry-After as an HTTP date 2 s ahead",
        {**_ALL_OK_TWICE, "start": ok(2)},
        _once(lambda t: Fault.rate_limit(t.route, retry_after_s=2, http_date=True, **_path(t))),
        issue4=True,
    ),
    Row(
        "429-over-cap",
        "429 with Retry-After: 120 (over the 60 s cap)",
        {
            "get": err("RateLimitError", 1, "not slept through: retry_after_s=120 for the caller"),
            "list": err("RateLimitError", 1),
            "start": err("RateLimitError", 1),
            "delete": err("RateLimitError", 1),
            "wait": ok(2, "the wait honours the hint: next poll 120 s later"),
            "ensure": err("RateLimitError", 1),
            "download": err("StorageError", 1, "over max_retry_after_s"),
        },
        _once(lambda t: Fault.rate_limit(t.route, retry_after_s=120, **_path(t))),
    ),
    *(
        Row(
            f"{status}-once",
            f"{status} once",
            _transient_once(),
            _once(_server_error(status)),
            issue4=True,
        )
        for status in (500, 502, 503, 504)
    ),
    Row(
        "503-always",
        "503 on every request",
        {
            "get": err("InternalServerError", 3),
            "list": err("InternalServerError", 3),
            "start": err("InternalServerError", 1),
            "delete": err("InternalServerError", 3),
            "wait": err("WaitTimeoutError", (6, 60), "each poll tries 3 times; the wait goes on to its timeout"),
            "ensure": err("InternalServerError", 3),
            "download": err("StorageError", 6, "max_retries=5 attempts in a row without progress"),
        },
        lambda t: [Fault.server_error(t.route, 503, times=None, **_path(t))],
    ),
    Row(
        "520",
        "520, a status the spec does not list",
        {
            "get": err("InternalServerError", 1, "only 408/429/500/502/503/504 are retried"),
            "list": err("InternalServerError", 1),
            "start": err("InternalServerError", 1),
            "delete": err("InternalServerError", 1),
            "wait": ok(2, "a 5xx does not end a wait"),
            "ensure": err("InternalServerError", 1),
            "download": ok(2, "storage retries any status above 500"),
        },
        _once(lambda t: Fault.server_error(t.route, 520, **_path(t))),
        issue4=True,
    ),
    Row(
        "418",
        "418, a 4xx the spec does not list",
        {
            "get": err("APIStatusError", 1),
            "list": err("APIStatusError", 1),
            "start": err("APIStatusError", 1),
            "delete": err("APIStatusError", 1),
            "wait": err("APIStatusError", 1, "a 4xx ends the wait"),
            "ensure": err("APIStatusError", 1),
            "download": err("StorageError", 1),
        },
        _once(lambda t: Fault.status_code(t.route, 418, **_path(t))),
        issue4=True,
    ),
    Row(
        "refused",
        "connection refused (nothing listens on the port)",
        {
            "get": err("APIConnectionError", 3),
            "list": err("APIConnectionError", 3),
            "start": err("APIConnectionError", 3, "never sent: safe to repeat even a POST"),
            "delete": err("APIConnectionError", 3),
            "wait": err("WaitTimeoutError", (6, 60), "the network being away does not end a wait"),
            "ensure": err("APIConnectionError", 3),
            "download": err("StorageError", 6),
        },
        special="refused",
        storage_path="*",
    ),
    Row(
        "reset",
        "connection reset mid-body",
        _cut_mid_body("APIConnectionError"),
        _once(lambda t: Fault.reset(t.route, after_bytes=_after(t), **_path(t))),
        issue4=True,
    ),
    Row(
        "truncate",
        "body cut short (Content-Length announced, connection closed)",
        _cut_mid_body("APIConnectionError"),
        _once(lambda t: Fault.truncate(t.route, after_bytes=_after(t), **_path(t))),
        issue4=True,
    ),
    Row(
        "read-timeout",
        f"read timeout: no answer within the {SHORT_TIMEOUT_S} s read timeout",
        {**_cut_mid_body("APITimeoutError"), "delete": ok(2), "download": ok(2)},
        _once(lambda t: Fault.delay(t.route, HOLD_S, **_path(t))),
        client_timeout_s=SHORT_TIMEOUT_S,
        issue4=True,
    ),
    Row(
        "stall",
        f"stall mid-body longer than the {SHORT_TIMEOUT_S} s read timeout",
        _cut_mid_body("APITimeoutError"),
        _once(lambda t: Fault.stall(t.route, HOLD_S, after_bytes=_after(t), **_path(t))),
        client_timeout_s=SHORT_TIMEOUT_S,
    ),
    Row(
        "slow",
        "slow answer (0.3 s delay, within the timeout)",
        dict(_BODY_OK),
        _once(lambda t: Fault.delay(t.route, 0.3, **_path(t))),
        issue4=True,
    ),
    Row(
        "truncated-json",
        "truncated JSON in a complete 200 answer",
        _broken_2xx(),
        _once(
            lambda t: Fault.status_code(
                t.route,
                200,
                body='{"asset": {"version": "1.1"}, "root": {'
                if t.route == "storage"
                else '{"export": {"id": "e1", "disp',
                **_path(t),
            )
        ),
        storage_path=ROOT_TILESET,
        issue4=True,
    ),
    Row(
        "html-502",
        "an HTML error page (502 from a gateway)",
        _transient_once(),
        _once(lambda t: Fault.html(t.route, 502, **_path(t))),
        issue4=True,
    ),
    Row(
        "html-200",
        "an HTML page with status 200",
        _broken_2xx(),
        _once(lambda t: Fault.html(t.route, 200, **_path(t))),
        storage_path=ROOT_TILESET,
    ),
    Row(
        "empty-200",
        "an empty body with status 200",
        _broken_2xx(),
        _once(lambda t: Fault.empty_body(t.route, 200, **_path(t))),
        storage_path=ROOT_TILESET,
    ),
    Row(
        "unknown-status",
        'an unknown enum value (status "Queued")',
        {
            **_BODY_OK,
            "wait": ok(2, "an unknown status is waited on like InProgress"),
            "ensure": ok(1, "an unknown status counts as in flight: reused"),
        },
        _once(lambda t: Fault.unknown_enum(t.route, "status", "Queued")),
        target="api",
        issue4=True,
    ),
    Row(
        "unknown-export-type",
        'an unknown enum value (exportType "3DFT")',
        {**_BODY_OK, "ensure": ok(1, "a 3DFT export is not a 3DTiles one: a new export is started")},
        _once(lambda t: Fault.unknown_enum(t.route, "request.exportType", "3DFT")),
        target="api",
        issue4=True,
    ),
    Row(
        "unknown-fields",
        "unknown fields in every export",
        dict(_BODY_OK),
        _once(lambda t: Fault.unknown_fields(t.route, {"newField": {"added": True}, "request.newToo": 1})),
        target="api",
    ),
    Row(
        "missing-fields",
        "a required field missing (status)",
        dict(_BODY_BAD),
        _once(lambda t: Fault.missing_fields(t.route, ("status",))),
        target="api",
    ),
    Row(
        "wrong-types",
        "wrong types (status: 42, lastModified: true)",
        dict(_BODY_BAD),
        _once(lambda t: Fault.wrong_types(t.route)),
        target="api",
    ),
    Row(
        "expired-signature",
        "signature refused mid-download (403 on the large tile)",
        {"download": ok(2, "refresh_href called once, the file fetched again")},
        _once(lambda t: Fault.expired_signature(t.route, **_path(t))),
        issue4=True,
    ),
    Row(
        "expired-signature-no-refresh",
        "signature refused mid-download, no refresh_href",
        {"download": err("LinkExpiredError", 1)},
        _once(lambda t: Fault.expired_signature(t.route, **_path(t))),
        special="no-refresh",
    ),
    Row(
        "expired-link-from-api",
        "the API hands out an already expired link",
        {
            "get": ok(1, "the client cannot tell"),
            "download": ok(2, "403 on tileset.json, one fresh link from Get Export"),
        },
        _once(lambda t: Fault.expired_signature("get-export")),
        target="api",
        issue4=True,
    ),
    Row(
        "token-expired",
        "access token expiring mid-run (client credentials)",
        {**_ALL_OK_TWICE, "download": ok(2, "Get Export: 401, then replayed with a fresh token")},
        target="api",
        special="token-expired",
    ),
    Row(
        "token-503",
        "the token endpoint answers 503 once",
        {op: ok(2, "the token request is repeated like a GET") for op in OPERATIONS},
        _once(lambda t: Fault.server_error("token", 503)),
        target="token",
        special="token-credentials",
        issue4=True,
    ),
    Row(
        "token-429",
        "the token endpoint answers 429 (Retry-After: 1) once",
        {op: ok(2) for op in OPERATIONS},
        _once(lambda t: Fault.rate_limit("token", retry_after_s=1)),
        target="token",
        special="token-credentials",
    ),
    Row(
        "redirect",
        "a 307 redirect to another host",
        {
            "get": err("APIStatusError", 1, "redirects are not followed: the token stays home"),
            "list": err("APIStatusError", 1),
            "start": err("APIStatusError", 1),
            "delete": err("APIStatusError", 1),
            "wait": err("APIStatusError", 1),
            "ensure": err("APIStatusError", 1),
            "download": err("StorageError", 1, "storage redirects are not followed either"),
        },
        lambda t: [Fault.redirect(t.route, t.elsewhere, **_path(t))],
        special="redirect",
    ),
)


def cells() -> list[tuple[Row, str]]:
    """Every (row, operation) the matrix runs."""
    return [(r, op) for r in ROWS for op in OPERATIONS if op in r.cells]
