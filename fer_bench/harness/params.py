"""What parameters a job gets: ``--param`` / ``--dataset-option`` assignments checked against
the factories, a dataset's defaults, the training budget, and the face stage's full settings.

By increasing priority a pipeline's parameters are its training dataset's registry defaults
(:func:`dataset_defaults`), the training budget (:func:`budget_params`) and ``--param``
(:func:`pipeline_params`); :func:`~fer_bench.harness.jobs.expand_jobs` merges them.
"""
from __future__ import annotations

import functools
import inspect
import json
from typing import Any, Iterable, Sequence

from ..errors import FerBenchError
from ..registry import BUDGETS, DATASETS, PIPELINES, budget_for


def parse_value(text: str) -> Any:
    """``"3"`` -> 3, ``"0.5"`` -> 0.5, ``"true"`` -> True, ``"null"`` -> None, else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_assignments(items: Iterable[str] | None, what: str) -> dict[str | None, dict[str, Any]]:
    """``["a.k=1", "k2=x"]`` -> ``{"a": {"k": 1}, None: {"k2": "x"}}`` (``None``: applies to all).

    The owner (a pipeline or dataset name) is what precedes the last ``.`` before ``=``.
    """
    out: dict[str | None, dict[str, Any]] = {}
    for item in items or ():
        left, eq, value = item.partition("=")
        if not eq or not left:
            raise FerBenchError(f"{what} {item!r}: write it as [NAME.]KEY=VALUE")
        owner, dot, key = left.rpartition(".")
        out.setdefault(owner if dot else None, {})[key] = parse_value(value)
    return out


def _accepted(factory) -> tuple[set[str], bool]:
    """Parameter names a factory takes, and whether it takes any name at all.

    A ``factory(**params)`` passing them to an estimator takes that estimator's parameters
    (estimators do no work in ``__init__``, so building one to ask is cheap).
    """
    params = inspect.signature(factory).parameters
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    names = {n for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    if var_kw and not names:
        estimator = factory()
        if hasattr(estimator, "get_params"):
            return set(estimator.get_params(deep=False)), False
    return names, var_kw


def pipeline_params(pipelines: Sequence[str], assignments: dict[str | None, dict[str, Any]]
                    ) -> dict[str, dict[str, Any]]:
    """Constructor parameters per pipeline from ``--param`` assignments, checked by name.

    An assignment without a pipeline name goes to every selected pipeline that takes it; one no
    selected pipeline takes is an error, as is a named one its pipeline does not take.
    """
    out: dict[str, dict[str, Any]] = {p: {} for p in pipelines}
    if not assignments:
        return out
    for owner in assignments:
        if owner is not None and owner not in pipelines:
            PIPELINES.get(owner)
            raise FerBenchError(f"--param {owner}.…: pipeline {owner} is not in this run")
    signatures = {p: _accepted(PIPELINES.get(p).load()) for p in pipelines}
    for key, value in assignments.get(None, {}).items():
        takers = [p for p in pipelines if key in signatures[p][0] or signatures[p][1]]
        if not takers:
            raise FerBenchError(f"--param {key}: no selected pipeline takes a parameter {key!r}")
        for p in takers:
            out[p][key] = value
    for owner, values in assignments.items():
        if owner is None:
            continue
        names, var_kw = signatures[owner]
        for key, value in values.items():
            if key not in names and not var_kw:
                raise FerBenchError(
                    f"--param {owner}.{key}: {owner} takes "
                    f"{', '.join(sorted(names)) or 'no parameters'}"
                )
            out[owner][key] = value
    return out


def face_params(given: dict[str, Any] | None) -> dict[str, Any]:
    """The face stage's full parameter set (its defaults filled in), so the hash is explicit.

    Scoring parameters (``no_face``) and the framing ones (``box_scale``, ``box_offset``)
    appear only when they differ from their default: a job that uses neither keeps the
    configuration hash it always had.
    """
    from ..face.stage import FRAMING_DEFAULTS, SCORING_PARAMS, FaceStage

    try:
        params = FaceStage(**(given or {})).fit().get_params(deep=False)
    except (TypeError, ValueError) as exc:
        raise FerBenchError(f"--face: {exc}") from None
    unset = {**SCORING_PARAMS, **FRAMING_DEFAULTS}
    return {k: v for k, v in params.items() if not (k in unset and v == unset[k])}


# --- defaults and budgets ------------------------------------------------------------------------

def dataset_defaults(datasets: Sequence[str], pipeline: str) -> dict[str, Any]:
    """Parameters a dataset's registry entry sets for a pipeline (``pipeline_params``, keyed by
    family or pipeline name; the name wins).

    The synthetic default, for instance, gives the CNNs short schedules (6 to 20 epochs) so
    that ``run --suite all`` on a fresh machine stays under 10 minutes; ``--param`` overrides
    them.
    """
    family = PIPELINES.get(pipeline).tags.get("family")
    out: dict[str, Any] = {}
    for name in datasets:
        entry = DATASETS.get(name.split(":", 1)[0])
        given = entry.tags.get("pipeline_params", {})
        out.update(given.get(family, {}))
        out.update(given.get(pipeline, {}))
    return out


def budget_params(budget: str | None, datasets: Sequence[str], pipeline: str) -> dict[str, Any]:
    """Parameters the training budget ``budget`` (a :data:`~fer_bench.registry.BUDGETS` name)
    gives ``pipeline`` when it trains on ``datasets[0]``."""
    if budget is None:
        return {}
    if budget not in BUDGETS:
        raise FerBenchError(f"--budget {budget}: choose one of {', '.join(BUDGETS)} or auto")
    return budget_for(budget, datasets[0].split(":", 1)[0], pipeline)


def resolve_budget(budget: str, pipelines: Sequence[str]) -> str | None:
    """``auto`` -> ``full`` when JAX sees an accelerator, else ``cpu``; None when no selected
    pipeline is deep or declares budgets of its own (so a classical run never imports JAX)."""
    tags = [PIPELINES.get(p).tags for p in pipelines]
    if not any(t.get("family") == "deep" or t.get("budgets") for t in tags):
        return None
    if budget != "auto":
        return budget
    return "full" if accelerator_present() else "cpu"


@functools.lru_cache(maxsize=1)
def accelerator_present() -> bool:
    """Whether JAX sees a GPU or TPU, asked in a child process: initialising JAX here would
    let its GPU client take most of the device memory before the workers that train start."""
    import subprocess
    import sys

    probe = "import jax; print(jax.default_backend())"
    try:
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             timeout=120, check=True).stdout.split()
    except (subprocess.SubprocessError, OSError):
        return False  # JAX cannot start: the CNN jobs will report why
    return bool(out) and out[-1] != "cpu"
