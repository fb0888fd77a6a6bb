"""Write every report of a results directory from its ``records.jsonl``."""
from __future__ import annotations

import os
from pathlib import Path

from ..atomic import write_text
from ..results.store import load_records
from .aggregate import group, is_cross
from .tables import (
    confusion_name, history_name, render_classification_report, render_cross, render_methods,
    render_readme, report_name,
)


def write_reports(results_dir: str | os.PathLike, plots: bool = True) -> list[Path]:
    """Render methods.md, cross_dataset.md, report_*.md, README.md, analysis.md and (with
    ``plots``) the PNG figures into ``results_dir``; return the paths written.

    Raises :class:`~fer_bench.errors.FerBenchError` when there is no ``records.jsonl``.
    """
    out = Path(results_dir)
    records = load_records(out)
    cells = group(records)
    written: list[Path] = []
    plot_files: list[str] = []
    if plots:
        from . import plots as figures

        for cell in cells:
            pooled = cell.pooled_confusion()
            figures.plot_confusion(pooled, cell.classes, f"{cell.row_label} on {cell.column_label} "
                                   f"({cell.n} run{'s' if cell.n != 1 else ''}, row-normalised %)",
                                   out / confusion_name(cell))
            plot_files.append(confusion_name(cell))
            if cell.history:
                figures.plot_history(cell.history, f"{cell.row_label} on {cell.column_label}",
                                     out / history_name(cell))
                plot_files.append(history_name(cell))
        points = [(c.row_label, c.column_label, c.mean("predict_ms_per_image", "timing"),
                   c.mean("accuracy")) for c in cells if not is_cross(c)]
        points = [p for p in points if p[2] is not None and p[3] is not None]
        if points:
            figures.plot_speed_accuracy(points, out / "speed_accuracy.png")
            plot_files.append("speed_accuracy.png")
    written += [out / name for name in plot_files]

    reports = []
    for cell in cells:
        name = report_name(cell)
        text = render_classification_report(
            cell, has_confusion_png=confusion_name(cell) in plot_files,
            has_history_png=history_name(cell) in plot_files,
        )
        write_text(out / name, text)  # atomic: a reader never sees half a report
        reports.append(name)
    for name, text in (("methods.md", render_methods(records)),
                       ("cross_dataset.md", render_cross(records)),
                       ("README.md", render_readme(records, {"reports": reports, "plots": plot_files}))):
        write_text(out / name, text)
        written.append(out / name)
    written += [out / name for name in reports]
    from .analysis import write_analysis

    written += write_analysis(records, out, plots=plots)
    return written
