import pytest
import torch

from napari_xray_synth.core import ModelError
from napari_xray_synth.core.models import (
    find_model,
    load_model,
    register_architecture,
    save_model,
)


@register_architecture("test-tiny")
def _tiny(channels: int = 2) -> torch.nn.Module:
    return torch.nn.Conv2d(1, channels, 3, padding=1)


def test_save_load_round_trip(tmp_path):
    net = _tiny(3)
    path = save_model(
        net,
        tmp_path / "tiny",
        "test-tiny",
        {"channels": 3},
        {"training_command": "none", "seed": 0},
    )
    loaded = load_model(tmp_path / "tiny.safetensors")
    assert loaded.card["config"] == {"channels": 3}
    assert torch.equal(loaded.module.weight, net.weight)
    assert len(loaded.sha256) == 64
    # a changed weights file is refused by its sha256
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ModelError, match="sha256"):
        load_model(tmp_path / "tiny")


def test_missing_model_names_the_training_command():
    from napari_xray_synth.core import models

    models.TRAIN_HINTS["nope"] = "xray-synth train nope"
    with pytest.raises(ModelError, match="xray-synth train nope"):
        load_model("nope")


def test_a_path_says_which_file_is_missing(tmp_path):
    with pytest.raises(ModelError, match=r"mine\.safetensors does not exist"):
        find_model(tmp_path / "mine.safetensors")
    (tmp_path / "mine.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelError, match=r"has no model card \(mine\.json beside it\)"):
        find_model(tmp_path / "mine.safetensors")
