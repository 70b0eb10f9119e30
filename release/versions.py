"""The version scheme, tied to the spec: which package version carries which spec and generated client.

`release/versions.json` records, for every version of the distribution, the sha256 of
`openapi/mesh-export.yaml`, the spec's own `info.version`, and one sha256 over the whole generated
package (`generated_client/itwin_mesh_export_generated/`: every file's path and bytes). The rules
(README, "Versions"; CHANGELOG.md):

- the version in `src/itwin_mesh_export/_version.py` must be recorded, with the spec and generated
  tree that are committed now: a change to either under a recorded version fails `check`, so a spec
  change cannot be released under an old number;
- versions only go up, and a version whose generated package differs from the previous record's
  bumps at least the minor (MAJOR.MINOR.PATCH; 0.x counts the same way); a spec change that leaves
  the generated package alone (a `links` or `x-` extension, say) needs at least a patch;
- every recorded version has a `## <version>` section in CHANGELOG.md.

    python release/versions.py check             # exit 1, saying what to do, when a rule is broken
    python release/versions.py record            # record the current version (refuses a recorded one)
    python release/versions.py record --replace  # re-record the newest version: only if never published

Hand-written because no packaging tool ties a version number to an input file's content; the
hashing is twenty lines of hashlib.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml  # type: ignore[import-untyped, unused-ignore]
from packaging.version import InvalidVersion, Version

if __package__ in (None, ""):  # run as a script: make `generator` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.generate import LITTER

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi" / "mesh-export.yaml"
GENERATED = ROOT / "generated_client" / "itwin_mesh_export_generated"
VERSION_FILE = ROOT / "src" / "itwin_mesh_export" / "_version.py"
RECORD = ROOT / "release" / "versions.json"
CHANGELOG = ROOT / "CHANGELOG.md"


class ReleaseCheckError(RuntimeError):
    """A rule of the version scheme is broken; the message says which and what to do."""


@dataclass(frozen=True)
class Entry:
    """What one version of the distribution was built from."""

    spec_sha256: str
    spec_info_version: str
    generated_sha256: str


@dataclass(frozen=True)
class Paths:
    """Every file the scheme reads, so tests can point it at a copy of the project."""

    spec: Path = SPEC
    generated: Path = GENERATED
    version_file: Path = VERSION_FILE
    record: Path = RECORD
    changelog: Path = CHANGELOG


PROJECT_PATHS = Paths()


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_sha256(root: Path) -> str:
    """One sha256 over a directory: each file's relative POSIX path and the sha256 of its bytes,
    in sorted order. Caches are left out; a renamed, added or removed file changes the hash."""
    if not root.is_dir():
        raise ReleaseCheckError(f"{root} does not exist")
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or LITTER & set(rel.parts) or path.suffix == ".pyc":
            continue
        digest.update(f"{rel.as_posix()}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def current_version(version_file: Path = VERSION_FILE) -> str:
    match = re.search(r'^__version__ = "([^"]+)"$', version_file.read_text(encoding="utf-8"), re.MULTILINE)
    if match is None:
        raise ReleaseCheckError(f'{version_file} has no line `__version__ = "X.Y.Z"`')
    return match.group(1)


def current_entry(paths: Paths) -> Entry:
    spec = yaml.safe_load(paths.spec.read_text(encoding="utf-8"))
    return Entry(
        spec_sha256=sha256_file(paths.spec),
        spec_info_version=str(spec["info"]["version"]),
        generated_sha256=tree_sha256(paths.generated),
    )


def load_record(path: Path) -> dict[str, Entry]:
    if not path.exists():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {version: Entry(**fields) for version, fields in raw["versions"].items()}


def save_record(path: Path, record: dict[str, Entry]) -> None:
    body = {
        "about": "Per version: what it was built from. Written by `make record-release`; see release/versions.py.",
        "versions": {version: asdict(entry) for version, entry in record.items()},
    }
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


def _semver(version: str) -> Version:
    try:
        parsed = Version(version)
    except InvalidVersion:
        parsed = None
    if parsed is None or len(parsed.release) != 3 or parsed.epoch or parsed.local or str(parsed) != version:
        raise ReleaseCheckError(f"{version!r} is not a MAJOR.MINOR.PATCH version")
    return parsed


def minimum_next(previous: str, prev: Entry, cur: Entry) -> tuple[Version, str]:
    """The lowest version allowed after `previous` for a build from `cur`, and why."""
    major, minor, patch = _semver(previous).release
    if cur.generated_sha256 != prev.generated_sha256:
        return Version(f"{major}.{minor + 1}.0"), "the generated package changed"
    if cur.spec_sha256 != prev.spec_sha256:
        return Version(f"{major}.{minor}.{patch + 1}"), "the spec changed (the generated package did not)"
    return Version(f"{major}.{minor}.{patch + 1}"), "versions only go up"


def _changelog_versions(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return set(re.findall(r"^## \[?(\d+\.\d+\.\d+)\]?", path.read_text(encoding="utf-8"), re.MULTILINE))


def check_record(record: dict[str, Entry], changelog: set[str]) -> list[str]:
    """The rules between recorded versions: order, the minor bump, a CHANGELOG section each."""
    problems: list[str] = []
    versions = list(record)
    for version in versions:
        try:
            _semver(version)
        except ReleaseCheckError as exc:
            problems.append(str(exc))
            return problems
        if version not in changelog:
            problems.append(f"CHANGELOG.md has no `## {version}` section: say what {version} changed for users")
    for previous, version in itertools.pairwise(versions):
        lowest, why = minimum_next(previous, record[previous], record[version])
        if Version(version) < lowest:
            problems.append(f"{version} follows {previous} in {RECORD.name}, but {why}: it must be {lowest} or higher")
    return problems


def check(paths: Paths = PROJECT_PATHS) -> list[str]:
    """Every broken rule, as a message that says what to do. Empty when the release record is good."""
    version = current_version(paths.version_file)
    record = load_record(paths.record)
    problems = check_record(record, _changelog_versions(paths.changelog))
    now = current_entry(paths)
    recorded = record.get(version)
    if recorded is None:
        problems.append(
            f"version {version} (src/itwin_mesh_export/_version.py) is not in {paths.record.name}:"
            " add its CHANGELOG.md section, then `make record-release`"
        )
    elif recorded != now:
        changed = []
        if recorded.generated_sha256 != now.generated_sha256:
            changed.append("the generated package (generated_client/itwin_mesh_export_generated/)")
        if recorded.spec_sha256 != now.spec_sha256:
            changed.append("the spec (openapi/mesh-export.yaml)")
        newest = list(record)[-1]
        lowest, why = minimum_next(version, recorded, now)
        problems.append(
            f"{' and '.join(changed)} changed since version {version} was recorded. A version is never"
            f" released with other contents: {why}, so set __version__ to {lowest} or higher in"
            " src/itwin_mesh_export/_version.py, add its CHANGELOG.md section, then `make record-release`."
            + (
                f" (If {version} was never published, `make record-release ARGS=--replace` re-records it instead.)"
                if version == newest
                else ""
            )
        )
    return problems


def record(paths: Paths = PROJECT_PATHS, *, replace: bool = False) -> str:
    """Add the current version to the record (or, with `replace`, re-record the newest one)."""
    version = current_version(paths.version_file)
    _semver(version)
    entries = load_record(paths.record)
    now = current_entry(paths)
    if version in entries:
        if entries[version] == now:
            return f"{version} is already recorded with these contents"
        if not replace:
            raise ReleaseCheckError(
                f"{version} is recorded with other contents; a recorded version is never re-used. Bump"
                " __version__ (or pass --replace if this version was never published)"
            )
        if version != list(entries)[-1]:
            raise ReleaseCheckError(f"only the newest recorded version can be replaced, not {version}")
        del entries[version]
    elif replace:
        raise ReleaseCheckError(f"--replace: {version} is not recorded yet")
    if version not in _changelog_versions(paths.changelog):
        raise ReleaseCheckError(f"CHANGELOG.md has no `## {version}` section: write it first (what changed for users)")
    if entries:
        previous = list(entries)[-1]
        lowest, why = minimum_next(previous, entries[previous], now)
        if Version(version) < lowest:
            raise ReleaseCheckError(f"{version} follows {previous}, but {why}: set __version__ to {lowest} or higher")
    entries[version] = now
    save_record(paths.record, entries)
    return (
        f"recorded {version}: spec {now.spec_sha256[:12]} (info.version {now.spec_info_version}),"
        f" generated package {now.generated_sha256[:12]}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("command", choices=["check", "record"])
    parser.add_argument("--replace", action="store_true", help="re-record the newest version (never published)")
    args = parser.parse_args(argv)
    try:
        if args.command == "record":
            print(record(replace=args.replace))
            problems = check()
        else:
            problems = check()
    except ReleaseCheckError as exc:
        problems = [str(exc)]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems and args.command == "check":
        print(f"release record: version {current_version()} matches the spec and the generated package")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
