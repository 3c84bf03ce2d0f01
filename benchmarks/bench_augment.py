"""Throughput of ``xray-synth augment`` with 1 and 2 Dask workers, and per-item timings.

Prints a table (markdown) and writes the figures as JSON. The per-item timings (read, lung
field, placement + synthesis, writing) feed the estimate of the time for 100 000 images on N
GPUs printed at the end; the estimate's assumptions are printed with it.

Usage (run in the background on a shared machine)::

    OMP_NUM_THREADS=1 python benchmarks/bench_augment.py \
        --input /work/shared/data/cxr/labels.csv --spacing 0.4 --per-image 3 \
        --json benchmarks/results/bench_augment.json

Without ``--input``, 20 simulated 1024 x 1024 chests are used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_xray_synth.core.batch import AugmentConfig, run_augment
from napari_xray_synth.core.batch_sources import list_sources
from napari_xray_synth.core.conditions import PATHOLOGIES


def simulated_inputs(folder: Path, n: int = 20) -> Path:
    """n simulated chests written as 16-bit PNG (spacing 0.4 mm given on the command line)."""
    from napari_xray_synth.core.export.raster import write_image_file
    from napari_xray_synth.core.simulate import simulate_chest

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rg = simulate_chest(seed=i)
        rg = rg if not isinstance(rg, tuple) else rg[0]
        write_image_file(getattr(rg, "radiograph", rg), folder / f"sim{i:03d}.png")
    return folder


def per_item_profile(path: Path, spacing: float, fmt: str, repeats: int = 2) -> dict[str, float]:
    """Seconds per step for one image in this process (one thread): the cost model."""
    import torch

    from napari_xray_synth.core.export.dataset import ExportItem, write_item
    from napari_xray_synth.core.io import read_radiograph
    from napari_xray_synth.core.lung_field import estimate_lung_fields
    from napari_xray_synth.core.models import save_model
    from napari_xray_synth.core.nn.generator import build_conditional_unet
    from napari_xray_synth.core.placement import place_condition
    from napari_xray_synth.core.synthesize import synthesize

    torch.set_num_threads(1)
    out: dict[str, list[float]] = {}

    def timed(name: str, fn, *a, **k):
        t, c = time.perf_counter(), time.process_time()
        r = fn(*a, **k)
        out.setdefault(name, []).append(time.perf_counter() - t)
        out.setdefault(f"{name} [cpu]", []).append(time.process_time() - c)
        return r

    tmp = Path(tempfile.mkdtemp(prefix="bench_item_"))
    # an untrained generator of the shipped architecture: its cost, not its quality
    gen = save_model(
        build_conditional_unet(),
        tmp / "bench_generator",
        "conditional_unet",
        {},
        {"window": 128, "note": "untrained, for timing only"},
    )
    for _ in range(repeats):
        rg = timed("read", read_radiograph, path)
        if rg.spacing is None:
            rg = rg.with_spacing((spacing, spacing), "user")
        fields = timed("lung field", estimate_lung_fields, rg.image)
        for i, p in enumerate(PATHOLOGIES):
            rng = np.random.default_rng(i)
            cond = timed("placement", place_condition, rng, p, fields, spacing)
            region = [fields.side(cond.side) if cond.side else None]
            v = timed(
                "synthesize physics",
                synthesize,
                rg,
                [cond],
                1,
                seed=i,
                method="physics",
                regions=region,
            )[0]
            timed(
                "synthesize gan (cpu)",
                synthesize,
                rg,
                [cond],
                1,
                seed=i,
                method="gan",
                model=str(gen),
                device="cpu",
                regions=region,
            )
            item = ExportItem("x", v.radiograph, v.mask, (cond,), i)
            timed(f"write {fmt}", write_item, item, tmp, "x", fmt)
    shutil.rmtree(tmp, ignore_errors=True)
    return {k: float(np.mean(v)) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", help="folder or CSV (default: 20 simulated chests)")
    ap.add_argument("--spacing", type=float, default=0.4)
    ap.add_argument("--per-image", type=int, default=3)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--format", default="png")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_augment_"))
    inp = Path(args.input) if args.input else simulated_inputs(tmp / "in")
    cfg = AugmentConfig(per_image=args.per_image, seed=0, spacing_mm=args.spacing, fmt=args.format)
    runs = []
    for n in (int(w) for w in args.workers.split(",")):
        s = run_augment(inp, tmp / f"out{n}", cfg, workers=n)
        runs.append(s.to_dict())
    first = list_sources(inp)[0].path
    prof = per_item_profile(first, args.spacing, args.format)
    shutil.rmtree(tmp, ignore_errors=True)

    base = runs[0]["work_items_per_second"]
    print(f"machine: {platform.machine()} {os.cpu_count()} CPU(s), load {os.getloadavg()[0]:.1f}")
    print(f"input: {inp}, K={args.per_image}, format {args.format}\n")
    print(
        "| workers | items | wall s (incl. cluster start) | work s | items/s (work) | speed-up |"
        " s/item on a worker (wall) | CPU s/item |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(
            f"| {r['workers']} | {r['written']} | {r['seconds']:.1f} | {r['work_seconds']:.1f} |"
            f" {r['work_items_per_second']:.2f} | {r['work_items_per_second'] / base:.2f}x |"
            f" {r['item_seconds_mean']:.3f} | {r['item_cpu_seconds_mean']:.3f} |"
        )
    print("\n| step (one image, one thread) | wall s | CPU s |")
    print("|---|---|---|")
    for k, v in prof.items():
        if not k.endswith("[cpu]"):
            print(f"| {k} | {v:.3f} | {prof[k + ' [cpu]']:.3f} |")

    # one item on one worker: its own steps, plus the read and lung field shared by K items
    def per_item(suffix: str) -> tuple[float, float]:
        get = (lambda n: prof[n + " [cpu]"]) if suffix else (lambda n: prof[n])
        shared = (get("read") + get("lung field")) / args.per_image
        cpu_side = shared + get("placement") + get(f"write {args.format}")
        return cpu_side + get("synthesize physics"), cpu_side

    est = {}
    for label, suffix in (("wall (loaded machine)", ""), ("CPU time (an idle core)", "[cpu]")):
        phys, cpu_side = per_item(suffix)
        est[label] = {"physics": phys, "gpu_run_cpu_side": cpu_side}
        print(
            f"\nper item, {label}: physics {phys:.3f} s; "
            f"CPU side of a GAN run on GPUs {cpu_side:.3f} s"
        )
    print(
        "\nestimate for 100 000 images (one variant each), GAN on N GPUs with 8 CPU worker "
        "processes per GPU; the generator's forward on a 128x128 window is taken as negligible "
        "next to the CPU side (not measured: no GPU here):"
    )
    print("| GPUs | hours, from wall s | hours, from CPU s |")
    print("|---|---|---|")
    for n_gpu in (1, 2, 4, 8):
        h = [100_000 * e["gpu_run_cpu_side"] / (8 * n_gpu) / 3600 for e in est.values()]
        print(f"| {n_gpu} | {h[0]:.2f} | {h[1]:.2f} |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(
                {
                    "runs": runs,
                    "profile": prof,
                    "per_item": est,
                    "load": os.getloadavg(),
                },
                indent=1,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
