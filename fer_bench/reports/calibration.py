"""The calibration part of ``analysis.md``: expected calibration error of the stored test
probabilities before and after a temperature fitted on the validation split, reliability
diagrams, and the thesis's "the right label is usually the second guess"."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..metrics import (
    apply_temperature, expected_calibration_error, fit_temperature, second_guess, top_k_accuracy,
)
from .aggregate import slug
from .representatives import Entry
from .tables import _table, pct

#: Equal-width confidence bins of the calibration error and reliability diagrams.
N_BINS = 15


def probabilities(scores: np.ndarray) -> np.ndarray:
    """Scores stored as probabilities, renormalised over the scored classes (``-inf``, a class
    the model never saw, is 0; float16 storage leaves rows a little off 1)."""
    p = np.where(np.isfinite(scores), scores, 0.0).clip(0, None)
    total = p.sum(axis=1, keepdims=True)
    return np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[1]), where=total > 0)


def calibration_rows(ents: Sequence[Entry]) -> list[dict]:
    """Calibration and second-guess figures of each entry with stored scores."""
    rows = []
    for e in ents:
        if not e.complete:
            continue
        p = e.pooled()
        if p.scores is None:
            continue
        row = {"entry": e, "pooled": p, "guess": second_guess(p.scores, p.y_true)}
        if p.scores_kind == "proba":
            proba = probabilities(p.scores)
            row["proba"], row["y"] = proba, p.y_true
            row["ece"] = expected_calibration_error(proba, p.y_true, N_BINS)
            if p.scores_val is not None and p.y_val is not None and len(p.y_val):
                t = fit_temperature(probabilities(p.scores_val), p.y_val)
                row["T"] = t
                row["ece_T"] = expected_calibration_error(apply_temperature(proba, t),
                                                          p.y_true, N_BINS)
        rows.append(row)
    return rows


def calibration_section(sets: Sequence[tuple[str, list[Entry]]], out: Path, plots: bool
                        ) -> tuple[list[str], list[Path]]:
    lines = ["## Calibration and the second guess", "",
             f"Expected calibration error ({N_BINS} equal-width confidence bins, Guo et al. "
             "2017) of the stored test probabilities, and after a temperature fitted on the "
             "validation split (PublicTest for FER2013; not for k-fold protocols, whose "
             "folds are pooled here and whose final models trained on their validation "
             "images). *Wrong → 2nd guess*: of the wrongly classified "
             "test images, the share whose true class got the second-highest score (the "
             "thesis's observation), against the 1/(C−1) a random second guess would reach. "
             "Pipelines with decision values instead of probabilities have no ECE. The "
             "temperature minimises the validation log-loss, which is not the ECE: where "
             "probabilities are made of votes (the SVMs' softmax over one-vs-one votes, "
             "k-NN's neighbour shares) the log-loss-optimal temperature can raise the ECE.", ""]
    written: list[Path] = []
    for column, ents in sets:
        rows = calibration_rows(ents)
        if not rows:
            continue
        table = []
        for r in rows:
            p = r["pooled"]
            top2 = top_k_accuracy(p.y_true, p.scores, k=2)  # rows have scores
            g = r["guess"]
            table.append([r["entry"].name, pct(r["entry"].accuracy),
                          f"{r['ece']:.3f}" if "ece" in r else "—",
                          f"{r['T']:.2f}" if "T" in r else "—",
                          f"{r['ece_T']:.3f}" if "ece_T" in r else "—", pct(top2),
                          f"{pct(g['rate'])} ({g['second_guess']}/{g['n_wrong']})",
                          pct(g["chance_rate"])])
        lines += [f"### {column}", "",
                  _table(table, ["pipeline", "accuracy %", "ECE", "T (validation)",
                                 "ECE after T", "top-2 %", "wrong → 2nd guess %",
                                 "random 2nd guess %"]), ""]
        with_proba = [r for r in rows if "proba" in r]
        if plots and with_proba:
            from .analysis_plots import plot_reliability

            name = f"analysis_reliability_{slug(column)}.png"
            plot_reliability([(r["entry"].name, r["proba"], r["y"]) for r in with_proba],
                             N_BINS, f"Reliability on {column}", out / name)
            written.append(out / name)
            lines += [f"![reliability diagrams]({name})", ""]
    return lines, written
