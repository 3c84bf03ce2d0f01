"""Tiled inference with overlap and seamless blending, in bounded memory.

An image is cut into equal tiles; each carries a context halo (cropped after the network, so
the network's own border effects never reach the result) and neighbouring tiles overlap; tiles
go through the network in batches, and each result is accumulated with a weight that ramps down
(a raised cosine over the overlap) towards every tile edge that lies inside the image. Dividing
by the summed weights gives an image without seams, and memory is bounded by the tile batch
plus two image-sized float32 buffers (the accumulated result and its weights).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from napari_xray_synth.core.progress import CancelToken, ProgressFn, check_cancel, report


def tile_layout(n: int, tile: int, overlap: int, align: int = 4) -> tuple[list[int], int]:
    """Start offsets and the common size of tiles covering ``n`` pixels along one axis.

    Starts and size are multiples of ``align`` (the network's down-sampling factor, so that every
    tile sees the same pixel phase as the whole image would). The number of tiles is the smallest
    that keeps tiles at most ``tile`` long with at least ``overlap`` pixels shared; the size is
    then shrunk to cover ``n`` with little waste. The last tile may run up to ``align - 1`` pixels
    (or a little more) past ``n``: the caller pads.
    """
    tile = max(align, tile // align * align)
    if n <= tile:
        return [0], -(-n // align) * align
    overlap = min(overlap, tile // 2)
    count = math.ceil((n - overlap) / (tile - overlap))
    while True:
        size = min(tile, -(-math.ceil((n + (count - 1) * overlap) / count) // align) * align)
        step = (size - overlap) // align * align
        if step > 0 and (count - 1) * step + size >= n:
            return [k * step for k in range(count)], size
        count += 1


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

    Each tile the network sees is a core plus a context halo of ``overlap // 2`` pixels on every
    side, edge-replicated where it leaves the image; the halo is cropped from the
    result (it holds the network's own border effects), and neighbouring cores share another
    ``overlap // 2`` pixels, blended with raised-cosine weights. The whole image in one tile goes
    through exactly the same padding, so tiled and untiled results agree.

    Parameters
    ----------
    image : ndarray or sequence of ndarray
        2-D float32 image (H, W), or several same-shaped channels tiled together (an image and
        its noise map, say): a (C, H, W) array or a list of (H, W) arrays.
    fn : callable
        ``fn(batch, origins)``: a (B, C, h, w) tensor on ``device`` and the (row, col) origin of
        each tile's core in the image, returning a (B, 1, h, w) tensor.
    tile : int
        Largest tile side given to ``fn``, halo included (at least 16).
    overlap : int
        Pixels of overlap: half context halo, half blended.
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
    channels = [image] if isinstance(image, np.ndarray) and image.ndim == 2 else list(image)
    channels = [np.asarray(c, dtype=np.float32) for c in channels]
    h, w = channels[0].shape
    tile = max(int(tile), 16)
    halo = min(max(int(overlap), 0) // 2, tile // 4) // 4 * 4
    blend = max(int(overlap), 0) - halo
    core = tile - 2 * halo
    rows, th = tile_layout(h, core, blend)
    cols, tw = tile_layout(w, core, blend)
    hh, ww = rows[-1] + th, cols[-1] + tw  # covered size (>= h, w)
    boxes = [(r, c) for r in rows for c in cols]

    def window(r: int, c: int) -> np.ndarray:
        # the tile with its halo, edge-replicated where it leaves the image (no padded copy)
        rows = np.clip(np.arange(r - halo, r + th + halo), 0, h - 1)
        cols = np.clip(np.arange(c - halo, c + tw + halo), 0, w - 1)
        return np.stack([ch[np.ix_(rows, cols)] for ch in channels])

    single = len(boxes) == 1
    acc = None if single else np.zeros((hh, ww), dtype=np.float32)
    wsum = None if single else np.zeros((hh, ww), dtype=np.float32)
    total = len(boxes)
    report(progress, 0, total)
    bs = max(int(batch_size), 1)
    for i in range(0, total, bs):
        check_cancel(cancel)
        chunk = boxes[i : i + bs]
        batch = np.stack([window(r, c) for r, c in chunk])
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(device)
            pred = fn(x, chunk).float().cpu().numpy()[:, 0]
        pred = pred[:, halo : halo + th, halo : halo + tw]
        if single:
            report(progress, 1, 1)
            return np.ascontiguousarray(pred[0, :h, :w])
        assert acc is not None and wsum is not None
        for (r, c), p in zip(chunk, pred, strict=True):
            wr = _ramp(th, blend, r > 0, r + th < hh)
            wc = _ramp(tw, blend, c > 0, c + tw < ww)
            wt = wr[:, None] * wc[None, :]
            acc[r : r + th, c : c + tw] += p * wt
            wsum[r : r + th, c : c + tw] += wt
        report(progress, min(i + bs, total), total)
    assert acc is not None and wsum is not None
    acc /= np.maximum(wsum, 1e-12)
    return np.ascontiguousarray(acc[:h, :w])
