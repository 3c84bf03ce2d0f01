"""Conditioning judged at the requested point: is the asked-for finding where it was asked for?

The whole-image classifier (``models/classifier``, 256 px) cannot call nodules, not even the
simulator's own (``eval_synth.py``: 0 of 10), so its recognition rate measures the judge as much
as the generator. This script asks the point classifier (``models/point_classifier``, trained by
``xray-synth train point-classifier`` on other simulator seeds) what is at the requested point of
each variant, on the same held-out chests (simulator seeds 900000..) and with the same variant
seeds as ``eval_synth.py``, so its variants are eval_synth's.

Measures, per method and pathology: the share of variants whose requested finding gets p >= 0.5
at its point (target >= 90 %); the same on the simulator's own diseased image (``truth``: the
judge's ceiling) and on the unchanged input at the same point (``input``: the false-positive
floor). On the real films (../shared/data/cxr, eval_synth's placements), the share of GAN and
physics variants recognised and of the unchanged films called at the same point: the judge has
seen only the simulator, so this is a look at the domain gap, not a target.

    PYTHONPATH=src OMP_NUM_THREADS=2 python benchmarks/eval_point_conditioning.py \
        --cases 60 --out benchmarks/eval_point_conditioning.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

from eval_synth import held_out_cases, real_cases

from napari_xray_synth.core.conditions import PATHOLOGIES, Condition
from napari_xray_synth.core.models import load_model
from napari_xray_synth.core.nn.point_classifier import CLASSES
from napari_xray_synth.core.radiograph import Radiograph
from napari_xray_synth.core.synthesize import synthesize

METHODS = (("gan", "gan", "generator"), ("l1-only", "gan", "generator_l1only"))
METHODS += (("physics", "physics", "generator"),)


def p_at(judge, image: np.ndarray, cond: Condition, px: float) -> float:
    """The judge's probability of ``cond``'s pathology at its point."""
    probs = judge.probabilities(image, cond.center, px)
    return float(probs[CLASSES.index(cond.pathology)])


def table(rows: list[dict], key: str = "ok") -> dict:
    """Share of rows with ``key`` per pathology and overall."""
    out = {p: float(np.mean([r[key] for r in rows if r["pathology"] == p])) for p in PATHOLOGIES}
    out = {p: v for p, v in out.items() if np.isfinite(v)}
    out["all"] = float(np.mean([r[key] for r in rows]))
    return out


def simulated(judge, cases: list[dict], methods, n_var: int = 2) -> dict:
    rows: dict[str, list[dict]] = {"truth": [], "input": []}
    for i, c in enumerate(cases):
        cond, px = c["cond"], c["px"]
        rows["truth"].append(
            dict(pathology=cond.pathology, ok=p_at(judge, c["y"], cond, px) >= 0.5)
        )
        rows["input"].append(
            dict(pathology=cond.pathology, ok=p_at(judge, c["x"], cond, px) >= 0.5)
        )
        rg = Radiograph(c["x"], (px, px), "simulator")
        for name, method, model in methods:
            vs = synthesize(
                rg, [cond], n_var, seed=i, method=method, model=model, device="cpu",
                regions=[c["region"]],
            )  # fmt: skip
            for v in vs:
                ok = p_at(judge, v.radiograph.image, cond, px) >= 0.5
                rows.setdefault(name, []).append(dict(pathology=cond.pathology, ok=ok))
    return {name: table(r) for name, r in rows.items()}


def real(judge, data: Path, methods) -> dict:
    rows: dict[str, list[dict]] = {"input": []}
    for j, _, rg, px, cond in real_cases(data):
        p = cond.pathology
        rows["input"].append(dict(pathology=p, ok=p_at(judge, rg.image, cond, px) >= 0.5))
        for name, method, model in methods:
            (v,) = synthesize(rg, [cond], 1, seed=j, method=method, model=model, device="cpu")
            ok = p_at(judge, v.radiograph.image, cond, px) >= 0.5
            rows.setdefault(name, []).append(dict(pathology=p, ok=ok))
    return {name: table(r) for name, r in rows.items()}


def print_table(title: str, result: dict) -> None:
    cols = [*PATHOLOGIES, "all"]
    print(f"\n{title}")
    print("| | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, row in result.items():
        cells = [f"{row[c]:.0%}" if c in row else "–" for c in cols]
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=60)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--cases-cache", default=None, help="stem of eval_synth's held-out cache")
    ap.add_argument("--judge", default="point_classifier", help="the point classifier (model)")
    ap.add_argument("--methods", default="gan,l1-only,physics")
    ap.add_argument("--real", default="../shared/data/cxr", help="NIH films (skipped if absent)")
    ap.add_argument("--out", default=None, help="JSON of the tables")
    args = ap.parse_args()
    judge = load_model(args.judge, device="cpu")
    net = judge.module
    methods = [m for m in METHODS if m[0] in args.methods.split(",")]
    cases = held_out_cases(args.cases, args.size, args.cases_cache)
    with torch.no_grad():
        result = {"judge": {"name": args.judge, "sha256": judge.sha256}}
        result["simulated"] = simulated(net, cases, methods)
        print(f"judge {args.judge} ({judge.sha256[:12]}), {len(cases)} held-out chests")
        print_table("held-out simulated chests: requested finding at its point, p >= 0.5",
                    result["simulated"])  # fmt: skip
        data = Path(args.real)
        if (data / "labels.csv").is_file():
            real_methods = [m for m in methods if m[0] != "l1-only"]
            result["real"] = real(net, data, real_methods)
            print_table(f"real films ({data}): at the same point, p >= 0.5", result["real"])
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
