"""Montage of simulated chest radiographs next to real ones: docs/images/simulator_montage.png.

Top row: simulated (healthy and one per pathology, noisy at the default dose, 1024² shown at
512²); middle row: the same with the exact lesion mask outlined; bottom row: real NIH
ChestX-ray14 images with that finding from ``--real`` (when the local set has one), shown at
their physical aspect ratio. Run: ``python benchmarks/montage_simulator.py``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from skimage.segmentation import find_boundaries

from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.simulate import simulate_chest

ROOT = Path(__file__).resolve().parents[1]
#: Size and severity shown per pathology (position and outline come from the seed).
SHOWN = {
    "nodule": {"size_mm": 16.0, "severity": 0.9, "margin": "spiculated"},
    "mass": {"size_mm": 55.0, "severity": 0.85},
    "effusion": {"size_mm": 80.0, "severity": 0.9},
    "pneumothorax": {"size_mm": 30.0, "severity": 1.0},
    "consolidation": {"size_mm": 80.0, "severity": 0.9},
}
NIH = {
    "nodule": "Nodule",
    "mass": "Mass",
    "effusion": "Effusion",
    "pneumothorax": "Pneumothorax",
    "consolidation": "Consolidation",
    "cardiomegaly": "Cardiomegaly",
}


def real_examples(folder: Path) -> dict[str, tuple[np.ndarray, str]]:
    """One real image per finding (and "healthy"), resampled to its physical aspect."""
    out: dict[str, tuple[np.ndarray, str]] = {}
    labels = folder / "labels.csv"
    if not labels.exists():
        return out
    for row in csv.DictReader(open(labels)):
        key = "healthy" if row["normal"] == "1" else None
        for p, col in NIH.items():
            if row.get(col) == "1" and "|" not in row["finding_labels"]:
                key = p
        if key is None or key in out:
            continue
        img = Image.open(folder / row["file"]).convert("L")
        w_mm = float(row["orig_width"]) * float(row["orig_pixel_spacing_mm"])
        h_mm = float(row["orig_height"]) * float(row["orig_pixel_spacing_mm"])
        side = 512
        w, h = (
            (round(side * w_mm / h_mm), side) if h_mm > w_mm else (side, round(side * h_mm / w_mm))
        )
        arr = np.asarray(img.resize((w, h), Image.LANCZOS), np.float32) / 255.0
        canvas = np.zeros((side, side), np.float32)
        r0, c0 = (side - h) // 2, (side - w) // 2
        canvas[r0 : r0 + h, c0 : c0 + w] = arr
        out[key] = (canvas, f"NIH {Path(row['file']).stem} ({row['finding_labels']})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "simulator_montage.png")
    ap.add_argument("--real", type=Path, default=ROOT.parent.parent / "shared" / "data" / "cxr")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size", type=int, default=1024)
    args = ap.parse_args()
    if not args.real.exists():
        args.real = Path("/work/shared/data/cxr")
    reals = real_examples(args.real)
    keys = ["healthy", *PATHOLOGIES]
    fig, axes = plt.subplots(3, len(keys), figsize=(2.6 * len(keys), 8.4), facecolor="black")
    for j, key in enumerate(keys):
        case = simulate_chest(args.seed + j, args.size, None if key == "healthy" else key)
        if case.conditions and key in SHOWN:
            # the seed's random lesion, at a representative size and opacity
            cond = dataclasses.replace(case.conditions[0], **SHOWN[key])
            case = simulate_chest(args.seed + j, args.size, cond)
        rg = case.diseased if case.diseased is not None else case.healthy
        step = max(args.size // 512, 1)
        img = (
            rg.image[::step, ::step]
            if step == 1
            else rg.image.reshape(args.size // step, step, args.size // step, step).mean(
                axis=(1, 3)
            )
        )
        title = key
        if case.conditions:
            c = case.conditions[0]
            title = f"{key}\n{c.size_mm:.0f} mm, sev {c.severity:.2f}"
            if key in ("nodule", "mass"):
                title += f", {c.margin}"
        axes[0, j].imshow(img, cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(f"simulated: {title}", color="white", fontsize=8)
        rgb = np.repeat(img[..., None], 3, axis=2)
        if case.conditions:
            m = case.mask[::step, ::step] > 0
            b = find_boundaries(m, mode="outer")
            rgb[b] = (1.0, 0.2, 0.2)
        axes[1, j].imshow(rgb)
        axes[1, j].set_title(
            "mask outline" if case.conditions else "(no lesion)", color="white", fontsize=8
        )
        if key in reals:
            axes[2, j].imshow(reals[key][0], cmap="gray", vmin=0, vmax=1)
            axes[2, j].set_title(f"real: {reals[key][1]}", color="white", fontsize=7)
        else:
            axes[2, j].text(
                0.5,
                0.5,
                "no real example\nin the local set",
                color="white",
                ha="center",
                va="center",
                fontsize=8,
                transform=axes[2, j].transAxes,
            )
        for i in range(3):
            axes[i, j].axis("off")
    fig.suptitle(
        f"napari-xray-synth simulator (seeds {args.seed}..{args.seed + len(keys) - 1}, "
        f"{args.size}² at {358.4 / args.size:.2f} mm) vs. real NIH ChestX-ray14 images",
        color="white",
        fontsize=10,
    )
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110, facecolor="black")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
