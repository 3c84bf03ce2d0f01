"""A rich progress bar shaped as the core's ``progress(done, total)`` callback."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from napari_xray_synth.core.progress import ProgressFn


@contextlib.contextmanager
def progress_bar(description: str, quiet: bool = False) -> Iterator[ProgressFn]:
    """Yield a ``progress(done, total)`` callback drawing a bar on stderr (nothing when quiet)."""
    if quiet or not sys.stderr.isatty():
        yield lambda done, total: None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
