"""Train the pathology classifier on simulator images made on the fly, each from its own seed.

Seeds: training image ``i`` of a run with seed ``s`` is simulated from the even seed
``train_seed(s, i)``; held-out images use the odd seeds ``heldout_seed(k)``. So no held-out image
is ever a training image, whatever the run seed and the number of steps.

A run keeps a checkpoint (weights and optimizer moments as safetensors, the rest as JSON, never a
pickle) in its work folder and can resume from it exactly: the images of a step and the learning
rate depend only on the seed and the step number.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from napari_xray_synth.core.atomic import atomic_path, output_folder
from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.errors import InputError, ModelError
from napari_xray_synth.core.generative_metrics import auc
from napari_xray_synth.core.models import TRAIN_HINTS, load_model, save_model
from napari_xray_synth.core.nn.classifier import CLASSES, PathologyClassifier, labels_of
from napari_xray_synth.core.plots import loss_curve
from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report
from napari_xray_synth.core.sim_fingerprint import simulator_fingerprint
from napari_xray_synth.core.train.distributed import DistributedContext, distributed_context

ARCHITECTURE = "pathology-classifier"
TRAIN_HINTS["classifier"] = "xray-synth train classifier --data sim --out models/classifier"

#: A sampler turns a seed into one image (2-D, [0, 1]) and the pathologies it shows, and may add
#: a third item: a label image (values from ``conditions.LABELS``) that trains the lesion maps.
Sampler = Callable[[int], tuple[Any, ...]]


def train_seed(run_seed: int, index: int) -> int:
    """Simulator seed of training image ``index`` of a run: always even."""
    return 2 * (int(run_seed) * 1_000_003 + int(index))


def heldout_seed(k: int) -> int:
    """Simulator seed of held-out image ``k``: always odd, so never a training seed."""
    return 2 * int(k) + 1


@dataclass
class ClassifierConfig:
    """Everything that shapes a training run (saved on the card and in the checkpoint)."""

    steps: int = 2000
    batch: int = 16
    size: int = 256
    seed: int = 0
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 50
    width: int = 16
    stages: int = 6
    features_dim: int = 128
    sim_size: int = 256
    standardize: bool = True
    heldout: int = 280
    locate_stage: int = 0
    locate_weight: float = 1.0
    locate_pos_weight: float = 1.0
    checkpoint_every: int = 50
    data: str = "sim"
    extra: dict[str, Any] = field(default_factory=dict)

    def net_config(self) -> dict[str, int]:
        """Keyword arguments that rebuild the network (the card's ``config``)."""
        return {
            "size": self.size,
            "width": self.width,
            "stages": self.stages,
            "features_dim": self.features_dim,
            "n_classes": len(CLASSES),
            "standardize": self.standardize,
            "locate_stage": self.locate_stage,
        }


def sim_sampler(
    sim_size: int = 256,
    healthy_share: float = 1.0 / 7.0,
    second_finding: float = 0.25,
    dose_range: tuple[float, float] = (0.1, 2.0),
) -> Sampler:
    """A sampler over the chest simulator: healthy chests and each pathology with random conditions.

    Per seed: healthy with probability ``healthy_share``; otherwise one pathology drawn uniformly
    (and, with probability ``second_finding``, a second, different one), each placed by the
    simulator's ``random_condition`` in the lung field; the dose is log-uniform in ``dose_range``
    times the simulator's default dose.
    """
    try:
        from napari_xray_synth.core import simulate
    except ImportError as exc:  # pragma: no cover - the simulator ships with the package
        raise InputError(f"the chest simulator is not available ({exc})") from exc
    base_dose = float(getattr(simulate, "DEFAULT_DOSE", 1.0))

    def sample(seed: int) -> tuple[np.ndarray, Sequence[str], np.ndarray]:
        rng = np.random.default_rng([seed, 7])
        dose = base_dose * float(np.exp(rng.uniform(np.log(dose_range[0]), np.log(dose_range[1]))))
        if rng.random() < healthy_share:
            case = simulate.simulate_chest(seed, sim_size, conditions=None, dose=dose)
            return _image(case.healthy), (), np.zeros(case.healthy.image.shape, np.uint8)
        picks = [str(rng.choice(PATHOLOGIES))]
        if rng.random() < second_finding:
            picks.append(str(rng.choice([p for p in PATHOLOGIES if p != picks[0]])))
        # pathology names: the simulator draws each condition with random_condition, from the
        # seed, in the lung field of the patient it simulates (one call, not two)
        case = simulate.simulate_chest(seed, sim_size, conditions=picks, dose=dose)
        found = tuple(c.pathology for c in case.conditions)
        return _image(case.diseased), found, np.asarray(case.mask, np.uint8)

    return sample


def _image(x: Any) -> np.ndarray:
    """Pixels of a Radiograph or an array."""
    return np.asarray(getattr(x, "image", x), np.float32)


def _lr(cfg: ClassifierConfig, step: int) -> float:
    """Linear warm-up, then inverse square-root decay.

    The rate does not depend on the total number of steps, so a run of N steps is exactly the
    first N steps of a longer one: ``--resume --steps M`` continues a finished run to M steps and
    gives the same weights as training M steps at once.
    """
    w = max(cfg.warmup, 1)
    return cfg.lr * min(1.0, (step + 1) / w) * math.sqrt(w / max(step + 1, w))


def _batch(
    sampler: Sampler, seeds: Sequence[int], net: PathologyClassifier, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Images, multi-hot labels and, when the sampler gives label images and the network has a
    map head, the share of each map cell covered by each pathology (N, n_classes - 1, h, w)."""
    xs, ys, ms = [], [], []
    for s in seeds:
        img, found, *rest = sampler(s)
        xs.append(net.resize(torch.as_tensor(img)))
        ys.append(labels_of(tuple(found)))
        ms.append(rest[0] if rest else None)
    x, y = torch.cat(xs).to(device), torch.as_tensor(np.stack(ys)).to(device)
    if not net.locate_stage or any(m is None for m in ms):
        return x, y, None
    cells = net.size
    for _ in range(net.locate_stage):  # each stage: a 3x3 stride-2 convolution, padding 1
        cells = (cells + 1) // 2
    onehot = np.stack([np.stack([m == k for k in range(1, len(CLASSES))]) for m in ms])
    target = F.adaptive_avg_pool2d(torch.as_tensor(onehot, dtype=torch.float32), (cells, cells))
    return x, y, target.to(device)


def classifier_scores(
    net: PathologyClassifier,
    sampler: Sampler,
    seeds: Sequence[int],
    batch: int = 16,
    device: torch.device | str = "cpu",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities (N, classes) and multi-hot labels (N, classes, bool) on the images of
    ``seeds``."""
    device = torch.device(device)
    net.eval()
    probs, labels = [], []
    for i in range(0, len(seeds), batch):
        check_cancel(cancel)
        x, y, _ = _batch(sampler, seeds[i : i + batch], net, device)
        with torch.no_grad():
            probs.append(torch.sigmoid(net(x)).cpu().numpy())
        labels.append(y.cpu().numpy())
        report(progress, min(i + batch, len(seeds)), len(seeds))
    return np.concatenate(probs), np.concatenate(labels).astype(bool)


def evaluate_classifier(
    net: PathologyClassifier,
    sampler: Sampler,
    seeds: Sequence[int],
    batch: int = 16,
    device: torch.device | str = "cpu",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """AUC and accuracy (threshold 0.5) per class on the images of ``seeds``.

    Returns ``{"auc": {class: value}, "accuracy": {...}, "positives": {...}, "n": N,
    "exact_match": share of images with every class right, "probs", "labels"}``.
    """
    p, y = classifier_scores(net, sampler, seeds, batch, device, progress, cancel)
    pred = p >= 0.5
    out: dict[str, Any] = {"n": len(seeds), "auc": {}, "accuracy": {}, "positives": {}}
    for j, name in enumerate(CLASSES):
        out["auc"][name] = auc(p[:, j], y[:, j])
        out["accuracy"][name] = float((pred[:, j] == y[:, j]).mean())
        out["positives"][name] = int(y[:, j].sum())
    out["exact_match"] = float((pred == y).all(axis=1).mean())
    aucs = [out["auc"][c] for c in PATHOLOGIES if np.isfinite(out["auc"][c])]
    out["mean_auc_pathologies"] = float(np.mean(aucs)) if aucs else float("nan")
    out["probs"], out["labels"] = p, y
    return out


# --- checkpoints: safetensors for tensors, JSON for the rest -------------------------------


def _save_checkpoint(
    work: Path,
    net: torch.nn.Module,
    opt: torch.optim.Optimizer,
    cfg: ClassifierConfig,
    step: int,
    losses: list[float],
    seconds: float | None = None,
    initialised_from: str | None = None,
) -> None:
    tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    opt_state = opt.state_dict()
    for idx, st in opt_state["state"].items():
        for key, val in st.items():
            t = val if torch.is_tensor(val) else torch.tensor(val)
            tensors[f"opt.{idx}.{key}"] = t.detach().cpu().contiguous()
    with atomic_path(work / "checkpoint.safetensors") as tmp:
        save_file(tensors, str(tmp))
    state = {
        "step": step,
        "config": asdict(cfg),
        "losses": losses,
        "train_seconds": seconds,
        "initialised_from": initialised_from,
        "param_groups": opt_state["param_groups"],
    }
    with atomic_path(work / "checkpoint.json") as tmp:
        tmp.write_text(json.dumps(state) + "\n")


def _load_checkpoint(
    work: Path, net: torch.nn.Module, opt: torch.optim.Optimizer, cfg: ClassifierConfig
) -> tuple[int, list[float]]:
    state = json.loads((work / "checkpoint.json").read_text())
    old = state["config"]
    keys = ("size", "width", "stages", "features_dim", "batch", "seed", "sim_size", "data")
    keys += ("locate_stage", "locate_weight", "locate_pos_weight")
    # checkpoints from before the lesion maps lack their keys: they had none
    defaults = {"locate_stage": 0, "locate_weight": 1.0, "locate_pos_weight": 1.0}
    for key in (*keys, "standardize"):
        if old.get(key, defaults.get(key)) != getattr(cfg, key):
            raise InputError(
                f"the checkpoint was trained with {key}={old.get(key, defaults.get(key))!r}, not "
                f"{getattr(cfg, key)!r}; resume with the same settings or start afresh",
                work,
            )
    tensors = load_file(str(work / "checkpoint.safetensors"))
    net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
    opt_state: dict[str, Any] = {"state": {}, "param_groups": state["param_groups"]}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, idx, key = k.split(".", 2)
            opt_state["state"].setdefault(int(idx), {})[key] = v
    opt.load_state_dict(opt_state)
    return int(state["step"]), list(state["losses"]), state.get("train_seconds")


def _init_weights(net: PathologyClassifier, cfg: ClassifierConfig, source: str | Path) -> str:
    """Load a saved classifier (a name in the models folders or a path) into ``net``.

    Returns a description for the card. The source's card must describe the same network up
    to the input size (the network is fully convolutional).
    """
    try:
        loaded = load_model(source, device="cpu")
    except ModelError as exc:
        raise InputError(f"cannot start from it: {exc}", source) from exc
    if loaded.card.get("architecture") != ARCHITECTURE:
        raise InputError(f"is a {loaded.card.get('architecture')!r}, not a classifier", source)
    theirs = {"locate_stage": 0, **loaded.card.get("config", {})}
    mine = cfg.net_config()
    # the input size may change (fully convolutional), and a map head may be added to a
    # classifier that had none: it starts at zero gain, so the start is the source's classifier
    adding_maps = theirs["locate_stage"] == 0 and mine["locate_stage"] > 0
    skip = {"size", "locate_stage"} if adding_maps else {"size"}
    differ = [k for k in mine if k not in skip and theirs.get(k) != mine[k]]
    if differ:
        what = ", ".join(f"{k}={theirs.get(k)!r} (this run {mine[k]!r})" for k in differ)
        raise InputError(f"was trained with {what}; use the same settings", source)
    missing, unexpected = net.load_state_dict(loaded.module.state_dict(), strict=False)
    if unexpected or any(not k.startswith("locate") for k in missing):
        raise InputError("its weights do not fit this network", source)
    return f"{source} (sha256 {loaded.sha256})"


def train_classifier(
    out: str | Path,
    cfg: ClassifierConfig,
    *,
    work: str | Path | None = None,
    resume: bool = False,
    init_from: str | Path | None = None,
    sampler: Sampler | None = None,
    device: str = "auto",
    command: str = "",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Train, checkpoint, measure on held-out seeds and save the model with its card.

    Parameters
    ----------
    out : str or Path
        Stem of the model: ``OUT.safetensors``, ``OUT.json`` (card) and ``OUT.loss.png``.
    cfg : ClassifierConfig
        The run's settings.
    work : str or Path, optional
        Checkpoint folder; default ``OUT.run`` beside the model.
    resume : bool
        Continue from the checkpoint in ``work`` (its settings must match).
    init_from : str or Path, optional
        Start from these weights (a saved classifier, any input size: the network is fully
        convolutional), e.g. to fine-tune a 256 px model at 512 px. Ignored when resuming.
    sampler : callable, optional
        ``seed -> (image, pathologies)`` or ``(image, pathologies, label image)`` (the label
        image trains the lesion maps); default the chest simulator (:func:`sim_sampler`).
    device : str
        "auto", "cpu", "cuda" or "mps".
    command : str
        The exact command line, written on the card.

    Returns
    -------
    dict
        The card written.
    """
    if cfg.steps < 1 or cfg.batch < 1 or cfg.size < 16:
        raise InputError("steps and batch must be at least 1 and size at least 16")
    if not 0 <= cfg.locate_stage <= cfg.stages:
        raise InputError(f"the lesion maps' stage must be 0..{cfg.stages}, not {cfg.locate_stage}")
    out = Path(out)
    if out.suffix in (".safetensors", ".json"):
        out = out.with_suffix("")
    work = Path(work) if work is not None else out.with_name(out.name + ".run")
    # one process, or one of many under torchrun (DDP): rank 0 alone writes. The model's folder
    # is made first (as train gan does); a run that fails before writing (a bad --init-from,
    # Ctrl-C) leaves neither it nor the run folder behind when they were made for it
    with output_folder(out.parent), output_folder(work), distributed_context(device) as ctx:
        return _train(ctx, out, cfg, work, resume, init_from, sampler, command, progress, cancel)


def _train(
    ctx: DistributedContext,
    out: Path,
    cfg: ClassifierConfig,
    work: Path,
    resume: bool,
    init_from: str | Path | None,
    sampler: Sampler | None,
    command: str,
    progress: ProgressFn | None,
    cancel: CancelToken | None,
) -> dict[str, Any]:
    dev = ctx.device
    torch.manual_seed(cfg.seed)
    sampler = sampler or sim_sampler(cfg.sim_size)
    net = PathologyClassifier(**cfg.net_config()).to(dev)
    model = ctx.wrap(net)  # DDP averages the gradients when distributed; net itself otherwise
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, losses, before = 0, [], 0.0
    initialised = None
    if init_from is not None and not resume:
        initialised = _init_weights(net, cfg, init_from)
    if resume:
        if not (work / "checkpoint.json").is_file():
            raise InputError("no checkpoint to resume from", work)
        start, losses, before = _load_checkpoint(work, net, opt, cfg)
        initialised = json.loads((work / "checkpoint.json").read_text()).get("initialised_from")
        if start > cfg.steps:
            raise InputError(
                f"the checkpoint is at step {start}, past --steps {cfg.steps}; "
                f"resume with --steps {start} or more",
                work,
            )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    t0 = time.perf_counter()
    for step in range(start, cfg.steps):
        check_cancel(cancel)
        net.train()
        # each rank draws its own images; with one process this is image step * batch + i
        first = (step * ctx.world_size + ctx.rank) * cfg.batch
        seeds = [train_seed(cfg.seed, first + i) for i in range(cfg.batch)]
        x, y, target = _batch(sampler, seeds, net, dev)
        for g in opt.param_groups:
            g["lr"] = _lr(cfg, step)
        if target is None:
            loss = loss_fn(model(x), y)
        else:
            logits, maps = model(x, with_maps=True)
            # a nodule covers a cell or two of a map: its cells weigh more than the empty ones
            pos = torch.tensor(cfg.locate_pos_weight, device=dev)
            map_loss = F.binary_cross_entropy_with_logits(maps, target, pos_weight=pos)
            loss = loss_fn(logits, y) + cfg.locate_weight * map_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(ctx.mean(loss.detach()) if ctx.distributed else float(loss.detach()))
        done = step + 1
        if ctx.is_main and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            seconds = None if before is None else before + time.perf_counter() - t0
            _save_checkpoint(work, net, opt, cfg, done, losses, seconds, initialised)
        report(progress, done, cfg.steps + 1)
    train_s = time.perf_counter() - t0
    total_s = None if before is None else before + train_s
    if not ctx.is_main:
        ctx.barrier()  # rank 0 measures and writes the model; the others wait for it
        return {}

    seeds = [heldout_seed(k) for k in range(cfg.heldout)]
    metrics = evaluate_classifier(net, sampler, seeds, cfg.batch, dev, cancel=cancel)
    plot = loss_curve(out.with_name(out.name + ".loss.png"), losses, "classifier: BCE loss")
    card = {
        "task": "multi-label chest pathology classifier and feature extractor",
        "classes": list(CLASSES),
        "output": "logits; sigmoid per class (multi-label: findings co-occur)",
        "input": f"one channel in [0, 1], resized to {cfg.size} x {cfg.size} (area averaging)",
        "features": f"{cfg.features_dim}-D penultimate vector (features())",
        "training_command": command,
        "data": (
            f"chest simulator (core.simulate) at {cfg.sim_size} px, generated on the fly; "
            "healthy or 1-2 pathologies with random conditions, log-uniform dose; "
            "training seeds even (train_seed), held-out seeds odd (heldout_seed)"
        ),
        "simulator_sources_sha256": simulator_fingerprint() if cfg.data == "sim" else None,
        "seed": cfg.seed,
        "initialised_from": initialised,
        "steps": cfg.steps,
        "images_seen": cfg.steps * cfg.batch,
        "training_config": asdict(cfg),
        "device": str(dev),
        "processes": ctx.world_size,
        # None when a checkpoint did not record it (a run resumed from an older checkpoint)
        "train_seconds": None if total_s is None else round(total_s, 3),
        "final_loss_mean_last_100": float(np.mean(losses[-100:])) if losses else None,
        "loss_curve": plot.name,
        "metrics": {
            "heldout_images": metrics["n"],
            "heldout_seeds": f"odd seeds 1..{2 * cfg.heldout - 1} (heldout_seed)",
            "auc": metrics["auc"],
            "accuracy_at_0.5": metrics["accuracy"],
            "positives": metrics["positives"],
            "exact_match": metrics["exact_match"],
            "mean_auc_pathologies": metrics["mean_auc_pathologies"],
        },
    }
    save_model(net, out, ARCHITECTURE, cfg.net_config(), card)
    report(progress, cfg.steps + 1, cfg.steps + 1)
    ctx.barrier()
    return json.loads(out.with_name(out.name + ".json").read_text())
