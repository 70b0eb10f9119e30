"""Fixtures for the release tests: one build per test session, a real pypiserver, runtime wheels.

The build and the downloaded runtime wheels are shared by the xdist workers (made once, under a
file lock, in the session's common temporary directory): building takes seconds, and the tests
only read the files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Build:
    source: Path  # the snapshot of the project both builds read
    dist: Path  # `python -m build`: the sdist, and the wheel built from that sdist (as `make build`)
    tree_wheel: Path  # `python -m build --wheel`: a wheel built straight from the source tree

    @property
    def wheel(self) -> Path:
        return next(self.dist.glob("*.whl"))

    @property
    def sdist(self) -> Path:
        return next(self.dist.glob("*.tar.gz"))


def _shared_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base.parent if worker_id != "master" else base


@contextlib.contextmanager
def _once(directory: Path) -> Iterator[bool]:
    """Hold a lock on `directory`; yields True when its contents still have to be made."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f".{directory.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = directory / ".done"
        if done.exists():
            yield False
            return
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
        yield True
        done.touch()


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload]
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def build(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Build:
    """What `make build` makes, plus a wheel built from the tree, made once per test session."""
    out = _shared_dir(tmp_path_factory, worker_id) / "release-build"
    with _once(out) as todo:
        if todo:
            # Both builds read one snapshot of the project, so an edit made meanwhile cannot make
            # them differ. Hatchling honours .gitignore, which the snapshot keeps.
            shutil.copytree(ROOT, out / "source", ignore=_not_sources)
            _run([sys.executable, "-m", "build", "--outdir", str(out / "dist"), str(out / "source")])
            _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out / "tree"), str(out / "source")])
    return Build(out / "source", out / "dist", next((out / "tree").glob("*.whl")))


def _not_sources(directory: str, names: list[str]) -> set[str]:
    """What no build reads (and hatchling would skip anyway): left out of the snapshot."""
    top = (
        {".git", ".venv", ".lock-venv", "node_modules", "dist", "build", ".hypothesis"}
        if Path(directory) == ROOT
        else set()
    )
    return {n for n in names if n in top or n == "__pycache__" or n.endswith("_cache")}


@pytest.fixture(scope="session")
def runtime_wheels(build: Build, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> list[Path]:
    """Wheels of every runtime dependency (with the `server` extra) at the versions pinned in
    requirements/dev.txt, fetched once with pip from the machine's ordinary package sources, to
    seed the test index so that a fresh environment can install from that index alone."""
    out = _shared_dir(tmp_path_factory, worker_id) / "runtime-wheels"
    with _once(out) as todo:
        if todo:
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
            cmd += ["--only-binary=:all:", "--dest", str(out), "-c", str(ROOT / "requirements" / "dev.txt")]
            _run([*cmd, f"{build.wheel}[server]"])
            for ours in out.glob("itwin_mesh_export-*"):
                ours.unlink()
    return sorted(out.glob("*.whl"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PackageIndex:
    """A real pypiserver on 127.0.0.1: uploads need a user and password (htpasswd), reads do not."""

    url: str  # the upload URL (TWINE_REPOSITORY_URL)
    packages: Path  # the directory it serves and uploads into
    username: str
    password: str

    @property
    def simple_url(self) -> str:
        return f"{self.url}simple/"

    def twine_env(self, password: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TWINE_", "PUBLISH_", "PIP_"))}
        env.update(
            TWINE_REPOSITORY_URL=self.url,
            TWINE_USERNAME=self.username,
            TWINE_PASSWORD=self.password if password is None else password,
        )
        return env

    def snapshot(self) -> dict[str, tuple[str, int]]:
        """Every file the index holds: name -> (sha256, mtime in ns)."""
        import hashlib

        return {
            p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(self.packages.iterdir())
        }

    def simple_page(self, project: str = "itwin-mesh-export") -> str:
        try:
            with urllib.request.urlopen(f"{self.simple_url}{project}/", timeout=10) as response:
                return str(response.read().decode())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return ""
            raise


@pytest.fixture
def package_index(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[PackageIndex]:
    """A pypiserver with upload authentication on, its own empty package directory, stopped at
    teardown. Parametrize indirectly with pypiserver's `--authenticate` list to protect reads too."""
    authenticate = getattr(request, "param", "update")
    with warnings.catch_warnings():  # passlib 1.7.4 imports the standard library's deprecated `crypt`
        warnings.simplefilter("ignore", DeprecationWarning)
        from passlib.apache import HtpasswdFile

    username, password = "publisher", secrets.token_urlsafe(16)
    htpasswd = HtpasswdFile(str(tmp_path / "htpasswd"), new=True, default_scheme="apr_md5_crypt")
    htpasswd.set_password(username, password)
    htpasswd.save()
    packages = tmp_path / "packages"
    packages.mkdir()
    port = free_port()
    log = open(tmp_path / "pypiserver.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [
            str(BIN / "pypi-server"), "run",
            "--host", "127.0.0.1", "--port", str(port),
            "--authenticate", authenticate, "--passwords", str(tmp_path / "htpasswd"),
            "--disable-fallback",  # never redirect a missing project to PyPI: this index only
            "--backend", "simple-dir",  # list the directory on every request (tests change it)
            str(packages),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    index = PackageIndex(f"http://127.0.0.1:{port}/", packages, username, password)
    try:
        _wait_until_up(f"{index.url}health", proc, tmp_path / "pypiserver.log")
        yield index
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"pypiserver exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"pypiserver did not answer within {timeout_s} s:\n{log.read_text()}")


@pytest.fixture
def run() -> Callable[..., subprocess.CompletedProcess[str]]:
    return _run
