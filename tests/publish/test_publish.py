"""Publishing end to end against a real pypiserver on 127.0.0.1 with upload authentication on.

The main test publishes with the script `make publish` runs, installs the package into a fresh
virtual environment from that index alone (no other index, no find-links, no pip configuration,
no cache; pip's install report proves where every file came from), runs it against the local
Mesh Export service started from that environment, and checks that publishing the same version
again is refused and changes nothing on the index. The others cover the refusals and an
interrupted publish.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import urllib.error
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from itwin_mesh_export import __version__
from release import publish as release_publish
from release.publish import Index, IndexFile, PublishError, plan_upload
from tests.conftest import ROOT
from tests.publish.conftest import Build, PackageIndex, free_port

PUBLISH = [sys.executable, str(ROOT / "release" / "publish.py")]


def _publish(dist: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PUBLISH, str(dist)], env=dict(env), capture_output=True, text=True, timeout=120)


def _isolated_env() -> dict[str, str]:
    """An environment in which pip reads no configuration file and no PIP_* variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV", "TWINE_"))}
    env["PIP_CONFIG_FILE"] = os.devnull  # pip then loads no configuration file at all
    return env


@contextmanager
def _local_service(python: Path) -> Iterator[dict[str, str]]:
    proc = subprocess.Popen(
        [str(python), "-I", "-m", "itwin_mesh_export.testing", "--port", "0", "--json", "--seed-exports", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_isolated_env(),
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        yield json.loads(line)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


CLIENT_SCRIPT = textwrap.dedent(
    """
    import importlib.metadata, json, sys
    import itwin_mesh_export
    from itwin_mesh_export import MeshExportClient, mesh_href
    from itwin_mesh_export._http import USER_AGENT

    base_url, token = sys.argv[1], sys.argv[2]
    with MeshExportClient(token, base_url=base_url) as client:
        exports = list(client.iter_exports())
        export = client.get_export(exports[0].id)
    print(json.dumps({
        "version": itwin_mesh_export.__version__,
        "metadata_version": importlib.metadata.version("itwin-mesh-export"),
        "user_agent": USER_AGENT,
        "file": itwin_mesh_export.__file__,
        "exports": [e.id for e in exports],
        "status": str(export.status),
        "href": mesh_href(export) is not None,
    }))
    """
)


def test_publish_then_install_from_that_index_alone_then_refuse_to_publish_again(
    build: Build, runtime_wheels: list[Path], package_index: PackageIndex, tmp_path: Path
) -> None:
    for wheel in runtime_wheels:  # the index must serve the dependencies too: nothing else is asked
        shutil.copy(wheel, package_index.packages)
    env = package_index.twine_env()

    first = _publish(build.dist, env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"published itwin-mesh-export {__version__}" in first.stdout
    assert package_index.password not in first.stdout + first.stderr
    published = package_index.snapshot()
    for ours in (build.wheel, build.sdist):
        assert published[ours.name][0] == release_publish.sha256_file(ours)

    # A fresh environment, from this index alone.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    report = tmp_path / "pip-report.json"
    install = subprocess.run(
        [
            str(python), "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check",
            "--index-url", package_index.simple_url, "--report", str(report),
            f"itwin-mesh-export[server]=={__version__}",
        ],
        cwd=tmp_path, env=_isolated_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    installed = json.loads(report.read_text())["install"]
    sources = {item["metadata"]["name"]: item["download_info"]["url"] for item in installed}
    assert {"itwin-mesh-export", "httpx", "attrs", "click", "rich", "starlette", "uvicorn"} <= sources.keys()
    assert [url for url in sources.values() if not url.startswith(package_index.url)] == []
    ours = next(i for i in installed if i["metadata"]["name"] == "itwin-mesh-export")
    assert ours["download_info"]["url"].endswith(build.wheel.name)
    assert ours["download_info"]["archive_info"]["hashes"]["sha256"] == release_publish.sha256_file(build.wheel)

    # Import it and use it against the local service, which the `server` extra brought along.
    with _local_service(python) as service:
        used = subprocess.run(
            [str(python), "-I", "-c", CLIENT_SCRIPT, service["API base URL"], service["Static token"]],
            cwd=tmp_path, env=_isolated_env(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert used.returncode == 0, used.stdout + used.stderr
        facts = json.loads(used.stdout)
        assert facts["version"] == facts["metadata_version"] == __version__
        assert facts["user_agent"].startswith(f"itwin-mesh-export/{__version__} python/")
        assert Path(facts["file"]).is_relative_to(venv), "imported from the repository, not the install"
        assert len(facts["exports"]) == 2 and facts["status"] == "Complete" and facts["href"]
        # The console script, as a user runs it, against the same service.
        _check_cli(venv / "bin" / "itwin-mesh-export", service, facts["exports"], tmp_path)

    # The same version again: refused with the reason, before any upload; the index is unchanged.
    page = package_index.simple_page()
    again = _publish(build.dist, env)
    assert again.returncode == 1, again.stdout + again.stderr
    assert f"the index already holds itwin-mesh-export {__version__}" in again.stderr
    assert "A published version is never overwritten" in again.stderr
    assert "Nothing was uploaded" in again.stderr
    assert package_index.password not in again.stdout + again.stderr
    assert package_index.snapshot() == published
    assert package_index.simple_page() == page


def _check_cli(cli: Path, service: dict[str, str], export_ids: list[str], tmp_path: Path) -> None:
    env = _isolated_env()
    env.update(ITWIN_MESH_EXPORT_BASE_URL=service["API base URL"], ITWIN_ACCESS_TOKEN=service["Static token"])

    def run(*args: str) -> str:
        proc = subprocess.run([str(cli), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"itwin-mesh-export {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    assert run("--version").strip() == f"itwin-mesh-export {__version__}"
    listed = run("list", "--json")
    json.loads(listed)
    assert all(export_id in listed for export_id in export_ids)
    run("-q", "download", export_ids[0], "tiles")
    assert (tmp_path / "tiles" / "tileset.json").is_file()
    run("verify", "tiles")


def test_an_interrupted_publish_is_completed_by_running_it_again_and_nothing_is_replaced(
    build: Build, package_index: PackageIndex
) -> None:
    env = package_index.twine_env()

    def cut_off_after_the_first(path: Path, index: Index, env: Mapping[str, str]) -> tuple[int, str]:
        if path.name.endswith(".tar.gz"):
            return 1, f"ERROR HTTPError: 502 Bad Gateway (the connection dropped) password={package_index.password}"
        return release_publish.twine_upload(path, index, env)

    with pytest.raises(PublishError) as cut:
        release_publish.publish(build.dist, env, upload=cut_off_after_the_first, say=lambda _: None)
    assert cut.value.code == release_publish.UPLOAD_FAILED
    message = str(cut.value)
    assert f"The index now holds part of {__version__} ({build.wheel.name})" in message
    assert "Run `make publish` again" in message
    assert package_index.password not in message
    half = package_index.snapshot()
    assert list(half) == [build.wheel.name]

    said: list[str] = []
    release_publish.publish(build.dist, env, say=said.append)
    assert any("completing an interrupted publish" in line and build.sdist.name in line for line in said), said
    assert not any(f"uploaded {build.wheel.name}" in line for line in said)
    done = package_index.snapshot()
    assert done[build.wheel.name] == half[build.wheel.name]  # same bytes, never rewritten (same mtime)
    assert sorted(done) == sorted([build.wheel.name, build.sdist.name])

    with pytest.raises(PublishError, match="already holds"):
        release_publish.publish(build.dist, env, say=lambda _: None)
    assert package_index.snapshot() == done


def test_a_different_file_of_this_version_on_the_index_is_never_replaced(
    build: Build, package_index: PackageIndex
) -> None:
    other = package_index.packages / build.wheel.name
    other.write_bytes(build.wheel.read_bytes() + b"\0")  # same name, other bytes
    before = package_index.snapshot()
    proc = _publish(build.dist, package_index.twine_env())
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "already holds" in proc.stderr and "Nothing was uploaded" in proc.stderr
    assert package_index.snapshot() == before  # the sdist was not uploaded either


@pytest.mark.parametrize("package_index", ["list,download,update"], indirect=True)
def test_an_index_that_protects_reads_is_read_with_the_same_credentials(
    build: Build, package_index: PackageIndex
) -> None:
    with pytest.raises(urllib.error.HTTPError, match="401"):
        package_index.simple_page()  # no credentials: refused
    first = _publish(build.dist, package_index.twine_env())
    assert first.returncode == 0, first.stdout + first.stderr
    again = _publish(build.dist, package_index.twine_env())
    assert again.returncode == 1 and "already holds" in again.stderr, again.stdout + again.stderr


def test_a_wrong_password_uploads_nothing_and_is_never_printed(build: Build, package_index: PackageIndex) -> None:
    wrong = "wrong-" + package_index.password
    proc = _publish(build.dist, package_index.twine_env(password=wrong))
    assert proc.returncode == release_publish.UPLOAD_FAILED
    assert "403" in proc.stderr and "Nothing was uploaded" in proc.stderr
    assert wrong not in proc.stdout + proc.stderr
    assert package_index.snapshot() == {}


def test_an_unreadable_simple_api_stops_the_publish_before_any_upload(
    build: Build, package_index: PackageIndex
) -> None:
    env = package_index.twine_env()
    env["PUBLISH_SIMPLE_URL"] = f"http://127.0.0.1:{free_port()}/simple/"  # nothing listens there
    proc = _publish(build.dist, env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "could not reach the index's simple API" in proc.stderr and "Nothing was uploaded" in proc.stderr
    assert package_index.snapshot() == {}


def test_no_repository_url_is_refused_rather_than_defaulting_to_pypi(build: Build) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINE_")}
    proc = _publish(build.dist, env)
    assert proc.returncode == release_publish.CONFIG_ERROR
    assert "TWINE_REPOSITORY_URL is not set" in proc.stderr and "never defaults to PyPI" in proc.stderr


def test_a_dist_directory_with_anything_but_this_version_is_refused(build: Build, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    shutil.copytree(build.dist, dist)
    (dist / "itwin_mesh_export-0.0.9-py3-none-any.whl").write_bytes(b"stale")
    env = {"TWINE_REPOSITORY_URL": "http://127.0.0.1:9/"}
    with pytest.raises(PublishError, match="must hold exactly one wheel and one sdist"):
        release_publish.publish(dist, env, upload=_never, say=lambda _: None)


def _never(path: Path, index: Index, env: Mapping[str, str]) -> tuple[int, str]:
    raise AssertionError("nothing may be uploaded")


def test_plan_upload_refuses_any_file_of_this_version_it_cannot_prove_is_ours(tmp_path: Path) -> None:
    wheel = tmp_path / f"itwin_mesh_export-{__version__}-py3-none-any.whl"
    sdist = tmp_path / f"itwin_mesh_export-{__version__}.tar.gz"
    for path in (wheel, sdist):
        path.write_bytes(path.name.encode())
    assert plan_upload([wheel, sdist], [], __version__) == [wheel, sdist]
    other_version = [IndexFile("itwin_mesh_export-0.0.9.tar.gz", "0" * 64)]
    assert plan_upload([wheel, sdist], other_version, __version__) == [wheel, sdist]
    ours_already = [IndexFile(wheel.name, release_publish.sha256_file(wheel))]
    assert plan_upload([wheel, sdist], ours_already, __version__) == [sdist]
    for held in ([IndexFile(wheel.name, None)], [IndexFile(f"itwin_mesh_export-{__version__}-py2-none-any.whl", "x")]):
        with pytest.raises(PublishError, match="already holds"):
            plan_upload([wheel, sdist], held, __version__)


def test_credentials_are_redacted_from_everything_printed() -> None:
    env = {"TWINE_REPOSITORY_URL": "https://ci:url-secret@pypi.internal/", "TWINE_USERNAME": "u"}
    index = Index.from_env({**env, "TWINE_PASSWORD": "pw-1"})
    text = index.redact("to https://ci:url-secret@pypi.internal/ with pw-1")
    assert "url-secret" not in text and "pw-1" not in text
    assert "https://pypi.internal/" in text
    assert "url-secret" not in repr(index) and "pw-1" not in repr(index)


def test_make_publish_runs_every_gate_before_the_upload() -> None:
    proc = subprocess.run(
        ["make", "-n", "--no-print-directory", "publish"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()

    def first(fragment: str) -> int:
        return next(i for i, line in enumerate(lines) if fragment in line)

    tests_at, build_at, upload_at = first("pytest"), first("-m build"), first("release/publish.py")
    assert tests_at < build_at < upload_at, proc.stdout
    # The generated client and the release record are gates through the tests `make test` runs.
    tests = {
        ROOT / "tests" / "generation" / "test_regeneration.py": "def test_committed_client_is_what_the_spec_generates(",
        ROOT / "tests" / "publish" / "test_versions.py": "def test_the_committed_record_matches_the_committed_spec",
    }
    for path, test in tests.items():
        assert test in path.read_text(encoding="utf-8"), (path, test)
