"""``<protocol>/README.md``: the index of one protocol's folder of classification reports.

A row per pipeline variant run on the protocol: its report (named by the short variant id of
:mod:`.layout`), the variant in full, its accuracy and its figures, so a reader browsing the
folder sees what each file holds.
"""
from __future__ import annotations

from typing import Sequence

from .aggregate import Cell
from .layout import (
    INDEX_MARKER, confusion_path, history_path, index_path, link, report_path, variant_text,
)
from .tables import _row_order, _table, degenerate_note, flag, mean_std


def render_protocol_index(protocol: str, cells: Sequence[Cell],
                          figures: Sequence[str] = ()) -> str:
    """The index of ``protocol``'s reports among ``cells`` (those of other protocols are left
    out), linking the figures of ``figures`` (paths relative to the results directory) that
    belong to them."""
    page = index_path(protocol)
    mine = [c for c in cells if c.protocol == protocol]
    order = {label: i for i, label in enumerate(_row_order(mine))}
    columns = list(dict.fromkeys(c.column_label for c in mine))
    mine.sort(key=lambda c: (order[c.row_label], columns.index(c.column_label)))
    drawn = set(figures)
    rows = []
    for c in mine:
        report = link(page, report_path(c))
        shown = [f"[{what}]({link(page, path)})" for what, path in
                 (("confusion matrix", confusion_path(c)), ("training curves", history_path(c)))
                 if path in drawn]
        rows.append([f"[{report}]({report})", c.pipeline, variant_text(c) or "—", str(c.n),
                     flag(mean_std(c, "accuracy", runs=False), c), ", ".join(shown) or "—"])
    lines = [INDEX_MARKER, "", f"# Reports on {protocol}", "",
             f"The classification report of each pipeline variant run on `{protocol}`, pooled "
             "over its runs; accuracy (%) is the mean ± std over runs. A variant names what "
             "sets it apart from the pipeline's other variants (parameters, label view, "
             "training-data options); each report gives its parameters in full. Back to "
             f"[the results]({link(page, 'README.md')}).", "",
             _table(rows, ["report", "pipeline", "variant", "runs", "accuracy %", "figures"]), "",
             *degenerate_note(mine)]
    return "\n".join(lines).rstrip("\n") + "\n"
