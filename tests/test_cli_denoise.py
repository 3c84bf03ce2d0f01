"""``xray-synth denoise`` and ``xray-synth enhance``: files in, files out, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from napari_xray_synth.cli import main
from napari_xray_synth.core.models import save_model
from napari_xray_synth.core.nn.denoiser import ARCHITECTURE, build_denoiser

CFG = {"c1": 8, "c2": 16, "depth": 2}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    torch.manual_seed(0)
    stem = tmp_path_factory.mktemp("m") / "tiny"
    save_model(build_denoiser(**CFG), stem, ARCHITECTURE, CFG, {"seed": 0})
    return str(stem)


@pytest.fixture
def png16(tmp_path, rng) -> str:
    _, x = np.mgrid[0:90, 0:70]
    img = np.clip(0.5 + 0.2 * np.sin(x / 9) + rng.normal(0, 0.05, x.shape), 0, 1)
    path = tmp_path / "in.png"
    Image.fromarray((img * 65535).astype(np.uint16)).save(path)
    return str(path)


def test_denoise_model_to_tiff(tmp_path, png16, model, capsys):
    out = tmp_path / "out.tif"
    rc = main(["denoise", png16, str(out), "--model", model, "--tile", "64", "--quiet"])
    assert rc == 0 and out.is_file()
    img = tifffile.imread(out)
    assert img.dtype == np.float32 and img.shape == (90, 70)
    assert 0 <= img.min() and img.max() <= 1


@pytest.mark.parametrize("method", ["gaussian", "median", "nl_means", "tv"])
def test_denoise_classical_to_png(tmp_path, png16, method):
    out = tmp_path / "out.png"
    assert main(["denoise", png16, str(out), "--method", method, "--strength", "auto"]) == 0
    img = np.asarray(Image.open(out))
    assert img.dtype == np.uint16 and img.shape == (90, 70)
    src = np.asarray(Image.open(png16)).astype(float)
    assert np.abs(np.diff(img.astype(float), axis=1)).mean() < np.abs(np.diff(src, axis=1)).mean()


def test_enhance(tmp_path, png16):
    out = tmp_path / "e.png"
    rc = main(["enhance", png16, str(out), "--clahe", "0.01", "--unsharp", "1", "--gamma", "0.9"])
    assert rc == 0
    img = np.asarray(Image.open(out))
    assert img.dtype == np.uint16 and img.shape == (90, 70)


def test_user_errors_are_one_line(tmp_path, png16, capsys):
    bad = tmp_path / "nan.tif"
    arr = np.full((8, 8), 0.5, np.float32)
    arr[2, 2] = np.nan
    tifffile.imwrite(bad, arr)
    rc = main(["denoise", str(bad), str(tmp_path / "o.tif"), "--method", "tv"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "nan.tif" in err.lower()
    rc = main(["denoise", png16, str(tmp_path / "o.tif"), "--model", str(tmp_path / "none")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "xray-synth train denoiser" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o.tif").exists()
    with pytest.raises(SystemExit):
        main(["denoise", png16, str(tmp_path / "o.tif"), "--strength", "lots"])
    rc = main(["enhance", png16, str(tmp_path / "o.png"), "--gamma", "-1"])
    assert rc == 2 and "gamma" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["denoise", "--strength", "1e9"],
            "--strength 1e+09 is out of range for model: allowed 0 to 0.5",
        ),
        (["denoise", "--method", "median", "--strength", "100"], "for median: allowed 1 to 10"),
        (["enhance", "--clahe", "5"], "--clahe 5 is out of range: allowed 0 to 1"),
        (["enhance", "--detail", "1.5", "1e9"], "--detail 1e+09 is out of range: allowed 0 to 5"),
        (["enhance"], "no enhancement step was chosen"),
        (["enhance", "--window", "lung", "--gamma", "0"], "--gamma 0 is out of range"),
        (["enhance", "--gamma", "1"], "no enhancement step would change the image: --gamma 1"),
        (["enhance", "--clahe", "0"], "would change the image: --clahe 0 leaves it as it is"),
        (
            ["enhance", "--unsharp", "0", "--detail", "1", "1", "1"],
            "would change the image: --unsharp 0 and --detail 1 1 1 leave it as it is",
        ),
        (
            ["denoise", "--method", "gaussian", "--strength", "0"],
            "--strength 0 would leave the image unchanged for gaussian: allowed more than 0",
        ),
        (
            ["denoise", "--method", "median", "--strength", "0.3"],
            "--strength 0.3 is out of range for median: allowed 1 to 10 (whole numbers)",
        ),
    ],
)
def test_out_of_range_or_empty_is_one_line_and_writes_nothing(
    tmp_path, png16, capsys, args, message
):
    out = tmp_path / "o.tif"
    rc = main([args[0], png16, str(out), *args[1:]])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and message in err, err
    # named as argparse names its own errors for the subcommand
    assert err.startswith(f"xray-synth {args[0]}: error: "), err
    assert not out.exists()


def test_clahe_0_is_off_as_in_the_widget(tmp_path, png16):
    # --clahe 0 was CLAHE without a limit; now it is off (and 1 is no limit) in both
    both, gamma = tmp_path / "both.tif", tmp_path / "gamma.tif"
    assert main(["enhance", png16, str(both), "--clahe", "0", "--gamma", "0.8"]) == 0
    assert main(["enhance", png16, str(gamma), "--gamma", "0.8"]) == 0
    np.testing.assert_array_equal(tifffile.imread(both), tifffile.imread(gamma))
