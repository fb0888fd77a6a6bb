"""The performance report's figures: predict time per image of every pipeline, and the
scaling study's fit time and accuracy against the training-set size."""
from __future__ import annotations

import os

import numpy as np

from .bench import BenchRun
from .figures import fit_exponent_of


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def plot_pipelines(run: BenchRun, path: str | os.PathLike) -> bool:
    """Milliseconds per image of every pipeline's predict at batch 1 and the largest batch."""
    rows = run.select(kind="pipeline-predict")
    names = list(dict.fromkeys(b.info["pipeline"] for b in rows))
    if not names:
        return False
    fig = _figure(8, 0.45 * len(names) + 1.5)
    ax = fig.add_subplot()
    y = np.arange(len(names))
    batches = sorted({b.info.get("batch") for b in rows})
    height = 0.8 / max(len(batches), 1)
    for k, batch in enumerate(batches):
        ms = [next((1e3 * b.median_s / b.items for b in rows
                    if b.info["pipeline"] == n and b.info.get("batch") == batch), np.nan)
              for n in names]
        ax.barh(y + k * height, ms, height, label=f"batch {batch}")
    ax.set_yticks(y + height * (len(batches) - 1) / 2, labels=names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("ms per image (median, log scale)")
    ax.set_title("predict time per image")
    ax.grid(axis="x", alpha=0.3, which="both")
    ax.legend()
    from fer_bench.reports.plots import save_figure  # matplotlib loads only when there is a plot

    save_figure(fig, path)
    return True


def plot_scaling(points: dict[str, list[dict]], path: str | os.PathLike) -> bool:
    """Log-log fit time and accuracy against training-set size, one line per pipeline."""
    from matplotlib.ticker import FormatStrFormatter

    if not points:
        return False
    fig = _figure(12, 4.8)
    ax_t, ax_a = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for name, pts in points.items():
        n = [p["n_train"] for p in pts]
        b = fit_exponent_of(pts)
        label = f"{name} (n^{b:.2f})" if b is not None else name
        (line,) = ax_t.plot(n, [p["fit_s"] for p in pts], "o-", label=label)
        steady = [p.get("steady_fit_s", p["fit_s"]) for p in pts]
        if not np.allclose(steady, [p["fit_s"] for p in pts]):  # a CNN: compilation left out
            ax_t.plot(n, steady, "--", color=line.get_color(), alpha=0.7)
        ax_a.plot(n, [100 * p["accuracy"] for p in pts], "o-", label=name)
    ax_t.set_xscale("log")
    ax_t.set_yscale("log")
    ax_t.set_xlabel("training images")
    ax_t.set_ylabel("fit time (s)")
    ax_t.set_title("fit time vs training-set size (log-log; dashed: without compilation)")
    ax_t.grid(alpha=0.3, which="both")
    ax_t.legend(fontsize=7)
    ax_a.set_xscale("log")
    for axis in (ax_t.xaxis, ax_a.xaxis, ax_t.yaxis):  # plain numbers, not 2 x 10^0
        axis.set_major_formatter(FormatStrFormatter("%g"))
        axis.set_minor_formatter(FormatStrFormatter("%g"))
    ax_a.set_xlabel("training images")
    ax_a.set_ylabel("test accuracy (%)")
    ax_a.set_title("accuracy vs training-set size")
    ax_a.grid(alpha=0.3, which="both")
    from fer_bench.reports.plots import save_figure  # matplotlib loads only when there is a plot

    save_figure(fig, path)
    return True
