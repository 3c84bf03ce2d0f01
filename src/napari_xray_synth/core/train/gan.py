"""Training of the conditional generator: paired (simulator) or unpaired (real, labelled) mode.

Losses (pix2pix with the stabilisers of our source table):

* Discriminator: BCE with one-sided label smoothing (real target ``label_smoothing``, fake 0) and
  the R1 penalty ``r1 / 2 * E ||grad_x D(real)||^2`` on the real windows; spectral normalisation
  on every discriminator layer.
* Generator: the adversarial BCE (target 1), plus ``l1 x`` the L1 to the paired diseased window
  (paired mode) or ``l1 x`` the L1 of the change outside the lesion's mask (unpaired mode:
  self-regularisation, the image outside the mask is kept), optional feature matching on the
  discriminator's features, and a mode-seeking term that rewards different outputs for
  different noise (diversity).
* ``anchor``: when fine-tuning a generator started with ``init_generator``, ``anchor x`` the L1
  between its output and that of the starting generator (frozen; same input and noise). In
  unpaired mode nothing else holds the lesion itself: without it the adversarial and
  mode-seeking terms of a fresh discriminator turn a trained generator's lesions into crinkled
  artefacts within tens of steps (seen on the simulator and on real films).
* ``l1_only``: no discriminator at all (the ablation baseline).

Adam with betas (0.5, 0.999) for both. Checkpoints are safetensors with a JSON state beside them
(never a pickle); ``resume`` continues bit-for-bit from one. Sample grids and loss curves go to
the run folder as PNG.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from napari_xray_synth.core.atomic import atomic_path
from napari_xray_synth.core.device import autocast, pick_device
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.models import save_model
from napari_xray_synth.core.nn.generator import ConditionalUNet
from napari_xray_synth.core.nn.patchgan import ConditionalPatchGAN
from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report
from napari_xray_synth.core.train.distributed import DistributedContext
from napari_xray_synth.core.train.gan_data import WindowSet


@dataclass
class GanConfig:
    """Every setting of a training run (written to the checkpoint and the card)."""

    mode: str = "paired"  # "paired" or "unpaired"
    steps: int = 2000
    batch: int = 16
    lr_g: float = 2e-4
    lr_d: float = 4e-4
    r1: float = 10.0
    label_smoothing: float = 0.9
    l1: float = 100.0
    feature_matching: bool = False
    fm_weight: float = 10.0
    mode_seeking: float = 1.0
    anchor: float = 0.0  # L1 to the starting generator (fine-tuning; needs init_generator)
    l1_only: bool = False
    seed: int = 0
    window: int = 128
    g_base: int = 16
    g_depth: int = 4
    d_base: int = 32
    d_layers: int = 3
    d_scales: int = 1
    d_steps: int = 1  # discriminator updates per generator update
    d_warmup: int = 0  # first steps: the discriminator alone learns (fine-tuning)
    sample_every: int = 200
    checkpoint_every: int = 200
    max_minutes: float = 0.0  # stop early after this much training time (0: no limit)
    extra: dict[str, Any] = field(default_factory=dict)

    def generator_config(self) -> dict[str, Any]:
        """Keyword arguments of the generator (the card's config)."""
        return {"base": self.g_base, "depth": self.g_depth}


def _tensor(a: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, np.float32)).to(device)


def _opt_state(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], Any]:
    sd = opt.state_dict()
    tensors = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            t = v if torch.is_tensor(v) else torch.tensor(v)
            tensors[f"{prefix}.{pid}.{k}"] = t.detach().cpu().contiguous()
    return tensors, sd["param_groups"]


def _load_opt(
    opt: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor], groups: Any
) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, t in tensors.items():
        if key.startswith(prefix + "."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = t
    opt.load_state_dict({"state": state, "param_groups": groups})


class GanTrainer:
    """One training run: networks, optimisers, data, history."""

    def __init__(
        self,
        cfg: GanConfig,
        data: WindowSet,
        real: WindowSet | None = None,
        device: str = "auto",
        ctx: DistributedContext | None = None,
    ) -> None:
        if cfg.mode not in ("paired", "unpaired"):
            raise InputError(f"mode must be 'paired' or 'unpaired', got {cfg.mode!r}")
        if cfg.mode == "paired" and data.y is None:
            raise InputError("paired mode needs paired (healthy, diseased) windows")
        if cfg.mode == "unpaired" and (real is None or cfg.l1_only):
            raise InputError("unpaired mode needs a real set and the adversarial loss")
        if cfg.steps < 1 or cfg.batch < 1:
            raise InputError("steps and batch must be 1 or more")
        if cfg.d_steps < 1 or cfg.d_scales < 1:
            raise InputError("--d-steps and --d-scales must be 1 or more")
        if cfg.d_warmup < 0 or (cfg.d_warmup and cfg.steps <= cfg.d_warmup):
            raise InputError(
                f"--steps ({cfg.steps}) must be more than the discriminator warm-up "
                f"--d-warmup ({cfg.d_warmup}): the generator would not be trained"
            )
        self.cfg, self.data, self.real = cfg, data, real
        # under torchrun every rank builds the same networks (same seed) and averages its
        # gradients with the others after each backward pass (see _sync)
        self.ctx = ctx
        self.device = ctx.device if ctx is not None else pick_device(device)
        torch.manual_seed(cfg.seed)
        self.G = ConditionalUNet(**cfg.generator_config()).to(self.device)
        self.G0: ConditionalUNet | None = None  # the frozen starting generator (anchor)
        self.D = (
            None
            if cfg.l1_only
            else ConditionalPatchGAN(cfg.d_base, cfg.d_layers, cfg.d_scales).to(self.device)
        )
        self.opt_g = torch.optim.Adam(self.G.parameters(), cfg.lr_g, betas=(0.5, 0.999))
        self.opt_d = (
            torch.optim.Adam(self.D.parameters(), cfg.lr_d, betas=(0.5, 0.999))
            if self.D is not None
            else None
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.device.type == "cuda")
        rank = ctx.rank if ctx is not None else 0
        self.rng = np.random.default_rng(cfg.seed + 1_000_003 * rank)  # rank 0: as one process
        self.step = 0
        self.history: list[dict[str, float]] = []

    # ----------------------------------------------------------------- one step
    def _batch(self, ws: WindowSet) -> dict[str, torch.Tensor]:
        n = min(self.cfg.batch, len(ws))
        idx = self.rng.choice(len(ws), n, replace=len(ws) < self.cfg.batch)
        flip = self.rng.random(n) < 0.5
        return {k: _tensor(v, self.device) for k, v in ws.batch(idx, flip).items()}

    def _noise(self, like: torch.Tensor) -> torch.Tensor:
        z = self.rng.standard_normal(tuple(like.shape)).astype(np.float32)
        return _tensor(z, self.device)

    def _fake(
        self, b: dict[str, torch.Tensor], z: torch.Tensor, net: nn.Module | None = None
    ) -> torch.Tensor:
        return b["x"] + b["feather"] * (self.G if net is None else net)(b["x"], b["maps"], z)

    def _d_update(self, b: dict[str, torch.Tensor]) -> dict[str, float]:
        """One discriminator update on batch ``b``; returns its losses."""
        cfg = self.cfg
        bce = nn.functional.binary_cross_entropy_with_logits
        real_b = b if cfg.mode == "paired" else self._batch(self.real)  # type: ignore[arg-type]
        real_img = (real_b["y"] if cfg.mode == "paired" else real_b["x"]).clone()
        real_img.requires_grad_(cfg.r1 > 0)
        with torch.no_grad(), autocast(self.device):
            fake = self._fake(b, self._noise(b["x"]))
        with autocast(self.device):
            d_real = self.D(real_img, real_b["maps"])
            d_fake = self.D(fake.float(), b["maps"])
            loss_d = sum(
                bce(r, torch.full_like(r, cfg.label_smoothing)) + bce(f, torch.zeros_like(f))
                for r, f in zip(d_real, d_fake, strict=True)
            ) / len(d_real)
        r1 = torch.zeros((), device=self.device)
        if cfg.r1 > 0:
            (grad,) = torch.autograd.grad(
                sum(r.float().sum() for r in d_real), real_img, create_graph=True
            )
            r1 = grad.pow(2).flatten(1).sum(1).mean() * (cfg.r1 / 2)
        self.opt_d.zero_grad(set_to_none=True)  # type: ignore[union-attr]
        self.scaler.scale(loss_d + r1).backward()
        self._sync(self.D)
        self.scaler.step(self.opt_d)  # type: ignore[arg-type]
        return {"d": float(loss_d.detach()), "r1": float(r1.detach())}

    def train_step(self) -> dict[str, float]:
        """One discriminator and one generator update; returns the losses."""
        cfg = self.cfg
        b = self._batch(self.data)
        bce = nn.functional.binary_cross_entropy_with_logits
        logs: dict[str, float] = {}
        if self.D is not None:
            for k in range(cfg.d_steps):
                # the first update sees the generator's batch, the others fresh ones
                logs.update(self._d_update(b if k == 0 else self._batch(self.data)))
                if k < cfg.d_steps - 1:
                    self.scaler.update()  # one step per optimizer between scaler updates
            if self.step < cfg.d_warmup:  # a fresh discriminator learns before it teaches
                self.scaler.update()
                self.step += 1
                logs["step"] = float(self.step)
                self.history.append(logs)
                return logs

        z = self._noise(b["x"])
        with autocast(self.device):
            fake = self._fake(b, z)
            loss = torch.zeros((), device=self.device)
            if cfg.mode == "paired":
                rec = (fake - b["y"]).abs().mean()
            else:  # self-regularisation: keep the image outside the mask
                rec = ((fake - b["x"]).abs() * (1 - b["mask"])).mean()
            loss = loss + cfg.l1 * rec
            logs["l1"] = float(rec.detach())
            if self.G0 is not None and cfg.anchor > 0:
                with torch.no_grad():
                    ref = self._fake(b, z, self.G0)
                drift = (fake - ref).abs().mean()
                loss = loss + cfg.anchor * drift
                logs["anchor"] = float(drift.detach())
            if self.D is not None:
                d_out = self.D(fake, b["maps"])
                adv = sum(bce(o, torch.ones_like(o)) for o in d_out) / len(d_out)
                loss = loss + adv
                logs["adv"] = float(adv.detach())
                if cfg.feature_matching and cfg.mode == "paired":
                    fm = self._feature_matching(b["y"], fake, b["maps"])
                    loss = loss + cfg.fm_weight * fm
                    logs["fm"] = float(fm.detach())
                if cfg.mode_seeking > 0:
                    half = max(1, fake.shape[0] // 2)
                    sub = {k: v[:half] for k, v in b.items()}
                    z2 = self._noise(z[:half])
                    fake2 = self._fake(sub, z2)
                    num = (fake[:half] - fake2).abs().mean()
                    den = (z[:half] - z2).abs().mean()
                    ms = 1.0 / (num / den + 1e-5)
                    loss = loss + cfg.mode_seeking * 1e-3 * ms
                    logs["ms_diff"] = float(num.detach())
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self._sync(self.G)
        self.scaler.step(self.opt_g)
        self.scaler.update()
        logs["g"] = float(loss.detach())
        self.step += 1
        logs["step"] = float(self.step)
        self.history.append(logs)
        return logs

    @property
    def is_main(self) -> bool:
        """True for a single process and for rank 0 of a distributed run: the one that writes."""
        return self.ctx is None or self.ctx.is_main

    def _sync(self, module: nn.Module | None) -> None:
        """Average gradients over the ranks of a distributed run (a no-op otherwise).

        Plain all-reduce rather than a DDP wrapper: the discriminator runs several forward
        passes per step and the R1 penalty needs a double backward, which DDP's hooks do not
        follow.
        """
        if module is None or self.ctx is None or not self.ctx.distributed:
            return
        world = float(self.ctx.world_size)
        for p in module.parameters():
            if p.grad is not None:
                torch.distributed.all_reduce(p.grad)
                p.grad /= world

    def _feature_matching(
        self, real: torch.Tensor, fake: torch.Tensor, maps: torch.Tensor
    ) -> torch.Tensor:
        """L1 between the discriminator's intermediate features of real and fake windows."""
        loss = torch.zeros((), device=self.device)
        n = 0
        for net_i, net in enumerate(self.D.nets):  # type: ignore[union-attr]
            xr, xf = torch.cat([real, maps], 1), torch.cat([fake, maps], 1)
            for _ in range(net_i):
                xr = nn.functional.avg_pool2d(xr, 3, 2, 1, count_include_pad=False)
                xf = nn.functional.avg_pool2d(xf, 3, 2, 1, count_include_pad=False)
            for layer in net.body:
                xr, xf = layer(xr), layer(xf)
                if isinstance(layer, nn.LeakyReLU):
                    loss = loss + (xr.detach() - xf).abs().mean()
                    n += 1
        return loss / max(n, 1)

    # ----------------------------------------------------------------- run
    def run(
        self,
        run_dir: Path,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        on_log: Callable[[dict[str, float]], None] | None = None,
    ) -> None:
        """Train up to ``cfg.steps``, with checkpoints, sample grids and loss curves."""
        run_dir.mkdir(parents=True, exist_ok=True)
        self.G.train()
        start = time.time()
        while self.step < self.cfg.steps:
            check_cancel(cancel)
            logs = self.train_step()
            if on_log:
                on_log(logs)
            report(progress, self.step, self.cfg.steps)
            out_of_time = (
                self.cfg.max_minutes > 0 and time.time() - start > 60 * self.cfg.max_minutes
            )
            if self.ctx is not None and self.ctx.distributed:  # every rank stops at one step
                out_of_time = self.ctx.mean(float(out_of_time)) > 0
            last = self.step == self.cfg.steps or out_of_time
            if self.is_main and (self.step % self.cfg.checkpoint_every == 0 or last):
                self.save_checkpoint(run_dir / "checkpoint")
            if self.is_main and (self.step % self.cfg.sample_every == 0 or last):
                self.save_samples(run_dir / "samples.png")
                self.save_curves(run_dir / "losses.png")
            if out_of_time:
                break
        self.seconds = time.time() - start

    # ----------------------------------------------------------------- files
    def save_checkpoint(self, stem: Path) -> None:
        """``stem.safetensors`` (weights, optimiser moments, RNG) + ``stem.json`` (the rest)."""
        tensors = {f"G.{k}": v.detach().cpu().contiguous() for k, v in self.G.state_dict().items()}
        if self.G0 is not None:
            tensors.update(
                {f"G0.{k}": v.detach().cpu().contiguous() for k, v in self.G0.state_dict().items()}
            )
        groups: dict[str, Any] = {}
        if self.D is not None:
            tensors.update(
                {f"D.{k}": v.detach().cpu().contiguous() for k, v in self.D.state_dict().items()}
            )
            t, groups["opt_d"] = _opt_state("opt_d", self.opt_d)  # type: ignore[arg-type]
            tensors.update(t)
        t, groups["opt_g"] = _opt_state("opt_g", self.opt_g)
        tensors.update(t)
        tensors["torch_rng"] = torch.get_rng_state()
        meta = {
            "step": self.step,
            "config": asdict(self.cfg),
            "param_groups": groups,
            "numpy_rng": self.rng.bit_generator.state,
            "history": self.history,
        }
        with atomic_path(stem.with_suffix(".safetensors")) as tmp:
            save_file(tensors, str(tmp))
        with atomic_path(stem.with_suffix(".json")) as tmp:
            tmp.write_text(json.dumps(meta, default=str))

    def init_generator(self, source: str | Path) -> str:
        """Start the generator from other weights: a checkpoint stem or a saved model.

        The usual pix2pix warm start: a generator pretrained with L1 alone, then trained with
        the adversarial loss. Returns a description for the card.
        """
        src = Path(source)
        stem = src.with_suffix("") if src.suffix in (".safetensors", ".json") else src
        weights = stem.with_suffix(".safetensors")
        if not weights.is_file():
            raise InputError("no weights to start from (needs .safetensors)", weights)
        tensors = load_file(str(weights))
        if any(k.startswith("G.") for k in tensors):  # a training checkpoint
            tensors = {k[2:]: v for k, v in tensors.items() if k.startswith("G.")}
        try:
            self.G.load_state_dict(tensors)
        except RuntimeError as exc:
            raise InputError(
                f"does not fit this generator's configuration ({exc})", weights
            ) from exc
        if self.cfg.anchor > 0:
            self._freeze_start()
        from napari_xray_synth.core.models import sha256_file

        return f"{weights} (sha256 {sha256_file(weights)})"

    def _freeze_start(self, state: dict[str, torch.Tensor] | None = None) -> None:
        """Keep a frozen copy of the generator as it is now (or with ``state``): the anchor."""
        g0 = ConditionalUNet(**self.cfg.generator_config()).to(self.device)
        g0.load_state_dict(state if state is not None else self.G.state_dict())
        g0.requires_grad_(False)
        self.G0 = g0.eval()

    def load_checkpoint(self, stem: Path) -> None:
        """Continue from :meth:`save_checkpoint` output (the config's ``steps`` may grow)."""
        stem = Path(stem)
        if stem.suffix in (".safetensors", ".json"):
            stem = stem.with_suffix("")
        w, j = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
        if not w.is_file() or not j.is_file():
            raise InputError("checkpoint not found (needs .safetensors and .json)", stem)
        meta = json.loads(j.read_text())
        tensors = load_file(str(w))
        self.G.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
        start = {k[3:]: v for k, v in tensors.items() if k.startswith("G0.")}
        if self.cfg.anchor > 0 and not start and self.G0 is None:
            raise InputError("checkpoint has no starting generator for --anchor", stem)
        if start:
            self._freeze_start(start)
        if self.D is not None:
            d_state = {k[2:]: v for k, v in tensors.items() if k.startswith("D.")}
            if not d_state:
                raise InputError("checkpoint has no discriminator (an --l1-only run)", stem)
            self.D.load_state_dict(d_state)
            _load_opt(self.opt_d, "opt_d", tensors, meta["param_groups"]["opt_d"])  # type: ignore
        _load_opt(self.opt_g, "opt_g", tensors, meta["param_groups"]["opt_g"])
        torch.set_rng_state(tensors["torch_rng"])
        self.rng.bit_generator.state = meta["numpy_rng"]
        self.step = int(meta["step"])
        self.history = list(meta["history"])

    @torch.no_grad()
    def save_samples(self, path: Path, n: int = 8) -> None:
        """A PNG grid: input, condition maps, output (two noises), target/real."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.G.eval()
        rng_state = self.rng.bit_generator.state
        sample_rng = np.random.default_rng(12345)
        idx = sample_rng.choice(len(self.data), min(n, len(self.data)), replace=False)
        b = {k: _tensor(v, self.device) for k, v in self.data.batch(idx).items()}
        zs = [
            _tensor(sample_rng.standard_normal(b["x"].shape).astype(np.float32), self.device)
            for _ in range(2)
        ]
        outs = [self._fake(b, z).float().cpu().numpy()[:, 0] for z in zs]
        self.rng.bit_generator.state = rng_state
        self.G.train()
        rows = [b["x"].cpu().numpy()[:, 0], b["maps"].amax(1).cpu().numpy(), *outs]
        names = ["input", "condition", "output z1", "output z2"]
        if "y" in b:
            rows.append(b["y"].cpu().numpy()[:, 0])
            names.append("simulated truth")
        fig, axes = plt.subplots(len(rows), len(idx), figsize=(1.6 * len(idx), 1.6 * len(rows)))
        axes = np.atleast_2d(axes)
        for r, (row, name) in enumerate(zip(rows, names, strict=True)):
            for c in range(len(idx)):
                ax = axes[r, c]
                lim = (-2.0, 2.0) if name != "condition" else (0.0, 1.0)
                ax.imshow(row[c], cmap="gray", vmin=lim[0], vmax=lim[1])
                ax.set_xticks([])
                ax.set_yticks([])
                if c == 0:
                    ax.set_ylabel(name, fontsize=7)
        fig.suptitle(f"step {self.step}", fontsize=8)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=80, format="png")
        plt.close(fig)

    def save_curves(self, path: Path) -> None:
        """Loss curves (moving averages) as PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if not self.history:
            return
        keys = [k for k in self.history[-1] if k != "step"]
        fig, axes = plt.subplots(1, len(keys), figsize=(2.6 * len(keys), 2.4))
        axes = np.atleast_1d(axes)
        for ax, k in zip(axes, keys, strict=True):
            # each loss over the steps that have it (the warm-up has no generator losses)
            have = [h for h in self.history if k in h and not math.isnan(h[k])]
            steps = np.array([h["step"] for h in have])
            v = np.array([h[k] for h in have], float)
            w = max(1, len(v) // 50)
            sm = np.convolve(v, np.ones(w) / w, mode="valid")
            ax.plot(steps[: len(sm)] + w - 1, sm)
            ax.set_title(k, fontsize=8)
            ax.tick_params(labelsize=6)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=80, format="png")
        plt.close(fig)

    def save_generator(self, out: Path, card: dict[str, Any]) -> Path:
        """The generator as a shipped model (safetensors + card) at ``out``."""
        self.G.eval()
        full = {
            "window": self.cfg.window,
            "training": asdict(self.cfg),
            "steps_done": self.step,
            **card,
        }
        return save_model(self.G, out, "conditional_unet", self.cfg.generator_config(), full)
