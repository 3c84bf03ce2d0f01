"""DICOM grey-scale pipeline in image units: Modality LUT range, and VOI windows as presets.

``Radiograph.image`` holds the Modality LUT output ``v`` mapped linearly from the range of values
the Modality LUT can output to [0, 1] (MONOCHROME1 inverted)::

    u = (v - lo) / (hi - lo)          MONOCHROME2
    u = (hi - v) / (hi - lo)          MONOCHROME1

Every VOI window of the file becomes a :class:`Window` in those units such that
``window.apply(u)`` equals pydicom's ``apply_voi_lut`` output scaled to [0, 1] (and inverted for
MONOCHROME1). The LUT arithmetic itself is pydicom's (``apply_modality_lut``, ``apply_voi``);
this module only changes units.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi

from napari_xray_synth.core.radiograph import Window


def stored_range(ds: Dataset) -> tuple[int, int]:
    """The range of stored pixel values that Bits Stored and Pixel Representation allow."""
    bits = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 16)
    if int(ds.get("PixelRepresentation", 0) or 0) == 1:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def _lut_inputs(descriptor: Any) -> np.ndarray:
    n = int(descriptor[0]) or 2**16
    first = int(descriptor[1])
    return np.arange(first, first + n, dtype=np.int64)


def modality_kind(ds: Dataset) -> str:
    """ "LUT sequence", "rescale" or "none": which Modality LUT pydicom applies."""
    if ds.get("ModalityLUTSequence"):
        return "LUT sequence"
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        return "rescale"
    return "none"


def modality_range(ds: Dataset) -> tuple[float, float]:
    """The range of values the Modality LUT can output, through pydicom's ``apply_modality_lut``.

    Rescale (or none): the stored range through the rescale. LUT sequence: the smallest and largest
    table entry (inputs outside the table take its first or last entry, so these are exactly the
    possible outputs).
    """
    if ds.get("ModalityLUTSequence"):
        inputs = _lut_inputs(ds.ModalityLUTSequence[0].LUTDescriptor)
        out = np.asarray(apply_modality_lut(inputs, ds), dtype=np.float64)
    else:
        out = np.asarray(apply_modality_lut(np.array(stored_range(ds)), ds), dtype=np.float64)
    lo, hi = float(out.min()), float(out.max())
    if not hi > lo:  # a constant LUT: keep the mapping defined
        hi = lo + 1.0
    return lo, hi


@dataclass(frozen=True)
class UnitMap:
    """Modality LUT output ``v`` → image units ``u`` in [0, 1] (see the module docstring)."""

    lo: float
    hi: float
    invert: bool

    @property
    def slope(self) -> float:
        """du/dv (negative for MONOCHROME1)."""
        return (-1.0 if self.invert else 1.0) / (self.hi - self.lo)

    def to_image(self, v: np.ndarray) -> np.ndarray:
        """Image units, float32, unclipped.

        Pixels and LUT inputs go through exactly this arithmetic (float32, which is exact for
        integer values below 2**24), so a pixel equal to a table input lands on it bit for bit.
        """
        u = np.array(v, dtype=np.float32)  # a copy: the subtraction below is in place
        if self.invert:
            np.subtract(np.float32(self.hi), u, out=u)
        else:
            np.subtract(u, np.float32(self.lo), out=u)
        np.divide(u, np.float32(self.hi - self.lo), out=u)
        return u

    def scalar(self, v: float) -> float:
        """One value in image units, float64 (window limits)."""
        u = (self.hi - v) if self.invert else (v - self.lo)
        return float(u / (self.hi - self.lo))


def _multi(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


def dicom_windows(ds: Dataset) -> list[dict[str, Any]]:
    """The file's VOI windows as DICOM states them (centre/width in Modality LUT output units)."""
    centers = _multi(ds.get("WindowCenter"))
    widths = _multi(ds.get("WindowWidth"))
    names = _multi(ds.get("WindowCenterWidthExplanation"))
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    out = []
    for i, (c, w) in enumerate(zip(centers, widths, strict=False)):
        name = str(names[i]).strip()[:64] if i < len(names) and names[i] else f"WINDOW{i + 1}"
        out.append({"name": name, "center": float(c), "width": float(w), "function": function})
    return out


def _linear_window(w: dict[str, Any], umap: UnitMap) -> Window | None:
    c, width, function = w["center"], w["width"], w["function"]
    if function == "LINEAR":
        # PS3.3 C.11.2.1.2.1: the ramp runs over (c - 0.5) +- (width - 1) / 2
        if width < 1:
            return None
        v_lo, v_hi = c - 0.5 - (width - 1) / 2, c - 0.5 + (width - 1) / 2
    else:
        if width <= 0:
            return None
        v_lo, v_hi = c - width / 2, c + width / 2
    # limits in the float32 arithmetic of the image, so that a sample on a limit lands on it
    a, b = sorted(float(u) for u in umap.to_image(np.array([v_lo, v_hi])))
    if a == b and umap.invert:
        # a zero-width LINEAR window is a threshold, "v <= limit" is black: once inverted, the
        # sample on the limit must come out white, so the limit moves just below it
        a = b = float(np.nextafter(np.float32(a), np.float32(-np.inf)))
    return Window((a + b) / 2, b - a, w["name"], function)  # type: ignore[arg-type]


def _sigmoid_window(w: dict[str, Any], umap: UnitMap) -> Window | None:
    if w["width"] <= 0:
        return None
    # 1 - sigmoid(x) = sigmoid(-x): MONOCHROME1 needs no special case beyond |du/dv|
    return Window(umap.scalar(w["center"]), abs(umap.slope) * w["width"], w["name"], "SIGMOID")


def _voi_table(ds: Dataset, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, outputs) of a VOI LUT Sequence item, through pydicom's ``apply_voi``."""
    item = ds.VOILUTSequence[index]
    descriptor = [int(v) for v in item.LUTDescriptor]
    inputs = _lut_inputs(descriptor)
    if descriptor[2] == 8 and len(inputs) > 256:
        # pydicom 3.0 indexes an 8-bit table with uint8 indices, which wrap past 256 entries;
        # read the same table as 16-bit (its values are unchanged) to index it correctly
        fixed = copy.deepcopy(item)
        fixed.LUTDescriptor = [descriptor[0], descriptor[1], 16]
        probe = Dataset()
        probe.file_meta = ds.file_meta
        probe.VOILUTSequence = [fixed]
        return inputs, np.asarray(apply_voi(inputs, probe, index=0), dtype=np.float64)
    return inputs, np.asarray(apply_voi(inputs, ds, index=index), dtype=np.float64)


def _lut_window(ds: Dataset, index: int, umap: UnitMap) -> Window:
    item = ds.VOILUTSequence[index]
    descriptor = item.LUTDescriptor
    inputs, y = _voi_table(ds, index)
    y /= float(2 ** int(descriptor[2]) - 1)
    x = umap.to_image(inputs).astype(np.float64)
    if umap.invert:
        x, y = x[::-1].copy(), 1.0 - y[::-1]
    name = str(item.get("LUTExplanation", "") or "").strip()[:64] or f"VOI LUT {index + 1}"
    probe = Window(0.0, 0.0, name, "LUT", lut=(x, y))
    lo, hi = probe.limits
    return Window((lo + hi) / 2, hi - lo, name, "LUT", lut=(x, y))


def image_windows(ds: Dataset, umap: UnitMap) -> tuple[tuple[Window, ...], list[str]]:
    """Every VOI window of the file as a :class:`Window` in image units, default first.

    The VOI LUT Sequence items come first when present (pydicom's ``apply_voi_lut`` prefers the
    table), then the centre/width windows in file order.

    Returns
    -------
    windows, skipped
        The windows, and a note for each window the standard rules out (a width below 1 for
        LINEAR, not above 0 for the others), which is left out.
    """
    windows: list[Window] = []
    skipped: list[str] = []
    for i, item in enumerate(ds.get("VOILUTSequence") or []):
        if item.get("LUTDescriptor") is None or item.get("LUTData") is None:
            skipped.append(f"VOI LUT {i + 1}: no table")
            continue
        windows.append(_lut_window(ds, i, umap))
    for w in dicom_windows(ds):
        if w["function"] == "SIGMOID":
            win = _sigmoid_window(w, umap)
        elif w["function"] in ("LINEAR", "LINEAR_EXACT"):
            win = _linear_window(w, umap)
        else:
            skipped.append(f"{w['name']}: unknown VOI LUT Function {w['function']!r}")
            continue
        if win is None:
            skipped.append(f"{w['name']}: width {w['width']:g} is not allowed for {w['function']}")
        else:
            windows.append(win)
    return tuple(windows), skipped
