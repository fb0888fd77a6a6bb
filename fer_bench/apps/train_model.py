"""Fit a registered pipeline on a protocol's first split and keep it as a :class:`FerModel`.

The data path is the benchmark's own (the harness's loading, label view and face stage), so the
model a user keeps is the one the tables scored: for FER2013's official protocol it is fitted on
Training, selected on PublicTest and its PrivateTest accuracy goes into the model file.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..errors import FerBenchError
from ..models import FerModel
from ..registry import PIPELINES, PROTOCOLS, protocol_for

if TYPE_CHECKING:  # the harness loads when a model is trained, not when this module is
    from ..harness.jobs import Job


def _check_protocol(protocol: str, dataset: str) -> None:
    base = dataset.split(":", 1)[0]
    if protocol.startswith("cross:"):
        train = protocol[len("cross:"):].partition("->")[0]
        if train != dataset:
            raise FerBenchError(f"protocol {protocol} fits on {train}, not on --dataset {dataset}; "
                                f"write it as cross:{dataset}->TEST")
        return
    wanted = PROTOCOLS.get(protocol).tags.get("datasets")
    if wanted and base not in wanted:
        raise FerBenchError(f"protocol {protocol} runs on {', '.join(wanted)}, not {dataset}; "
                            f"leave --protocol out to use {protocol_for(dataset)}")


def _first_job(pipeline: str, dataset: str, *, protocol: str | None, view: str | None,
               params: dict[str, Any] | None, face: dict[str, Any] | None,
               dataset_options: dict[str, Any] | None, seed: int, limit_train: int | None,
               data_root: str | None) -> Job:
    """The job ``run`` would plan for the protocol's first split, checked to give a model
    that predicts probabilities (what a kept model must do)."""
    from ..harness.fit import build_estimator
    from ..harness.jobs import expand_jobs, resolve_selection
    from ..harness.params import pipeline_params

    PIPELINES.get(pipeline)  # an unknown name fails here, with close matches
    protocol = protocol or protocol_for(dataset)
    _check_protocol(protocol, dataset)
    params = pipeline_params([pipeline], {None: dict(params or {})})[pipeline]
    selection = resolve_selection(
        pipelines=[pipeline], protocols=[protocol], data_root=data_root,
        datasets=None if protocol.startswith("cross:") else [dataset],
    )
    jobs = expand_jobs(selection, [seed], view=view, params={pipeline: params}, face=face,
                       limit_train=limit_train, dataset_options={None: dict(dataset_options or {})},
                       data_root=data_root)
    job = jobs[0]  # the protocol's first split
    if not hasattr(build_estimator(job)[0], "predict_proba"):
        raise FerBenchError(f"pipeline {pipeline} has no predict_proba, so it cannot report "
                            "probabilities; choose another pipeline")
    return job


def train_model(
    pipeline: str,
    dataset: str,
    *,
    protocol: str | None = None,
    view: str | None = None,
    params: dict[str, Any] | None = None,
    face: dict[str, Any] | None = None,
    dataset_options: dict[str, Any] | None = None,
    seed: int = 0,
    limit_train: int | None = None,
    data_root: str | None = None,
    command: list[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> FerModel:
    """Fit ``pipeline`` on the first split of ``protocol`` over ``dataset`` and score its test part.

    Parameters
    ----------
    pipeline : str
        A registered pipeline name (``pca-logreg``, ``hog-svm``, ``mini-xception`` ...).
    dataset : str
        A registered dataset name (``fer2013``, ``ckplus``, ``synthetic``, ``folder:PATH``).
    protocol : str, optional
        Default: the dataset's own (:func:`~fer_bench.registry.protocol_for`).
    view : str, optional
        Label view; default: the protocol's (``7class``).
    params, face, dataset_options : dict, optional
        Pipeline constructor parameters, face-stage parameters and dataset loader options.
    seed : int
        Seeds the split (where the protocol has a random one) and the estimator.
    limit_train : int, optional
        Fit on a seeded, stratified subsample of this many training images.
    data_root : str, optional
        Where the datasets live.
    command : list of str, optional
        Command line recorded in the provenance.
    log : callable, optional
        Receives progress lines.

    Returns
    -------
    FerModel
        The fitted model; ``provenance`` holds the test accuracy, split sizes and versions.
    """
    from ..harness.execute import model_and_test_data, score
    from ..harness.fit import split_names
    from ..harness.prepare import prepare

    say = log or (lambda line: None)
    job = _first_job(pipeline, dataset, protocol=protocol, view=view, params=params, face=face,
                     dataset_options=dataset_options, seed=seed, limit_train=limit_train,
                     data_root=data_root)
    d = prepare(job, data_root)
    names = split_names(d.protocol, d.split.fold)
    say(f"training {pipeline} on {dataset} ({job.protocol}, {names['train_split']}): "
        f"{len(d.train)} train, {0 if d.X_val is None else len(d.X_val)} validation, "
        f"{len(d.X_test)} test faces; classes {', '.join(d.train_classes)}")
    # Fitted and scored exactly as `run` fits and scores this job (without keeping it in a
    # store), so the file's accuracy is the table's.
    obtained, d = model_and_test_data(job, d, data_root, command=command)
    model = obtained.model
    metrics = score(job, d, obtained)["metrics"]
    model.provenance.update({
        "n_test": int(len(d.X_test)), "test_accuracy": metrics["accuracy"],
        "test_accuracy_ci95": metrics["accuracy_ci95"], "test_macro_f1": metrics["macro_f1"],
        "test_balanced_accuracy": metrics["balanced_accuracy"],
    })
    lo, hi = metrics["accuracy_ci95"]
    say(f"fitted in {model.provenance['fit_seconds']:.1f} s; {names['test_split']} accuracy "
        f"{100 * metrics['accuracy']:.1f} % (95 % CI {100 * lo:.1f}-{100 * hi:.1f}) on "
        f"{len(d.X_test)} faces")
    return model
