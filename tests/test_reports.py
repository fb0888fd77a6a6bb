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
from fer_bench.reports.layout import report_path
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


def cell_reports(results: Path) -> list[Path]:
    """The classification reports of a build: in the protocol folders, less their indexes."""
    return sorted(p for p in results.glob("*/*.md") if p.name != "README.md")


def report_of(results: Path, row_label: str, protocol: str) -> str:
    """The text of the report of the cell ``row_label`` on ``protocol`` in ``results``."""
    [cell] = [c for c in group(load_records(results))
              if c.row_label == row_label and c.protocol == protocol]
    return (results / report_path(cell)).read_text()


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
        assert f"[{100 * r['metrics']['accuracy']:.1f}](cross_" in text  # its protocol's folder
        assert f"{r['train_dataset']} → {r['test_dataset']}" in text
    home = [r["metrics"]["accuracy"] for r in runs("pca-logreg", "synthetic-holdout")
            if "n_components" not in r["params"]]
    assert f"*{cell_text(home)}*" in text  # the diagonal is the within-dataset result


def test_classification_report_pools_the_folds(results):
    write_reports(results, plots=False)
    folds = runs("pca-logreg", "kfold(synthetic)")
    [cell] = [c for c in group(fixture_records()) if c.protocol == "kfold(synthetic)"]
    text = (results / report_path(cell)).read_text()
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
    [report] = cell_reports(tmp_path)
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
    first = {p: p.read_text() for p in results.rglob("*.md")}
    write_reports(results, plots=False)
    assert {p: p.read_text() for p in results.rglob("*.md")} == first


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
    assert (tmp_path / "speed_accuracy.png") in pngs
    assert sum(n.endswith(".confusion.png") for n in names) == 2
    [history] = [p for p in pngs if p.name.endswith(".history.png")]
    assert history.name.startswith(cnn["pipeline"]) and history.parent.name == "synthetic-holdout"
    for p in pngs:
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 2000
    [report] = [p for p in cell_reports(tmp_path) if p.name.startswith(cnn["pipeline"])]
    # beside its report, linked by its bare name
    assert f"![training curves]({history.name})" in report.read_text()
    assert history.parent == report.parent


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
    report = report_of(results, "little-vgg", "synthetic-holdout")
    assert "## Degenerate runs" in report
    assert "- predicts angry for 92.5 % of the 40 test images" in report
    assert re.search(r"^\| official +\| 0 +\| 22\.5 ⚠ ", report, re.M)  # the run's own row
    plain = report_of(results, "pca-logreg", "synthetic-holdout")
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
    [report] = [p.read_text() for p in cell_reports(tmp_path)]
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
            better["val_metrics"] = {**(r.get("val_metrics") or {}), "accuracy": 0.8}
            out.append(better)
            # a variant that scores higher on test but lower on validation is not the one shown
            lure = json.loads(json.dumps(better))
            lure["params"] = {**r["params"], "n_components": 12}
            lure["config_hash"] = "f" * 64
            lure["metrics"]["accuracy"], lure["val_metrics"]["accuracy"] = 0.95, 0.7
            out.append(lure)
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
    [better] = [c for c in group(records) if c.row_label == "pca-logreg [n_components=10]"]
    assert re.fullmatch(r"\| fer2013 → ckplus +\| 7 +\| 140 +\| "
                        rf"\[90\.0\]\({re.escape(report_path(better))}\) +\| 76\.05 / 73\.38 +\|",
                        fer_ck)
    [ck_fer] = table_rows(combined, "ckplus → fer2013")
    accuracy = 100 * records[-1]["metrics"]["accuracy"]
    assert re.search(rf"\| \[{accuracy:.1f}\]\(cross_ckplus-to-fer2013/[^)]+\.md\) ⚠ +\| — +\|$",
                     ck_fer)
    assert "as reported in Table 4.1 of the thesis" in combined
    assert ("The thesis also reports jaffe → ckplus 54.05, fer2013 → jaffe 50.70 / 45.07, "
            "ckplus → jaffe 55.87; this store has no such runs.") in combined
    assert ("Variants chosen on validation: fer2013 → ckplus: pca-logreg [n_components=10]"
            in combined)
    assert "⚠ degenerate: " in combined
    # the per-pipeline matrices stay, marked the same way, with the reasons in the notes
    assert "### pca-logreg [n_per_class=40]" in text
    assert re.search(r"^\| ckplus +\| — +\| \[\d+\.\d\]\(cross_[^)]+\.md\) ⚠ +\|$", text,
                     re.M)
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


# --- the layout of a results directory ---------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(page: Path) -> list[str]:
    """The targets of ``page``'s Markdown links to files (web addresses and anchors left out)."""
    targets = (t.split("#", 1)[0] for t in LINK.findall(page.read_text()))
    return [t for t in targets if t and "://" not in t]


def deep_store(tmp_path: Path) -> Path:
    """The fixture plus a second run of its CNN (whose history is drawn), in ``tmp_path``."""
    records = fixture_records()
    [cnn] = [r for r in records if r.get("history")]
    other = json.loads(json.dumps(cnn))
    other.update(seed=1, config_hash="0" * 64)
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n"
                                                    for r in [*records, other]))
    return tmp_path


def test_every_link_of_a_build_resolves_and_every_report_is_linked(tmp_path, capsys):
    out = deep_store(tmp_path / "results")
    project = tmp_path / "README.md"
    from fer_bench.reports.readme import END, START

    project.write_text(f"# project\n\n{START}\n{END}\n")
    assert main(["report", str(out), "--readme", str(project)]) == 0
    pages = [project, *sorted(out.rglob("*.md"))]
    assert {"README.md", "methods.md", "cross_dataset.md", "analysis.md"} <= {
        p.name for p in pages if p.parent == out}
    linked = set()
    for page in pages:
        for target in relative_links(page):
            path = (page.parent / target).resolve()
            assert path.is_file(), f"{page.relative_to(tmp_path)} links {target}"
            linked.add(path)
    # nothing a build writes is out of a reader's reach: every report and figure is linked
    files = [p for p in out.rglob("*") if p.suffix in (".md", ".png") and p.name != "README.md"]
    assert files and not [p for p in files if p.resolve() not in linked]
    assert any(p.name.endswith(".history.png") for p in files)


def test_reports_lie_by_protocol_under_short_names(results):
    write_reports(results)
    cells = group(load_records(results))
    folders = {p.parent.name for p in cell_reports(results)}
    assert folders == {slug(c.protocol) for c in cells}
    assert "cross_synthetic-to-folder_tmp_fer-bench-fixture_faces-b" in folders
    assert not list(results.glob("report_*")) and not list(results.glob("confusion_*"))
    for c in cells:
        path = report_path(c)
        folder, name = path.split("/")
        assert folder == slug(c.protocol) and name.startswith(c.pipeline)
        assert len(name) <= len(c.pipeline) + 1 + 16 + len(".md"), name  # a short variant id
        assert (results / path).is_file()
        assert (results / path.replace(".md", ".confusion.png")).is_file()
        # the file says in full which variant it holds
        text = (results / path).read_text()
        assert f"# {c.row_label} on {c.column_label}" in text
        assert f"Pipeline parameters: `{c.records[0]['params']}`" in text
    # each protocol's index names every variant id with its label
    index = (results / "synthetic-holdout" / "README.md").read_text()
    for c in (c for c in cells if c.protocol == "synthetic-holdout"):
        name = report_path(c).split("/")[1]
        assert re.search(rf"^\| \[{re.escape(name)}\]\({re.escape(name)}\) +\| {c.pipeline} ",
                         index, re.M)
    assert "n_components=10; n_per_class=40" in index


def test_variant_ids_are_readable_when_short_and_hashed_when_long():
    import hashlib

    from fer_bench.reports.layout import variant_id

    [plain] = group(runs("pca-logreg", "kfold(synthetic)"))
    # the fixture's loader option is its column's variant: short, kept as it is
    assert plain.column_label == "kfold(synthetic) [n_per_class=40]"
    assert variant_id(plain) == "n_per_class=40"
    assert report_path(plain) == "kfold_synthetic/pca-logreg-n_per_class=40.md"
    [long] = [c for c in group(fixture_records()) if c.row_label == "pca-logreg [n_components=10]"]
    text = "n_components=10; n_per_class=40"
    assert variant_id(long) == hashlib.sha256(text.encode()).hexdigest()[:6]
    assert report_path(long) == f"synthetic-holdout/pca-logreg-{variant_id(long)}.md"


def test_report_removes_what_it_wrote_before_and_nothing_else(results):
    from fer_bench.reports.tables import MARKER

    # the flat layout of earlier versions, beside files of the user's
    old = [results / "report_hog-svm_synthetic-holdout.md",
           results / "confusion_hog-svm_synthetic-holdout.png",
           results / "history_little-vgg_synthetic-holdout.png"]
    old[0].write_text(f"{MARKER}\n\n# hog-svm on synthetic-holdout\n")
    old[1].write_bytes(PNG)
    old[2].write_bytes(PNG)
    mine = [results / "report_of_mine.md", results / "notes.png"]
    mine[0].write_text("# my own notes\n")
    mine[1].write_bytes(PNG)
    write_reports(results)
    assert not any(p.exists() for p in old) and all(p.exists() for p in mine)

    # a cell gone from the records takes its report and figure along, not the user's files
    records = load_records(results)
    [gone] = [c for c in group(records) if c.pipeline == "hog-svm"]
    folder = results / report_path(gone).split("/")[0]
    (folder / "my-notes.md").write_text("# kept\n")
    (results / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records
                                                   if r["pipeline"] != "hog-svm"))
    write_reports(results)
    assert not (results / report_path(gone)).exists()
    assert not (results / report_path(gone).replace(".md", ".confusion.png")).exists()
    assert (folder / "my-notes.md").exists() and (folder / "README.md").exists()
    assert "hog-svm" not in (folder / "README.md").read_text()

    # --no-plots leaves the figures of current cells where they are
    figures = sorted(results.glob("*/*.png"))
    write_reports(results, plots=False)
    assert sorted(results.glob("*/*.png")) == figures


def test_speed_accuracy_labels_do_not_overlap():
    from matplotlib.figure import Figure

    from fer_bench.reports.plots import place_labels

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    # a tight cluster, as the CNNs and SVMs form at 1-20 ms and 60-65 %
    xs, ys = 10 ** rng.uniform(0.4, 1.2, 14), rng.uniform(60, 66, 14)
    ax.scatter(xs, ys, s=40)
    ax.scatter([0.05, 100], [20, 95], s=40)  # limits wider than the cluster, as in the figure
    ax.set_xscale("log")
    place_labels(ax, [(str(i), x, y) for i, (x, y) in enumerate(zip(xs, ys), 1)])
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert len(boxes) == 14
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)


def test_the_cost_table_tells_a_fine_tuned_hybrid_from_one_reading_its_cnn():
    from fer_bench.reports.headline import training_cost_table

    [base] = [r for r in fixture_records() if r.get("history")][:1]
    read, tuned = (json.loads(json.dumps(base)) for _ in range(2))
    for r, params in ((read, {}), (tuned, {"fine_tune_epochs": 30})):
        r.update(pipeline="ensemble", family="hybrid", params={**params, "random_state": 0},
                 config_hash=r["config_hash"] + str(len(params)))
        r.pop("init_from", None)
    cells = group([read, tuned])
    table = training_cost_table(cells, cells)
    rows = [line for line in table.splitlines() if line.startswith("| ensemble")]
    assert len(rows) == 2
    assert any("| 30 " in row and "a trained CNN, fine-tuned" in row for row in rows)
    assert any("| — " in row and "a trained CNN, read as it is" in row for row in rows)


def test_a_reused_models_variant_is_chosen_on_the_validation_of_its_own_protocol():
    from fer_bench.reports.tables import best_cell, validation_accuracy

    [base] = [r for r in fixture_records() if not r["protocol"].startswith("cross:")][:1]
    records = []
    for n, (val, test) in enumerate([(0.4, 0.7), (0.6, 0.5)]):  # variant 0 wins on test only
        home = json.loads(json.dumps(base))
        home.update(params={**base["params"], "n_components": 5 + n}, config_hash=f"{n}" * 64,
                    val_metrics={"accuracy": val})
        cross = json.loads(json.dumps(home))
        cross.update(protocol="cross:a->b", protocol_label="cross:a->b",
                     config_hash=f"{n}c" * 32, finished_at="2020-01-0{}".format(2 - n),
                     model={"reused": True, "source": home["protocol"],
                            "trained_by": home["config_hash"]})
        cross.pop("val_metrics")
        cross["metrics"]["accuracy"] = test
        records += [home, cross]
    cells = group(records)
    chosen = best_cell(cells, base["pipeline"], "cross:a->b")
    assert chosen.records[0]["params"]["n_components"] == 6
    assert validation_accuracy(chosen, cells) == pytest.approx(0.6)
    assert validation_accuracy(chosen) is None  # its source not among the cells given


def test_a_run_refitted_on_its_validation_split_counts_its_selection_score():
    from fer_bench.reports.tables import _run_validation

    assert _run_validation({"val_metrics": {"accuracy": 0.5}}) == 0.5
    refit = {"val_metrics": None, "selection": {"scores": [
        {"params": {"C": 1}, "val_accuracy": 0.7}, {"params": {"C": 3}, "val_accuracy": 0.8}]}}
    assert _run_validation(refit) == 0.8
    assert _run_validation({"selection": {}}) is None
