"""Which run stands for a pipeline on a test set in ``analysis.md``, with its stored predictions.

Each pipeline is represented on a test set (a column: a protocol with its label view and loader
options) by the variant the headline table shows (:func:`~.tables.best_cell`: the one its
validation accuracy selects), as the reader sees it; a paired comparison reads that variant's
lowest-seed runs, one per fold.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import FerBenchError
from ..results.predictions import Predictions, load_predictions
from .aggregate import Cell
from .tables import _pipelines, best_cell


@dataclass
class Entry:
    """A pipeline's representative cell on a test set, with its stored predictions per run
    (``None`` for a run without them, ``problem`` saying why)."""

    cell: Cell
    preds: list[Predictions | None] = field(default_factory=list)
    problem: str | None = None

    @property
    def name(self) -> str:
        return self.cell.row_label

    @property
    def family(self) -> str:
        return self.cell.family or "?"

    @property
    def complete(self) -> bool:
        return bool(self.preds) and all(p is not None for p in self.preds)

    @property
    def accuracy(self) -> float:
        return self.cell.mean("accuracy") or 0.0

    def pooled(self) -> Predictions:
        """The runs' predictions end to end (folds of a k-fold protocol pooled)."""
        ps = [p for p in self.preds if p is not None]
        cat = (lambda k: None if any(getattr(p, k) is None for p in ps)
               else np.concatenate([getattr(p, k) for p in ps]))
        return Predictions(y_true=cat("y_true"), y_pred=cat("y_pred"), ids=cat("ids"),
                           scores=cat("scores"), scores_kind=ps[0].scores_kind,
                           y_val=cat("y_val") if len(ps) == 1 else None,
                           scores_val=cat("scores_val") if len(ps) == 1 else None)


def columns(cells: Sequence[Cell]) -> list[str]:
    """The test sets of ``cells`` (column labels: a protocol with its label view and loader
    options), in first-seen order: pairs are compared on one of them, never across."""
    return list(dict.fromkeys(c.column_label for c in cells))


def representative(cells: Sequence[Cell], pipeline: str, column: str) -> Cell | None:
    """``pipeline``'s variant on test set ``column`` that validation selects (the one the
    headline table shows), or None."""
    on = [c for c in cells if c.column_label == column]
    return best_cell(on, pipeline, on[0].protocol, cells) if on else None


def entries(cells: Sequence[Cell], column: str, out: Path) -> list[Entry]:
    """Every pipeline's representative on ``column``, best accuracy first."""
    found = []
    for pipeline in _pipelines(cells):
        cell = representative(cells, pipeline, column)
        if cell is None:
            continue
        entry = Entry(cell)
        for r in first_seed(cell):
            try:
                entry.preds.append(load_predictions(out, r))
            except FerBenchError as exc:
                entry.preds.append(None)
                entry.problem = entry.problem or str(exc)
        found.append(entry)
    return sorted(found, key=lambda e: -e.accuracy)


def first_seed(cell: Cell) -> list[dict]:
    """The cell's runs of its lowest seed: a paired comparison pairs one run per fold (the
    other seeds' runs are repeats of the same images)."""
    seed = min(r["seed"] for r in cell.records)
    return [r for r in cell.records if r["seed"] == seed]


def n_folds(cell: Cell) -> int:
    return len({str(r["fold"]) for r in cell.records})
