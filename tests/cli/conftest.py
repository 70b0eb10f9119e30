"""The command-line tool against the local Mesh Export service over real sockets.

`cli(...)` runs `itwin-mesh-export` in this process (its `main`, as the console script does),
with the environment a user would set, and checks on every call what must hold for any command:
no token, secret or signature in the output, and no traceback unless `--debug` was given.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from itwin_mesh_export.cli import main
from itwin_mesh_export.testing import LocalMeshExportService, SeedExport, make_seed_exports

TOKEN = "cli-static-token-7f3a9c2e5b"
CLIENT_SECRET = "cli-client-secret-4d8e1a"
COMPLETE = make_seed_exports(3, imodel_id="cli-imodel")
INVALID = SeedExport(imodel_id="failed-imodel", status="Invalid", error="Out of memory")
QUEUED = SeedExport(imodel_id="queued-imodel", status="Queued")  # a status no wait ends on
# Server text that rich would read as markup: `[/]` closes nothing (MarkupError), `[bold]` is eaten.
MARKUP = SeedExport(imodel_id="markup-imodel", id="mk[bold]x", status="[/]Odd[bold]y", export_type="3D[/]T[bold]z")
# For the list filters: two export types, two changesets.
FILTERED = [
    SeedExport(imodel_id="filter-imodel", index=0, export_type="CESIUM", changeset_id="cs-a"),
    SeedExport(imodel_id="filter-imodel", index=1, export_type="3DTiles", changeset_id="cs-a"),
    SeedExport(imodel_id="filter-imodel", index=2, export_type="CESIUM", changeset_id="cs-b"),
]
SIGNATURE = re.compile(r"(?i)\b(sig|signature|key-pair-id|expires|se|st)=(?!REDACTED)[^&\s\"]+")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def error_line(self) -> str:
        """The one line an expected failure prints (and it must be exactly one)."""
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("error: "), lines[0]
        return lines[0]


def assert_clean(*texts: str, debug: bool = False) -> None:
    for text in texts:
        assert TOKEN not in text and CLIENT_SECRET not in text, text
        assert not SIGNATURE.search(text), text
        if not debug:
            assert "Traceback" not in text, text


@pytest.fixture(scope="session")
def service() -> Iterator[LocalMeshExportService]:
    with LocalMeshExportService(
        seed_exports=[*COMPLETE, INVALID, QUEUED, MARKUP, *FILTERED],
        static_token=TOKEN,
        client_secret=CLIENT_SECRET,
        not_started_s=0.1,
        in_progress_s=0.3,
        default_page_size=2,
        max_page_size=2,
    ) as svc:
        yield svc


@pytest.fixture
def svc(service: LocalMeshExportService) -> Iterator[LocalMeshExportService]:
    service.clear_requests()
    yield service
    service.faults.clear()


class CLI:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def __call__(self, *args: str) -> Result:
        self._capsys.readouterr()
        code = main(list(args))
        out, err = self._capsys.readouterr()
        assert_clean(out, err, debug="--debug" in args)
        return Result(code, out, err)


@pytest.fixture
def cli(svc: LocalMeshExportService, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CLI:
    """The CLI with the environment pointing at the local service and its static token."""
    for name in list(os.environ):
        if name.startswith("ITWIN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ITWIN_MESH_EXPORT_BASE_URL", svc.api_url)
    monkeypatch.setenv("ITWIN_ACCESS_TOKEN", TOKEN)
    return CLI(capsys)
