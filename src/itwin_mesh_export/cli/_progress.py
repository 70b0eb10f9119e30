"""Progress on stderr, with rich: a spinner with the export's status while `wait` polls, a bar
with bytes, speed and files while `download` runs.

A bar is drawn only on a terminal (or when forced with `--progress`); otherwise `wait` writes
one line per status change and `download` stays silent until its summary, so logs of scripted
runs hold no control codes. `--quiet` silences both.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from itwin_mesh_export_generated.models import Export

if TYPE_CHECKING:  # the download engine loads only when a download runs
    from ..download import DownloadProgress

__all__ = ["DownloadDisplay", "WaitDisplay"]


class WaitDisplay:
    """`on_status` for `wait_for_export`: a spinner (terminal) or a line per status change."""

    def __init__(self, console: Console, export_id: str, *, bar: bool, quiet: bool) -> None:
        self._console = console
        self._export_id = export_id
        self._quiet = quiet
        self._progress = (
            Progress(
                SpinnerColumn(),
                TextColumn("{task.description}", markup=False),  # the server's status, as it is
                TimeElapsedColumn(),
                console=console,
                transient=False,
            )
            if bar and not quiet
            else None
        )
        self._task: TaskID | None = None

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task(f"export {self._export_id}: waiting", total=None)
        return self

    def __call__(self, export: Export) -> None:
        text = f"export {self._export_id}: {export.status.value}"
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=text)
        elif not self._quiet:
            self._console.print(text, markup=False, highlight=False)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


class DownloadDisplay:
    """`on_progress` for a download: bytes done / total, speed, files done / total, time left.
    The downloader calls it from worker threads but one call at a time, under the lock that
    guards its counters (`DownloadPlan._emit`), so the snapshots arrive in order: no lock here."""

    def __init__(self, console: Console, *, bar: bool, quiet: bool) -> None:
        self._progress = (
            Progress(
                TextColumn("[bold]download[/]"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TextColumn("{task.fields[files]}", markup=False),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            if bar and not quiet
            else None
        )
        self._task: TaskID | None = None

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task("download", total=None, files="0 files")
        return self

    def __call__(self, progress: DownloadProgress) -> None:
        if self._progress is None or self._task is None:
            return
        more = "" if progress.totals_final else "+"
        self._progress.update(
            self._task,
            completed=progress.bytes_done,
            total=progress.bytes_total or None,
            files=f"{progress.files_done}/{progress.files_total}{more} files",
        )

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
