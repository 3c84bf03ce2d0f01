import json

import numpy as np
from PIL import Image
from scipy import ndimage

from napari_xray_synth.cli import main
from napari_xray_synth.core.models import load_model
from napari_xray_synth.core.train.gan_data import load_windows, save_windows

TINY = [
    "--window",
    "32",
    "--base",
    "4",
    "--depth",
    "2",
    "--d-base",
    "4",
    "--batch",
    "2",
    "--checkpoint-every",
    "100",
]


def test_train_gan_on_the_simulator_and_resume(tmp_path):
    out = tmp_path / "gen"
    args = [
        "train",
        "gan",
        "--data",
        "sim",
        "--out",
        str(out),
        "--cases",
        "2",
        "--image-px",
        "128",
        "--cache",
        str(tmp_path / "w.npz"),
        *TINY,
    ]
    assert main([*args, "--steps", "2"]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["steps_done"] == 2 and "--data sim" in card["command"]
    # every setting given on the command line reaches the run
    assert card["training"]["window"] == 32 and card["training"]["g_base"] == 4
    assert card["training"]["g_depth"] == 2 and card["training"]["d_base"] == 4
    assert card["config"] == {"base": 4, "depth": 2}
    assert "--depth 2" in card["command"] and "--d-base 4" in card["command"]
    assert (tmp_path / "gen_run" / "samples.png").is_file()
    assert (tmp_path / "w.npz").is_file()
    ck = tmp_path / "gen_run" / "checkpoint"
    assert main([*args, "--steps", "3", "--resume", str(ck)]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["steps_done"] == 3
    assert load_model(out, "cpu").card["architecture"] == "conditional_unet"


def test_a_window_cache_made_otherwise_is_refused(tmp_path, capsys):
    cache = tmp_path / "w.npz"
    base = ["train", "gan", "--data", "sim", "--image-px", "128", "--cache", str(cache), *TINY]
    assert main([*base, "--out", str(tmp_path / "a"), "--cases", "2", "--steps", "1"]) == 0
    before = cache.read_bytes()
    # other cases (or seeds, window, simulator) than the cache holds: one line, no training
    rc = main([*base, "--out", str(tmp_path / "b"), "--cases", "3", "--steps", "1"])
    err = capsys.readouterr().err
    assert rc != 0 and str(cache) in err and "cases" in err and "Traceback" not in err
    assert not (tmp_path / "b.safetensors").exists() and cache.read_bytes() == before
    # a cache from before caches recorded their settings is refused too
    ws = load_windows(cache)
    save_windows(ws, cache)
    rc = main([*base, "--out", str(tmp_path / "c"), "--cases", "2", "--steps", "1"])
    assert rc != 0 and "does not record" in capsys.readouterr().err


def test_train_gan_unpaired_from_a_chestxray14_csv(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["Image Index,Finding Label,Bbox [x,y,w,h]"]
    for k in range(4):
        img = ndimage.gaussian_filter(rng.random((96, 96)), 2)
        img = np.clip((img - img.mean()) * 4 + 0.5, 0, 1)
        if k % 2:
            img[40:52, 40:52] += 0.3
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(tmp_path / f"{k}.png")
        rows.append(f'{k}.png,Nodule,"40,40,12,12"' if k % 2 else f"{k}.png,No Finding,")
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    out = tmp_path / "gen"
    assert (
        main(
            [
                "train",
                "gan",
                "--data",
                str(csv_path),
                "--out",
                str(out),
                "--steps",
                "2",
                "--spacing",
                "1.0",
                *TINY,
            ]
        )
        == 0
    )
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["training"]["mode"] == "unpaired"


def test_train_gan_bad_input(tmp_path, capsys):
    assert (
        main(["train", "gan", "--data", str(tmp_path / "none.csv"), "--out", str(tmp_path / "g")])
        == 2
    )
    assert "no such file" in capsys.readouterr().err
    csv_path = tmp_path / "l.csv"
    csv_path.write_text("Image Index,Finding Label\n")
    assert (
        main(
            [
                "train",
                "gan",
                "--data",
                str(csv_path),
                "--out",
                str(tmp_path / "g"),
                "--mode",
                "paired",
            ]
        )
        == 2
    )
    assert "paired mode needs --data sim" in capsys.readouterr().err
