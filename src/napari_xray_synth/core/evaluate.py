"""Measure the denoiser and the generator, and write a Markdown report with tables and PNG plots.

``evaluate_denoise``: simulated chests (or the images of a folder) at several doses, each method's
PSNR and SSIM against the clean image, plotted against dose, with SSIM maps and a montage.

``evaluate_synth``: healthy simulated chests ("sources", held-out seeds), each given one pathology
with random conditions by the generator ("generated") and by the simulator's own physics with the
same anatomy and condition ("real A"); a second simulator set from other seeds ("real B") is the
reference. The pathology classifier's features give FD, KID, precision/recall and
density/coverage of generated against B, and of A against B: the real-against-real floor, the
value a perfect generator would reach with this many images. Its scores give conditioning
accuracy and AUC per pathology. SSIM between each variant and its source, outside the lesion,
says how much of the image was left alone.

The simulator, the synthesizer and the denoiser are looked up when called, and can be passed in
(tests use small stand-ins). Every output is written atomically; nothing here prints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from napari_xray_synth.core import metrics, plots
from napari_xray_synth.core.atomic import atomic_path
from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.generative_metrics import auc, extract, set_metrics
from napari_xray_synth.core.models import load_model
from napari_xray_synth.core.nn.classifier import CLASSES
from napari_xray_synth.core.nn.point_classifier import CLASSES as POINT_CLASSES
from napari_xray_synth.core.operating_points import thresholds_of
from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report
from napari_xray_synth.core.radiograph import Provenance, Radiograph

# --- image metrics ------------------------------------------------------------------------


def ssim_map(a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean SSIM and its map (``core.metrics``: data range 1, Gaussian window sigma 1.5)."""
    value, smap = metrics.ssim(a, b, data_range=1.0, full=True)
    return float(value), np.asarray(smap, np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB for images in [0, 1] (``core.metrics``, data range 1); inf when identical."""
    return float(metrics.psnr(a, b, data_range=1.0))


# --- small helpers ------------------------------------------------------------------------


def _image(x: Any) -> np.ndarray:
    return np.asarray(getattr(x, "image", x), np.float32)


def _spacing(case: Any) -> float:
    for obj in (case, getattr(case, "healthy", None)):
        sp = getattr(obj, "spacing", None) if obj is not None else None
        if sp is not None:
            return float(np.mean(sp))
    raise InputError("the simulator case carries no pixel spacing")


def _as_radiograph(x: Any, spacing: float, operation: str, seed: int) -> Radiograph:
    if isinstance(x, Radiograph):
        return x
    return Radiograph(
        np.asarray(x, np.float32),
        spacing=(spacing, spacing),
        spacing_source="simulator",
        provenance=(Provenance(operation, {}, seed=seed),),
        synthetic=True,
    )


def _fmt(v: Any, digits: int = 3) -> str:
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return "n/a" if np.isnan(v) else "inf"
        return f"{v:.{digits}f}"
    return str(v)


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 3) -> str:
    """A Markdown table; floats with ``digits`` decimals, NaN as n/a."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_fmt(v, digits) for v in r) + " |" for r in rows]
    return "\n".join(out)


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def _write_json(path: Path, obj: Any) -> Path:
    return _write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _out_dir(out: str | Path) -> Path:
    """The report folder, checked before the work; it is made only when the report is written
    (:func:`_make_out_dir`), so a run that fails leaves no empty folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("the report folder is a file", out)
    if not out.parent.is_dir():
        raise InputError("its parent folder does not exist", out)
    return out


def _make_out_dir(out: Path) -> None:
    try:
        out.mkdir(exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot make the report folder ({exc.strerror or exc})", out) from exc


def _default_sim() -> Any:
    from napari_xray_synth.core import simulate

    return simulate


def _default_denoise() -> Callable[..., Any]:
    from napari_xray_synth.core.denoise import denoise

    return denoise


def _default_synthesize() -> Callable[..., Any]:
    from napari_xray_synth.core.synthesize import synthesize

    return synthesize


def _lungs(case: Any) -> np.ndarray:
    """Where a random lesion may go: lung sides (1 right, 2 left) when given, else the lung mask."""
    sides = getattr(case, "lung_sides", None)
    return np.asarray(sides if sides is not None else case.lung_mask)


def _side_region(case: Any, cond: Any) -> np.ndarray:
    """The lung field of the condition's side (both lungs when sides are not known)."""
    sides = getattr(case, "lung_sides", None)
    if sides is None:
        return np.asarray(case.lung_mask, bool)
    side = cond.patient_side(np.shape(sides))
    return np.asarray(sides) == (1 if side == "right" else 2)


def _lesion_only(mask: np.ndarray) -> np.ndarray:
    return np.asarray(mask) > 0


def _read_folder(
    folder: str | Path, limit: int, skipped: list[tuple[str, str]] | None = None
) -> list[tuple[str, Radiograph]]:
    """The first ``limit`` readable images of a folder (sorted by name).

    A file that cannot be read is skipped, not fatal (a folder of images may hold other files);
    when ``skipped`` is given, each one is appended to it as (file name, reason).
    """
    from napari_xray_synth.core.io import read_radiograph

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder (give --data sim or a folder of images)", folder)
    found = []
    for f in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        if len(found) >= limit:
            break
        try:
            rg = read_radiograph(f)
        except InputError as exc:
            if skipped is not None:
                skipped.append((f.name, exc.reason))
            continue
        except OSError as exc:  # no permission, an I/O error
            if skipped is not None:
                skipped.append((f.name, exc.strerror or str(exc)))
            continue
        found.append((f.stem, rg))
    if not found:
        raise InputError("holds no image that can be read", folder)
    return found


# --- denoise ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DenoiseCase:
    """A clean reference and a noisy version of it at a dose."""

    name: str
    clean: np.ndarray
    noisy: Radiograph
    dose: float


def sim_denoise_cases(
    n_images: int, size: int, doses: Sequence[float], seed: int = 0, sim: Any = None
) -> list[DenoiseCase]:
    """Simulated chests (odd, held-out seeds) at each dose, with the clean image as reference.

    ``doses`` are relative to the simulator's default dose (1 = default).
    """
    sim = sim or _default_sim()
    base_dose = float(getattr(sim, "DEFAULT_DOSE", 1.0))
    cases = []
    for k in range(n_images):
        s = 2 * (seed * 10_007 + k) + 1
        for d in doses:
            case = sim.simulate_chest(s, size, conditions=(), dose=float(d) * base_dose)
            clean = getattr(case, "healthy_clean", None)
            if clean is None:
                raise InputError("the simulator case carries no clean (noise-free) image")
            noisy = _as_radiograph(case.healthy, _spacing(case), "simulate", s)
            cases.append(DenoiseCase(f"sim{s}", _image(clean), noisy, float(d)))
    return cases


def folder_denoise_cases(
    folder: str | Path,
    doses: Sequence[float],
    n_images: int,
    seed: int = 0,
    skipped: list[tuple[str, str]] | None = None,
) -> list[DenoiseCase]:
    """Images of a folder as references, with signal-dependent noise added at each dose.

    The noise is Gaussian with variance ``(0.0004 + 0.002 * x) / dose`` at grey level ``x``, a
    stand-in for quantum plus electronic noise in the log domain; the reference images carry
    their own detector noise, so scores against them are relative, not absolute. Files that
    cannot be read are skipped and, when ``skipped`` is given, appended to it as (name, reason).
    """
    images = _read_folder(folder, n_images, skipped)
    rng = np.random.default_rng(seed)
    cases = []
    for name, rg in images:
        clean = rg.image
        for d in doses:
            var = (0.0004 + 0.002 * clean) / float(d)
            noisy = np.clip(clean + rng.standard_normal(clean.shape) * np.sqrt(var), 0, 1)
            step = Provenance("add_noise", {"dose": float(d), "model": "gaussian-sd"}, seed=seed)
            cases.append(DenoiseCase(name, clean, rg.derive(noisy, step, synthetic=True), float(d)))
    return cases


def evaluate_denoise(
    out: str | Path,
    *,
    data: str = "sim",
    methods: Sequence[str] = ("model", "gaussian", "tv"),
    doses: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0),
    n_images: int = 3,
    size: int = 512,
    seed: int = 0,
    denoise_fn: Callable[..., Any] | None = None,
    sim: Any = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Evaluate denoising methods and write ``OUT/report.md`` with plots; returns its path.

    Parameters
    ----------
    out : str or Path
        Report folder (created; its parent must exist).
    data : "sim" or a folder
        Simulated chests with their clean images, or a folder of images used as references.
    methods : sequence of str
        Methods of ``core.denoise.denoise``.
    doses : sequence of float
        Doses relative to the simulator default (1 = default; lower is noisier).
    n_images, size, seed
        How many images, their side (simulator), the seed.
    denoise_fn, sim
        Stand-ins for ``core.denoise.denoise`` and ``core.simulate`` (tests).
    """
    if not methods:
        raise InputError("name at least one denoising method")
    if n_images < 1 or not doses or min(doses) <= 0:
        raise InputError("n_images must be at least 1 and doses positive")
    denoise_fn = denoise_fn or _default_denoise()
    doses = sorted(float(d) for d in doses)
    skipped: list[tuple[str, str]] = []  # files of a --data folder that could not be read
    if data == "sim":
        cases = sim_denoise_cases(n_images, size, doses, seed, sim)
        source = f"chest simulator, {n_images} held-out seeds, {size} px"
    else:
        cases = folder_denoise_cases(data, doses, n_images, seed, skipped)
        source = f"images of {data} (reference), noise added by the evaluation's model"
    out = _out_dir(out)
    n_used = len(cases) // len(doses)  # a folder may hold fewer readable images than n_images
    total = len(cases) * len(methods)
    done = 0
    rows: list[dict[str, Any]] = []
    examples: dict[tuple[str, float], dict[str, np.ndarray]] = {}
    for c in cases:
        check_cancel(cancel)
        s_in, map_in = ssim_map(c.noisy.image, c.clean)
        rows.append(
            dict(
                case=c.name,
                dose=c.dose,
                method="noisy input",
                psnr=psnr(c.noisy.image, c.clean),
                ssim=s_in,
                seconds=0.0,
            )
        )
        # images and maps are kept for the first image only (the figures show that one)
        keep = c.name == cases[0].name
        ex = {"clean": c.clean, "noisy input": c.noisy.image, "map:noisy input": map_in}
        if keep:
            examples[(c.name, c.dose)] = ex
        for m in methods:
            check_cancel(cancel)
            t0 = time.perf_counter()
            result = denoise_fn(c.noisy, method=m, cancel=cancel)
            dt = time.perf_counter() - t0
            img = _image(result)
            s, smap = ssim_map(img, c.clean)
            rows.append(
                dict(
                    case=c.name, dose=c.dose, method=m, psnr=psnr(img, c.clean), ssim=s, seconds=dt
                )
            )
            ex[m] = img
            ex[f"map:{m}"] = smap
            done += 1
            report(progress, done, total + 1)

    names = ["noisy input", *methods]
    _make_out_dir(out)
    table = {
        (m, d): [r for r in rows if r["method"] == m and r["dose"] == d]
        for m in names
        for d in doses
    }
    mean = {
        k: {q: float(np.mean([r[q] for r in v])) for q in ("psnr", "ssim", "seconds")}
        for k, v in table.items()
    }
    plots.line_plot(
        out / "psnr_vs_dose.png",
        doses,
        {m: [mean[m, d]["psnr"] for d in doses] for m in names},
        "dose (relative to default)",
        "PSNR (dB)",
        "PSNR against dose",
        logx=True,
    )
    plots.line_plot(
        out / "ssim_vs_dose.png",
        doses,
        {m: [mean[m, d]["ssim"] for d in doses] for m in names},
        "dose (relative to default)",
        "SSIM",
        "SSIM against dose",
        logx=True,
    )
    first = cases[0].name
    low = examples[(first, doses[0])]
    # one colour scale for every map: the 99.5th percentile of 1 - SSIM over them
    top = float(np.percentile([1.0 - low[f"map:{m}"] for m in names], 99.5))
    top = min(max(top, 0.01), 1.0)
    plots.montage(
        out / "ssim_maps.png",
        [[low[m] for m in names], [1.0 - low[f"map:{m}"] for m in names]],
        col_titles=names,
        row_titles=["image", f"1 - SSIM (0 to {top:.2f})"],
        row_cmaps=["gray", "inferno"],
        row_vranges=[None, (0.0, top)],
    )
    plots.montage(
        out / "examples.png",
        [[examples[(first, d)]["clean"], *[examples[(first, d)][m] for m in names]] for d in doses],
        col_titles=["clean", *names],
        row_titles=[f"dose {d:g}" for d in doses],
    )

    def dose_table(metric: str, digits: int) -> str:
        header = ["method", *[f"dose {d:g}" for d in doses]]
        return md_table(header, [[m, *[mean[m, d][metric] for d in doses]] for m in names], digits)

    lines = [
        "# Denoising evaluation",
        "",
        f"Data: {source}. Doses are relative to the simulator's default dose. "
        f"Methods: {', '.join(methods)}. Seed {seed}. PSNR and SSIM (data range 1, Gaussian "
        "window sigma 1.5) against the clean image, mean over images.",
        "",
        f"Images used: {n_used} ({n_used} x {len(doses)} dose(s) x {len(methods)} method(s) = "
        f"{n_used * len(doses) * len(methods)} denoised)"
        + (f", {n_used} of the {n_images} asked for." if n_used < n_images else "."),
        "",
        *(
            [
                "Skipped (could not be read): "
                + "; ".join(f"`{name}` ({reason})" for name, reason in skipped)
                + ".",
                "",
            ]
            if skipped
            else []
        ),
        "## PSNR (dB)",
        "",
        dose_table("psnr", 2),
        "",
        "## SSIM",
        "",
        dose_table("ssim", 4),
        "",
        "## Seconds per image",
        "",
        md_table(
            ["method", "mean s"],
            [[m, float(np.mean([mean[m, d]["seconds"] for d in doses]))] for m in methods],
            3,
        ),
        "",
        "![PSNR against dose](psnr_vs_dose.png)",
        "![SSIM against dose](ssim_vs_dose.png)",
        "",
        f"## SSIM maps (dose {doses[0]:g}, {first})",
        "",
        "![SSIM maps](ssim_maps.png)",
        "",
        "## Examples",
        "",
        "![examples](examples.png)",
        "",
    ]
    _write_json(
        out / "metrics.json",
        {
            "data": source,
            "n_images": n_used,
            "n_asked": n_images,
            "skipped": [{"file": name, "reason": reason} for name, reason in skipped],
            "images": [c.name for c in cases[:: len(doses)]],  # cases: image by image
            "seed": seed,
            "doses": doses,
            "rows": rows,
        },
    )
    path = _write_text(out / "report.md", "\n".join(lines))
    report(progress, total + 1, total + 1)
    return path


# --- synth --------------------------------------------------------------------------------


def _ssim_inside_outside(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    _, smap = ssim_map(a, b)
    inside = _lesion_only(mask)
    return (
        float(smap[inside].mean()) if inside.any() else float("nan"),
        float(smap[~inside].mean()) if (~inside).any() else float("nan"),
    )


def _point_conditioning(
    judge: Any,
    records: list[dict[str, Any]],
    generated: list[np.ndarray],
    simulator: list[np.ndarray],
    sources: list[np.ndarray],
) -> dict[str, dict[str, float]]:
    """Per pathology and overall: the share of variants, of the simulator's renderings and of
    the healthy sources whose requested finding the point classifier gives p >= 0.5 at the
    requested point."""
    hits: dict[str, list[tuple[bool, bool, bool]]] = {}
    for r, gen, sim in zip(records, generated, simulator, strict=True):
        k = POINT_CLASSES.index(r["pathology"])
        centre = (r["condition"]["center_row"], r["condition"]["center_col"])
        px = r["spacing_mm"]
        src = sources[r["source_index"]]
        calls = tuple(
            bool(judge.probabilities(img, centre, px)[k] >= 0.5) for img in (gen, sim, src)
        )
        hits.setdefault(r["pathology"], []).append(calls)  # type: ignore[arg-type]
    every = [c for rows in hits.values() for c in rows]
    names = ("generated", "simulator", "healthy_called")
    table = {
        p: dict(zip(names, np.mean(rows, axis=0).tolist(), strict=True)) for p, rows in hits.items()
    }
    table["all"] = dict(zip(names, np.mean(every, axis=0).tolist(), strict=True))
    return table


def _point_section(judge: Any, table: dict[str, dict[str, float]]) -> list[str]:
    """The report's lines on conditioning at the requested point."""
    rows = [[p, v["generated"], v["simulator"], v["healthy_called"]] for p, v in table.items()]
    return [
        "## Conditioning at the requested point",
        "",
        f"Point classifier `{judge.name}` (sha256 {judge.sha256[:12]}…): the share of images "
        "whose requested finding gets p >= 0.5 at the requested point, in the generated "
        "variant, in the simulator's own rendering, and in the healthy source (a false "
        "positive).",
        "",
        md_table(["pathology", "generated", "simulator", "healthy source called"], rows, 3),
        "",
    ]


def evaluate_synth(
    out: str | Path,
    *,
    method: str = "physics",
    n: int = 10,
    size: int = 512,
    seed: int = 0,
    dose: float = 1.0,
    classifier: str | Path = "classifier",
    generator: str | None = None,
    point_classifier: str | Path | None = None,
    device: str = "auto",
    synthesize_fn: Callable[..., Any] | None = None,
    sim: Any = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Evaluate pathology synthesis and write ``OUT/report.md``; returns its path.

    Parameters
    ----------
    out : str or Path
        Report folder (created; its parent must exist).
    method : "gan" or "physics"
        Passed to ``core.synthesize.synthesize``.
    n : int
        Healthy sources; each gets every pathology once, so ``6 n`` generated images, as many
        simulator images with the same anatomy and condition (real A) and as many from other
        seeds (real B).
    size : int
        Side of the simulated chests.
    seed : int
        Seed of the sources, the conditions and the variants. Sources use odd (held-out) seeds,
        never the classifier's training seeds.
    dose : float
        Dose relative to the simulator default.
    classifier : str or Path
        The feature extractor and pathology classifier (a model name or path).
    generator : str, optional
        Generator model for ``method="gan"`` (default: the synthesizer's own).
    point_classifier : str or Path, optional
        A point classifier (``xray-synth train point-classifier``): the report then also says
        whether each requested finding is recognised at its point, in the variant, in the
        simulator's own rendering and (false positives) in the healthy source.
    synthesize_fn, sim
        Stand-ins for ``core.synthesize.synthesize`` and ``core.simulate`` (tests).
    """
    if n < 2:
        raise InputError(f"--n must be at least 2 (sources), got {n}")
    sim = sim or _default_sim()
    synthesize_fn = synthesize_fn or _default_synthesize()
    clf = load_model(classifier, device="cpu")
    judge = None if point_classifier is None else load_model(point_classifier, device="cpu")
    dev = torch.device("cpu")
    if device != "cpu":
        from napari_xray_synth.core.device import pick_device

        dev = pick_device(device)
        clf.module.to(dev)
    out = _out_dir(out)
    base_dose = float(getattr(sim, "DEFAULT_DOSE", 1.0)) * float(dose)
    n_path = len(PATHOLOGIES)
    total = n * (3 * n_path + 1) + 4
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        report(progress, done, total)

    sources, generated, real_a, real_b = [], [], [], []
    records: list[dict[str, Any]] = []
    examples: dict[str, dict[str, np.ndarray]] = {}
    for i in range(n):
        check_cancel(cancel)
        s_a = 2 * (seed * 100_003 + i) + 1
        s_b = 2 * (seed * 100_003 + n + i) + 1  # other held-out seeds for the reference set
        rng = np.random.default_rng([seed, i])
        base = sim.simulate_chest(s_a, size, conditions=(), dose=base_dose)
        spacing = _spacing(base)
        src = _as_radiograph(base.healthy, spacing, "simulate", s_a)
        sources.append(src.image)
        tick()
        base_b = sim.simulate_chest(s_b, size, conditions=(), dose=base_dose)
        for j, p in enumerate(PATHOLOGIES):
            check_cancel(cancel)
            cond = sim.random_condition(p, _lungs(base), spacing, rng)
            kwargs: dict[str, Any] = {"n_variants": 1, "seed": int(seed * 1000 + i * n_path + j)}
            kwargs["method"] = method
            if generator is not None:
                kwargs["model"] = generator
            if p in ("effusion", "pneumothorax", "consolidation"):
                kwargs["regions"] = [_side_region(base, cond)]
            variant = synthesize_fn(src, [cond], cancel=cancel, **kwargs)[0]
            generated.append(_image(variant.radiograph))
            tick()
            truth = sim.simulate_chest(s_a, size, conditions=[cond], dose=base_dose)
            real_a.append(_image(truth.diseased))
            tick()
            cond_b = sim.random_condition(p, _lungs(base_b), _spacing(base_b), rng)
            other = sim.simulate_chest(s_b, size, conditions=[cond_b], dose=base_dose)
            real_b.append(_image(other.diseased))
            tick()
            ins, outs = _ssim_inside_outside(generated[-1], src.image, variant.mask)
            records.append(
                {
                    "source": s_a,
                    "pathology": p,
                    "condition": cond.to_dict(),
                    "spacing_mm": spacing,
                    "source_index": i,
                    "ssim_inside_lesion": ins,
                    "ssim_outside_lesion": outs,
                    "lesion_pixels": int(_lesion_only(variant.mask).sum()),
                }
            )
            if i == 0:
                examples[p] = {
                    "source": src.image,
                    "generated": generated[-1],
                    "simulator": real_a[-1],
                    "mask": _lesion_only(variant.mask).astype(np.float32),
                }

    def run(images: list[np.ndarray]) -> dict[str, np.ndarray]:
        check_cancel(cancel)
        res = extract(clf.module, images, batch=16, device=dev, cancel=cancel)
        tick()
        return res

    f_src, f_gen, f_a, f_b = run(sources), run(generated), run(real_a), run(real_b)
    labels = np.array([PATHOLOGIES.index(r["pathology"]) for r in records])

    thr, rule = thresholds_of(clf.card, CLASSES)

    def conditioning(probs: np.ndarray) -> dict[str, dict[str, float]]:
        """Per pathology: detection rate at 0.5 and at the card's operating point, top-1
        agreement and AUC vs everything else."""
        res: dict[str, dict[str, float]] = {}
        all_probs = np.concatenate([probs, f_src["probs"]])
        for j, p in enumerate(PATHOLOGIES):
            k = CLASSES.index(p)
            mine = labels == j
            y = np.concatenate([mine, np.zeros(len(sources), bool)])
            top = probs[mine][:, 1:].argmax(axis=1) == j
            res[p] = {
                "detected_at_0.5": float((probs[mine, k] >= 0.5).mean()),
                "detected_at_op": float((probs[mine, k] >= thr[k]).mean()),
                "healthy_called_at_op": float((f_src["probs"][:, k] >= thr[k]).mean()),
                "top1": float(top.mean()),
                "auc": auc(all_probs[:, k], y),
            }
        return res

    cond_gen, cond_real = conditioning(f_gen["probs"]), conditioning(f_a["probs"])
    at_point = None
    if judge is not None:
        at_point = _point_conditioning(judge.module, records, generated, real_a, sources)
    healthy_none = float((f_src["probs"][:, 0] >= 0.5).mean())
    subsets = 50
    m_gen = set_metrics(f_b["features"], f_gen["features"], kid_subsets=subsets, seed=seed)
    m_floor = set_metrics(f_b["features"], f_a["features"], kid_subsets=subsets, seed=seed)
    m_src = set_metrics(f_b["features"], f_src["features"], kid_subsets=subsets, seed=seed)
    per_path = {}
    for j, p in enumerate(PATHOLOGIES):
        sel = labels == j
        per_path[p] = {
            "generated": _safe_fd(f_b["features"][sel], f_gen["features"][sel]),
            "floor": _safe_fd(f_b["features"][sel], f_a["features"][sel]),
        }

    # --- plots
    _make_out_dir(out)
    plots.bar_plot(
        out / "auc_per_pathology.png",
        list(PATHOLOGIES),
        {
            "generated": [cond_gen[p]["auc"] for p in PATHOLOGIES],
            "simulator (real A)": [cond_real[p]["auc"] for p in PATHOLOGIES],
        },
        "AUC",
        "classifier AUC per pathology",
        ylim=(0.0, 1.0),
    )
    plots.bar_plot(
        out / "detection_per_pathology.png",
        list(PATHOLOGIES),
        {
            "generated": [cond_gen[p]["detected_at_0.5"] for p in PATHOLOGIES],
            "simulator (real A)": [cond_real[p]["detected_at_0.5"] for p in PATHOLOGIES],
        },
        "share detected (p >= 0.5)",
        "conditioning accuracy",
        ylim=(0.0, 1.0),
    )
    keys = ["precision", "recall", "density", "coverage"]
    plots.bar_plot(
        out / "manifold.png",
        keys,
        {
            "generated vs B": [m_gen[k] for k in keys],
            "real A vs B (floor)": [m_floor[k] for k in keys],
        },
        "value",
        "precision / recall / density / coverage",
    )
    plots.montage(
        out / "examples.png",
        [[e["source"], e["generated"], e["simulator"], e["mask"]] for e in examples.values()],
        col_titles=["source", f"generated ({method})", "simulator truth", "mask"],
        row_titles=list(examples),
    )

    # --- report
    ssim_rows = [
        [
            p,
            float(np.nanmean([r["ssim_inside_lesion"] for r in records if r["pathology"] == p])),
            float(np.nanmean([r["ssim_outside_lesion"] for r in records if r["pathology"] == p])),
        ]
        for p in PATHOLOGIES
    ]
    set_rows = [
        ["generated vs real B", *[m_gen[k] for k in ("fd", "kid", "kid_std", *keys)]],
        ["real A vs real B (floor)", *[m_floor[k] for k in ("fd", "kid", "kid_std", *keys)]],
        ["healthy sources vs real B", *[m_src[k] for k in ("fd", "kid", "kid_std", *keys)]],
    ]
    card = clf.card
    note = _simulator_note(card, sim)
    lines = [
        f"# Synthesis evaluation: method {method!r}",
        "",
        f"{n} healthy simulated chests ({size} px, held-out odd seeds, dose {dose:g} x default), "
        f"each given every pathology once with random conditions: {len(generated)} generated "
        f"images. Real A: the simulator's own rendering of the same anatomy and condition. Real "
        f"B: {len(real_b)} simulator images from other seeds with their own random conditions, "
        f"the reference set. Seed {seed}.",
        "",
        f"Features and scores: classifier `{clf.name}` (sha256 {clf.sha256[:12]}…, "
        f"{card.get('config', {}).get('features_dim', '?')}-D features, trained on even "
        "simulator seeds only).",
        "",
        *([note, ""] if note else []),
        "## Set metrics (against real B)",
        "",
        "The floor row is what a perfect generator would score with this many images: read the "
        "generated row against it, not against 0.",
        "",
        md_table(["set", "FD", "KID", "KID std", *keys], set_rows, 4),
        "",
        "![precision, recall, density, coverage](manifold.png)",
        "",
        "## Fréchet distance per pathology (against real B, same pathology)",
        "",
        md_table(
            ["pathology", "generated", "floor (real A)"],
            [[p, per_path[p]["generated"], per_path[p]["floor"]] for p in PATHOLOGIES],
            3,
        ),
        "",
        "## Conditioning: does the classifier find the requested pathology?",
        "",
        "Detected: share of images with that pathology's probability >= 0.5. At op: share called "
        f"at the classifier card's {rule}; healthy called: share of the healthy sources called "
        "that pathology there. Top-1: share where it is the most probable pathology. AUC: that "
        "pathology's score, its images against the other pathologies' images and the healthy "
        "sources.",
        "",
        md_table(
            [
                "pathology",
                "detected (gen)",
                "at op (gen)",
                "top-1 (gen)",
                "AUC (gen)",
                "detected (sim)",
                "at op (sim)",
                "top-1 (sim)",
                "AUC (sim)",
                "healthy called at op",
            ],
            [
                [
                    p,
                    cond_gen[p]["detected_at_0.5"],
                    cond_gen[p]["detected_at_op"],
                    cond_gen[p]["top1"],
                    cond_gen[p]["auc"],
                    cond_real[p]["detected_at_0.5"],
                    cond_real[p]["detected_at_op"],
                    cond_real[p]["top1"],
                    cond_real[p]["auc"],
                    cond_gen[p]["healthy_called_at_op"],
                ]
                for p in PATHOLOGIES
            ],
            3,
        ),
        "",
        f"Healthy sources called 'none' (p >= 0.5): {healthy_none:.3f}.",
        "",
        "![AUC per pathology](auc_per_pathology.png)",
        "![conditioning accuracy](detection_per_pathology.png)",
        "",
        *([] if at_point is None else _point_section(judge, at_point)),
        "## What changed: SSIM of each variant against its source",
        "",
        md_table(["pathology", "SSIM inside lesion", "SSIM outside lesion"], ssim_rows, 4),
        "",
        "## Examples",
        "",
        "![examples](examples.png)",
        "",
    ]
    _write_json(
        out / "metrics.json",
        {
            "method": method,
            "n_sources": n,
            "size": size,
            "seed": seed,
            "dose": dose,
            "classifier": {"name": clf.name, "sha256": clf.sha256, "operating_point": rule},
            "set_metrics": {"generated": m_gen, "floor": m_floor, "sources": m_src},
            "fd_per_pathology": per_path,
            "conditioning": {"generated": cond_gen, "simulator": cond_real},
            "conditioning_at_point": at_point,
            "healthy_called_none": healthy_none,
            "variants": records,
        },
    )
    path = _write_text(out / "report.md", "\n".join(lines))
    report(progress, total, total)
    return path


def _simulator_note(card: Any, sim: Any) -> str:
    """A warning when the classifier was trained on another version of the simulator."""
    trained = card.get("simulator_sources_sha256")
    if not trained or sim is not _default_sim():
        return ""
    from napari_xray_synth.core.sim_fingerprint import simulator_fingerprint

    if simulator_fingerprint() == trained:
        return ""
    return (
        "**Warning:** the classifier was trained on another version of the simulator (its "
        "card's `simulator_sources_sha256` differs from this one's); its scores may not transfer. "
        "Retrain it with the command on its card."
    )


def _safe_fd(a: np.ndarray, b: np.ndarray) -> float:
    from napari_xray_synth.core.generative_metrics import frechet_distance

    if len(a) < 2 or len(b) < 2:
        return float("nan")
    return frechet_distance(a, b)


__all__ = [
    "DenoiseCase",
    "evaluate_denoise",
    "evaluate_synth",
    "md_table",
    "psnr",
    "ssim_map",
]
