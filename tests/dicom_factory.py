"""DICOM fixtures the tests write themselves with pydicom, and pydicom's own display pipeline."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import apply_modality_lut, apply_voi, apply_windowing
from pydicom.sequence import Sequence
from pydicom.uid import (
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    generate_uid,
)

IDENTIFIERS = {"PatientName": "Doe^Jane", "PatientID": "ID-12345", "PatientBirthDate": "19700101"}


def ramp(shape: tuple[int, int], lo: int, hi: int, dtype: Any = np.uint16) -> np.ndarray:
    """Every value from lo to hi (inclusive) appears, laid out row-major and repeated."""
    n = shape[0] * shape[1]
    vals = lo + (np.arange(n) % (hi - lo + 1))
    return vals.reshape(shape).astype(dtype)


def make_ds(
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    slope: float | None = None,
    intercept: float | None = None,
    windows: list[tuple[float, float]] | None = None,
    function: str | None = None,
    explanations: list[str] | None = None,
    modality_lut: tuple[int, int, np.ndarray] | None = None,
    voi_luts: list[tuple[int, int, np.ndarray]] | None = None,
    pixel_spacing: Any = None,
    imager_spacing: Any = None,
    sop_class: str = DigitalXRayImageStorageForPresentation,
) -> FileDataset:
    """A DX data set holding ``pixels`` (2-D, or 3-D for multi-frame) with the given pipeline."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("mem", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    for k, v in IDENTIFIERS.items():
        setattr(ds, k, v)
    ds.Modality = "DX"
    ds.ViewPosition = "PA"
    ds.BodyPartExamined = "CHEST"
    ds.Manufacturer = "Test Co"
    bits = bits_stored or pixels.dtype.itemsize * 8
    ds.set_pixel_data(pixels, photometric, bits)
    if slope is not None:
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept or 0.0
        ds.RescaleType = "US"
    if windows:
        ds.WindowCenter = [c for c, _ in windows]
        ds.WindowWidth = [w for _, w in windows]
    if function:
        ds.VOILUTFunction = function
    if explanations:
        ds.WindowCenterWidthExplanation = explanations
    if modality_lut is not None:
        first, depth, table = modality_lut
        item = Dataset()
        item.LUTDescriptor = [len(table), first, depth]
        item.ModalityLUTType = "US"
        item.LUTData = [int(v) for v in table]
        item["LUTDescriptor"].VR = "US"
        item["LUTData"].VR = "US"
        ds.ModalityLUTSequence = Sequence([item])
    if voi_luts:
        items = []
        for i, (first, depth, table) in enumerate(voi_luts):
            item = Dataset()
            item.LUTDescriptor = [len(table), first, depth]
            item.LUTData = [int(v) for v in table]
            item["LUTDescriptor"].VR = "US"
            item["LUTData"].VR = "US"
            item.LUTExplanation = f"TABLE{i + 1}"
            items.append(item)
        ds.VOILUTSequence = Sequence(items)
    if pixel_spacing is not None:
        ds.PixelSpacing = pixel_spacing
    if imager_spacing is not None:
        ds.ImagerPixelSpacing = imager_spacing
    return ds


def save(ds: FileDataset, path: Path, syntax: str | None = None) -> Path:
    """Write ``ds`` (compressed with pydicom's encoders when ``syntax`` is a compressed one)."""
    if syntax is not None and syntax != ExplicitVRLittleEndian:
        ds.compress(syntax)
    ds.save_as(path, enforce_file_format=True)
    return path


def save_acr_nema(ds: FileDataset, path: Path) -> Path:
    """No preamble, no file meta: a bare implicit VR little endian data set, as ACR-NEMA wrote."""
    bare = Dataset()
    for elem in ds:
        bare.add(elem)
    pydicom.dcmwrite(path, bare, implicit_vr=True, little_endian=True, enforce_file_format=False)
    return path


def save_jpeg_baseline(pixels8: np.ndarray, path: Path, quality: int = 95) -> np.ndarray:
    """Encapsulate a Pillow-made JPEG; returns what Pillow decodes back (the lossy truth)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels8).save(buf, format="JPEG", quality=quality)
    ds = make_ds(pixels8, pixel_spacing=[0.2, 0.2])
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PixelData = encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.LossyImageCompression = "01"
    ds.save_as(path, enforce_file_format=True)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())))


# ---------------------------------------------------------------------- pydicom's own pipeline
def _stored_range(ds: Dataset) -> tuple[int, int]:
    bits = int(ds.BitsStored)
    if ds.PixelRepresentation == 1:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def reference_display(path: Path, index: int = 0) -> np.ndarray:
    """apply_modality_lut → apply_voi_lut (window ``index``, LUT items first) → MONOCHROME1
    inverted → scaled to [0, 1] by the output range pydicom's step has. Frame 0 only."""
    ds = pydicom.dcmread(path, force=True)
    if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    arr = ds.pixel_array
    if arr.ndim == 3:
        arr = arr[0]
    mod = apply_modality_lut(arr, ds).astype(np.float64)
    n_lut = len(ds.get("VOILUTSequence") or [])
    n_win = len(np.atleast_1d(ds.get("WindowCenter", []) or []))
    if index < n_lut:
        n, first, depth = (int(v) for v in ds.VOILUTSequence[index].LUTDescriptor)
        if depth == 8:
            # pydicom 3.0 wraps uint8 indices of 8-bit tables past 256: look it up by hand
            table = np.asarray(ds.VOILUTSequence[index].LUTData, dtype=np.float64)
            out = table[np.clip(mod.astype(np.int64) - first, 0, (n or 65536) - 1)]
        else:
            out = apply_voi(mod.astype(np.int64), ds, index=index).astype(np.float64)
        y0, y1 = 0.0, 2.0**depth - 1
    elif index - n_lut < n_win:
        out = apply_windowing(mod, ds, index=index - n_lut)
        if ds.get("ModalityLUTSequence"):
            y0, y1 = 0.0, 2.0 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1
        else:
            y0, y1 = _stored_range(ds)
            if "RescaleSlope" in ds:
                y0 = y0 * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
                y1 = y1 * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    else:  # no window: the full range of possible modality output values
        if ds.get("ModalityLUTSequence"):
            table = np.asarray(ds.ModalityLUTSequence[0].LUTData, dtype=np.float64)
            y0, y1 = table.min(), table.max()
        else:
            y0, y1 = sorted(apply_modality_lut(np.array(_stored_range(ds)), ds).astype(np.float64))
        out = mod
    disp = (out - y0) / (y1 - y0)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        disp = 1.0 - disp
    return disp
