"""DICOM export: Secondary Capture, synthetic flag, derivation, new UIDs, Basic Profile."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from napari_xray_synth.core.conditions import Condition, label_mask
from napari_xray_synth.core.export import (
    ExportItem,
    UidMap,
    deidentify,
    export_dataset,
    write_dicom,
)
from napari_xray_synth.core.radiograph import Provenance, Radiograph, Window

DX = "1.2.840.10008.5.1.4.1.1.1.1"

# identifying values: each must vanish from everything written
IDENTIFIERS = {
    "PatientName": "Quixote^Alonso^Maria",
    "PatientID": "PIDX7781234",
    "OtherPatientIDs": "OPID5550199",
    "OtherPatientNames": "Panza^Sancho",
    "PatientBirthDate": "19470329",
    "PatientBirthTime": "041522",
    "PatientAddress": "17 Calle Rocinante Toboso",
    "PatientTelephoneNumbers": "+34-555-019283",
    "PatientMotherBirthName": "Dulcinea^Aldonza",
    "MilitaryRank": "Capitan de Fragata",
    "Occupation": "Hidalgo Errant",
    "EthnicGroup": "Manchego",
    "AdditionalPatientHistory": "fell from windmill sail",
    "InstitutionName": "Hospital San Cervantes Mancha",
    "InstitutionAddress": "1 Avenida Molinos Criptana",
    "InstitutionalDepartmentName": "Radiologia Errante",
    "ReferringPhysicianName": "Carrasco^Sanson",
    "PerformingPhysicianName": "Perez^Pedro^Cura",
    "PhysiciansOfRecord": "Nicolas^Barbero",
    "NameOfPhysiciansReadingStudy": "Benengeli^Cide^Hamete",
    "OperatorsName": "Gines^Pasamonte",
    "RequestingPhysician": "Moreno^Antonio",
    "AccessionNumber": "ACC90817263",
    "StudyID": "STUDYID4471",
    "DeviceSerialNumber": "SERIAL-ZX-99821",
    "StationName": "STATIONBARATARIA",
    "StudyDate": "20190718",
    "SeriesDate": "20190719",
    "AcquisitionDate": "20190720",
    "ContentDate": "20190721",
    "StudyTime": "101112.123",
    "StudyDescription": "CHEST PA Quixote follow-up",
    "SeriesDescription": "Rocinante series",
    "ImageComments": "patient is the knight of the sad figure",
    "StudyInstanceUID": "1.2.826.0.1.3680043.8.498.1111111111111111",
    "SeriesInstanceUID": "1.2.826.0.1.3680043.8.498.2222222222222222",
    "SOPInstanceUID": "1.2.826.0.1.3680043.8.498.3333333333333333",
    "FrameOfReferenceUID": "1.2.826.0.1.3680043.8.498.4444444444444444",
}
PRIVATE_VALUE = "PRIVATE-SECRET-DULCINEA"


def make_source(path, pixels: np.ndarray | None = None) -> dict[str, str]:
    ds = Dataset()
    for kw, v in IDENTIFIERS.items():
        setattr(ds, kw, v)
    ds.SOPClassUID = DX
    ds.Modality = "DX"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.PatientSex = "M"
    ds.PatientAge = "059Y"
    block = ds.private_block(0x0019, "ACME QUIXOTE", create=True)
    block.add_new(0x10, "LO", PRIVATE_VALUE)
    seq_item = Dataset()
    seq_item.PersonName = "Hidden^Inside^Sequence"  # a name nested in a sequence
    seq_item.ReferencedSOPInstanceUID = IDENTIFIERS["SOPInstanceUID"]
    ds.ReferencedImageSequence = [seq_item]
    pixels = np.arange(64, dtype=np.uint16).reshape(8, 8) if pixels is None else pixels
    ds.Rows, ds.Columns = pixels.shape
    ds.PixelSpacing = [2.5, 2.5]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX
    meta.MediaStorageSOPInstanceUID = IDENTIFIERS["SOPInstanceUID"]
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    values = dict(IDENTIFIERS)
    values["private"] = PRIVATE_VALUE
    values["nested"] = "Hidden^Inside^Sequence"
    return values


def variant(src_path, rng, shape=(64, 48)) -> tuple[Radiograph, Condition, np.ndarray]:
    rg = Radiograph(
        rng.random(shape, dtype=np.float32),
        spacing=(0.5, 0.6),
        spacing_source="PixelSpacing",
        windows=(Window(0.4, 0.5, "lung"),),
        provenance=(Provenance("read", source=str(src_path)),),
    )
    cond = Condition("nodule", (30, 20), 10.0, 0.7, shape_seed=3)
    syn = rg.derive(
        rng.random(shape, dtype=np.float32),
        Provenance(
            "synthesize", {"method": "physics"}, model_id="m1", model_sha256="ab" * 32, seed=42
        ),
        synthetic=True,
    )
    return syn, cond, label_mask([cond], shape, syn.spacing)


def _all_bytes(folder) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def _needles(value: str) -> list[bytes]:
    out = [value.encode()]
    if "^" in value:  # name components on their own, as a leak might spell them
        out += [part.encode() for part in value.split("^") if len(part) > 3]
    return out


def test_dataset_export_dicom_leaks_no_identifier(tmp_path, rng):
    src = tmp_path / "src" / "source.dcm"
    src.parent.mkdir()
    values = make_source(src)
    assert len(values) >= 20
    syn, cond, mask = variant(src, rng)
    out = tmp_path / "out"
    manifest = export_dataset([ExportItem("variant a", syn, mask, (cond,), seed=42)], out, "dcm")
    assert manifest.is_file() and (out / "manifest.json").is_file()
    blob = _all_bytes(out)
    leaked = [k for k, v in values.items() if any(n in blob for n in _needles(v))]
    assert leaked == []
    assert not list(out.rglob("*.part*"))

    ds = pydicom.dcmread(out / "images" / "variant_a.dcm")
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    assert list(ds.ImageType) == ["DERIVED", "SECONDARY"]
    assert ds.SyntheticData == "YES"
    assert ds.ConversionType == "SYN"
    assert ds.PatientIdentityRemoved == "YES"
    assert "Basic Profile" in ds.DeidentificationMethod
    assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert "nodule" in ds.DerivationDescription and "seed 42" in ds.DerivationDescription
    ref = ds.SourceImageSequence[0]
    assert ref.ReferencedSOPClassUID == DX
    assert ref.ReferencedSOPInstanceUID != IDENTIFIERS["SOPInstanceUID"]
    for kw in ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID"):
        assert ds[kw].value != IDENTIFIERS[kw]
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.Modality == "DX" and ds.BodyPartExamined == "CHEST"
    assert [float(v) for v in ds.PixelSpacing] == [0.5, 0.6]
    assert ds.BitsStored == 16 and ds.PhotometricInterpretation == "MONOCHROME2"
    assert float(ds.WindowCenter) == pytest.approx(0.4 * 65535, rel=1e-6)
    expected = np.round(syn.image.astype(np.float64) * 65535).astype(np.uint16)
    np.testing.assert_array_equal(ds.pixel_array, expected)
    assert not [e for e in ds if e.tag.is_private]


def test_no_deidentify_keeps_header_and_source_uid(tmp_path, rng):
    src = tmp_path / "source.dcm"
    make_source(src)
    syn, cond, _ = variant(src, rng)
    path = write_dicom(syn, tmp_path / "keep.dcm", deidentify=False, conditions=(cond,))
    ds = pydicom.dcmread(path)
    assert str(ds.PatientName) == IDENTIFIERS["PatientName"]
    assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID == IDENTIFIERS["SOPInstanceUID"]
    assert "PatientIdentityRemoved" not in ds
    assert ds.SOPInstanceUID != IDENTIFIERS["SOPInstanceUID"]
    assert ds.SyntheticData == "YES"


def test_not_synthetic_and_no_source(tmp_path, rng):
    rg = Radiograph(rng.random((16, 16), dtype=np.float32))
    ds = pydicom.dcmread(write_dicom(rg, tmp_path / "plain.dcm"))
    assert ds.SyntheticData == "NO" and ds.ConversionType == "WSD"
    assert "SourceImageSequence" not in ds and "PixelSpacing" not in ds
    assert ds.StudyInstanceUID and ds.PatientIdentityRemoved == "YES"


def test_deidentify_whole_header_consistent_uids(tmp_path):
    src = tmp_path / "s.dcm"
    values = make_source(src)
    a = pydicom.dcmread(src)
    b = pydicom.dcmread(src)
    uid_map = UidMap()
    deidentify(a, uid_map)
    deidentify(b, uid_map)
    blob = str(a).encode() + a.PixelData
    assert [k for k, v in values.items() if v.encode() in blob] == []
    assert a.StudyInstanceUID == b.StudyInstanceUID != IDENTIFIERS["StudyInstanceUID"]
    assert a.SOPClassUID == DX  # registered UIDs stay
    assert a.ReferencedImageSequence[0].ReferencedSOPInstanceUID == a.SOPInstanceUID
    assert a.LongitudinalTemporalInformationModified == "REMOVED"


def test_date_shift_option(tmp_path):
    src = tmp_path / "s.dcm"
    make_source(src)
    ds = pydicom.dcmread(src)
    deidentify(ds, date_shift_days=-100)
    assert ds.StudyDate == "20190409"  # 2019-07-18 minus 100 days
    assert ds.PatientBirthDate == ""  # Basic Profile empties it whatever the option
    codes = [c.CodeValue for c in ds.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113107"]


def test_augment_to_dicom_leaks_no_identifier(tmp_path):
    """The batch path too: DICOM variants, masks, sidecars, manifest and failures.csv."""
    from napari_xray_synth.core.batch import AugmentConfig, run_augment
    from test_batch_augment import chest

    inp = tmp_path / "in"
    inp.mkdir()
    values = make_source(inp / "case.dcm", chest(1))
    summary = run_augment(
        inp, tmp_path / "out", AugmentConfig(per_image=2, seed=1, fmt="dcm"), workers=1
    )
    assert summary.written == 2 and summary.failed_sources == 0
    out = tmp_path / "out"
    assert len(list((out / "items").glob("*.json"))) == 2
    blob = _all_bytes(out)
    assert [k for k, v in values.items() if any(n in blob for n in _needles(v))] == []
    for f in sorted((out / "images").iterdir()):
        ds = pydicom.dcmread(f)
        assert ds.SyntheticData == "YES" and ds.PatientIdentityRemoved == "YES"
        assert ds.SourceImageSequence[0].ReferencedSOPClassUID == DX
        assert ds.pixel_array.shape == (128, 112)
