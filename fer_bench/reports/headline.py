"""The headline table: each pipeline's test accuracy per protocol (of the variant validation
selects, :func:`~.tables.best_cell`), linked to its report, with the published figure beside
it and what each deep figure cost to train. It opens the results README and is copied into
the project README by :mod:`.readme`."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..registry import PIPELINES
from .aggregate import Cell, training_seconds
from .layout import report_path
from .tables import _pipelines, _table, best_cell, degenerate_note, flag, mean_std, seconds


def headline_table(cells: Sequence[Cell], link_prefix: str = "") -> str:
    """Pipelines x protocols: the mean test accuracy of the variant validation selects for
    each pair (:func:`~.tables.best_cell`), linked to its report (links prefixed with
    ``link_prefix``, e.g. ``"results/"`` for the project README), and the footnote on
    degenerate cells when one is marked."""
    protocols = list(dict.fromkeys(c.protocol for c in cells))
    pipelines = _pipelines(cells)
    published = {p: PIPELINES.get(p).tags.get("published") for p in pipelines
                 if p in PIPELINES.names()}
    sources = [v for v in dict.fromkeys(published.values()) if v]
    table, shown = [], []
    for p in pipelines:
        row = [p]
        for proto in protocols:
            best = best_cell(cells, p, proto)
            shown.append(best)
            row.append(flag(f"[{mean_std(best, 'accuracy')}]({link_prefix}{report_path(best)})",
                            best) if best else "")
        if sources:
            ref = published.get(p)
            row.append(f"{ref[0]:g} [{sources.index(ref) + 1}]" if ref else "")
        table.append(row)
    headers = ["pipeline", *protocols] + (["published, FER2013 PrivateTest"] if sources else [])
    parts = [_table(table, headers)]
    if sources:
        parts.append("Published: " + "; ".join(f"[{i}] {src}" for i, (_, src)
                                                in enumerate(sources, 1)) + ".")
    note = degenerate_note(shown)
    if note:
        parts.append(note[0])
    cost = training_cost_table([c for c in shown if c is not None], cells)
    if cost:
        parts.append(cost)
    return "\n\n".join(parts)


def budget_of(record: dict) -> str:
    """The ``--budget`` of the command that made ``record`` (``default`` without one)."""
    command = record.get("command") or []
    if isinstance(command, list) and "--budget" in command[:-1]:
        return command[command.index("--budget") + 1]
    return "default"


def training_cost_table(cells: Sequence[Cell], everything: Sequence[Cell] = ()) -> str | None:
    """What each CNN figure of ``cells`` cost: epochs, budget, training wall time per model,
    starting weights; None without deep cells. A figure whose model was fitted by another
    protocol's job (a cross-dataset job scoring the stored model) shows the cost of that fit,
    found among ``everything`` (same pipeline variant, the model's source protocol)."""
    by_protocol = {(c.row_label, c.protocol): c for c in everything}
    rows = []
    for c in cells:
        if c.family not in ("deep", "hybrid"):
            continue
        r = c.records[0]
        params = r.get("params") or {}
        # a hybrid's CNN trains only when it is fine-tuned (the ensemble's fine_tune_epochs)
        epochs = params.get("epochs", params.get("fine_tune_epochs") or None)
        model = r.get("model") or {}
        source = by_protocol.get((c.row_label, model.get("source"))) if model.get("reused") else c
        fit = np.array([t for t in map(training_seconds, source.records) if t is not None]
                       ) if source is not None else np.zeros(0)
        wall = (seconds(float(fit.mean())) + " s" + (f" × {len(fit)} folds" if len(fit) > 1
                                                     else "")) if fit.size else "—"
        if source is not c and source is not None:
            wall += f" (its {source.protocol} fit)"
        start = (r.get("init_from") or {}).get("path") or (
            "random" if c.family != "hybrid" else "a trained CNN, fine-tuned"
            if params.get("fine_tune_epochs") else "a trained CNN, read as it is")
        rows.append([c.pipeline, c.protocol, "—" if epochs is None else str(epochs),
                     budget_of(r), wall, f"`{start}`" if "/" in str(start) else start])
    if not rows:
        return None
    return ("What each deep figure above cost (per model; on the machine its report names):\n\n"
            + _table(rows, ["pipeline", "protocol", "epochs", "budget", "training wall time",
                            "starting weights"]))
