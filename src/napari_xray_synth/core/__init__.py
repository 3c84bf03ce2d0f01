"""Headless model core: no Qt, napari or magicgui imports anywhere below this package."""

from napari_xray_synth.core.errors import InputError, ModelError, XraySynthError
from napari_xray_synth.core.progress import Cancelled
from napari_xray_synth.core.radiograph import Provenance, Radiograph, Window

__all__ = [
    "Cancelled",
    "InputError",
    "ModelError",
    "Provenance",
    "Radiograph",
    "Window",
    "XraySynthError",
]
