"""Valid ranges of numeric parameters, shared by the core checks, the CLI and the widgets.

Each range is defined once, next to the method it belongs to (``core.denoise.STRENGTH_RANGES``,
the constants of ``core.enhance``); the core refuses a value outside it with one line naming
the parameter (or the CLI option), the value and the range, and the widgets set their boxes
from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from napari_xray_synth.core.errors import InputError


@dataclass(frozen=True)
class ParamRange:
    """The valid values of one numeric parameter.

    Parameters
    ----------
    lo, hi : float
        Smallest and largest valid value (both included).
    default : float
        A typical value (what a widget shows first).
    meaning : str
        What the number is, for messages, tooltips and docs.
    integer : bool
        The value is used rounded to a whole number.
    """

    lo: float
    hi: float
    default: float
    meaning: str
    integer: bool = False

    def text(self) -> str:
        """The range as written in messages: ``"0 to 10"``."""
        return f"{self.lo:g} to {self.hi:g}"

    def __contains__(self, value: object) -> bool:
        try:
            v = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        return math.isfinite(v) and self.lo <= v <= self.hi

    def check(self, value: float, name: str, context: str = "") -> float:
        """``value`` as a float, or an :class:`InputError` naming ``name``, it and the range.

        Parameters
        ----------
        value : float
            The value given.
        name : str
            The parameter or option as the user wrote it (``"strength"``, ``"--clahe"``).
        context : str
            Said after "out of range", e.g. ``" for median"``.
        """
        try:
            v = float(value)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{name} must be a number, not {value!r}") from exc
        if v not in self:
            raise InputError(
                f"{name} {v:g} is out of range{context}: allowed {self.text()} ({self.meaning})"
            )
        return v
