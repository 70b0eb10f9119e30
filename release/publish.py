"""Upload the built distribution to the package index named by the environment, never overwriting.

    python release/publish.py [DIST_DIR]      # what `make publish` runs after check-generated, the tests, build

The index comes from twine's own variables: `TWINE_REPOSITORY_URL` (the upload URL; required, so a
release never goes to PyPI by default), `TWINE_USERNAME`, `TWINE_PASSWORD`. `PUBLISH_SIMPLE_URL`
names the index's simple API (PEP 503) when it is not `<TWINE_REPOSITORY_URL>/simple/`, which is
pypiserver's layout (devpi: `.../+simple/`; Artifactory: `.../api/pypi/<repo>/simple/`).

Every check runs before the first byte is uploaded: DIST_DIR holds exactly one wheel and one sdist
of the version in `_version.py`; the release record matches the spec (release/versions.py);
`twine check --strict` passes; and the index's simple API is read to learn which files of the
project it holds. If it holds any file of this version, publishing stops with a clear message,
whatever the index itself would do: some indexes (Artifactory, Nexus with redeploy allowed)
overwrite silently, and others answer with a bare "400 Bad Request". The one exception is a
publish that was cut off between its two uploads: when every file of this version on the index is
one of ours, byte for byte (same sha256), the missing ones are uploaded and nothing is replaced, so
running the command again finishes the release. After uploading, the simple API is read again and
every file must be there with our sha256.

Hand-written around twine (which does the uploads) because twine cannot refuse an existing version
up front: its `--skip-existing` skips silently, and without it the outcome is the server's. The
credentials are passed to twine in its environment, never on a command line, and are redacted from
everything printed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

if __package__ in (None, ""):  # run as a script: make `release` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from release.versions import PROJECT_PATHS, Paths, ReleaseCheckError, check, current_version

PROJECT = "itwin-mesh-export"
HTTP_TIMEOUT_S = 30

# Exit codes: nothing was uploaded (1, 2); an upload failed and the index may hold part of it (3).
REFUSED, CONFIG_ERROR, UPLOAD_FAILED = 1, 2, 3


class PublishError(RuntimeError):
    def __init__(self, message: str, code: int = REFUSED) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class IndexFile:
    filename: str
    sha256: str | None


@dataclass(frozen=True)
class Index:
    """Where to upload and where to read the simple API, with the credentials kept out of reprs."""

    upload_url: str
    simple_url: str
    username: str | None
    password: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Index:
        upload = env.get("TWINE_REPOSITORY_URL", "").strip()
        if not upload:
            raise PublishError(
                "TWINE_REPOSITORY_URL is not set: name the internal index to upload to (and TWINE_USERNAME,"
                " TWINE_PASSWORD). Nothing was uploaded; this command never defaults to PyPI.",
                CONFIG_ERROR,
            )
        simple = env.get("PUBLISH_SIMPLE_URL", "").strip() or upload.rstrip("/") + "/simple/"
        user, password = env.get("TWINE_USERNAME") or None, env.get("TWINE_PASSWORD") or None
        return cls(upload, simple.rstrip("/") + "/", user, password)

    def __repr__(self) -> str:
        return f"Index(upload_url={redact_url(self.upload_url)!r}, simple_url={redact_url(self.simple_url)!r})"

    def redact(self, text: str) -> str:
        """`text` without the password (or any URL's user:password@ part)."""
        for url in (self.upload_url, self.simple_url):
            text = text.replace(url, redact_url(url))
        for secret in (self.password, _userinfo_password(self.upload_url), _userinfo_password(self.simple_url)):
            if secret:
                text = text.replace(secret, "<redacted>")
        return text


def _userinfo_password(url: str) -> str | None:
    return urllib.parse.urlsplit(url).password


def redact_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return urllib.parse.urlunsplit(parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")))


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def read_index(index: Index, project: str = PROJECT) -> list[IndexFile]:
    """The files the index holds for `project` (PEP 503), with the sha256 it gives for each.
    A 404 means no file; any other failure stops the publish, since nothing could be checked."""
    url = f"{index.simple_url}{canonicalize_name(project)}/"
    parts = urllib.parse.urlsplit(url)
    request = urllib.request.Request(redact_url(url), headers={"Accept": "text/html"})
    # Basic auth (for an index that protects reads too) from the URL's own user:password@, or
    # twine's credentials when the simple API is on the upload URL's origin; never elsewhere.
    user, password = parts.username, parts.password
    if user is None and _origin(url) == _origin(index.upload_url):
        user, password = index.username, index.password
    if user and password:
        pair = base64.b64encode(f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}".encode()).decode()
        request.add_header("Authorization", f"Basic {pair}")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            html = response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise PublishError(
            f"could not read the index's simple API at {redact_url(url)} (HTTP {exc.code}), so whether it already"
            " holds this version is unknown. Nothing was uploaded. Set PUBLISH_SIMPLE_URL if the simple API lives"
            " elsewhere."
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PublishError(
            f"could not reach the index's simple API at {redact_url(url)} ({index.redact(str(reason))}). Nothing was"
            " uploaded."
        ) from None
    parser = _Links()
    parser.feed(html)
    files = []
    for href in parser.hrefs:
        parts = urllib.parse.urlsplit(href)
        filename = urllib.parse.unquote(parts.path.rsplit("/", 1)[-1])
        fragment = urllib.parse.parse_qs(parts.fragment)
        files.append(IndexFile(filename, fragment.get("sha256", [None])[0]))
    return files


def file_version(filename: str) -> tuple[str, Version] | None:
    """(canonical project name, version) of a wheel or sdist file name; None for anything else."""
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return str(name), version


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def distribution_files(dist: Path, version: str) -> list[Path]:
    """The wheel and the sdist of `version` in `dist`, wheel first; anything else there is an error
    (a stale build of another version must not be uploaded by accident)."""
    if not dist.is_dir():
        raise PublishError(f"{dist} does not exist: run `make build` first", CONFIG_ERROR)
    files = sorted(p for p in dist.iterdir() if not p.name.startswith("."))
    wheels = [p for p in files if p.name.endswith(".whl")]
    sdists = [p for p in files if p.name.endswith(".tar.gz")]
    expected = {(canonicalize_name(PROJECT), Version(version))}
    wrong = [p.name for p in files if p not in wheels + sdists or {file_version(p.name)} != expected]
    if wrong or len(wheels) != 1 or len(sdists) != 1:
        raise PublishError(
            f"{dist} must hold exactly one wheel and one sdist of {PROJECT} {version}; it holds"
            f" {[p.name for p in files]}. Run `make build` (it empties {dist.name}/ first).",
            CONFIG_ERROR,
        )
    return [*wheels, *sdists]


def plan_upload(ours: list[Path], on_index: list[IndexFile], version: str) -> list[Path]:
    """Which of our files to upload, or PublishError if that would overwrite anything."""
    target = (canonicalize_name(PROJECT), Version(version))
    held = [f for f in on_index if file_version(f.filename) == target]
    if not held:
        return ours
    digests = {p.name: sha256_file(p) for p in ours}
    foreign = [f.filename for f in held if f.sha256 is None or digests.get(f.filename) != f.sha256]
    missing = [p for p in ours if p.name not in {f.filename for f in held}]
    if foreign or not missing:
        raise PublishError(
            f"the index already holds {PROJECT} {version} ({', '.join(sorted(f.filename for f in held))})."
            " A published version is never overwritten: set a new __version__ in src/itwin_mesh_export/_version.py"
            " (README, 'Versions and releases'), add its CHANGELOG.md section, `make record-release`, then"
            " `make publish`. Nothing was uploaded."
        )
    return missing


def twine_upload(path: Path, index: Index, env: Mapping[str, str]) -> tuple[int, str]:
    cmd = [
        sys.executable, "-m", "twine", "--no-color", "upload", "--non-interactive", "--disable-progress-bar",
        "--repository-url", index.upload_url, str(path),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=dict(env), capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def twine_check(paths: list[Path]) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, paths)], capture_output=True, text=True
    )
    return proc.returncode, proc.stdout + proc.stderr


Uploader = Callable[[Path, Index, Mapping[str, str]], tuple[int, str]]


def publish(
    dist: Path,
    env: Mapping[str, str],
    *,
    paths: Paths = PROJECT_PATHS,
    upload: Uploader = twine_upload,
    say: Callable[[str], None] = print,
) -> None:
    """Check everything, then upload what is missing. Raises PublishError (with an exit code)."""
    index = Index.from_env(env)
    version = current_version(paths.version_file)
    ours = distribution_files(dist, version)
    try:
        problems = check(paths)
    except ReleaseCheckError as exc:
        problems = [str(exc)]
    if problems:
        raise PublishError(f"the release record does not match the spec: {' '.join(problems)} Nothing was uploaded.")
    code, output = twine_check(ours)
    if code != 0:
        raise PublishError(f"`twine check --strict` failed; nothing was uploaded:\n{output}")
    todo = plan_upload(ours, read_index(index), version)
    say(f"publishing {PROJECT} {version} to {redact_url(index.upload_url)}")
    if len(todo) < len(ours):
        names = ", ".join(p.name for p in todo)
        say(f"completing an interrupted publish: the index holds the other files byte for byte; uploading {names}")
    for done, path in enumerate(todo):
        code, output = upload(path, index, env)
        if code != 0:
            landed = [p.name for p in todo[:done]]
            raise PublishError(
                f"uploading {path.name} failed:\n{index.redact(output).strip()}\n"
                + (
                    f"The index now holds part of {version} ({', '.join(landed)}). Run `make publish` again once the"
                    " cause is fixed: it uploads only the missing files and never replaces one."
                    if landed or len(todo) < len(ours)
                    else "Nothing was uploaded."
                ),
                UPLOAD_FAILED,
            )
        say(f"uploaded {path.name} (sha256 {sha256_file(path)})")
    after = {f.filename: f.sha256 for f in read_index(index)}
    # An index that gives no sha256 for a file is trusted on its name alone.
    wrong = [p.name for p in ours if p.name not in after or after[p.name] not in (None, sha256_file(p))]
    if wrong:
        raise PublishError(f"after uploading, the index does not list {wrong} with our sha256", UPLOAD_FAILED)
    say(f"published {PROJECT} {version}: {', '.join(p.name for p in ours)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("dist", nargs="?", type=Path, default=Path("dist"))
    args = parser.parse_args(argv)
    try:
        publish(args.dist, os.environ)
    except PublishError as exc:
        message = str(exc)
        with contextlib.suppress(PublishError):
            message = Index.from_env(os.environ).redact(message)
        print(f"publish: error: {message}", file=sys.stderr)
        return exc.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
