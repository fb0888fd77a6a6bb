"""The performance report: pytest-benchmark JSON from ``benchmarks/`` -> ``performance.md`` + PNGs.

It reads nothing but the JSON (``pytest benchmarks/ --benchmark-only --benchmark-json=F``): each
benchmark's timing statistics and the ``extra_info`` the suite records (``kind``, ``items`` per
call, ``flops_per_item``, model, batch, ...). From them it derives

* throughput: min / median time per call and items/s (from the median) per benchmark;
* JAX vs PyTorch: the ratio of the mini-Xception images/s to the PyTorch reference's;
* roofline: each CNN's FLOPs per image times its images/s, as a fraction of the peak fp32 FLOP/s
  measured in the same run (a large jitted matmul, at its best round);
* targets: each performance goal of the project, the measured figure, met or missed by how much;
* scaling (when the opt-in study ran): fit time and accuracy per training-set size and the fitted
  growth exponent per pipeline, with a log-log plot.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..atomic import write_text
from ..errors import DataError

REPORT_NAME = "performance.md"
REFERENCE_MODEL = "mini-xception"


# --- reading ---------------------------------------------------------------------------------

@dataclass
class Bench:
    """One benchmark of the JSON: its timing statistics and recorded details.

    Attributes
    ----------
    name, group : str
        pytest-benchmark's test name (with parameters) and group.
    min_s, median_s : float
        Fastest and median seconds per call.
    rounds : int
        Timed rounds.
    info : dict
        The suite's ``extra_info``: ``kind``, ``items`` per call, ``unit``, ``flops_per_item``,
        ``model``, ``batch``, ``framework``, ...
    """

    name: str
    group: str
    min_s: float
    median_s: float
    rounds: int
    info: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.info.get("kind", ""))

    @property
    def items(self) -> float:
        return float(self.info.get("items", 1))

    @property
    def unit(self) -> str:
        return str(self.info.get("unit", "items"))

    @property
    def items_per_s(self) -> float:
        """Throughput from the median time per call."""
        return self.items / self.median_s if self.median_s > 0 else math.nan

    @property
    def flops_per_item(self) -> float | None:
        value = self.info.get("flops_per_item")
        return float(value) if value else None

    @property
    def bytes_per_item(self) -> float | None:
        value = self.info.get("bytes_per_item")
        return float(value) if value else None

    @property
    def intensity(self) -> float | None:
        """FLOPs per byte accessed (XLA's estimates), None without both counts."""
        f, b = self.flops_per_item, self.bytes_per_item
        return f / b if f and b else None

    @property
    def gflops_per_s(self) -> float | None:
        """Achieved GFLOP/s at the median time, None without a FLOP count."""
        f = self.flops_per_item
        return f * self.items_per_s / 1e9 if f else None

    def matches(self, **want: Any) -> bool:
        return all(self.info.get(k) == v for k, v in want.items())


@dataclass
class BenchRun:
    """A whole benchmark JSON (or several merged): the benchmarks and where / how they ran.

    ``machine``, ``commit``, ``datetime`` and ``meta`` (what ``benchmarks/conftest.py`` adds:
    command, sizes, load average, versions) are the first file's; ``sessions`` holds
    ``(source, datetime, meta)`` of every file.
    """

    benches: list[Bench]
    machine: dict
    commit: dict
    datetime: str
    meta: dict
    source: str = ""
    sessions: list[tuple[str, str, dict]] = field(default_factory=list)

    def select(self, **want: Any) -> list[Bench]:
        return [b for b in self.benches if b.matches(**want)]

    @property
    def small(self) -> bool:
        return bool(self.meta.get("sizes", {}).get("small"))


def load_runs(paths: Sequence[str | os.PathLike]) -> BenchRun:
    """Read and merge several pytest-benchmark JSON files (e.g. the main run and a separate
    scaling study): a benchmark found in several files is taken from the last one."""
    runs = [load_run(p) for p in paths]
    if not runs:
        raise ValueError("load_runs needs at least one file")
    merged: dict[str, Bench] = {}
    for run in runs:
        for b in run.benches:
            merged[f"{b.group}::{b.name}"] = b
    first = runs[0]
    return BenchRun(list(merged.values()), first.machine, first.commit, first.datetime,
                    first.meta, first.source, [s for r in runs for s in r.sessions])


def load_run(path: str | os.PathLike) -> BenchRun:
    """Read a pytest-benchmark JSON file.

    Raises :class:`DataError` for a missing, unreadable or foreign file.
    """
    path = Path(path)
    fix = "pass the file written by pytest benchmarks/ --benchmark-only --benchmark-json=FILE"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(path, "benchmark JSON not found", fix) from None
    except (OSError, ValueError) as exc:
        raise DataError(path, f"cannot read benchmark JSON ({exc})", fix) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("benchmarks"), list):
        raise DataError(path, "not a pytest-benchmark JSON file (no 'benchmarks' list)", fix)
    benches = []
    for b in raw["benchmarks"]:
        stats = b.get("stats") or {}
        if "median" not in stats:
            continue  # a benchmark that failed before timing
        benches.append(Bench(
            name=b.get("name", "?"), group=b.get("group") or "(no group)",
            min_s=float(stats["min"]), median_s=float(stats["median"]),
            rounds=int(stats.get("rounds", 0)), info=dict(b.get("extra_info") or {}),
        ))
    meta = raw.get("fer_bench") or {}
    return BenchRun(benches, raw.get("machine_info") or {}, raw.get("commit_info") or {},
                    raw.get("datetime", ""), meta, str(path),
                    [(str(path), raw.get("datetime", ""), meta)])


# --- derived figures -------------------------------------------------------------------------

def peak_gflops(run: BenchRun) -> float | None:
    """The measured peak fp32 GFLOP/s: the best round of the ``peak`` matmul benchmarks (of
    every size timed)."""
    best = None
    for b in run.select(kind="peak"):
        if b.flops_per_item and b.min_s > 0:
            g = b.flops_per_item * b.items / b.min_s / 1e9
            best = g if best is None else max(best, g)
    return best


def _largest_batch(benches: Sequence[Bench]) -> Bench | None:
    return max(benches, key=lambda b: b.info.get("batch", b.items), default=None)


def torch_comparison(run: BenchRun) -> list[dict]:
    """JAX vs the PyTorch reference of mini-Xception, per workload and batch.

    The PyTorch side is its fastest timed configuration (thread count, memory layout) for that
    workload and batch. Training compares like with like: the JAX step without augmentation
    (``like_for_like``) when it was measured, else the registered one. Returns dicts with
    ``workload``, ``kind``, ``batch``, ``jax``, ``torch`` (images/s), ``ratio`` (JAX /
    PyTorch), ``torch_config`` and the two benchmark names.
    """
    out = []
    for kind, label in (("cnn-train", "training step"), ("cnn-infer", "inference")):
        torch_rows = run.select(kind=kind, framework="torch", model=REFERENCE_MODEL)
        for batch in sorted({t.info.get("batch") for t in torch_rows}, key=lambda b: b or 0):
            t = max((r for r in torch_rows if r.info.get("batch") == batch),
                    key=lambda r: r.items_per_s)
            jax_rows = [b for b in run.select(kind=kind, framework="jax", model=REFERENCE_MODEL)
                        if b.info.get("batch") == batch]
            if kind == "cnn-train":
                jax_rows = [b for b in jax_rows if b.info.get("like_for_like")] or jax_rows
            if not jax_rows:
                continue
            j = jax_rows[0]
            config = ", ".join(f"{k}={t.info[k]}" for k in ("torch_threads", "memory_format")
                               if k in t.info)
            out.append({"workload": label, "kind": kind, "batch": batch, "jax": j.items_per_s,
                        "torch": t.items_per_s, "ratio": j.items_per_s / t.items_per_s,
                        "torch_config": config, "jax_bench": j.name, "torch_bench": t.name})
    return out


def roofline(run: BenchRun) -> list[dict]:
    """Every JAX benchmark with a FLOP count (the CNNs) and PyTorch's reference configuration:
    MFLOP per image, GFLOP/s and % of the measured peak."""
    peak = peak_gflops(run)
    references = {r["torch_bench"] for r in torch_comparison(run)}
    rows = []
    for b in run.benches:
        if b.kind == "peak" or b.gflops_per_s is None:
            continue
        if b.info.get("framework") == "torch" and b.name not in references:
            continue  # only PyTorch's fastest configuration, the one compared with
        rows.append({
            "bench": b, "model": b.info.get("model", ""), "framework": b.info.get("framework", ""),
            "kind": b.kind, "batch": b.info.get("batch"), "mflops": b.flops_per_item / 1e6,
            "gflops": b.gflops_per_s, "pct_peak": 100 * b.gflops_per_s / peak if peak else None,
            "mbytes": b.bytes_per_item / 1e6 if b.bytes_per_item else None,
            "intensity": b.intensity,
        })
    return rows


def explain_misses(run: BenchRun, results: Sequence[dict]) -> list[str]:
    """Why the missed targets are missed, in sentences computed from this run's numbers
    (roofline, PyTorch ratios, the end-to-end frame's detection time); [] when none is."""
    missed = {r["target"].label for r in results if r["measured"] is not None and not r["met"]}
    lines: list[str] = []
    roof = [r for r in roofline(run) if r["framework"] == "jax"]

    def best(model: str, kind: str) -> dict | None:
        rows = [r for r in roof if r["model"] == model and r["kind"] == kind]
        return max(rows, key=lambda r: r["batch"] or 0, default=None)

    if any(label.startswith("mini-Xception") for label in missed):
        train, infer = best("mini-xception", "cnn-train"), best("mini-xception", "cnn-infer")
        dense = max((r for r in roof if r["model"] != "mini-xception" and r["intensity"]),
                    key=lambda r: r["pct_peak"] or 0, default=None)
        if train and infer:
            text = (f"* **mini-Xception** does {train['mflops']:.0f} MFLOP per training image and "
                    f"{infer['mflops']:.1f} per inference image, and runs at "
                    f"{_pct(train['pct_peak'])} of the measured peak in training and "
                    f"{_pct(infer['pct_peak'])} in inference")
            if train["intensity"] and infer["intensity"]:
                text += (f". Its arithmetic intensity is {train['intensity']:.1f} FLOP per byte "
                         f"accessed in training and {infer['intensity']:.1f} in inference (XLA's "
                         "estimate of the bytes its fused operations read and write)")
                if dense:
                    text += (f", against {dense['intensity']:.0f} for {dense['model']}, which "
                             f"reaches {_pct(dense['pct_peak'])} of peak")
                text += (": the network is thin (depthwise 3x3 convolutions, batch norm, ReLU and "
                         "pooling over 8 to 128 channels), so its time goes into passes over the "
                         "activations, not arithmetic")
            lines.append(text + ".")
        comparison = torch_comparison(run)
        train_ratio = next((r for r in comparison if r["kind"] == "cnn-train"), None)
        infer_ratios = [r for r in comparison if r["kind"] == "cnn-infer"]
        if train_ratio and infer_ratios:
            best_infer = max(r["ratio"] for r in infer_ratios)
            text = (f"* Against PyTorch, the same network's training step runs at "
                    f"{train_ratio['ratio']:.2f}x and inference at "
                    + ", ".join(f"{r['ratio']:.2f}x (batch {r['batch']})" for r in infer_ratios))
            if best_infer >= 1 > train_ratio["ratio"]:
                text += (": the forward pass is competitive, the gap is in the backward pass "
                         "(the per-fusion profile in `benchmarks/deep_perf.md` spreads it over "
                         "batch-norm statistics and their gradients, ReLU masks, pooling selects "
                         "and the depthwise kernel gradients); closing it needs fewer passes over "
                         "the activations (fused convolution + batch-norm kernels), which XLA's "
                         "CPU backend does not generate from this JAX code")
            elif train_ratio["ratio"] < 1 and best_infer < 1:
                text += ": both directions are slower than PyTorch's kernels on this machine"
            lines.append(text + ".")
    frame = [b for b in run.select(kind="end-to-end", faces=1)
             if b.info.get("detect_median_s") is not None]
    if any(label.startswith("640x480") for label in missed) and frame:
        b = min(frame, key=lambda b: b.median_s)
        share = b.info["detect_median_s"] / b.median_s
        lines.append(f"* **End to end**, Haar detection takes {fmt_seconds(b.info['detect_median_s'])} "
                     f"of the {fmt_seconds(b.median_s)} per frame ({_pct(100 * share)}): a faster "
                     "frame needs a smaller detection width or detecting every other frame.")
    if lines:
        lines = ["## Why the missed targets are missed", "",
                 "Computed from the figures of this run.", "", *lines]
    return lines


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f} %"


@dataclass(frozen=True)
class Target:
    """A performance goal: ``measure(run)`` must reach ``goal`` (higher is better)."""

    label: str
    goal: float
    unit: str
    measure: Callable[[BenchRun], tuple[float, str] | None]  # value and the benchmark it is from


def _throughput(kind: str, largest: bool = False, **want: Any):
    def measure(run: BenchRun):
        rows = run.select(kind=kind, **want)
        if kind == "cnn-train":
            rows = [b for b in rows if not b.info.get("like_for_like")] or rows
        b = _largest_batch(rows) if largest else (rows[0] if rows else None)
        return (b.items_per_s, b.name) if b else None
    return measure


def _torch_ratio(kind: str):
    def measure(run: BenchRun):
        rows = [r for r in torch_comparison(run) if r["kind"] == kind]
        r = max(rows, key=lambda r: r["batch"] or 0, default=None)
        return (r["ratio"], f"{r['jax_bench']} / {r['torch_bench']}") if r else None
    return measure


def _pct_peak(model: str):
    def measure(run: BenchRun):
        rows = [r for r in roofline(run) if r["model"] == model and r["kind"] == "cnn-infer"
                and r["framework"] == "jax" and r["pct_peak"] is not None]
        r = max(rows, key=lambda r: r["batch"] or 0, default=None)
        return (r["pct_peak"], r["bench"].name) if r else None
    return measure


#: The project's goals for this machine class (2 CPU cores).
TARGETS: tuple[Target, ...] = (
    Target("mini-Xception training (JAX, as `fit` runs it)", 1500, "images/s",
           _throughput("cnn-train", framework="jax", model="mini-xception")),
    Target("mini-Xception inference, batch 512", 5000, "images/s",
           _throughput("cnn-infer", largest=True, framework="jax", model="mini-xception")),
    Target("mini-Xception training vs PyTorch reference", 1.5, "x",
           _torch_ratio("cnn-train")),
    Target("mini-Xception inference vs PyTorch reference, batch 512", 1.5, "x",
           _torch_ratio("cnn-infer")),
    Target("little-VGG inference, batch 512, share of measured peak", 25, "% of peak",
           _pct_peak("little-vgg")),
    Target("640x480 frame end to end on one core (demo detection + mini-Xception)", 30,
           "frames/s", _throughput("end-to-end", faces=1, detect_width=320)),
    Target("Gabor bank features, 48x48", 2000, "images/s",
           _throughput("feature", extractor="Gabor bank")),
)


def evaluate_targets(run: BenchRun, targets: Sequence[Target] = TARGETS) -> list[dict]:
    """Each target with ``measured`` (None when its benchmark is absent), ``met`` and
    ``shortfall`` (the fraction of the goal missing, 0 when met)."""
    out = []
    for t in targets:
        got = t.measure(run)
        value, source = got if got else (None, "")
        met = value is not None and value >= t.goal
        shortfall = 0.0 if value is None or met else 1.0 - value / t.goal
        out.append({"target": t, "measured": value, "source": source, "met": met,
                    "shortfall": shortfall})
    return out


def scaling_points(run: BenchRun) -> dict[str, list[dict]]:
    """``{pipeline: [{n_train, fit_s, accuracy, predict_s}, ...]}`` sorted by size."""
    out: dict[str, list[dict]] = {}
    for b in run.select(kind="scaling"):
        out.setdefault(b.info["pipeline"], []).append(b.info)
    return {k: sorted(v, key=lambda p: p["n_train"]) for k, v in out.items()}


# --- formatting ------------------------------------------------------------------------------

def fmt_seconds(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "–"
    for scale, unit in ((1, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def fmt_rate(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def _fmt_target_value(value: float | None, unit: str) -> str:
    if value is None:
        return "not measured"
    if unit == "x":
        return f"{value:.2f}x"
    if unit.startswith("%"):
        return f"{value:.1f} {unit}"
    return f"{fmt_rate(value)} {unit}"


def _status(row: dict) -> str:
    t = row["target"]
    if row["measured"] is None:
        return "not measured"
    if row["met"]:
        return f"met (x{row['measured'] / t.goal:.2f} the goal)"
    short = 100 * row["shortfall"]
    return (f"**missed** by {short:.1f} %" if short < 10 else f"**missed** by {short:.0f} %") + \
        f" (needs x{t.goal / row['measured']:.2f})"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |",
            *("| " + " | ".join(str(c) for c in r) + " |" for r in rows)]


def _notes(b: Bench) -> str:
    i = b.info
    keys = {
        "data-load": ("variant", "release"),
        "face-detect": ("faces", "faces_found"),
        "face-stage": ("faces",),
        "feature": ("extractor", "n_features"),
        "pipeline-predict": ("batch", "family", "tta"),
        "cnn-train": ("batch", "framework", "augment", "optimizer", "torch_threads",
                      "memory_format"),
        "cnn-infer": ("batch", "framework", "torch_threads", "memory_format"),
        "peak": ("n", "dtype"),
        "end-to-end": ("faces_found", "detect_width", "cores"),
        "scaling": ("n_train", "accuracy"),
    }.get(b.kind, ())
    parts = [f"{k}={i[k]}" for k in keys if i.get(k) is not None]
    if b.kind == "end-to-end" and i.get("detect_median_s") is not None:
        parts.append(f"detect {fmt_seconds(i['detect_median_s'])}")
    return ", ".join(parts)


def _workload(b: Bench) -> str:
    if b.kind == "cnn-train":
        augment = b.info.get("augment", "?")
        return f"train step ({'no' if augment == 'none' else augment} augmentation)"
    return "inference" if b.kind == "cnn-infer" else b.kind


def _machine_lines(run: BenchRun) -> list[str]:
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
    commit = run.commit
    if commit.get("id"):
        dirty = " (uncommitted changes)" if commit.get("dirty") else ""
        lines.append(f"- **Commit**: `{commit['id'][:12]}` on {commit.get('branch', '?')}{dirty}")
    cores = float(env.get("n_cores") or cpu.get("count") or 1)
    sessions = run.sessions or [(run.source, run.datetime, meta)]
    for source, date, session in sessions:
        head = f"- **Run** `{Path(source).name}`" if len(sessions) > 1 else "- **Run**"
        lines.append(f"{head}: {date or 'date unknown'}, "
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


# --- plots -----------------------------------------------------------------------------------

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
    from .plots import save_figure  # matplotlib loads only when there is a plot

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
    from .plots import save_figure  # matplotlib loads only when there is a plot

    save_figure(fig, path)
    return True


def fit_exponent_of(points: Sequence[dict]) -> float | None:
    """Growth exponent of the steady-state fit time (``steady_fit_s``, else ``fit_s``)."""
    from ..perf.scaling import fit_exponent

    return fit_exponent([p["n_train"] for p in points],
                        [p.get("steady_fit_s", p["fit_s"]) for p in points])


# --- the report ------------------------------------------------------------------------------

def render(run: BenchRun, images: dict[str, str] | None = None) -> str:
    """The Markdown report of ``run``; ``images`` maps plot names to their file names."""
    images = images or {}
    peak = peak_gflops(run)
    out = ["# Performance", ""]
    cpu = (run.meta.get("environment", {}).get("cpu")
           or run.machine.get("cpu", {}).get("brand_raw", "?"))
    out.append(f"Measured by `pytest benchmarks/ --benchmark-only` on {cpu} "
               f"({run.datetime[:10] or 'date unknown'}); every figure below is derived from "
               f"{', '.join(f'`{Path(src).name}`' for src, _, _ in run.sessions) or 'the JSON'} by "
               "`python -m fer_bench perf-report`. Times are per call; throughput is items per "
               "second at the median time.")
    if run.small:
        out += ["", "> **Smoke-test sizes** (small batches, `FER_BENCH_BENCH_SMALL` or "
                "`--benchmark-disable` sizes): these figures show the report works, not how fast "
                "the code is."]

    out += ["", "## Targets", ""]
    rows, results = [], evaluate_targets(run)
    for r in results:
        t = r["target"]
        rows.append((t.label, _fmt_target_value(t.goal, t.unit),
                     _fmt_target_value(r["measured"], t.unit), _status(r)))
    out += _table(("target", "goal", "measured", "status"), rows, "lrrl")
    why = explain_misses(run, results)
    out += ["", f"Measured peak fp32: **{peak:,.1f} GFLOP/s**" if peak else
            "Measured peak fp32: not measured (no `peak` benchmark in this run)."]

    comparison = torch_comparison(run)
    if comparison:
        out += ["", "## JAX vs the PyTorch reference (mini-Xception)", "",
                "Same network and weights (`benchmarks/torch_reference.py`: depthwise convolutions "
                "with `groups=C`, eager mode, float32). PyTorch is timed with all cores and with "
                "one thread, NCHW and channels-last; its fastest configuration is the reference. "
                "The training comparison uses the JAX step without augmentation, as the PyTorch "
                "step has none. JAX runs with its default thread pool over all cores; on a busy "
                "machine a single-threaded configuration suffers least from the competition, which "
                "favours PyTorch's one-thread variant.", ""]
        out += _table(("workload", "batch", "JAX images/s", "PyTorch images/s",
                       "PyTorch configuration", "JAX / PyTorch"),
                      [(r["workload"], r["batch"], fmt_rate(r["jax"]), fmt_rate(r["torch"]),
                        r["torch_config"], f"{r['ratio']:.2f}x") for r in comparison], "lrrrlr")

    roof = roofline(run)
    if roof:
        sides = [b.info.get("n") for b in run.select(kind="peak") if b.info.get("n")]
        peak_text = (f"{peak:,.1f} GFLOP/s, the best round of fp32 matmuls of side "
                     f"{', '.join(map(str, sides))}") if peak else "not measured"
        out += ["", "## Roofline", "",
                "FLOPs per image from XLA's cost analysis of the compiled computation; achieved "
                f"GFLOP/s at the median time; share of the measured peak ({peak_text}).", ""]
        out += _table(("model", "framework", "workload", "batch", "MFLOP / image",
                       "MB accessed / image", "FLOP / byte", "GFLOP/s", "% of peak"),
                      [(r["model"], r["framework"], _workload(r["bench"]), r["batch"],
                        f"{r['mflops']:.1f}",
                        "–" if r["mbytes"] is None else f"{r['mbytes']:.1f}",
                        "–" if r["intensity"] is None else f"{r['intensity']:.1f}",
                        f"{r['gflops']:.1f}", _pct(r["pct_peak"]))
                       for r in roof], "lllrrrrrr")
        out += ["", "Bytes accessed: XLA's cost analysis of the compiled computation, the "
                "operands and results of each fused operation (from cache or memory); PyTorch rows "
                "carry the JAX FLOP count of the same network and no byte count."]
        if any((r["pct_peak"] or 0) > 100 for r in roof):
            out += ["", "> Some workloads exceed 100 % of the measured peak: the matmul rounds "
                    "were slowed down (by other processes competing for the CPU), so the peak is "
                    "underestimated. Rerun on a quiet machine."]

    if why:
        out += ["", *why]

    out += ["", "## All benchmarks", ""]
    groups: dict[str, list[Bench]] = {}
    for b in run.benches:
        if b.kind != "scaling":
            groups.setdefault(b.group, []).append(b)
    for group, benches in groups.items():
        out += [f"### {group}", ""]
        out += _table(("benchmark", "min", "median", "throughput", "per item", "rounds", "notes"),
                      [(b.name, fmt_seconds(b.min_s), fmt_seconds(b.median_s),
                        f"{fmt_rate(b.items_per_s)} {b.unit}/s",
                        fmt_seconds(b.median_s / b.items),
                        b.rounds, _notes(b)) for b in benches], "lrrrrrl")
        out.append("")
    if "pipelines" in images:
        out += [f"![predict time per image]({images['pipelines']})", ""]

    points = scaling_points(run)
    if points:
        sizes = sorted({p["n_train"] for pts in points.values() for p in pts})
        dataset = next(iter(points.values()))[0].get("dataset", "?")
        out += ["## Scaling with the training-set size", "",
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
        out += _table(("pipeline", *(f"n={n:,}" for n in sizes), "b"), rows)
        if "scaling" in images:
            out += ["", f"![fit time and accuracy vs training-set size]({images['scaling']})"]
        out.append("")

    out += ["## Machine and run", "", *_machine_lines(run), "",
            "Reproduce: `pytest benchmarks/ --benchmark-only --benchmark-json=bench.json && "
            "python -m fer_bench perf-report bench.json --out results/` (add `FER_BENCH_SCALING=1` "
            "for the scaling study, `FER_BENCH_BENCH_DATA=DIR` to load the real FER2013).", ""]
    return "\n".join(out)


def write_performance_report(json_paths: str | os.PathLike | Sequence[str | os.PathLike],
                             out_dir: str | os.PathLike = "results", plots: bool = True
                             ) -> list[Path]:
    """Write ``performance.md`` (and ``perf_pipelines.png`` / ``perf_scaling.png`` when there is
    something to plot) into ``out_dir`` from one benchmark JSON or several merged (see
    :func:`load_runs`); returns the written paths."""
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
