"""Unpaired GAN training on a data set exported with painted masks: annotate, export, train."""

from __future__ import annotations

import csv
import json

import imageio.v3 as iio
import numpy as np
import pytest
from scipy import ndimage

from napari_xray_synth.cli import main
from napari_xray_synth.core.conditions import LABELS
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.export import ExportItem, export_dataset
from napari_xray_synth.core.radiograph import Radiograph
from napari_xray_synth.core.train.gan_data import csv_windows
from napari_xray_synth.core.train.real_labels import read_labels

TINY = ["--window", "32", "--base", "4", "--depth", "2", "--d-base", "4", "--batch", "2"]
SPACING = (0.5, 0.5)


def film(rng: np.random.Generator, shape=(120, 100), synthetic=False) -> Radiograph:
    img = ndimage.gaussian_filter(rng.random(shape), 3)
    img = np.clip((img - img.mean()) * 6 + 0.5, 0, 1).astype(np.float32)
    return Radiograph(image=img, spacing=SPACING, spacing_source="test", synthetic=synthetic)


def exported(tmp_path, rng, fmt="png"):
    """Four films: two painted lesions, an empty mask, no mask, and a synthetic variant."""
    painted = np.zeros((120, 100), np.uint8)
    painted[20:30, 10:22] = LABELS["nodule"]
    painted[60:100, 40:90] = LABELS["mass"]
    painted[5, 5] = LABELS["mass"]  # a brush speck: not a lesion
    synthetic_mask = np.zeros((120, 100), np.uint8)
    synthetic_mask[50:60, 50:60] = LABELS["nodule"]
    items = [
        ExportItem("a_painted", film(rng), painted),
        ExportItem("b_empty", film(rng), np.zeros((120, 100), np.uint8)),
        ExportItem("c_nomask", film(rng)),
        ExportItem("d_variant", film(rng, synthetic=True), synthetic_mask),
    ]
    return export_dataset(items, tmp_path / "set", fmt)


def test_painted_regions_become_lesions_and_the_rest_healthy(tmp_path, rng):
    manifest = exported(tmp_path, rng)
    rows = read_labels(manifest)
    lesions = sorted((r.finding, r.box) for r in rows if r.finding)
    # pathology from the label value, box (x, y, w, h) from the region; the speck and the
    # synthetic variant's nodule are not lesions
    assert lesions == [("mass", (40.0, 60.0, 50.0, 40.0)), ("nodule", (10.0, 20.0, 12.0, 10.0))]
    healthy = sorted(r.path.name for r in rows if not r.finding)
    assert healthy == ["b_empty.png", "c_nomask.png"]
    assert all(r.spacing_mm == pytest.approx(0.5) for r in rows)


def test_windows_from_an_export_use_its_spacing(tmp_path, rng):
    manifest = exported(tmp_path, rng)  # the PNGs carry the spacing (pHYs): 0.5, not 3.0
    data, real = csv_windows(manifest, 32, seed=0, spacing_mm=3.0)
    assert len(real) == 2 and len(data) == 2 and data.y is None
    # PNGs that carry none (saved again elsewhere): the manifest's spacing decides
    for png in (manifest.parent / "images").glob("*.png"):
        iio.imwrite(png, iio.imread(png))  # no pHYs chunk
    assert np.array_equal(csv_windows(manifest, 32, seed=0, spacing_mm=3.0)[1].mask, real.mask)
    _rewrite(manifest, spacing_row_mm="", spacing_col_mm="")
    # without the manifest's spacing the default decides: 0.5 gives the same windows, 3.0 not
    same = csv_windows(manifest, 32, seed=0, spacing_mm=0.5)[1]
    other = csv_windows(manifest, 32, seed=0, spacing_mm=3.0)[1]
    assert np.array_equal(same.mask, real.mask)
    assert not np.array_equal(other.mask, real.mask)


def test_train_gan_on_an_exported_data_set(tmp_path, rng, capsys):
    manifest = exported(tmp_path, rng, fmt="tif")
    out = tmp_path / "gen"
    argv = ["train", "gan", "--data", str(manifest), "--out", str(out), "--steps", "2", *TINY]
    assert main(argv) == 0
    assert "only 2 labelled lesions" in capsys.readouterr().err  # far too few: a warning
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["training"]["mode"] == "unpaired"
    assert "2 healthy, 2 labelled" in json.dumps(card)
    assert "--anchor 0.0 --d-warmup 0" in card["command"]  # trained from scratch: no anchor
    # fine-tuning it: held to where it starts, after the discriminator has warmed up (the
    # generator's shape comes from the one it starts from: no --window/--base/--depth)
    tuned = tmp_path / "tuned"
    argv = ["train", "gan", "--data", str(manifest), "--out", str(tuned), "--d-base", "4"]
    assert main([*argv, "--batch", "2", "--steps", "202", "--init-from", str(out)]) == 0
    card = json.loads(tuned.with_suffix(".json").read_text())
    assert card["window"] == 32 and card["config"] == {"base": 4, "depth": 2}
    losses = json.loads((tmp_path / "tuned_run" / "checkpoint.json").read_text())["history"]
    assert "g" not in losses[199] and "anchor" in losses[201]  # 200 D-only steps, then G
    assert "--r1 0.0" in card["command"] and "--anchor 10.0 --d-warmup 200" in card["command"]
    assert card["training"]["anchor"] == 10.0 and card["training"]["d_warmup"] == 200
    assert card["training"]["d_steps"] == 4 and card["training"]["mode_seeking"] == 0.0


def test_an_anchor_needs_a_start(tmp_path, rng, capsys):
    manifest = exported(tmp_path, rng)
    out = tmp_path / "gen"
    argv = ["train", "gan", "--data", str(manifest), "--out", str(out), "--steps", "2", *TINY]
    assert main([*argv, "--anchor", "5"]) == 2
    err = capsys.readouterr().err
    assert "--init-from" in err and "Traceback" not in err
    assert not out.with_suffix(".safetensors").exists()


def _rewrite(manifest, **changes):
    with open(manifest, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if row["id"] == "a_painted":
            row.update(changes)
    with open(manifest, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_bad_labels_name_the_file(tmp_path, rng, capsys):
    manifest = exported(tmp_path, rng)
    mask = manifest.parent / "masks" / "a_painted.png"
    m = iio.imread(mask)
    m[0:3, 0:3] = 9
    iio.imwrite(mask, m)
    with pytest.raises(InputError, match=r"label 9.*no pathology") as exc:
        read_labels(manifest)
    assert "a_painted.png" in str(exc.value)
    before = manifest.read_bytes()
    out = tmp_path / "gen"
    assert main(["train", "gan", "--data", str(manifest), "--out", str(out), *TINY]) != 0
    err = capsys.readouterr().err
    assert "a_painted.png" in err and "Traceback" not in err
    assert not out.with_suffix(".safetensors").exists() and manifest.read_bytes() == before


def test_a_mask_of_another_image_is_refused(tmp_path, rng):
    manifest = exported(tmp_path, rng)
    small = np.zeros((60, 50), np.uint8)
    small[10:20, 10:20] = LABELS["nodule"]
    iio.imwrite(manifest.parent / "masks" / "small.png", small)
    _rewrite(manifest, mask="masks/small.png")
    with pytest.raises(InputError, match=r"mask has shape \(60, 50\), the image \(120, 100\)"):
        csv_windows(manifest, 32, seed=0)


def test_a_csv_of_neither_kind_is_refused(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("name,label\nx.png,Nodule\n")
    with pytest.raises(InputError, match=r"Image Index.*manifest"):
        read_labels(path)
    path.write_text("id,file,mask,synthetic\n")
    with pytest.raises(InputError, match="lists no images"):
        read_labels(path)
    # a manifest that cannot tell real films from simulated ones (xray-synth simulate's)
    path.write_text("id,file,mask\na,a.png,a_mask.png\n")
    with pytest.raises(InputError, match="no 'synthetic' column"):
        read_labels(path)


def test_a_film_with_only_specks_painted_is_neither_sick_nor_healthy(tmp_path, rng):
    specks = np.zeros((120, 100), np.uint8)
    specks[3, 3] = specks[90, 90] = LABELS["nodule"]
    painted = np.zeros((120, 100), np.uint8)
    painted[20:30, 10:22] = LABELS["nodule"]
    items = [
        ExportItem("specks", film(rng), specks),
        ExportItem("painted", film(rng), painted),
        ExportItem("clear", film(rng), np.zeros((120, 100), np.uint8)),
    ]
    rows = read_labels(export_dataset(items, tmp_path / "set", "png"))
    assert sorted((r.path.stem, r.finding) for r in rows) == [
        ("clear", ""),
        ("painted", "nodule"),
    ]


def test_resuming_a_fine_tune_keeps_its_settings(tmp_path, rng):
    manifest = exported(tmp_path, rng, fmt="tif")
    base = ["train", "gan", "--data", str(manifest), *TINY]
    assert main([*base, "--out", str(tmp_path / "start"), "--steps", "2"]) == 0
    tune = [*base, "--init-from", str(tmp_path / "start"), "--d-warmup", "2", "--anchor", "7"]
    assert main([*tune, "--out", str(tmp_path / "a"), "--steps", "4"]) == 0
    # resumed without --init-from: the checkpoint's settings, not the table's defaults
    resume = [*base, "--resume", str(tmp_path / "a_run" / "checkpoint"), "--steps", "5"]
    assert main([*resume, "--out", str(tmp_path / "b")]) == 0
    cfg = json.loads((tmp_path / "b.json").read_text())["training"]
    assert (cfg["r1"], cfg["d_steps"], cfg["mode_seeking"]) == (0.0, 4, 0.0)
    assert (cfg["anchor"], cfg["d_warmup"]) == (7.0, 2)


def test_steps_within_the_warm_up_are_refused(tmp_path, rng, capsys):
    manifest = exported(tmp_path, rng)
    base = ["train", "gan", "--data", str(manifest), *TINY]
    assert main([*base, "--out", str(tmp_path / "start"), "--steps", "2"]) == 0
    out = tmp_path / "tuned"
    argv = [*base, "--init-from", str(tmp_path / "start"), "--out", str(out), "--steps", "50"]
    assert main(argv) == 2  # the default warm-up is 200 steps
    err = capsys.readouterr().err
    assert "--d-warmup (200)" in err and "Traceback" not in err
    assert not out.with_suffix(".safetensors").exists()
