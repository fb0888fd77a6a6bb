"""The performance report's Markdown, section by section, and writing it with its figures."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from fer_bench.atomic import write_text

from .bench import Bench, BenchRun, load_runs
from .explain import explain_misses
from .figures import fit_exponent_of, peak_gflops, roofline, scaling_points, torch_comparison
from .formatting import (
    fmt_rate, fmt_seconds, fmt_target_value, notes, pct, status, table, workload,
)
from .plots import plot_pipelines, plot_scaling
from .targets import evaluate_targets

REPORT_NAME = "performance.md"
#: How the report is made, as its text names it.
COMMAND = "python -m benchmarks.report"


def _header(run: BenchRun) -> list[str]:
    cpu = (run.meta.get("environment", {}).get("cpu")
           or run.machine.get("cpu", {}).get("brand_raw", "?"))
    out = ["# Performance", "",
           f"Measured by `pytest benchmarks/ --benchmark-only` on {cpu} "
           f"({run.datetime[:10] or 'date unknown'}); every figure below is derived from "
           f"{', '.join(f'`{Path(src).name}`' for src, _, _ in run.sessions) or 'the JSON'} by "
           f"`{COMMAND}`. Times are per call; throughput is items per second at the median time."]
    if run.small:
        out += ["", "> **Smoke-test sizes** (small batches, `FER_BENCH_BENCH_SMALL` or "
                "`--benchmark-disable` sizes): these figures show the report works, not how fast "
                "the code is."]
    return out


def _targets(results: Sequence[dict], peak: float | None) -> list[str]:
    rows = [(r["target"].label, fmt_target_value(r["target"].goal, r["target"].unit),
             fmt_target_value(r["measured"], r["target"].unit), status(r)) for r in results]
    return ["## Targets", "", *table(("target", "goal", "measured", "status"), rows, "lrrl"),
            "", f"Measured peak fp32: **{peak:,.1f} GFLOP/s**" if peak else
            "Measured peak fp32: not measured (no `peak` benchmark in this run)."]


def _torch(run: BenchRun) -> list[str]:
    comparison = torch_comparison(run)
    if not comparison:
        return []
    return ["", "## JAX vs the PyTorch references", "",
            "Same networks and weights (`benchmarks/torch_reference.py`: mini-Xception's depthwise "
            "convolutions with `groups=C`, cpu-vgg's plain ones; eager mode, float32). "
            "PyTorch is timed with all cores and with "
            "one thread, NCHW and channels-last; its fastest configuration is the reference. "
            "The training comparison uses the JAX step without augmentation, as the PyTorch "
            "step has none. JAX runs with its default thread pool over all cores; on a busy "
            "machine a single-threaded configuration suffers least from the competition, which "
            "favours PyTorch's one-thread variant.", "",
            *table(("model", "workload", "batch", "JAX images/s", "PyTorch images/s",
                    "PyTorch configuration", "JAX / PyTorch"),
                   [(r["model"], r["workload"], r["batch"], fmt_rate(r["jax"]),
                     fmt_rate(r["torch"]), r["torch_config"], f"{r['ratio']:.2f}x")
                    for r in comparison], "llrrrlr")]


def _roofline(run: BenchRun, peak: float | None) -> list[str]:
    roof = roofline(run)
    if not roof:
        return []
    sides = [b.info.get("n") for b in run.select(kind="peak") if b.info.get("n")]
    peak_text = (f"{peak:,.1f} GFLOP/s, the best round of fp32 matmuls of side "
                 f"{', '.join(map(str, sides))}") if peak else "not measured"
    out = ["", "## Roofline", "",
           "FLOPs per image from XLA's cost analysis of the compiled computation; achieved "
           f"GFLOP/s at the median time; share of the measured peak ({peak_text}).", ""]
    out += table(("model", "framework", "workload", "batch", "MFLOP / image",
                  "MB accessed / image", "FLOP / byte", "GFLOP/s", "% of peak"),
                 [(r["model"], r["framework"], workload(r["bench"]), r["batch"],
                   f"{r['mflops']:.1f}",
                   "–" if r["mbytes"] is None else f"{r['mbytes']:.1f}",
                   "–" if r["intensity"] is None else f"{r['intensity']:.1f}",
                   f"{r['gflops']:.1f}", pct(r["pct_peak"]))
                  for r in roof], "lllrrrrrr")
    out += ["", "Bytes accessed: XLA's cost analysis of the compiled computation, the "
            "operands and results of each fused operation (from cache or memory); PyTorch rows "
            "carry the JAX FLOP count of the same network and no byte count."]
    if any((r["pct_peak"] or 0) > 100 for r in roof):
        out += ["", "> Some workloads exceed 100 % of the measured peak: the matmul rounds "
                "were slowed down (by other processes competing for the CPU), so the peak is "
                "underestimated. Rerun on a quiet machine."]
    return out


def _all_benchmarks(run: BenchRun, images: dict[str, str]) -> list[str]:
    out = ["## All benchmarks", ""]
    groups: dict[str, list[Bench]] = {}
    for b in run.benches:
        if b.kind != "scaling":
            groups.setdefault(b.group, []).append(b)
    for group, benches in groups.items():
        out += [f"### {group}", ""]
        out += table(("benchmark", "min", "median", "throughput", "per item", "rounds", "notes"),
                     [(b.name, fmt_seconds(b.min_s), fmt_seconds(b.median_s),
                       f"{fmt_rate(b.items_per_s)} {b.unit}/s",
                       fmt_seconds(b.median_s / b.items),
                       b.rounds, notes(b)) for b in benches], "lrrrrrl")
        out.append("")
    if "pipelines" in images:
        out += [f"![predict time per image]({images['pipelines']})", ""]
    return out


def _scaling(run: BenchRun, images: dict[str, str]) -> list[str]:
    points = scaling_points(run)
    if not points:
        return []
    sizes = sorted({p["n_train"] for pts in points.values() for p in pts})
    dataset = next(iter(points.values()))[0].get("dataset", "?")
    out = ["## Scaling with the training-set size", "",
           f"Wall-clock fit time (s) and test accuracy per training-set size on {dataset}. "
           "`b` is the exponent of fit time ~ n^b, a least-squares line in log-log space over "
           "the larger half of the sizes, fitted to the steady-state fit time (for the CNNs "
           "the first epoch, which also JIT-compiles the train step for each new size, is "
           "replaced by the median later epoch). An RBF SVM's solver is expected near 2, a "
           "CNN trained a fixed number of epochs near 1.", ""]
    rows = []
    for name, pts in points.items():
        by_n = {p["n_train"]: p for p in pts}
        b = fit_exponent_of(pts)
        rows.append((name, *(f"{by_n[n]['fit_s']:.3g} s / {100 * by_n[n]['accuracy']:.1f} %"
                             if n in by_n else "–" for n in sizes),
                     "–" if b is None else f"{b:.2f}"))
    out += table(("pipeline", *(f"n={n:,}" for n in sizes), "b"), rows)
    if "scaling" in images:
        out += ["", f"![fit time and accuracy vs training-set size]({images['scaling']})"]
    return out + [""]


def _commit(commit: dict) -> str:
    dirty = " (uncommitted changes)" if commit.get("dirty") else ""
    return f"`{commit['id'][:12]}` on {commit.get('branch', '?')}{dirty}"


def machine_lines(run: BenchRun) -> list[str]:
    m, meta = run.machine, run.meta
    env = meta.get("environment", {})
    cpu = m.get("cpu", {})
    lines = [
        f"- **CPU**: {env.get('cpu') or cpu.get('brand_raw', '?')}, "
        f"{env.get('n_cores') or cpu.get('count', '?')} cores usable "
        f"({cpu.get('hz_actual_friendly', '?')}, {cpu.get('arch', m.get('machine', '?'))})",
        f"- **System**: {env.get('platform') or m.get('system', '') + ' ' + m.get('release', '')}",
        f"- **Python**: {m.get('python_version', env.get('python', '?'))}",
    ]
    pkgs = env.get("packages", {})
    if pkgs:
        lines.append("- **Packages**: " + ", ".join(f"{k} {v}" for k, v in sorted(pkgs.items())))
    sessions = run.sessions or [(run.source, run.datetime, meta)]
    merged = len(sessions) > 1
    if run.commit.get("id") and not merged:
        lines.append(f"- **Commit**: {_commit(run.commit)}")
    cores = float(env.get("n_cores") or cpu.get("count") or 1)
    for source, date, session in sessions:
        head = f"- **Run** `{Path(source).name}`" if merged else "- **Run**"
        # Merged files may come from different machines and commits: say which ran each.
        where = session.get("environment", {}).get("cpu") if merged else None
        commit = session.get("commit", {}) if merged else {}
        lines.append(f"{head}: {date or 'date unknown'}{f' on {where}' if where else ''}"
                     f"{f', commit {_commit(commit)}' if commit.get('id') else ''}, "
                     f"`{session.get('command', 'pytest benchmarks/ --benchmark-only')}`")
        start, end = session.get("loadavg_start"), session.get("loadavg_end")
        if start and end:
            line = f"  - load average (1 min) at start / end: {start[0]:.2f} / {end[0]:.2f}"
            # The suite itself keeps up to `cores` threads busy: only a load beyond one more
            # runnable process says that something else competed.
            if max(start[0], end[0]) > cores + 1:
                line += (" — above the core count + 1: other processes competed for the CPU, "
                         "so these figures are pessimistic")
            lines.append(line)
    return lines


def render(run: BenchRun, images: dict[str, str] | None = None) -> str:
    """The Markdown report of ``run``; ``images`` maps plot names to their file names."""
    images = images or {}
    peak = peak_gflops(run)
    results = evaluate_targets(run)
    why = explain_misses(run, results)
    out = [*_header(run), "", *_targets(results, peak), *_torch(run), *_roofline(run, peak)]
    if why:
        out += ["", *why]
    out += ["", *_all_benchmarks(run, images), *_scaling(run, images)]
    out += ["## Machine and run", "", *machine_lines(run), "",
            "Reproduce: `pytest benchmarks/ --benchmark-only --benchmark-json=bench.json && "
            f"{COMMAND} bench.json --out results/` (add `FER_BENCH_SCALING=1` "
            "for the scaling study, `FER_BENCH_BENCH_DATA=DIR` to load the real FER2013).", ""]
    return "\n".join(out)


def write_performance_report(json_paths: str | os.PathLike | Sequence[str | os.PathLike],
                             out_dir: str | os.PathLike = "results", plots: bool = True
                             ) -> list[Path]:
    """Write ``performance.md`` (and ``perf_pipelines.png`` / ``perf_scaling.png`` when there is
    something to plot) into ``out_dir`` from one benchmark JSON or several merged (see
    :func:`~benchmarks.report.bench.load_runs`); returns the written paths."""
    if isinstance(json_paths, (str, os.PathLike)):
        json_paths = [json_paths]
    run = load_runs(json_paths)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written, images = [], {}
    if plots:
        plots_to_draw = (
            ("pipelines", "perf_pipelines.png", lambda p: plot_pipelines(run, p)),
            ("scaling", "perf_scaling.png", lambda p: plot_scaling(scaling_points(run), p)),
        )
        for key, name, draw in plots_to_draw:
            if draw(out / name):
                images[key] = name
                written.append(out / name)
    report = out / REPORT_NAME
    write_text(report, render(run, images))
    return [report, *written]
