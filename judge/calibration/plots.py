"""The calibration report's figures, as PNG files.

Drawn on matplotlib `Figure` objects with the Agg canvas: no display and no global pyplot state,
so they work on servers, in CI and inside a running notebook alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from judge.io.tempfiles import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BINS = 10


def _figure(width: float = 6.0, height: float = 4.5) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Constrained layout makes room for a legend placed outside the axes.
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
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
    _save(reliability_figure(y, w, curves, title), path)


def reliability_figure(
    y: np.ndarray, w: np.ndarray, curves: Sequence[tuple[str, np.ndarray]], title: str
) -> Figure:
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
    ax.set_xlim(-0.03, 1.03)  # room for the markers of the end bins
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("predicted probability (marker area: items in the bin)")
    ax.set_ylabel("observed frequency in the human labels")
    ax.set_title(title, fontsize=10)
    # Below the axes, never over a point (the points can be anywhere in the unit square).
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    return fig


def score_histograms(
    path: Path,
    groups: Sequence[tuple[str, Sequence[float]]],
    *,
    xlabel: str,
    value_range: tuple[float, float],
    title: str,
) -> None:
    _save(score_figure(groups, xlabel=xlabel, value_range=value_range, title=title), path)


def score_figure(
    groups: Sequence[tuple[str, Sequence[float]]],
    *,
    xlabel: str,
    value_range: tuple[float, float],
    title: str,
) -> Figure:
    """The judge's number per human label, as histograms with their bars side by side (step
    outlines of several labels would hide each other where they share an edge)."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    shown = [(label, list(values)) for label, values in groups if len(values)]
    # Fewer, wider bins when many labels share each bin.
    edges = np.linspace(value_range[0], value_range[1], 21 if len(shown) <= 2 else 11).tolist()
    if shown:
        ax.hist(
            [values for _, values in shown],
            bins=edges,
            histtype="bar",
            rwidth=0.9,
            label=[f"{label} (n={len(values)})" for label, values in shown],
        )
    ax.set_xlim(value_range)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("items")
    ax.set_title(title, fontsize=10)
    if shown:
        fig.legend(loc="outside lower center", ncols=min(len(shown), 3), fontsize=8, frameon=False)
    return fig


def _save(fig: Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def cost_agreement_figure(
    path: Path,
    alone: Sequence[dict[str, Any]],
    curve: Sequence[dict[str, Any]],
    target: float,
) -> None:
    """Cost per item against agreement: each judge alone, and the cascade fitted at each target
    (labelled with its coverage). Points without a known cost sit at cost 0, marked so."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    unknown = False
    for a in alone:
        if a["agreement"] is None:
            continue
        cost = a["cost_per_item"]
        unknown = unknown or cost is None
        ax.scatter([cost or 0.0], [a["agreement"]], marker="s", s=40, label=f"{a['judge']} alone")
    pts = [p for p in curve if p["agreement"] is not None and p["coverage"] > 0]
    if pts:
        unknown = unknown or any(p["cost_per_item"] is None for p in pts)
        xs = [p["cost_per_item"] or 0.0 for p in pts]
        ys = [p["agreement"] for p in pts]
        ax.plot(xs, ys, "o-", color="black", label="cascade (label: coverage)")
        for x, y, p in zip(xs, ys, pts, strict=True):
            ax.annotate(
                f"{p['coverage']:.0%}",
                (x, y),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.axhline(target, color="grey", linestyle=":", label=f"target {target:g}")
    ax.set_xlabel("USD per item" + (" (unknown prices drawn at 0)" if unknown else ""))
    ax.set_ylabel("agreement with people on decided items")
    ax.set_title("Cost against agreement: judges alone and the cascade", fontsize=10)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    _save(fig, path)
