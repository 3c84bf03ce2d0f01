"""Generic display presets in image units ([0, 1], MONOCHROME2: bright = more attenuation).

They are linear windows chosen for radiographs that use most of their stored range (typical
CR/DX chest images, the simulator's output). Measured on the 20 NIH chest PNGs of
``shared/data/cxr`` (central thorax region), the 5th/50th/95th percentiles average
0.18 / 0.49 / 0.80:

- lung 0.05–0.65: spreads the dark, aerated lung fields over most of the grey scale; the
  mediastinum and bone go white.
- soft tissue 0.30–0.90: mid to bright values: heart, mediastinum, diaphragm, abdomen.
- bone 0.50–1.00: the bright end only: ribs, spine, clavicles, with the lungs black.
- full range 0–1: everything the file can hold, as stored.

A file's own windows (DICOM VOI) come first wherever presets are listed; these are the fallback.
"""

from __future__ import annotations

from napari_xray_synth.core.radiograph import FULL_RANGE, Window

LUNG = Window(0.35, 0.60, "lung")
SOFT_TISSUE = Window(0.60, 0.60, "soft tissue")
BONE = Window(0.75, 0.50, "bone")

GENERIC_WINDOWS: tuple[Window, ...] = (FULL_RANGE, LUNG, SOFT_TISSUE, BONE)


def generic_window(name: str) -> Window | None:
    """The generic preset of that name ("full range", "lung", "soft tissue", "bone"), or None."""
    key = name.strip().lower().replace("_", " ").replace("-", " ")
    if key == "full":
        key = "full range"
    return next((w for w in GENERIC_WINDOWS if w.name == key), None)
