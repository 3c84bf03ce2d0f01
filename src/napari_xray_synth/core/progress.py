"""The progress and cancel protocol shared by every long core function.

Long work takes ``progress`` (a callable ``(done, total)``) and ``cancel`` (anything with an
``is_set()`` method, such as :class:`threading.Event`). Core never prints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

ProgressFn = Callable[[int, int], None]


class CancelToken(Protocol):
    """Anything with ``is_set()``; :class:`threading.Event` is one."""

    def is_set(self) -> bool: ...


class Cancelled(Exception):
    """Raised inside core work when its cancel token is set."""


def no_progress(done: int, total: int) -> None:
    """Progress callback that ignores its arguments."""


def check_cancel(cancel: CancelToken | None) -> None:
    """Raise :class:`Cancelled` if ``cancel`` is set.

    Parameters
    ----------
    cancel : CancelToken or None
        The token to test; None never cancels.
    """
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")


def report(progress: ProgressFn | None, done: int, total: int) -> None:
    """Call ``progress(done, total)`` when a callback was given."""
    if progress is not None:
        progress(done, total)
