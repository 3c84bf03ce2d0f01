"""The main job on the embedded default, end to end: what ``make demo`` runs.

A simulated low-dose chest radiograph is written as a (de-identified, synthetic) DICOM and read
back like any file; it is denoised; variants with a nodule, an effusion and a pneumothorax are
synthesized into it; each variant is compared with its source (SSIM difference maps); images,
masks, maps, a manifest, a montage PNG and a Markdown report land in one folder.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_xray_synth.core.atomic import atomic_path, output_folder
from napari_xray_synth.core.conditions import PATHOLOGIES
from napari_xray_synth.core.denoise import denoise
from napari_xray_synth.core.errors import InputError, ModelError
from napari_xray_synth.core.export.dicom import write_dicom
from napari_xray_synth.core.io import read_radiograph, write_image
from napari_xray_synth.core.metrics import compare
from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report
from napari_xray_synth.core.radiograph import Radiograph
from napari_xray_synth.core.simulate import DEFAULT_DOSE, check_size, simulate_chest
from napari_xray_synth.core.simulate.pathology import random_condition
from napari_xray_synth.core.synthesize import synthesize

DEMO_PATHOLOGIES: tuple[str, ...] = ("nodule", "effusion", "pneumothorax")
DEMO_METHODS: tuple[str, ...] = ("gan", "physics")


@dataclass
class DemoResult:
    """What the demo wrote and measured."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _save(rg: Radiograph, path: Path, result: DemoResult) -> None:
    write_image(rg, path)
    result.files.append(path)


def _save_map(values: np.ndarray, path: Path, result: DemoResult) -> None:
    import tifffile

    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, values.astype(np.float32))
    result.files.append(path)


def _montage(
    panels: Sequence[tuple[str, np.ndarray, np.ndarray | None, str]], path: Path, cols: int
) -> None:
    """Grid of images with titles; a mask is drawn as a red outline; kind "map" uses inferno."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = int(np.ceil(len(panels) / cols))
    fig = Figure(figsize=(3.2 * cols, 3.4 * rows), dpi=110)
    FigureCanvasAgg(fig)
    for i, (title, img, mask, kind) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        if kind == "map":
            ax.imshow(img, cmap="inferno", vmin=0, vmax=max(float(img.max()), 1e-6))
        else:
            ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        if mask is not None and mask.any():
            ax.contour(mask > 0, levels=[0.5], colors="red", linewidths=0.7)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def _whole(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def check_demo(
    seed: int, size: int, method: str, variants: int, pathologies: Sequence[str]
) -> None:
    """Refuse a demo option that cannot work, before any work (parameters as :func:`run_demo`).

    Raises
    ------
    InputError
        One line naming the option (as the CLI spells it), the value and what it must be.
    """
    if not _whole(seed) or seed < 0:
        raise InputError(f"--seed must be a whole number of 0 or more, got {seed!r}")
    try:
        check_size(size)
    except InputError as exc:
        raise InputError(f"--{exc}") from exc
    if method not in DEMO_METHODS:
        raise InputError(f"--method must be one of {', '.join(DEMO_METHODS)}, got {method!r}")
    if not _whole(variants) or variants < 1:
        raise InputError(f"--variants must be a whole number of 1 or more, got {variants!r}")
    bad = [p for p in pathologies if p not in PATHOLOGIES]
    if bad or not pathologies:
        raise InputError(
            f"--pathologies: unknown pathology {', '.join(map(repr, bad)) or '(none given)'}; "
            f"choose from {', '.join(PATHOLOGIES)}"
        )


def run_demo(
    out: str | Path,
    seed: int = 0,
    size: int = 1024,
    method: str = "gan",
    variants: int = 2,
    pathologies: Sequence[str] = DEMO_PATHOLOGIES,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> DemoResult:
    """Run the whole pipeline on a simulated chest and write everything into ``out``.

    Parameters
    ----------
    out : str or Path
        Output folder (made if missing).
    seed : int
        Seed of the simulated patient, its noise, the lesion placement and the variants.
    size : int
        Image side in pixels.
    method : str
        "gan" (the shipped generator) or "physics"; "gan" falls back to "physics", said in the
        notes, when the generator's weights are missing.
    variants : int
        Variants per pathology.
    pathologies : sequence of str
        Which pathologies to put in.

    Raises
    ------
    InputError
        A bad option (:func:`check_demo`), before the folder is made or anything written.
    """
    check_demo(seed, size, method, variants, pathologies)  # before anything is written
    # a run that fails before writing (Ctrl-C) leaves no empty folder
    with output_folder(out) as folder:
        return _demo_into(folder, seed, size, method, variants, pathologies, progress, cancel)


def _demo_into(
    folder: Path,
    seed: int,
    size: int,
    method: str,
    variants: int,
    pathologies: Sequence[str],
    progress: ProgressFn | None,
    cancel: CancelToken | None,
) -> DemoResult:
    """The body of :func:`run_demo`, in a folder that exists."""
    result = DemoResult(folder)
    total = 3 + len(pathologies)
    step = 0

    # 1. a low-dose simulated chest, through DICOM and back, as a user's file would come
    case = simulate_chest(seed, size=size, dose=DEFAULT_DOSE * 0.25)
    dcm = write_dicom(case.healthy, folder / "source.dcm", seed=seed)
    result.files.append(dcm)
    source = read_radiograph(dcm)
    step += 1
    report(progress, step, total)
    check_cancel(cancel)

    # 2. denoise with the shipped model (a classical filter if it is missing)
    try:
        clean = denoise(source, method="model", cancel=cancel)
    except ModelError as exc:
        result.notes.append(f"denoiser model unavailable ({exc}); used non-local means")
        clean = denoise(source, method="nl_means", cancel=cancel)
    assert isinstance(clean, Radiograph)
    _save(source, folder / "source.png", result)
    _save(clean, folder / "denoised.tif", result)
    den = compare(clean.image, source.image, map_kind="absdiff")
    step += 1
    report(progress, step, total)

    panels: list[tuple[str, np.ndarray, np.ndarray | None, str]] = [
        ("source (low dose, read from DICOM)", source.display(), None, "image"),
        ("denoised", clean.display(), None, "image"),
        (f"|denoised - source| (SSIM {den['ssim']:.3f})", den["map"], None, "map"),
    ]
    rng = np.random.default_rng(seed)
    used = method
    manifest: list[dict] = []
    for p in pathologies:
        check_cancel(cancel)
        cond = random_condition(p, case.lung_sides, clean.spacing or case.spacing, rng)
        # effusion, pneumothorax and consolidation stay inside the lung of their side
        lung = case.lung_sides == (1 if cond.patient_side(clean.shape) == "right" else 2)
        kw = {"n_variants": variants, "seed": seed, "regions": [lung]}
        try:
            out_vars = synthesize(clean, [cond], method=used, **kw)
        except ModelError as exc:
            result.notes.append(f"generator unavailable ({exc}); used the physics method")
            used = "physics"
            out_vars = synthesize(clean, [cond], method=used, **kw)
        for k, var in enumerate(out_vars):
            stem = f"{p}_{k}"
            _save(var.radiograph, folder / f"{stem}.tif", result)
            mask_path = folder / f"{stem}_mask.png"
            with atomic_path(mask_path) as tmp:
                import imageio.v3 as iio

                iio.imwrite(tmp, var.mask, extension=".png")
            result.files.append(mask_path)
            cmp = compare(var.radiograph.image, clean.image, mask=var.mask > 0)
            _save_map(cmp["map"], folder / f"{stem}_1-ssim.tif", result)
            row = {
                "file": f"{stem}.tif",
                "mask": mask_path.name,
                "pathology": p,
                "method": used,
                "seed": var.seed,
                "size_mm": round(cond.size_mm, 1),
                "center_row": round(cond.center[0], 1),
                "center_col": round(cond.center[1], 1),
                "ssim": round(cmp["ssim"], 4),
                "ssim_outside": round(cmp.get("ssim_outside", float("nan")), 4),
                "ssim_inside": round(cmp.get("ssim_inside", float("nan")), 4),
                "psnr": round(cmp["psnr"], 2),
            }
            manifest.append(row)
            if k == 0:
                panels.append(
                    (f"{p} ({used}, seed {var.seed})", var.radiograph.display(), var.mask, "image")
                )
                panels.append((f"{p}: 1 - SSIM vs source", cmp["map"], None, "map"))
        step += 1
        report(progress, step, total)

    result.rows = manifest
    with atomic_path(folder / "manifest.csv") as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(manifest[0]))
        writer.writeheader()
        writer.writerows(manifest)
    result.files.append(folder / "manifest.csv")
    _montage(panels, folder / "montage.png", cols=3 if len(panels) <= 9 else 4)
    result.files.append(folder / "montage.png")
    _write_report(result, den, used)
    step += 1
    report(progress, step, total)
    return result


def _write_report(result: DemoResult, den: dict, method: str) -> None:
    lines = [
        "# napari-xray-synth demo",
        "",
        "A simulated low-dose chest radiograph (synthetic; written as a de-identified DICOM and",
        "read back), denoised, with pathology-conditioned variants compared with their source.",
        "",
        f"Denoising changed the image by RMSE {den['rmse']:.4f} "
        f"(SSIM {den['ssim']:.3f} against the noisy source).",
        "",
        f"Variants ({method}); SSIM outside the lesion should stay near 1 (the rest of the image",
        "is kept), SSIM inside shows how much the lesion changed:",
        "",
        "| file | pathology | size mm | seed | SSIM | SSIM outside | SSIM inside | PSNR dB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result.rows:
        lines.append(
            f"| {r['file']} | {r['pathology']} | {r['size_mm']} | {r['seed']} | {r['ssim']} | "
            f"{r['ssim_outside']} | {r['ssim_inside']} | {r['psnr']} |"
        )
    lines += ["", "![montage](montage.png)", ""]
    if result.notes:
        lines += ["Notes:", *[f"- {n}" for n in result.notes], ""]
    path = result.folder / "report.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines))
    result.files.append(path)
