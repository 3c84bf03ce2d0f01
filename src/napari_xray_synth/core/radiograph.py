"""The one type that crosses every boundary: :class:`Radiograph`, its windows and provenance."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from napari_xray_synth import __version__
from napari_xray_synth.core.errors import InputError

WindowFunction = Literal["LINEAR", "LINEAR_EXACT", "SIGMOID", "LUT"]

#: Pixel size (mm) assumed for an image that carries none: a typical CR/DX detector pitch.
#: Synthesis sizes lesions with it and napari shows such a film at it; it is recorded as an
#: assumption where it is used, never written as the image's spacing.
ASSUMED_SPACING_MM = 0.35


@dataclass(frozen=True)
class Window:
    """A display window (VOI) in image units: the [0, 1] scale of ``Radiograph.image``.

    Parameters
    ----------
    center, width : float
        For LINEAR and LINEAR_EXACT, the ramp runs from ``center - width / 2`` (black) to
        ``center + width / 2`` (white); for SIGMOID they are the DICOM sigmoid's centre and width.
    name : str
        Shown in the preset list ("WINDOW1", "lung", ...).
    function : str
        "LINEAR", "LINEAR_EXACT", "SIGMOID" or "LUT" (a VOI LUT table in ``lut``).
    lut : tuple of (x, y) arrays, optional
        For "LUT": input values in image units and outputs in [0, 1].
    """

    center: float
    width: float
    name: str = ""
    function: WindowFunction = "LINEAR"
    lut: tuple[np.ndarray, np.ndarray] | None = field(default=None, compare=False, repr=False)

    @property
    def limits(self) -> tuple[float, float]:
        """The (low, high) contrast limits that best show this window in napari."""
        if self.function == "LUT" and self.lut is not None:
            x, y = self.lut
            # the input range over which the table actually changes
            moving = np.flatnonzero(np.diff(y) != 0)
            if moving.size:
                return float(x[moving[0]]), float(x[moving[-1] + 1])
            return float(x[0]), float(x[-1])
        half = self.width / 2.0
        return float(self.center - half), float(self.center + half)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Apply the window: image units in, display values in [0, 1] out (float32)."""
        img = np.asarray(image, dtype=np.float64)
        if self.function == "LUT":
            if self.lut is None:
                raise InputError("a LUT window needs its table")
            x, y = self.lut
            out = np.interp(img, x, y)
        elif self.function == "SIGMOID":
            out = 1.0 / (1.0 + np.exp(-4.0 * (img - self.center) / max(self.width, 1e-12)))
        else:
            lo, hi = self.limits
            out = np.clip((img - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
        return out.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (the LUT table is left out, its presence is said)."""
        d: dict[str, Any] = {
            "name": self.name,
            "center": self.center,
            "width": self.width,
            "function": self.function,
            "limits": list(self.limits),
        }
        if self.lut is not None:
            d["lut_entries"] = len(self.lut[0])
        return d


FULL_RANGE = Window(0.5, 1.0, "full range", "LINEAR_EXACT")


#: The latest time SOURCE_DATE_EPOCH may name: 9999-12-31T23:59:59Z, the last a datetime holds.
MAX_SOURCE_DATE_EPOCH = 253_402_300_799


def source_date_epoch() -> int | None:
    """The ``SOURCE_DATE_EPOCH`` environment variable in seconds; None when it is not set.

    The reproducible-builds convention: the time that provenance records, so that runs with the
    same seed write byte-identical files. numpy's f2py (loaded when scipy is) reads it too, with
    ``int()``, and raises at import for anything else, so the CLI checks it first with this.

    Raises
    ------
    InputError
        Set but not a whole number of seconds from 0 to :data:`MAX_SOURCE_DATE_EPOCH` (an empty
        value, a sign, a fraction or letters).
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None:
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_SOURCE_DATE_EPOCH:
        raise InputError(
            "SOURCE_DATE_EPOCH must be a whole number of seconds since 1970-01-01 UTC, 0 to "
            f"{MAX_SOURCE_DATE_EPOCH}, not {raw!r} (unset it to record the current time)"
        )
    return int(text)


def _now() -> str:
    epoch = source_date_epoch()
    when = (
        _dt.datetime.now(_dt.timezone.utc)
        if epoch is None
        else _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc)
    )
    return when.isoformat(timespec="seconds")


@dataclass(frozen=True)
class Provenance:
    """One step in the history of an image.

    Parameters
    ----------
    operation : str
        What was done: "read", "denoise", "synthesize", ...
    parameters : Mapping
        Every parameter that changes the result (JSON-able values).
    model_id, model_sha256 : str, optional
        The shipped model used, and the sha256 of its weights.
    seed : int, optional
        The seed of a random step.
    source : str, optional
        The file the step read, where it read one.
    """

    operation: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    model_id: str | None = None
    model_sha256: str | None = None
    seed: int | None = None
    source: str | None = None
    version: str = __version__
    time: str = field(default_factory=_now)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dictionary of this step."""
        return {
            "operation": self.operation,
            "parameters": dict(self.parameters),
            "model_id": self.model_id,
            "model_sha256": self.model_sha256,
            "seed": self.seed,
            "source": self.source,
            "version": self.version,
            "time": self.time,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Provenance:
        """Rebuild a step from :meth:`to_dict` output."""
        keys = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in keys})


@dataclass(frozen=True)
class Radiograph:
    """A radiograph: float32 image in [0, 1], MONOCHROME2 polarity (bright = more attenuation).

    Parameters
    ----------
    image : ndarray
        2-D float32 in [0, 1]. For DICOM this is the Modality LUT output mapped linearly from
        the range of possible stored values to [0, 1] (MONOCHROME1 inverted), with no window
        applied: the windows say how to show it.
    spacing : (float, float) or None
        Pixel spacing (row, column) in mm; None when unknown.
    spacing_source : str
        Where the spacing came from ("PixelSpacing", "ImagerPixelSpacing", "user", "simulator")
        or why it is unknown.
    windows : tuple of Window
        Display presets; the first is the default. Empty means the full range.
    header : Mapping
        De-identified header summary (never a patient name, ID or birth date).
    provenance : tuple of Provenance
        The history of the image, oldest first.
    synthetic : bool
        True for images made by the simulator or the generator.
    """

    image: np.ndarray
    spacing: tuple[float, float] | None = None
    spacing_source: str = "unknown"
    windows: tuple[Window, ...] = ()
    header: Mapping[str, Any] = field(default_factory=dict)
    provenance: tuple[Provenance, ...] = ()
    synthetic: bool = False

    def __post_init__(self) -> None:
        img = np.asarray(self.image)
        if img.ndim != 2:
            raise InputError(f"a radiograph is one 2-D image, got an array of shape {img.shape}")
        if img.dtype != np.float32:
            img = img.astype(np.float32)
        object.__setattr__(self, "image", img)
        if self.spacing is not None:
            sp = tuple(float(s) for s in self.spacing)
            if len(sp) != 2 or not all(np.isfinite(s) and s > 0 for s in sp):
                sp = None
            object.__setattr__(self, "spacing", sp)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return self.image.shape  # type: ignore[return-value]

    @property
    def default_window(self) -> Window:
        """The first window, or the full range when there is none."""
        return self.windows[0] if self.windows else FULL_RANGE

    @property
    def source(self) -> str | None:
        """The file the image was first read from, if any."""
        for step in self.provenance:
            if step.source:
                return step.source
        return None

    def display(self, window: Window | None = None) -> np.ndarray:
        """The image with ``window`` (default: the first) applied, float32 in [0, 1]."""
        return (window or self.default_window).apply(self.image)

    def derive(
        self,
        image: np.ndarray,
        step: Provenance,
        *,
        synthetic: bool | None = None,
        windows: tuple[Window, ...] | None = None,
    ) -> Radiograph:
        """A new radiograph from this one: new pixels, the same spacing, one more provenance step.

        Parameters
        ----------
        image : ndarray
            The new pixels, same shape convention.
        step : Provenance
            What made them.
        synthetic : bool, optional
            Defaults to this radiograph's flag.
        windows : tuple of Window, optional
            Defaults to this radiograph's windows.
        """
        return dataclasses.replace(
            self,
            image=np.asarray(image, dtype=np.float32),
            provenance=(*self.provenance, step),
            synthetic=self.synthetic if synthetic is None else synthetic,
            windows=self.windows if windows is None else windows,
        )

    def with_spacing(self, spacing: tuple[float, float] | None, source: str) -> Radiograph:
        """The same radiograph with another pixel spacing (and where it came from)."""
        return dataclasses.replace(self, spacing=spacing, spacing_source=source)

    def metadata(self) -> dict[str, Any]:
        """JSON-able metadata for napari layers and manifests (no identifiers)."""
        return {
            "header": dict(self.header),
            "spacing_mm": list(self.spacing) if self.spacing else None,
            "spacing_source": self.spacing_source,
            "windows": [w.to_dict() for w in self.windows],
            "provenance": [p.to_dict() for p in self.provenance],
            "synthetic": self.synthetic,
        }
