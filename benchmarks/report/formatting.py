"""Text of the performance report's cells: times, rates, shares, target verdicts, a benchmark's
notes, and the Markdown tables they go in (pipe tables via tabulate)."""
from __future__ import annotations

import math
from typing import Sequence

from tabulate import tabulate

from .bench import Bench

#: The ``extra_info`` entries shown in the "notes" column, per benchmark kind.
NOTE_KEYS: dict[str, tuple[str, ...]] = {
    "data-load": ("variant", "release"),
    "face-detect": ("faces", "faces_found"),
    "face-stage": ("faces",),
    "feature": ("extractor", "n_features"),
    "pipeline-predict": ("batch", "family", "tta"),
    "cnn-train": ("batch", "framework", "augment", "optimizer", "torch_threads", "memory_format"),
    "cnn-infer": ("batch", "framework", "torch_threads", "memory_format"),
    "peak": ("n", "dtype"),
    "end-to-end": ("faces_found", "detect_width", "cores"),
    "scaling": ("n_train", "accuracy"),
}
_ALIGN = {"l": "left", "r": "right"}


def table(header: Sequence[str], rows: Sequence[Sequence], align: str = "") -> list[str]:
    """A Markdown table's lines; ``align`` has one ``l`` / ``r`` per column (default: the first
    left, the others right).

    The ``pipe`` format, not ``github`` (what :mod:`fer_bench.reports.tables` uses): github
    tables carry no alignment row, and the figures here are meant right-aligned.
    """
    align = align or "l" + "r" * (len(header) - 1)
    cells = [[str(c) for c in r] for r in rows]  # str() keeps None as "None", not blank
    text = tabulate(cells, headers=list(header), tablefmt="pipe", disable_numparse=True,
                    colalign=[_ALIGN[a] for a in align])
    return text.splitlines()


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


def pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f} %"


def fmt_target_value(value: float | None, unit: str) -> str:
    if value is None:
        return "not measured"
    if unit == "x":
        return f"{value:.2f}x"
    if unit.startswith("%"):
        return f"{value:.1f} {unit}"
    return f"{fmt_rate(value)} {unit}"


def status(row: dict) -> str:
    """The verdict on one row of :func:`~benchmarks.report.targets.evaluate_targets`."""
    t = row["target"]
    if row["measured"] is None:
        return "not measured"
    if row["met"]:
        return f"met (x{row['measured'] / t.goal:.2f} the goal)"
    short = 100 * row["shortfall"]
    return (f"**missed** by {short:.1f} %" if short < 10 else f"**missed** by {short:.0f} %") + \
        f" (needs x{t.goal / row['measured']:.2f})"


def notes(b: Bench) -> str:
    i = b.info
    parts = [f"{k}={i[k]}" for k in NOTE_KEYS.get(b.kind, ()) if i.get(k) is not None]
    if b.kind == "end-to-end" and i.get("detect_median_s") is not None:
        parts.append(f"detect {fmt_seconds(i['detect_median_s'])}")
    return ", ".join(parts)


def workload(b: Bench) -> str:
    if b.kind == "cnn-train":
        augment = b.info.get("augment", "?")
        return f"train step ({'no' if augment == 'none' else augment} augmentation)"
    return "inference" if b.kind == "cnn-infer" else b.kind
