"""PNG figures for the reports, drawn headless with matplotlib's Agg canvas (no pyplot state).

* :func:`plot_confusion` — row-normalised confusion matrix with class names and percentages;
* :func:`plot_speed_accuracy` — test accuracy against prediction time per image (log x);
* :func:`plot_history` — per-epoch loss and accuracy curves of deep runs.
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..atomic import replacing

DPI = 110


def save_figure(fig: Figure, path: str | os.PathLike) -> None:
    """Write ``fig`` to the PNG ``path`` at the reports' resolution."""
    FigureCanvasAgg(fig)
    with replacing(path, suffix=".png") as tmp:  # atomic, umask mode; the suffix picks PNG
        fig.savefig(tmp, dpi=DPI, bbox_inches="tight")


def plot_confusion(matrix: np.ndarray, classes: Sequence[str], title: str,
                   path: str | os.PathLike) -> None:
    """Save the confusion matrix ``matrix`` ``(K, K)`` (rows true) normalised per true class."""
    cm = np.asarray(matrix, dtype=float)
    totals = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
    k = len(classes)
    size = 1.6 + 0.55 * k
    fig = Figure(figsize=(size + 1.0, size))
    ax = fig.add_subplot()
    image = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ax.set_xticks(range(k), labels=classes, rotation=45, ha="right")
    ax.set_yticks(range(k), labels=classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    for i in range(k):
        for j in range(k):
            if totals[i, 0]:
                ax.text(j, i, f"{100 * norm[i, j]:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.5 else "black")
    save_figure(fig, path)


def plot_speed_accuracy(points: Sequence[tuple[str, str, float, float]],
                        path: str | os.PathLike) -> None:
    """Scatter of ``(pipeline, protocol, ms_per_image, accuracy)``: one marker shape per
    protocol, each point labelled with its pipeline; log-scaled time axis."""
    fig = Figure(figsize=(7.5, 5))
    ax = fig.add_subplot()
    markers = "osD^v<>pP*Xh"
    protocols = list(dict.fromkeys(p[1] for p in points))
    for i, proto in enumerate(protocols):
        sel = [p for p in points if p[1] == proto and p[2] > 0]
        if not sel:
            continue
        xs, ys = [p[2] for p in sel], [100 * p[3] for p in sel]
        ax.scatter(xs, ys, marker=markers[i % len(markers)], s=40, label=proto, alpha=0.85)
        for (name, _, x, y) in sel:
            ax.annotate(name, (x, 100 * y), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("prediction time per image (ms, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy vs prediction time", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if protocols:
        ax.legend(fontsize=8, loc="best")
    save_figure(fig, path)


#: Spellings of each curve in a history (the deep estimator writes Keras-style names).
HISTORY_KEYS = {
    ("train", "loss"): ("train_loss", "loss"),
    ("train", "acc"): ("train_acc", "train_accuracy", "accuracy"),
    ("val", "loss"): ("val_loss",),
    ("val", "acc"): ("val_acc", "val_accuracy"),
}


def _curve(history: list[dict], names: tuple[str, ...]) -> list[float] | None:
    for name in names:
        if any(e.get(name) is not None for e in history):
            return [np.nan if e.get(name) is None else float(e[name]) for e in history]
    return None


def plot_history(histories: Sequence[tuple[str, list[dict]]], title: str,
                 path: str | os.PathLike) -> None:
    """Loss and accuracy per epoch (train solid, validation dashed), one colour per run, and the
    learning rate (log scale) when the history has ``lr``.

    ``histories`` holds ``(run label, [per-epoch dict])``; each dict may use ``train_loss`` /
    ``train_acc`` / ``val_loss`` / ``val_acc`` or the Keras names ``loss`` / ``accuracy`` /
    ``val_accuracy``; missing curves are skipped.
    """
    has_lr = any(_curve(h, ("lr",)) for _, h in histories)
    fig = Figure(figsize=(14 if has_lr else 10, 4))
    axes = fig.subplots(1, 3 if has_lr else 2)
    legend = len(histories) <= 5
    for i, (label, history) in enumerate(histories):
        color = f"C{i % 10}"
        epochs = np.arange(1, len(history) + 1)
        for ax, metric in zip(axes, ("loss", "acc")):
            for split, style in (("train", "-"), ("val", "--")):
                ys = _curve(history, HISTORY_KEYS[(split, metric)])
                if ys is not None:
                    ax.plot(epochs, ys, style, color=color, lw=1.2,
                            label=f"{label} {split}" if legend else None)
        if has_lr:
            lr = _curve(history, ("lr",))
            if lr is not None:
                axes[2].plot(epochs, lr, color=color, lw=1.2)
    axes[0].set_ylabel("loss")
    axes[1].set_ylabel("accuracy")
    if has_lr:
        axes[2].set_ylabel("learning rate")
        axes[2].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
    if legend:
        axes[1].legend(fontsize=7)
    fig.suptitle(f"{title} (solid: train, dashed: validation)", fontsize=10)
    save_figure(fig, path)
