"""Tiled inference with overlap and seamless blending, in bounded memory.

An image is cut into equal tiles that overlap by at least ``overlap`` pixels; tiles go through
the network in batches, and each result is accumulated with a weight that ramps down (a raised
cosine over the overlap) towards every tile edge that lies inside the image. Dividing by the
summed weights gives an image without seams, and memory is bounded by the tile batch plus two
image-sized float32 buffers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report


def tile_layout(n: int, tile: int, overlap: int) -> tuple[list[int], int]:
    """Start offsets and the common size of tiles covering ``n`` pixels along one axis.

    The number of tiles is the smallest that keeps tiles at most ``tile`` long with at least
    ``overlap`` pixels shared; the size is then shrunk so that the tiles cover ``n`` with little
    more than the required overlap (less wasted work than fixed-size tiles).
    """
    if n <= tile:
        return [0], n
    overlap = min(overlap, tile // 2)
    count = math.ceil((n - overlap) / (tile - overlap))
    size = min(tile, math.ceil((n + (count - 1) * overlap) / count))
    starts = np.linspace(0, n - size, count).round().astype(int).tolist()
    return starts, size


def _ramp(size: int, overlap: int, low_edge: bool, high_edge: bool) -> np.ndarray:
    w = np.ones(size, dtype=np.float32)
    ov = min(overlap, size // 2)
    if ov > 0:
        # raised cosine from ~0 at the tile edge to 1 after ``ov`` pixels
        r = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ov, dtype=np.float32) + 0.5) / ov)
        if low_edge:
            w[:ov] = r
        if high_edge:
            w[size - ov :] = r[::-1]
    return w


def tiled_apply(
    image: np.ndarray,
    fn: Callable[[torch.Tensor, list[tuple[int, int]]], torch.Tensor],
    *,
    tile: int = 512,
    overlap: int = 32,
    batch_size: int = 4,
    device: torch.device | str = "cpu",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Apply ``fn`` to a 2-D image tile by tile and blend the results.

    Parameters
    ----------
    image : ndarray
        2-D float32 image.
    fn : callable
        ``fn(batch, origins)``: a (B, 1, h, w) tensor on ``device`` and the (row, col) origin of
        each tile in the image, returning a tensor of the same shape.
    tile : int
        Largest tile side in pixels (at least 16).
    overlap : int
        Pixels shared by neighbouring tiles (blended).
    batch_size : int
        Tiles per forward pass.
    device : torch.device or str
        Where the tiles go.
    progress, cancel
        The core's progress callback and cancel token (checked between batches).

    Returns
    -------
    ndarray
        float32 image of the same shape.
    """
    img = np.ascontiguousarray(image, dtype=np.float32)
    h, w = img.shape
    tile = max(int(tile), 16)
    overlap = max(int(overlap), 0)
    rows, th = tile_layout(h, tile, overlap)
    cols, tw = tile_layout(w, tile, overlap)
    boxes = [(r, c) for r in rows for c in cols]
    if len(boxes) == 1:
        check_cancel(cancel)
        report(progress, 0, 1)
        with torch.inference_mode():
            x = torch.from_numpy(img)[None, None].to(device)
            out = fn(x, [(0, 0)]).float().cpu().numpy()[0, 0]
        report(progress, 1, 1)
        return out
    acc = np.zeros((h, w), dtype=np.float32)
    wsum = np.zeros((h, w), dtype=np.float32)
    total = len(boxes)
    report(progress, 0, total)
    bs = max(int(batch_size), 1)
    for i in range(0, total, bs):
        check_cancel(cancel)
        chunk = boxes[i : i + bs]
        batch = np.stack([img[r : r + th, c : c + tw] for r, c in chunk])[:, None]
        with torch.inference_mode():
            pred = fn(torch.from_numpy(batch).to(device), chunk).float().cpu().numpy()
        for (r, c), p in zip(chunk, pred[:, 0], strict=True):
            wr = _ramp(th, overlap, r > 0, r + th < h)
            wc = _ramp(tw, overlap, c > 0, c + tw < w)
            wt = wr[:, None] * wc[None, :]
            acc[r : r + th, c : c + tw] += p * wt
            wsum[r : r + th, c : c + tw] += wt
        report(progress, min(i + bs, total), total)
    acc /= np.maximum(wsum, 1e-12)
    return acc
