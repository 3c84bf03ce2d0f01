import numpy as np
import pytest

from napari_xray_synth.core import InputError, Provenance, Radiograph, Window


def test_radiograph_is_float32_2d():
    rg = Radiograph(np.zeros((4, 5), np.uint8))
    assert rg.image.dtype == np.float32
    assert rg.shape == (4, 5)
    with pytest.raises(InputError, match="2-D"):
        Radiograph(np.zeros((2, 3, 4)))


def test_bad_spacing_becomes_unknown():
    assert Radiograph(np.zeros((2, 2)), spacing=(0.0, 0.2)).spacing is None
    assert Radiograph(np.zeros((2, 2)), spacing=(0.2, 0.3)).spacing == (0.2, 0.3)


def test_windows_apply():
    img = np.linspace(0, 1, 11, dtype=np.float32)[None, :]
    w = Window(0.5, 0.2, "narrow")
    out = w.apply(img)
    assert out[0, 0] == 0.0 and out[0, -1] == 1.0
    assert out[0, 5] == pytest.approx(0.5)
    sig = Window(0.5, 0.2, "s", "SIGMOID").apply(img)
    assert sig[0, 5] == pytest.approx(0.5) and sig[0, 0] < 0.01
    lut = Window(0, 0, "lut", "LUT", lut=(np.array([0.0, 1.0]), np.array([1.0, 0.0])))
    assert lut.apply(img)[0, 0] == pytest.approx(1.0)


def test_derive_keeps_history():
    rg = Radiograph(np.zeros((3, 3)), provenance=(Provenance("read", source="a.dcm"),))
    out = rg.derive(np.ones((3, 3)), Provenance("denoise", {"strength": 0.1}), synthetic=True)
    assert [p.operation for p in out.provenance] == ["read", "denoise"]
    assert out.source == "a.dcm" and out.synthetic and not rg.synthetic
    meta = out.metadata()
    assert meta["provenance"][1]["parameters"] == {"strength": 0.1}
    assert Provenance.from_dict(meta["provenance"][1]).operation == "denoise"


def test_source_date_epoch_pins_the_time_or_is_refused(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", " 1700000000 ")
    assert Provenance("read").time == "2023-11-14T22:13:20+00:00"
    for bad in ("-5", "", "abc", "99999999999999999"):  # not silently the wall clock
        monkeypatch.setenv("SOURCE_DATE_EPOCH", bad)
        with pytest.raises(InputError, match="SOURCE_DATE_EPOCH must be a whole number"):
            Provenance("read")
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert Provenance("read").time.endswith("+00:00")
