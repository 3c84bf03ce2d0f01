"""The napari reader contribution: DICOM (also ACR-NEMA and extension-less), TIFF, PNG, JPEG.

``get_reader`` answers cheaply (no decoding) whether a path is ours; the returned function reads
it through :mod:`napari_xray_synth.core.io`. A file that turns out bad becomes one napari
notification naming the file and the reason, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from napari_xray_synth.core.errors import XraySynthError
from napari_xray_synth.core.io import is_supported, read_stack
from napari_xray_synth.core.radiograph import ASSUMED_SPACING_MM
from napari_xray_synth.plugin.layers import (
    ASSUMED_KEY,
    META_KEY,
    LayerDataTuple,
    image_layer_tuple,
    stack_layer_tuple,
)
from napari_xray_synth.plugin.workers import notify_error, notify_warning

PathOrPaths = str | Path | list[str] | list[Path]


def layer_name(path: str | Path) -> str:
    """The layer name for a file: its name without the final suffix."""
    return Path(path).stem or Path(path).name


def layers_for_file(path: str | Path) -> list[LayerDataTuple]:
    """Layer tuples of one file: one 2-D layer, or one 3-D layer for a stack.

    Raises
    ------
    InputError
        When the file cannot be read (the message names it).
    """
    images = read_stack(path)
    name = layer_name(path)
    if len(images) == 1:
        return [image_layer_tuple(images[0], name)]
    if len({rg.shape for rg in images}) == 1:
        return [stack_layer_tuple(images, name)]
    # pages of different sizes cannot share a layer: one layer each
    return [image_layer_tuple(rg, f"{name} [{i}]") for i, rg in enumerate(images)]


#: Whether this session has said how films without a pixel size are shown (it is said once:
#: the Radiograph widget's header marks every such film).
_told_assumed_spacing = False


def _tell_assumed_spacing(layers: list[LayerDataTuple]) -> None:
    global _told_assumed_spacing
    names = [kw["name"] for _d, kw, _k in layers if ASSUMED_KEY in kw["metadata"][META_KEY]]
    if not names or _told_assumed_spacing:
        return
    _told_assumed_spacing = True
    notify_warning(
        f"{names[0]!r}{f' and {len(names) - 1} more' if len(names) > 1 else ''}: no pixel size "
        f"in the file. Films without one are shown at an assumed {ASSUMED_SPACING_MM:g} mm per "
        "pixel (the size Synthesize assumes), so that they sit in mm beside other films; set "
        "the true size in the Radiograph widget; until then exports record none for them. "
        "(Said once; the Radiograph header marks each such film.)"
    )


def read_paths(path: PathOrPaths) -> list[LayerDataTuple]:
    """The reader function napari calls: every readable file's layers; bad files notified,
    and the first film without a pixel size (see :func:`image_layer_tuple`)."""
    paths = path if isinstance(path, list) else [path]
    layers: list[LayerDataTuple] = []
    for p in paths:
        try:
            layers.extend(layers_for_file(p))
        except XraySynthError as exc:
            notify_error(exc)
    _tell_assumed_spacing(layers)
    # napari's sentinel for "read, nothing to add": the notification has said why
    return layers or [(None,)]  # type: ignore[list-item]


def get_reader(path: PathOrPaths) -> Callable[[PathOrPaths], list[Any]] | None:
    """npe2 reader hook: the reader function when every path looks like ours, else None."""
    paths = path if isinstance(path, list) else [path]
    if not paths or not all(is_supported(p) for p in paths):
        return None
    return read_paths
