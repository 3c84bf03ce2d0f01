"""The one place where napari layer data and :class:`Radiograph` are converted into each other."""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_xray_synth.core.conditions import LABELS
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.export import PATHOLOGY_OF_LABEL
from napari_xray_synth.core.radiograph import ASSUMED_SPACING_MM, Provenance, Radiograph, Window

META_KEY = "xray_synth"
#: Metadata key of a layer shown at :data:`ASSUMED_SPACING_MM` because its film carries no
#: pixel size (its ``spacing_mm`` stays None: the assumption is never taken as the film's).
ASSUMED_KEY = "spacing_assumed_mm"

LayerDataTuple = tuple[Any, dict[str, Any], str]


def image_layer_tuple(rg: Radiograph, name: str, **extra: Any) -> LayerDataTuple:
    """A napari image layer tuple: scale from the spacing, contrast limits from the default window.

    Parameters
    ----------
    rg : Radiograph
        The image.
    name : str
        Layer name.
    **extra
        More layer keyword arguments (``blending``, ``visible``, ...).
    """
    lo, hi = rg.default_window.limits
    if not hi > lo:
        lo, hi = 0.0, 1.0
    meta = rg.metadata()
    if rg.spacing is None:
        # napari keeps one unit for all layers: one film in pixels beside films in mm makes it
        # drop the units of all and repeat "Inconsistent units across layers" on every layer
        # added after. A radiologist expects each film in mm, and a film of unknown pixel size
        # said to be so, once: it is shown at the size Synthesize assumes for it, marked as
        # assumed (the reader says it once, the Radiograph header always); its spacing stays
        # unknown for exports and measurements of record until the user sets it.
        meta[ASSUMED_KEY] = ASSUMED_SPACING_MM
    kwargs: dict[str, Any] = {
        "name": name,
        "scale": rg.spacing or (ASSUMED_SPACING_MM, ASSUMED_SPACING_MM),
        "units": "mm",
        "contrast_limits": (lo, hi),
        "colormap": "gray",
        "metadata": {META_KEY: meta},
    }
    kwargs.update(extra)
    return rg.image, kwargs, "image"


def layer_grid(layer: Any) -> dict[str, tuple]:
    """The ``scale``, ``translate`` and ``units`` of ``layer``: keyword arguments that put a
    layer made from it on the same grid (napari stops using units when layers disagree)."""
    return {
        "scale": tuple(layer.scale),
        "translate": tuple(layer.translate),
        "units": tuple(layer.units),
    }


def stack_layer_tuple(rgs: list[Radiograph], name: str, **extra: Any) -> LayerDataTuple:
    """One 3-D napari image layer for a stack (multi-frame DICOM, multi-page TIFF).

    The first image gives the spacing, windows and metadata; the stack axis has scale 1. All
    images must share one shape.
    """
    if not rgs:
        raise InputError("an empty stack has no layer", name)
    shapes = {rg.shape for rg in rgs}
    if len(shapes) != 1:
        raise InputError(f"its images differ in shape {sorted(shapes)}; one layer needs one", name)
    _first, kwargs, kind = image_layer_tuple(rgs[0], name, **extra)
    kwargs["scale"] = (1.0, *kwargs["scale"])
    units = kwargs.get("units", "pixel")
    kwargs["units"] = ("pixel", units, units)
    kwargs["metadata"][META_KEY]["frames"] = len(rgs)
    return np.stack([rg.image for rg in rgs]), kwargs, kind


def lesion_features() -> dict[str, list]:
    """Labels-layer features naming each label value's pathology (napari's status bar shows it)."""
    values = list(range(max(PATHOLOGY_OF_LABEL) + 1))
    return {"index": values, "pathology": [PATHOLOGY_OF_LABEL.get(v, "none") for v in values]}


def labels_layer_tuple(
    mask: np.ndarray,
    name: str,
    scale: tuple[float, ...] | None,
    metadata: dict[str, Any] | None = None,
) -> LayerDataTuple:
    """A napari labels layer tuple for a lesion mask (values from :data:`LABELS`); without a
    ``scale``, on the assumed grid of a film without a pixel size (as its image layer)."""
    kwargs: dict[str, Any] = {
        "name": name,
        "scale": scale or (ASSUMED_SPACING_MM,) * mask.ndim,
        "units": "mm",  # as the image layer of the same radiograph
        "opacity": 0.4,
        "features": lesion_features(),
        "metadata": {META_KEY: {"labels": dict(LABELS), **(metadata or {})}},
    }
    return mask.astype(np.uint8), kwargs, "labels"


def annotation_layer_tuple(image_layer: Any) -> LayerDataTuple:
    """An empty lesion mask to paint on ``image_layer`` (a 2-D image): same grid, paired with it.

    Raises
    ------
    InputError
        Naming the layer: not a 2-D image.
    """
    name = f"layer {image_layer.name!r}"
    if layer_kind(image_layer) != "image":
        raise InputError(f"is a {layer_kind(image_layer)} layer, not an image", name)
    shape = np.shape(image_layer.data)
    if len(shape) != 2 or getattr(image_layer, "rgb", False):
        raise InputError(f"is not one 2-D greyscale image (shape {shape})", name)
    data, kwargs, kind = labels_layer_tuple(
        np.zeros(shape, np.uint8),
        f"{image_layer.name} lesions",
        None,
        {"variants": [image_layer.name], "annotation": True, **grid_metadata(image_layer)},
    )
    kwargs.update(layer_grid(image_layer))  # on the image's grid, whatever its units
    return data, kwargs, kind


def layer_kind(layer: Any) -> str:
    """ "image", "labels", "points", ... of a napari layer, also through the proxy napari hands
    a plugin's widgets (whose ``type()`` is the proxy's; its ``__class__`` is the layer's)."""
    return layer.__class__.__name__.lower()


def layer_spacing(layer: Any) -> tuple[tuple[float, float] | None, str]:
    """A layer's pixel spacing in mm (rows, columns) and where it came from: its metadata (the
    file's, or one set in napari; None there means unknown, whatever the layer's scale, which
    may be :data:`ASSUMED_SPACING_MM`), else a scale other than 1 (a layer not made by this
    plugin), else ``(None, "unknown")``."""
    meta = dict(getattr(layer, "metadata", {}) or {}).get(META_KEY, {})
    if meta.get("spacing_mm"):
        row, col = (float(v) for v in meta["spacing_mm"])
        return (row, col), meta.get("spacing_source", "layer")
    if "spacing_mm" in meta:
        return None, meta.get("spacing_source") or "unknown"
    scale = tuple(float(s) for s in np.asarray(layer.scale)[-2:])
    if scale != (1.0, 1.0):
        return (scale[0], scale[1]), "layer scale"
    return None, "unknown"


def grid_metadata(layer: Any) -> dict[str, Any]:
    """The spacing entries for the metadata of a layer made on ``layer``'s grid (a mask, a
    compare map): its spacing and their source, and the mark of an assumed one."""
    spacing, source = layer_spacing(layer)
    meta: dict[str, Any] = {"spacing_mm": list(spacing) if spacing else None}
    meta["spacing_source"] = source
    assumed = dict(getattr(layer, "metadata", {}) or {}).get(META_KEY, {}).get(ASSUMED_KEY)
    if spacing is None and assumed:
        meta[ASSUMED_KEY] = assumed
    return meta


def radiograph_from_layer(layer: Any, plane: np.ndarray | None = None) -> Radiograph:
    """Rebuild a :class:`Radiograph` from a napari image layer.

    Parameters
    ----------
    layer : napari.layers.Image
        The layer; its metadata (written by :func:`image_layer_tuple`) is used when present.
    plane : ndarray, optional
        A 2-D plane of the layer's data to use instead of the whole data (one slice of a stack).

    Raises
    ------
    InputError
        Not an image layer, RGB, not 2-D, or holding NaN or infinite values; the message names
        the layer.
    """
    name = getattr(layer, "name", "layer")
    if layer is None:
        raise InputError("no image layer chosen")
    if layer_kind(layer) != "image":
        raise InputError(f"is a {layer_kind(layer)} layer, not an image layer", f"layer {name!r}")
    if getattr(layer, "rgb", False):
        raise InputError("is an RGB image; a radiograph is greyscale", f"layer {name!r}")
    data = np.asarray(layer.data if plane is None else plane)
    if data.ndim != 2:
        raise InputError(
            f"holds {data.ndim}-D data of shape {data.shape}; one 2-D image is needed",
            f"layer {name!r}",
        )
    if data.size == 0:
        raise InputError("is empty", f"layer {name!r}")
    meta = dict(getattr(layer, "metadata", {}) or {}).get(META_KEY, {})
    steps = [Provenance.from_dict(p) for p in meta.get("provenance", [])]
    if np.issubdtype(data.dtype, np.integer):
        info = np.iinfo(data.dtype)
        img = (data.astype(np.float64) - min(info.min, 0)) / (info.max - min(info.min, 0))
    elif np.issubdtype(data.dtype, np.floating) or data.dtype == bool:
        img = data.astype(np.float64)
        if not np.all(np.isfinite(img)):
            raise InputError("holds NaN or infinite values", f"layer {name!r}")
        lo, hi = float(img.min()), float(img.max())
        if lo < 0.0 or hi > 1.0:
            img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
            steps.append(Provenance("rescale", {"from": [lo, hi], "to": [0.0, 1.0]}))
    else:
        raise InputError(f"has data of type {data.dtype}, not an image", f"layer {name!r}")
    spacing, source = layer_spacing(layer)
    windows = tuple(
        Window(w["center"], w["width"], w.get("name", ""), w.get("function", "LINEAR"))
        for w in meta.get("windows", [])
        if w.get("function") != "LUT"
    )
    return Radiograph(
        image=img.astype(np.float32),
        spacing=spacing,  # type: ignore[arg-type]
        spacing_source=source,
        windows=windows,
        header=meta.get("header", {}),
        provenance=tuple(steps),
        synthetic=bool(meta.get("synthetic", False)),
    )
