"""PNG plots for cards and reports: matplotlib's Agg canvas directly (no pyplot, no GUI backend).

Every figure is written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from napari_xray_synth.core.atomic import atomic_path


def save_figure(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG through a temporary file in the target folder."""
    path = Path(path)
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight")
    return path


def line_plot(
    path: str | Path,
    x: Sequence[float] | np.ndarray,
    series: Mapping[str, Sequence[float] | np.ndarray],
    xlabel: str,
    ylabel: str,
    title: str = "",
    logx: bool = False,
    logy: bool = False,
) -> Path:
    """One or more curves against a shared x axis."""
    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.add_subplot()
    for name, y in series.items():
        ax.plot(x, y, marker="o" if len(x) < 30 else None, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def loss_curve(path: str | Path, losses: Sequence[float], title: str = "training loss") -> Path:
    """Raw per-step loss (faint) and its running mean."""
    y = np.asarray(losses, np.float64)
    steps = np.arange(1, y.size + 1)
    w = max(1, y.size // 50)
    smooth = np.convolve(y, np.ones(w) / w, mode="valid") if y.size else y
    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.add_subplot()
    ax.plot(steps, y, alpha=0.3, lw=0.8, label="per step")
    if smooth.size:
        ax.plot(steps[w - 1 :], smooth, lw=1.8, label=f"mean of {w}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def bar_plot(
    path: str | Path,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    ylabel: str,
    title: str = "",
    ylim: tuple[float, float] | None = None,
) -> Path:
    """Grouped bars: one group per label, one bar per series."""
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    n = max(len(series), 1)
    x = np.arange(len(labels))
    for i, (name, vals) in enumerate(series.items()):
        ax.bar(x + (i - (n - 1) / 2) * 0.8 / n, vals, width=0.8 / n, label=name)
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    if len(series) > 1:
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def montage(
    path: str | Path,
    rows: Sequence[Sequence[np.ndarray]],
    col_titles: Sequence[str] = (),
    row_titles: Sequence[str] = (),
    cmaps: Sequence[str] = (),
    vranges: Sequence[tuple[float, float]] = (),
    tile: float = 2.2,
    row_cmaps: Sequence[str] = (),
) -> Path:
    """A grid of images.

    Cell (i, j) uses ``row_cmaps[i]``, else ``cmaps[j]``, else gray; ``vranges[j]`` (default 0..1).
    """
    n_r = len(rows)
    n_c = max(len(r) for r in rows) if rows else 1
    fig = Figure(figsize=(tile * n_c, tile * n_r + 0.3))
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            ax = fig.add_subplot(n_r, n_c, i * n_c + j + 1)
            cmap = row_cmaps[i] if i < len(row_cmaps) else (cmaps[j] if j < len(cmaps) else "gray")
            vmin, vmax = vranges[j] if j < len(vranges) else (0.0, 1.0)
            ax.imshow(np.asarray(img), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0 and j < len(col_titles):
                ax.set_title(col_titles[j], fontsize=8)
            if j == 0 and i < len(row_titles):
                ax.set_ylabel(row_titles[i], fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
