"""The `itwin-mesh-export` command: click for the command line, rich for progress and tables.

Each subcommand is a thin shell over one client call (`get_export`, `iter_exports`,
`start_export` / `ensure_export`, `wait_for_export`, `download_export`, `delete_export`,
`verify_download`) or the local service (`serve`). Data goes to stdout (text, or one JSON
document with `--json`), progress and errors to stderr. An expected failure is one line,
`error: ...`, and an exit code of its own (`_errors.EXIT_CODES`); `--debug` adds the traceback.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from .._auth import ENV_ACCESS_TOKEN, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_TOKEN_URL
from .._client import ENV_BASE_URL
from .._logging import logger
from .._version import __version__
from .._waiting import DEFAULT_POLL_INTERVAL_S, DEFAULT_WAIT_TIMEOUT_S
from ..download._defaults import DEFAULT_CONCURRENCY, MAX_CONCURRENCY
from ._errors import (
    EXIT_BROKEN_PIPE,
    EXIT_CODES,
    EXIT_INTERRUPTED,
    EXIT_SERVE,
    EXIT_USAGE,
    CLIError,
    failure,
    redact,
    scrub,
)
from ._output import (
    delete_json,
    download_json,
    export_json,
    print_export,
    print_exports_table,
    print_json,
    verify_json,
)
from ._progress import DownloadDisplay, WaitDisplay
from ._settings import Settings

__all__ = ["PROG", "cli", "main"]

PROG = "itwin-mesh-export"
_NOT_A_TERMINAL_WIDTH = 1000  # tables piped to a file are not cut to 80 columns

_EPILOG = "\b\nExit codes:\n" + "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES.items())
_EPILOG += (
    "\n\n\b\nEnvironment:\n"
    f"  {ENV_ACCESS_TOKEN}      a bearer token\n"
    f"  {ENV_CLIENT_ID}          with {ENV_CLIENT_SECRET}: a service application's credentials\n"
    f"  {ENV_TOKEN_URL}          the token endpoint (default Bentley IMS)\n"
    f"  {ENV_BASE_URL}  the API base URL (QA, dev, the local service)\n"
    "  ITWIN_MESH_EXPORT_LOG   debug or info: log HTTP requests (redacted) on stderr"
)


class _StdoutConsole(Console):
    def on_broken_pipe(self) -> None:
        """Not rich's own exit (code 1): the command's quiet exit (`_Group.invoke`, `main`)."""
        self.quiet = True
        raise BrokenPipeError


def _stdout() -> Console:
    """stdout. No markup: what it prints (ids, statuses, export types) is the server's text, and
    `[/]` or `[bold]` in it must print as it is."""
    terminal = sys.stdout.isatty()
    width = None if terminal else _NOT_A_TERMINAL_WIDTH
    return _StdoutConsole(file=sys.stdout, width=width, highlight=False, markup=False)


def _stderr(progress: bool | None) -> tuple[Console, bool]:
    """The stderr console (no markup, as stdout), and whether to draw bars on it (a terminal, or forced)."""
    console = Console(stderr=True, force_terminal=True if progress else None, highlight=False, markup=False)
    return console, progress if progress is not None else console.is_terminal


def _stdout_closed() -> None:
    """stdout's reader has gone (`list --json | head`): point stdout at os.devnull, so that what
    is still buffered, and Python's flush at exit, go nowhere instead of failing again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError):  # a stdout without a file descriptor (embedded, captured): nothing to flush
        pass


class _StderrHandler(logging.Handler):
    """The package's warnings (an unknown export status, a poll that failed and goes on) as
    `warning: ...` lines on whatever stderr is when they happen."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(f"{record.levelname.lower()}: {self.format(record)}\n")
        except Exception:  # pragma: no cover - logging must never break the command
            self.handleError(record)


def _log_warnings(quiet: bool) -> None:
    """Send the package's warnings to stderr (not with --quiet), unless ITWIN_MESH_EXPORT_LOG
    gave it a handler already. One handler per process (tests call `main` many times)."""
    ours = [h for h in logger.handlers if isinstance(h, _StderrHandler)]
    if not ours and logger.handlers:
        return
    handler = ours[0] if ours else _StderrHandler()
    handler.setLevel(logging.CRITICAL + 1 if quiet else logging.WARNING)
    if not ours:
        logger.addHandler(handler)


class _Group(click.Group):
    """Turns every exception a subcommand raises into `error: <one line>` and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:  # stdout's reader left: nothing to say, and nowhere to say it
            _stdout_closed()
            ctx.exit(EXIT_BROKEN_PIPE)
        except Exception as exc:
            settings = ctx.find_object(Settings) or Settings()
            code, message = failure(exc, ctx.invoked_subcommand)
            if settings.debug:
                click.echo(redact(traceback.format_exc(), settings.secrets()).rstrip("\n"), err=True)
            click.echo(f"error: {scrub(message, settings.secrets())}", err=True)
            ctx.exit(code)


_progress_option = click.option(
    "--progress/--no-progress",
    default=None,
    help="Draw the progress bar on stderr (default: only when stderr is a terminal).",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document (keys in the README).")


@click.group(
    cls=_Group,
    epilog=_EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", "-V", prog_name=PROG, message="%(prog)s %(version)s")
@click.option(
    "--base-url",
    envvar=ENV_BASE_URL,
    show_envvar=True,
    metavar="URL",
    help="The API base URL (default https://api.bentley.com/mesh-export): QA, dev, or the local service.",
)
@click.option("--token", metavar="TOKEN", help=f"A bearer token (better: {ENV_ACCESS_TOKEN}).")
@click.option("--client-id", metavar="ID", help=f"A service application's client id (or {ENV_CLIENT_ID}).")
@click.option(
    "--client-secret", metavar="SECRET", help=f"Its secret (better: {ENV_CLIENT_SECRET}; options show in `ps`)."
)
@click.option("--token-url", metavar="URL", help=f"The token endpoint (or {ENV_TOKEN_URL}; default Bentley IMS).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or status lines on stderr (errors still).")
@click.option("--debug", is_flag=True, help="Show the traceback of a failure.")
@click.pass_context
def cli(
    ctx: click.Context,
    base_url: str | None,
    token: str | None,
    client_id: str | None,
    client_secret: str | None,
    token_url: str | None,
    quiet: bool,
    debug: bool,
) -> None:
    """Bentley iTwin Mesh Export: list, start and wait for exports, download their 3D Tiles.

    Credentials come from the environment (ITWIN_ACCESS_TOKEN, or ITWIN_CLIENT_ID and
    ITWIN_CLIENT_SECRET) or from the options; they are never printed. Data goes to stdout,
    progress and errors to stderr.
    """
    _log_warnings(quiet)
    ctx.obj = Settings(
        base_url=base_url.strip() if base_url and base_url.strip() else None,
        token=token,
        client_id=client_id,
        client_secret=client_secret,
        token_url=token_url,
        debug=debug,
        quiet=quiet,
    )


@cli.command()
@click.argument("export_id")
@_json_option
@click.pass_obj
def get(settings: Settings, export_id: str, as_json: bool) -> None:
    """Show one export."""
    with settings.client() as client:
        export = client.get_export(export_id)
    if as_json:
        print_json(_stdout(), export_json(export))
    else:
        print_export(_stdout(), export)


@cli.command(name="list")
@click.option("--imodel-id", metavar="ID", help="Only exports of this iModel.")
@click.option("--changeset-id", metavar="ID", help="Only exports of this changeset.")
@click.option("--export-type", metavar="TYPE", help="Only exports of this type (3DTILES, CESIUM, IMODEL...).")
@click.option("--order-by", metavar="ORDER", help="date:asc or date:desc.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Stop after N exports (default: all pages).")
@_json_option
@click.pass_obj
def list_(
    settings: Settings,
    imodel_id: str | None,
    changeset_id: str | None,
    export_type: str | None,
    order_by: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List exports (every page), as a table or a JSON array."""
    with settings.client() as client:
        found = client.iter_exports(imodel_id, changeset_id, export_type, order_by)
        exports = list(itertools.islice(found, limit))
    if as_json:
        print_json(_stdout(), [export_json(e) for e in exports])
    else:
        print_exports_table(_stdout(), exports)


def _tiler_config(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, Any] | None:
    config: dict[str, Any] = {}
    for item in values:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx=ctx, param=param)
        config[key.strip()] = _tiler_value(text)
    return config or None


def _tiler_value(text: str) -> str | int | float | bool:
    """`true`/`false` as booleans, numbers as numbers, the rest as text."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


@cli.command()
@click.argument("imodel_id")
@click.option("--changeset-id", metavar="ID", help="The changeset to export (default: the latest).")
@click.option("--export-type", default="3DTiles", show_default=True, metavar="TYPE", help="3DTILES, CESIUM, IMODEL...")
@click.option(
    "--tiler-config",
    "tiler_config",
    multiple=True,
    callback=_tiler_config,
    metavar="KEY=VALUE",
    help="A tiler option (repeatable); true/false and numbers are sent as such.",
)
@click.option(
    "--reuse", is_flag=True, help="Return a Complete or running export of the same iModel, changeset and type if any."
)
@_json_option
@click.pass_obj
def start(
    settings: Settings,
    imodel_id: str,
    changeset_id: str | None,
    export_type: str,
    tiler_config: dict[str, Any] | None,
    reuse: bool,
    as_json: bool,
) -> None:
    """Start an export of an iModel (prints the new export)."""
    if reuse and tiler_config:  # a usage error: before credentials are looked for or a client is built
        raise CLIError(EXIT_USAGE, "--reuse finds exports by iModel, changeset and type: drop --tiler-config")
    with settings.client() as client:
        if reuse:
            export = client.ensure_export(imodel_id, changeset_id, export_type)
        else:
            export = client.start_export(imodel_id, changeset_id, export_type, tiler_config)
    if as_json:
        print_json(_stdout(), export_json(export))
    else:
        print_export(_stdout(), export)


@cli.command()
@click.argument("export_id")
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_WAIT_TIMEOUT_S,
    show_default=True,
    help="Seconds to wait before giving up (exit code 7).",
)
@click.option(
    "--poll-interval",
    "poll_interval_s",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_POLL_INTERVAL_S,
    show_default=True,
    help="Seconds before the first poll again (then growing to 30 s).",
)
@_progress_option
@_json_option
@click.pass_obj
def wait(
    settings: Settings,
    export_id: str,
    timeout_s: float,
    poll_interval_s: float,
    progress: bool | None,
    as_json: bool,
) -> None:
    """Wait until an export is Complete (exit 6 if it ends Invalid, 7 on timeout)."""
    console, bar = _stderr(progress)
    with settings.client() as client, WaitDisplay(console, export_id, bar=bar, quiet=settings.quiet) as display:
        export = client.wait_for_export(
            export_id, timeout_s=timeout_s, poll_interval_s=poll_interval_s, on_status=display
        )
    if as_json:
        print_json(_stdout(), export_json(export))
    else:
        print_export(_stdout(), export)


@cli.command()
@click.argument("export_id")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--cdn", is_flag=True, help="Download from the CDN link instead of blob storage.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, MAX_CONCURRENCY),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Files downloaded at the same time.",
)
@click.option("--fsync", is_flag=True, help="Make every file durable before it is renamed into place (slower).")
@_progress_option
@_json_option
@click.pass_obj
def download(
    settings: Settings,
    export_id: str,
    dest: Path,
    cdn: bool,
    concurrency: int,
    fsync: bool,
    progress: bool | None,
    as_json: bool,
) -> None:
    """Download a Complete export's 3D Tiles into DEST, resuming what an earlier run left.

    The link is refreshed through the API when it expires. The download ends with a
    completeness check and DEST/itwin-mesh-export.manifest.json (path, size, SHA-256 of each
    file). Interrupted or failed? Run the same command again: finished files are skipped,
    partial ones continued.
    """
    console, bar = _stderr(progress)
    started = time.monotonic()
    try:
        with settings.client() as client, DownloadDisplay(console, bar=bar, quiet=settings.quiet) as display:
            result = client.download_export(
                export_id, dest, cdn=cdn, concurrency=concurrency, on_progress=display, fsync=fsync
            )
    except KeyboardInterrupt:
        message = "interrupted: the files on disk are kept, run the same command to resume"
        raise CLIError(EXIT_INTERRUPTED, message) from None
    elapsed_s = time.monotonic() - started
    if as_json:
        print_json(_stdout(), download_json(export_id, result, elapsed_s))
        return
    out = _stdout()
    out.file.write(
        f"downloaded export {export_id}: {len(result.files)} files, {result.bytes_total} bytes into {result.dest} "
        f"({result.files_downloaded} fetched, {result.files_skipped} already on disk, "
        f"{result.link_refreshes} link refreshes, {elapsed_s:.1f} s)\n"
    )
    out.file.write(f"manifest: {result.manifest_path}\n")


@cli.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@_json_option
def verify(dest: Path, as_json: bool) -> None:
    """Check a finished download against its manifest (presence, size, SHA-256 of every file)."""
    from ..download import verify_download

    entries = verify_download(dest)
    size = sum(e.size for e in entries)
    if as_json:
        print_json(_stdout(), verify_json(str(dest.resolve()), len(entries), size))
    else:
        _stdout().file.write(f"verified {len(entries)} files, {size} bytes in {dest}\n")


@cli.command()
@click.argument("export_id")
@_json_option
@click.pass_obj
def delete(settings: Settings, export_id: str, as_json: bool) -> None:
    """Delete a Complete or Invalid export."""
    with settings.client() as client:
        client.delete_export(export_id)
    if as_json:
        print_json(_stdout(), delete_json(export_id))
    else:
        _stdout().file.write(f"deleted export {export_id}\n")


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def serve(args: tuple[str, ...]) -> None:
    """Run the local Mesh Export service on 127.0.0.1 (needs the 'server' extra).

    Prints its API base URL, token endpoint and credentials (--json: one JSON object), serves
    until Ctrl-C. `serve --help` lists its options (--port 8080, durations, faults...).
    """
    try:
        from ..testing._command import main as serve_main
    except ImportError as exc:
        raise CLIError(EXIT_SERVE, str(exc)) from exc
    if serve_main(list(args), prog=f"{PROG} serve") != 0:  # the service could not start (the line is out)
        raise click.exceptions.Exit(EXIT_SERVE)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: run the command, return its exit code. Usage errors are one line too."""
    try:
        result = cli.main(args=list(argv) if argv is not None else None, prog_name=PROG, standalone_mode=False)
        sys.stdout.flush()  # here, not at exit: a reader that left is then a quiet exit, not a warning
    except BrokenPipeError:
        _stdout_closed()
        return EXIT_BROKEN_PIPE
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else PROG
        click.echo(f"error: {exc.format_message()} (see '{where} --help')", err=True)
        return EXIT_USAGE
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code
    except click.Abort:
        click.echo("error: interrupted", err=True)
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # `serve`'s own argument parser (argparse) exits this way
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    return result if isinstance(result, int) else 0
