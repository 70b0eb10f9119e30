"""The README's Python examples run, as written, against the local Mesh Export service, so they
cannot rot (how blocks are found and marked: tests/readme/examples.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from itwin_mesh_export.testing import LocalMeshExportService, SeedExport
from tests.conftest import ROOT
from tests.readme.examples import PLACEHOLDERS, Example, ReadmeError, examples, loopback_only, run

README = ROOT / "README.md"
EXAMPLES = examples(README.read_text(encoding="utf-8"))
IMODEL_ID = "b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc"
CHANGESET_ID = "9d6e7a1c2b3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d"
ENV = (
    "ITWIN_MESH_EXPORT_BASE_URL",
    "ITWIN_ACCESS_TOKEN",
    "ITWIN_CLIENT_ID",
    "ITWIN_CLIENT_SECRET",
    "ITWIN_TOKEN_URL",
    "ITWIN_MESH_EXPORT_LOG",
)


@pytest.fixture
def service() -> Iterator[LocalMeshExportService]:
    seeds = [SeedExport(IMODEL_ID, 0, changeset_id=CHANGESET_ID), SeedExport(IMODEL_ID, 1)]
    with LocalMeshExportService(seed_exports=seeds, not_started_s=0.2, in_progress_s=0.5) as svc:
        yield svc


@pytest.fixture
def reader(service: LocalMeshExportService, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """A reader's set-up, pointed at the local service: the environment, the placeholders, a fresh directory."""
    monkeypatch.chdir(tmp_path)
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ITWIN_MESH_EXPORT_BASE_URL", service.api_url)
    monkeypatch.setenv("ITWIN_ACCESS_TOKEN", service.token)
    monkeypatch.setenv("ITWIN_CLIENT_ID", service.client_id)
    monkeypatch.setenv("ITWIN_CLIENT_SECRET", service.client_secret)
    monkeypatch.setenv("ITWIN_TOKEN_URL", service.token_url)
    export_id = next(e.export_id for e in service.config.seed_exports if e.changeset_id == CHANGESET_ID)
    values = {
        "imodel_id": IMODEL_ID,
        "changeset_id": CHANGESET_ID,
        "export_id": export_id,
        "token": service.token,
        "client_id": service.client_id,
        "client_secret": service.client_secret,
        "token_url": service.token_url,
    }
    assert set(values) == set(PLACEHOLDERS)
    return {"__name__": "readme_example", **values}


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_readme_example(example: Example, reader: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    if example.skip:
        pytest.skip(example.skip)
    with loopback_only(monkeypatch):
        run(example, reader, README)


def test_the_readme_has_examples_that_run() -> None:
    running = [e for e in EXAMPLES if not e.skip]
    assert len(running) >= 3, [e.id for e in EXAMPLES]


def test_markers_are_read_and_a_skip_needs_a_reason() -> None:
    text = (
        "# A\n```python\na = 1\n```\n<!-- readme-test: continue -->\n```python\nb = a + 1\n```\n"
        "## B\n<!-- readme-test: skip: needs a real iModel -->\n```python\nboom()\n```\n"
    )
    first, second = examples(text)
    assert [line for line, _ in first.sources] == [2, 6] and first.id == "L2-a"
    assert second.skip == "needs a real iModel" and second.heading == "B"
    namespace: dict[str, Any] = {}
    run(first, namespace, Path("README.md"))
    assert namespace["b"] == 2
    with pytest.raises(ReadmeError, match="needs a reason"):
        examples("<!-- readme-test: skip -->\n```python\nx\n```\n")
    with pytest.raises(ReadmeError, match="follows no example"):
        examples("<!-- readme-test: continue -->\n```python\nx\n```\n")


def test_a_broken_example_fails_with_the_readme_line(monkeypatch: pytest.MonkeyPatch) -> None:
    [example] = examples("text\n\n```python\nx = 1\nundefined_name\n```\n")
    with pytest.raises(NameError) as failure:
        run(example, {}, Path("README.md"))
    assert failure.traceback[-1].lineno + 1 == 5  # README.md line 5 (traceback lines are 0-based)


def test_an_example_cannot_reach_another_host(monkeypatch: pytest.MonkeyPatch) -> None:
    [example] = examples('```python\nimport httpx\nhttpx.get("https://api.bentley.com/mesh-export/")\n```\n')
    with loopback_only(monkeypatch), pytest.raises(httpx.ConnectError, match="run offline"):
        run(example, {}, Path("README.md"))
