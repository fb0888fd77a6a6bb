"""The figures of ``analysis.md``, drawn headless like :mod:`.plots`.

* :func:`plot_cd` — Demšar's critical-difference diagram (average ranks, CD bar, cliques);
* :func:`plot_robustness` — accuracy against corruption severity, a panel per corruption;
* :func:`plot_reliability` — reliability diagrams, a panel per pipeline;
* :func:`plot_pareto` — accuracy against each cost, the Pareto frontier joined.

The CD diagram is drawn here rather than with scikit-posthocs, whose plot needs pandas,
seaborn and statsmodels for these few lines.
"""
from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from ..metrics import reliability_bins
from .plots import save_figure


def plot_cd(rank: dict, path: str | os.PathLike) -> None:
    """``rank`` as :func:`~.analysis.ranking` returns it: ``ranks``, ``pipelines``, ``cd``,
    ``cliques`` (index tuples of pipelines not told apart)."""
    ranks, names, cd = np.asarray(rank["ranks"]), rank["pipelines"], rank["cd"]
    k = len(names)
    order = np.argsort(ranks)
    half = math.ceil(k / 2)
    fig = Figure(figsize=(8, 1.6 + 0.28 * half + 0.15 * len(rank["cliques"])))
    ax = fig.add_subplot()
    pad = 0.45 * k  # room for the labels beyond both ends of the rank axis
    ax.set_xlim(k + 0.5 + pad, 0.5 - pad)  # reversed: rank 1 on the right, as Demšar draws it
    top = 1.0
    ax.hlines(top, 1, k, color="black", lw=1)
    for r in range(1, k + 1):
        ax.vlines(r, top, top + 0.05, color="black", lw=1)
        ax.text(r, top + 0.08, str(r), ha="center", va="bottom", fontsize=8)
    ax.hlines(top + 0.35, k, k - cd, color="black", lw=2)  # the critical difference to scale
    ax.text(k - cd / 2, top + 0.4, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8)
    for n, i in enumerate(order):  # best half labelled on the right, the rest on the left
        right = n < half
        y = top - 0.25 - 0.22 * (n if right else n - half)
        x_end = 0.5 if right else k + 0.5
        ax.plot([ranks[i], ranks[i], x_end], [top, y, y], color="black", lw=0.8)
        ax.text(x_end - 0.1 if right else x_end + 0.1, y, f"{names[i]} ({ranks[i]:.2f})",
                ha="left" if right else "right", va="center", fontsize=8)
    for n, clique in enumerate(rank["cliques"]):
        lo, hi = min(ranks[list(clique)]), max(ranks[list(clique)])
        ax.hlines(top - 0.1 - 0.06 * n, lo - 0.03, hi + 0.03, color="C3", lw=3)
    ax.set_ylim(top - 0.35 - 0.22 * half, top + 0.6)
    ax.axis("off")
    ax.set_title(f"Average rank over {rank['n_datasets']} test sets (bars: not significantly "
                 "different, Nemenyi)", fontsize=9)
    save_figure(fig, path)


def plot_robustness(series: Sequence[tuple[str, float, dict]], names: Sequence[str],
                    severities: Sequence[int], title: str, path: str | os.PathLike) -> None:
    """``series`` of ``(pipeline, clean accuracy, {(corruption, severity): accuracy})``: one
    panel per corruption, severity 0 being the clean test set."""
    cols = 5
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(3.0 * cols, 2.6 * rows + 0.6))
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True)).ravel()
    for ax, name in zip(axes, names):
        for i, (label, clean, acc) in enumerate(series):
            xs = [0] + [s for s in severities if (name, s) in acc]
            ys = [100 * clean] + [100 * acc[(name, s)] for s in xs[1:]]
            ax.plot(xs, ys, "o-", ms=3, lw=1.2, color=f"C{i % 10}", label=label)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([0, *severities])
        ax.grid(True, alpha=0.3)
    for ax in axes[len(names):]:
        ax.axis("off")
    for ax in axes[::cols]:
        ax.set_ylabel("accuracy (%)")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.supxlabel("severity (0 = clean)", fontsize=9)
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path)


def plot_reliability(series: Sequence[tuple[str, np.ndarray, np.ndarray]], n_bins: int,
                     title: str, path: str | os.PathLike) -> None:
    """``series`` of ``(pipeline, (N, C) probabilities, (N,) labels)``: accuracy per
    confidence bin against the diagonal of perfect calibration, a panel per pipeline."""
    cols = min(4, len(series))
    rows = math.ceil(len(series) / cols)
    fig = Figure(figsize=(3.0 * cols, 3.0 * rows + 0.4))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, (label, proba, y) in zip(axes, series):
        bins = reliability_bins(proba, y, n_bins)
        edges = np.asarray(bins["edges"])
        acc = [np.nan if a is None else a for a in bins["accuracy"]]
        ax.bar(edges[:-1], acc, width=np.diff(edges), align="edge", alpha=0.7,
               edgecolor="black", lw=0.4)
        ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("confidence", fontsize=8)
        ax.set_ylabel("accuracy", fontsize=8)
    for ax in axes[len(series):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path)


def plot_pareto(points: Sequence[dict], costs: Sequence[tuple[str, str]], fronts: dict,
                title: str, path: str | os.PathLike) -> None:
    """Accuracy against each cost (log x), a panel per cost; ``fronts[key]`` holds the
    ``id`` of each point on that cost's frontier, joined by a line."""
    fig = Figure(figsize=(5.0 * len(costs), 4.2))
    axes = np.atleast_1d(fig.subplots(1, len(costs)))
    for ax, (key, label) in zip(axes, costs):
        have = [p for p in points if p.get(key)]
        for p in have:
            deep = (p["cell"].family or "") != "classical"
            on = id(p) in fronts.get(key, ())
            ax.scatter(p[key], 100 * p["accuracy"], marker="D" if on else "o",
                       color="C1" if deep else "C0", s=36 if on else 22, zorder=3)
            ax.annotate(p["cell"].pipeline, (p[key], 100 * p["accuracy"]), fontsize=7,
                        textcoords="offset points", xytext=(4, 3))
        front = sorted((p for p in have if id(p) in fronts.get(key, ())), key=lambda p: p[key])
        ax.plot([p[key] for p in front], [100 * p["accuracy"] for p in front], "-",
                color="grey", lw=1, zorder=2)
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"{title} (blue: classical, orange: deep or hybrid; ◆ frontier)", fontsize=10)
    save_figure(fig, path)
