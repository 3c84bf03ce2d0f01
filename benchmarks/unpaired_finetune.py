"""Unpaired fine-tuning on simulator windows, where the paired truth shows what it did.

A user fine-tunes the shipped generator on their own labelled films (``train gan --data CSV
--init-from models/generator``). Nothing in unpaired mode says what the lesion itself should
be but the discriminator. This benchmark measures, for several ``--anchor`` weights (L1 to the
starting generator), on windows the fine-tune never saw:

* damage: the "real" set is the simulator's own diseased windows (the same domain the generator
  was trained on), so a good fine-tune should leave the generator about as it was; PSNR and
  SSIM in the lesion's mask against the paired truth, and the high-frequency energy of the
  change in the mask relative to the truth's (crinkled artefacts raise it);
* adaptation: the "real" lesions are ``SHIFT`` times as dense as the simulator's (a stand-in
  for a data set whose lesions differ), so a fine-tune that learns from its data should move
  the drawn density (the change in the mask over the simulator lesion's) from 1 towards
  ``SHIFT``; PSNR and SSIM are then against the shifted truth.

The fine-tune's data is a paired window cache (``train gan --cache``; the shipped generator's
own, as a stand-in for a user's films) split in two halves (healthy inputs, "real" lesions from
other chests), as ``train gan --mode unpaired`` does. The measurement is on ``--test-cache``:
windows of other chests (the validation seeds: ``gan_data.sim_windows(300, 800000, 64)`` saved
with ``save_windows``), or, without it, the cache's last ``--test`` windows.

    PYTHONPATH=src python benchmarks/unpaired_finetune.py --cache windows.npz \
        --test-cache val_windows.npz --steps 200
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from scipy import ndimage
from skimage.metrics import structural_similarity

from napari_xray_synth.core.models import find_model
from napari_xray_synth.core.train.gan import GanConfig, GanTrainer
from napari_xray_synth.core.train.gan_data import WindowSet, load_windows


def subset(ws: WindowSet, idx: np.ndarray, shift: float | None = None) -> WindowSet:
    """Windows ``idx``; with ``shift``, the (diseased) x is the healthy one plus shift x lesion."""
    x = ws.x[idx] if shift is None else x_plus(ws, shift)[idx]
    return WindowSet(x, ws.maps[idx], ws.feather[idx], ws.mask[idx], None, ws.pathology[idx])  # type: ignore


def _fine(change: np.ndarray, m: np.ndarray) -> float:
    """Mean detail finer than 1 px (sigma) of a change, in the mask."""
    return float(np.abs(change - ndimage.gaussian_filter(change, 1.0))[m].mean())


@torch.no_grad()
def measure(g: torch.nn.Module, test: WindowSet, shift: float, seed: int = 7) -> dict[str, float]:
    """Density ratio, PSNR/SSIM in the mask and high-frequency ratio on held-out windows."""
    g.eval()
    rng = np.random.default_rng(seed)
    x, y = test.x, x_plus(test, shift)
    z = rng.standard_normal(x.shape).astype(np.float32)
    out = []
    for i in range(0, len(x), 64):
        xb, fb, mb, zb = (
            torch.from_numpy(np.ascontiguousarray(a[i : i + 64]))
            for a in (x, test.feather, test.maps, z)
        )
        out.append((xb + fb * g(xb, mb, zb)).numpy())
    fake = np.concatenate(out)
    rows = []
    for k in range(len(x)):
        m = test.mask[k, 0] > 0.5
        lesion = float((test.y[k, 0] - x[k, 0])[m].sum())  # type: ignore[index]
        if m.sum() < 16 or abs(lesion) < 1e-3 * m.sum():
            continue
        err = float(((fake[k, 0] - y[k, 0])[m] ** 2).mean())
        _, smap = structural_similarity(fake[k, 0], y[k, 0], data_range=2.0, win_size=7, full=True)
        rows.append(
            (
                float((fake[k, 0] - x[k, 0])[m].sum()) / lesion,
                10 * np.log10(4.0 / max(err, 1e-12)),
                float(smap[m].mean()),
                _fine(fake[k, 0] - x[k, 0], m) / max(_fine(y[k, 0] - x[k, 0], m), 1e-6),
            )
        )
    a = np.array(rows)
    return {
        "n": len(a),
        "density": float(np.median(a[:, 0])),
        "psnr": float(a[:, 1].mean()),
        "ssim": float(a[:, 2].mean()),
        "hf_ratio": float(np.median(a[:, 3])),
    }


def x_plus(ws: WindowSet, shift: float) -> np.ndarray:
    """The healthy windows plus ``shift`` times the simulator's lesion (needs paired ``y``)."""
    return ws.x + shift * (ws.y - ws.x)  # type: ignore[operator]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True, help="a paired window cache (train gan --cache)")
    ap.add_argument("--init", default="generator")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument(
        "--configs",
        default="r1=10 mode_seeking=1;anchor=100 r1=0 d_steps=4 mode_seeking=0 d_warmup=200",
        help="';'-separated runs, each 'field=value ...' of GanConfig (others: train gan's "
        "defaults); d_warmup steps come on top of --steps",
    )
    ap.add_argument("--shift", type=float, default=1.6)
    ap.add_argument("--test", type=int, default=400)
    ap.add_argument("--test-cache", default=None, help="paired windows to measure on")
    ap.add_argument("--train", type=int, default=0, help="training windows (0: all the rest)")
    ap.add_argument("--cases", default="same,shifted")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--measure-every", type=int, default=0, help="also measure every N generator steps"
    )
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    ws = load_windows(args.cache)
    n = len(ws)
    if args.test_cache:
        tw = load_windows(args.test_cache)
        test, n_held = subset(tw, np.arange(len(tw))), 0
        test.y = tw.y
    else:
        test, n_held = subset(ws, np.arange(n - args.test, n)), args.test
        test.y = ws.y[n - args.test :]  # type: ignore[index]
    n_train = args.train or n - n_held
    h = n_train // 2
    healthy = subset(ws, np.arange(h))
    init = str(find_model(args.init)[0])
    results: dict[str, dict] = {}
    start = GanTrainer(GanConfig(mode="unpaired", window=ws.x.shape[-1]), healthy, healthy, "cpu")
    start.init_generator(init)
    for case in args.cases.split(","):
        shift = 1.0 if case == "same" else args.shift
        results[f"{case}/start"] = measure(start.G, test, shift)
        print(case, "start", results[f"{case}/start"], flush=True)
        real = subset(ws, np.arange(h, n_train), shift)
        for spec in args.configs.split(";"):
            fields = {k: float(v) for k, v in (kv.split("=") for kv in spec.split())}
            for k in ("d_warmup", "d_steps"):
                fields[k] = int(fields.get(k, getattr(GanConfig, k)))
            warm = fields.get("d_warmup", 0)
            cfg = GanConfig(
                mode="unpaired",
                window=ws.x.shape[-1],
                seed=args.seed,
                **{**fields, "steps": args.steps + warm},  # type: ignore[arg-type]
            )
            name = spec
            tr = GanTrainer(cfg, healthy, real, "cpu")
            tr.init_generator(init)
            t0 = time.time()
            for k in range(1, cfg.steps + 1):
                tr.train_step()
                g_steps = k - warm
                if args.measure_every and 0 < g_steps < args.steps:
                    if g_steps % args.measure_every == 0:
                        r = measure(tr.G, test, shift)
                        results[f"{case}/{name} @{g_steps}"] = r
                        print(case, name, f"@{g_steps}", r, flush=True)
                        tr.G.train()
            r = measure(tr.G, test, shift) | {"seconds": round(time.time() - t0, 1)}
            results[f"{case}/{name}"] = r
            print(case, name, r, flush=True)
    print(f"\nunpaired fine-tune, {args.steps} generator steps, held-out windows: {len(test)}")
    print("| real set | generator | density (target) | PSNR in mask | SSIM in mask | HF ratio |")
    print("|---|---|---|---|---|---|")
    for key, r in results.items():
        case, gen = key.split("/")
        target = 1.0 if case == "same" else args.shift
        print(
            f"| {case} | {gen} | {r['density']:.2f} ({target:g}) | {r['psnr']:.2f} | "
            f"{r['ssim']:.3f} | {r['hf_ratio']:.2f} |"
        )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"args": vars(args), "results": results}, fh, indent=1)


if __name__ == "__main__":
    main()
