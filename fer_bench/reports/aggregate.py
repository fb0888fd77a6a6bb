"""Group ``ok`` records into table cells: a row (pipeline + its parameters) x a column (protocol
+ label view + training-data options), summarised over folds and seeds.

Everything is computed from the records alone. A cell's per-class numbers pool the runs'
confusion matrices (summed, then scored); its accuracy is also given as mean ± std over runs.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from ..metrics import degeneracy, metrics_from_confusion, per_class_metrics
from ..registry import NEUTRAL_PARAMS  # they change no result: no variant of their own
from ..results.store import UNPLANNED_FOLD

_SEED_PARAMS = ("random_state", "seed")


def ok_records(records: Iterable[dict]) -> list[dict]:
    """The scored records of clean test sets: what the tables show. Records of corrupted test
    faces (``run --corrupt``) belong to the robustness analysis alone."""
    return [r for r in records if r.get("status") == "ok" and r.get("metrics")
            and not r.get("corruption")]


def failed_records(records: Sequence[dict]) -> list[dict]:
    """The failed records still worth listing, in order.

    A protocol whose data was broken when a run was planned fails on fold ``*`` (its folds were
    unknown); once a later record of the same pipeline, protocol, seed and view has a real fold,
    the data was fixed and that failure is history. Every other failure stays until its own job
    (same config hash) succeeds, which replaces its record.
    """
    planned_later: set[tuple] = set()
    out = []
    for r in reversed(records):
        key = (r.get("pipeline"), r.get("protocol_label"), r.get("seed"), r.get("view"))
        if r.get("fold") != UNPLANNED_FOLD:
            planned_later.add(key)
        elif key in planned_later:
            continue
        if r.get("status") != "ok":
            out.append(r)
    return out[::-1]


def degenerate_reasons(record: dict) -> list[str]:
    """Why an ``ok`` record's run is degenerate (``[]`` when it is not): the reasons it stores,
    or, for records written before the flag existed, the same test applied to its confusion
    matrix, so re-rendering flags old runs without refitting them."""
    m = record["metrics"]
    if "degenerate_reasons" in m:
        return list(m["degenerate_reasons"])
    return degeneracy(m["confusion"]["matrix"], m["confusion"]["classes"])


def training_seconds(record: dict) -> float | None:
    """Wall seconds the record's model trained: the sum of its epochs' seconds when its
    history has them (a training resumed from a checkpoint counts only its last part in
    ``timing.fit_s``), else ``timing.fit_s``; None when neither is known."""
    history = record.get("history") or []
    epochs = [e.get("seconds") for e in history]
    if history and all(isinstance(t, (int, float)) for t in epochs):
        return float(max(sum(epochs), (record.get("timing") or {}).get("fit_s") or 0.0))
    fit = (record.get("timing") or {}).get("fit_s")
    return float(fit) if isinstance(fit, (int, float)) else None


def slug(text: str) -> str:
    """A file-name-safe form: ``cross:fer2013->ckplus`` -> ``cross_fer2013-to-ckplus``."""
    text = text.replace("->", "-to-")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _row_config(r: dict) -> dict:
    params = {k: v for k, v in (r.get("params") or {}).items()
              if k not in _SEED_PARAMS and k not in NEUTRAL_PARAMS}
    config = {"params": params, "face": r.get("face") or {}}
    if r.get("init_from"):  # runs fine-tuned from other weights (same file name) never pool
        config["init_from_sha256"] = r["init_from"]["sha256"][:12]
    return config


def _column_config(r: dict) -> dict:
    options = {d: o for d, o in (r.get("dataset_options") or {}).items() if o}
    return {"view": r.get("view"), "limit_train": r.get("limit_train"), "dataset_options": options}


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "c": {}}`` -> ``{"a.b": 1}`` (an empty dict sets nothing)."""
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


_UNSET = object()


def _differences(configs: list[dict]) -> list[dict[str, Any]]:
    """For each config, the flattened entries that it sets and whose value is not the same in
    all of them (an entry a config does not set is left out of its description)."""
    flat = [_flatten(c) for c in configs]
    keys = sorted({k for f in flat for k in f})
    varying = [k for k in keys if len({_canon(f.get(k, _UNSET)) if k in f else "<unset>"
                                       for f in flat}) > 1]
    return [{k: f[k] for k in varying if k in f} for f in flat]


def _short(key: str) -> str:
    # "params.n_components" -> "n_components"; "dataset_options.synthetic.n_per_class" ->
    # "synthetic.n_per_class": keep what tells variants apart, drop the container name.
    return key.split(".", 1)[1] if "." in key else key


@dataclass
class Cell:
    """The runs of one pipeline variant on one protocol variant."""

    pipeline: str
    family: str | None
    protocol: str
    row_label: str
    column_label: str
    records: list[dict] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.records)

    def values(self, path: str, source: str | None = "metrics") -> np.ndarray:
        """``record[source][path]`` (``record[path]`` when ``source`` is None) of every run that
        has it, as floats; ``path`` may be dotted."""
        out = []
        for r in self.records:
            v = r if source is None else (r.get(source) or {})
            for part in path.split("."):
                v = v.get(part) if isinstance(v, dict) else None
            if isinstance(v, (int, float)):
                out.append(float(v))
        return np.asarray(out)

    def mean(self, path: str, source: str | None = "metrics") -> float | None:
        v = self.values(path, source)
        return float(v.mean()) if v.size else None

    def std(self, path: str, source: str | None = "metrics") -> float | None:
        v = self.values(path, source)
        return float(v.std(ddof=1)) if v.size > 1 else None

    @property
    def classes(self) -> list[str]:
        return list(self.records[0]["metrics"]["confusion"]["classes"])

    def pooled_confusion(self) -> np.ndarray:
        """Sum of the runs' confusion matrices (all runs share the class list)."""
        return np.sum([np.asarray(r["metrics"]["confusion"]["matrix"]) for r in self.records],
                      axis=0)

    def pooled(self) -> dict:
        """Per-class and summary metrics of the pooled confusion matrix, plus top-2 accuracy
        weighted by test-set size (top-2 needs the scores, which records do not keep)."""
        cm = self.pooled_confusion()
        out: dict[str, Any] = metrics_from_confusion(cm)
        out["per_class"] = per_class_metrics(cm, self.classes)
        weights = [(r["metrics"].get("top2_accuracy"),
                    r["metrics"].get("n") or r.get("n_test") or 0) for r in self.records]
        weights = [(v, w) for v, w in weights if v is not None and w]
        out["top2_accuracy"] = (sum(v * w for v, w in weights) / sum(w for _, w in weights)
                                if weights else None)
        out["confusion"] = cm
        return out

    @property
    def degenerate_runs(self) -> list[tuple[dict, list[str]]]:
        """``(record, reasons)`` of each run of the cell flagged degenerate, in run order."""
        flagged = [(r, degenerate_reasons(r)) for r in self.records]
        return [(r, reasons) for r, reasons in flagged if reasons]

    @property
    def pooled_degeneracy(self) -> list[str]:
        """Degeneracy reasons of the runs' summed confusion matrix when the cell has several
        (folds too small to trip a test alone, e.g. recall 0 on one class in every fold, can
        trip it together); ``[]`` for a single run, whose own reasons say it all."""
        return degeneracy(self.pooled_confusion(), self.classes) if self.n > 1 else []

    @property
    def degenerate(self) -> bool:
        """Whether a run of the cell, or the runs pooled, are degenerate."""
        return bool(self.degenerate_runs or self.pooled_degeneracy)

    @property
    def detection(self) -> dict:
        """Face detection on the cell's test images, pooled over its runs.

        ``rate`` is the fraction of the test images that went through detection where a face
        was found (None when none did: pre-cropped images, or ``mode=skip``), ``skipped`` says
        the face stage's mode was ``skip``. Records that count their test images
        (``face_detection``) also give ``test_images``, ``attempted``, ``detected``,
        ``no_face``, ``no_face_correct`` (summed over runs), ``paths`` (the no-face images
        they list, without repeats, in run order) and ``scored_as`` (``crop`` or ``wrong``);
        for older records ``counted`` is False and ``rate`` is the mean of their
        ``detection_rate`` (measured on the whole test dataset).
        """
        out: dict[str, Any] = {
            "skipped": all((r.get("face") or {}).get("mode") == "skip" for r in self.records),
            "scored_as": (self.records[0].get("face") or {}).get("no_face", "crop"),
        }
        counts = [r["face_detection"] for r in self.records if r.get("face_detection")]
        if counts and len(counts) == self.n:
            keys = ("test_images", "attempted", "detected", "no_face", "no_face_correct")
            out.update({k: int(sum(c.get(k, 0) for c in counts)) for k in keys})
            out["paths"] = list(dict.fromkeys(p for c in counts
                                              for p in c.get("no_face_paths", ())))
            out["rate"] = out["detected"] / out["attempted"] if out["attempted"] else None
            out["counted"] = True
            return out
        rates = [r.get("detection_rate") for r in self.records]
        rates = [v for v in rates if isinstance(v, (int, float))]
        out["rate"] = float(np.mean(rates)) if rates else None
        out["counted"] = False
        return out

    @property
    def history(self) -> list[tuple[str, list[dict]]]:
        """``(fold/seed label, per-epoch history)`` of every run that recorded one."""
        return [(f"fold {r['fold']} seed {r['seed']}", r["history"])
                for r in self.records if r.get("history")]


def current(records: Sequence[dict]) -> list[dict]:
    """``records`` less those a later record of the same job supersedes: same pipeline,
    protocol, fold, seed, row and column configuration, but another config hash, as when the
    harness changed what such a job computes (cross-dataset jobs reusing the training dataset's
    model since ``cross_version`` 2). Order is kept."""
    last: dict[str, int] = {}
    for i, r in enumerate(records):
        model = r.get("model") or {}
        given = None if model.get("key") else model.get("sha256")  # `evaluate`'s own file
        last[_canon([r.get("pipeline"), r.get("protocol_label") or r.get("protocol"),
                     r.get("fold"), r.get("seed"), _row_config(r), _column_config(r),
                     given, r.get("corruption")])] = i
    keep = set(last.values())
    return [r for i, r in enumerate(records) if i in keep]


def group(records: Iterable[dict]) -> list[Cell]:
    """Cells of the current ``ok`` records (see :func:`current`), in first-seen order of
    protocols, then of pipelines."""
    recs = current(ok_records(records))
    rows = {r["pipeline"]: [] for r in recs}
    for r in recs:
        cfg = _row_config(r)
        if cfg not in rows[r["pipeline"]]:
            rows[r["pipeline"]].append(cfg)
    row_label: dict[tuple[str, str], str] = {}
    for pipeline, configs in rows.items():
        for cfg, diff in zip(configs, _differences(configs)):
            extra = ", ".join(f"{_short(k)}={_fmt_value(v)}" for k, v in diff.items())
            row_label[(pipeline, _canon(cfg))] = f"{pipeline} [{extra}]" if extra else pipeline

    columns: dict[str, list[dict]] = {}
    defaults: dict[str, str | None] = {}
    for r in recs:
        label = r.get("protocol_label") or r["protocol"]
        defaults.setdefault(label, r.get("default_view"))
        cfg = _column_config(r)
        if cfg not in columns.setdefault(label, []):
            columns[label].append(cfg)
    col_label: dict[tuple[str, str], str] = {}
    for label, configs in columns.items():
        for cfg in configs:
            extra = []
            if cfg["view"] and cfg["view"] != defaults[label]:
                extra.append(cfg["view"])
            if cfg["limit_train"] is not None:
                extra.append(f"limit-train {cfg['limit_train']}")
            for d, options in cfg["dataset_options"].items():
                extra += [f"{k}={_fmt_value(v)}" for k, v in options.items()]
            col_label[(label, _canon(cfg))] = f"{label} [{', '.join(extra)}]" if extra else label

    cells: dict[tuple[str, str], Cell] = {}
    for r in recs:
        row = row_label[(r["pipeline"], _canon(_row_config(r)))]
        label = r.get("protocol_label") or r["protocol"]
        col = col_label[(label, _canon(_column_config(r)))]
        key = (row, col)
        if key not in cells:
            cells[key] = Cell(r["pipeline"], r.get("family"), label, row, col)
        cells[key].records.append(r)
    for cell in cells.values():
        cell.records.sort(key=lambda r: (str(r["fold"]), r["seed"]))
    return list(cells.values())


def _fmt_value(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def is_cross(cell_or_record: Cell | dict) -> bool:
    from ..protocols.cross import is_cross as cross_protocol

    protocol = (cell_or_record.protocol if isinstance(cell_or_record, Cell)
                else cell_or_record["protocol"])
    return cross_protocol(protocol)
