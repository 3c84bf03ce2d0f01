"""Train the denoiser: supervised on simulator pairs or a user's clean images, or Noise2Void.

:func:`train_denoiser` runs the loop (Adam, cosine learning rate, MSE loss), writes a checkpoint
(safetensors + JSON, never pickle) and a loss-curve PNG into the run folder every
``checkpoint_every`` steps, resumes from a checkpoint, and at the end measures PSNR/SSIM on
held-out simulator images at three doses (through :func:`core.denoise.denoise`, exactly as a user
runs it) and saves the model with its card through :func:`core.models.save_model`.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from napari_xray_synth.core.atomic import output_folder
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.models import TRAIN_HINTS, save_model
from napari_xray_synth.core.nn.denoiser import ARCHITECTURE, build_denoiser
from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report
from napari_xray_synth.core.train.checkpoint import load_checkpoint, save_checkpoint
from napari_xray_synth.core.train.denoise_data import (
    PatchSource,
    folder_images,
    n2v_mask,
    read_image,
)
from napari_xray_synth.core.train.distributed import DistributedContext, distributed_context
from napari_xray_synth.core.train.noise import synthesize_noisy

TRAIN_HINTS["denoiser"] = "xray-synth train denoiser --data sim --out models/denoiser"

# Held-out simulator cases: seeds far from the training range, three doses.
HELDOUT_SEEDS = (900_001, 900_002, 900_003)
HELDOUT_DOSES = (3e4, 1.5e5, 1e6)  # photons/mm²: low, reduced, the simulator's default
TRAIN_SEED_OFFSET = 1_000


@dataclass
class DenoiserTrainConfig:
    """Everything that changes a training run (stored in the checkpoint and the card)."""

    data: str = "sim"
    out: str = "models/denoiser"
    mode: str = "supervised"
    steps: int = 2000
    batch: int = 16
    patch: int = 96
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    doses: tuple[float, float] = (1e4, 3e6)
    sim_images: int = 24
    sim_size: int = 512
    heldout_size: int = 512
    heldout_cases: int = 3
    n2v_fraction: float = 0.02
    checkpoint_every: int = 200
    net: dict[str, int] = field(default_factory=lambda: {"c1": 16, "c2": 48, "depth": 4})
    workdir: str = ""
    command: str = ""


def simulator_available() -> bool:
    """True when core.simulate provides ``simulate_chest``."""
    try:
        from napari_xray_synth.core.simulate import simulate_chest  # type: ignore[attr-defined] # noqa: F401
    except ImportError:
        return False
    return True


def simulated_clean(seed: int, size: int) -> np.ndarray:
    """The clean image of simulator case ``seed`` at ``size`` pixels (odd seeds carry a lesion)."""
    from napari_xray_synth.core.simulate import simulate_chest  # type: ignore[attr-defined]

    case = simulate_chest(seed, size, "random" if seed % 2 else None, noise=False)
    clean = case.diseased_clean if case.diseased_clean is not None else case.healthy_clean
    return np.asarray(clean.image, dtype=np.float32)


def _load_images(cfg: DenoiserTrainConfig) -> list[np.ndarray]:
    if cfg.data == "sim":
        if not simulator_available():
            raise InputError("the chest simulator (core.simulate) is not installed", "--data sim")
        return [
            simulated_clean(TRAIN_SEED_OFFSET + cfg.seed * 10_000 + i, cfg.sim_size)
            for i in range(cfg.sim_images)
        ]
    return [read_image(p) for p in folder_images(cfg.data)]


def _loss_plot(history: list[tuple[int, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from napari_xray_synth.core.atomic import atomic_path

    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    if history:
        steps, losses = zip(*history, strict=True)
        ax.plot(steps, losses, lw=0.6, alpha=0.5, label="loss")
        k = max(len(losses) // 50, 1)
        smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
        ax.plot(steps[k - 1 :], smooth, lw=1.5, label=f"mean of {k}")
        ax.set_yscale("log")
        ax.legend()
    ax.set_xlabel("step")
    ax.set_ylabel("MSE")
    ax.set_title("denoiser training loss")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def heldout_metrics(
    model_path: str | Path, size: int = 512, device: str = "cpu", cases: int = 3
) -> dict:
    """PSNR/SSIM of noisy and denoised held-out simulator images at three doses.

    Returns
    -------
    dict
        ``{"dose=D": {"psnr_noisy", "psnr_denoised", "ssim_noisy", "ssim_denoised"}}`` (means
        over :data:`HELDOUT_SEEDS`), plus the seeds and size used.
    """
    if not simulator_available():
        return {"note": "simulator not installed: no held-out metrics"}
    if cases < 1:
        return {"note": "no held-out measurement asked for"}
    from skimage.metrics import peak_signal_noise_ratio as psnr
    from skimage.metrics import structural_similarity as ssim

    from napari_xray_synth.core.denoise import denoise

    seeds = list(HELDOUT_SEEDS[:cases])
    out: dict[str, Any] = {"seeds": seeds, "size": size}
    cleans = [simulated_clean(s, size) for s in seeds]
    for dose in HELDOUT_DOSES:
        rows = []
        for k, clean in enumerate(cleans):
            noisy = synthesize_noisy(clean, dose, 77 + k)
            den = denoise(noisy, model=str(model_path), device=device).image  # type: ignore[union-attr]
            rows.append(
                (
                    psnr(clean, noisy, data_range=1.0),
                    psnr(clean, den, data_range=1.0),
                    ssim(clean, noisy, data_range=1.0),
                    ssim(clean, den, data_range=1.0),
                )
            )
        m = np.mean(rows, axis=0)
        out[f"dose={dose}"] = {
            "psnr_noisy": round(float(m[0]), 2),
            "psnr_denoised": round(float(m[1]), 2),
            "ssim_noisy": round(float(m[2]), 4),
            "ssim_denoised": round(float(m[3]), 4),
        }
    return out


def train_denoiser(
    cfg: DenoiserTrainConfig,
    resume: str | Path | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Train, checkpoint, measure on held-out simulator images, save the model and its card.

    Parameters
    ----------
    cfg : DenoiserTrainConfig
        The run.
    resume : str or Path, optional
        A run folder (or its checkpoint file) to continue from.
    progress, cancel
        Progress ``(step, steps)`` and cancel token (checked every step; a cancelled run leaves
        its last checkpoint).

    Returns
    -------
    dict
        The card written beside the weights.
    """
    if cfg.mode not in ("supervised", "n2v"):
        raise InputError(f"unknown mode {cfg.mode!r}; choose supervised or n2v")
    if cfg.mode == "n2v" and cfg.data == "sim":
        raise InputError("n2v trains on a folder of noisy images: give --data DIR")
    if cfg.patch < 16 or cfg.patch % 4:
        raise InputError(f"patch must be a multiple of 4, at least 16 (got {cfg.patch})")
    if cfg.steps < 1 or cfg.batch < 1:
        raise InputError("steps and batch must be positive")
    workdir = Path(cfg.workdir or Path("runs") / Path(cfg.out).name)
    # one process, or one of many under torchrun (DDP): rank 0 alone writes; a run that fails
    # before its first checkpoint (bad --data, Ctrl-C) leaves no empty run folder
    with output_folder(workdir), distributed_context(cfg.device) as ctx:
        return _train(ctx, cfg, workdir, resume, progress, cancel)


def _train(
    ctx: DistributedContext,
    cfg: DenoiserTrainConfig,
    workdir: Path,
    resume: str | Path | None,
    progress: ProgressFn | None,
    cancel: CancelToken | None,
) -> dict[str, Any]:
    torch.manual_seed(cfg.seed)
    device = ctx.device

    net = build_denoiser(**cfg.net).to(device)
    model = ctx.wrap(net)  # DDP averages the gradients when distributed; net itself otherwise
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    start, history = 0, []
    rng = np.random.default_rng(cfg.seed + 1 + 1_000_003 * ctx.rank)  # rank 0: as one process
    if resume:
        state = load_checkpoint(resume, net, opt)
        start = int(state["step"])
        history = [tuple(h) for h in state.get("history", [])]
        rng.bit_generator.state = state["rng_numpy"]
    images = _load_images(cfg)
    source = PatchSource(
        images,
        cfg.patch,
        doses=cfg.doses,
        seed=cfg.seed + 7919 * (start + 1) + 104_729 * ctx.rank,  # each rank its own patches
        noisy_given=cfg.mode == "n2v",
    )

    def lr_at(step: int) -> float:
        warm = min(1.0, (step + 1) / 100)
        return cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))

    def checkpoint(step: int) -> None:
        save_checkpoint(
            workdir,
            net,
            opt,
            {
                "step": step,
                "history": history,
                "rng_numpy": rng.bit_generator.state,
                "config": asdict(cfg),
            },
        )
        _loss_plot(history, workdir / "loss.png")

    net.train()
    t0 = time.perf_counter()
    report(progress, start, cfg.steps)
    for step in range(start, cfg.steps):
        check_cancel(cancel)
        x, s, y = source.batch(cfg.batch)
        if cfg.mode == "n2v":
            xm, mask = n2v_mask(x, cfg.n2v_fraction, rng)
            xt, st = torch.from_numpy(xm).to(device), torch.from_numpy(s).to(device)
            target = torch.from_numpy(x).to(device)
            m = torch.from_numpy(mask).to(device)
            pred = model(xt, st)
            loss = F.mse_loss(pred[m], target[m])
        else:
            assert y is not None
            xt, st = torch.from_numpy(x).to(device), torch.from_numpy(s).to(device)
            pred = model(xt, st)
            loss = F.mse_loss(pred, torch.from_numpy(y).to(device))
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = ctx.mean(loss.detach()) if ctx.distributed else float(loss.detach())
        history.append((step + 1, value))
        if ctx.is_main and ((step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps):
            checkpoint(step + 1)
        report(progress, step + 1, cfg.steps)
    train_seconds = time.perf_counter() - t0
    if not ctx.is_main:
        ctx.barrier()  # rank 0 measures and writes the model; the others wait for it
        return {}

    net.eval().cpu()
    tail = [h[1] for h in history[-100:]]
    card: dict[str, Any] = {
        "task": "denoise",
        "training_command": cfg.command or "(called from Python)",
        "data": _describe_data(cfg, len(images)),
        "seed": cfg.seed,
        "mode": cfg.mode,
        "train_config": asdict(cfg),
        "final_train_loss_mean_last_100": float(np.mean(tail)) if tail else None,
        "train_seconds_this_session": round(train_seconds, 1),
        "device": str(device),
        "processes": ctx.world_size,
        "noise": "Poisson-Gaussian through a log (the simulator's); noise-map input = the noise "
        "level function estimated blind from each noisy image (core.noise_level)",
    }
    weights = save_model(net, cfg.out, ARCHITECTURE, cfg.net, {**card, "metrics": {}})
    metrics = heldout_metrics(weights, size=cfg.heldout_size, cases=cfg.heldout_cases)
    card["metrics"] = {"heldout_simulator": metrics}
    # the card is rewritten with the metrics (same weights, same sha256)
    save_model(net, cfg.out, ARCHITECTURE, cfg.net, card)
    ctx.barrier()
    return {**card, "weights": str(weights), "workdir": str(workdir)}


def _describe_data(cfg: DenoiserTrainConfig, n: int) -> str:
    if cfg.data == "sim":
        first = TRAIN_SEED_OFFSET + cfg.seed * 10_000
        return (
            f"{n} simulator chests ({cfg.sim_size} px, seeds {first}..{first + n - 1}), noise "
            f"by the simulator's physics at doses log-uniform in {cfg.doses} photons/mm²"
        )
    kind = "noisy images (Noise2Void)" if cfg.mode == "n2v" else "clean images + synthetic noise"
    return f"{n} {kind} from {cfg.data}"
