"""Fit a registered pipeline on a protocol's first split and keep it as a :class:`FerModel`.

The data path is the benchmark's own (the harness's loading, label view and face stage), so the
model a user keeps is the one the tables scored: for FER2013's official protocol it is fitted on
Training, selected on PublicTest and its PrivateTest accuracy goes into the model file.
"""
from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np

from .. import __version__
from ..errors import FerBenchError
from ..models import FerModel
from ..registry import PIPELINES, PROTOCOLS, protocol_for

#: Bootstrap resamples for the accuracy interval stored in the model file.
N_BOOT = 1000


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


def _split_names(protocol_obj: Any, fold: str) -> dict[str, str]:
    """What the train / validation / test parts are called (FER2013: Training, ...)."""
    tags = [getattr(protocol_obj, f"{p}_tag", None) for p in ("train", "val", "test")]
    if all(tags):
        return dict(zip(("train_split", "val_split", "test_split"), tags))
    return {"train_split": f"{fold} train", "val_split": f"{fold} validation",
            "test_split": f"{fold} test"}


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
    from ..harness.execute import build_estimator, fit_estimator, prepare, selection_summary
    from ..harness.jobs import expand_jobs, pipeline_params, resolve_selection
    from ..metrics import classification_metrics
    from ..results.environment import environment

    say = log or (lambda line: None)
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

    d = prepare(job, data_root)
    split, classes, train = d.split, d.classes, d.train
    X_val, y_val, X_test, y_test = d.X_val, d.y_val, d.X_test, d.y_test
    options = d.dataset_options
    names = _split_names(d.protocol, split.fold)

    estimator, kwargs = build_estimator(job)
    if not hasattr(estimator, "predict_proba"):
        raise FerBenchError(f"pipeline {pipeline} has no predict_proba, so it cannot report "
                            "probabilities; choose another pipeline")
    say(f"training {pipeline} on {dataset} ({job.protocol}, {names['train_split']}): "
        f"{len(train)} train, {0 if X_val is None else len(X_val)} validation, "
        f"{len(X_test)} test faces; classes {', '.join(classes)}")
    t0 = time.perf_counter()
    fit_estimator(estimator, d.X_train, d.y_train, X_val, y_val, split.val_from_train)
    fit_s = time.perf_counter() - t0
    selection = selection_summary(estimator)
    trained_on_val = selection.get("selection", {}).get("trained_on_validation", False)

    family = PIPELINES.get(pipeline).tags.get("family", "classical")
    model = FerModel(estimator=estimator, classes=tuple(classes), face=dict(job.face),
                     family="deep" if family == "deep" else "classical")
    proba = model.predict_proba(X_test)
    metrics = classification_metrics(y_test, proba.argmax(axis=1), classes, proba,
                                     n_boot=N_BOOT, seed=seed)
    val_accuracy = None
    if X_val is not None and not trained_on_val:  # else the model has seen these images
        val_accuracy = float(np.mean(model.predict_proba(X_val).argmax(axis=1) == y_val))
    env = {k: v for k, v in environment().items() if k != "hostname"}  # the file may be shared
    model.provenance = {
        "pipeline": pipeline, "family": model.family, "params": kwargs,
        "dataset": dataset, "datasets": list(job.datasets), "dataset_options": options,
        "protocol": job.protocol, "fold": split.fold, "seed": seed, "view": job.view,
        "dropped_classes": d.dropped, "limit_train": limit_train, **names,
        "n_train": int(len(train)) + (len(X_val) if trained_on_val else 0),
        "n_val": 0 if X_val is None else int(len(X_val)), **selection,
        "n_test": int(len(X_test)),
        "test_accuracy": metrics["accuracy"], "test_accuracy_ci95": metrics["accuracy_ci95"],
        "test_macro_f1": metrics["macro_f1"], "test_balanced_accuracy": metrics["balanced_accuracy"],
        "val_accuracy": val_accuracy, "fit_seconds": round(fit_s, 3),
        "fer_bench_version": __version__, "environment": env,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": list(command) if command is not None else list(sys.argv),
    }
    lo, hi = metrics["accuracy_ci95"]
    say(f"fitted in {fit_s:.1f} s; {names['test_split']} accuracy {100 * metrics['accuracy']:.1f} % "
        f"(95 % CI {100 * lo:.1f}-{100 * hi:.1f}) on {len(X_test)} faces")
    return model
