"""The local service's uvicorn access lines never show a storage signature. uvicorn writes them
whenever its `uvicorn.access` logger has a handler, even with `access_log=False`: pytest's log
capture adds one to every non-propagating logger, and an application's logging configuration may.
The service therefore redacts the query strings in them."""

from __future__ import annotations

import logging

import httpx

from itwin_mesh_export.testing import LocalMeshExportService, make_seed_exports


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_access_lines_show_the_request_without_its_signature() -> None:
    seed = make_seed_exports(1)[0]
    access = logging.getLogger("uvicorn.access")
    collect = Collect()
    with LocalMeshExportService(seed_exports=[seed]) as svc:
        access.addHandler(collect)  # as a logging configuration would (uvicorn checks per connection)
        level = access.level
        access.setLevel(logging.INFO)
        try:
            url = svc.tileset_url(seed.export_id)
            assert httpx.get(url).status_code == 200
        finally:
            access.removeHandler(collect)
            access.setLevel(level)
    decoded = httpx.URL(url).params["sig"]
    encoded = url.split("sig=", 1)[1].split("&", 1)[0]
    tileset_lines = [line for line in collect.lines if "/tileset.json?" in line]
    assert tileset_lines, collect.lines  # uvicorn did write the access line: the check below is not empty
    assert all(decoded not in line and encoded not in line for line in collect.lines)
    assert "sig=REDACTED" in tileset_lines[0] and '" 200' in tileset_lines[0]
