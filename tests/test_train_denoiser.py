"""Training the denoiser: tiny supervised and Noise2Void runs, checkpoints, resume, the card."""

from __future__ import annotations

import json

import numpy as np
import pytest
from skimage import data, io, transform

from napari_xray_synth.cli import main
from napari_xray_synth.core.denoise import denoise
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.train.denoiser import DenoiserTrainConfig, train_denoiser
from napari_xray_synth.core.train.noise import own_noisy

TINY = {"c1": 4, "c2": 8, "depth": 1}


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("clean")
    for i, im in enumerate([data.camera(), data.moon()]):
        small = transform.resize(im.astype(np.float32) / 255, (72, 72))
        io.imsave(d / f"im{i}.png", (small * 65535).astype(np.uint16), check_contrast=False)
    return d


@pytest.fixture(scope="module")
def noisy_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("noisy")
    for i, im in enumerate([data.camera(), data.moon()]):
        small = transform.resize(im.astype(np.float32) / 255, (72, 72)).astype(np.float32)
        noisy = own_noisy(small, 3e4, i)
        io.imsave(d / f"im{i}.png", (noisy * 65535).astype(np.uint16), check_contrast=False)
    return d


def cfg(tmp_path, **kw) -> DenoiserTrainConfig:
    base = dict(
        out=str(tmp_path / "m"),
        steps=4,
        batch=2,
        patch=32,
        workdir=str(tmp_path / "run"),
        checkpoint_every=2,
        sim_images=2,
        sim_size=64,
        heldout_size=64,
        heldout_cases=0,
        net=dict(TINY),
        device="cpu",
    )
    base.update(kw)
    return DenoiserTrainConfig(**base)


def test_supervised_on_a_folder_then_resume(tmp_path, clean_dir):
    card = train_denoiser(cfg(tmp_path, data=str(clean_dir), steps=4))
    run = tmp_path / "run"
    assert (run / "checkpoint.safetensors").is_file() and (run / "loss.png").is_file()
    state = json.loads((run / "checkpoint.json").read_text())
    assert state["step"] == 4 and len(state["history"]) == 4
    assert card["seed"] == 0 and "clean images" in card["data"]
    # resume: continues from step 4 and keeps the history
    train_denoiser(cfg(tmp_path, data=str(clean_dir), steps=6), resume=run)
    state = json.loads((run / "checkpoint.json").read_text())
    assert state["step"] == 6 and [h[0] for h in state["history"]] == [1, 2, 3, 4, 5, 6]
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["architecture"] == "xray-denoiser-unet" and len(saved["sha256"]) == 64
    out = denoise(np.full((40, 40), 0.5, np.float32), model=str(tmp_path / "m"))
    assert out.image.shape == (40, 40)


def test_noise2void_on_noisy_images(tmp_path, noisy_dir):
    card = train_denoiser(cfg(tmp_path, data=str(noisy_dir), mode="n2v", steps=3))
    assert card["mode"] == "n2v" and "Noise2Void" in card["data"]
    state = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert state["step"] == 3 and all(np.isfinite(h[1]) for h in state["history"])


def test_simulator_pairs_and_heldout_metrics(tmp_path):
    card = train_denoiser(cfg(tmp_path, data="sim", steps=2, heldout_cases=1))
    metrics = card["metrics"]["heldout_simulator"]
    assert {"dose=30000.0", "dose=150000.0", "dose=1000000.0"} <= set(metrics)
    assert all(np.isfinite(v["psnr_denoised"]) for k, v in metrics.items() if k.startswith("dose"))
    assert "simulator chests" in card["data"]


def test_bad_training_input(tmp_path, clean_dir):
    with pytest.raises(InputError, match="n2v"):
        train_denoiser(cfg(tmp_path, data="sim", mode="n2v"))
    with pytest.raises(InputError, match="not a folder"):
        train_denoiser(cfg(tmp_path, data=str(tmp_path / "missing")))
    with pytest.raises(InputError, match="patch"):
        train_denoiser(cfg(tmp_path, data=str(clean_dir), patch=30))
    with pytest.raises(InputError, match="smaller than the patch"):
        train_denoiser(cfg(tmp_path, data=str(clean_dir), patch=128))


def test_cli_train(tmp_path, clean_dir, capsys):
    rc = main(
        [
            "train",
            "denoiser",
            "--data",
            str(clean_dir),
            "--out",
            str(tmp_path / "cli"),
            "--steps",
            "2",
            "--batch",
            "2",
            "--patch",
            "32",
            "--workdir",
            str(tmp_path / "r"),
            "--heldout-size",
            "64",
            "--heldout-cases",
            "0",
            "--quiet",
            "--net",
            "4,8,1",
        ]
    )
    assert rc == 0
    card = json.loads((tmp_path / "cli.json").read_text())
    assert card["training_command"].startswith("xray-synth train denoiser")
    assert card["config"] == TINY
