"""Read one greyscale image for compare and the reader study.

TODO(integrator): ``core.io.read_radiograph`` is being written on branch ``io``. Once it is on
main, :func:`read_image` uses it automatically (it is tried first); the tifffile/imageio branch
below can then be deleted so that DICOM, windows and polarity are handled in one place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_xray_synth.core.errors import InputError

_TIFF = (".tif", ".tiff")


def _core_io_reader():  # pragma: no cover - depends on the io branch being merged
    try:
        from napari_xray_synth.core.io import read_radiograph  # type: ignore[attr-defined]
    except ImportError:
        return None
    return read_radiograph


def read_image(path: str | Path) -> np.ndarray:
    """Read a 2-D greyscale image as float32.

    Integer images are divided by their dtype's maximum (so 8- and 16-bit files land in [0, 1]);
    float images keep their values. Greyscale stored as RGB(A) with equal channels is accepted.

    Raises
    ------
    InputError
        Missing or unreadable file, colour image, not 2-D, NaN values; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path)
    reader = _core_io_reader()
    if reader is not None:  # pragma: no cover - depends on the io branch being merged
        return np.asarray(reader(path).image, dtype=np.float32)
    try:
        if path.suffix.lower() in _TIFF:
            import tifffile

            data = tifffile.imread(path)
        else:
            import imageio.v3 as iio

            data = iio.imread(path)
    except Exception as exc:  # any decoder failure is a bad file for the user
        raise InputError(f"cannot read this image ({type(exc).__name__}: {exc})", path) from exc
    data = np.asarray(data)
    if data.ndim == 3 and data.shape[-1] in (3, 4):
        rgb = data[..., :3]
        if not (
            np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])
        ):
            raise InputError("is a colour image; a radiograph is greyscale", path)
        data = rgb[..., 0]
    if data.ndim != 2:
        raise InputError(
            f"holds {data.ndim}-D data of shape {data.shape}; one 2-D image is needed", path
        )
    if np.issubdtype(data.dtype, np.integer):
        info = np.iinfo(data.dtype)
        return (data.astype(np.float64) / info.max).astype(np.float32)
    if data.dtype == bool:
        return data.astype(np.float32)
    img = data.astype(np.float32)
    if not np.isfinite(img).all():
        raise InputError("holds NaN or infinite values", path)
    return img
