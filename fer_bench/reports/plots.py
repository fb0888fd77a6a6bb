"""PNG figures for the reports, drawn headless with matplotlib's Agg canvas (no pyplot state).

* :func:`plot_confusion` — row-normalised confusion matrix with class names and percentages;
* :func:`plot_speed_accuracy` — test accuracy against prediction time per image (log x),
  its points numbered by :func:`place_labels`;
* :func:`plot_history` — per-epoch loss and accuracy curves of deep runs.
"""
from __future__ import annotations

import os
import textwrap
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox
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
    """Scatter of ``(label, protocol, ms_per_image, accuracy)``: one marker shape per protocol
    (legend above the plot), each point numbered, the numbers keyed to the labels beside the
    plot (a pipeline variant keeps its number on every protocol); log-scaled time axis.

    Labels written at the points overlapped wherever pipelines cluster (and a variant's label
    can be a hundred characters long): numbers are short, and :func:`place_labels` moves each
    off the others and off the markers.
    """
    fig = Figure(figsize=(9.5, 5))
    ax = fig.add_subplot()
    markers = "osD^v<>pP*Xh"
    protocols = list(dict.fromkeys(p[1] for p in points))
    shown = [p for p in points if p[2] > 0]
    numbers = {label: i for i, label in enumerate(dict.fromkeys(p[0] for p in shown), 1)}
    for i, proto in enumerate(protocols):
        sel = [p for p in shown if p[1] == proto]
        if sel:
            ax.scatter([p[2] for p in sel], [100 * p[3] for p in sel], s=40, label=proto,
                       marker=markers[i % len(markers)], alpha=0.85, zorder=2)
    ax.set_xscale("log")
    ax.set_xlabel("prediction time per image (ms, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy vs prediction time", fontsize=10, pad=24 if protocols else 6)
    ax.grid(True, which="both", alpha=0.3)
    if protocols:
        ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False,
                  ncol=min(len(protocols), 4))
    place_labels(ax, [(str(numbers[name]), x, 100 * y) for name, _, x, y in shown])
    key = "\n".join(textwrap.fill(f"{n:>2}  {name}", width=52, subsequent_indent="     ")
                    for name, n in numbers.items())
    if key:
        ax.text(1.02, 1.0, key, transform=ax.transAxes, ha="left", va="top", fontsize=7,
                family="monospace")
    save_figure(fig, path)


#: Where :func:`place_labels` tries a label, in order: offsets (points) from its point, with the
#: side of the text that faces the point. Nearer spots first; the far ones get a leader line.
_SPOTS = [(dx * r, dy * r, "left" if dx > 0 else "right" if dx < 0 else "center",
           "bottom" if dy > 0 else "top" if dy < 0 else "center")
          for r in (1, 2.5, 4) for dx, dy in ((4, 2), (4, -2), (-4, 2), (-4, -2), (0, 5),
                                              (0, -5), (5, 0), (-5, 0))]


def _overlap(a: Bbox, b: Bbox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def place_labels(ax, items: Sequence[tuple[str, float, float]], fontsize: float = 7) -> None:
    """Annotate each ``(text, x, y)`` of ``items`` (data coordinates) at the first of
    :data:`_SPOTS` where it overlaps no marker, no label placed before it and stays inside the
    axes, or, failing that, where it overlaps least. Greedy and deterministic: a hand-made
    stand-in for adjustText, enough for a few dozen short labels. Fixes the axis limits."""
    fig = ax.figure
    renderer = FigureCanvasAgg(fig).get_renderer()
    ax.autoscale_view()
    ax.set_xlim(ax.get_xlim())  # the labels are placed for these limits: keep them
    ax.set_ylim(ax.get_ylim())
    frame = ax.get_window_extent(renderer)
    radius = 4 * fig.dpi / 72  # a marker of size 40 is about 6.3 points across
    taken = [Bbox.from_extents(px - radius, py - radius, px + radius, py + radius)
             for px, py in ax.transData.transform([(x, y) for _, x, y in items])]
    for text, x, y in items:
        best = None
        for dx, dy, ha, va in _SPOTS:
            label = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                                ha=ha, va=va, fontsize=fontsize, zorder=3)
            box = label.get_window_extent(renderer)
            cost = sum(_overlap(box, t) for t in taken)
            cost += box.width * box.height - _overlap(box, frame)  # the part outside the axes
            label.remove()
            if best is None or cost < best[0]:
                best = (cost, dx, dy, ha, va, box)
            if cost == 0:
                break
        _, dx, dy, ha, va, box = best
        far = abs(dx) > 10 or abs(dy) > 10
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                    fontsize=fontsize, zorder=3,
                    arrowprops=dict(arrowstyle="-", lw=0.5, color="0.4", shrinkA=0,
                                    shrinkB=3) if far else None)
        taken.append(box)


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
