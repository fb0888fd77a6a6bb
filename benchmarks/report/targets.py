"""The project's performance goals and how each is measured from a benchmark run.

:data:`TARGETS` is a plain table: a label, the goal (higher is better), its unit, and which
measurement (:data:`MEASURES`) of which benchmarks gives the figure to hold against it. Change a
goal or add one here; the report's targets table and its met / missed verdicts follow.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from .bench import BenchRun
from .figures import largest_batch, roofline, torch_comparison


@dataclass(frozen=True)
class Target:
    """A performance goal.

    Attributes
    ----------
    label : str
        The row's name in the report.
    goal : float
        The figure to reach (higher is better), in ``unit``.
    unit : str
        ``"images/s"``, ``"frames/s"``, ``"x"`` (a ratio) or ``"% of peak"``.
    measure : str
        A key of :data:`MEASURES`: ``"throughput"`` (items/s), ``"torch_ratio"`` (JAX /
        PyTorch images/s) or ``"pct_peak"`` (share of the measured peak FLOP/s).
    kind : str
        The ``extra_info["kind"]`` of the benchmarks it is measured on.
    select : dict
        Further ``extra_info`` entries those benchmarks must have.
    largest : bool
        For ``"throughput"``: the benchmark of the largest batch, not the first found (the
        ratio and the share of peak always take the largest batch).
    """

    label: str
    goal: float
    unit: str
    measure: str
    kind: str
    select: dict = field(default_factory=dict)
    largest: bool = False


_JAX_MX = {"framework": "jax", "model": "mini-xception"}

#: The project's goals for this machine class (2 CPU cores).
TARGETS: tuple[Target, ...] = (
    Target("mini-Xception training (JAX, as `fit` runs it)", 1500, "images/s",
           "throughput", "cnn-train", _JAX_MX),
    Target("mini-Xception inference, batch 512", 5000, "images/s",
           "throughput", "cnn-infer", _JAX_MX, largest=True),
    Target("mini-Xception training vs PyTorch reference", 1.5, "x", "torch_ratio", "cnn-train",
           {"model": "mini-xception"}),
    Target("mini-Xception inference vs PyTorch reference, batch 512", 1.5, "x",
           "torch_ratio", "cnn-infer", {"model": "mini-xception"}),
    Target("cpu-vgg training vs PyTorch reference", 1.5, "x", "torch_ratio", "cnn-train",
           {"model": "cpu-vgg"}),
    Target("little-VGG inference, batch 512, share of measured peak", 25, "% of peak",
           "pct_peak", "cnn-infer", {"framework": "jax", "model": "little-vgg"}),
    Target("640x480 frame end to end on one core (demo detection + mini-Xception)", 30,
           "frames/s", "throughput", "end-to-end", {"faces": 1, "detect_width": 320}),
    Target("Gabor bank features, 48x48", 2000, "images/s",
           "throughput", "feature", {"extractor": "Gabor bank"}),
)

#: A measurement: the figure and the benchmark(s) it is from, None when they are absent.
Measure = Callable[[BenchRun, Target], tuple[float, str] | None]


def _throughput(run: BenchRun, t: Target) -> tuple[float, str] | None:
    rows = run.select(kind=t.kind, **t.select)
    if t.kind == "cnn-train":  # the step as `fit` runs it, not the like-for-like variant
        rows = [b for b in rows if not b.info.get("like_for_like")] or rows
    b = largest_batch(rows) if t.largest else (rows[0] if rows else None)
    return (b.items_per_s, b.name) if b else None


def _torch_ratio(run: BenchRun, t: Target) -> tuple[float, str] | None:
    rows = [r for r in torch_comparison(run)
            if r["kind"] == t.kind and t.select.get("model") in (None, r["model"])]
    r = max(rows, key=lambda r: r["batch"] or 0, default=None)
    return (r["ratio"], f"{r['jax_bench']} / {r['torch_bench']}") if r else None


def _pct_peak(run: BenchRun, t: Target) -> tuple[float, str] | None:
    rows = [r for r in roofline(run) if r["kind"] == t.kind and r["bench"].matches(**t.select)
            and r["pct_peak"] is not None]
    r = max(rows, key=lambda r: r["batch"] or 0, default=None)
    return (r["pct_peak"], r["bench"].name) if r else None


MEASURES: dict[str, Measure] = {
    "throughput": _throughput, "torch_ratio": _torch_ratio, "pct_peak": _pct_peak,
}


def evaluate_targets(run: BenchRun, targets: Sequence[Target] = TARGETS) -> list[dict]:
    """Each target with ``measured`` (None when its benchmark is absent), ``source`` (the
    benchmark(s) it is from), ``met`` and ``shortfall`` (the fraction of the goal missing, 0
    when met)."""
    out = []
    for t in targets:
        got = MEASURES[t.measure](run, t)
        value, source = got if got else (None, "")
        met = value is not None and value >= t.goal
        shortfall = 0.0 if value is None or met else 1.0 - value / t.goal
        out.append({"target": t, "measured": value, "source": source, "met": met,
                    "shortfall": shortfall})
    return out
