"""``xray-synth compare``: JSON output, the map file, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from skimage.metrics import structural_similarity

from napari_xray_synth.cli import main


@pytest.fixture
def pair(tmp_path, rng):
    a = rng.random((48, 56)).astype(np.float32)
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1).astype(np.float32)
    mask = np.zeros(a.shape, np.uint8)
    mask[10:30, 15:40] = 1
    paths = {}
    for name, arr in (("a", a), ("b", b), ("mask", mask)):
        paths[name] = tmp_path / f"{name}.tif"
        tifffile.imwrite(paths[name], arr)
    return a, b, mask, paths


def test_compare_json_and_map(pair, tmp_path, capsys):
    a, b, _mask, p = pair
    out = tmp_path / "map.tif"
    code = main(
        [
            "compare",
            str(p["a"]),
            str(p["b"]),
            "--mask",
            str(p["mask"]),
            "--ssim-map",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    res = json.loads(capsys.readouterr().out)
    ref_mean, ref_map = structural_similarity(
        a,
        b,
        data_range=1.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        full=True,
    )
    assert res["ssim"] == pytest.approx(ref_mean, abs=1e-3)
    assert {"psnr", "rmse", "ssim_inside", "ssim_outside"} <= set(res)
    assert res["ssim_map"]["kind"] == "1-ssim" and res["ssim_map"]["path"] == str(out)
    written = tifffile.imread(out)
    assert written.dtype == np.float32 and written.shape == a.shape
    assert np.abs(written - (1.0 - ref_map)).max() < 1e-3
    assert [f.name for f in tmp_path.iterdir() if ".part" in f.name] == []


def test_compare_map_kind_ssim_and_identical(pair, tmp_path, capsys):
    _, _, _, p = pair
    out = tmp_path / "same.tif"
    code = main(
        [
            "compare",
            str(p["a"]),
            str(p["a"]),
            "--ssim-map",
            str(out),
            "--map-kind",
            "ssim",
            "--json",
        ]
    )
    assert code == 0
    res = json.loads(capsys.readouterr().out)
    assert res["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert res["psnr"] is None  # infinite PSNR is null in strict JSON
    assert res["ssim_map"]["kind"] == "ssim"
    assert np.allclose(tifffile.imread(out), 1.0, atol=1e-5)


def test_compare_table_output(pair, capsys):
    _, _, _, p = pair
    assert main(["compare", str(p["a"]), str(p["b"]), "--mask", str(p["mask"])]) == 0
    out = capsys.readouterr().out
    assert "SSIM" in out and "inside" in out and "PSNR" in out


def test_compare_bad_inputs_one_line(pair, tmp_path, capsys):
    a, _, _, p = pair
    small = tmp_path / "small.tif"
    tifffile.imwrite(small, a[:20])
    assert main(["compare", str(p["a"]), str(small)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "48 x 56" in err[0] and "20 x 56" in err[0]

    nan = tmp_path / "nan.tif"
    bad = a.copy()
    bad[0, 0] = np.nan
    tifffile.imwrite(nan, bad)
    assert main(["compare", str(nan), str(p["a"])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nan.tif" in err[0] and "NaN" in err[0]

    assert main(["compare", str(p["a"]), str(p["b"]), "--mask", str(small)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "small.tif" in err[0] and "mask" in err[0]

    out = tmp_path / "nodir" / "map.tif"
    assert main(["compare", str(p["a"]), str(p["b"]), "--ssim-map", str(out)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_the_map_never_overwrites_a_compared_file(pair, tmp_path, capsys):
    from napari_xray_synth.cli import main

    p = pair[3]
    before = {k: v.read_bytes() for k, v in p.items() if k in ("a", "b")}
    for target in (p["a"], p["b"]):
        assert main(["compare", str(p["a"]), str(p["b"]), "--ssim-map", str(target)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "never overwritten" in err[0] and target.name in err[0]
    assert main(["compare", str(p["a"]), str(p["b"]), "--ssim-map", str(tmp_path / "m.png")]) == 2
    assert "TIFF" in capsys.readouterr().err and not (tmp_path / "m.png").exists()
    assert {k: p[k].read_bytes() for k in before} == before


def _resolution_tags(path) -> tuple:
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        return tuple(tags[k].value for k in ("XResolution", "YResolution", "ResolutionUnit"))


def test_the_map_carries_the_pixel_spacing_as_convert_writes_it(tmp_path, rng, capsys):
    """The map is on A's pixels: A's spacing (else B's), in the resolution tags that
    ``convert`` writes, so the project's reader and other TIFF readers find it."""
    from dicom_factory import make_ds, ramp, save
    from napari_xray_synth.core.io import read_radiograph

    dcm = save(make_ds(ramp((40, 52), 0, 4000), pixel_spacing=[0.25, 0.2]), tmp_path / "a.dcm")
    converted = tmp_path / "a.tif"
    assert main(["convert", str(dcm), str(converted)]) == 0
    noisy = read_radiograph(converted).image + 0.05 * rng.standard_normal((40, 52))
    plain = tmp_path / "b.tif"  # no spacing of its own
    tifffile.imwrite(plain, np.clip(noisy, 0, 1).astype(np.float32))
    capsys.readouterr()
    for a, b in ((converted, plain), (plain, converted)):
        out = tmp_path / f"map_{a.stem}.tif"
        assert main(["compare", str(a), str(b), "--ssim-map", str(out), "--json"]) == 0
        assert _resolution_tags(out) == _resolution_tags(converted)
        assert json.loads(capsys.readouterr().out)["ssim_map"]["spacing_mm"] == [0.25, 0.2]
        back = read_radiograph(out)
        assert back.spacing == pytest.approx((0.25, 0.2)) and "resolution" in back.spacing_source
        with tifffile.TiffFile(out) as tif:
            assert tif.pages[0].dtype == np.float32
            x_res = tif.pages[0].tags["XResolution"].value
            assert 10.0 * x_res[1] / x_res[0] == pytest.approx(0.2)  # mm per column
            assert json.loads(tif.pages[0].description)["spacing_mm"] == [0.25, 0.2]
