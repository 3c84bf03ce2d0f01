"""Training windows for the conditional GAN: simulator pairs, or real labelled images (CSV).

Every sample is cut by ``synth_gan.make_window``, the function inference uses, so the network
trains on exactly what it will see. A window set holds, per sample, the healthy window ``x``
(normalised), its condition maps, the feather and the hard mask on the window grid, and either
the paired diseased window ``y`` (paired mode) or nothing: in unpaired mode the discriminator's
real set is a separate window set cut around labelled lesions of real images.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_xray_synth.core.conditions import PATHOLOGIES, Condition
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.io import read_radiograph
from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report
from napari_xray_synth.core.synth_gan import _crop_padded, _resample, make_window, normalise
from napari_xray_synth.core.synth_physics import contrast_scale
from napari_xray_synth.core.train.real_labels import LabelledImage, box_condition, read_labels


@dataclass
class WindowSet:
    """Arrays of windows, all (N, C, W, W) float32."""

    x: np.ndarray
    maps: np.ndarray
    feather: np.ndarray
    mask: np.ndarray
    y: np.ndarray | None = None
    pathology: np.ndarray | None = None  # (N,) index into PATHOLOGIES

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, idx: np.ndarray, flip: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Samples ``idx``; those with ``flip`` set mirrored left-right (maps and all)."""
        out = {
            "x": self.x[idx],
            "maps": self.maps[idx],
            "feather": self.feather[idx],
            "mask": self.mask[idx],
        }
        if self.y is not None:
            out["y"] = self.y[idx]
        if flip is not None and flip.any():
            for k, v in out.items():
                v = v.copy()
                v[flip] = v[flip][..., ::-1]
                out[k] = v
        return out


def _stack(items: list[dict[str, np.ndarray]], paired: bool) -> WindowSet:
    if not items:
        raise InputError("no training windows could be made from the data")
    st = {k: np.stack([it[k] for it in items]).astype(np.float32) for k in items[0]}
    return WindowSet(
        x=st["x"],
        maps=st["maps"],
        feather=st["feather"],
        mask=st["mask"],
        y=st["y"] if paired else None,
        pathology=st["pathology"].astype(np.int64).ravel(),
    )


def window_sample(
    image: np.ndarray,
    cond: Condition,
    px: float,
    size: int,
    target: np.ndarray | None = None,
    region: np.ndarray | None = None,
    scale: float | None = None,
) -> dict[str, np.ndarray]:
    """One training sample: the window of ``cond`` in ``image`` (and the same window of
    ``target``), normalised by ``image``'s contrast range."""
    scale = contrast_scale(image) if scale is None else scale
    win = make_window(image, cond, px, size, region)
    x, mid = normalise(win.image, scale)
    soft = win.maps.max(0) / max(float(cond.severity), 1e-3)
    s: dict[str, np.ndarray] = {
        "x": x[None],
        "maps": win.maps,
        "feather": win.feather[None],
        "mask": (soft > 0.5).astype(np.float32)[None],
        "pathology": np.array([PATHOLOGIES.index(cond.pathology)], np.float32),
    }
    if target is not None:
        ty = _resample(_crop_padded(target, win.r0, win.c0, win.side), size)
        s["y"] = ((ty - mid) * (2.0 / scale))[None]
    return s


def sim_pair(case: object) -> tuple[np.ndarray, np.ndarray]:
    """(healthy, diseased) of a simulated case with the *same* noise.

    The simulator draws the noise of its healthy and diseased images independently; the paired
    truth is the healthy image plus the lesion's clean difference, so that input and target
    differ only by the lesion.
    """
    x = case.healthy.image  # type: ignore[attr-defined]
    delta = case.diseased_clean.image - case.healthy_clean.image  # type: ignore[attr-defined]
    return x, np.clip(x + delta, 0.0, 1.0).astype(np.float32)


def sim_region(case: object, cond: Condition) -> np.ndarray | None:
    """The lung field the simulator clipped ``cond`` to (its side), or None."""
    if cond.pathology not in ("effusion", "pneumothorax", "consolidation"):
        return None
    sides = np.asarray(case.lung_sides)  # type: ignore[attr-defined]
    return sides == (1 if cond.patient_side(sides.shape) == "right" else 2)


def sim_windows(
    n_cases: int,
    seed: int,
    size: int = 128,
    image_px: Sequence[int] = (512, 768, 1024),
    pathologies: Sequence[str] = PATHOLOGIES,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    start: int = 0,
) -> WindowSet:
    """Paired windows from the simulator: one random lesion per simulated chest.

    Case ``k`` (``start <= k < n_cases``) uses simulator seed ``seed + k``, pathology
    ``pathologies[k % len]`` and image side ``image_px[(k // len(pathologies)) % len]``: keep
    evaluation seeds outside ``[seed, seed + n_cases)``. ``start`` lets several processes share
    the cases of one set (their window sets concatenated give the same set).
    """
    from napari_xray_synth.core.simulate import simulate_chest

    items = []
    for k in range(start, n_cases):
        check_cancel(cancel)
        npx = int(image_px[(k // len(pathologies)) % len(image_px)])
        case = simulate_chest(seed + k, npx, conditions=pathologies[k % len(pathologies)])
        cond = case.conditions[0]
        x, y = sim_pair(case)
        items.append(window_sample(x, cond, case.spacing, size, y, sim_region(case, cond)))
        report(progress, k + 1 - start, n_cases - start)
    return _stack(items, paired=True)


_MADE = "made_with"  # the .npz entry holding how a cached set was made (JSON text)


def save_windows(ws: WindowSet, path: str | Path, made_with: dict | None = None) -> None:
    """Cache a window set as .npz (plain arrays, no pickle).

    ``made_with`` (JSON-able: the cases, seeds, window size, the simulator's fingerprint) is
    stored beside the arrays, so that :func:`check_windows` can refuse a stale cache.
    """
    from napari_xray_synth.core.atomic import atomic_path

    arrays = {k: v for k, v in vars(ws).items() if v is not None}
    if made_with is not None:
        arrays[_MADE] = np.array(json.dumps(made_with, sort_keys=True))
    with atomic_path(Path(path)) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_windows(path: str | Path) -> WindowSet:
    """Read :func:`save_windows` output."""
    with np.load(path, allow_pickle=False) as z:
        return WindowSet(**{k: z[k] for k in z.files if k != _MADE})


def check_windows(path: str | Path, made_with: dict) -> None:
    """Refuse a cached window set that was not made the way ``made_with`` says.

    Raises
    ------
    InputError
        The cache records other settings (named), or records none (made before caches did).
    """
    with np.load(path, allow_pickle=False) as z:
        if _MADE not in z.files:
            raise InputError(
                "this window cache does not record how it was made; delete it "
                "(or pass another --cache) and it is made again",
                path,
            )
        recorded = json.loads(str(z[_MADE]))
    expected = json.loads(json.dumps(made_with, sort_keys=True))  # tuples as lists
    differ = sorted(k for k in set(recorded) | set(expected) if recorded.get(k) != expected.get(k))
    if differ:
        raise InputError(
            f"this window cache was made with other settings ({', '.join(differ)}); "
            "delete it (or pass another --cache) and it is made again",
            path,
        )


# --------------------------------------------------------------------------- real data (CSV)


def _read(item: LabelledImage, spacing_mm: float) -> tuple[np.ndarray, float]:
    """Pixels in [0, 1] and the pixel size: the file's, the manifest's, or the default."""
    rg = read_radiograph(item.path)  # one 2-D float32 image, or an InputError naming the file
    if item.frame is not None and tuple(rg.image.shape) != item.frame:
        raise InputError(
            f"its mask has shape {item.frame}, the image {tuple(rg.image.shape)}", item.path
        )
    px = float(np.mean(rg.spacing)) if rg.spacing else (item.spacing_mm or spacing_mm)
    return rg.image, px


def csv_windows(
    csv_path: str | Path,
    size: int,
    seed: int,
    spacing_mm: float = 0.35,
    images: str | Path | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> tuple[WindowSet, WindowSet]:
    """Unpaired windows from real data: (healthy windows with borrowed conditions, real lesions).

    ``csv_path`` is a ChestX-ray14-style CSV or an exported data set's ``manifest.csv``
    (:func:`real_labels.read_labels`). Each labelled lesion gives one real window (its box as
    the condition); each healthy image gets the condition of a labelled lesion (same relative
    position), drawn with ``seed``. ``spacing_mm`` is the pixel size of images for which
    neither the file nor the manifest gives one.
    """
    rows = read_labels(csv_path, images)
    sick = [r for r in rows if r.finding]
    healthy = [r for r in rows if not r.finding]
    if not sick or not healthy:
        raise InputError(
            f"unpaired training needs labelled lesions and healthy images; found "
            f"{len(sick)} and {len(healthy)}",
            csv_path,
        )
    rng = np.random.default_rng(seed)
    real, fake_in, rel = [], [], []
    total = len(sick) + len(healthy)
    last: tuple[Path | None, tuple[np.ndarray, float] | None] = (None, None)
    for i, r in enumerate(sick):
        check_cancel(cancel)
        if last[0] != r.path:  # an image's lesions are listed together: read it once
            last = (r.path, _read(r, spacing_mm))
        img, px = last[1]  # type: ignore[misc]
        cond = box_condition(r.finding, r.box, img.shape, px)  # type: ignore[arg-type]
        real.append(window_sample(img, cond, px, size))
        rel.append((cond, cond.center[0] / img.shape[0], cond.center[1] / img.shape[1]))
        report(progress, i + 1, total)
    for j, r in enumerate(healthy):
        check_cancel(cancel)
        img, px = _read(r, spacing_mm)
        cond, fr, fc = rel[int(rng.integers(len(rel)))]
        moved = Condition(
            cond.pathology,
            (fr * img.shape[0], fc * img.shape[1]),
            cond.size_mm,
            cond.severity,
            shape_seed=int(rng.integers(1 << 30)),
            margin=cond.margin,
        )
        fake_in.append(window_sample(img, moved, px, size))
        report(progress, len(sick) + j + 1, total)
    return _stack(fake_in, paired=False), _stack(real, paired=False)
