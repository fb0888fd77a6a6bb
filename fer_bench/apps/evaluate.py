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


def same_dataset(a: str, b: str) -> bool:
    """Whether two dataset names mean the same data (``folder:`` paths compared resolved)."""
    from pathlib import Path

    if a.startswith("folder:") and b.startswith("folder:"):
        return Path(a[len("folder:"):]).resolve() == Path(b[len("folder:"):]).resolve()
    return a == b


def evaluation_job(model_path: str, dataset: str, *, view: str | None = None,
                   face: dict[str, Any] | None = None,
                   dataset_options: dict[str, Any] | None = None) -> Job:
    """The job that scores the model file at ``model_path`` on every image of ``dataset``.

    Its protocol is ``cross:TRAIN->DATASET`` when the model's provenance names its training
    dataset (so its record joins the cross-dataset tables), else ``evaluate:DATASET``. The face
    stage and the label view are the model's own (``face`` may only set ``no_face``; ``view``
    must be the model's). Raises :class:`FerBenchError` for a model whose provenance names no
    registered pipeline, a model trained on ``dataset`` itself (all of it would include its
    training images), or a setting the model fixes.
    """
    from ..data.labels import VIEWS
    from ..face.stage import SCORING_PARAMS
    from ..harness.params import face_params
    from ..models import load_model

    model = load_model(model_path)  # checked once here: a bad file fails before any data loads
    p = model.provenance
    pipeline = p.get("pipeline")
    if pipeline not in PIPELINES:
        raise FerBenchError(f"{model_path}: its provenance names no registered pipeline "
                            f"({pipeline!r}); only files fer-bench's `train` or `run` wrote "
                            "can be evaluated")
    other = sorted(set(face or {}) - set(SCORING_PARAMS))
    if other:
        raise FerBenchError(f"--face {', '.join(other)}: the model fixes its face stage "
                            f"({model.face}); only {', '.join(SCORING_PARAMS)} can be set")
    trained_on = str(p.get("dataset") or "")
    if trained_on and same_dataset(trained_on, dataset):
        raise FerBenchError(
            f"{model_path}: it was trained on {dataset}, so evaluating it on all of {dataset} "
            f"would score it on its own training images; its held-out score is in its header "
            f"({p.get('protocol')}), or evaluate it on another dataset")
    protocol = f"cross:{trained_on}->{dataset}" if trained_on else f"evaluate:{dataset}"
    own_view = p.get("view") or "7class"
    if view is not None and view != own_view:
        raise FerBenchError(f"--view {view}: the model's outputs are {own_view} classes "
                            f"({', '.join(model.classes)}); leave --view out")
    chosen_view = own_view
    if chosen_view not in VIEWS:
        raise FerBenchError(f"the model's view {chosen_view!r} is unknown to this fer-bench")
    return Job(pipeline=pipeline, protocol=protocol, datasets=(dataset,), fold="all",
               seed=int(p.get("seed", 0)), view=chosen_view, params=dict(p.get("params") or {}),
               face=face_params({**model.face, **(face or {})}),
               dataset_options={dataset: dict(dataset_options or {})},
               model=str(model.path))
