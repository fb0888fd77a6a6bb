"""``methods.md``: every pipeline on every within-dataset protocol, a summary matrix then one
detailed table per protocol (test set), each row linked to its classification report."""
from __future__ import annotations

from typing import Sequence

from .aggregate import group, is_cross
from .layout import report_path
from .tables import (
    _columns, _header, _row_order, _table, degenerate_note, flag, mean_std, number, pct, seconds,
)


def render_methods(records: Sequence[dict]) -> str:
    """Pipelines x protocols: accuracy summary matrix, then one detailed table per protocol."""
    cells = [c for c in group(records) if not is_cross(c)]
    lines = _header("Methods: test accuracy per pipeline and protocol", records)
    if not cells:
        return "\n".join(lines + ["No within-dataset results yet.", ""])
    lines += [
        "Accuracy (%) on each protocol's test data, mean ± standard deviation over folds × "
        "seeds, with the number of runs in parentheses. Cross-dataset results are in "
        "[cross_dataset.md](cross_dataset.md); per-class reports are linked from each protocol's "
        "table.", "",
    ]
    rows, cols = _row_order(cells), _columns(cells)
    by_key = {(c.row_label, c.column_label): c for c in cells}
    family = {c.row_label: c.family or "" for c in cells}
    matrix = [[r, family[r]] + [flag(mean_std(by_key[(r, col)], "accuracy"), by_key[(r, col)])
                                if (r, col) in by_key else "" for col in cols] for r in rows]
    lines += ["## Test accuracy (%)", "", _table(matrix, ["pipeline", "family", *cols]), "",
              *degenerate_note(cells)]
    for col in cols:
        col_cells = [by_key[(r, col)] for r in rows if (r, col) in by_key]
        val_name = "PublicTest" if col_cells[0].protocol == "fer2013-official" else "validation"
        table = []
        for c in col_cells:
            ci = c.records[0]["metrics"].get("accuracy_ci95") if c.n == 1 else None
            table.append([
                f"[{c.row_label}]({report_path(c)})", c.family or "", str(c.n),
                flag(mean_std(c, "accuracy", runs=False), c),
                f"{pct(ci[0])}–{pct(ci[1])}" if ci and None not in ci else "—",
                mean_std(c, "balanced_accuracy", runs=False), mean_std(c, "macro_f1", runs=False),
                mean_std(c, "top2_accuracy", runs=False),
                mean_std(c, "accuracy", source="val_metrics", runs=False),
                seconds(c.mean("fit_s", "timing")),
                number(c.mean("predict_ms_per_image", "timing")),
                number(c.mean("peak_rss_mb", "timing"), 4),
                number(c.mean("n_train", None), 6), number(c.mean("n_test", None), 6),
            ])
        classes = col_cells[0].classes
        lines += [
            f"## {col}", "",
            f"{len(classes)} classes: {', '.join(classes)}.", "",
            _table(table, ["pipeline", "family", "runs", "accuracy %", "95 % CI (bootstrap, 1 run)",
                           "balanced accuracy %", "macro-F1 %", "top-2 accuracy %",
                           f"{val_name} accuracy %", "fit (s)", "predict (ms / image)",
                           "peak RSS (MB)", "train images", "test images"]),
            "", *degenerate_note(col_cells),
        ]
    lines += [
        "Times are means over runs, measured on the machine named in [README.md](README.md); "
        "predict time is for the whole test set divided by its size. Peak RSS is the process's "
        "resident-memory high-water mark during fit and predict.", "",
    ]
    return "\n".join(lines)
