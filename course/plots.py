"""Small matplotlib helpers so that notebooks spend their lines on ideas, not axes."""

from __future__ import annotations

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
):
    """A weight matrix with its labels, e.g. attention weights (rows: queries, columns: keys)."""
    matrix = np.asarray(matrix)
    size = max(3.5, 0.45 * len(column_labels) + 2)
    figure, axes = plt.subplots(figsize=(size, max(3, 0.4 * len(row_labels) + 1.5)))
    image = axes.imshow(matrix, cmap="Reds", vmin=0, vmax=max(float(matrix.max()), 1e-12))
    axes.set_xticks(range(len(column_labels)), column_labels, rotation=60, ha="right")
    axes.set_yticks(range(len(row_labels)), row_labels)
    if highlight_row is not None:
        axes.add_patch(plt.Rectangle((-0.5, highlight_row - 0.5), len(column_labels), 1,
                                     fill=False, edgecolor="black", linewidth=2))
    axes.set(xlabel=xlabel, ylabel=ylabel, title=title)
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    plt.show()
