"""Where jobs run: local processes through joblib, or a Dask distributed cluster.

Both backends yield each job's record as soon as it finishes (in completion order), so the
runner can store it at once: a run killed midway keeps everything that had finished.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterator, Sequence

from ..errors import FerBenchError
from .jobs import Job, error_line

BACKENDS = ("joblib", "dask")

#: ``fn(job) -> record``; must be picklable (a module-level function or a functools.partial).
JobFn = Callable[[Job], dict]


def run_joblib(jobs: Sequence[Job], fn: JobFn, n_jobs: int = 1) -> Iterator[dict]:
    """Run ``fn`` over ``jobs`` in ``n_jobs`` worker processes (in this process when 1)."""
    if n_jobs == 1:  # no pool: tracebacks stay simple and per-process caches are shared
        for job in jobs:
            yield fn(job)
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    yield from parallel(delayed(fn)(job) for job in jobs)


def dask_client(scheduler: str | None = None, n_workers: int = 1):
    """A client of the cluster at ``scheduler``, or of a new local cluster of ``n_workers``."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise FerBenchError(
            "--backend dask needs dask.distributed: pip install 'fer-bench[distributed]'"
        ) from None
    if scheduler:
        try:
            return Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise FerBenchError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one with "
                f"`dask scheduler` and `dask worker ADDRESS`, or leave --scheduler out for a local cluster"
            ) from None
    if n_workers < 1:  # joblib's convention: -1 is every core
        n_workers = max((os.cpu_count() or 1) + 1 + n_workers, 1)
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1,
                           host="127.0.0.1", dashboard_address=None)
    return Client(cluster)


def run_dask(jobs: Sequence[Job], fn: JobFn, client: Any) -> Iterator[dict]:
    """Submit every job to ``client``'s cluster and yield records as they complete.

    A job whose worker died (so ``fn`` could not even return a failed record) comes back as a
    failed record built here. Interrupting the iteration cancels what has not run yet.
    """
    from dask.distributed import as_completed

    futures = client.map(fn, list(jobs), pure=False)
    owner = {f.key: job for f, job in zip(futures, jobs)}
    try:
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # lost worker, unpicklable result ...
                yield lost_job_record(owner[future.key], exc)
    finally:
        client.cancel([f for f in futures if not f.done()])


def lost_job_record(job: Job, exc: BaseException) -> dict:
    """A failed record for a job that never returned one (its worker died)."""
    from .execute import now

    return {
        "config_hash": job.config_hash, "pipeline": job.pipeline, "protocol": job.protocol,
        "protocol_label": job.spec.label, "datasets": list(job.datasets), "fold": job.fold,
        "seed": job.seed, "view": job.view, "params": dict(job.params), "status": "failed",
        "error": error_line(exc), "finished_at": now(),
    }


def run_jobs(jobs: Sequence[Job], fn: JobFn, backend: str = "joblib", n_jobs: int = 1,
             scheduler: str | None = None, client: Any = None) -> Iterator[dict]:
    """Records of ``jobs`` run by ``fn`` on ``backend``, in completion order.

    For Dask, ``client`` (an existing ``distributed.Client``) wins over ``scheduler`` (an
    address); with neither a local cluster of ``n_jobs`` workers is started and closed after.
    """
    if backend == "joblib":
        yield from run_joblib(jobs, fn, n_jobs)
        return
    if backend != "dask":
        raise FerBenchError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    own = client is None
    if own:
        client = dask_client(scheduler, n_jobs)
    try:
        yield from run_dask(jobs, fn, client)
    finally:
        if own:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
