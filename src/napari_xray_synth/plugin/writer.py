"""napari writers: an image layer to .tif/.png/.dcm, a labels layer to .png/.tif.

Images go through :func:`radiograph_from_layer`, so spacing, windows and provenance come along;
DICOM is written de-identified (the File > Save menu has no place for a choice: the Export dock
widget has the switch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari.layers import Layer

from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.export import write_dicom, write_image_file, write_mask_file
from napari_xray_synth.plugin.layers import layer_spacing, radiograph_from_layer

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".dcm")
LABEL_SUFFIXES = (".png", ".tif", ".tiff")


def _suffix(path: str, allowed: tuple[str, ...], what: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise InputError(f"a {what} layer is saved as {', '.join(allowed)}, not {suffix!r}", path)
    return suffix


def write_image_layer(path: str, data: Any, meta: dict) -> list[str]:
    """npe2 single-layer writer for image layers."""
    suffix = _suffix(path, IMAGE_SUFFIXES, "image")
    layer = Layer.create(data, dict(meta), "image")
    rg = radiograph_from_layer(layer)
    if suffix == ".dcm":
        write_dicom(rg, path, deidentify=True)
    else:
        write_image_file(rg, path)
    return [path]


def write_labels_layer(path: str, data: Any, meta: dict) -> list[str]:
    """npe2 single-layer writer for labels layers (uint8 label masks)."""
    _suffix(path, LABEL_SUFFIXES, "labels")
    # the metadata's spacing first: a mask on a film of unknown size has the assumed scale
    spacing, _ = layer_spacing(Layer.create(data, dict(meta), "labels"))
    write_mask_file(data, path, spacing=spacing)
    return [path]
