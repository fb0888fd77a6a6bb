"""``analysis.md``: is B really better than A, where, and at what cost?

Computed from the records and their stored per-image predictions alone (never refitting):

* paired comparisons on one test set: McNemar's exact test and a paired bootstrap interval of
  the accuracy difference, Holm-adjusted over the pairs of that test set;
* over the folds of a k-fold protocol: the corrected resampled t-test (Nadeau & Bengio);
* over every test set: Friedman's test, Nemenyi's critical difference (Demšar 2006);
* robustness: accuracy of stored models on corrupted test faces (``run --corrupt``);
* calibration: expected calibration error before and after a temperature fitted on the
  validation split, and the thesis's "the right label is usually the second guess";
* cost: accuracy against training time, batch-1 latency and model size, Pareto frontier.

Each pipeline is represented on a test set by the variant the headline table shows
(:func:`~.tables.best_cell`: its highest mean test accuracy), as the reader sees it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import FerBenchError
from ..metrics import (
    bootstrap_ci, cd_cliques, corrected_resampled_ttest, expected_calibration_error,
    fit_temperature, apply_temperature, friedman, holm, mcnemar_exact, nemenyi_cd,
    second_guess, top_k_accuracy,
)
from ..results.predictions import Predictions, load_predictions
from .aggregate import Cell, current, group, is_cross
from .tables import _pipelines, _table, best_cell, pct

#: Significance level of every "significant" in the analysis (after Holm's adjustment).
ALPHA = 0.05
#: Bootstrap resamples of a paired accuracy difference.
N_BOOT = 2000
#: Equal-width confidence bins of the calibration error and reliability diagrams.
N_BINS = 15
ANALYSIS = "analysis.md"
CD_PNG = "analysis_cd.png"


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
    """``pipeline``'s variant on test set ``column`` with the highest mean accuracy (the one
    the headline table shows), or None."""
    on = [c for c in cells if c.column_label == column]
    return best_cell(on, pipeline, on[0].protocol) if on else None


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


def paired(a: Predictions, b: Predictions) -> tuple[np.ndarray, np.ndarray]:
    """Per-image correctness of ``a`` and ``b`` on the images both scored (matched by id)."""
    if a.ids.shape == b.ids.shape and np.array_equal(a.ids, b.ids):
        return a.correct, b.correct
    index = {i: n for n, i in enumerate(b.ids)}
    rows = [(n, index[i]) for n, i in enumerate(a.ids) if i in index]
    ia, ib = (np.asarray(x, dtype=np.int64) for x in zip(*rows)) if rows else (
        np.zeros(0, np.int64), np.zeros(0, np.int64))
    return a.correct[ia], b.correct[ib]


def _p(p: float | None) -> str:
    if p is None or not np.isfinite(p):
        return "—"
    return f"{p:.2g}" if p >= 1e-4 else "<1e-4"


def _pp(x: float) -> str:
    return f"{100 * x:+.1f}"


def compare_single(ents: Sequence[Entry]) -> list[dict]:
    """Every pair of ``ents`` (one test set each): difference, paired bootstrap interval,
    McNemar; Holm-adjusted over all the pairs."""
    usable = [e for e in ents if e.complete and len(e.preds) == 1]
    pairs = []
    for i, a in enumerate(usable):
        for b in usable[i + 1:]:
            ca, cb = paired(a.preds[0], b.preds[0])
            if not len(ca):
                continue
            diff = ca.astype(float) - cb
            lo, hi = bootstrap_ci(diff, n_boot=N_BOOT, seed=0)
            pairs.append({"a": a, "b": b, "n": len(ca), "diff": float(diff.mean()), "lo": lo,
                          "hi": hi, **mcnemar_exact(ca, cb)})
    for pair, adj in zip(pairs, holm(np.array([p["p"] for p in pairs]))):
        pair["p_holm"] = float(adj)
    return pairs


def first_seed(cell: Cell) -> list[dict]:
    """The cell's runs of its lowest seed: a paired comparison pairs one run per fold (the
    other seeds' runs are repeats of the same images)."""
    seed = min(r["seed"] for r in cell.records)
    return [r for r in cell.records if r["seed"] == seed]


def n_folds(cell: Cell) -> int:
    return len({str(r["fold"]) for r in cell.records})


def fold_accuracies(cell: Cell) -> dict[str, float]:
    """Per fold, the accuracy averaged over the cell's seeds."""
    runs: dict[str, list[float]] = {}
    for r in cell.records:
        runs.setdefault(str(r["fold"]), []).append(float(r["metrics"]["accuracy"]))
    return {fold: float(np.mean(v)) for fold, v in runs.items()}


def compare_folds(ents: Sequence[Entry]) -> list[dict]:
    """The best of ``ents`` (a k-fold protocol) against each other over their shared folds:
    the corrected resampled t-test, Holm-adjusted."""
    if len(ents) < 2:
        return []
    best, rows = ents[0], []
    acc_best = fold_accuracies(best.cell)
    for other in ents[1:]:
        acc = fold_accuracies(other.cell)
        folds = sorted(set(acc) & set(acc_best))
        if len(folds) < 2:
            continue
        recs = best.cell.records
        n_train = float(np.mean([r.get("n_train", 0) for r in recs])) or 1.0
        n_test = float(np.mean([r.get("n_test", 0) for r in recs])) or 1.0
        test = corrected_resampled_ttest([acc_best[f] - acc[f] for f in folds], n_train, n_test)
        rows.append({"a": best, "b": other, **test})
    for row, adj in zip(rows, holm(np.array([r["p"] for r in rows]))):
        row["p_holm"] = float(adj)
    return rows


def _single_section(column: str, ents: list[Entry]) -> tuple[list[str], list[dict]]:
    pairs = compare_single(ents)
    lines = [f"### {column}", ""]
    if not pairs:
        return lines + ["No two pipelines have stored predictions here (`run --rescore` "
                        "stores them).", ""], pairs
    best = pairs[0]["a"]
    rows = [[p["b"].name, p["b"].family, pct(p["b"].accuracy),
             f"{_pp(p['diff'])} [{_pp(p['lo'])}, {_pp(p['hi'])}]",
             f"{p['a_only']} / {p['b_only']}", _p(p["p"]), _p(p["p_holm"]),
             "yes" if p["p_holm"] < ALPHA else "no"]
            for p in pairs if p["a"] is best]
    seeds = {e.cell.records[0]["seed"] for e in ents if e.cell.n > 1}
    lines += [f"Best: **{best.name}** ({pct(best.accuracy)} % on {pairs[0]['n']} images). "
              "Each other pipeline against it" + (" (each pipeline's lowest-seed run)"
                                                   if seeds else "") + ":", "",
              _table(rows, ["pipeline", "family", "accuracy %", "best − it, pp [95 % CI]",
                            "only best right / only it right", "McNemar p", "Holm p",
                            f"significant at {ALPHA}"]), ""]
    names = list(dict.fromkeys([p["a"].name for p in pairs] + [p["b"].name for p in pairs]))
    lookup = {(p["a"].name, p["b"].name): p for p in pairs}
    matrix = []
    for a in names:
        row = [a]
        for b in names:
            p = lookup.get((a, b))
            row.append("" if p is None else _pp(p["diff"]) + ("*" if p["p_holm"] < ALPHA else ""))
        matrix.append(row)
    lines += ["Every pair (row − column, pp; `*`: significant after Holm over all "
              f"{len(pairs)} pairs of this test set, the adjustment the table above uses too):",
              "", _table(matrix, ["", *names]), ""]
    return lines, pairs


def _fold_section(column: str, ents: list[Entry]) -> tuple[list[str], list[dict]]:
    rows = compare_folds(ents)
    lines = [f"### {column}", ""]
    if not rows:
        return lines + ["Fewer than two pipelines share two or more folds here.", ""], rows
    best = rows[0]["a"]
    table = [[r["b"].name, r["b"].family, pct(r["b"].accuracy), _pp(r["mean"]),
              f"{r['t']:.2f}" if np.isfinite(r["t"]) else "—", _p(r["p"]), _p(r["p_holm"]),
              "yes" if r["p_holm"] < ALPHA else "no"] for r in rows]
    lines += [f"Best: **{best.name}** ({pct(best.accuracy)} % mean over {n_folds(best.cell)} "
              "folds). "
              "Corrected resampled t-test (Nadeau & Bengio 2003) of the per-fold accuracy "
              "differences; the folds share training images, so the plain paired t-test "
              "would overstate significance:", "",
              _table(table, ["pipeline", "family", "mean accuracy %", "best − it, pp", "t",
                             "p", "Holm p", f"significant at {ALPHA}"]), ""]
    return lines, rows


def _family_line(column: str, ents: list[Entry], pairs: list[dict], kfold: bool) -> str | None:
    best = {f: next((e for e in ents if e.family == f), None) for f in ("classical", "deep")}
    c, d = best["classical"], best["deep"]
    if c is None or d is None:
        return None
    lead, other = (d, c) if d.accuracy >= c.accuracy else (c, d)
    text = (f"| {column} | {d.name} {pct(d.accuracy)} | {c.name} {pct(c.accuracy)} | "
            f"{lead.family} by {100 * (lead.accuracy - other.accuracy):.1f} pp | ")
    if kfold:
        test = compare_folds([lead, other])
        if not test:
            return text + "— |"
        return text + f"corrected t-test p = {_p(test[0]['p'])} |"
    match = [p for p in pairs if {p["a"].name, p["b"].name} == {lead.name, other.name}]
    if not match:
        return text + "— (no stored predictions) |"
    p = match[0]
    return text + f"McNemar p = {_p(p['p'])}, Holm p = {_p(p['p_holm'])} |"


def ranking(cells: Sequence[Cell]) -> dict | None:
    """Friedman + Nemenyi over every test set (column) on which all ranked pipelines ran."""
    sets = columns(cells)
    pipelines = [p for p in _pipelines(cells)
                 if all(representative(cells, p, c) is not None for c in sets)]
    if len(sets) < 2 or len(pipelines) < 2:
        return None
    scores = np.array([[representative(cells, p, c).mean("accuracy") or 0.0 for p in pipelines]
                       for c in sets])
    result = friedman(scores)
    cd = nemenyi_cd(len(pipelines), len(sets), ALPHA)
    ranks = np.asarray(result["ranks"], dtype=float)
    return {**result, "cd": cd, "pipelines": pipelines, "columns": sets,
            "cliques": cd_cliques(ranks, cd), "ranks": ranks}


def _ranking_section(rank: dict | None, has_png: bool) -> list[str]:
    lines = ["## Ranking over every test set (Friedman, Nemenyi)", ""]
    if rank is None:
        return lines + ["Needs two or more test sets on which the same pipelines ran.", ""]
    order = np.argsort(rank["ranks"])
    lines += [f"{rank['n_methods']} pipelines ranked by accuracy on each of "
              f"{rank['n_datasets']} test sets ({', '.join(rank['columns'])}; 1 = best). "
              f"Friedman χ² = {rank['chi2']:.2f} (p = {_p(rank['p_chi2'])}), Iman-Davenport "
              f"F = {rank['F']:.2f} (p = {_p(rank['p_F'])}). Nemenyi critical difference at "
              f"{ALPHA}: {rank['cd']:.2f} ranks: pipelines whose average ranks differ by less "
              "are not told apart. Demšar's test assumes independent datasets; these test "
              "sets are not quite (a cross-dataset column scores the models of its training "
              "dataset's own protocol), and with this few of them the test has little power: "
              "read the ranks as a summary, the paired tests above as the evidence.", "",
              _table([[rank["pipelines"][i], f"{rank['ranks'][i]:.2f}"] for i in order],
                     ["pipeline", "average rank"]), ""]
    if has_png:
        lines += [f"![critical-difference diagram]({CD_PNG})", ""]
    return lines


def write_analysis(records: Sequence[dict], out: str | os.PathLike, plots: bool = True
                   ) -> list[Path]:
    """Write ``analysis.md`` (and with ``plots`` its figures) into ``out``; return the paths."""
    from . import cost, robustness

    out = Path(out)
    cells = group(records)
    written: list[Path] = []
    lines = ["# Analysis: significance, robustness, calibration, cost", "",
             "Written by `python -m fer_bench report` from `records.jsonl` and the per-image "
             "predictions stored beside it (`predictions/`); no model is refitted. Each "
             "pipeline appears with the variant the headline table shows, its highest test "
             "accuracy among its variants: a choice made on the test set, so the best "
             "pipeline's lead is slightly optimistic (most pipelines have one variant). "
             "Differences are best − other in percentage points; `significant` means p < "
             f"{ALPHA} after Holm's adjustment over the comparisons of one test set.", "",
             "## Paired comparisons", ""]
    family_rows, calibration_sets = [], []
    for column in columns(cells):
        ents = entries(cells, column, out)
        kfold = any(n_folds(e.cell) > 1 for e in ents)
        section, pairs = (_fold_section if kfold else _single_section)(column, ents)
        lines += section
        missing = [e.name for e in ents if not e.complete]
        if missing:
            needs = "the calibration below needs" if kfold else "these comparisons need"
            lines += [f"Without stored predictions, which {needs} (older records; `run "
                      f"--rescore` adds them): {', '.join(missing)}.", ""]
        row = _family_line(column, ents, pairs, kfold)
        if row:
            family_rows.append(row)
        if ents and not is_cross(ents[0].cell):  # calibration on a dataset's own test set
            calibration_sets.append((column, ents))
    if family_rows:
        lines += ["## Classical vs deep", "",
                  "Per test set, the best deep pipeline against the best classical one (hybrids "
                  "such as cnn-svm count as neither):", "",
                  "| test set | best deep % | best classical % | ahead | test |",
                  "|---|---|---|---|---|", *family_rows, ""]
    rank = ranking(cells)
    if plots and rank is not None:
        from .analysis_plots import plot_cd

        plot_cd(rank, out / CD_PNG)
        written.append(out / CD_PNG)
    lines += _ranking_section(rank, plots and rank is not None)
    corrupted = [r for r in current(records) if r.get("status") == "ok" and r.get("corruption")]
    section, files = robustness.section(cells, corrupted, out, plots)
    lines += section
    written += files
    section, files = calibration_section(calibration_sets, out, plots)
    lines += section
    written += files
    section, files = cost.section(cells, out, plots)
    lines += section
    written += files
    from ..atomic import write_text

    write_text(out / ANALYSIS, "\n".join(lines).rstrip() + "\n")
    return [out / ANALYSIS, *written]


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
    from .aggregate import slug

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
