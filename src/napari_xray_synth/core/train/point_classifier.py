"""Train the point classifier (:mod:`core.nn.point_classifier`) on simulated pairs.

Each training case is one simulated chest with one finding at a point the simulator chose; it
gives two samples at that point: the diseased image (label: its pathology) and the same chest
without the finding, with the same noise (label: "none"). So "none" is learnt at exactly the
places findings are asked for, and the network must see the finding itself, not the place.

The simulator runs at the local view's pixel size (358.4 mm / 0.7 mm = 512 px), so no
resampling is needed in training. Case ``i`` of a run with seed ``s`` uses the even simulator
seed ``train_seed(s, i)``; held-out cases use odd seeds ``heldout_seed(k)``. The views of all
cases are made once, then the network is trained on them for ``steps`` batches.
"""

from __future__ import annotations

import json
import math
import shlex
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from napari_xray_synth.core.atomic import output_folder
from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.device import pick_device
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.models import save_model
from napari_xray_synth.core.nn.point_classifier import CLASSES, PointClassifier, point_views
from napari_xray_synth.core.plots import loss_curve
from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report
from napari_xray_synth.core.sim_fingerprint import simulator_fingerprint
from napari_xray_synth.core.train.classifier import heldout_seed, train_seed

ARCHITECTURE = "point-classifier"
FOV_MM = 358.4  # the simulator's field of view
#: Key of this module's own random streams per simulator seed. The simulator draws from
#: ``default_rng([seed, k])`` with small k (11: the conditions, 13: the anatomy, ...): sharing
#: one would tie the pathology or the dose to what the simulator draws from the same numbers
#: (with [seed, 11], the masses of training were all drawn from one slice of their conditions).
CASE_KEY = 0x7C1A55


@dataclass
class PointClassifierConfig:
    """Everything that shapes a run (saved on the card)."""

    cases: int = 12000
    steps: int = 2500
    batch: int = 64
    seed: int = 0
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    width: int = 16
    crop: int = 128
    views_mm: tuple[float, ...] = (0.7, 1.4)
    nodule_share: float = 0.25
    dose_range: tuple[float, float] = (0.3, 2.0)
    heldout: int = 300

    def net_config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild the network."""
        return {"width": self.width, "crop": self.crop, "views_mm": list(self.views_mm)}

    def sim_size(self) -> int:
        """Simulator image side at the finest local view's pixel size."""
        return round(FOV_MM / min(self.views_mm))


def pathology_of(cfg: PointClassifierConfig, seed: int) -> str:
    """The finding of the case with this simulator seed: nodules get ``nodule_share`` of the
    cases (the hardest to see), the other five pathologies the rest in equal parts."""
    rng = np.random.default_rng([seed, CASE_KEY, 1])
    rest = (1.0 - cfg.nodule_share) / (len(PATHOLOGIES) - 1)
    weights = [cfg.nodule_share if p == "nodule" else rest for p in PATHOLOGIES]
    return str(rng.choice(PATHOLOGIES, p=np.asarray(weights) / np.sum(weights)))


def simulate_views(
    cfg: PointClassifierConfig,
    seeds: list[int],
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    done_before: int = 0,
    total: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local views (float16, (2n, n_views, crop, crop)), global views ((2n, crop, crop)) and
    labels (2n,) of the cases of ``seeds``: the healthy twin first (label 0), then the diseased
    image."""
    from napari_xray_synth.core import simulate
    from napari_xray_synth.core.train.gan_data import sim_pair

    n, k = len(seeds), cfg.crop
    local = np.empty((2 * n, len(cfg.views_mm), k, k), np.float16)
    whole = np.empty((2 * n, k, k), np.float16)
    labels = np.empty(2 * n, np.int64)
    size = cfg.sim_size()
    lo, hi = cfg.dose_range
    for i, s in enumerate(seeds):
        check_cancel(cancel)
        rng = np.random.default_rng([s, CASE_KEY, 2])
        dose = simulate.DEFAULT_DOSE * float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        case = simulate.simulate_chest(s, size, conditions=pathology_of(cfg, s), dose=dose)
        cond = case.conditions[0]
        for j, img in enumerate(sim_pair(case)):
            a, b = point_views(img, cond.center, case.spacing, k, cfg.views_mm)
            local[2 * i + j] = np.stack([v[0, 0].numpy() for v in a])
            whole[2 * i + j] = b[0, 0].numpy()
            labels[2 * i + j] = 0 if j == 0 else CLASSES.index(cond.pathology)
        report(progress, done_before + i + 1, total or n)
    return local, whole, labels


def _lr(cfg: PointClassifierConfig, step: int) -> float:
    """Linear warm-up, then a cosine decay to zero at ``steps``."""
    warm = min(1.0, (step + 1) / max(cfg.warmup, 1))
    return cfg.lr * warm * 0.5 * (1.0 + math.cos(math.pi * step / cfg.steps))


@torch.no_grad()
def point_scores(
    net: PointClassifier, local: np.ndarray, whole: np.ndarray, batch: int = 128
) -> np.ndarray:
    """Softmax probabilities (N, n_classes) of prepared views."""
    net.eval()
    dev = next(net.parameters()).device
    out = []
    for i in range(0, len(local), batch):
        a = torch.from_numpy(local[i : i + batch].astype(np.float32)).to(dev)
        b = torch.from_numpy(whole[i : i + batch].astype(np.float32))[:, None].to(dev)
        views = [a[:, v : v + 1] for v in range(a.shape[1])]
        out.append(torch.softmax(net(views, b), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


def recognition_table(probs: np.ndarray, labels: np.ndarray) -> dict[str, dict[str, float]]:
    """Per pathology, on pairs (healthy twin, diseased): the share of diseased images whose
    finding gets p >= 0.5 ("recognised") and of healthy twins that get the same finding at
    p >= 0.5 at the same point ("false_positive")."""
    asked = labels[1::2]
    got = probs[1::2][np.arange(len(asked)), asked] >= 0.5
    fp = probs[0::2][np.arange(len(asked)), asked] >= 0.5
    table = {}
    for k, name in enumerate(CLASSES[1:], start=1):
        s = asked == k
        if s.any():
            table[name] = {
                "n": int(s.sum()),
                "recognised": float(got[s].mean()),
                "false_positive": float(fp[s].mean()),
            }
    table["all"] = {
        "n": len(asked),
        "recognised": float(got.mean()),
        "false_positive": float(fp.mean()),
    }
    return table


def train_point_classifier(
    out: str | Path,
    cfg: PointClassifierConfig,
    *,
    device: str = "auto",
    command: str = "",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Simulate the cases, train, measure on held-out cases and save the model with its card.

    Parameters
    ----------
    out : str or Path
        Model stem: ``OUT.safetensors``, ``OUT.json`` (card) and ``OUT.loss.png``.
    cfg : PointClassifierConfig
        The run's settings.
    device : str
        "auto", "cpu", "cuda" or "mps".
    command : str
        The exact command line, written on the card.
    progress, cancel
        The core's progress callback (simulation, then training) and cancel token.

    Returns
    -------
    dict
        The card written.
    """
    if cfg.cases < 1 or cfg.steps < 1 or cfg.batch < 1 or cfg.heldout < 1:
        raise InputError("cases, steps, batch and heldout must be at least 1")
    if cfg.crop < 32 or not cfg.views_mm or not all(0.0 < v <= 10.0 for v in cfg.views_mm):
        raise InputError(f"crop must be at least 32 and views_mm in (0, 10], not {cfg.views_mm}")
    if not 0.0 <= cfg.nodule_share < 1.0:
        raise InputError(f"the nodule share must be in [0, 1), not {cfg.nodule_share}")
    out = Path(out)
    if out.suffix in (".safetensors", ".json"):
        out = out.with_suffix("")
    dev = pick_device(device)
    total = cfg.cases + cfg.heldout + cfg.steps
    with output_folder(out.parent):
        t0 = time.perf_counter()
        train_seeds = [train_seed(cfg.seed, i) for i in range(cfg.cases)]
        local, whole, labels = simulate_views(cfg, train_seeds, progress, cancel, 0, total)
        held = [heldout_seed(k) for k in range(cfg.heldout)]
        h_local, h_whole, h_labels = simulate_views(cfg, held, progress, cancel, cfg.cases, total)
        sim_s = time.perf_counter() - t0
        torch.manual_seed(cfg.seed)
        net = PointClassifier(**cfg.net_config()).to(dev)
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        gen = torch.Generator().manual_seed(cfg.seed)
        losses: list[float] = []
        t1 = time.perf_counter()
        net.train()
        for step in range(cfg.steps):
            check_cancel(cancel)
            for g in opt.param_groups:
                g["lr"] = _lr(cfg, step)
            idx = torch.randint(0, len(labels), (cfg.batch,), generator=gen).numpy()
            a = torch.from_numpy(local[idx].astype(np.float32)).to(dev)
            b = torch.from_numpy(whole[idx].astype(np.float32))[:, None].to(dev)
            if step % 2:  # a mirrored chest: all views flipped together
                a, b = a.flip(-1), b.flip(-1)
            views = [a[:, v : v + 1] for v in range(a.shape[1])]
            y = torch.from_numpy(labels[idx])
            loss = F.cross_entropy(net(views, b), y.to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            report(progress, cfg.cases + cfg.heldout + step + 1, total)
        train_s = time.perf_counter() - t1
        table = recognition_table(point_scores(net, h_local, h_whole), h_labels)
        plot = loss_curve(out.with_name(out.name + ".loss.png"), losses, "point classifier: CE")
        card = {
            "task": "classify the finding at a requested point of a chest radiograph",
            "classes": list(CLASSES),
            "output": "logits; softmax over the classes (one finding asked about per point)",
            "input": (
                f"views of a film in [0, 1] for a point: {cfg.crop} px centred on it at each of "
                f"{', '.join(f'{v:g}' for v in cfg.views_mm)} mm per pixel, and the whole film "
                f"at {cfg.crop} x {cfg.crop} (point_views)"
            ),
            "training_command": command,
            "data": (
                f"chest simulator (core.simulate) at {cfg.sim_size()} px "
                f"({min(cfg.views_mm):g} mm), "
                f"{cfg.cases} cases with one finding each (nodules {cfg.nodule_share:.0%}), "
                "each giving the diseased image and its healthy twin with the same noise at the "
                "finding's point; log-uniform dose; training seeds even (train_seed), held-out "
                "seeds odd (heldout_seed)"
            ),
            "simulator_sources_sha256": simulator_fingerprint(),
            "seed": cfg.seed,
            "training_config": asdict(cfg),
            "device": str(dev),
            "simulate_seconds": round(sim_s, 1),
            "train_seconds": round(train_s, 1),
            "final_loss_mean_last_100": float(np.mean(losses[-100:])),
            "loss_curve": plot.name,
            "metrics": {
                "heldout_cases": cfg.heldout,
                "heldout_seeds": f"odd seeds 1..{2 * cfg.heldout - 1} (heldout_seed)",
                "recognised_at_point": table,
            },
        }
        save_model(net, out, ARCHITECTURE, cfg.net_config(), card)
    return json.loads(out.with_name(out.name + ".json").read_text())


def command_line(out: str | Path, cfg: PointClassifierConfig) -> str:
    """The ``xray-synth train point-classifier`` line that reproduces a run of ``cfg``."""
    return (
        f"xray-synth train point-classifier --out {shlex.quote(str(out))} --cases {cfg.cases} "
        f"--steps {cfg.steps} --batch {cfg.batch} --seed {cfg.seed} --lr {cfg.lr} "
        f"--width {cfg.width} --nodule-share {cfg.nodule_share} --heldout {cfg.heldout}"
    )
