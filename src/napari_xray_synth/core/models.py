"""The registry of shipped weights: safetensors files with a JSON model card beside them.

A model ``NAME`` is ``NAME.safetensors`` plus ``NAME.json`` in a models folder. The card names
the architecture and its config, the sha256 of the weights (checked at load), the exact training
command, the data, the seed and the measured metrics. Never a pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from napari_xray_synth.core.atomic import atomic_path
from napari_xray_synth.core.errors import ModelError

_ARCHITECTURES: dict[str, Callable[..., torch.nn.Module]] = {}

# What trains each shipped model: named in the error when one is missing.
TRAIN_HINTS: dict[str, str] = {}


def register_architecture(name: str) -> Callable[[Callable[..., torch.nn.Module]], Any]:
    """Class decorator: make a network buildable from a card's ``architecture`` and ``config``."""

    def deco(builder: Callable[..., torch.nn.Module]) -> Callable[..., torch.nn.Module]:
        _ARCHITECTURES[name] = builder
        return builder

    return deco


def models_dirs() -> list[Path]:
    """Folders searched for models: $XRAY_SYNTH_MODELS, the installed package, the repository."""
    dirs = []
    env = os.environ.get("XRAY_SYNTH_MODELS")
    if env:
        dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    pkg = Path(__file__).resolve().parents[1]
    dirs.append(pkg / "models")
    dirs.append(pkg.parents[1] / "models")  # src layout: <repo>/src/napari_xray_synth
    return [d for d in dirs if d.is_dir()]


def model_names(architecture: str) -> list[str]:
    """Names of the models of one architecture in :func:`models_dirs` (first folder wins).

    Parameters
    ----------
    architecture : str
        The card's ``architecture``, e.g. "conditional_unet" for generators.

    Returns
    -------
    list of str
        Model names (usable wherever a model name is taken), each with its weights present.
    """
    names: list[str] = []
    for d in models_dirs():
        for card in sorted(d.glob("*.json")):
            try:
                arch = json.loads(card.read_text()).get("architecture")
            except (OSError, ValueError, AttributeError):
                continue  # not a model card
            if arch == architecture and card.with_suffix(".safetensors").is_file():
                if card.stem not in names:
                    names.append(card.stem)
    return names


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class LoadedModel:
    """A network ready for inference with its card."""

    name: str
    module: torch.nn.Module
    card: Mapping[str, Any]

    @property
    def sha256(self) -> str:
        """sha256 of the weights file."""
        return str(self.card["sha256"])


def _missing(name: str, why: str) -> ModelError:
    hint = TRAIN_HINTS.get(name)
    how = f"; train it with: {hint}" if hint else ""
    return ModelError(f"model {name!r}: {why}{how}")


def find_model(name: str | Path) -> tuple[Path, Path]:
    """Locate ``(weights, card)`` for a model name or a path to its ``.safetensors``/``.json``.

    Raises
    ------
    ModelError
        When no such model exists; the message names the command that trains it.
    """
    p = Path(name)
    if p.suffix in (".safetensors", ".json") or p.parent != Path("."):
        stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
        weights, card = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
        if weights.is_file() and card.is_file():
            return weights, card
        if not weights.is_file():
            raise _missing(str(name), f"{weights} does not exist")
        raise _missing(
            str(name),
            f"{weights} has no model card ({card.name} beside it): load weights that a "
            "training command of xray-synth saved, with their card",
        )
    for d in models_dirs():
        weights, card = d / f"{name}.safetensors", d / f"{name}.json"
        if weights.is_file() and card.is_file():
            return weights, card
    raise _missing(str(name), "not found in " + ", ".join(str(d) for d in models_dirs()))


def read_card(name: str | Path) -> dict[str, Any]:
    """The model card of ``name`` as a dictionary."""
    _, card = find_model(name)
    return json.loads(card.read_text())


def load_model(name: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Load a model through its card, checking the weights' sha256.

    Parameters
    ----------
    name : str or Path
        A model name in the models folders, or a path to its weights or card.
    device : torch.device or str
        Where to put the network.

    Raises
    ------
    ModelError
        Missing files, a sha256 that does not match the card, or an unknown architecture.
    """
    weights, card_path = find_model(name)
    try:
        card = json.loads(card_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{card_path}: unreadable model card ({exc})") from exc
    digest = sha256_file(weights)
    if digest != card.get("sha256"):
        raise _missing(
            str(name),
            f"{weights.name} has sha256 {digest[:12]}…, its card says "
            f"{str(card.get('sha256'))[:12]}…: the file was changed or replaced",
        )
    arch = card.get("architecture")
    _import_networks()
    if arch not in _ARCHITECTURES:
        raise ModelError(f"{card_path}: unknown architecture {arch!r}")
    module = _ARCHITECTURES[arch](**card.get("config", {}))
    state = load_file(str(weights), device="cpu")
    module.load_state_dict(state)
    module.eval().to(device)
    return LoadedModel(name=Path(name).stem, module=module, card=card)


def save_model(
    module: torch.nn.Module,
    path: str | Path,
    architecture: str,
    config: Mapping[str, Any],
    card: Mapping[str, Any],
) -> Path:
    """Save weights as safetensors and write the card beside them, both atomically.

    Parameters
    ----------
    module : torch.nn.Module
        The trained network.
    path : str or Path
        Weights path or stem; ``.safetensors`` and ``.json`` are put beside each other.
    architecture : str
        A name registered with :func:`register_architecture`.
    config : Mapping
        Keyword arguments that rebuild the network.
    card : Mapping
        Everything else for the card: training command, data, seed, metrics, ...

    Returns
    -------
    Path
        The weights file.
    """
    stem = Path(path)
    if stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    weights, card_path = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp))
    full = {
        "name": stem.name,
        "architecture": architecture,
        "config": dict(config),
        "weights": weights.name,
        "sha256": sha256_file(weights),
        "parameters": int(sum(v.numel() for v in state.values())),
        **dict(card),
    }
    with atomic_path(card_path) as tmp:
        tmp.write_text(json.dumps(full, indent=2, sort_keys=False, default=str) + "\n")
    return weights


def _import_networks() -> None:
    """Import the network modules so that their architectures are registered."""
    import importlib
    import pkgutil

    from napari_xray_synth.core import nn as nn_pkg

    for info in pkgutil.iter_modules(nn_pkg.__path__):
        importlib.import_module(f"{nn_pkg.__name__}.{info.name}")
