"""How long a run will take, said before it starts: each job's cost read off earlier records.

A job is costed from the ``ok`` records of the same pipeline that fitted their model (not those
that scored a stored one), taken from the run's own store and from the project's published
``results/``; records of JAX jobs count only when made with the same kind of device (CPU or
accelerator) as this run's:

* a pipeline without a training history (the classical ones, the hybrids): the record's wall
  time as a power law of its training-set size, fitted over the references in log-log space
  (a corruption job, which only scores a stored model: of its test-set size);
* a CNN: ``epochs x n_train`` times the references' median seconds per training image of an
  epoch, plus what a job spends outside its steady epochs (compiling, scoring) as a power law of
  its validation + test size. A CNN job that states no ``epochs`` is not costed.

Times are scaled by the ratio of the references' core count to the cores each worker gets; the
run takes the larger of the total over the workers and its longest job. Jobs nothing costs are
listed, not guessed. A job that scores a model an earlier job of the run fits (``cross:A->B``
after ``A``'s own protocol or before it, a second ``cross:A->C``), or a model file it is given,
costs only a CNN's scoring (nothing for the others, whose scoring is cheap beside a fit).
Early stopping, a loaded machine or a model found in the trained-model
store make a run shorter or longer: it is an estimate.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from statistics import median
from typing import Callable, Iterable, Sequence

from .jobs import Job
from .model_store import fit_identity, model_source

#: The project's own published result store (a source checkout's ``results/``).
PUBLISHED = Path(__file__).resolve().parents[2] / "results"


@dataclass
class Estimate:
    """The expected duration of a list of jobs."""

    seconds: float
    n_jobs: int
    n_references: int
    deep_seconds: float = 0.0
    #: pipelines of jobs that no earlier record could cost
    unknown: dict[str, int] = field(default_factory=dict)
    n_workers: int = 1

    def line(self) -> str:
        """One line for the terminal, e.g. ``estimated duration: about 9 min ...``."""
        known = self.n_jobs - sum(self.unknown.values())
        if not known:
            return ("no duration estimate: no earlier record costs "
                    + ", ".join(f"{name} x{n}" for name, n in sorted(self.unknown.items())))
        text = (f"estimated duration: about {_duration(self.seconds)} for {known} job"
                f"{'s' if known != 1 else ''}")
        if self.deep_seconds:
            text += f" (CNN training {_duration(self.deep_seconds)})"
        if self.n_workers > 1:
            text += f" on {self.n_workers} workers"
        text += (f", from {self.n_references} earlier record"
                 f"{'s' if self.n_references != 1 else ''}")
        if self.unknown:
            text += "; not costed (no earlier record, or a CNN without epochs): " + ", ".join(
                f"{name} x{n}" for name, n in sorted(self.unknown.items()))
        return text


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{round(minutes)} min"
    return f"{minutes / 60:.1f} h"


def _wall(record: dict) -> float | None:
    try:
        start = datetime.fromisoformat(record["started_at"])
        end = datetime.fromisoformat(record["finished_at"])
        return max(0.0, (end - start).total_seconds())
    except (KeyError, TypeError, ValueError):  # missing, malformed, or naive beside aware
        return None


def power_law(xs: Sequence[float], ys: Sequence[float]) -> Callable[[float], float]:
    """``y = a * x**b`` fitted by least squares on logs (``b`` kept in [0.5, 2.5]; with one
    distinct ``x``, ``b = 1``), as a function of ``x``."""
    lx = [math.log(max(x, 1.0)) for x in xs]
    ly = [math.log(max(y, 1e-3)) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    var = sum((v - mx) ** 2 for v in lx)
    b = 1.0 if var < 1e-9 else sum((u - mx) * (v - my) for u, v in zip(lx, ly)) / var
    b = min(2.5, max(0.5, b))
    a = math.exp(my - b * mx)
    return lambda x: a * max(x, 1.0) ** b


@dataclass
class _Costs:
    """The cost model of one pipeline, learnt from its reference records."""

    #: seconds as a function of the training-set size (the test-set size for corruption jobs,
    #: which only score); for a CNN, of the validation + test size, outside the epochs
    fit: Callable[[float], float]
    per_image_epoch: float | None = None  # CNNs: seconds per training image and epoch

    def seconds(self, job: Job, n_train: int, n_val: int, n_test: int, fitted: bool = False
                ) -> tuple[float, float] | None:
        """``(total, of which training epochs)`` for ``job``; None when it cannot be costed (a
        CNN job that states no ``epochs``: its factory's schedule is not known here).
        ``fitted``: the job scores a model it does not fit (an earlier job of the run fits it,
        or it is given a model file), so only a CNN's scoring counts."""
        if job.corruption is not None:
            return self.fit(n_test), 0.0
        if fitted:
            return (0.0 if self.per_image_epoch is None else self.fit(n_val + n_test)), 0.0
        if self.per_image_epoch is None:
            return self.fit(n_train), 0.0
        if "epochs" not in job.params:
            return None
        train = float(job.params["epochs"]) * n_train * self.per_image_epoch
        return train + self.fit(n_val + n_test), train


def on_accelerator(device: str) -> bool:
    """Whether a record's ``environment.device`` (``"cpu"``, ``"jax:cpu (1x cpu)"``,
    ``"jax:gpu (1x H200)"`` ...) names an accelerator."""
    return not (device == "cpu" or device.startswith("jax:cpu"))


def _references(records: Iterable[dict], accelerator: bool
                ) -> dict[tuple[str, bool], list[dict]]:
    refs: dict[tuple[str, bool], list[dict]] = {}
    for r in records:
        device = str((r.get("environment") or {}).get("device", "cpu"))
        corrupted = r.get("corruption") is not None
        if (r.get("status") != "ok" or _wall(r) is None or not r.get("n_train")
                # a fit is costed from fits; a corruption job always scores a stored model
                or ((r.get("model") or {}).get("reused") and not corrupted)
                # "cpu": the job never loaded JAX, so it ran alike with or without a GPU
                or (device.startswith("jax:") and on_accelerator(device) != accelerator)):
            continue
        refs.setdefault((r["pipeline"], corrupted), []).append(r)
    return refs


def _costs(refs: list[dict], cores: float, corrupted: bool) -> _Costs:
    def scale(r: dict) -> float:  # a CPU-bound job on fewer cores takes proportionally longer
        return float((r.get("environment") or {}).get("n_cores") or cores) / cores

    def size(r: dict) -> float:
        return float(r.get("n_test") or 1) if corrupted else float(r["n_train"])

    deep = [r for r in refs if r.get("history") and not corrupted]
    per_image, rest, n_eval = [], [], []
    for r in deep:
        epoch_s = [float(h["seconds"]) for h in r["history"] if h.get("seconds")]
        if not epoch_s:
            continue
        # the median epoch is a steady one: what the first spends compiling counts as overhead
        per_image.append(median(epoch_s) / r["n_train"] * scale(r))
        rest.append(max(1.0, _wall(r) - median(epoch_s) * len(epoch_s)) * scale(r))
        n_eval.append((r.get("n_val") or 0) + (r.get("n_test") or 0))
    if not per_image:
        return _Costs(power_law([size(r) for r in refs], [_wall(r) * scale(r) for r in refs]))
    return _Costs(power_law(n_eval, rest), median(per_image))


def estimate(jobs: Sequence[Job], records: Iterable[dict], n_workers: int = 1,
             accelerator: bool = False, cores: int | None = None) -> Estimate:
    """The expected duration of ``jobs`` run on ``n_workers`` workers sharing a machine with
    ``cores`` cores (default: this one's), from earlier ``records`` made with
    (``accelerator``) or without an accelerator: the larger of the total over the workers and
    the longest job."""
    from ..results.environment import n_cores

    workers = max(1, min(n_workers, len(jobs)))
    share = max(1.0, (cores or n_cores()) / workers)  # joblib's workers split the cores
    refs = _references(records, accelerator)
    models: dict[tuple[str, bool], _Costs] = {}
    total = deep = longest = 0.0
    unknown: dict[str, int] = {}
    used: set[int] = set()
    fits: set[str] = set()  # the models (fit identities) an earlier job of the run fits
    for job in jobs:
        fit = json.dumps([fit_identity(model_source(job)), job.params], sort_keys=True,
                         default=str)
        # a job given a model file, or whose model an earlier job fits, only scores
        fitted = job.corruption is None and (job.model is not None or fit in fits)
        if job.model is None:
            fits.add(fit)
        key = (job.pipeline, job.corruption is not None)
        cost = None
        if job.sizes is not None and key in refs:
            if key not in models:
                models[key] = _costs(refs[key], share, key[1])
            n_train, n_val, n_test = job.sizes
            if job.limit_train is not None:
                n_train = min(n_train, job.limit_train)
            cost = models[key].seconds(job, n_train, n_val, n_test, fitted)
        if cost is None:
            unknown[job.pipeline] = unknown.get(job.pipeline, 0) + 1
            continue
        used.update(id(r) for r in refs[key])
        total += cost[0]
        deep += cost[1]
        longest = max(longest, cost[0])
    return Estimate(max(total / workers, longest), len(jobs), len(used), deep / workers, unknown,
                    workers)


def reference_records(out: str | os.PathLike) -> list[dict]:
    """The records an estimate learns from: the run's store ``out`` and the published one."""
    from ..results.store import ResultStore

    records: list[dict] = []
    for where in dict.fromkeys([Path(out).resolve(), PUBLISHED]):
        store = ResultStore(where)
        if store.path.exists():
            records += store.load()
    return records
