"""The cost part of ``analysis.md``: what each point of accuracy costs, with its Pareto frontier.

Three costs per pipeline on a protocol's own test set, each read from the records: training
wall time (:func:`~.aggregate.training_seconds`: of the run that fitted the model, on the
machine its record names, every epoch of a resumed training counted), the median latency of one prediction at batch 1 (``timing.latency_ms_batch1``) and the
size of the stored model file (``model.bytes``). A pipeline is on a frontier when no other is
at least as accurate and at most as costly, and strictly better in one of the two.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .aggregate import Cell, is_cross, training_seconds
from .analysis import columns, representative
from .tables import _pipelines, _table, pct, seconds

#: ``(key, axis label, how a record gives it)`` of each cost.
COSTS = (
    ("train_s", "training wall time (s)", training_seconds),
    ("latency_ms", "latency at batch 1 (ms)",
     lambda r: (r.get("timing") or {}).get("latency_ms_batch1")),
    ("model_mb", "model file (MB)",
     lambda r: None if not (r.get("model") or {}).get("bytes") else r["model"]["bytes"] / 1e6),
)


def pareto_front(cost: Sequence[float], accuracy: Sequence[float]) -> np.ndarray:
    """``(N,)`` bool: the points no other dominates (cost <= and accuracy >=, one strictly)."""
    c, a = np.asarray(cost, float), np.asarray(accuracy, float)
    front = np.ones(len(c), bool)
    for i in range(len(c)):
        dominated = (c <= c[i]) & (a >= a[i]) & ((c < c[i]) | (a > a[i]))
        front[i] = not dominated.any()
    return front


def points(cells: Sequence[Cell], column: str) -> list[dict]:
    """Accuracy and the costs of each pipeline's headline variant on test set ``column``."""
    out = []
    for pipeline in _pipelines(cells):
        cell = representative(cells, pipeline, column)
        if cell is None:
            continue
        costs = {}
        for key, _, get in COSTS:
            values = [v for v in map(get, cell.records) if isinstance(v, (int, float)) and v > 0]
            costs[key] = float(np.mean(values)) if values else None
        out.append({"cell": cell, "accuracy": cell.mean("accuracy") or 0.0, **costs,
                    "borrowed": borrows_training(cell)})
    return out


def borrows_training(cell: Cell) -> bool:
    """Whether the cell's model starts from another trained model (fine-tuned from weights,
    or a hybrid reading a CNN), whose own training time its record does not count."""
    from ..registry import PIPELINES

    reads = cell.pipeline in PIPELINES.names() and PIPELINES.get(cell.pipeline).tags.get(
        "reads_model")  # records may name pipelines no longer registered
    return bool(reads or any(r.get("init_from") for r in cell.records))


def section(cells: Sequence[Cell], out: Path, plots: bool) -> tuple[list[str], list[Path]]:
    lines = ["## Cost of accuracy", "",
             "Per protocol (its own test set), each pipeline's accuracy against its training "
             "wall time, its latency for one face at batch 1 and its model file. ◆ marks the "
             "Pareto frontier of that cost: nothing else is as accurate for less. Training "
             "times are those of the run that fitted the model (the machine and its load are "
             "in the per-run reports); latencies were timed while scoring, 15 calls, median.", ""]
    written: list[Path] = []
    for protocol in columns([c for c in cells if not is_cross(c)]):
        pts = points(cells, protocol)
        if len(pts) < 2:
            continue
        fronts = {}
        for key, _, _ in COSTS:
            have = [p for p in pts if p[key] is not None]
            mask = pareto_front([p[key] for p in have], [p["accuracy"] for p in have])
            fronts[key] = {id(p) for p, m in zip(have, mask) if m}
        rows = []
        for p in sorted(pts, key=lambda p: -p["accuracy"]):
            mark = {k: " ◆" if id(p) in fronts[k] else "" for k, _, _ in COSTS}
            rows.append([p["cell"].row_label, p["cell"].family or "?", pct(p["accuracy"]),
                         seconds(p["train_s"]) + (" ‡" if p["borrowed"] else "")
                         + mark["train_s"],
                         ("—" if p["latency_ms"] is None else f"{p['latency_ms']:.2f}")
                         + mark["latency_ms"],
                         ("—" if p["model_mb"] is None else f"{p['model_mb']:.2f}")
                         + (" ‡" if p["borrowed"] else "") + mark["model_mb"]])
        lines += [f"### {protocol}", "",
                  _table(rows, ["pipeline", "family", "accuracy %", "training s",
                                "latency ms (batch 1)", "model MB"]), ""]
        if any(p["borrowed"] for p in pts):
            lines += ["‡ not counting the training of the model it starts from (a hybrid's "
                      "CNN, a fine-tuned network's starting weights); a hybrid's model file "
                      "names its CNN file rather than holding it, so its size leaves the CNN "
                      "out too.", ""]
        missing = [p["cell"].row_label for p in pts
                   if p["latency_ms"] is None or p["model_mb"] is None]
        if missing:
            lines += ["Records written before latency and model size were kept (`run "
                      f"--rescore` adds them): {', '.join(missing)}.", ""]
        if plots:
            from .aggregate import slug
            from .analysis_plots import plot_pareto

            name = f"analysis_cost_{slug(protocol)}.png"
            plot_pareto(pts, [(k, label) for k, label, _ in COSTS], fronts,
                        f"Accuracy and its cost on {protocol}", out / name)
            written.append(out / name)
            lines += [f"![accuracy vs cost]({name})", ""]
    return lines, written
