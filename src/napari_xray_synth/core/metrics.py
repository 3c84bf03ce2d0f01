"""Full-reference image metrics: SSIM (with its map), PSNR and RMSE, inside or outside a mask.

SSIM follows Wang et al. (2004) exactly as scikit-image computes it with
``structural_similarity(a, b, data_range=R, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False)``: an 11 x 11 Gaussian window (sigma 1.5, truncated at 3.5 sigma),
K1 = 0.01, K2 = 0.03, population covariances, SciPy's ``reflect`` border (the edge pixel is
repeated: ``d c b a | a b c d``) for the map, and a mean that leaves out the 5-pixel border strip.
It runs in torch (float32) on the device from :func:`~napari_xray_synth.core.device.pick_device`.

On the CPU the image is processed in strips of a few rows so that every intermediate stays in
cache; this is what makes it several times faster than scikit-image on a 2-core machine (see
``benchmarks/bench_ssim.py``). Elsewhere (CUDA, MPS) larger tiles are used.

Masked values are means (or mean squared errors) over the pixels of the region only; for SSIM
the border strip that the whole-image mean leaves out is left out there too, so that the inside
and outside values add up (weighted by their pixel counts) to the whole-image value.

Distribution-level metrics (FID, KID, classifier accuracy) belong beside this module, not in it.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import torch

from napari_xray_synth.core.device import pick_device
from napari_xray_synth.core.errors import InputError
from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report

SIGMA = 1.5
TRUNCATE = 3.5  # scikit-image's choice for gaussian_weights=True: an 11-tap window at sigma 1.5
K1 = 0.01
K2 = 0.03
CPU_TILE_ROWS = 16  # rows per strip on the CPU: small enough for the working set to stay in cache
CPU_WORKERS = min(4, os.cpu_count() or 1)
GPU_TILE_ROWS = 128  # the row pass is a (rows x rows + 10) product: keep it small

Region = Literal["all", "inside", "outside"]
MapKind = Literal["ssim", "1-ssim", "absdiff"]
MAP_KINDS: tuple[str, ...] = ("ssim", "1-ssim", "absdiff")


def gaussian_window(sigma: float = SIGMA, truncate: float = TRUNCATE) -> np.ndarray:
    """The 1-D weights of SciPy's ``gaussian_filter`` (radius ``int(truncate * sigma + 0.5)``).

    Returns
    -------
    ndarray
        float64 weights of odd length ``2 * radius + 1``, summing to 1.
    """
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _as_2d(img: Any, name: str) -> np.ndarray:
    arr = np.asarray(img)
    if arr.ndim != 2:
        raise InputError(f"needs one 2-D image, got shape {arr.shape}", name)
    if arr.size == 0:
        raise InputError("is empty", name)
    if arr.dtype == bool:
        arr = arr.astype(np.float32)
    elif not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(f"has data of type {arr.dtype}, not an image", name)
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise InputError("holds NaN or infinite values", name)
    return arr


def check_pair(
    a: Any, b: Any, names: tuple[str, str] = ("A", "B")
) -> tuple[np.ndarray, np.ndarray]:
    """Check that two images can be compared: 2-D, same shape, finite.

    Raises
    ------
    InputError
        Naming both shapes when they differ, or the image that is NaN, empty or not 2-D.
    """
    a = _as_2d(a, names[0])
    b = _as_2d(b, names[1])
    if a.shape != b.shape:
        raise InputError(
            f"the images differ in shape: {names[0]} is {a.shape[0]} x {a.shape[1]}, "
            f"{names[1]} is {b.shape[0]} x {b.shape[1]}; resample one first"
        )
    return a, b


def mask_array(mask: Any, shape: tuple[int, ...], name: str = "mask") -> np.ndarray:
    """A mask or label image as booleans (non-zero = inside), checked against the image shape.

    Raises
    ------
    InputError
        The mask has another shape than the images (both shapes are named).
    """
    m = np.asarray(mask)
    if m.shape != tuple(shape):
        raise InputError(
            f"the mask is {' x '.join(map(str, m.shape))} but the images are "
            f"{' x '.join(map(str, shape))}",
            name,
        )
    return m != 0


def region_mask(
    mask: Any | None, shape: tuple[int, ...], region: Region = "inside", name: str = "mask"
) -> np.ndarray | None:
    """The boolean pixels a metric is taken over: a mask (non-zero = inside), its outside, or None.

    Raises
    ------
    InputError
        The mask has another shape than the images, or the region holds no pixel.
    """
    if region not in ("all", "inside", "outside"):
        raise InputError(f"unknown region {region!r}; choose all, inside or outside")
    if mask is None or region == "all":
        return None
    m = mask_array(mask, shape, name)
    if region == "outside":
        m = ~m
    if not m.any():
        raise InputError(f"no pixel lies {region} the mask", name)
    return m


def _check_range(data_range: float) -> float:
    r = float(data_range)
    if not (math.isfinite(r) and r > 0):
        raise InputError(f"data_range must be a positive number, got {data_range!r}")
    return r


def default_data_range(a: np.ndarray, b: np.ndarray) -> float:
    """A data range for two images: 1 for images in [0, 1], the dtype's range for integers
    (as scikit-image takes it), else the span of both images (1 when both are one constant)."""
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        info = np.iinfo(a.dtype)
        return float(info.max - min(info.min, 0))
    lo = float(min(a.min(), b.min()))
    hi = float(max(a.max(), b.max()))
    if lo >= 0.0 and hi <= 1.0:
        return 1.0
    return hi - lo if hi > lo else 1.0


@contextlib.contextmanager
def _cpu_threads(n: int | None) -> Iterator[None]:
    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _symmetric_index(n: int, radius: int, device: torch.device) -> torch.Tensor:
    """Indices of SciPy's ``reflect`` padding (``d c b a | a b c d``) of ``n`` samples by
    ``radius`` (``n >= radius``, which the window-size check guarantees)."""
    i = np.arange(-radius, n + radius)
    i = np.where(i < 0, -i - 1, i)
    i = np.where(i >= n, 2 * n - 1 - i, i)
    return torch.from_numpy(i).to(device)


def _row_band(rows: int, w: torch.Tensor) -> torch.Tensor:
    """The (rows, rows + 2r) matrix that correlates a strip with ``w`` along its rows."""
    k = w.numel()
    band = torch.zeros((rows, rows + k - 1), dtype=w.dtype, device=w.device)
    for i in range(rows):
        band[i, i : i + k] = w
    return band


def _blur_cols(t: torch.Tensor, w: list[float], cols: int) -> torch.Tensor:
    """Correlate along the last dim with the symmetric window ``w``; ``t`` has ``cols + 2r``."""
    r = len(w) // 2
    out = t[..., r : r + cols] * w[r]
    for k in range(r):
        out.add_(t[..., k : k + cols], alpha=w[k]).add_(
            t[..., 2 * r - k : 2 * r - k + cols], alpha=w[k]
        )
    return out


def ssim_map(
    a: Any,
    b: Any,
    data_range: float = 1.0,
    *,
    sigma: float = SIGMA,
    device: str | torch.device | None = "auto",
    tile_rows: int | None = None,
    threads: int | None = 1,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """The SSIM map of two images (float32, same shape), as scikit-image's ``full=True`` map.

    Parameters
    ----------
    a, b : array-like
        2-D images of one shape.
    data_range : float
        The dynamic range of the images (1 for the [0, 1] images of a Radiograph).
    sigma : float
        Standard deviation of the Gaussian window (truncated at 3.5 sigma).
    device : str or torch.device
        Where to compute ("auto": CUDA, then MPS, then CPU).
    tile_rows : int, optional
        Rows per strip (default 16 on the CPU, 128 elsewhere).
    threads : int or None
        Torch intra-op threads on the CPU for the duration of the call (torch's setting is
        restored after). One is fastest: the strips are too small for threads to pay, and on a
        busy machine OpenMP threads waiting on each other cost far more (measured: 0.23 s with
        one thread, 5 s with two, on a shared 2-core CPU). None leaves torch's setting.
    workers : int, optional
        Python threads sharing the strips on the CPU (torch releases the GIL); default
        :data:`CPU_WORKERS` (the number of cores, at most 4).
    progress, cancel
        The core progress callback and cancel token (one step per strip).

    Raises
    ------
    InputError
        Different shapes, NaN, a non-positive data range, or an image smaller than the window.
    """
    a, b = check_pair(a, b)
    R = _check_range(data_range)
    w64 = gaussian_window(sigma)
    r = len(w64) // 2
    H, W = a.shape
    if min(H, W) < len(w64):
        raise InputError(
            f"the images ({H} x {W}) are smaller than the {len(w64)} x {len(w64)} SSIM window"
        )
    dev = pick_device(device)
    workers = CPU_WORKERS if workers is None else workers
    tile = tile_rows or (CPU_TILE_ROWS if dev.type == "cpu" else GPU_TILE_ROWS)
    w = [float(v) for v in w64]

    # Centre both images on one offset and divide by the range: the covariance terms are
    # shift-invariant, so float32 cancellation in E[x^2] - E[x]^2 stays small for any data range;
    # the luminance term gets the offset back below.
    c = 0.5 * (float(np.mean(a, dtype=np.float64)) + float(np.mean(b, dtype=np.float64)))
    # float32 in numpy first: MPS has no float64 and CUDA few uint16 kernels
    x = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(dev)
    y = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32)).to(dev)
    shift = 2.0 * c / R
    c1, c2 = 2.0 * K1**2, 2.0 * K2**2  # doubled: the 1/2 of every term below cancels
    out = torch.empty((H, W), dtype=torch.float32, device=dev)
    n_tiles = -(-H // tile)
    with torch.no_grad(), _cpu_threads(threads if dev.type == "cpu" else None):
        # s = x + y and d = x - y carry all five moments of SSIM:
        # ux^2 + uy^2 = (us^2 + ud^2) / 2, 2 ux uy = (us^2 - ud^2) / 2, and likewise for the
        # (co)variances, so four filtered maps replace the usual five.
        rows_idx = _symmetric_index(H, r, dev)
        band = _row_band(tile, torch.tensor(w64, dtype=torch.float32, device=dev))
        starts = list(range(0, H, tile))
        done = [0]
        lock = threading.Lock()

        def run(chunk: list[int]) -> None:
            stack = torch.empty((4, tile + 2 * r, W + 2 * r), dtype=torch.float32, device=dev)
            for r0 in chunk:
                check_cancel(cancel)
                r1 = min(r0 + tile, H)
                n = r1 - r0
                st = stack[:, : n + 2 * r]
                # this strip and its reflected halo rows, then the reflected halo columns:
                # all in cache, no padded copy of the whole image
                idx = rows_idx[r0 : r1 + 2 * r]
                xs, ys = x.index_select(0, idx), y.index_select(0, idx)
                torch.add(xs, ys, out=st[0, :, r : r + W]).sub_(2.0 * c).div_(R)
                torch.sub(xs, ys, out=st[1, :, r : r + W]).div_(R)
                st[:2, :, :r] = st[:2, :, r : 2 * r].flip(-1)
                st[:2, :, W + r :] = st[:2, :, W : W + r].flip(-1)
                torch.mul(st[:2], st[:2], out=st[2:])
                # the row pass as one small matrix product, the column pass as shifted sums
                g = band if n == tile else band[:n, : n + 2 * r]
                us, ud, ps, pd = _blur_cols(torch.matmul(g, st), w, W)
                ud2 = ud * ud
                vd = pd.sub_(ud2)
                vs = ps.sub_(us * us)  # variances are shift-invariant: centred us here
                us2 = us.add_(shift).square_()  # the luminance term needs the true means
                a1 = (us2 - ud2).add_(c1)
                b1 = us2.add_(ud2).add_(c1)
                a2 = (vs - vd).add_(c2)
                b2 = vs.add_(vd).add_(c2)
                torch.div(a1.mul_(a2), b1.mul_(b2), out=out[r0:r1])
                with lock:
                    done[0] += 1
                    report(progress, done[0], n_tiles)

        n_workers = max(1, min(int(workers or 1), len(starts))) if dev.type == "cpu" else 1
        if n_workers == 1:
            run(starts)
        else:
            # torch ops release the GIL: strips in parallel Python threads, one torch thread each
            chunks = [starts[k::n_workers] for k in range(n_workers)]
            with ThreadPoolExecutor(n_workers) as pool:
                for fut in [pool.submit(run, ch) for ch in chunks]:
                    fut.result()
    return out.cpu().numpy()


def _interior(arr: np.ndarray, sigma: float = SIGMA) -> np.ndarray:
    """``arr`` without the border strip that scikit-image leaves out of the SSIM mean (a view)."""
    pad = int(TRUNCATE * sigma + 0.5)  # (win_size - 1) // 2
    return arr[pad : arr.shape[0] - pad, pad : arr.shape[1] - pad]


def _masked_sum(values: np.ndarray, weights: np.ndarray | None) -> float:
    # float32 products and row sums (numpy sums rows pairwise), then the row sums in float64:
    # far quicker than boolean indexing or a float64 cast, with a relative error near 1e-7
    prod = values if weights is None else values * weights
    return float(prod.sum(axis=-1).sum(dtype=np.float64))


def _ssim_value(smap: np.ndarray, sel: np.ndarray | None, sigma: float, name: str) -> float:
    inner = _interior(smap, sigma)
    if sel is None:
        return _masked_sum(inner, None) / inner.size
    w = _interior(sel, sigma)
    n = int(np.count_nonzero(w))
    if n == 0:
        raise InputError("the region lies only in the image border that SSIM leaves out", name)
    return _masked_sum(inner, w.astype(np.float32)) / n


def ssim(
    a: Any,
    b: Any,
    data_range: float = 1.0,
    full: bool = False,
    mask: Any | None = None,
    region: Region = "inside",
    *,
    sigma: float = SIGMA,
    device: str | torch.device | None = "auto",
    tile_rows: int | None = None,
    threads: int | None = 1,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> float | tuple[float, np.ndarray]:
    """Mean structural similarity of two images, optionally inside or outside a mask.

    Parameters
    ----------
    a, b : array-like
        2-D images of one shape (b is the reference; SSIM is symmetric).
    data_range : float
        The dynamic range of the images (1 for Radiograph images in [0, 1]).
    full : bool
        Also return the SSIM map (float32, the images' shape, the whole image whatever the mask).
    mask : array-like, optional
        A mask or label image of the images' shape; non-zero pixels are "inside".
    region : {"inside", "outside", "all"}
        Which pixels the mean is taken over when a mask is given.

    Returns
    -------
    float, or (float, ndarray) when ``full``
        The mean over the region, leaving out the 5-pixel border strip as scikit-image does.

    Raises
    ------
    InputError
        Different shapes (both are named), NaN, a mask of another shape, an empty region.
    """
    smap = ssim_map(
        a,
        b,
        data_range,
        sigma=sigma,
        device=device,
        tile_rows=tile_rows,
        threads=threads,
        workers=workers,
        progress=progress,
        cancel=cancel,
    )
    sel = region_mask(mask, smap.shape, region)
    value = _ssim_value(smap, sel, sigma, "mask")
    return (value, smap) if full else value


def _mse(a: np.ndarray, b: np.ndarray, sel: np.ndarray | None) -> float:
    d = a.astype(np.float64) - b.astype(np.float64)
    if sel is not None:
        d = d[sel]
    return float(np.mean(d * d))


def rmse(a: Any, b: Any, mask: Any | None = None, region: Region = "inside") -> float:
    """Root mean squared error, optionally inside or outside a mask (in image units)."""
    a, b = check_pair(a, b)
    return math.sqrt(_mse(a, b, region_mask(mask, a.shape, region)))


def psnr_from_mse(mse: float, data_range: float) -> float:
    """PSNR in dB from a mean squared error; ``inf`` for identical images."""
    R = _check_range(data_range)
    return math.inf if mse == 0 else 10.0 * math.log10(R * R / mse)


def psnr(
    a: Any, b: Any, data_range: float = 1.0, mask: Any | None = None, region: Region = "inside"
) -> float:
    """Peak signal-to-noise ratio in dB (``10 log10(R^2 / MSE)``), as scikit-image defines it.

    Returns ``inf`` for identical images.
    """
    a, b = check_pair(a, b)
    R = _check_range(data_range)
    return psnr_from_mse(_mse(a, b, region_mask(mask, a.shape, region)), R)


def compare(
    a: Any,
    b: Any,
    mask: Any | None = None,
    data_range: float | None = 1.0,
    map_kind: MapKind = "1-ssim",
    *,
    device: str | torch.device | None = "auto",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """SSIM, PSNR and RMSE of ``a`` against ``b``, whole image and inside/outside a mask.

    Parameters
    ----------
    a, b : array-like
        The image to judge (a variant, a denoised image) and its reference (the source).
    mask : array-like, optional
        Lesion mask or labels of the same shape; adds ``*_inside`` and ``*_outside`` values.
    data_range : float or None
        Dynamic range; None picks :func:`default_data_range`.
    map_kind : {"1-ssim", "ssim", "absdiff"}
        What ``result["map"]`` holds: the SSIM difference map 1 - SSIM, the SSIM map itself,
        or ``|a - b|``.

    Returns
    -------
    dict
        ``ssim``, ``psnr`` (dB; ``inf`` when identical), ``rmse``, ``data_range``, ``map_kind``,
        ``map`` (float32 array), ``shape``, and with a mask ``ssim_inside``, ``ssim_outside``,
        ``psnr_inside`` ... and the pixel counts ``n_inside``, ``n_outside``.
    """
    if map_kind not in MAP_KINDS:
        raise InputError(f"unknown map kind {map_kind!r}; choose one of {', '.join(MAP_KINDS)}")
    a, b = check_pair(a, b)
    R = default_data_range(a, b) if data_range is None else _check_range(data_range)
    smap = ssim_map(a, b, R, device=device, progress=progress, cancel=cancel)
    diff = np.subtract(a, b, dtype=np.float32)
    sq = diff * diff
    n_all = sq.size
    mse = _masked_sum(sq, None) / n_all
    out: dict[str, Any] = {
        "ssim": _ssim_value(smap, None, SIGMA, "mask"),
        "psnr": psnr_from_mse(mse, R),
        "rmse": math.sqrt(mse),
        "data_range": R,
        "shape": list(a.shape),
        "map_kind": map_kind,
    }
    if mask is not None:
        inside_bool = mask_array(mask, a.shape)
        inside = inside_bool.astype(np.float32)
        n_in = int(np.count_nonzero(inside_bool))
        sq_in = _masked_sum(sq, inside)
        inner, inner_in = _interior(smap), _interior(inside)
        m_in = int(np.count_nonzero(_interior(inside_bool)))
        s_all = _masked_sum(inner, None)
        s_in = _masked_sum(inner, inner_in)
        regions = {
            "inside": (n_in, sq_in, m_in, s_in),
            "outside": (n_all - n_in, mse * n_all - sq_in, inner.size - m_in, s_all - s_in),
        }
        for region, (n, sq_sum, m, s_sum) in regions.items():
            # an empty region (no lesion drawn yet) gives None rather than an error
            r_mse = max(sq_sum, 0.0) / n if n else None
            out[f"ssim_{region}"] = s_sum / m if m else None
            out[f"psnr_{region}"] = None if r_mse is None else psnr_from_mse(r_mse, R)
            out[f"rmse_{region}"] = None if r_mse is None else math.sqrt(r_mse)
            out[f"n_{region}"] = n
    if map_kind == "ssim":
        out["map"] = smap
    elif map_kind == "1-ssim":
        out["map"] = 1.0 - smap
    else:
        out["map"] = np.abs(diff)
    return out
