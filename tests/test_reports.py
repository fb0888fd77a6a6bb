"""Reports rendered from tests/fixtures/records.jsonl (real runs; see fixtures/make_records.py)."""
from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

from fer_bench.cli.main import main
from fer_bench.reports import write_reports
from fer_bench.reports.aggregate import group, slug
from fer_bench.reports.tables import seconds
from fer_bench.results.store import load_records

FIXTURE = Path(__file__).parent / "fixtures" / "records.jsonl"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def results(tmp_path) -> Path:
    shutil.copy(FIXTURE, tmp_path / "records.jsonl")
    return tmp_path


def fixture_records() -> list[dict]:
    return load_records(FIXTURE)


def runs(pipeline: str, protocol_label: str, **match) -> list[dict]:
    return [r for r in fixture_records() if r["pipeline"] == pipeline
            and r["protocol_label"] == protocol_label and r["status"] == "ok"
            and all(r["params"].get(k) == v for k, v in match.items())]


def cell_text(accs: list[float]) -> str:
    m = 100 * np.mean(accs)
    return f"{m:.1f} ± {100 * np.std(accs, ddof=1):.1f}" if len(accs) > 1 else f"{m:.1f}"


def test_fixture_is_a_real_multi_protocol_run():
    records = fixture_records()
    labels = {r["protocol_label"] for r in records}
    assert "synthetic-holdout" in labels and "kfold(synthetic)" in labels
    assert sum(label.startswith("cross:") for label in labels) == 2
    assert len(runs("pca-logreg", "kfold(synthetic)")) == 10
    assert all(r["status"] == "ok" and r["environment"]["packages"] for r in records)


def test_methods_table_holds_mean_std_and_runs_of_the_records(results):
    write_reports(results, plots=False)
    text = (results / "methods.md").read_text()
    holdout = [r["metrics"]["accuracy"] for r in runs("pca-logreg", "synthetic-holdout")
               if "n_components" not in r["params"]]
    kfold = [r["metrics"]["accuracy"] for r in runs("pca-logreg", "kfold(synthetic)")]
    [matrix_row] = [line for line in text.splitlines() if re.match(r"\| pca-logreg +\|", line)]
    assert f"{cell_text(holdout)} ({len(holdout)})" in matrix_row
    assert f"{cell_text(kfold)} (10)" in matrix_row
    # a parameter variant is its own row, named by what differs
    assert re.search(r"^\| pca-logreg \[n_components=10\] +\| classical", text, re.M)
    # validation accuracy and timing columns come from the records too
    val = [r["val_metrics"]["accuracy"] for r in runs("pca-logreg", "kfold(synthetic)")]
    assert cell_text(val) in text
    assert "cross:" not in text.split("## Test accuracy")[1]  # cross results live elsewhere


def test_cross_dataset_matrix(results):
    write_reports(results, plots=False)
    text = (results / "cross_dataset.md").read_text()
    cross = [r for r in fixture_records() if r["protocol"].startswith("cross:")]
    for r in cross:
        assert f"[{100 * r['metrics']['accuracy']:.1f}](report_" in text
        assert f"{r['train_dataset']} → {r['test_dataset']}" in text
    home = [r["metrics"]["accuracy"] for r in runs("pca-logreg", "synthetic-holdout")
            if "n_components" not in r["params"]]
    assert f"*{cell_text(home)}*" in text  # the diagonal is the within-dataset result


def test_classification_report_pools_the_folds(results):
    write_reports(results, plots=False)
    folds = runs("pca-logreg", "kfold(synthetic)")
    [cell] = [c for c in group(fixture_records()) if c.protocol == "kfold(synthetic)"]
    text = (results / f"report_{cell.slug}.md").read_text()
    pooled = np.sum([r["metrics"]["confusion"]["matrix"] for r in folds], axis=0)
    n = int(pooled.sum())
    assert n == sum(r["n_test"] for r in folds) == folds[0]["data"]["synthetic"]["n_images"]
    accuracy = np.trace(pooled) / n
    assert re.search(rf"\| accuracy \(pooled\) +\| {100 * accuracy:.1f} ", text)
    assert re.search(rf"\| Hamming loss +\| {1 - accuracy:.4f} ", text)
    assert re.search(rf"\| \*\*avg / total\*\* .*\| {n} +\|", text)
    top2 = sum(r["metrics"]["top2_accuracy"] * r["n_test"] for r in folds) / n
    assert re.search(rf"\| top-2 accuracy +\| {100 * top2:.1f} ", text)
    for i, name in enumerate(folds[0]["classes"]):  # one row per class, support from the matrix
        assert re.search(rf"^\| {name} .*\| {pooled[i].sum()} +\|$", text, re.M)
    assert "## Runs" in text and len(re.findall(r"^\| fold\d", text, re.M)) == 10


def test_classification_report_lists_test_time_augmentation_apart(tmp_path):
    folds = runs("pca-logreg", "kfold(synthetic)")
    for r, flip in zip(folds, np.linspace(0.5, 0.6, len(folds))):
        r["tta_accuracy"], r["tta_mode"] = {"flip": flip, "none": r["metrics"]["accuracy"]}, "none"
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in folds))
    write_reports(tmp_path, plots=False)
    [report] = tmp_path.glob("report_*.md")
    plain = cell_text([r["metrics"]["accuracy"] for r in folds])
    assert (f"the pipeline's own mode, `none`): none {plain}, flip 55.0 ± "
            in report.read_text())


def test_readme_links_resolve_and_quote_the_commands(results):
    written = write_reports(results, plots=False)
    text = (results / "README.md").read_text()
    for target in re.findall(r"\]\(([^)]+)\)", text):
        assert (results / target).exists(), target
    for r in fixture_records():
        assert shlex.join(r["command"]) in text
    env = fixture_records()[0]["environment"]
    assert re.search(r"^\| synthetic +\| 280 ", text, re.M)  # the data table: 7 x 40 faces
    assert env["cpu"] in text and env["packages"]["scikit-learn"] in text
    assert all(p.exists() for p in written)
    assert "## Failed runs" not in text


def test_rendering_is_deterministic(results, tmp_path):
    write_reports(results, plots=False)
    first = {p.name: p.read_text() for p in results.glob("*.md")}
    write_reports(results, plots=False)
    assert {p.name: p.read_text() for p in results.glob("*.md")} == first


def test_plots_are_written_and_embedded(tmp_path):
    # the fixture's CNN run recorded its training history (Keras-style keys); add a run whose
    # history uses the train_/val_ spelling, to draw both
    [cnn] = [r for r in fixture_records() if r.get("history")]
    other = json.loads(json.dumps(cnn))
    other.update(seed=1, config_hash="0" * 64, history=[
        {"epoch": e, "train_loss": 2 - 0.3 * e, "train_acc": 0.2 + 0.1 * e,
         "val_loss": 2.1 - 0.2 * e, "val_acc": 0.2 + 0.05 * e} for e in range(1, 3)])
    base = runs("pca-logreg", "synthetic-holdout")[0]
    with open(tmp_path / "records.jsonl", "w") as fh:
        for r in (base, cnn, other):
            fh.write(json.dumps(r) + "\n")
    written = write_reports(tmp_path)
    pngs = [p for p in written if p.suffix == ".png"]
    names = {p.name for p in pngs}
    assert "speed_accuracy.png" in names
    assert sum(n.startswith("confusion_") for n in names) == 2
    assert sum(n.startswith(f"history_{cnn['pipeline']}") for n in names) == 1
    assert not any(n.startswith("history_pca-logreg") for n in names)
    for p in pngs:
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 2000
    [report] = [p for p in written if p.name.startswith(f"report_{cnn['pipeline']}")]
    assert f"![training curves](history_{cnn['pipeline']}" in report.read_text()


def test_failed_runs_are_listed_not_scored(results):
    with open(results / "records.jsonl", "a") as fh:
        fh.write(json.dumps({"config_hash": "f" * 64, "pipeline": "hog-svm", "protocol": "jaffe-loso",
                             "protocol_label": "jaffe-loso", "fold": "KA", "seed": 0,
                             "status": "failed", "error": "MemoryError: out of memory"}) + "\n")
        fh.write('{"config_hash": "torn", "sta')  # a killed writer's partial line is ignored
    write_reports(results, plots=False)
    readme = (results / "README.md").read_text()
    assert "## Failed runs" in readme and "MemoryError: out of memory" in readme
    assert "jaffe-loso" not in (results / "methods.md").read_text()


def test_slug_makes_safe_file_names():
    assert slug("cross:fer2013->ckplus") == "cross_fer2013-to-ckplus"
    assert slug("pca-logreg [n_components=10]") == "pca-logreg_n_components_10"


def test_report_command(results, tmp_path, capsys):
    assert main(["report", str(results), "--no-plots"]) == 0
    assert (results / "README.md").exists() and "README.md" in capsys.readouterr().err
    empty = tmp_path / "nothing"
    empty.mkdir()
    assert main(["report", str(empty)]) == 2
    assert "no records found" in capsys.readouterr().err


def test_report_copies_the_headline_table_into_a_readme(results, tmp_path, capsys):
    from fer_bench.reports.readme import END, START

    project = tmp_path / "project"
    project.mkdir()
    readme = project / "README.md"
    readme.write_text(f"# title\n\nintro\n\n{START}\nold table\n{END}\n\nrest\n")
    assert main(["report", str(results), "--no-plots", "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# title\n\nintro\n\n") and text.endswith(f"{END}\n\nrest\n")
    assert "old table" not in text
    block = text.split(START)[1].split(END)[0]
    results_readme = (results / "README.md").read_text()
    for link in re.findall(r"\]\(([^)]+\.md)\)", block):
        assert link.startswith("../") and (project / link).resolve().is_file()
    # the same cells as the results front page, whose links are relative to results/
    def rows(text: str) -> list[list[str]]:
        text = re.sub(r"\]\([^)]*\)", "]", text)
        return [[c.strip() for c in line.split("|")] for line in text.splitlines()
                if line.startswith("| ")]

    assert rows(block) and all(row in rows(results_readme) for row in rows(block))
    readme.write_text("# no markers\n")
    assert main(["report", str(results), "--no-plots", "--readme", str(readme)]) == 2
    assert "fer-bench:headline" in capsys.readouterr().err


def test_runs_from_other_starting_weights_are_other_variants():
    folds = runs("pca-logreg", "kfold(synthetic)")[:2]
    for r, digest in zip(folds, ("aaaa" * 16, "bbbb" * 16)):
        r["params"] = {**r["params"], "init_from": "model.ferb"}
        r["init_from"] = {"path": "model.ferb", "sha256": digest}
    labels = sorted(c.row_label for c in group(folds))
    assert labels == ["pca-logreg [init_from_sha256=aaaaaaaaaaaa]",
                      "pca-logreg [init_from_sha256=bbbbbbbbbbbb]"]


# --- degenerate runs and the Table 4.1-shaped cross-dataset table ------------------------------

def table_rows(text: str, start: str) -> list[str]:
    """The Markdown table lines of ``text`` whose first cell starts with ``start``."""
    return [line for line in text.splitlines() if line.startswith(f"| {start}")]


def test_degenerate_cells_are_marked_in_every_table(results, tmp_path):
    # the fixture's 1-epoch little-VGG says "angry" for 37 of its 40 test faces, and
    # pca-logreg [n_components=10] scores the 20 % of always answering the largest class
    write_reports(results, plots=False)
    methods, readme = (results / "methods.md").read_text(), (results / "README.md").read_text()
    note = ("⚠ degenerate: a run behind the figure (or its runs pooled) predicts one class "
            "for ≥ 90 %")
    for row in ("little-vgg", "[little-vgg]", "pca-logreg [n_components=10]",
                "[pca-logreg [n_components=10]]"):
        assert table_rows(methods, row) and all("⚠" in line for line in table_rows(methods, row))
    assert not any("⚠" in line for line in table_rows(methods, "pca-logreg  "))
    assert methods.count(note) == 2  # the summary matrix and the synthetic-holdout table
    headline = readme.split("What each deep figure above cost")[0]
    [little] = table_rows(headline, "little-vgg")
    assert "⚠" in little and note in readme
    assert not any("⚠" in line for line in table_rows(headline, "pca-logreg"))  # best variant
    report = next(results.glob("report_little-vgg_*.md")).read_text()
    assert "## Degenerate runs" in report
    assert "- predicts angry for 92.5 % of the 40 test images" in report
    assert re.search(r"^\| official +\| 0 +\| 22\.5 ⚠ ", report, re.M)  # the run's own row
    plain = next(results.glob("report_pca-logreg_synthetic-holdout_*.md")).read_text()
    assert "⚠" not in plain and "Degenerate" not in plain
    # the project README's copy of the headline carries the mark and its footnote
    from fer_bench.reports.readme import END, START, update_headline

    (tmp_path / "project").mkdir()
    project = tmp_path / "project" / "README.md"
    project.write_text(f"{START}\n{END}\n")
    update_headline(project, results)
    assert note in project.read_text() and "⚠" in table_rows(project.read_text(), "little-vgg")[0]


def test_a_stored_flag_is_what_the_reports_show(tmp_path):
    [r] = runs("hog-svm", "synthetic-holdout")[:1]
    r["metrics"].update(degenerate=True, degenerate_reasons=["flagged when the run was made"])
    (tmp_path / "records.jsonl").write_text(json.dumps(r) + "\n")
    write_reports(tmp_path, plots=False)
    report = next(tmp_path.glob("report_*.md")).read_text()
    assert "- flagged when the run was made" in report


def thesis_pair_records() -> list[dict]:
    """The fixture's two cross runs relabelled FER2013 <-> CK+, a better parameter variant of
    the first and the second made a constant classifier (every face called the first class)."""
    out = []
    for r in fixture_records():
        if not r["protocol"].startswith("cross:"):
            continue
        first = r["train_dataset"] == "synthetic"
        train, test = ("fer2013", "ckplus") if first else ("ckplus", "fer2013")
        r.update(protocol=f"cross:{train}->{test}", protocol_label=f"cross:{train}->{test}",
                 train_dataset=train, test_dataset=test, datasets=[train, test])
        if not first:
            cm = np.asarray(r["metrics"]["confusion"]["matrix"])
            constant = np.zeros_like(cm)
            constant[:, 0] = cm.sum(axis=1)
            r["metrics"]["confusion"]["matrix"] = constant.tolist()
            r["metrics"]["accuracy"] = constant[0, 0] / constant.sum()
        out.append(r)
        if first:
            better = json.loads(json.dumps(r))
            better["params"] = {**r["params"], "n_components": 10}
            better["config_hash"] = "e" * 64
            better["metrics"]["accuracy"] = 0.9
            out.append(better)
    return out


def test_cross_dataset_table_has_the_shape_of_the_thesis_table(tmp_path):
    records = thesis_pair_records()
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    write_reports(tmp_path, plots=False)
    text = (tmp_path / "cross_dataset.md").read_text()
    combined = text.split("## All pipelines")[1].split("## Per pipeline")[0]
    [header] = [line for line in combined.splitlines() if line.startswith("| train → test")]
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "train → test", "shared classes", "test images", "pca-logreg", "thesis (Table 4.1)"]
    [fer_ck] = table_rows(combined, "fer2013 → ckplus")
    # the best variant, as the headline picks it, beside the thesis's two figures
    assert re.fullmatch(r"\| fer2013 → ckplus +\| 7 +\| 140 +\| "
                        r"\[90\.0\]\(report_pca-logreg_n_components_10_cross_fer2013-to-ckplus"
                        r"[^)]*\.md\) +\| 76\.05 / 73\.38 +\|", fer_ck)
    [ck_fer] = table_rows(combined, "ckplus → fer2013")
    accuracy = 100 * records[-1]["metrics"]["accuracy"]
    assert re.search(rf"\| \[{accuracy:.1f}\]\(report_[^)]+\) ⚠ +\| — +\|$", ck_fer)
    assert "as reported in Table 4.1 of the thesis" in combined
    assert ("The thesis also reports jaffe → ckplus 54.05, fer2013 → jaffe 50.70 / 45.07, "
            "ckplus → jaffe 55.87; this store has no such runs.") in combined
    assert "Best variants: fer2013 → ckplus: pca-logreg [n_components=10]" in combined
    assert "⚠ degenerate: " in combined
    # the per-pipeline matrices stay, marked the same way, with the reasons in the notes
    assert "### pca-logreg [n_per_class=40]" in text
    assert re.search(r"^\| ckplus +\| — +\| \[\d+\.\d\]\(report_[^)]+\) ⚠ +\|$", text, re.M)
    assert re.search(r"- ckplus → fer2013: .*; ⚠ predicts angry for 100\.0 % of the 280 test "
                     r"images", text)


def test_headline_says_what_each_deep_figure_cost_and_the_published_figure(results):
    write_reports(results, plots=False)
    readme = (results / "README.md").read_text()
    head, cost = readme.split("What each deep figure above cost")
    [little] = table_rows(head, "little-vgg")
    assert "65.5 [" in little and "the thesis, 25 epochs at batch 32" in head
    rows = table_rows(cost, "little-vgg")
    record = runs("little-vgg", "synthetic-holdout")[0]
    assert rows and f"| {record['params']['epochs']} " in rows[0]
    assert f"{seconds(record['timing']['fit_s'])} s" in rows[0]


def test_training_seconds_count_every_epoch_of_a_resumed_training():
    from fer_bench.reports.aggregate import training_seconds

    resumed = {"timing": {"fit_s": 300.0}, "history": [{"seconds": 200.0}] * 4}
    assert training_seconds(resumed) == 800.0  # the last part alone took 300 s
    assert training_seconds({"timing": {"fit_s": 12.5}}) == 12.5  # classical: no epochs
    assert training_seconds({"timing": {}}) is None
