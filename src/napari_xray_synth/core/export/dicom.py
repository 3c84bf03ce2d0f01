"""DICOM export: a derived radiograph as a Secondary Capture image, de-identified by default.

Why Secondary Capture (1.2.840.10008.5.1.4.1.1.7) and not DX: the DX IOD asserts acquisition
facts (detector, exposure, kVp, imager geometry) that a denoised or generated image does not
truthfully have; Secondary Capture is the IOD for derived and synthetic images, has ConversionType
"SYN" (synthetic image) and still carries Pixel Spacing, windows and 16-bit pixels, so every
viewer and pipeline that reads DX reads it too.

The source header comes from the original DICOM (re-read from the file named in the provenance):
only the patient, study, equipment and view attributes listed in :data:`CARRIED` are taken over,
then de-identified by :func:`deidentify` unless ``deidentify=False``.
"""

from __future__ import annotations

import copy
import datetime as _dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from napari_xray_synth import __version__
from napari_xray_synth.core.atomic import atomic_path
from napari_xray_synth.core.conditions import Condition
from napari_xray_synth.core.export.deidentify import UidMap, deidentify
from napari_xray_synth.core.export.raster import to_uint16
from napari_xray_synth.core.radiograph import Radiograph

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"

#: Attributes taken over from the source header (then de-identified unless asked not to).
CARRIED = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
    "StudyDescription",
    "Manufacturer",
    "ManufacturerModelName",
    "InstitutionName",
    "InstitutionAddress",
    "StationName",
    "DeviceSerialNumber",
    "Modality",
    "BodyPartExamined",
    "ViewPosition",
    "PatientOrientation",
    "ImageLaterality",
    "Laterality",
)


def read_source_header(rg: Radiograph) -> Dataset | None:
    """The header of the DICOM file this radiograph was first read from, or None.

    None when the provenance names no file, the file is gone, or it is not a DICOM.
    """
    src = rg.source
    if not src or not Path(src).is_file():
        return None
    try:
        return pydicom.dcmread(src, stop_before_pixels=True)
    except InvalidDicomError:
        if Path(src).suffix.lower() not in ("", ".dcm", ".dicom"):
            return None
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    try:  # an ACR-NEMA file without the Part 10 preamble
        ds = pydicom.dcmread(src, stop_before_pixels=True, force=True)
    except (InvalidDicomError, OSError, ValueError, TypeError, AttributeError, KeyError):
        return None
    return ds if "SOPClassUID" in ds or "PatientName" in ds or "Modality" in ds else None


def _describe(rg: Radiograph, conditions: Sequence[Condition], seed: int | None) -> str:
    parts = []
    step = rg.provenance[-1] if rg.provenance else None
    if step is not None:
        what = step.operation
        method = dict(step.parameters).get("method")
        if method:
            what += f" ({method})"
        if step.model_id:
            what += f" model {step.model_id}"
            if step.model_sha256:
                what += f" sha256 {step.model_sha256[:16]}"
        parts.append(what)
    for c in conditions:
        parts.append(
            f"{c.pathology} {c.size_mm:.0f} mm severity {c.severity:.2f} "
            f"at row {c.center[0]:.0f} col {c.center[1]:.0f}"
        )
    if seed is not None:
        parts.append(f"seed {seed}")
    parts.append("synthetic image" if rg.synthetic else "derived image")
    return "; ".join(parts)[:1024]  # ST holds at most 1024 characters


def _ds(value: float) -> str:
    return f"{value:.10g}"[:16]


def build_dicom(
    rg: Radiograph,
    *,
    source: Dataset | None = None,
    deidentify_header: bool = True,
    uid_map: UidMap | None = None,
    conditions: Sequence[Condition] = (),
    seed: int | None = None,
    date_shift_days: int | None = None,
) -> Dataset:
    """A Secondary Capture dataset (with file meta) for a derived or synthetic radiograph.

    Parameters
    ----------
    rg : Radiograph
        The image; ``rg.synthetic`` sets SyntheticData.
    source : pydicom.Dataset, optional
        The source header (see :func:`read_source_header`).
    deidentify_header : bool
        Apply the Basic Profile to what is taken over (default True).
    uid_map : UidMap, optional
        Shared by the files of one export so that replaced UIDs stay consistent.
    conditions, seed
        Described in DerivationDescription.
    date_shift_days : int, optional
        Shift dates instead of removing them when de-identifying.
    """
    uid_map = uid_map or UidMap()
    ds = Dataset()
    src_class = src_instance = None
    if source is not None:
        for kw in CARRIED:
            if kw in source and source[kw].VR != "SQ":
                ds[kw] = copy.deepcopy(source[kw])  # never change the caller's header
        src_class = str(source.get("SOPClassUID", "")) or None
        src_instance = str(source.get("SOPInstanceUID", "")) or None
    if deidentify_header:
        deidentify(ds, uid_map, date_shift_days)
    ds.SpecificCharacterSet = "ISO_IR 192"

    # SOP common, general series and SC equipment
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    if not ds.get("StudyInstanceUID"):
        ds.StudyInstanceUID = generate_uid()
    ds.Modality = ds.get("Modality") or "OT"
    for kw in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate"):
        if kw not in ds:
            setattr(ds, kw, "")
    for kw in ("StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber"):
        if kw not in ds:
            setattr(ds, kw, "")
    ds.SeriesNumber = 9001
    ds.InstanceNumber = 1
    ds.PatientOrientation = ds.get("PatientOrientation", "")
    ds.ConversionType = "SYN" if rg.synthetic else "WSD"
    ds.SecondaryCaptureDeviceManufacturer = "napari-xray-synth"
    ds.SecondaryCaptureDeviceSoftwareVersions = __version__
    if not deidentify_header:
        now = _dt.datetime.now()
        ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")

    # derivation
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.SyntheticData = "YES" if rg.synthetic else "NO"
    ds.DerivationDescription = _describe(rg, conditions, seed)
    if src_class and src_instance:
        ref = Dataset()
        ref.ReferencedSOPClassUID = src_class
        ref.ReferencedSOPInstanceUID = uid_map(src_instance) if deidentify_header else src_instance
        purpose = Dataset()
        purpose.CodeValue = "121322"
        purpose.CodingSchemeDesignator = "DCM"
        purpose.CodeMeaning = "Source image for image processing operation"
        ref.PurposeOfReferenceCodeSequence = DicomSequence([purpose])
        ds.SourceImageSequence = DicomSequence([ref])
    ds.BurnedInAnnotation = "NO"

    # pixels: 16-bit MONOCHROME2, stored = round(image * 65535)
    pixels = to_uint16(rg.image)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    if rg.spacing:
        ds.PixelSpacing = [_ds(rg.spacing[0]), _ds(rg.spacing[1])]
    windows = [w for w in rg.windows if w.function in ("LINEAR", "LINEAR_EXACT", "SIGMOID")]
    if not windows:
        windows = [rg.default_window]
    ds.WindowCenter = [_ds(w.center * 65535.0) for w in windows]
    ds.WindowWidth = [_ds(max(w.width * 65535.0, 1.0)) for w in windows]
    explanations = [w.name or f"WINDOW{i + 1}" for i, w in enumerate(windows)]
    ds.WindowCenterWidthExplanation = explanations
    if windows[0].function != "LINEAR":
        ds.VOILUTFunction = windows[0].function
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def write_dicom(
    rg: Radiograph,
    path: str | Path,
    *,
    deidentify: bool = True,
    uid_map: UidMap | None = None,
    conditions: Sequence[Condition] = (),
    seed: int | None = None,
    source: Dataset | None = None,
    date_shift_days: int | None = None,
) -> Path:
    """Write ``rg`` atomically as a Secondary Capture DICOM file.

    The source header is re-read from the file named in the provenance when ``source`` is not
    given. De-identification (Basic Profile) is on unless ``deidentify=False``.
    """
    if source is None:
        source = read_source_header(rg)
    ds = build_dicom(
        rg,
        source=source,
        deidentify_header=deidentify,
        uid_map=uid_map,
        conditions=conditions,
        seed=seed,
        date_shift_days=date_shift_days,
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return path
