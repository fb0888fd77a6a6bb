"""Run a list of jobs into a result store: skip finished ones, store each record as it lands.

Records are written by this (the driving) process only, one atomic line each, as soon as a job
finishes; workers never touch the store. Failed jobs are stored too (``status: failed``), with
their traceback in ``failures.log``; the run goes on and :class:`RunSummary` lists them.
"""
from __future__ import annotations

import functools
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from tqdm import tqdm

from ..errors import FerBenchError
from ..results.predictions import predictions_path, save_predictions
from ..results.store import ResultStore
from .backends import run_jobs
from .execute import PREDICTIONS_KEY, run_job
from .jobs import Job


@dataclass
class RunSummary:
    """What a run did: jobs planned, skipped as finished, and the records it stored."""

    n_planned: int
    n_skipped: int
    records: list[dict] = field(default_factory=list)
    interrupted: bool = False

    @property
    def failures(self) -> list[dict]:
        return [r for r in self.records if r.get("status") != "ok"]

    @property
    def n_ok(self) -> int:
        return len(self.records) - len(self.failures)

    def lines(self) -> list[str]:
        """A human summary: counts, then one line per failed job."""
        head = (f"{self.n_ok} ok, {len(self.failures)} failed, {self.n_skipped} skipped "
                f"(already done) of {self.n_planned} jobs")
        if self.interrupted:
            head += f"; interrupted with {self.n_planned - self.n_skipped - len(self.records)} not run"
        out = [head]
        for r in self.failures:
            out.append(f"FAILED {r['pipeline']} on {r.get('protocol_label', r['protocol'])} "
                       f"fold {r['fold']} seed {r['seed']}: {r.get('error')}")
        return out


def model_root(out: str | os.PathLike) -> Path:
    """Where a results directory keeps its trained models (see :mod:`.model_store`)."""
    return Path(out).resolve() / "cache" / "models"


def plan(jobs: Sequence[Job], store: ResultStore, resume: bool = False, force: bool = False,
         rescore: bool = False) -> tuple[list[Job], int]:
    """The jobs to run now and how many are skipped because an ``ok`` record exists.

    Without ``resume``, ``force`` or ``rescore``, finding finished jobs in the store is an
    error: the user says whether to keep them (``--resume``) or redo them (``--force``).
    ``rescore`` is ``resume`` that also runs again the finished jobs whose per-image
    predictions are not in the store (records written before they were kept, or a file since
    deleted): such a job scores its model from the trained-model store when it is there and
    fits it again otherwise.
    """
    if sum((resume, force, rescore)) > 1:
        raise FerBenchError("--resume, --force and --rescore contradict each other; pass one")
    ok = [r for r in store.load() if r.get("status") == "ok"] if store.path.exists() else []
    if rescore:  # finished means: with its predictions file
        ok = [r for r in ok if (path := predictions_path(store.dir, r)) is not None
              and path.is_file()]
    done = {r["config_hash"] for r in ok}
    finished = [j for j in jobs if j.config_hash in done]
    if finished and not (resume or force or rescore):
        raise FerBenchError(
            f"{store.path}: {len(finished)} of these {len(jobs)} jobs already have results; "
            f"pass --resume to skip them or --force to run them again"
        )
    if force:
        return list(jobs), 0
    return [j for j in jobs if j.config_hash not in done], len(finished)


def keep_fit_facts(record: dict, earlier: Sequence[dict]) -> None:
    """Give a rescored ``record`` the training facts of the latest of its job's ``earlier``
    records that has them, when the model file it scored lacks them and it is that record's
    model (the same confusion matrix).

    A CNN saved by ``train`` from a finished checkpoint (the bundled model) records neither its
    per-epoch history nor its training time (only the seconds of that last call); the record
    written when it was trained has both. ``fit_facts_from`` says where they came from.
    """
    if record.get("history"):
        return
    before = next((r for r in reversed(earlier) if r.get("history")
                   and r["metrics"]["confusion"] == record["metrics"]["confusion"]), None)
    if before is None:
        return
    record["history"] = before["history"]
    record["timing"] = dict(record["timing"], fit_s=before["timing"]["fit_s"])
    record["fit_facts_from"] = {"config_hash": before["config_hash"],
                                "finished_at": before.get("finished_at")}


def store_record(store: ResultStore, record: dict) -> None:
    """Append ``record`` to ``store``, its per-image predictions (handed over by
    :func:`~.execute.score`) saved beside it first. Predictions that cannot be written never
    lose the record: it is stored without them and says why."""
    arrays = record.pop(PREDICTIONS_KEY, None)
    if arrays is not None:
        try:
            record["predictions"] = save_predictions(store.dir, record["config_hash"], arrays)
        except OSError as exc:
            record["predictions_error"] = f"{type(exc).__name__}: {exc}"
    store.append(record)


def execute_jobs(
    jobs: Sequence[Job],
    out: str | os.PathLike,
    *,
    data_root: str | None = None,
    backend: str = "joblib",
    n_jobs: int = 1,
    scheduler: str | None = None,
    client: Any = None,
    resume: bool = False,
    force: bool = False,
    rescore: bool = False,
    command: list[str] | None = None,
    progress: bool = True,
    announce: Callable[[list[Job]], None] | None = None,
) -> RunSummary:
    """Run ``jobs`` and append their records to ``<out>/records.jsonl``.

    ``announce`` is called with the runnable jobs left to run (after skipping the finished
    ones) before the first starts: ``run`` prints its duration estimate there.

    A ``KeyboardInterrupt`` stops the run after storing every record that had arrived; the
    summary is returned with ``interrupted`` set (the caller decides the exit code).
    """
    store = ResultStore(out)
    todo, skipped = plan(jobs, store, resume=resume, force=force, rescore=rescore)
    summary = RunSummary(n_planned=len(jobs), n_skipped=skipped)
    if not todo:
        return summary
    if announce is not None:
        announce([j for j in todo if j.problem is None])
    fn = functools.partial(
        run_job, data_root=None if data_root is None else str(data_root),
        checkpoint_root=str(Path(out).resolve() / "cache" / "checkpoints"),
        model_root=str(model_root(out)),
        stored_after=time.time() if force else None,  # --force: fit each model anew, once
        command=list(command) if command is not None else list(sys.argv),
    )
    earlier: dict[str, list[dict]] = {}
    if rescore and store.path.exists():
        for r in store.load(latest=False):
            if r.get("status") == "ok" and r.get("metrics"):
                earlier.setdefault(r["config_hash"], []).append(r)
    bar = tqdm(total=len(todo), desc="jobs", unit="job", disable=not progress, file=sys.stderr)
    try:
        for record in run_jobs(todo, fn, backend=backend, n_jobs=n_jobs, scheduler=scheduler,
                               client=client):
            trace = record.pop("traceback", None)
            if record.get("status") == "ok":
                keep_fit_facts(record, earlier.get(record["config_hash"], ()))
            store_record(store, record)
            summary.records.append(record)
            if record.get("status") != "ok":
                where = (f"{record['pipeline']} on {record.get('protocol_label')} fold "
                         f"{record['fold']} seed {record['seed']} ({record['config_hash'][:12]})")
                store.log_failure(where, trace or record.get("error", ""))
                bar.write(f"FAILED {where}: {record.get('error')}", file=sys.stderr)
            else:
                model = record.get("model") or {}
                if model.get("reused") and model.get("key"):  # a stored model: say so (a
                    # cross job takes seconds, not a refit); `evaluate` names its own file
                    bar.write(f"{record['pipeline']} on {record['protocol_label']}: scored the "
                              f"stored model of {model.get('source')} "
                              f"({str(model.get('key'))[:12]}) instead of fitting it again",
                              file=sys.stderr)
                bar.set_postfix_str(f"{record['pipeline']} {record['protocol_label']} "
                                    f"acc {record['metrics']['accuracy']:.3f}", refresh=False)
            bar.update(1)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        bar.close()
    return summary
