"""pytest fixtures for the local Mesh Export service. Opt in from a conftest.py:

    pytest_plugins = ["itwin_mesh_export.testing.pytest_plugin"]

    def test_list(mesh_export_service):
        client = MeshExportClient(base_url=mesh_export_service.api_url, token=mesh_export_service.token)

    @pytest.mark.mesh_export_service(in_progress_s=0.2, failing_imodels={"bad": "Out of memory"})
    def test_failure(mesh_export_service): ...

    def test_two(mesh_export_service_factory):
        a = mesh_export_service_factory(seed_exports=make_seed_exports(5))
        b = mesh_export_service_factory(static_token=None)

Each fixture starts its services on free ports of 127.0.0.1 and stops them after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._config import ServiceConfig
from ._service import LocalMeshExportService

__all__ = ["mesh_export_service", "mesh_export_service_factory"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mesh_export_service(config=None, **fields): configure the mesh_export_service fixture "
        "(ServiceConfig fields, clock=..., port=...)",
    )


@pytest.fixture
def mesh_export_service(request: pytest.FixtureRequest) -> Iterator[LocalMeshExportService]:
    """A running service, configured by the test's `mesh_export_service` marker if it has one."""
    marker = request.node.get_closest_marker("mesh_export_service")
    args: tuple[Any, ...] = marker.args if marker is not None else ()
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    with LocalMeshExportService(*args, **kwargs) as service:
        yield service


@pytest.fixture
def mesh_export_service_factory() -> Iterator[Callable[..., LocalMeshExportService]]:
    """Start services with any configuration; all are stopped after the test."""
    started: list[LocalMeshExportService] = []

    def start(config: ServiceConfig | None = None, **kwargs: Any) -> LocalMeshExportService:
        service = LocalMeshExportService(config, **kwargs).start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()
