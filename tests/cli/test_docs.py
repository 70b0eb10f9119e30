"""The README's "Command-line tool" section documents what the CLI does: its exit-code table is
`EXIT_CODES`, and every `--json` key the commands print is named there."""

from __future__ import annotations

import re

from itwin_mesh_export.cli import EXIT_CODES
from tests.cli.test_commands import DOWNLOAD_KEYS, EXPORT_KEYS
from tests.conftest import ROOT


def section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Command-line tool\n")
    return text[start : text.index("\n## ", start + 1)]


def test_the_exit_code_table_is_the_one_the_cli_uses() -> None:
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", section(), re.MULTILINE)
    assert {int(code): meaning for code, meaning in rows} == EXIT_CODES


def test_every_json_key_is_documented() -> None:
    documented = set(re.findall(r"`([a-z_]+)`", section()))
    missing = {*EXPORT_KEYS, *DOWNLOAD_KEYS, "dest", "files", "bytes", "deleted"} - documented
    assert missing == set()
