"""Small matplotlib helpers so that notebooks spend their lines on ideas, not axes."""

from __future__ import annotations

import io
from collections import Counter
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def lines(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    title: str,
    logy: bool = False,
    hline: tuple[float, str] | None = None,
    logx: bool = False,
):
    """One line per named series over a shared x axis, with markers (``logx``: base 2)."""
    x = list(x)
    figure, axes = plt.subplots(figsize=(7, 4))
    for name, values in series.items():
        axes.plot(x, list(values), marker="o", label=name)
    if hline is not None:
        value, label = hline
        axes.axhline(value, color="grey", linestyle="--", label=label)
    if logy:
        axes.set_yscale("log")
    if logx:
        axes.set_xscale("log", base=2)
    if len(x) <= 12 and all(float(value).is_integer() for value in x):
        axes.set_xticks(x, [f"{value:g}" for value in x])  # whole numbers: no 2.5 ticks
    axes.set(xlabel=xlabel, ylabel=ylabel, title=title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    plt.show()


def rank_frequency(counts: Counter, title: str, label_top: int = 8):
    """Zipf plot: frequency against rank on log-log axes, the most common words labelled."""
    ranked = counts.most_common()
    frequencies = np.array([count for _, count in ranked])
    ranks = np.arange(1, len(ranked) + 1)
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.loglog(ranks, frequencies, marker=".", linestyle="none", markersize=3)
    for rank, (word, count) in enumerate(ranked[:label_top], start=1):
        axes.annotate(repr(word), (rank, count), textcoords="offset points", xytext=(4, 4), fontsize=8)
    axes.set(xlabel="rank", ylabel="count", title=title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    plt.show()


def heatmap(
    matrix,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    title: str,
    highlight_row: int | None = None,
    xlabel: str = "key (attended to)",
    ylabel: str = "query (attending)",
    signed: bool = False,
    show: bool = True,
):
    """A matrix with its labels, e.g. attention weights (rows: queries, columns: keys).

    ``signed`` uses a diverging colour map centred on 0, for values of both signs;
    ``show=False`` returns the figure instead of showing it (for widgets).
    """
    matrix = np.asarray(matrix)
    width = min(10, max(3.5, 0.45 * len(column_labels) + 2))
    height = min(8, max(3, 0.4 * len(row_labels) + 1.5))
    figure, axes = plt.subplots(figsize=(width, height))
    limit = max(float(np.abs(matrix).max()), 1e-12)
    colours = dict(cmap="RdBu_r", vmin=-limit, vmax=limit) if signed else dict(cmap="Reds", vmin=0, vmax=limit)
    image = axes.imshow(matrix, aspect="auto", **colours)
    axes.set_xticks(range(len(column_labels)), column_labels, rotation=60, ha="right")
    axes.set_yticks(range(len(row_labels)), row_labels)
    if highlight_row is not None:
        axes.add_patch(plt.Rectangle((-0.5, highlight_row - 0.5), len(column_labels), 1,
                                     fill=False, edgecolor="black", linewidth=2))
    axes.set(xlabel=xlabel, ylabel=ylabel, title=title)
    figure.colorbar(image, ax=axes, fraction=0.046)
    return finish(figure, show)


def scatter_groups(points, labels: Sequence[str], groups: Sequence[str], title: str, highlight: str | None = None,
                   show: bool = True):
    """2-D points, one colour per group, each labelled; ``highlight`` is circled."""
    points = np.asarray(points)
    figure, axes = plt.subplots(figsize=(7, 5.5))
    for group in dict.fromkeys(groups):
        members = [i for i, g in enumerate(groups) if g == group]
        axes.scatter(points[members, 0], points[members, 1], label=group, s=25)
    for (px, py), label in zip(points, labels):
        axes.annotate(label, (px, py), textcoords="offset points", xytext=(3, 3), fontsize=8)
        if label == highlight:
            axes.scatter([px], [py], s=250, facecolors="none", edgecolors="black", linewidths=2)
    axes.set(title=title, xticks=[], yticks=[])
    axes.legend(loc="best", fontsize=8)
    return finish(figure, show)


def bars(labels: Sequence[str], values: Sequence[float], title: str, xlabel: str = "probability",
         highlight: str | None = None, show: bool = True):
    """Horizontal bars, the first label on top (e.g. the most likely next words); ``highlight`` in red."""
    labels, values = list(labels), list(values)
    figure, axes = plt.subplots(figsize=(6, 0.3 * len(labels) + 1.2))
    colours = ["#d62728" if label == highlight else "#1f77b4" for label in labels]
    axes.barh(range(len(labels)), values, color=colours)
    axes.set_yticks(range(len(labels)), labels)
    axes.invert_yaxis()
    for row, value in enumerate(values):
        axes.annotate(f"{value:.3f}", (value, row), textcoords="offset points", xytext=(3, -3), fontsize=8)
    axes.set(xlabel=xlabel, title=title, xlim=(0, max(max(values, default=0) * 1.2, 1e-6)))
    return finish(figure, show)


def finish(figure, show: bool):
    """Show the figure (notebook cells), or return it unshown (widgets render it themselves)."""
    figure.tight_layout()
    if show:
        plt.show()
        return None
    return figure


def png_bytes(figure) -> bytes:
    """The figure as PNG bytes, and the figure closed."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()
