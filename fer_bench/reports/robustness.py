"""The robustness part of ``analysis.md``: stored models scored on corrupted test faces.

``run --corrupt`` writes one record per model, corruption and severity
(:mod:`fer_bench.data.corruptions`); here they meet the clean record of the same pipeline
variant and test set. As ImageNet-C reports it (Hendrycks & Dietterich 2019), the summary is
the mean corruption accuracy (mCA: the mean over every corruption and severity 1-5) and its
ratio to the clean accuracy, which says how gracefully a pipeline degrades.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.corruptions import CORRUPTIONS, SEVERITIES, parameter
from .aggregate import Cell, _canon, _column_config, _row_config, slug
from .tables import _table, pct


def _identity(record: dict) -> str:
    return _canon([record.get("pipeline"), record.get("protocol_label") or record.get("protocol"),
                   _row_config(record), _column_config(record)])


def curves(cells: Sequence[Cell], corrupted: Sequence[dict]) -> list[dict]:
    """Per pipeline variant and test set with corrupted records: its clean cell and the mean
    accuracy (over folds) at each ``(corruption, severity)``."""
    clean = {_identity(c.records[0]): c for c in cells}
    found: dict[str, dict] = {}
    for r in corrupted:
        cell = clean.get(_identity(r))
        if cell is None:  # no clean record of that model here: nothing to compare against
            continue
        entry = found.setdefault(_identity(r), {"cell": cell, "acc": {}, "models": set()})
        entry["models"].add((r.get("model") or {}).get("key"))
        c = r["corruption"]
        entry["acc"].setdefault((c["name"], int(c["severity"])), []).append(
            float(r["metrics"]["accuracy"]))
    out = []
    for entry in found.values():
        entry["acc"] = {k: float(np.mean(v)) for k, v in entry["acc"].items()}
        # The clean runs of the very models that were corrupted (same folds and seeds).
        clean_runs = [float(r["metrics"]["accuracy"]) for r in entry["cell"].records
                      if (r.get("model") or {}).get("key") in entry["models"]]
        entry["clean"] = (float(np.mean(clean_runs)) if clean_runs
                          else entry["cell"].mean("accuracy") or 0.0)
        complete = [(n, s) for n in CORRUPTIONS for s in SEVERITIES if (n, s) in entry["acc"]]
        entry["mca"] = float(np.mean([entry["acc"][k] for k in complete])) if complete else None
        entry["complete"] = len(complete) == len(CORRUPTIONS) * len(SEVERITIES)
        out.append(entry)
    return out


def section(cells: Sequence[Cell], corrupted: Sequence[dict], out: Path, plots: bool
            ) -> tuple[list[str], list[Path]]:
    """The markdown lines and the figures written (accuracy-vs-severity curves per test set)."""
    lines = ["## Robustness under corruption", ""]
    found = curves(cells, corrupted)
    if not found:
        return lines + ["No corrupted test sets scored yet: `python -m fer_bench run "
                        "--pipelines P --protocols X --corrupt all --resume` scores the "
                        "stored models of those jobs on them.", ""], []
    names = list(CORRUPTIONS)
    levels = "; ".join(f"{n} {', '.join(f'{parameter(n, s):g}' for s in SEVERITIES)} "
                       f"{CORRUPTIONS[n].unit}" for n in names)
    lines += ["Each stored model scored on its test faces under 10 corruptions at severities "
              "1-5 (the same seeded corruption for every pipeline). Per corruption: the mean "
              "accuracy over its five severities; mCA: the mean over all 50; *kept*: mCA / "
              "clean accuracy. Levels: " + levels + ".", ""]
    written: list[Path] = []
    for protocol in dict.fromkeys(e["cell"].column_label for e in found):
        group = sorted([e for e in found if e["cell"].column_label == protocol],
                       key=lambda e: -(e["mca"] or 0))
        rows = []
        for e in group:
            means = [np.mean([e["acc"][(n, s)] for s in SEVERITIES if (n, s) in e["acc"]])
                     if any((n, s) in e["acc"] for s in SEVERITIES) else None for n in names]
            rows.append([e["cell"].row_label, e["cell"].family or "?", pct(e["clean"]),
                         *[pct(m) for m in means], pct(e["mca"]) + ("" if e["complete"] else " †"),
                         pct(e["mca"] / e["clean"]) if e["mca"] is not None and e["clean"]
                         else "—"])
        lines += [f"### {protocol}", "",
                  _table(rows, ["pipeline", "family", "clean %", *names, "mCA %", "kept %"]), ""]
        if any(not e["complete"] for e in group):
            lines += ["† over the corruptions scored so far, not all 50.", ""]
        if plots:
            from .analysis_plots import plot_robustness

            name = f"analysis_robustness_{slug(protocol)}.png"
            plot_robustness([(e["cell"].row_label, e["clean"], e["acc"]) for e in group],
                            names, list(SEVERITIES), f"Accuracy under corruption on {protocol}",
                            out / name)
            written.append(out / name)
            lines += [f"![accuracy vs severity]({name})", ""]
    return lines, written
