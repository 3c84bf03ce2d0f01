"""Bad input: one InputError naming the file and the reason; inputs untouched, nothing written."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
import tifffile
from PIL import Image
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import BasicTextSRStorage, ExplicitVRLittleEndian, JPEGExtended12Bit

from dicom_factory import make_ds, ramp, save
from napari_xray_synth.core import InputError
from napari_xray_synth.core.io import is_supported, read_radiograph, read_stack


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def broken_jpeg_extended(path):
    """A 12-bit JPEG extended file whose scan header says Se = 0 (as the damaged WG04 RG2_JPLY)."""
    buf = io.BytesIO()
    Image.fromarray(ramp((32, 32), 0, 255, np.uint8)).save(buf, format="JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 1] = 0xC1  # extended sequential
    data[sof + 4] = 12  # 12-bit samples (Pillow's decoder refuses those)
    sos = data.index(b"\xff\xda")
    ns = data[sos + 4]
    data[sos + 5 + 2 * ns + 1] = 0  # spectral selection end: must be 63 for sequential
    ds = make_ds(ramp((32, 32), 0, 4095), bits_stored=12)
    ds.file_meta.TransferSyntaxUID = JPEGExtended12Bit
    ds.PixelData = encapsulate([bytes(data)])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


def structured_report(path):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = BasicTextSRStorage
    meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), Dataset(), file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = BasicTextSRStorage
    ds.SOPInstanceUID = "1.2.3.4"
    ds.Modality = "SR"
    ds.PatientName = "Doe^Jane"
    ds.save_as(path, enforce_file_format=True)
    return path


def _cases(tmp_path):
    good = save(make_ds(ramp((64, 64), 0, 4095), bits_stored=12), tmp_path / "good.dcm")
    raw = good.read_bytes()
    (tmp_path / "truncated.dcm").write_bytes(raw[: len(raw) - 3000])
    (tmp_path / "corrupt.dcm").write_bytes(raw[:132] + bytes(range(256)) * 8)
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("just some text, not an image\n" * 20)
    (tmp_path / "garbage").write_bytes(np.random.default_rng(0).bytes(4000))
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "colour.png")
    Image.fromarray(rgb).save(tmp_path / "colour.jpg")
    tifffile.imwrite(tmp_path / "colour.tif", rgb, photometric="rgb")
    colour_dcm = make_ds(rgb, photometric="RGB")
    save(colour_dcm, tmp_path / "colour.dcm")
    tifffile.imwrite(
        tmp_path / "pages.tif", np.zeros((3, 8, 8), np.uint8), photometric="minisblack"
    )
    (tmp_path / "folder").mkdir()
    return {
        "truncated.dcm": "damaged or truncated",
        "corrupt.dcm": "is a damaged DICOM file",
        "empty.dcm": "is empty",
        "notes.txt": "not a DICOM, TIFF, PNG or JPEG file",
        "garbage": "not a DICOM, TIFF, PNG or JPEG file",
        "colour.png": "colour image",
        "colour.jpg": "colour image",
        "colour.tif": "colour image",
        "colour.dcm": "colour image",
        "pages.tif": "holds 3 images; one is needed",
        "folder": "is a folder",
        "missing.dcm": "does not exist",
        "sr.dcm": "holds no image: there is no Pixel Data (it is a Basic Text SR",
        "jply.dcm": "no decoder accepts its JPEG Extended",
    }


@pytest.fixture
def bad_files(tmp_path):
    cases = _cases(tmp_path)
    structured_report(tmp_path / "sr.dcm")
    broken_jpeg_extended(tmp_path / "jply.dcm")
    return tmp_path, cases


def test_every_bad_input_is_one_clear_input_error(bad_files):
    folder, cases = bad_files
    before = {p.name: _sha(p) for p in folder.iterdir() if p.is_file()}
    for name, reason in cases.items():
        path = folder / name
        with pytest.raises(InputError) as info:
            read_radiograph(path)
            pytest.fail(f"{name} was read")
        msg = str(info.value)
        assert msg.startswith(str(path) + ": "), msg
        assert reason in msg, (name, msg)
        assert "\n" not in msg, (name, msg)
    after = {p.name: _sha(p) for p in folder.iterdir() if p.is_file()}
    assert after == before  # inputs never modified, nothing new written


def test_read_stack_errors_too(bad_files):
    folder, _ = bad_files
    with pytest.raises(InputError, match="no decoder accepts"):
        read_stack(folder / "jply.dcm")


def test_is_supported_is_cheap_and_honest(bad_files, tmp_path):
    folder, _ = bad_files
    assert is_supported(folder / "good.dcm")
    assert is_supported(folder / "corrupt.dcm")  # ours to report, by its suffix
    assert not is_supported(folder / "notes.txt")
    assert not is_supported(folder / "folder")
    assert not is_supported(folder / "missing.dcm")
    assert is_supported(folder / "colour.png")


def test_bad_spacing_argument(tmp_path):
    path = save(make_ds(ramp((8, 8), 0, 255, np.uint8)), tmp_path / "a.dcm")
    with pytest.raises(InputError, match="pixel spacing"):
        read_radiograph(path, spacing=(0.1, -1))
