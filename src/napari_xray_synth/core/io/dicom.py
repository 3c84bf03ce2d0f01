"""Read DICOM (and ACR-NEMA) radiographs into :class:`Radiograph` with pydicom and pylibjpeg.

Pixel decoding is pydicom's (every transfer syntax its decoders and the pylibjpeg plugins
accept); the Modality LUT and the VOI windows use pydicom's own LUT functions through
:mod:`napari_xray_synth.core.io.dicom_lut`.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.io.dicom_lut import (
    UnitMap,
    dicom_windows,
    image_windows,
    modality_kind,
    modality_range,
)
from napari_xray_synth.core.io.sniff import check_readable, sniff
from napari_xray_synth.core.radiograph import Provenance, Radiograph, Window

# Header elements safe to show: device and image description, never people or identifiers.
_HEADER_KEYWORDS = {
    "modality": "Modality",
    "view_position": "ViewPosition",
    "body_part": "BodyPartExamined",
    "laterality": "ImageLaterality",
    "manufacturer": "Manufacturer",
    "manufacturer_model": "ManufacturerModelName",
    "photometric": "PhotometricInterpretation",
    "rows": "Rows",
    "columns": "Columns",
    "samples_per_pixel": "SamplesPerPixel",
    "bits_allocated": "BitsAllocated",
    "bits_stored": "BitsStored",
    "high_bit": "HighBit",
    "rescale_slope": "RescaleSlope",
    "rescale_intercept": "RescaleIntercept",
    "rescale_type": "RescaleType",
    "pixel_spacing": "PixelSpacing",
    "imager_pixel_spacing": "ImagerPixelSpacing",
    "presentation_lut_shape": "PresentationLUTShape",
    "kvp": "KVP",
    "exposure_mas": "Exposure",
    "lossy_compression": "LossyImageCompression",
}
_IDENTIFIERS = ("PatientName", "PatientID", "PatientBirthDate")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float) or type(value).__name__ in ("DSfloat", "DSdecimal"):
        f = float(value)
        return f if math.isfinite(f) else None
    if type(value).__name__ == "IS":
        return int(value)
    return str(value)


def open_dataset(path: str | Path, *, pixels: bool = True) -> tuple[Dataset, bool]:
    """Parse a DICOM or ACR-NEMA file; the input file is only read.

    Parameters
    ----------
    path : str or Path
        The file.
    pixels : bool
        False defers reading large values (Pixel Data) for a header-only look.

    Returns
    -------
    dataset, acr_nema
        The data set (with a Transfer Syntax UID set in memory when the file had none) and whether
        the file lacked a Part-10 header.

    Raises
    ------
    InputError
        Unreadable, not DICOM, or a header pydicom cannot parse.
    """
    p = check_readable(path)
    fmt = sniff(p)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(p, force=fmt != "dicom", defer_size=None if pixels else "64 KB")
    except Exception as exc:  # any parse failure of a damaged file is the user's input
        if fmt == "dicom":
            raise InputError(f"is a damaged DICOM file ({_one_line(exc)})", p) from exc
        raise InputError("is not a DICOM, TIFF, PNG or JPEG file", p) from exc
    # pydicom's parse warnings are kept for the header summary, not printed
    ds._xray_synth_warnings = [" ".join(str(w.message).split()) for w in caught]
    if fmt != "dicom" and not any(
        k in ds for k in ("PixelData", "Rows", "SOPClassUID", "Modality")
    ):
        raise InputError("is not a DICOM, TIFF, PNG or JPEG file", p)
    meta = getattr(ds, "file_meta", None)
    # no preamble but File Meta present is still DICOM; neither is the ACR-NEMA layout
    acr_nema = fmt != "dicom" and (meta is None or "TransferSyntaxUID" not in meta)
    if meta is None or "TransferSyntaxUID" not in meta:
        implicit, little = ds.original_encoding
        if little is False:
            uid = ExplicitVRBigEndian
        else:
            uid = ImplicitVRLittleEndian if implicit in (True, None) else ExplicitVRLittleEndian
        if meta is None:
            ds.file_meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = uid
        ds._xray_synth_assumed_syntax = True
    return ds, acr_nema


def dicom_spacing(ds: Dataset) -> tuple[tuple[float, float] | None, str]:
    """Pixel Spacing, else Imager Pixel Spacing, in mm (row, column); None with the reason."""
    reasons = []
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        if keyword not in ds:
            continue
        raw = ds[keyword].value
        try:
            values = [float(v) for v in _multi_value(raw)]
        except (TypeError, ValueError):
            values = []
        if len(values) == 2 and all(math.isfinite(v) and v > 0 for v in values):
            return (values[0], values[1]), keyword
        reasons.append(f"{keyword} is {_jsonable(raw)!s}")
    if reasons:
        return None, "unknown: " + "; ".join(reasons)
    return None, "unknown: no PixelSpacing or ImagerPixelSpacing"


def _multi_value(raw: Any) -> list[Any]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, (list, tuple)) or type(raw).__name__ == "MultiValue":
        return list(raw)
    return [raw]


def _transfer_syntax(ds: Dataset) -> tuple[str, str]:
    uid = ds.file_meta.TransferSyntaxUID
    return str(uid), str(getattr(uid, "name", uid))


def header_summary(ds: Dataset, acr_nema: bool) -> dict[str, Any]:
    """A de-identified summary: image description and device only (a whitelist)."""
    h: dict[str, Any] = {"format": "ACR-NEMA (no Part-10 header)" if acr_nema else "DICOM"}
    uid, name = _transfer_syntax(ds)
    assumed = getattr(ds, "_xray_synth_assumed_syntax", False)
    h["transfer_syntax"] = name + (" (assumed)" if assumed else "")
    h["transfer_syntax_uid"] = uid
    if "SOPClassUID" in ds:
        h["sop_class"] = str(getattr(ds.SOPClassUID, "name", ds.SOPClassUID))
    for key, keyword in _HEADER_KEYWORDS.items():
        value = ds.get(keyword)
        if value is not None and value != "":
            h[key] = _jsonable(value)
    h["signed"] = int(ds.get("PixelRepresentation", 0) or 0) == 1
    h["frames"] = int(ds.get("NumberOfFrames", 1) or 1)
    h["modality_lut"] = modality_kind(ds)
    h["windows_dicom"] = dicom_windows(ds)
    if ds.get("VOILUTSequence"):
        h["voi_luts"] = [
            {
                "name": str(item.get("LUTExplanation", "") or f"VOI LUT {i + 1}"),
                "entries": int(item.LUTDescriptor[0]) or 2**16,
                "first_mapped": int(item.LUTDescriptor[1]),
                "bits": int(item.LUTDescriptor[2]),
            }
            for i, item in enumerate(ds.VOILUTSequence)
        ]
    h["voi_lut_function"] = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR")
    h["has_pixel_data"] = "PixelData" in ds
    if "SyntheticData" in ds:
        h["synthetic_data"] = str(ds.SyntheticData)
    for ident in _IDENTIFIERS:  # belt and braces: the whitelist never takes these
        h.pop(ident, None)
    return h


def _check_image(ds: Dataset, p: Path) -> str:
    """The photometric interpretation, or an InputError for data sets that are no grey image."""
    if "PixelData" not in ds:
        if not any(k in ds for k in ("SOPClassUID", "Modality", "Rows", "StudyInstanceUID")):
            raise InputError("is a damaged DICOM file: none of its elements could be read", p)
        if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
            raise InputError("holds float pixel data, which is not supported", p)
        what = ds.get("SOPClassUID")
        kind = f" (it is a {getattr(what, 'name', what)})" if what else ""
        raise InputError(f"holds no image: there is no Pixel Data{kind}", p)
    photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples != 1 or (photometric and photometric not in ("MONOCHROME1", "MONOCHROME2")):
        raise InputError(
            f"is a colour image (PhotometricInterpretation {photometric or '?'}, "
            f"{samples} samples per pixel); a radiograph is greyscale",
            p,
        )
    for keyword in ("Rows", "Columns", "BitsAllocated"):
        if keyword not in ds:
            raise InputError(f"has pixel data but no {keyword}", p)
    return photometric or "MONOCHROME2"


class _Parsed:
    """Everything the header says about the image, before decoding a pixel."""

    def __init__(self, ds: Dataset, p: Path, acr_nema: bool) -> None:
        self.photometric = _check_image(ds, p)
        self.header = header_summary(ds, acr_nema)
        if "PhotometricInterpretation" not in ds:
            self.header["photometric"] = "MONOCHROME2 (assumed: not in the file)"
        lo, hi = modality_range(ds)
        self.umap = UnitMap(lo, hi, invert=self.photometric == "MONOCHROME1")
        self.header["modality_range"] = [lo, hi]
        self.windows, skipped = image_windows(ds, self.umap)
        if skipped:
            self.header["windows_skipped"] = skipped
        self.spacing, self.spacing_source = dicom_spacing(ds)
        self.synthetic = str(ds.get("SyntheticData", "") or "").strip().upper() == "YES"


def _parse(ds: Dataset, p: Path, acr_nema: bool) -> _Parsed:
    try:
        return _Parsed(ds, p, acr_nema)
    except InputError:
        raise
    except Exception as exc:  # a damaged element surfaces when its value is first read
        raise InputError(f"has a damaged or unusable header ({_one_line(exc)})", p) from exc


def _decode(ds: Dataset, p: Path) -> np.ndarray:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            arr = ds.pixel_array
        ds._xray_synth_warnings.extend(" ".join(str(w.message).split()) for w in caught)
    except Exception as exc:
        msg = _one_line(exc)
        _uid, name = _transfer_syntax(ds)
        if "Unable to decode" in msg or "plugin" in msg.lower():
            # pydicom lists one line per decoder it tried: keep those, on one line
            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            detail = "; ".join(lines[1:]) if len(lines) > 1 else msg
            raise InputError(f"no decoder accepts its {name} pixel data ({detail})", p) from exc
        raise InputError(f"its pixel data is damaged or truncated ({msg})", p) from exc
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    arr = np.asarray(arr)
    if frames == 1 and arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise InputError(f"decodes to an array of shape {arr.shape}, not grey images", p)
    return arr


def read_dicom(path: str | Path) -> list[Radiograph]:
    """Read every frame of a DICOM or ACR-NEMA file as a :class:`Radiograph`.

    The image is the Modality LUT output (pydicom ``apply_modality_lut``) mapped linearly from the
    range of possible values to [0, 1], MONOCHROME1 inverted; no window is applied. Every VOI
    window of the file is kept as a preset in image units (the default first).

    Raises
    ------
    InputError
        For anything that is not a readable grey DICOM image; the message names the file.
    """
    ds, acr_nema = open_dataset(path)
    p = Path(path)
    parsed = _parse(ds, p, acr_nema)
    stored = _decode(ds, p)
    try:
        values = apply_modality_lut(stored, ds)
    except Exception as exc:
        raise InputError(f"its Modality LUT cannot be applied ({_one_line(exc)})", p) from exc
    notes = list(dict.fromkeys(getattr(ds, "_xray_synth_warnings", [])))
    if notes:
        parsed.header["read_warnings"] = notes[:10]
    images = parsed.umap.to_image(values)
    np.clip(images, 0.0, 1.0, out=images)
    n = images.shape[0]
    out = []
    for i in range(n):
        params: dict[str, Any] = {
            "format": parsed.header["format"],
            "transfer_syntax": parsed.header["transfer_syntax"],
            "modality_lut": parsed.header["modality_lut"],
            "modality_range": parsed.header["modality_range"],
            "photometric": parsed.photometric,
        }
        if n > 1:
            params.update(frame=i, frames=n)
        out.append(
            Radiograph(
                image=images[i],
                spacing=parsed.spacing,
                spacing_source=parsed.spacing_source,
                windows=parsed.windows,
                header=dict(parsed.header),
                provenance=(Provenance("read", params, source=str(p)),),
                synthetic=parsed.synthetic,
            )
        )
    return out


def dicom_info(path: str | Path) -> dict[str, Any]:
    """Header facts of a DICOM file without decoding its pixels (de-identified).

    Returns
    -------
    dict
        modality, size, bits, photometric, transfer syntax, spacing (and its source), the windows
        as DICOM states them and in image units, and the rest of the header summary.
    """
    ds, acr_nema = open_dataset(path, pixels=False)
    p = Path(path)
    info: dict[str, Any] = {"file": str(p)}
    try:
        header = header_summary(ds, acr_nema)
        spacing, source = dicom_spacing(ds)
    except Exception as exc:
        raise InputError(f"has a damaged or unusable header ({_one_line(exc)})", p) from exc
    info.update(header)
    info["size"] = [header.get("rows"), header.get("columns")]
    info["spacing_mm"] = list(spacing) if spacing else None
    info["spacing_source"] = source
    windows: tuple[Window, ...] = ()
    if header["has_pixel_data"]:
        try:
            windows = _parse(ds, p, acr_nema).windows
        except InputError as exc:
            info["problem"] = exc.reason
    info["windows"] = [{**w.to_dict(), "limits": list(w.limits)} for w in windows]
    return info
