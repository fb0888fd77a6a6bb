"""Harness: expand a suite into jobs, run them (joblib or Dask), store one record per job."""
from __future__ import annotations

from .jobs import HARNESS_VERSION, Job, ProtocolSpec, Selection, expand_jobs, resolve_selection
from .runner import RunSummary, execute_jobs

__all__ = [
    "HARNESS_VERSION", "Job", "ProtocolSpec", "RunSummary", "Selection", "execute_jobs",
    "expand_jobs", "resolve_selection",
]
