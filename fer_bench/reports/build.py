"""Write every report of a results directory from its ``records.jsonl``.

The files go where :mod:`.layout` says: the pages at the top, each protocol's classification
reports and their figures in a folder of their own. Files an earlier build wrote that this one
no longer does (the flat layout's ``report_*.md`` / ``confusion_*.png`` / ``history_*.png``, and
the reports of cells gone from the records) are removed, and only those
(:func:`~.layout.stale_files` says how they are told from the user's own files).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ..atomic import write_text
from ..errors import FerBenchError
from ..results.store import load_records
from .aggregate import Cell, group, is_cross
from .classification_report import render_classification_report
from .cross_dataset_page import render_cross
from .layout import confusion_path, history_path, index_path, remove_stale, report_path
from .methods_page import render_methods
from .protocol_index import render_protocol_index
from .results_readme import render_readme
from .tables import _row_order

SPEED_ACCURACY = "speed_accuracy.png"


def write_reports(results_dir: str | os.PathLike, plots: bool = True) -> list[Path]:
    """Render methods.md, cross_dataset.md, README.md, analysis.md, each protocol's folder of
    classification reports with its index and (with ``plots``) the PNG figures into
    ``results_dir``; remove what an earlier build wrote and this one does not; return the paths
    written.

    Raises :class:`~fer_bench.errors.FerBenchError` when there is no ``records.jsonl``.
    """
    out = Path(results_dir)
    records = load_records(out)
    cells = group(records)
    _check_unique(cells)
    plot_files = _write_figures(cells, out) if plots else []
    written = [out / name for name in plot_files]
    pages: dict[str, str] = {}
    for cell in cells:
        pages[report_path(cell)] = render_classification_report(
            cell, has_confusion_png=confusion_path(cell) in plot_files,
            has_history_png=history_path(cell) in plot_files)
    for protocol in dict.fromkeys(c.protocol for c in cells):
        pages[index_path(protocol)] = render_protocol_index(protocol, cells, plot_files)
    top = [name for name in plot_files if "/" not in name]
    pages.update({"methods.md": render_methods(records),
                  "cross_dataset.md": render_cross(records),
                  "README.md": render_readme(records, {"plots": top})})
    remove_stale(out, [*pages, *plot_files])
    for name, text in pages.items():
        (out / name).parent.mkdir(exist_ok=True)
        write_text(out / name, text)  # atomic: a reader never sees half a report
        written.append(out / name)
    from .analysis import write_analysis

    written += write_analysis(records, out, plots=plots)
    return written


def _check_unique(cells: Sequence[Cell]) -> None:
    """Two cells never share a report (their variant ids would have to collide)."""
    seen: dict[str, Cell] = {}
    for cell in cells:
        other = seen.setdefault(report_path(cell), cell)
        if other is not cell:
            raise FerBenchError(
                f"{other.row_label} on {other.column_label} and {cell.row_label} on "
                f"{cell.column_label} would share the report {report_path(cell)}")


def _write_figures(cells: Sequence[Cell], out: Path) -> list[str]:
    """Draw each cell's confusion matrix (and training curves) and the speed-accuracy scatter;
    return their paths relative to ``out``."""
    from . import plots as figures

    drawn: list[str] = []
    for cell in cells:
        (out / confusion_path(cell)).parent.mkdir(exist_ok=True)
        pooled = cell.pooled_confusion()
        figures.plot_confusion(pooled, cell.classes, f"{cell.row_label} on {cell.column_label} "
                               f"({cell.n} run{'s' if cell.n != 1 else ''}, row-normalised %)",
                               out / confusion_path(cell))
        drawn.append(confusion_path(cell))
        if cell.history:
            figures.plot_history(cell.history, f"{cell.row_label} on {cell.column_label}",
                                 out / history_path(cell))
            drawn.append(history_path(cell))
    rows = {label: i for i, label in enumerate(_row_order(cells))}  # numbered as the tables
    within = sorted((c for c in cells if not is_cross(c)), key=lambda c: rows[c.row_label])
    points = [(c.row_label, c.column_label, c.mean("predict_ms_per_image", "timing"),
               c.mean("accuracy")) for c in within]
    points = [p for p in points if p[2] is not None and p[3] is not None]
    if points:
        figures.plot_speed_accuracy(points, out / SPEED_ACCURACY)
        drawn.append(SPEED_ACCURACY)
    return drawn
