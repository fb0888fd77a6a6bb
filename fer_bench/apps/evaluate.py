"""Score a saved model on a whole dataset, as a harness job: the same record and reports as ``run``.

The job carries the model file (:attr:`~fer_bench.harness.jobs.Job.model`), so the harness
scores it instead of fitting (:func:`fer_bench.harness.execute.run_job`): cross-dataset jobs
of ``run`` and ``evaluate`` share one code path from the face stage to the record.
"""
from __future__ import annotations

from typing import Any

from ..errors import FerBenchError
from ..harness.jobs import Job
from ..registry import PIPELINES

#: The only face-stage setting ``evaluate`` may change: the model fixes the framing.
SCORING_ONLY = ("no_face",)


def evaluation_job(model_path: str, dataset: str, *, view: str | None = None,
                   face: dict[str, Any] | None = None,
                   dataset_options: dict[str, Any] | None = None) -> Job:
    """The job that scores the model file at ``model_path`` on every image of ``dataset``.

    Its protocol is ``cross:TRAIN->DATASET`` when the model's provenance names another training
    dataset (so its record joins the cross-dataset tables), else ``evaluate:DATASET``. The face
    stage is the model's own (``face`` may only set ``no_face``); the view defaults to the
    model's. Raises :class:`FerBenchError` for a model whose provenance names no registered
    pipeline, or a face setting other than ``no_face``.
    """
    from ..data.labels import VIEWS
    from ..harness.jobs import face_params
    from ..models import load_model

    model = load_model(model_path)  # checked once here: a bad file fails before any data loads
    p = model.provenance
    pipeline = p.get("pipeline")
    if pipeline not in PIPELINES:
        raise FerBenchError(f"{model_path}: its provenance names no registered pipeline "
                            f"({pipeline!r}); only files fer-bench's `train` or `run` wrote "
                            "can be evaluated")
    other = sorted(set(face or {}) - set(SCORING_ONLY))
    if other:
        raise FerBenchError(f"--face {', '.join(other)}: the model fixes its face stage "
                            f"({model.face}); only no_face can be set")
    trained_on = str(p.get("dataset") or "")
    protocol = (f"cross:{trained_on}->{dataset}" if trained_on and trained_on != dataset
                else f"evaluate:{dataset}")
    chosen_view = view or p.get("view") or "7class"
    if chosen_view not in VIEWS:
        raise FerBenchError(f"the model's view {chosen_view!r} is unknown here; pass --view")
    return Job(pipeline=pipeline, protocol=protocol, datasets=(dataset,), fold="all",
               seed=int(p.get("seed", 0)), view=chosen_view, params=dict(p.get("params") or {}),
               face=face_params({**model.face, **(face or {})}),
               dataset_options={dataset: dict(dataset_options or {})},
               model=str(model.path))
