"""Run core work off the Qt thread with napari progress, a cancel event and notifications.

Set ``XRAY_SYNTH_SYNC=1`` to run everything synchronously in the calling thread (deterministic
tests), as stardist-napari does.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from napari.qt.threading import thread_worker
from napari.utils import cancelable_progress
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QObject, Signal

from napari_xray_synth.core.errors import XraySynthError
from napari_xray_synth.core.progress import Cancelled

log = logging.getLogger(__name__)

SYNC_ENV = "XRAY_SYNTH_SYNC"


def run_synchronously() -> bool:
    """True when ``XRAY_SYNTH_SYNC`` asks for work in the calling thread."""
    return os.environ.get(SYNC_ENV, "").lower() in ("1", "true", "yes")


def notify_error(exc: BaseException, what: str = "") -> None:
    """Show one napari notification for an error: the message for user errors, else the type too."""
    if isinstance(exc, Cancelled):
        show_info(f"{what} cancelled" if what else "cancelled")
    elif isinstance(exc, XraySynthError):
        show_error(str(exc))
    else:
        log.exception("unexpected error in %s", what or "a task", exc_info=exc)
        show_error(f"{what + ': ' if what else ''}{type(exc).__name__}: {exc}")


def notify_warning(message: str) -> None:
    """Show a napari warning notification."""
    show_warning(message)


class _Relay(QObject):
    progressed = Signal(int, int)


class TaskRunner:
    """Runs one core function at a time in a napari thread worker.

    The core function is called as ``func(*args, progress=..., cancel=..., **kwargs)``; its
    progress drives a napari cancelable progress bar, and :meth:`cancel` (or the bar's own cancel
    button) sets the cancel event. ``on_result`` runs in the Qt thread with the return value;
    errors become notifications and nothing else happens.
    """

    def __init__(self) -> None:
        self._relay = _Relay()
        self._relay.progressed.connect(self._on_progress)
        self._bar: Any = None
        self._cancel = threading.Event()
        self.worker: Any = None

    @property
    def busy(self) -> bool:
        """True while a task runs."""
        return self.worker is not None

    def cancel(self) -> None:
        """Ask the running task to stop."""
        self._cancel.set()

    def _on_progress(self, done: int, total: int) -> None:
        if self._bar is None:
            return
        if self._bar.total != total:
            self._bar.total = total
        step = done - self._bar.n
        if step > 0:
            self._bar.update(step)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def start(
        self,
        func: Callable[..., Any],
        *args: Any,
        on_result: Callable[[Any], None],
        desc: str,
        on_finish: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Start ``func`` in a worker (or run it now in synchronous mode).

        Returns
        -------
        The napari worker, or None in synchronous mode or when a task is already running.
        """
        if self.busy:
            show_warning("a task is already running: wait for it or cancel it")
            return None
        self._cancel = threading.Event()
        cancel = self._cancel

        def progress(done: int, total: int) -> None:
            self._relay.progressed.emit(int(done), int(total))

        def finish() -> None:
            self._close_bar()
            self.worker = None
            if on_finish is not None:
                on_finish()

        if run_synchronously():
            try:
                result = func(*args, progress=lambda d, t: None, cancel=cancel, **kwargs)
            except Exception as exc:
                notify_error(exc, desc)
            else:
                on_result(result)
            finally:
                finish()
            return None

        self._bar = cancelable_progress(total=0, desc=desc, cancel_callback=cancel.set)

        @thread_worker(ignore_errors=True)  # errors are shown once, by notify_error
        def _work() -> Any:
            return func(*args, progress=progress, cancel=cancel, **kwargs)

        worker = _work()
        worker.returned.connect(on_result)
        worker.errored.connect(lambda exc: notify_error(exc, desc))
        worker.finished.connect(finish)
        self.worker = worker
        worker.start()
        return worker
