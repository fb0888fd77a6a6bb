"""The classification report of one cell (a pipeline variant on a protocol variant), in the
manner of scikit-learn's ``classification_report``: per-class and summary metrics of its runs'
pooled confusion matrix, face detection on its test images, its runs and its provenance.

It is written to :func:`~.layout.report_path` and links its figures beside it.
"""
from __future__ import annotations

from pathlib import Path

from .aggregate import Cell, degenerate_reasons, is_cross
from .layout import confusion_path, history_path, link, report_path
from .tables import (
    DEGENERATE_MARK, MARKER, _criteria, _table, degenerate_findings, mean_std, model_text, pct,
    record_detection_text, seconds,
)

#: Test-time augmentation modes, plain first (the store sorts JSON keys).
TTA_ORDER = ("none", "flip", "tencrop")


def _test_source(record: dict) -> str | None:
    name = record.get("test_dataset") or record.get("dataset")
    return ((record.get("data") or {}).get(name) or {}).get("source")


def detection_section(cell: Cell) -> list[str]:
    """The per-run report's "Face detection" section: the detection rate on the test images,
    how the images without a face were scored and which they are (the first ones listed)."""
    d = cell.detection
    lines = ["## Face detection", ""]
    if d["rate"] is None:
        if d["skipped"]:
            return lines + ["No detection ran on the test images (face stage mode `skip`): "
                            "each is scored on its centred square.", ""]
        return lines + ["No detection ran on the test images: they are pre-cropped faces (the "
                        "face stage's `auto` mode takes images of at most 64 px on their longest "
                        "side as crops), so each is scored as it is.", ""]
    if not d["counted"]:
        return lines + [f"A face was found in {pct(d['rate'])} % of the test dataset's images "
                        "that went through detection (mean over runs). These records predate "
                        "the per-image counts; re-run them to list the images without a face.",
                        ""]
    pooled = " (pooled over runs)" if cell.n > 1 else ""
    text = (f"Detection ran on {d['attempted']} of the {d['test_images']} test images{pooled} "
            f"and found a face in {d['detected']} ({pct(d['rate'])} %).")
    k, n_test = d["no_face_correct"], d["test_images"]
    if not d["no_face"]:
        return lines + [text, ""]
    if d["scored_as"] == "wrong":
        text += (f" The {d['no_face']} without a face are counted as errors (`no_face=wrong`), "
                 "as a deployed predictor that finds no face to classify would be judged: "
                 "accuracy, its interval, top-2 accuracy and the Hamming loss count them "
                 "wrong, while the per-class figures and the confusion matrix are the model's "
                 "predictions on the centred crops of every image (an abstention is no class). "
                 f"On those crops the model was right {k} time(s), so accuracy is "
                 f"{pct(k / max(n_test, 1))} points below scoring them.")
    else:
        text += (f" The {d['no_face']} without a face are scored on their centred square like "
                 f"the others (the model was right on {k} of them), which a deployed predictor "
                 "that finds no face could not do; `--face no_face=wrong` counts them as "
                 "errors.")
    lines += [text, ""]
    source = _test_source(cell.records[0])
    shown = d["paths"]
    more = (f" (the first {len(shown)}; {d['no_face']} counted"
            f"{' over runs, each run counting its own' if cell.n > 1 else ''})"
            if len(shown) < d["no_face"] else "")
    lines += [f"Test images without a face{more}"
              + (f", relative to `{source}`" if source else "") + ":", ""]
    return lines + [f"- `{p}`" for p in shown] + [""]


def render_classification_report(cell: Cell, has_confusion_png: bool = False,
                                 has_history_png: bool = False) -> str:
    """sklearn-style classification report of a cell, pooled over its runs; the flags say
    whether its confusion-matrix and training-curve figures were drawn (they are linked)."""
    pooled = cell.pooled()
    lines = [MARKER, "", f"# {cell.row_label} on {cell.column_label}", ""]
    lines += [
        f"Pooled over {cell.n} run(s) (folds × seeds): the runs' confusion matrices are summed "
        "and every number below is computed from the sum, except top-2 accuracy (mean over runs "
        "weighted by test size). Accuracy over runs: "
        f"{mean_std(cell, 'accuracy', runs=False)} %.", "",
    ]
    if cell.degenerate:
        lines += ["## Degenerate runs", "",
                  f"{DEGENERATE_MARK} Flagged where {_criteria('a run (or the runs pooled)')}: "
                  "one class for nearly every image, or no better than the majority rate, is "
                  "no evidence that the model learnt the task; recall 0 means it never "
                  "recognises that class.", ""]
        lines += [f"- {why}" for why in degenerate_findings(cell)] + [""]
    lines += _per_class_section(pooled) + _summary_section(cell, pooled)
    lines += detection_section(cell)
    lines += _confusion_section(cell, pooled["confusion"], has_confusion_png, has_history_png)
    lines += _runs_section(cell) + _provenance_section(cell)
    return "\n".join(lines)


def _per_class_section(pooled: dict) -> list[str]:
    """One row per class and the support-weighted avg / total row."""
    per_class = pooled["per_class"]
    rows = [[name, pct(m["accuracy"]), pct(m["precision"]), pct(m["recall"]), pct(m["f1"]),
             str(m["support"])] for name, m in per_class.items()]
    support = sum(m["support"] for m in per_class.values())

    def weighted(key: str) -> float:
        return sum(m[key] * m["support"] for m in per_class.values()) / max(support, 1)

    rows.append(["**avg / total**", pct(weighted("accuracy")), pct(weighted("precision")),
                 pct(weighted("recall")), pct(weighted("f1")), str(int(pooled["confusion"].sum()))])
    return [_table(rows, ["class", "accuracy % (one-vs-rest)", "precision %", "recall %",
                          "F1 %", "support"]), "",
            "The avg / total row weights each class by its support.", ""]


def _summary_section(cell: Cell, pooled: dict) -> list[str]:
    """The pooled summary metrics and each test-time augmentation mode's accuracy."""
    top1, top2 = pooled["accuracy"], pooled["top2_accuracy"]
    summary = [
        ["accuracy (pooled)", pct(top1)],
        ["balanced accuracy", pct(pooled["balanced_accuracy"])],
        ["macro-F1", pct(pooled["macro_f1"])],
        ["Hamming loss", f"{pooled['hamming_loss']:.4f}"],
        ["top-2 accuracy", pct(top2)],
    ]
    if top2 is not None and top1 < 1:
        summary.append(["errors whose second guess is right", pct((top2 - top1) / (1 - top1))])
    lines = [_table(summary, ["metric", "value"]), ""]
    tta_modes = sorted({m for r in cell.records for m in r.get("tta_accuracy") or {}},
                       key=lambda m: (TTA_ORDER.index(m) if m in TTA_ORDER else len(TTA_ORDER),
                                      m))
    if tta_modes:
        own = cell.records[0].get("tta_mode", "none")
        lines += ["Test-time augmentation, accuracy % (mean over runs; the tables above use "
                  f"the pipeline's own mode, `{own}`): " + ", ".join(
                      f"{mode} {mean_std(cell, mode, 'tta_accuracy', runs=False)}"
                      for mode in tta_modes) + ".", ""]
    if top2 is not None:
        lines += ["Top-2 accuracy is how often the right label is the first or the second guess "
                  "of the model.", ""]
    return lines


def _confusion_section(cell: Cell, cm, has_confusion_png: bool,
                       has_history_png: bool) -> list[str]:
    """The pooled confusion matrix in counts, then the linked figures that were drawn."""
    classes = cell.classes
    lines = ["## Confusion matrix (counts; rows true, columns predicted)", "",
             _table([[c, *map(str, cm[i])] for i, c in enumerate(classes)],
                    ["true \\ predicted", *classes]),
             ""]
    page = report_path(cell)
    if has_confusion_png:
        lines += [f"![normalised confusion matrix]({link(page, confusion_path(cell))})", ""]
    if has_history_png:
        lines += ["## Training curves", "",
                  f"![training curves]({link(page, history_path(cell))})", ""]
    return lines


def _runs_section(cell: Cell) -> list[str]:
    """A row per run: its fold, seed, accuracy with its interval, sizes and fit time."""
    run_rows = []
    for r in cell.records:
        m = r["metrics"]
        mark = f" {DEGENERATE_MARK}" if degenerate_reasons(r) else ""
        run_rows.append([str(r["fold"]), str(r["seed"]), pct(m["accuracy"]) + mark,
                         f"{pct(m['accuracy_ci95'][0])}–{pct(m['accuracy_ci95'][1])}"
                         if m.get("accuracy_ci95") and None not in m["accuracy_ci95"] else "—",
                         pct(m.get("macro_f1")), str(r.get("n_train", "")),
                         str(r.get("n_test", "")), record_detection_text(r),
                         seconds((r.get("timing") or {}).get("fit_s"))])
    lines = ["## Runs", "", _table(run_rows, ["fold", "seed", "accuracy %", "95 % CI",
                                              "macro-F1 %", "train images", "test images",
                                              "test faces found %", "fit (s)"]), ""]
    if cell.degenerate_runs:
        lines += [f"{DEGENERATE_MARK} degenerate run: see [Degenerate runs]"
                  "(#degenerate-runs) above.", ""]
    return lines


def _provenance_section(cell: Cell) -> list[str]:
    """The full parameters, the model scored or kept, and the weights it started from."""
    first = cell.records[0]
    params = first.get("params") or {}
    lines = [f"Pipeline parameters: `{params}`; label view `{first.get('view')}`; "
             f"config hash of the first run `{first['config_hash'][:16]}`.", ""]
    if is_cross(cell):
        lines += [f"Model: {model_text(cell)}; predictions are the argmax over the classes "
                  "both datasets share.", ""]
    elif first.get("model", {}).get("file"):
        lines += [f"Model file kept in the trained-model store: "
                  f"`{Path(first['model']['file']).name}` (reused by the jobs that "
                  "need the same model).", ""]
    start = first.get("init_from")
    if start:
        lines += [f"Initialised from the trained model `{start['path']}` (SHA-256 "
                  f"`{start['sha256'][:16]}…`; every layer but the classifier).", ""]
    return lines
