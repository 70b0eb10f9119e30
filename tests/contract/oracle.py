"""What the client must have done with the responses of one call, worked out from the recorded
exchanges alone, and compared with what it did.

The rules are the client's documented behaviour (README, "Using the client"), written down here a
second time on purpose:

- Retries: 429 (and 408/5xx, which the spec does not list) are retried, at most 3 attempts; the
  wait is `Retry-After` when it is a non-negative number of seconds up to 60 s, the backoff
  0.5 s then 1 s otherwise (the tests pin the jitter to 0); a hint above 60 s ends at once.
- A 2xx export body gives the `Export` whose `to_dict()` is the body's export; an empty `id` is
  refused (`ResponseValidationError`), as the client's checks promise.
- Get Exports yields every full export of a page, and follows `_links.next` by its `$top` and
  `$skip`; a summary item, a next link without usable `$top`/`$skip`, or one back to a page
  already read ends the iteration with `ResponseValidationError`.
- An error status raises the class of its status with the Bentley error body's fields.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from itwin_mesh_export import (
    AuthenticationError,
    ErrorDetail,
    Export,
    MeshExportError,
    NotFoundError,
    RateLimitError,
    ResponseValidationError,
    UnprocessableEntityError,
    last_modified_at,
)
from tests.contract.prism import Exchange

ERROR_CLASSES: dict[int, type[MeshExportError]] = {
    401: AuthenticationError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}
MAX_ATTEMPTS = 3
RETRY_AFTER_CAP_S = 60.0
BACKOFF_S = (0.5, 1.0)  # after attempts 1 and 2, with the jitter pinned to 0
_RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
_DIGITS = re.compile(r"\s*(\d+)\s*")


@dataclass
class Outcome:
    """What one client call did: its return value, the items an iteration yielded before it
    ended, and the exception it ended with (None when it returned)."""

    value: Any = None
    items: list[Any] = field(default_factory=list)
    error: BaseException | None = None

    def describe(self) -> str:
        if self.error is not None:
            return f"raised {type(self.error).__name__}: {self.error} (after {len(self.items)} items)"
        return f"returned {self.value!r} ({len(self.items)} items)"


# ---- retries ----


def _hint_s(response: httpx.Response) -> float | None:
    """Retry-After as RFC 9110 delay-seconds (digits only); None when absent or not that."""
    raw = response.headers.get("retry-after")
    match = _DIGITS.fullmatch(raw) if raw is not None else None
    return float(match.group(1)) if match else None


def expected_delay_s(method: str, response: httpx.Response, attempt: int) -> float | None:
    status = response.status_code
    if attempt >= MAX_ATTEMPTS or status not in _RETRY_STATUSES:
        return None
    if method not in ("GET", "DELETE") and status != 429:
        return None
    hint = _hint_s(response)
    if hint is None:
        return BACKOFF_S[attempt - 1]
    return None if hint > RETRY_AFTER_CAP_S else hint


def _groups(exchanges: Sequence[Exchange]) -> list[list[Exchange]]:
    """Attempts of the same request (retries) grouped together, in order."""
    groups: list[list[Exchange]] = []
    for exchange in exchanges:
        key = (exchange.request.method, str(exchange.request.url))
        if groups and (groups[-1][-1].request.method, str(groups[-1][-1].request.url)) == key:
            groups[-1].append(exchange)
        else:
            groups.append([exchange])
    return groups


def _check_retries(groups: list[list[Exchange]], sleeps: list[float], problems: list[str]) -> None:
    waits = list(sleeps)
    for group in groups:
        for attempt, exchange in enumerate(group, start=1):
            delay = expected_delay_s(exchange.request.method, exchange.response, attempt)
            status = exchange.response.status_code
            if attempt < len(group):
                if delay is None:
                    problems.append(f"attempt {attempt} ({status}) was retried, but should not have been")
                elif not waits:
                    problems.append(f"attempt {attempt} ({status}) was retried without a wait (expected {delay} s)")
                elif waits.pop(0) != delay:
                    problems.append(f"the wait after attempt {attempt} ({status}) was not {delay} s: {sleeps}")
            elif delay is not None:
                problems.append(f"attempt {attempt} ({status}) should have been retried after {delay} s")
    if waits:
        problems.append(f"the client slept {waits} beyond the retries")


# ---- bodies ----


def _normalize(value: Any) -> Any:
    """A body as JSON gives it, with date-times compared as instants (the generated model turns
    `stats.startTime` into a datetime and writes it back in isoformat)."""
    if isinstance(value, dict):
        return {k: (_instant(v) if k == "startTime" else _normalize(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return value


def _instant(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def export_problems(export: object, raw: Any, where: str) -> list[str]:
    """[] when `export` is the client's reading of the raw export object `raw`."""
    if not isinstance(export, Export):
        return [f"{where}: the client returned {type(export).__name__}, not an Export"]
    if _normalize(export.to_dict()) != _normalize(raw):
        return [f"{where}: the Export differs from the body: {export.to_dict()!r} != {raw!r}"]
    try:
        when = last_modified_at(export)
    except Exception as exc:  # any exception here is the finding
        return [f"{where}: last_modified_at raised {type(exc).__name__}: {exc}"]
    if when is not None and not isinstance(when, datetime):
        return [f"{where}: last_modified_at gave {when!r}"]
    return []


def _refused_export(raw: dict[str, Any]) -> str | None:
    """The client's documented refusal of a schema-valid export object, if any."""
    if raw.get("id") == "":
        return "has no id string"
    return None


# ---- the expected end of a call ----


@dataclass
class Expected:
    error: type[BaseException] | None = None
    match: str | None = None  # a piece of the error message
    status_body: dict[str, Any] | None = None  # the error body for status errors
    retry_after_s: float | None = None
    prism_problem: str | None = None  # Prism answered something the spec does not list


def _status_expectation(exchange: Exchange) -> Expected:
    status = exchange.response.status_code
    cls = ERROR_CLASSES.get(status)
    if cls is None:
        # Prism's own error (a request it refused, an example it could not serve): never expected.
        return Expected(prism_problem=f"Prism answered {status}: {exchange.body[:500]!r}")
    try:
        body = exchange.json()
    except ValueError:
        body = None
    hint = _hint_s(exchange.response) if status == 429 else None
    return Expected(error=cls, status_body=body if isinstance(body, dict) else None, retry_after_s=hint)


def _compare_error(outcome: Outcome, expected: Expected, problems: list[str]) -> None:
    error = outcome.error
    if expected.prism_problem is not None:
        problems.append(expected.prism_problem)
        return
    if expected.error is None:
        if error is not None:
            problems.append(f"expected success, the client {outcome.describe()}")
        return
    if type(error) is not expected.error:
        problems.append(f"expected {expected.error.__name__}, the client {outcome.describe()}")
        return
    if expected.match is not None and expected.match not in str(error):
        problems.append(f"expected {expected.error.__name__} saying {expected.match!r}, got: {error}")
    body = expected.status_body
    if body is not None:
        err = body.get("error") if isinstance(body.get("error"), dict) else {}
        details = err.get("details") if isinstance(err.get("details"), list) else []
        want = {
            "code": err.get("code"),
            "error_message": err.get("message"),
            "target": err.get("target"),
            "details": [ErrorDetail(d.get("code"), d.get("message"), d.get("target")) for d in details],
        }
        got = {name: getattr(error, name, None) for name in want}
        got["details"] = list(got["details"] or [])
        if got != want:
            problems.append(f"the {type(error).__name__} does not carry the error body: {got!r} != {want!r}")
    if isinstance(error, RateLimitError) and error.retry_after_s != expected.retry_after_s:
        problems.append(f"RateLimitError.retry_after_s is {error.retry_after_s!r}, not {expected.retry_after_s!r}")


def check_single(
    outcome: Outcome, exchanges: Sequence[Exchange], sleeps: list[float], *, body_key: str | None
) -> list[str]:
    """Get Export / Start Export (`body_key="export"`) and Delete Export (`body_key=None`)."""
    problems: list[str] = []
    if not exchanges:
        return [f"no request reached Prism; the client {outcome.describe()}"]
    groups = _groups(exchanges)
    if len(groups) != 1:
        problems.append(f"one request expected, {len(groups)} different ones were sent")
    _check_retries(groups, sleeps, problems)
    last = exchanges[-1]
    status = last.response.status_code
    if not 200 <= status < 300:
        _compare_error(outcome, _status_expectation(last), problems)
        return problems
    if body_key is None:
        _compare_error(outcome, Expected(), problems)
        if outcome.value is not None:
            problems.append(f"Delete Export returned {outcome.value!r}, not None")
        return problems
    try:
        body = last.json()
    except ValueError:
        body = None
    raw = body.get(body_key) if isinstance(body, dict) else None
    if not isinstance(raw, dict):
        _compare_error(outcome, Expected(ResponseValidationError, "without an export"), problems)
        return problems
    refusal = _refused_export(raw)
    if refusal is not None:
        _compare_error(outcome, Expected(ResponseValidationError, refusal), problems)
        return problems
    _compare_error(outcome, Expected(), problems)
    if outcome.error is None:
        problems.extend(export_problems(outcome.value, raw, "the export"))
    return problems


def _page_cursor(href: object) -> tuple[int, int] | str:
    """($top, $skip) of a next link, or why it is not usable."""
    if not isinstance(href, str) or not href.strip():
        return "end"
    try:
        params = {k.lower(): v for k, v in httpx.URL(href).params.multi_items()}
        top, skip = int(params["$top"]), int(params["$skip"])
    except (httpx.InvalidURL, KeyError, ValueError):
        return "without usable $top and $skip"
    if top < 1 or skip < 0:
        return "$top < 1 or $skip < 0"
    return top, skip


def check_listing(outcome: Outcome, exchanges: Sequence[Exchange], sleeps: list[float], *, page_size: int) -> list[str]:
    """Get Exports through `iter_exports(page_size=...)`, page by page."""
    problems: list[str] = []
    groups = _groups(exchanges)
    if not groups:
        return [f"no request reached Prism; the client {outcome.describe()}"]
    _check_retries(groups, sleeps, problems)
    expected_items: list[dict[str, Any]] = []
    expected = Expected()
    seen = {(page_size, 0)}
    want_query: dict[str, str] = {"$top": str(page_size)}
    for number, group in enumerate(groups):
        query = dict(group[0].request.url.params)
        got_query = {k: v for k, v in query.items() if k in ("$top", "$skip")}
        if got_query != want_query:
            problems.append(f"page {number + 1} was asked with {got_query}, not {want_query}")
        last = group[-1]
        ended = True
        if last.response.status_code != 200:
            expected = _status_expectation(last)
        else:
            try:
                body = last.json()
                items = list(body["exports"])
            except (ValueError, KeyError, TypeError):
                problems.append(f"page {number + 1} is not a page of exports: {last.body[:500]!r}")
                break
            for index, item in enumerate(items):
                if "request" not in item:
                    expected = Expected(ResponseValidationError, f"item {index} (id {item.get('id')!r}) is not a full")
                    break
                refusal = _refused_export(item)
                if refusal is not None:
                    expected = Expected(ResponseValidationError, f"item {index}: the export {refusal}")
                    break
            else:
                expected_items.extend(items)
                links = body.get("_links") or {}
                cursor = _page_cursor((links.get("next") or {}).get("href"))
                if isinstance(cursor, tuple) and cursor in seen:
                    expected = Expected(ResponseValidationError, "already read")
                elif isinstance(cursor, tuple):
                    seen.add(cursor)
                    want_query = {"$top": str(cursor[0]), "$skip": str(cursor[1])}
                    ended = False
                elif cursor != "end":
                    expected = Expected(ResponseValidationError, cursor)
        if ended and number != len(groups) - 1:
            problems.append(f"the client went on after page {number + 1}, which ends the listing")
            break
        if not ended and number == len(groups) - 1:
            problems.append(f"the client did not follow the next link of page {number + 1} to {want_query}")
    _compare_error(outcome, expected, problems)
    if len(outcome.items) != len(expected_items):
        problems.append(f"the client yielded {len(outcome.items)} exports, the pages held {len(expected_items)}")
    else:
        for index, (export, raw) in enumerate(zip(outcome.items, expected_items, strict=True)):
            problems.extend(export_problems(export, raw, f"item {index}"))
    return problems
