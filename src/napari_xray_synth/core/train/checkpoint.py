"""Training checkpoints without pickle: tensors in safetensors, everything else in JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from napari_xray_synth.core.atomic import atomic_path
from napari_xray_synth.core.errors import InputError


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"opt.{idx}.{k}"] = v.detach().cpu().contiguous()
            else:
                plain.setdefault(str(idx), {})[k] = v
    return tensors, {"param_groups": sd["param_groups"], "plain_state": plain}


def save_checkpoint(
    folder: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
) -> Path:
    """Write ``checkpoint.safetensors`` (model, optimizer, torch RNG) and ``checkpoint.json``.

    Parameters
    ----------
    folder : str or Path
        The run folder.
    model, optimizer
        What to save.
    state : dict
        JSON-able training state (step, loss history, numpy RNG state, config).

    Returns
    -------
    Path
        The safetensors file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt_tensors, opt_plain = _flatten_optimizer(optimizer)
    tensors.update(opt_tensors)
    tensors["rng.torch"] = torch.get_rng_state()
    weights = folder / "checkpoint.safetensors"
    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp))
    with atomic_path(folder / "checkpoint.json") as tmp:
        tmp.write_text(json.dumps({**state, "optimizer": opt_plain}, indent=1, default=float))
    return weights


def load_checkpoint(
    path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore a checkpoint written by :func:`save_checkpoint`; returns its JSON state.

    Parameters
    ----------
    path : str or Path
        The run folder, or its ``checkpoint.safetensors`` / ``checkpoint.json``.

    Raises
    ------
    InputError
        Missing or unreadable files, or weights that do not fit the model.
    """
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    weights, meta = folder / "checkpoint.safetensors", folder / "checkpoint.json"
    if not weights.is_file() or not meta.is_file():
        raise InputError("no checkpoint.safetensors + checkpoint.json here", folder)
    try:
        tensors = load_file(str(weights))
        state = json.loads(meta.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable checkpoint ({exc})", folder) from exc
    msd = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(msd)
    except RuntimeError as exc:
        raise InputError(
            "the checkpoint does not fit this network's configuration", folder
        ) from exc
    opt_state: dict[int, dict[str, Any]] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, idx, name = k.split(".", 2)
            opt_state.setdefault(int(idx), {})[name] = v
    for idx, extra in state.get("optimizer", {}).get("plain_state", {}).items():
        opt_state.setdefault(int(idx), {}).update(extra)
    optimizer.load_state_dict(
        {"state": opt_state, "param_groups": state["optimizer"]["param_groups"]}
    )
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])
    return state
