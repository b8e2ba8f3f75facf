"""The calibration report's figures, as PNG files.

Drawn on matplotlib `Figure` objects with the Agg canvas: no display and no global pyplot state,
so they work on servers, in CI and inside a running notebook alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from judge.io.tempfiles import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BINS = 10


def _figure(width: float = 6.0, height: float = 4.5) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def reliability_bins(
    p: np.ndarray, y: np.ndarray, w: np.ndarray, bins: int = BINS
) -> list[tuple[float, float, float]]:
    """(mean prediction, observed frequency, weight) per non-empty equal-width bin of [0, 1]."""
    index = np.minimum((np.clip(p, 0.0, 1.0) * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        weight = float(w[mask].sum())
        if weight > 0:
            out.append(
                (
                    float(np.average(p[mask], weights=w[mask])),
                    float(np.average(y[mask], weights=w[mask])),
                    weight,
                )
            )
    return out


def reliability_diagram(
    path: Path,
    y: np.ndarray,
    w: np.ndarray,
    curves: Sequence[tuple[str, np.ndarray]],
    title: str,
) -> None:
    """Predicted probability against how often the humans agreed, one line per curve."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    for (label, p), marker in zip(curves, "os^", strict=False):
        points = reliability_bins(p, y, w)
        if not points:
            continue
        xs, ys, ns = zip(*points, strict=True)
        sizes = 20 + 180 * np.asarray(ns) / max(ns)
        ax.plot(xs, ys, marker=marker, linewidth=1.5, markersize=4, label=label)
        ax.scatter(xs, ys, s=sizes, alpha=0.25)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability (marker area: items in the bin)")
    ax.set_ylabel("observed frequency in the human labels")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    _save(fig, path)


def score_histograms(
    path: Path,
    groups: Sequence[tuple[str, Sequence[float]]],
    *,
    xlabel: str,
    value_range: tuple[float, float],
    title: str,
) -> None:
    """One step histogram of the judge's number per human label."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    edges = np.linspace(value_range[0], value_range[1], 21).tolist()
    for label, values in groups:
        if len(values):
            ax.hist(
                values,
                bins=edges,
                histtype="step",
                linewidth=1.8,
                label=f"{label} (n={len(values)})",
            )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("items")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    _save(fig, path)


def _save(fig: Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
