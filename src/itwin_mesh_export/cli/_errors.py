"""Exit codes, and the one line a failure prints instead of a traceback.

Each expected failure has its own exit code, so scripts can tell "not found" from "not ready yet"
from "rate limited" without reading stderr. The table is the contract (README, "Command-line
tool", and `itwin-mesh-export --help`); tests pin every row.
"""

from __future__ import annotations

from collections.abc import Iterable

from .._exceptions import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    DownloadError,
    ExportFailedError,
    ExportNotCompleteError,
    InvalidArgumentError,
    MeshExportError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StorageError,
    WaitTimeoutError,
)
from .._redact import REDACTED, redact_text

__all__ = [
    "EXIT_API",
    "EXIT_AUTH",
    "EXIT_BROKEN_PIPE",
    "EXIT_CODES",
    "EXIT_CONNECTION",
    "EXIT_DOWNLOAD",
    "EXIT_EXPORT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_COMPLETE",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_RATE_LIMITED",
    "EXIT_SERVE",
    "EXIT_UNEXPECTED",
    "EXIT_USAGE",
    "EXIT_WAIT_TIMEOUT",
    "CLIError",
    "failure",
    "redact",
    "scrub",
]

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_AUTH = 4
EXIT_RATE_LIMITED = 5
EXIT_EXPORT_FAILED = 6
EXIT_WAIT_TIMEOUT = 7
EXIT_NOT_COMPLETE = 8
EXIT_DOWNLOAD = 9
EXIT_CONNECTION = 10
EXIT_API = 11
EXIT_SERVE = 12
EXIT_INTERRUPTED = 130
# stdout's reader went away (`list --json | head`): 128 + SIGPIPE (13), what a shell reports for a
# program that SIGPIPE ended, as 130 is 128 + SIGINT. Nothing is printed.
EXIT_BROKEN_PIPE = 141
# The commands whose own files an OSError is about (the download's, the manifest's): exit 9.
FILE_COMMANDS = frozenset({"download", "verify"})

# code -> meaning, in the order the help and the README show them.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_UNEXPECTED: "unexpected error (a bug: --debug shows the traceback)",
    EXIT_USAGE: "bad arguments or options, or no credentials",
    EXIT_NOT_FOUND: "not found (404): no such export, or no such iModel",
    EXIT_AUTH: "authentication failed or permission denied (401, 403)",
    EXIT_RATE_LIMITED: "rate limited (429) past the retry budget",
    EXIT_EXPORT_FAILED: "the export ended Invalid",
    EXIT_WAIT_TIMEOUT: "the export did not finish before --timeout",
    EXIT_NOT_COMPLETE: "the export is not Complete yet: nothing to download",
    EXIT_DOWNLOAD: "download or verification failed (files on disk are kept: rerun to resume)",
    EXIT_CONNECTION: "could not reach the API (connection refused, DNS, TLS, timeout)",
    EXIT_API: "any other API error (400, 409, 422, 5xx after retries, a malformed response)",
    EXIT_SERVE: "serve: the local service could not start (port in use, 'server' extra missing)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    EXIT_BROKEN_PIPE: "stdout closed before all output was written (`list --json` piped into `head`)",
}


class CLIError(Exception):
    """A failure the command reports itself: one line, one exit code."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Every URL redacted and every known secret hidden (defence in depth: the package's own
    messages are redacted already, but an unexpected error's, or a traceback, may not be)."""
    text = redact_text(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`redact`, on one line."""
    return " ".join(redact(text, secrets).split())


def failure(exc: BaseException, command: str | None = None) -> tuple[int, str]:
    """The exit code and the message (without the `error: ` prefix) for an exception raised by
    the subcommand `command`."""
    if isinstance(exc, CLIError):
        return exc.exit_code, exc.message
    if isinstance(exc, ExportNotCompleteError):
        hint = "" if exc.status == "Complete" else f" (run `itwin-mesh-export wait {exc.export_id}` first)"
        return EXIT_NOT_COMPLETE, f"{exc}{hint}"
    if isinstance(exc, StorageError):
        return EXIT_DOWNLOAD, f"{exc} (the files on disk are kept: run the same command again to resume)"
    if isinstance(exc, DownloadError):
        return EXIT_DOWNLOAD, str(exc)
    if isinstance(exc, ExportFailedError):
        return EXIT_EXPORT_FAILED, str(exc)
    if isinstance(exc, WaitTimeoutError):
        return EXIT_WAIT_TIMEOUT, str(exc)
    if isinstance(exc, NotFoundError):
        return EXIT_NOT_FOUND, f"not found: {exc}"
    if isinstance(exc, AuthenticationError):
        return EXIT_AUTH, f"authentication failed: {exc} (check the token or the client id and secret)"
    if isinstance(exc, PermissionDeniedError):
        return EXIT_AUTH, f"permission denied: {exc}"
    if isinstance(exc, RateLimitError):
        after = f" (the server asks to retry after {exc.retry_after_s:.0f} s)" if exc.retry_after_s else ""
        return EXIT_RATE_LIMITED, f"rate limited: {exc}{after}"
    if isinstance(exc, APIConnectionError):
        return EXIT_CONNECTION, f"connection failed: {exc}"
    if isinstance(exc, APIError):
        return EXIT_API, str(exc)
    if isinstance(exc, InvalidArgumentError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, MeshExportError):
        return EXIT_UNEXPECTED, str(exc)
    if isinstance(exc, OSError) and command in FILE_COMMANDS:
        return EXIT_DOWNLOAD, f"cannot read or write files: {exc}"
    return EXIT_UNEXPECTED, f"unexpected {type(exc).__name__}: {exc} (a bug; --debug shows the traceback)"
