"""A synthetic chest-like DICOM written with pydicom, for the demo and for quick checks.

It is plainly synthetic (SyntheticData = YES, no patient): a smooth body outline, two darker
lung fields, a brighter spine and mediastinum, ribs, and seeded quantum-like noise.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ComputedRadiographyImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)

from napari_xray_synth.core.atomic import atomic_path


def demo_pixels(shape: tuple[int, int] = (512, 512), seed: int = 0, bits: int = 12) -> np.ndarray:
    """Stored values (uint16, ``bits`` bits) of a chest-like picture; MONOCHROME2 polarity."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    r = np.linspace(-1.0, 1.0, rows)[:, None]
    c = np.linspace(-1.0, 1.0, cols)[None, :]
    body = np.clip(1.0 - (c / 0.92) ** 2 - (r / 1.3) ** 4, 0.0, 1.0) ** 0.5
    lungs = np.zeros(shape)
    for side in (-1.0, 1.0):
        lungs += np.clip(1.0 - ((c - 0.42 * side) / 0.3) ** 2 - ((r + 0.05) / 0.62) ** 2, 0, 1)
    spine = np.exp(-((c / 0.08) ** 2)) * (0.6 + 0.4 * (r > -0.8))
    heart = np.clip(1.0 - ((c + 0.12) / 0.32) ** 2 - ((r - 0.3) / 0.3) ** 2, 0, 1) ** 0.5
    ribs = 0.5 + 0.5 * np.sin(2 * np.pi * (r * 7.0 + 0.6 * np.abs(c) ** 2))
    ribs = (ribs > 0.85) * (lungs > 0) * 0.07
    att = 0.08 + 0.55 * body - 0.35 * lungs + 0.25 * spine + 0.25 * heart + ribs
    att = np.clip(att, 0.0, 1.0)
    top = 2**bits - 1
    noisy = rng.poisson(att * 0.8 * top + 50) - 50
    return np.clip(noisy, 0, top).astype(np.uint16)


def write_demo_dicom(
    path: str | Path, shape: tuple[int, int] = (512, 512), seed: int = 0, spacing_mm: float = 0.7
) -> Path:
    """Write the demo radiograph as a DICOM file (CR, 12-bit, one window, Pixel Spacing).

    Parameters
    ----------
    path : str or Path
        Where to write (atomically).
    shape : (int, int)
        Rows and columns.
    seed : int
        Seed of the noise.
    spacing_mm : float
        Pixel Spacing in mm, both directions.
    """
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ComputedRadiographyImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "CR"
    ds.SyntheticData = "YES"
    ds.PatientName = "Synthetic^Demo"
    ds.PatientID = "SYNTHETIC"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.Manufacturer = "napari-xray-synth demo"
    ds.ContentDate = _dt.date.today().strftime("%Y%m%d")
    ds.set_pixel_data(demo_pixels(shape, seed), "MONOCHROME2", 12)
    ds.PixelSpacing = [spacing_mm, spacing_mm]
    ds.WindowCenter = [1800, 2048]
    ds.WindowWidth = [2400, 4096]
    ds.WindowCenterWidthExplanation = ["CHEST", "FULL"]
    ds.VOILUTFunction = "LINEAR"
    target = Path(path)
    with atomic_path(target) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return target
