"""The analysis layer: stored predictions -> paired tests, ranking, robustness, calibration, cost.

The store here is built from known per-image predictions, so every figure of ``analysis.md``
can be checked against an independent computation (scipy's binomial test, hand arithmetic).
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from fer_bench.metrics import classification_metrics, holm
from fer_bench.reports import write_reports
from fer_bench.reports.analysis import ANALYSIS, write_analysis
from fer_bench.reports.cost import pareto_front
from fer_bench.results.predictions import load_predictions, save_predictions
from fer_bench.results.store import ResultStore, load_records

CLASSES = ["angry", "happy", "neutral"]
FIXTURE = Path(__file__).parent / "fixtures" / "records.jsonl"


def _record(out: Path, pipeline: str, family: str, protocol: str, fold: str, y, pred, proba,
            *, corruption=None, y_val=None, proba_val=None, fit_s=10.0, latency=1.0,
            size=1000) -> dict:
    ident = json.dumps([pipeline, protocol, fold, corruption])
    h = hashlib.sha256(ident.encode()).hexdigest()
    record = {
        "config_hash": h, "status": "ok", "pipeline": pipeline, "family": family,
        "protocol": protocol, "protocol_label": protocol, "fold": fold, "seed": 0,
        "view": "3class", "default_view": "3class", "params": {}, "face": {},
        "limit_train": None, "dataset_options": {}, "n_train": 90, "n_test": len(y),
        "metrics": classification_metrics(y, pred, CLASSES, proba, n_boot=10, seed=0),
        "timing": {"fit_s": fit_s, "latency_ms_batch1": latency, "predict_ms_per_image": 0.1},
        "model": {"bytes": size},
    }
    if corruption:
        record["corruption"] = {"name": corruption[0], "severity": corruption[1]}
    record["predictions"] = save_predictions(out, h, {
        "y_true": y, "y_pred": pred, "scores": proba, "scores_kind": "proba",
        "ids": [f"img{i:04d}" for i in range(len(y))], "y_val": y_val, "scores_val": proba_val})
    ResultStore(out).append(record)
    return record


def _proba(y_pred: np.ndarray, confidence: float) -> np.ndarray:
    p = np.full((len(y_pred), 3), (1 - confidence) / 2)
    p[np.arange(len(y_pred)), y_pred] = confidence
    return p


@pytest.fixture
def store(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 3, n)
    # A right on 80 %, B on 70 %, C on 50 %; each a seeded draw, so the pairs disagree.
    right = {name: rng.random(n) < acc for name, acc in (("a", 0.8), ("b", 0.7), ("c", 0.5))}
    preds = {k: np.where(r, y, (y + 1) % 3) for k, r in right.items()}
    fam = {"a": "deep", "b": "classical", "c": "classical"}
    yv = rng.integers(0, 3, 300)
    for k in "abc":
        _record(tmp_path, f"pipe-{k}", fam[k], "split", "official", y, preds[k],
                _proba(preds[k], 0.9), y_val=yv, proba_val=_proba(yv, 0.9),
                fit_s={"a": 1000.0, "b": 50.0, "c": 100.0}[k])
        for fold in range(5):  # a k-fold protocol: per-fold accuracies only
            m = 60
            yf = rng.integers(0, 3, m)
            ok = rng.random(m) < {"a": 0.9, "b": 0.6, "c": 0.55}[k]
            pf = np.where(ok, yf, (yf + 2) % 3)
            _record(tmp_path, f"pipe-{k}", fam[k], "kfold", f"fold{fold}", yf, pf,
                    _proba(pf, 0.6))
    for severity in (1, 2, 3, 4, 5):  # pipe-a loses 5 points per severity of blur
        keep = right["a"] & (rng.random(n) > 0.07 * severity)
        pred = np.where(keep, y, (y + 1) % 3)
        _record(tmp_path, "pipe-a", "deep", "split", "official", y, pred, _proba(pred, 0.9),
                corruption=("blur", severity))
    return tmp_path


def test_paired_comparisons_match_scipy_and_holm(store):
    write_analysis(load_records(store), store, plots=False)
    text = (store / ANALYSIS).read_text()
    recs = {r["pipeline"]: r for r in load_records(store)
            if r["protocol"] == "split" and not r.get("corruption")}
    ca, cb, cc = (load_predictions(store, recs[f"pipe-{k}"]).correct for k in "abc")
    p_ab = stats.binomtest(int((ca & ~cb).sum()), int((ca ^ cb).sum()), 0.5).pvalue
    p_ac = stats.binomtest(int((ca & ~cc).sum()), int((ca ^ cc).sum()), 0.5).pvalue
    p_bc = stats.binomtest(int((cb & ~cc).sum()), int((cb ^ cc).sum()), 0.5).pvalue
    adjusted = holm(np.array([p_ab, p_ac, p_bc]))
    line = next(l for l in text.splitlines() if l.startswith("| pipe-b"))
    assert f"{p_ab:.2g}" in line and f"{adjusted[0]:.2g}" in line
    assert f"+{100 * (ca.mean() - cb.mean()):.1f}" in line
    assert "Best: **pipe-a**" in text
    assert "## Classical vs deep" in text and "| split | pipe-a" in text


def test_kfold_uses_the_corrected_t_test_on_fold_accuracies(store):
    write_analysis(load_records(store), store, plots=False)
    text = (store / ANALYSIS).read_text()
    kfold = text.split("### kfold")[1]
    assert "Nadeau & Bengio" in kfold
    acc = {}
    for r in load_records(store):
        if r["protocol"] == "kfold":
            acc.setdefault(r["pipeline"], {})[r["fold"]] = r["metrics"]["accuracy"]
    d = np.array([acc["pipe-a"][f] - acc["pipe-b"][f] for f in sorted(acc["pipe-a"])])
    t = d.mean() / np.sqrt((1 / 5 + 60 / 90) * d.var(ddof=1))
    line = next(l for l in kfold.splitlines() if l.startswith("| pipe-b"))
    assert f"{t:.2f}" in line


def test_ranking_robustness_calibration_and_cost_sections(store):
    written = write_analysis(load_records(store), store, plots=True)
    text = (store / ANALYSIS).read_text()
    assert "Friedman χ²" in text and "analysis_cd.png" in text
    robust = text.split("## Robustness under corruption")[1].split("## Calibration")[0]
    line = next(l for l in robust.splitlines() if l.startswith("| pipe-a"))
    assert "†" in line  # one corruption of ten scored: the mCA says it is partial
    blur = [r["metrics"]["accuracy"] for r in load_records(store) if r.get("corruption")]
    assert f"{100 * np.mean(blur):.1f}" in line
    calib = text.split("## Calibration")[1]
    line = next(l for l in calib.splitlines() if l.startswith("| pipe-a"))
    # Confidence 0.9 everywhere, 80 % right: the ECE is |0.8 - 0.9| to float16 precision.
    acc = float(line.split("|")[2])
    assert abs(float(line.split("|")[3]) - abs(0.9 - acc / 100)) < 2e-3
    assert "| pipe-b" in text.split("## Cost of accuracy")[1]
    for path in written:
        assert path.exists()
    assert sum(p.suffix == ".png" for p in written) >= 4


def test_pareto_front():
    front = pareto_front([1, 2, 3, 4, 2], [0.5, 0.7, 0.6, 0.9, 0.7])
    assert front.tolist() == [True, True, False, True, True]


def test_a_damaged_predictions_file_is_reported_not_fatal(store):
    rec = next(r for r in load_records(store) if r["pipeline"] == "pipe-b"
               and r["protocol"] == "split")
    (store / rec["predictions"]["file"]).write_bytes(b"not a zip")
    write_analysis(load_records(store), store, plots=False)
    text = (store / ANALYSIS).read_text()
    assert "Without stored predictions" in text and "pipe-b" in text.split("### kfold")[0]


def test_reports_without_predictions_still_render(tmp_path):
    shutil.copy(FIXTURE, tmp_path / "records.jsonl")
    write_reports(tmp_path, plots=False)
    text = (tmp_path / ANALYSIS).read_text()
    assert "## Paired comparisons" in text and "run --rescore" in text
    assert "[analysis.md](analysis.md)" in (tmp_path / "README.md").read_text()


def test_several_seeds_still_pair_one_run_each(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    for k, acc in (("a", 0.8), ("b", 0.6)):
        for seed in (0, 1):
            right = rng.random(300) < acc
            pred = np.where(right, y, (y + 1) % 3)
            r = _record(tmp_path, f"pipe-{k}", "classical", "split", "official", y, pred,
                        _proba(pred, 0.8))
            # a second seed of the same job: another hash, same fold
            if seed:
                r = dict(r, seed=1, config_hash=r["config_hash"][::-1])
                ResultStore(tmp_path).append(r)
    write_analysis(load_records(tmp_path), tmp_path, plots=False)
    text = (tmp_path / ANALYSIS).read_text()
    assert "McNemar p" in text and "lowest-seed run" in text


@pytest.mark.parametrize("damage", ["flat_scores", "outside"])
def test_predictions_that_do_not_fit_their_record_are_refused(tmp_path, damage):
    from fer_bench.errors import FerBenchError

    y = np.array([0, 1, 2, 1])
    record = {"config_hash": "h", "n_test": 4, "pipeline": "p", "protocol": "x"}
    scores = np.ones(4) if damage == "flat_scores" else np.ones((4, 3)) / 3
    record["predictions"] = save_predictions(tmp_path, "h", {
        "y_true": y, "y_pred": y, "scores": scores, "ids": list("abcd")})
    if damage == "outside":
        record["predictions"] = dict(record["predictions"], file="../elsewhere.npz")
    with pytest.raises(FerBenchError, match="damaged predictions|outside predictions"):
        load_predictions(tmp_path, record)
