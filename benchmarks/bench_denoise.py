"""Denoising benchmark: quality (blind) against non-local means and BM3D, speed, peak memory.

Usage (from the repository root)::

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/bench_denoise.py [--data DIR] [--crop 256]

Quality: the NIH chest images in ``DIR`` (default ../shared/data/cxr/images), centre crops of
``--crop`` pixels (BM3D costs about a minute per 512² crop on one core, so crops keep it
feasible), with the simulator's signal-dependent noise (``simulate_noisy``: Poisson + electronic
noise through the log) at two doses. Ours is blind (it estimates the noise); scikit-image
non-local means is given its best ``h`` from a grid (the oracle picks it with the clean image)
and the true noise sigma; BM3D (``pip install bm3d``, a non-commercial licence: benchmark only,
never a dependency) is given the true noise sigma (the RMS of noisy - clean). Also held-out
simulator chests at three doses. Speed: a 2048² image, median of 5; BM3D on 512² scaled by the
pixel count. Memory: peak RSS of a fresh process denoising 4096² (``/usr/bin/time -v``).
BM3D results are cached in ``runs/bench_cache`` (they do not depend on our model).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from skimage.metrics import peak_signal_noise_ratio as psnr
from skimage.metrics import structural_similarity as ssim

from napari_xray_synth.core.denoise import denoise
from napari_xray_synth.core.io import read_radiograph
from napari_xray_synth.core.simulate import simulate_noisy
from napari_xray_synth.core.train.denoiser import simulated_clean

CXR_DOSES = {"low (1e4)": 1e4, "reduced (5e4)": 5e4}
SIM_DOSES = {"3e4": 3e4, "1.5e5": 1.5e5, "1e6": 1e6}
SIM_SEEDS = (910_001, 910_002, 910_003, 910_004)  # not training seeds, not the card's held-out
NLM_GRID = (0.4, 0.6, 0.8, 1.0, 1.2, 1.5, 2.0)  # h as a multiple of the true sigma
CACHE = Path(__file__).resolve().parents[1] / "runs" / "bench_cache"  # runs/ is git-ignored


def nlm(z: np.ndarray, h: float, sigma: float) -> np.ndarray:
    from skimage.restoration import denoise_nl_means

    return denoise_nl_means(z, h=h, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True)


def score(clean: np.ndarray, out: np.ndarray) -> tuple[float, float]:
    out = np.clip(out, 0, 1).astype(np.float32)
    return psnr(clean, out, data_range=1.0), ssim(clean, out, data_range=1.0)


def bm3d_cached(key: str, z: np.ndarray, clean: np.ndarray, sigma: float) -> tuple[float, float]:
    CACHE.mkdir(exist_ok=True)
    f = CACHE / f"bm3d_{key}.json"
    if f.is_file():
        return tuple(json.loads(f.read_text()))  # type: ignore[return-value]
    import bm3d

    res = score(clean, bm3d.bm3d(z, sigma_psd=sigma))
    f.write_text(json.dumps(res))
    return res


def crop(img: np.ndarray, n: int) -> np.ndarray:
    h, w = img.shape
    r, c = max((h - n) // 2, 0), max((w - n) // 2, 0)
    return np.ascontiguousarray(img[r : r + n, c : c + n])


def quality_cxr(files: list[Path], n: int, with_bm3d: bool, model: str) -> list[dict]:
    rows = []
    for level, dose in CXR_DOSES.items():
        per: dict[str, list] = {"noisy": [], "ours": [], "bm3d": []}
        per.update({f"nlm{g}": [] for g in NLM_GRID})
        for k, f in enumerate(files):
            clean = crop(read_radiograph(f).image, n)
            z = simulate_noisy(clean, dose, 1000 + k)
            sigma = float(np.sqrt(np.mean((z - clean) ** 2)))
            per["noisy"].append(score(clean, z))
            if with_bm3d:
                per["bm3d"].append(bm3d_cached(f"{f.stem}_{n}_{int(dose)}", z, clean, sigma))
            if not model:  # filling the BM3D cache only
                continue
            per["ours"].append(score(clean, denoise(z, model=model).image))
            for g in NLM_GRID:
                per[f"nlm{g}"].append(score(clean, nlm(z, g * sigma, sigma)))
        if not model:
            continue
        best = max(NLM_GRID, key=lambda g: np.mean([p[0] for p in per[f"nlm{g}"]]))
        row = {"level": level, "images": len(files), "nlm_best_h": f"{best}·σ"}
        for name, key in [
            ("noisy", "noisy"),
            ("ours", "ours"),
            ("nlm", f"nlm{best}"),
            ("bm3d", "bm3d"),
        ]:
            if per[key]:
                row[f"{name}_psnr"] = float(np.mean([p[0] for p in per[key]]))
                row[f"{name}_ssim"] = float(np.mean([p[1] for p in per[key]]))
        rows.append(row)
    return rows


def quality_sim(size: int, model: str) -> list[dict]:
    cleans = [simulated_clean(s, size) for s in SIM_SEEDS]
    rows = []
    for level, dose in SIM_DOSES.items():
        per: dict[str, list] = {"noisy": [], "ours": []}
        per.update({f"nlm{g}": [] for g in NLM_GRID})
        for k, clean in enumerate(cleans):
            z = simulate_noisy(clean, dose, 2000 + k)
            sigma = float(np.sqrt(np.mean((z - clean) ** 2)))
            per["noisy"].append(score(clean, z))
            per["ours"].append(score(clean, denoise(z, model=model).image))
            for g in NLM_GRID:
                per[f"nlm{g}"].append(score(clean, nlm(z, g * sigma, sigma)))
        best = max(NLM_GRID, key=lambda g: np.mean([p[0] for p in per[f"nlm{g}"]]))
        row = {"dose": level, "images": len(cleans), "nlm_best_h": f"{best}·σ"}
        for name, key in [("noisy", "noisy"), ("ours", "ours"), ("nlm", f"nlm{best}")]:
            row[f"{name}_psnr"] = float(np.mean([p[0] for p in per[key]]))
            row[f"{name}_ssim"] = float(np.mean([p[1] for p in per[key]]))
        rows.append(row)
    return rows


def speed(model: str, with_bm3d: bool) -> dict:
    from skimage.transform import resize

    base = read_radiograph(sorted(Path(ARGS.data).glob("*.png"))[0]).image
    big = resize(base, (2048, 2048)).astype(np.float32)
    z = simulate_noisy(big, 5e4, 7)
    denoise(z[:512, :512], model=model)  # warm-up (model load)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        denoise(z, model=model)
        times.append(time.perf_counter() - t)
    out = {"ours_2048_median_s": float(np.median(times)), "ours_2048_all_s": times}
    if with_bm3d:
        f = CACHE / "bm3d_speed_512.json"
        if f.is_file():
            t512 = json.loads(f.read_text())
        else:
            import bm3d

            t = time.perf_counter()
            bm3d.bm3d(z[:512, :512], sigma_psd=0.01)
            t512 = time.perf_counter() - t
            CACHE.mkdir(exist_ok=True)
            f.write_text(json.dumps(t512))
        out["bm3d_512_s"] = t512
        out["bm3d_2048_s_scaled"] = t512 * 16
        out["speedup_vs_bm3d"] = t512 * 16 / out["ours_2048_median_s"]
    return out


def memory(model: str) -> dict:
    code = (
        "import numpy as np, torch;"
        "from napari_xray_synth.core.denoise import denoise;"
        "z = np.random.default_rng(0).random((4096, 4096), dtype=np.float32);"
        f"denoise(z, model={model!r})"
    )
    res = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    rss = [ln for ln in res.stderr.splitlines() if "Maximum resident set size" in ln]
    base = subprocess.run(
        [
            "/usr/bin/time",
            "-v",
            sys.executable,
            "-c",
            "import numpy, torch; import napari_xray_synth.core.denoise",
        ],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    rss0 = [ln for ln in base.stderr.splitlines() if "Maximum resident set size" in ln]
    kb = int(rss[0].split()[-1]) if rss else -1
    kb0 = int(rss0[0].split()[-1]) if rss0 else -1
    return {"peak_rss_4096_gb": kb / 1024**2, "import_rss_gb": kb0 / 1024**2, "rc": res.returncode}


def table(rows: list[dict], first: str) -> str:
    methods = [m for m in ("noisy", "ours", "nlm", "bm3d") if f"{m}_psnr" in rows[0]]
    head = f"| {first} | " + " | ".join(f"{m} PSNR / SSIM" for m in methods) + " | NLM best h |"
    lines = [head, "|" + "---|" * (len(methods) + 2)]
    for r in rows:
        cells = [f"{r[f'{m}_psnr']:.2f} / {r[f'{m}_ssim']:.4f}" for m in methods]
        lines.append(f"| {r[first]} | " + " | ".join(cells) + f" | {r['nlm_best_h']} |")
    return "\n".join(lines)


def main() -> None:
    files = sorted(Path(ARGS.data).glob("*.png"))[: ARGS.images]
    report: dict = {
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, torch threads {__import__('torch').get_num_threads()}",
        "load_before": os.getloadavg(),
    }
    with_bm3d = not ARGS.no_bm3d
    if ARGS.cache_bm3d:
        quality_cxr(files, ARGS.crop, True, "")
        return
    if not ARGS.only or ARGS.only == "cxr":
        report["cxr"] = quality_cxr(files, ARGS.crop, with_bm3d, ARGS.model)
        print(f"\nNIH chest images, centre {ARGS.crop}² crops, simulator noise (blind for ours)")
        print(table(report["cxr"], "level"))
    if not ARGS.only or ARGS.only == "sim":
        report["sim"] = quality_sim(ARGS.sim_size, ARGS.model)
        print(f"\nHeld-out simulator chests ({ARGS.sim_size}²), three doses")
        print(table(report["sim"], "dose"))
    if not ARGS.only or ARGS.only == "speed":
        report["speed"] = speed(ARGS.model, with_bm3d)
        report["memory"] = memory(ARGS.model)
        s, m = report["speed"], report["memory"]
        print("\nSpeed and memory")
        print(
            f"ours, 2048², median of 5: {s['ours_2048_median_s']:.2f} s "
            f"(all: {', '.join(f'{t:.2f}' for t in s['ours_2048_all_s'])})"
        )
        if "bm3d_512_s" in s:
            print(
                f"BM3D 512²: {s['bm3d_512_s']:.1f} s → 2048² ≈ {s['bm3d_2048_s_scaled']:.0f} s "
                f"(×16); ours is {s['speedup_vs_bm3d']:.0f}× faster"
            )
        print(
            f"peak RSS denoising 4096² in a fresh process: {m['peak_rss_4096_gb']:.2f} GB "
            f"(of which imports alone: {m['import_rss_gb']:.2f} GB)"
        )
    report["load_after"] = os.getloadavg()
    if ARGS.json:
        Path(ARGS.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--data",
        default=str(
            Path(__file__).resolve().parents[1].parent.parent / "shared" / "data" / "cxr" / "images"
        ),
    )
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--images", type=int, default=20)
    p.add_argument("--sim-size", type=int, default=512)
    p.add_argument("--model", default="denoiser")
    p.add_argument("--no-bm3d", action="store_true")
    p.add_argument("--only", choices=("cxr", "sim", "speed"), default=None)
    p.add_argument("--json", default="")
    p.add_argument("--cache-bm3d", action="store_true", help="only compute the BM3D cache")
    ARGS = p.parse_args()
    main()
