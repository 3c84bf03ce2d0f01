"""Per-pathology operating points: chosen at a fixed specificity, stored in the card."""

import json

import numpy as np
import pytest

from evaluate_stand_ins import SIM, synthesize
from napari_xray_synth.cli import main
from napari_xray_synth.core import evaluate as ev
from napari_xray_synth.core.errors import InputError, ModelError
from napari_xray_synth.core.models import read_card, save_model, sha256_file
from napari_xray_synth.core.nn.classifier import CLASSES, build_classifier
from napari_xray_synth.core.operating_points import (
    choose_thresholds,
    thresholds_of,
    write_operating_points,
)

CFG = {"size": 32, "width": 8, "stages": 3, "features_dim": 16}


@pytest.fixture
def tiny_classifier(tmp_path):
    save_model(build_classifier(**CFG), tmp_path / "clf", "pathology-classifier", CFG, {})
    return tmp_path / "clf"


def test_threshold_keeps_the_specificity_and_is_the_lowest_that_does():
    rng = np.random.default_rng(0)
    n = 400
    labels = rng.random((n, 2)) < 0.3
    probs = np.where(labels, rng.uniform(0.2, 1.0, (n, 2)), rng.uniform(0.0, 0.6, (n, 2)))
    table = choose_thresholds(probs, labels, ["a", "b"], 0.9)
    for j, name in enumerate(["a", "b"]):
        t = table[name]["threshold"]
        neg, pos = probs[~labels[:, j], j], probs[labels[:, j], j]
        assert (neg < t).mean() >= 0.9
        # the next lower negative score as threshold would call too many negatives
        below = neg[neg < t].max()
        assert (neg < below).mean() < 0.9
        assert table[name]["sensitivity"] == pytest.approx((pos >= t).mean())
        assert table[name]["negatives"] == neg.size


def test_threshold_is_exact_where_the_specificity_times_n_is_a_whole_number():
    # 0.55 * 100 is 55.000000000000007 in floating point: 55 negatives must stay uncalled, not 56
    neg = np.arange(100) / 100.0
    probs = np.concatenate([neg, [1.0]])[:, None]
    labels = np.zeros((101, 1), bool)
    labels[-1] = True
    row = choose_thresholds(probs, labels, ["a"], 0.55)["a"]
    assert row["specificity"] == pytest.approx(0.55)
    assert 0.54 < row["threshold"] <= 0.55
    # a specificity the negatives cannot give short of calling none: above the highest
    row = choose_thresholds(probs, labels, ["a"], 0.999)["a"]
    assert row["specificity"] == 1.0 and row["sensitivity"] == 1.0


def test_bad_specificity_and_a_class_without_positives_are_refused():
    probs, labels = np.full((10, 1), 0.3), np.zeros((10, 1), bool)
    with pytest.raises(InputError, match="between 0 and 1"):
        choose_thresholds(probs, labels, ["a"], 1.0)
    with pytest.raises(InputError, match="'a'"):
        choose_thresholds(probs, labels, ["a"], 0.95)


def test_card_thresholds_apply_only_to_the_weights_they_were_chosen_for():
    table = {c: {"threshold": 0.1 + 0.1 * k} for k, c in enumerate(CLASSES)}
    card = {"sha256": "abc", "operating_points": {"specificity": 0.95, "thresholds": table}}
    t, rule = thresholds_of(card, CLASSES)
    assert np.allclose(t, 0.5) and rule == "p >= 0.5"  # no weights_sha256: not trusted
    card["operating_points"]["weights_sha256"] = "abc"
    t, rule = thresholds_of(card, CLASSES)
    assert t[2] == pytest.approx(0.3) and "95%" in rule
    card["sha256"] = "retrained"
    assert np.allclose(thresholds_of(card, CLASSES)[0], 0.5)


def test_a_damaged_operating_points_block_is_one_clear_error():
    card = {"sha256": "abc", "operating_points": {"weights_sha256": "abc", "specificity": 0.95}}
    with pytest.raises(ModelError, match="train operating-points"):
        thresholds_of(card, CLASSES)
    card["operating_points"]["thresholds"] = {c: {"threshold": None} for c in CLASSES}
    with pytest.raises(ModelError, match="damaged"):
        thresholds_of(card, CLASSES)


def test_cli_refuses_a_model_that_is_not_a_classifier(tmp_path, capsys):
    from napari_xray_synth.core.nn.generator import ConditionalUNet

    cfg = {"base": 4, "depth": 2}
    save_model(ConditionalUNet(**cfg), tmp_path / "gen", "conditional_unet", cfg, {})
    rc = main(["train", "operating-points", "--model", str(tmp_path / "gen")])
    assert rc != 0
    assert "not a pathology classifier" in capsys.readouterr().err


def test_cli_writes_thresholds_into_the_card_and_leaves_the_weights(tiny_classifier, capsys):
    weights = tiny_classifier.with_suffix(".safetensors")
    before = sha256_file(weights)
    rc = main(["train", "operating-points", "--model", str(tiny_classifier), "--n", "70"])
    assert rc == 0, capsys.readouterr().err
    assert sha256_file(weights) == before
    ops = read_card(tiny_classifier)["operating_points"]
    assert ops["weights_sha256"] == before and ops["specificity"] == 0.95
    assert set(ops["thresholds"]) == set(CLASSES)
    assert all(v["specificity"] >= 0.95 for v in ops["thresholds"].values())
    assert "| nodule |" in capsys.readouterr().out


def test_cli_refuses_a_bad_specificity_without_touching_the_card(tiny_classifier, capsys):
    card = tiny_classifier.with_suffix(".json")
    text = card.read_text()
    rc = main(["train", "operating-points", "--model", str(tiny_classifier), "--specificity", "2"])
    assert rc != 0
    assert "--specificity" in capsys.readouterr().err
    assert card.read_text() == text


def test_evaluate_synth_reports_detection_at_the_cards_operating_point(tmp_path, tiny_classifier):
    # thresholds of 0 call everything: the "at op" columns must then read 1
    table = {c: {"threshold": 0.0} for c in CLASSES}
    write_operating_points(tiny_classifier, table, 0.95, "test", "test", "x")
    report = ev.evaluate_synth(
        tmp_path / "rep",
        n=2,
        size=64,
        classifier=tiny_classifier,
        synthesize_fn=synthesize,
        sim=SIM,
        device="cpu",
    )
    assert "operating point (95% specificity)" in report.read_text()
    m = json.loads((report.parent / "metrics.json").read_text())
    gen = m["conditioning"]["generated"]
    assert all(
        v["detected_at_op"] == 1.0 and v["healthy_called_at_op"] == 1.0 for v in gen.values()
    )
    assert m["classifier"]["operating_point"].startswith("operating point")
