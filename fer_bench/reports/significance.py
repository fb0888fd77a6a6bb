"""The significance parts of ``analysis.md``: is B really better than A?

* paired comparisons on one test set: McNemar's exact test and a paired bootstrap interval of
  the accuracy difference, Holm-adjusted over the pairs of that test set;
* over the folds of a k-fold protocol: the corrected resampled t-test (Nadeau & Bengio);
* classical against deep: the best of each family, by the test of its test set;
* over every test set: Friedman's test, Nemenyi's critical difference (Demšar 2006).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..metrics import (
    bootstrap_ci, cd_cliques, corrected_resampled_ttest, friedman, holm, mcnemar_exact,
    nemenyi_cd,
)
from ..results.predictions import Predictions
from .aggregate import Cell
from .representatives import Entry, columns, n_folds, representative
from .tables import _pipelines, _table, pct

#: Significance level of every "significant" in the analysis (after Holm's adjustment).
ALPHA = 0.05
#: Bootstrap resamples of a paired accuracy difference.
N_BOOT = 2000
#: The critical-difference diagram of the ranking.
CD_PNG = "analysis_cd.png"


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
