"""How long a run will take, said before it starts: each job's cost read off earlier records.

A job is costed from the ``ok`` records of the same pipeline that fitted their model (not those
that scored a stored one) on a machine of the same kind (CPU or accelerator), taken from the
run's own store and from the project's published ``results/``:

* a pipeline without a training history (the classical ones, the hybrids): the record's wall
  time as a power law of its training-set size, fitted over the references in log-log space;
* a CNN: ``epochs x n_train`` times the references' median seconds per training image of an
  epoch, plus what a job spends outside its epochs (compiling, scoring) as a power law of its
  validation + test size.

Times are scaled by the ratio of the references' core count to this machine's. Jobs whose
pipeline has no reference are listed, not guessed. Early stopping, a loaded machine or a model
found in the trained-model store make a run shorter or longer: it is an estimate.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from statistics import median
from typing import Callable, Iterable, Sequence

from .jobs import Job

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
        text = (f"estimated duration: about {_duration(self.seconds)} for {known} job"
                f"{'s' if known != 1 else ''}")
        if self.deep_seconds:
            text += f" (CNN training {_duration(self.deep_seconds)})"
        if self.n_workers > 1:
            text += f" on {self.n_workers} workers"
        text += f", from {self.n_references} earlier records"
        if self.unknown:
            text += "; not costed (no earlier record): " + ", ".join(
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
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, (end - start).total_seconds())


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

    fit: Callable[[float], float]
    per_image_epoch: float | None = None  # CNNs: seconds per training image and epoch
    epochs: float | None = None           # CNNs: median epochs run by the references

    def seconds(self, job: Job, n_train: int, n_eval: int) -> tuple[float, float]:
        """``(total, of which training epochs)`` for ``job``."""
        if self.per_image_epoch is None:
            return self.fit(n_train), 0.0
        epochs = job.params.get("epochs", self.epochs)
        train = float(epochs) * n_train * self.per_image_epoch
        return train + self.fit(n_eval), train


def on_accelerator(device: str) -> bool:
    """Whether a record's ``environment.device`` (``"cpu"``, ``"jax:cpu (1x cpu)"``,
    ``"jax:gpu (1x H200)"`` ...) names an accelerator."""
    return not (device == "cpu" or device.startswith("jax:cpu"))


def _references(records: Iterable[dict], accelerator: bool
                ) -> dict[tuple[str, bool], list[dict]]:
    refs: dict[tuple[str, bool], list[dict]] = {}
    for r in records:
        env = r.get("environment") or {}
        if (r.get("status") != "ok" or (r.get("model") or {}).get("reused")
                or on_accelerator(str(env.get("device", "cpu"))) != accelerator
                or _wall(r) is None or not r.get("n_train")):
            continue
        refs.setdefault((r["pipeline"], r.get("corruption") is not None), []).append(r)
    return refs


def _costs(refs: list[dict], cores: int) -> _Costs:
    def scale(r: dict) -> float:  # a CPU-bound job on fewer cores takes proportionally longer
        return (r.get("environment") or {}).get("n_cores", cores) / cores

    deep = [r for r in refs if r.get("history")]
    if not deep:
        return _Costs(power_law([r["n_train"] for r in refs], [_wall(r) * scale(r) for r in refs]))
    per_image, rest, n_eval = [], [], []
    for r in deep:
        epoch_s = [h["seconds"] for h in r["history"] if h.get("seconds")]
        if not epoch_s:
            continue
        per_image.append(median(epoch_s) / r["n_train"] * scale(r))
        rest.append(max(1.0, _wall(r) - sum(epoch_s)) * scale(r))
        n_eval.append((r.get("n_val") or 0) + (r.get("n_test") or 0))
    if not per_image:
        return _Costs(power_law([r["n_train"] for r in deep], [_wall(r) * scale(r) for r in deep]))
    return _Costs(power_law(n_eval, rest), median(per_image),
                  median(len(r["history"]) for r in deep))


def estimate(jobs: Sequence[Job], records: Iterable[dict], n_workers: int = 1,
             accelerator: bool = False, cores: int | None = None) -> Estimate:
    """The expected duration of ``jobs`` run on ``n_workers`` workers of a machine with
    ``cores`` cores (default: this one's), from earlier ``records`` made on a machine with
    (``accelerator``) or without an accelerator."""
    from ..results.environment import n_cores

    cores = cores or n_cores()
    refs = _references(records, accelerator)
    models: dict[tuple[str, bool], _Costs] = {}
    total = deep = 0.0
    unknown: dict[str, int] = {}
    used: set[int] = set()
    for job in jobs:
        key = (job.pipeline, job.corruption is not None)
        if job.sizes is None or key not in refs:
            unknown[job.pipeline] = unknown.get(job.pipeline, 0) + 1
            continue
        if key not in models:
            models[key] = _costs(refs[key], cores)
            used.update(id(r) for r in refs[key])
        n_train, n_val, n_test = job.sizes
        if job.limit_train is not None:
            n_train = min(n_train, job.limit_train)
        seconds, training = models[key].seconds(job, n_train, n_val + n_test)
        total += seconds
        deep += training
    workers = max(1, min(n_workers, len(jobs)))
    return Estimate(total / workers, len(jobs), len(used), deep / workers, unknown, workers)


def reference_records(out: str | os.PathLike) -> list[dict]:
    """The records an estimate learns from: the run's store ``out`` and the published one."""
    from ..results.store import ResultStore

    records: list[dict] = []
    for where in dict.fromkeys([Path(out).resolve(), PUBLISHED]):
        store = ResultStore(where)
        if store.path.exists():
            records += store.load()
    return records
