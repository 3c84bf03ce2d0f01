"""Errors a user can cause and fix: each carries one clear line for the CLI and the GUI."""

from __future__ import annotations

from pathlib import Path


class XraySynthError(Exception):
    """Base class for errors shown to a user as one line, without a traceback."""


class InputError(XraySynthError, ValueError):
    """Bad input: a file, layer or parameter that cannot be used.

    Parameters
    ----------
    reason : str
        Why the input cannot be used.
    source : str or Path, optional
        The file or layer the input came from; named first in the message.
    """

    def __init__(self, reason: str, source: str | Path | None = None) -> None:
        self.reason = reason
        self.source = None if source is None else str(source)
        super().__init__(f"{self.source}: {reason}" if self.source else reason)


class ModelError(XraySynthError, RuntimeError):
    """A model's weights are missing or do not match their card."""


class PlacementError(InputError):
    """A lesion that cannot go where it was put (e.g. outside the lung it must fill)."""
