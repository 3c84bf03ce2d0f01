"""Stand-ins plugged into ``augment`` by the tests (``module:function`` plug points).

``read_raster`` is a small reader for PNG/TIFF test fixtures, used until the tests can rely on
``core.io.read_radiograph``; ``slow_synthesize`` is the real synthesizer with a pause per call so
that a test can kill a run in the middle.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.radiograph import Provenance, Radiograph
from napari_xray_synth.core.synthesize import synthesize


def read_raster(path, spacing=None) -> Radiograph:
    """Read a greyscale PNG/TIFF into a Radiograph (InputError naming the file when it fails)."""
    try:
        data = np.asarray(iio.imread(path))
    except Exception as exc:
        raise InputError(f"cannot read the image ({type(exc).__name__})", path) from exc
    if data.ndim == 3:
        data = data[..., 0]
    info = np.iinfo(data.dtype) if data.dtype.kind in "ui" else None
    img = data / info.max if info else data
    return Radiograph(
        np.asarray(img, np.float32),
        spacing=(spacing, spacing) if spacing else None,
        spacing_source="user" if spacing else "unknown",
        provenance=(Provenance("read", source=str(Path(path))),),
    )


def slow_synthesize(*args, **kwargs):
    """The real synthesizer, after a pause of $AUGMENT_TEST_DELAY seconds."""
    time.sleep(float(os.environ.get("AUGMENT_TEST_DELAY", "0.3")))
    return synthesize(*args, **kwargs)
