"""Can an unpaired discriminator learn at all? D alone, G frozen (the shipped generator).

The discriminator of an unpaired fine-tune is trained on simulator windows whose "real" lesions
are ``--shift`` times as dense as the generator's; every 100 steps its mean logit on real and
fake windows it did not train on (the cache's last 400) and the AUC between them are printed.
With R1 10 it sits at the constant answer (AUC 0.5); see docs/synth.md.

    PYTHONPATH=src:benchmarks python benchmarks/unpaired_d_check.py --cache windows.npz --r1 0
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from unpaired_finetune import subset

from napari_xray_synth.core.models import find_model
from napari_xray_synth.core.train.gan import GanConfig, GanTrainer
from napari_xray_synth.core.train.gan_data import load_windows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True)
    ap.add_argument("--init", default="generator")
    ap.add_argument("--shift", type=float, default=1.6)
    ap.add_argument("--r1", type=float, default=10.0)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--test", type=int, default=400)
    args = ap.parse_args()

    ws = load_windows(args.cache)
    n = len(ws)
    h = (n - args.test) // 2
    held = np.arange(n - args.test, n)
    test_real, test_in = subset(ws, held, args.shift), subset(ws, held)
    cfg = GanConfig(
        mode="unpaired",
        steps=args.steps + 1,
        window=ws.x.shape[-1],
        mode_seeking=0.0,
        r1=args.r1,
        d_warmup=args.steps,  # the generator never moves
    )
    tr = GanTrainer(cfg, subset(ws, np.arange(h)), subset(ws, np.arange(h, 2 * h), args.shift))
    tr.init_generator(find_model(args.init)[0])
    z = np.random.default_rng(3).standard_normal(test_in.x.shape).astype(np.float32)

    @torch.no_grad()
    def score() -> tuple[float, float, float]:
        t = torch.from_numpy
        fake = t(test_in.x) + t(test_in.feather) * tr.G(t(test_in.x), t(test_in.maps), t(z))
        real_logit = torch.cat([o.mean((1, 2, 3)) for o in tr.D(t(test_real.x), t(test_real.maps))])
        fake_logit = torch.cat([o.mean((1, 2, 3)) for o in tr.D(fake, t(test_in.maps))])
        a, b = real_logit.numpy(), fake_logit.numpy()
        auc = (a[:, None] > b[None, :]).mean() + 0.5 * (a[:, None] == b[None, :]).mean()
        return float(a.mean()), float(b.mean()), float(auc)

    print(f"R1 {args.r1:g}, real lesions x{args.shift:g}, held-out windows: {args.test}")
    print("| step | D loss | R1 term | mean logit real | mean logit fake | AUC |")
    print("|---|---|---|---|---|---|")
    for k in range(1, args.steps + 1):
        logs = tr.train_step()
        if k % 100 == 0:
            r, f, auc = score()
            print(f"| {k} | {logs['d']:.3f} | {logs['r1']:.3f} | {r:.3f} | {f:.3f} | {auc:.3f} |")


if __name__ == "__main__":
    main()
