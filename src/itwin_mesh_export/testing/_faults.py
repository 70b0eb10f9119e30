"""Fault injection: what can go wrong on each route, for how many requests.

A `Fault` names a route (an operation id of the spec, the token endpoint, or one of the two
storage origins), what to do instead of (or on top of) the normal answer, and how many requests
it applies to. `FaultRegistry` holds the faults of a running service; the request handlers take
the first matching one, so `registry.add(Fault.server_error("get-export", times=2))` breaks
exactly the next two Get Export calls. Faults travel as JSON too (`to_dict` / `from_dict`), which
is how the admin endpoint `/_admin/faults` sets them on a service started from the command line.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

__all__ = ["Fault", "FaultKind", "FaultRegistry", "FaultSpecError", "Route"]


class FaultSpecError(ValueError):
    """A fault that cannot be applied: unknown route or kind, a kind the route cannot have, ..."""


class Route(StrEnum):
    """Where a fault applies: the spec's operation ids, the token endpoint, the storage origins."""

    GET_EXPORTS = "get-exports"
    GET_EXPORT = "get-export"
    START_EXPORT = "start-export"
    DELETE_EXPORT = "delete-export"
    TOKEN = "token"
    STORAGE = "storage"
    CDN = "cdn"
    ANY = "*"


API_ROUTES = frozenset({Route.GET_EXPORTS, Route.GET_EXPORT, Route.START_EXPORT, Route.DELETE_EXPORT})
FILE_ROUTES = frozenset({Route.STORAGE, Route.CDN})


class FaultKind(StrEnum):
    """What a fault does. Every kind first waits `delay_s` (0 unless set)."""

    STATUS = "status"  # answer `status` with an error body (Bentley JSON on the API, XML on storage)
    RATE_LIMIT = "rate_limit"  # 429 with Retry-After, in seconds or as an HTTP date
    HTML = "html"  # an HTML error page, as a gateway in front of the service would send
    EMPTY = "empty"  # `status` (200 unless set) with an empty body
    DELAY = "delay"  # wait `delay_s`, then answer normally
    RESET = "reset"  # headers and `after_bytes` of the body, then a TCP reset
    TRUNCATE = "truncate"  # the full Content-Length is declared, `after_bytes` sent, the connection closed
    STALL = "stall"  # `after_bytes` of the body, a pause of `stall_s`, then the rest
    EXPIRED_SIGNATURE = "expired_signature"  # API: links already expired; storage: 403 as for an expired one
    BODY = "body"  # the normal JSON body, with fields set (`set_fields`) or removed (`remove_fields`)
    REDIRECT = "redirect"  # `status` (307 unless set) with `Location: location`, e.g. another host


_API_ONLY = {FaultKind.BODY: API_ROUTES | {Route.TOKEN, Route.ANY}}
_NOT_ON = {
    FaultKind.EXPIRED_SIGNATURE: {Route.START_EXPORT, Route.DELETE_EXPORT, Route.TOKEN},
}


@dataclass(frozen=True)
class Fault:
    """One injected fault. Build it with the class methods (`Fault.rate_limit(...)` ...).

    - `route`: a `Route` value ("get-export", "storage", "*" ...).
    - `times`: how many matching requests it applies to (None: all, until removed).
    - `path`: an fnmatch pattern the request path must match (e.g. "*/tileset.json"), or None.
    - `probability`: the share of matching requests it applies to (1.0: every one), drawn from
      the registry's seeded random generator, so a soak run injects a steady share of faults.
    - `status`, `retry_after_s`, `retry_after_http_date`, `delay_s`, `after_bytes`, `stall_s`,
      `set_fields`, `remove_fields`, `body`, `location`: parameters of the kind, see `FaultKind`.

    Field paths of `set_fields` / `remove_fields` are dotted ("request.exportType") and apply to
    every export object of the body (`export`, or each item of `exports`); a path starting with
    "$." applies to the top level of the body instead ("$._links.next", "$.expires_in").
    """

    route: str
    kind: FaultKind
    times: int | None = 1
    path: str | None = None
    status: int | None = None
    retry_after_s: float = 1.0
    retry_after_http_date: bool = False
    delay_s: float = 0.0
    after_bytes: int | None = None
    stall_s: float = 0.0
    set_fields: Mapping[str, Any] = field(default_factory=dict)
    remove_fields: tuple[str, ...] = ()
    body: str | None = None
    location: str | None = None
    probability: float = 1.0

    def __post_init__(self) -> None:
        try:
            route = Route(self.route)
        except ValueError:
            raise FaultSpecError(
                f"unknown fault route {self.route!r}; expected one of {', '.join(r.value for r in Route)}"
            ) from None
        try:
            kind = FaultKind(self.kind)
        except ValueError:
            raise FaultSpecError(
                f"unknown fault kind {self.kind!r}; expected one of {', '.join(k.value for k in FaultKind)}"
            ) from None
        object.__setattr__(self, "route", route)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "remove_fields", tuple(self.remove_fields))
        object.__setattr__(self, "set_fields", dict(self.set_fields))
        if kind in _API_ONLY and route not in _API_ONLY[kind]:
            raise FaultSpecError(f"a {kind.value} fault needs a JSON route, not {route.value!r}")
        if route in _NOT_ON.get(kind, set()):
            raise FaultSpecError(f"a {kind.value} fault has no meaning on route {route.value!r}")
        if self.times is not None and (not isinstance(self.times, int) or self.times < 1):
            raise FaultSpecError(f"times must be a positive int or None, got {self.times!r}")
        if self.status is not None and not (isinstance(self.status, int) and 100 <= self.status <= 599):
            raise FaultSpecError(f"status must be an HTTP status code (100-599), got {self.status!r}")
        for name in ("retry_after_s", "delay_s", "stall_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise FaultSpecError(f"{name} must be a number >= 0, got {value!r}")
        if self.after_bytes is not None and (not isinstance(self.after_bytes, int) or self.after_bytes < 0):
            raise FaultSpecError(f"after_bytes must be an int >= 0, got {self.after_bytes!r}")
        if kind is FaultKind.BODY and not (self.set_fields or self.remove_fields):
            raise FaultSpecError("a body fault needs set_fields or remove_fields")
        if kind is FaultKind.REDIRECT and not (isinstance(self.location, str) and self.location):
            raise FaultSpecError("a redirect fault needs a location")
        if (
            isinstance(self.probability, bool)
            or not isinstance(self.probability, int | float)
            or not 0 < self.probability <= 1
        ):
            raise FaultSpecError(f"probability must be a number in (0, 1], got {self.probability!r}")

    # ---- constructors, one per kind of trouble ----

    @classmethod
    def rate_limit(
        cls, route: str, *, retry_after_s: float = 1.0, http_date: bool = False, times: int | None = 1, **kw: Any
    ) -> Fault:
        """429 with `Retry-After` in seconds, or as an HTTP date `retry_after_s` from now."""
        return cls(
            route, FaultKind.RATE_LIMIT, times=times, retry_after_s=retry_after_s, retry_after_http_date=http_date, **kw
        )

    @classmethod
    def server_error(cls, route: str, status: int = 503, *, times: int | None = 1, **kw: Any) -> Fault:
        """A 5xx (any code, also non-standard ones like 520) with an error body."""
        return cls(route, FaultKind.STATUS, times=times, status=status, **kw)

    @classmethod
    def status_code(
        cls, route: str, status: int, *, times: int | None = 1, body: str | None = None, **kw: Any
    ) -> Fault:
        """Any status, e.g. one the spec does not list for the operation (403, 409, 418 ...)."""
        return cls(route, FaultKind.STATUS, times=times, status=status, body=body, **kw)

    @classmethod
    def html(cls, route: str, status: int = 502, *, times: int | None = 1, **kw: Any) -> Fault:
        """An HTML error page, as a proxy or gateway answers."""
        return cls(route, FaultKind.HTML, times=times, status=status, **kw)

    @classmethod
    def empty_body(cls, route: str, status: int = 200, *, times: int | None = 1, **kw: Any) -> Fault:
        """`status` with an empty body (and the route's usual Content-Type)."""
        return cls(route, FaultKind.EMPTY, times=times, status=status, **kw)

    @classmethod
    def delay(cls, route: str, seconds: float, *, times: int | None = 1, **kw: Any) -> Fault:
        """Wait `seconds` (real time), then answer normally."""
        return cls(route, FaultKind.DELAY, times=times, delay_s=seconds, **kw)

    @classmethod
    def reset(cls, route: str, *, after_bytes: int | None = None, times: int | None = 1, **kw: Any) -> Fault:
        """Send the headers and `after_bytes` of the body (None: half), then reset the connection."""
        return cls(route, FaultKind.RESET, times=times, after_bytes=after_bytes, **kw)

    @classmethod
    def truncate(cls, route: str, *, after_bytes: int | None = None, times: int | None = 1, **kw: Any) -> Fault:
        """Declare the full Content-Length, send `after_bytes` (None: half), then close."""
        return cls(route, FaultKind.TRUNCATE, times=times, after_bytes=after_bytes, **kw)

    @classmethod
    def stall(
        cls, route: str, seconds: float, *, after_bytes: int | None = None, times: int | None = 1, **kw: Any
    ) -> Fault:
        """Send `after_bytes` (None: half), go quiet for `seconds`, then send the rest."""
        return cls(route, FaultKind.STALL, times=times, after_bytes=after_bytes, stall_s=seconds, **kw)

    @classmethod
    def expired_signature(cls, route: str, *, times: int | None = 1, **kw: Any) -> Fault:
        """On get-export(s): mesh links whose signature has already expired. On storage or cdn:
        a 403 as for an expired signature, whatever the request carries."""
        return cls(route, FaultKind.EXPIRED_SIGNATURE, times=times, **kw)

    @classmethod
    def unknown_enum(
        cls, route: str, field_path: str = "status", value: str = "Queued", *, times: int | None = 1, **kw: Any
    ) -> Fault:
        """An enum value the spec does not list, e.g. status "Queued" or request.exportType "3DFT"."""
        return cls(route, FaultKind.BODY, times=times, set_fields={field_path: value}, **kw)

    @classmethod
    def unknown_fields(
        cls, route: str, fields: Mapping[str, Any] | None = None, *, times: int | None = 1, **kw: Any
    ) -> Fault:
        """Fields the spec does not define, added to every export (default: `newField`)."""
        return cls(route, FaultKind.BODY, times=times, set_fields=dict(fields or {"newField": {"added": True}}), **kw)

    @classmethod
    def missing_fields(
        cls, route: str, paths: Sequence[str] = ("status",), *, times: int | None = 1, **kw: Any
    ) -> Fault:
        """Required fields left out (default: `status`)."""
        return cls(route, FaultKind.BODY, times=times, remove_fields=tuple(paths), **kw)

    @classmethod
    def wrong_types(
        cls, route: str, fields: Mapping[str, Any] | None = None, *, times: int | None = 1, **kw: Any
    ) -> Fault:
        """Fields with the wrong JSON type (default: `status` 42, `lastModified` true)."""
        return cls(
            route, FaultKind.BODY, times=times, set_fields=dict(fields or {"status": 42, "lastModified": True}), **kw
        )

    @classmethod
    def redirect(cls, route: str, location: str, status: int = 307, *, times: int | None = 1, **kw: Any) -> Fault:
        """A redirect to `location` (another host, say): a client must not follow it with credentials."""
        return cls(route, FaultKind.REDIRECT, times=times, status=status, location=location, **kw)

    # ---- JSON form, for the admin endpoint ----

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, StrEnum):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """A fault from its JSON form; FaultSpecError names anything unknown or missing."""
        if not isinstance(data, Mapping):
            raise FaultSpecError(f"a fault is a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultSpecError(f"unknown fault field(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        missing = [name for name in ("route", "kind") if name not in data]
        if missing:
            raise FaultSpecError(f"a fault needs {' and '.join(missing)}")
        values = dict(data)
        if "remove_fields" in values:
            if not isinstance(values["remove_fields"], list | tuple):
                raise FaultSpecError("remove_fields must be a list of field paths")
            values["remove_fields"] = tuple(values["remove_fields"])
        if "set_fields" in values and not isinstance(values["set_fields"], Mapping):
            raise FaultSpecError("set_fields must be an object of field path -> value")
        try:
            return cls(**values)
        except TypeError as exc:  # pragma: no cover - fields are checked above
            raise FaultSpecError(str(exc)) from None

    def matches(self, route: Route, path: str) -> bool:
        """Whether this fault applies to a request on `route` (never ANY) for `path`."""
        if self.route is not Route.ANY and self.route is not route:
            return False
        if self.kind in _API_ONLY and route not in _API_ONLY[self.kind]:
            return False  # a "*" body fault skips the storage routes
        if route in _NOT_ON.get(self.kind, set()):
            return False
        return self.path is None or fnmatch.fnmatchcase(path, self.path)


@dataclass
class _Entry:
    id: str
    fault: Fault
    remaining: int | None
    applied: int = 0


class FaultRegistry:
    """The faults of one running service. Thread-safe: tests add faults while requests run."""

    def __init__(self, faults: Iterable[Fault] = (), *, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []
        self._ids = itertools.count(1)
        self._random = random.Random(seed)  # draws for faults with probability < 1
        for fault in faults:
            self.add(fault)

    def add(self, fault: Fault) -> str:
        """Arm `fault` (after those already armed) and return its id."""
        if not isinstance(fault, Fault):
            raise FaultSpecError(f"expected a Fault, got {type(fault).__name__}")
        with self._lock:
            entry = _Entry(id=f"f{next(self._ids)}", fault=fault, remaining=fault.times)
            self._entries.append(entry)
            return entry.id

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            before = len(self._entries)
            self._entries = [e for e in self._entries if e.id != fault_id]
            return len(self._entries) != before

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def take(self, route: Route, path: str) -> Fault | None:
        """The first armed fault for this request, counted as used; None when nothing applies."""
        with self._lock:
            for entry in self._entries:
                if entry.fault.matches(route, path):
                    if entry.fault.probability < 1 and self._random.random() >= entry.fault.probability:
                        continue
                    entry.applied += 1
                    if entry.remaining is not None:
                        entry.remaining -= 1
                        if entry.remaining == 0:
                            self._entries.remove(entry)
                    return entry.fault
            return None

    def armed(self) -> list[dict[str, Any]]:
        """The armed faults as JSON objects: id, remaining uses, applied count, and the fault."""
        with self._lock:
            return [
                {"id": e.id, "remaining": e.remaining, "applied": e.applied, "fault": e.fault.to_dict()}
                for e in self._entries
            ]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
