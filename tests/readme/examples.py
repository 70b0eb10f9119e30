"""Find the README's Python examples and run them against a local Mesh Export service.

Every ```python block of README.md is an example. An HTML comment on the line just before a
block says how it is treated (invisible on a rendered page):

    <!-- readme-test: skip: the reason -->   not run; a reason is required
    <!-- readme-test: continue -->          runs after the blocks before it, in their namespace:
                                            one test for a block and the `continue` blocks after it

An example runs in-process, in an empty temporary directory, with the environment and the names
in `PLACEHOLDERS` pointing at a fresh `LocalMeshExportService` (a placeholder is a name the
README says stands for the reader's own value: `imodel_id`, `token`, ...). Any connection to a host
other than this machine fails at once, so an example can never reach api.bentley.com.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"^<!--\s*readme-test:\s*(skip|continue)\b\s*:?\s*(.*?)\s*-->\s*$")
LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0", None}

# The names the README lists as standing for the reader's own values, and the environment the
# client reads, are bound to the local service (tests/readme/test_readme_examples.py fills them).
PLACEHOLDERS = ("imodel_id", "changeset_id", "export_id", "token", "client_id", "client_secret", "token_url")


class ReadmeError(ValueError):
    """The README's examples are marked wrongly (a skip without a reason, a `continue` first...)."""


@dataclass
class Example:
    """One test: a block and the `continue` blocks after it."""

    line: int  # of the first block's opening fence, 1-based
    heading: str  # the nearest heading above it
    sources: list[tuple[int, str]] = field(default_factory=list)  # (line of the fence, code)
    skip: str | None = None

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.heading.lower()).strip("-") or "top"
        return f"L{self.line}-{slug}"


def examples(text: str) -> list[Example]:
    found: list[Example] = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.match(before)
        headings = re.findall(r"^#+ (.+)$", text[: match.start()], re.MULTILINE)
        heading = headings[-1] if headings else ""
        kind, reason = (marker.group(1), marker.group(2)) if marker else (None, "")
        if kind == "skip" and not reason:
            raise ReadmeError(f"README.md line {line}: `readme-test: skip` needs a reason")
        if kind == "continue":
            if not found or found[-1].skip:
                raise ReadmeError(f"README.md line {line}: `readme-test: continue` follows no example that runs")
            found[-1].sources.append((line, match.group(1)))
            continue
        found.append(Example(line, heading, [(line, match.group(1))], reason if kind == "skip" else None))
    return found


@contextmanager
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse name resolution for any host but this machine's (what every client connection does first)."""
    real: Callable[..., Any] = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in LOOPBACK:
            raise OSError(f"README examples run offline: no connection to {name!r}")
        return real(host, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", guarded)
        yield


def run(example: Example, namespace: dict[str, Any], filename: Path) -> None:
    """Execute the example's blocks in `namespace`; tracebacks give README.md's own line numbers."""
    for line, source in example.sources:
        exec(compile("\n" * line + source, str(filename), "exec"), namespace)
