"""The performance report: pytest-benchmark JSON from ``benchmarks/`` -> ``performance.md`` + PNGs.

``python -m benchmarks.report BENCH.json [MORE.json ...] --out DIR`` (from the repository root).
It reads nothing but the JSON (``pytest benchmarks/ --benchmark-only --benchmark-json=F``): each
benchmark's timing statistics and the ``extra_info`` the suite records (``kind``, ``items`` per
call, ``flops_per_item``, model, batch, ...). From them it derives

* throughput: min / median time per call and items/s (from the median) per benchmark;
* JAX vs PyTorch: the ratio of each twinned model's images/s (mini-Xception, cpu-vgg) to its
  PyTorch reference's;
* roofline: each CNN's FLOPs per image times its images/s, as a fraction of the peak fp32 FLOP/s
  measured in the same run (a large jitted matmul, at its best round);
* targets: each performance goal of the project (:data:`~benchmarks.report.targets.TARGETS`),
  the measured figure, met or missed by how much, and why when missed;
* scaling (when the opt-in study ran): fit time and accuracy per training-set size and the fitted
  growth exponent per pipeline, with a log-log plot.

Modules: :mod:`.bench` reads the JSON, :mod:`.figures` derives the figures, :mod:`.targets` holds
the goals, :mod:`.explain` the diagnosis of missed ones, :mod:`.formatting` the cell text and
tables, :mod:`.plots` the PNGs and :mod:`.render` the Markdown.
"""
from __future__ import annotations

from .bench import Bench, BenchRun, load_run, load_runs
from .explain import explain_misses
from .figures import fit_exponent_of, peak_gflops, roofline, scaling_points, torch_comparison
from .formatting import fmt_rate, fmt_seconds
from .render import REPORT_NAME, render, write_performance_report
from .targets import TARGETS, Target, evaluate_targets

__all__ = [
    "REPORT_NAME", "TARGETS", "Bench", "BenchRun", "Target", "evaluate_targets",
    "explain_misses", "fit_exponent_of", "fmt_rate", "fmt_seconds", "load_run", "load_runs",
    "peak_gflops", "render", "roofline", "scaling_points", "torch_comparison",
    "write_performance_report",
]
