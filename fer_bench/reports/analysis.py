"""``analysis.md``: is B really better than A, where, and at what cost?

Computed from the records and their stored per-image predictions alone (never refitting), in
the parts each module renders:

* :mod:`.significance`: paired comparisons on one test set (McNemar, paired bootstrap, Holm),
  over the folds of a k-fold protocol (corrected resampled t-test), classical vs deep, and the
  ranking over every test set (Friedman, Nemenyi);
* :mod:`.robustness`: accuracy of stored models on corrupted test faces (``run --corrupt``);
* :mod:`.calibration`: expected calibration error before and after a temperature fitted on the
  validation split, and the thesis's "the right label is usually the second guess";
* :mod:`.cost`: accuracy against training time, batch-1 latency and model size, Pareto frontier.

Each pipeline is represented on a test set by the variant the headline table shows
(:mod:`.representatives`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ..atomic import write_text
from .aggregate import current, group, is_cross
from .calibration import N_BINS, calibration_section
from .representatives import Entry, columns, entries, n_folds, representative
from .significance import (
    ALPHA, CD_PNG, N_BOOT, _family_line, _fold_section, _ranking_section, _single_section,
    ranking,
)

__all__ = ["ALPHA", "ANALYSIS", "CD_PNG", "N_BINS", "N_BOOT", "Entry", "columns",
           "representative", "write_analysis"]

ANALYSIS = "analysis.md"


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
    write_text(out / ANALYSIS, "\n".join(lines).rstrip() + "\n")
    return [out / ANALYSIS, *written]
