"""Run one job: data -> view -> face stage -> split -> fit -> predict -> metrics -> record.

:func:`run_job` never raises for a problem inside the job (bad data, a pipeline that crashes):
it returns a record with ``status: "failed"``, a one-line ``error`` and the ``traceback`` (which
the runner moves to ``failures.log``). Only interruptions (Ctrl-C, SystemExit) propagate.
"""
from __future__ import annotations

import inspect
import sys
import time
import traceback
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import __version__
from ..errors import FerBenchError
from ..metrics import bootstrap_ci, classification_metrics, top_k_accuracy
from ..registry import PIPELINES
from ..results.environment import environment
from .fit import Obtained, obtain_model, peak_rss_mb, reset_peak_rss
from .jobs import HARNESS_VERSION, Job, corruption_entry, error_line
from .params import face_params
from ..protocols.cross import cross_pair, is_cross
from .model_store import model_source
from .prepare import JobData, prepare, prepare_evaluation, reframe_test

if TYPE_CHECKING:
    from ..data.dataset import FaceDataset

#: Bootstrap resamples for the accuracy interval of every record.
N_BOOT = 1000
#: Timed single-image predictions behind a record's batch-1 latency (their median).
LATENCY_REPEATS = 15
#: Test images without a face a record lists by path (all of them are counted).
NO_FACE_LISTED = 20
#: The key of a record under which :func:`score` hands the per-image predictions to the
#: runner, which stores them beside the record (:mod:`fer_bench.results.predictions`).
PREDICTIONS_KEY = "_predictions"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def class_scores(estimator: Any, X: np.ndarray, n_classes: int) -> np.ndarray | None:
    """``(N, n_classes)`` scores (probabilities or decision values), ``-inf`` for classes the
    estimator never saw; ``None`` when it has neither ``predict_proba`` nor
    ``decision_function``."""
    for method in ("predict_proba", "decision_function"):
        if hasattr(estimator, method):
            scores = np.asarray(getattr(estimator, method)(X), dtype=float)
            break
    else:
        return None
    if scores.ndim == 1:  # binary decision_function: one column for the positive class
        scores = np.stack([-scores, scores], axis=1)
    seen = np.asarray(getattr(estimator, "classes_", np.arange(scores.shape[1])), dtype=np.int64)
    full = np.full((len(X), n_classes), -np.inf)
    full[:, seen] = scores
    return full


def used_tta(estimator: Any) -> str | None:
    """The test-time augmentation ``estimator`` predicts with (a CNN's :meth:`used_tta`)."""
    used = getattr(estimator, "used_tta", None)
    return used() if callable(used) else estimator.get_params(deep=False).get("tta")


def tta_accuracies(estimator: Any, X: np.ndarray, y: np.ndarray, y_pred: np.ndarray,
                   wrong: np.ndarray | None = None) -> dict[str, float]:
    """Test accuracy without test-time augmentation, with flips and with the estimator's own
    mode (e.g. ten-crop), keyed ``"none"``, ``"flip"``, ...: each reported apart from the plain
    figure. Only for estimators whose ``predict`` takes ``tta`` (the CNNs); ``{}`` otherwise.
    ``y_pred`` are the predictions already made with the estimator's own mode (reused);
    ``wrong`` marks images that count as errors whatever the prediction (no face found, scored
    with ``no_face=wrong``)."""
    predict = getattr(estimator, "predict", None)
    try:
        takes_tta = "tta" in inspect.signature(predict).parameters
    except (TypeError, ValueError):
        takes_tta = False
    if not takes_tta:
        return {}
    own = used_tta(estimator)
    out = {}
    for mode in dict.fromkeys([None, "flip", own]):  # ordered, without repeats
        pred = y_pred if mode == own else np.asarray(estimator.predict(X, tta=mode))
        right = pred == np.asarray(y)
        if wrong is not None:
            right &= ~np.asarray(wrong, bool)
        out[mode or "none"] = float(np.mean(right))
    return out


def count_no_face_wrong(metrics: dict, y_true: np.ndarray, y_pred: np.ndarray,
                        scores: np.ndarray | None, no_face: np.ndarray, seed: int) -> dict:
    """``metrics`` (of the model's predictions on every test image) with the images in
    ``no_face`` counted as errors (``--face no_face=wrong``), as a deployed predictor that finds
    no face to classify would be judged.

    Only the figures that a "no answer" changes without inventing one are rescored: accuracy,
    its bootstrap interval, the Hamming loss and top-2 accuracy. The confusion matrix, the
    per-class figures, balanced accuracy and macro-F1 stay those of the model's predictions
    on the centred crops (an abstention is no class), and ``accuracy_on_crops`` keeps the plain
    accuracy. Returns a new dict; ``metrics`` is unchanged when no image lacks a face.
    """
    no_face = np.asarray(no_face, bool)
    if not no_face.any():
        return metrics
    y_true = np.asarray(y_true, dtype=np.int64)
    correct = (np.asarray(y_pred) == y_true) & ~no_face
    out = dict(metrics, accuracy_on_crops=metrics["accuracy"], no_face_wrong=int(no_face.sum()))
    out["accuracy"] = float(correct.mean())
    out["hamming_loss"] = 1.0 - out["accuracy"]
    out["accuracy_ci95"] = list(bootstrap_ci(correct, n_boot=N_BOOT, seed=seed))
    if metrics.get("top2_accuracy") is not None:
        if len(metrics["confusion"]["classes"]) > 2:
            masked = np.array(scores, dtype=float)  # the true class out of reach: a miss
            masked[no_face, y_true[no_face]] = -np.inf
            out["top2_accuracy"] = top_k_accuracy(y_true, masked, k=2)
        else:
            out["top2_accuracy"] = float((~no_face).mean())
    return out


def face_detection_summary(attempted: np.ndarray, detected: np.ndarray, paths: np.ndarray,
                           dataset: FaceDataset, correct: np.ndarray, scored_as: str) -> dict:
    """What a record says about face detection on its test images: how many went through
    detection, how many had a face, the count and first :data:`NO_FACE_LISTED` paths (relative
    to the dataset's root) of those without one, how many of those the model got right anyway
    (on their centred crops) and how they were scored (``crop`` or ``wrong``)."""
    attempted, detected = np.asarray(attempted, bool), np.asarray(detected, bool)
    no_face = attempted & ~detected
    listed = [dataset.relative_path(p) for p in np.asarray(paths)[no_face][:NO_FACE_LISTED]]
    return {"test_images": int(len(attempted)), "attempted": int(attempted.sum()),
            "detected": int((attempted & detected).sum()), "no_face": int(no_face.sum()),
            "no_face_paths": listed, "no_face_correct": int((no_face & correct).sum()),
            "scored_as": scored_as}


def run_job(job: Job, data_root: str | None = None, checkpoint_root: str | None = None,
            command: list[str] | None = None, model_root: str | None = None,
            stored_after: float | None = None) -> dict:
    """Run ``job`` and return its record (``status`` ``ok`` or ``failed``).

    Parameters
    ----------
    job : Job
    data_root : str, optional
        Where the datasets live (``--data-root``); default ``$FER_BENCH_DATA`` / ``./datasets``.
    checkpoint_root : str, optional
        Folder for deep pipelines' training checkpoints (``<out>/cache/checkpoints``).
    command : list of str, optional
        The command line that launched the run, stored in the record.
    model_root : str, optional
        The trained-model store (``<out>/cache/models``, see :mod:`fer_bench.harness.model_store`):
        a job whose model is there scores it instead of fitting, and a job that fits saves its
        model there. None: every job fits its own and keeps nothing.
    stored_after : float, optional
        Reuse only models stored at or after this time (``time.time()``): ``run --force``
        passes its start, so it fits every model again once and its later jobs reuse those.
    """
    record: dict[str, Any] = {
        "config_hash": job.config_hash, "harness_version": HARNESS_VERSION,
        "fer_bench_version": __version__, "pipeline": job.pipeline,
        "family": PIPELINES.get(job.pipeline).tags.get("family"),
        "protocol": job.protocol, "protocol_label": job.spec.label,
        "datasets": list(job.datasets), "fold": job.fold, "seed": job.seed, "view": job.view,
        "params": dict(job.params), "face": dict(job.face), "limit_train": job.limit_train,
        "dataset_options": job.config()["dataset_options"],
        "command": list(command) if command is not None else list(sys.argv),
        "started_at": now(),
    }
    if job.corruption is not None:
        record["corruption"] = corruption_entry(job.corruption)
    if len(job.datasets) == 2:
        record["train_dataset"], record["test_dataset"] = job.datasets
    elif job.model is not None and is_cross(job.protocol):  # ``evaluate``
        record["train_dataset"], record["test_dataset"] = cross_pair(job.protocol)
        record["dataset"] = job.datasets[0]
    else:
        record["dataset"] = job.datasets[0]
    if job.problem is not None:  # planning found its data broken: no second attempt to load it
        record.update(status="failed", error=job.problem,
                      traceback=f"found while planning the run:\n{job.problem_traceback}")
    else:
        try:
            record.update(_execute(job, data_root, checkpoint_root, model_root,
                                   record["command"], stored_after))
            record["status"] = "ok"
        except Exception as exc:  # any failure of this one job is recorded; the run goes on
            record.update(status="failed", error=error_line(exc), traceback=traceback.format_exc())
    record["environment"] = environment()
    record["finished_at"] = now()
    return record


def latency_ms(estimator: Any, X: np.ndarray, repeats: int = LATENCY_REPEATS) -> float | None:
    """Median wall milliseconds of ``estimator.predict`` on one face at a time (the first
    faces of ``X``, each a new one), after one untimed call (compilation): the latency a
    single-image predictor sees. None without test faces."""
    if not len(X):
        return None
    estimator.predict(X[:1])
    times = []
    for i in range(repeats):
        one = X[(i + 1) % len(X)][None]
        t0 = time.perf_counter()
        estimator.predict(one)
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def predictions(estimator: Any, model_classes: Sequence[str], X: np.ndarray,
                classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Labels (indices into ``classes``) and ``(N, len(classes))`` scores of ``estimator``,
    whose outputs index ``model_classes``, on faces ``X``.

    When the model's classes are the scored ones this is the estimator's own ``predict`` (as
    on its own test set). Otherwise (a cross-dataset test set lacking some of the model's
    classes) the prediction is the argmax over the scored classes' columns only, as the thesis
    and cross-dataset FER practice score a model on the classes both datasets share.
    """
    from ..pipelines.base import shared_scores

    model_classes, classes = list(model_classes), list(classes)
    if model_classes == classes:
        with shared_scores():  # labels and scores from one pass where the estimator can
            y_pred = np.asarray(estimator.predict(X))
            return y_pred, class_scores(estimator, X, len(classes))
    missing = [c for c in classes if c not in model_classes]
    if missing:
        raise FerBenchError(f"the model cannot score class(es) {', '.join(missing)}: it was "
                            f"trained on {', '.join(model_classes)}")
    full = class_scores(estimator, X, len(model_classes))
    if full is None:
        raise FerBenchError("the pipeline has neither predict_proba nor decision_function, so "
                            "it cannot be scored on a subset of its classes")
    scores = full[:, [model_classes.index(c) for c in classes]]
    return scores.argmax(axis=1), scores


def validation_metrics(estimator: Any, model_classes: Sequence[str], d: JobData, seed: int
                       ) -> dict | None:
    """The metrics of ``estimator`` on ``d``'s validation part (in the training classes), or
    None when ``d`` has none."""
    if d.X_val is None or not len(d.X_val):
        return None
    pred, scores = predictions(estimator, model_classes, d.X_val, d.train_classes)
    return classification_metrics(d.y_val, pred, d.train_classes, scores, n_boot=N_BOOT,
                                  seed=seed)


def _execute(job: Job, data_root: str | None, checkpoint_root: str | None,
             model_root: str | None, command: list[str], stored_after: float | None) -> dict:
    if job.model is not None:  # ``evaluate``: a saved model on a whole dataset
        from ..modelfile import file_digest
        from ..models import load_model

        model = load_model(job.model)
        d = prepare_evaluation(job, model.classes, data_root)
        p = model.provenance
        obtained = Obtained(model, {
            "file": str(model.path), "sha256": file_digest(model.path),
            "bytes": model.path.stat().st_size,
            "source": p.get("protocol"), "trained_by": p.get("trained_by"), "reused": True})
    else:
        obtained, d = model_and_test_data(job, prepare(job, data_root), data_root,
                                          checkpoint_root, model_root, command, stored_after)
    if not obtained.fitted_here:
        reset_peak_rss()
    if job.corruption is not None:  # robustness: the same model on degraded test faces
        from ..data.corruptions import corrupt

        d = replace(d, X_test=corrupt(d.X_test, *job.corruption, seed=job.seed))
    return score(job, d, obtained)


def model_and_test_data(job: Job, d: JobData, data_root: str | None,
                        checkpoint_root: str | None = None, model_root: str | None = None,
                        command: list[str] | None = None, stored_after: float | None = None
                        ) -> tuple[Obtained, JobData]:
    """``job``'s model (:func:`~fer_bench.harness.fit.obtain_model`) and ``d`` with its test
    faces cut by the model's own face stage (its measured framing, where detection ran on the
    test images): what :func:`score` takes, for ``run`` and ``train`` alike."""
    from ..face.stage import SCORING_PARAMS

    obtained = obtain_model(job, d, data_root, checkpoint_root, model_root, command,
                            stored_after=stored_after)
    test_face = face_params({**obtained.model.face,
                             **{k: v for k, v in job.face.items() if k in SCORING_PARAMS}})
    if test_face != job.face:  # the model frames detected faces its own way
        d = reframe_test(d, job, test_face, data_root)
    return obtained, d


def score(job: Job, d: JobData, obtained: Obtained) -> dict:
    """A record's results for ``obtained``'s model on the test part of ``d``: metrics, test-time
    augmentation, validation metrics (when the model was selected on ``d``'s validation part),
    timing, face detection, data summaries and the model's training history."""
    from . import job_data as jobdata

    model, prov = obtained.model, obtained.model.provenance
    estimator, classes, X_test = model.estimator, d.classes, d.X_test
    t0 = time.perf_counter()
    y_pred, scores = predictions(estimator, model.classes, X_test, classes)
    predict_s = time.perf_counter() - t0
    scored_as = job.face.get("no_face", "crop")
    wrong = d.test_no_face if scored_as == "wrong" else None
    metrics = classification_metrics(d.y_test, y_pred, classes, scores, n_boot=N_BOOT,
                                     seed=job.seed)
    if wrong is not None:
        metrics = count_no_face_wrong(metrics, d.y_test, y_pred, scores, wrong, job.seed)
    out: dict[str, Any] = {
        "params": dict(obtained.params if obtained.params is not None
                       else prov.get("params", job.params)),
        "default_view": d.protocol.default_view if d.protocol is not None else job.view,
        "classes": classes, "dropped_classes": d.dropped,
        "n_train": int(prov.get("n_train", len(d.train))), "n_val": int(prov.get("n_val", 0)),
        "n_test": int(len(X_test)),
        "n_test_duplicates": d.n_test_duplicates,  # copies in train/val (fixed splits)
        "metrics": metrics, "model": obtained.info,
    }
    if prov.get("init_from"):
        out["init_from"] = prov["init_from"]
    if prov.get("framing"):  # detected test faces were cut as the training crops are framed
        out["framing"] = {**prov["framing"], "applied": bool(d.test_attempted.any())}
    if list(model.classes) == list(classes):  # the estimator's own labels are the scored ones
        tta = tta_accuracies(estimator, X_test, d.y_test, y_pred, wrong=wrong)
        if tta:
            out["tta_accuracy"] = tta
            out["tta_mode"] = used_tta(estimator) or "none"
            if getattr(estimator, "selection_", None):  # e.g. tta="auto"'s choice
                out["tta_selection"] = estimator.selection_
    if prov.get("selection"):
        out["selection"] = prov["selection"]
    # d's validation part is the model's own unless the model came from another protocol.
    selected_here = job.model is None and model_source(job) is job
    trained_on_val = prov.get("selection", {}).get("trained_on_validation", False)
    val: dict[str, np.ndarray] = {}  # the validation part's labels and scores, kept with
    # the test predictions so calibration can be fitted there (a temperature)
    if selected_here and not trained_on_val and d.X_val is not None and len(d.X_val):
        val_pred, val["scores_val"] = predictions(estimator, model.classes, d.X_val,
                                                  d.train_classes)
        val["y_val"] = d.y_val
        # Scored when it was fitted; files stored before they kept them are scored now.
        out["val_metrics"] = prov.get("val_metrics") or classification_metrics(
            d.y_val, val_pred, d.train_classes, val["scores_val"], n_boot=N_BOOT, seed=job.seed)
    out["timing"] = {
        "fit_s": float(prov.get("fit_seconds", 0.0)), "predict_s": predict_s,
        "predict_ms_per_image": 1000 * predict_s / max(len(X_test), 1),
        "latency_ms_batch1": latency_ms(estimator, X_test),
        "peak_rss_mb": peak_rss_mb(),
    }
    rates = d.detection_rates
    out["detection_rate"] = rates[-1]
    if len(rates) == 2:
        out["detection_rate_train"] = rates[0]
    out["face_detection"] = face_detection_summary(
        d.test_attempted, d.test_detected, d.test_paths, d.loaded[-1], y_pred == d.y_test,
        scored_as)
    out["data"] = {name: jobdata.summary(ds) for name, ds in zip(job.datasets, d.loaded)}
    if prov.get("history") is not None:
        out["history"] = prov["history"]
    out[PREDICTIONS_KEY] = {
        "y_true": d.y_test, "y_pred": y_pred, "scores": scores,
        "scores_kind": "proba" if hasattr(estimator, "predict_proba") else "decision",
        "ids": [d.loaded[-1].relative_path(p) for p in d.test_paths], **val}
    return out
