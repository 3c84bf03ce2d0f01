"""napari sample data: simulated chest radiographs, healthy and one per pathology.

Each sample returns the image layer and, for a pathology, a labels layer of its exact mask.
They are made on the fly by the simulator (no download), from fixed seeds.
"""

from __future__ import annotations

from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.simulate import simulate_chest
from napari_xray_synth.plugin.layers import LayerDataTuple, image_layer_tuple, labels_layer_tuple

SIZE = 1024
SEEDS = {"healthy": 7, **{p: 100 + i for i, p in enumerate(PATHOLOGIES)}}


def _sample(pathology: str | None) -> list[LayerDataTuple]:
    key = pathology or "healthy"
    case = simulate_chest(SEEDS[key], SIZE, pathology)
    if case.diseased is None:
        return [image_layer_tuple(case.healthy, "simulated chest (healthy)")]
    name = f"simulated chest ({pathology})"
    cond = case.conditions[0]
    return [
        image_layer_tuple(case.diseased, name),
        labels_layer_tuple(
            case.mask,
            f"{pathology} mask",
            case.diseased.spacing,
            # "variants" pairs the mask with its image (the Export widget reads it)
            {"conditions": [cond.to_dict()], "synthetic": True, "variants": [name]},
        ),
    ]


def healthy_chest() -> list[LayerDataTuple]:
    """A healthy simulated PA chest radiograph."""
    return _sample(None)


def nodule_chest() -> list[LayerDataTuple]:
    """A simulated chest with a lung nodule, and its mask."""
    return _sample("nodule")


def mass_chest() -> list[LayerDataTuple]:
    """A simulated chest with a lung mass, and its mask."""
    return _sample("mass")


def effusion_chest() -> list[LayerDataTuple]:
    """A simulated chest with a pleural effusion, and its mask."""
    return _sample("effusion")


def pneumothorax_chest() -> list[LayerDataTuple]:
    """A simulated chest with a pneumothorax, and its mask."""
    return _sample("pneumothorax")


def consolidation_chest() -> list[LayerDataTuple]:
    """A simulated chest with a consolidation, and its mask."""
    return _sample("consolidation")


def cardiomegaly_chest() -> list[LayerDataTuple]:
    """A simulated chest with cardiomegaly, and its mask."""
    return _sample("cardiomegaly")
