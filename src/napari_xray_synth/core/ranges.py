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
        Only whole numbers are valid.
    identity : float, optional
        The value that leaves the image as it is (a gamma of 1): a step given only that value is
        no step, and a run with nothing else to do is refused.
    lo_open : bool
        ``lo`` itself is not valid (it is the identity, and the parameter is the whole step).
    """

    lo: float
    hi: float
    default: float
    meaning: str
    integer: bool = False
    identity: float | None = None
    lo_open: bool = False

    def text(self) -> str:
        """The range as written in messages: ``"0 to 10"``, ``"more than 0 up to 20"``."""
        if self.lo_open:
            return f"more than {self.lo:g} up to {self.hi:g}"
        return f"{self.lo:g} to {self.hi:g}" + (" (whole numbers)" if self.integer else "")

    def __contains__(self, value: object) -> bool:
        try:
            v = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        above = self.lo < v if self.lo_open else self.lo <= v
        whole = v == round(v) if self.integer and math.isfinite(v) else True
        return math.isfinite(v) and above and v <= self.hi and whole

    def is_identity(self, value: float) -> bool:
        """Whether ``value`` leaves the image as it is (see ``identity``)."""
        return self.identity is not None and float(value) == self.identity

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
            why = "is out of range"
            if self.lo_open and v == self.lo:
                why = "would leave the image unchanged"
            elif self.integer and self.lo <= v <= self.hi:
                why = "is not a whole number"
            raise InputError(f"{name} {v:g} {why}{context}: allowed {self.text()} ({self.meaning})")
        return v
