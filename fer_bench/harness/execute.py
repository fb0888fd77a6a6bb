"""Run one job: data -> view -> face stage -> split -> fit -> predict -> metrics -> record.

:func:`run_job` never raises for a problem inside the job (bad data, a pipeline that crashes):
it returns a record with ``status: "failed"``, a one-line ``error`` and the ``traceback`` (which
the runner moves to ``failures.log``). Only interruptions (Ctrl-C, SystemExit) propagate.
"""
from __future__ import annotations

import inspect
import resource
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__
from ..metrics import bootstrap_ci, classification_metrics, top_k_accuracy
from ..registry import PIPELINES
from ..results.environment import environment
from .jobs import HARNESS_VERSION, Job, error_line, weights_digest

if TYPE_CHECKING:
    from ..data.dataset import FaceDataset

#: Bootstrap resamples for the accuracy interval of every record.
N_BOOT = 1000
#: Constructor parameters that take the job's seed.
_SEED_NAMES = ("random_state", "seed")
#: Test images without a face a record lists by path (all of them are counted).
NO_FACE_LISTED = 20


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def stratified_subsample(index: np.ndarray, y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` of ``index`` keeping class proportions of ``y`` (labels of ``index``), seeded.

    Each class gets its proportional share (largest remainders round up, and every class keeps
    at least one image when ``n`` allows). Returns sorted indices; all of them when ``n`` is not
    smaller than ``len(index)``.
    """
    index, y = np.asarray(index), np.asarray(y)
    if n >= len(index):
        return index
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    share = counts / counts.sum() * n
    take = np.floor(share).astype(int)
    if n >= len(classes):
        take = np.maximum(take, 1)
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    i = 0
    while take.sum() < n:  # hand out the remaining slots by largest remainder
        c = order[i % len(order)]
        if take[c] < counts[c]:
            take[c] += 1
        i += 1
    while take.sum() > n:  # the at-least-one rule overshot: trim the largest classes
        take[np.argmax(take)] -= 1
    chosen = [rng.choice(index[y == c], size=k, replace=False) for c, k in zip(classes, take)]
    return np.sort(np.concatenate(chosen))


def _reset_peak_rss() -> None:
    # Linux lets a process reset its own high-water mark, making the peak per job, not per worker.
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (since the last reset, on Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


def build_estimator(job: Job, checkpoint_root: str | None = None) -> tuple[Any, dict]:
    """The pipeline's estimator and the constructor arguments it got.

    The job's seed becomes ``random_state`` (or ``seed``) unless the job's params set it.
    A deep estimator with a ``checkpoint_dir`` parameter checkpoints under
    ``checkpoint_root/<config hash>``, so a killed run resumes its training.
    """
    factory = PIPELINES.get(job.pipeline).load()
    names = inspect.signature(factory).parameters
    kwargs = dict(job.params)
    seed_name = next((n for n in _SEED_NAMES if n in names), None)
    if seed_name and seed_name not in kwargs:
        kwargs[seed_name] = job.seed
    estimator = factory(**kwargs)
    if seed_name is None and hasattr(estimator, "get_params"):  # a factory(**params)
        top = estimator.get_params(deep=False)
        seed_name = next((n for n in _SEED_NAMES if n in top), None)
        if seed_name and seed_name not in kwargs:
            estimator.set_params(**{seed_name: job.seed})
            kwargs[seed_name] = job.seed
    if checkpoint_root and hasattr(estimator, "get_params"):
        if "checkpoint_dir" in estimator.get_params(deep=False) and "checkpoint_dir" not in kwargs:
            estimator.set_params(checkpoint_dir=str(Path(checkpoint_root) / job.config_hash))
    return estimator, kwargs


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
    own = estimator.get_params(deep=False).get("tta")
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


def starting_weights(estimator: Any) -> dict | None:
    """``{"path", "sha256"}`` of the model file an estimator started from (``init_from``), so a
    record says which weights it fine-tuned even after the file is replaced; None otherwise."""
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    digest = weights_digest(params.get("init_from"))
    return {"path": str(params["init_from"]), "sha256": digest} if digest else None


def training_history(estimator: Any) -> list[dict] | None:
    """The per-epoch ``history_`` of a deep estimator (or of a pipeline's last step)."""
    candidates = [estimator]
    if hasattr(estimator, "steps"):
        candidates.append(estimator.steps[-1][1])
    for obj in candidates:
        history = getattr(obj, "history_", None)
        if isinstance(history, dict):  # Keras style {"train_loss": [...], ...} -> per epoch
            keys = list(history)
            history = [dict(zip(keys, values)) for values in zip(*history.values())]
        if history:
            return [dict(epoch) for epoch in history]  # the store turns numpy scalars into JSON
    return None


def selection_summary(estimator: Any) -> dict:
    """``{"selection": ...}`` for an estimator that selected parameters on the validation split
    (best parameters, each setting's validation accuracy, search seconds, whether the final
    model trained on the validation images); ``{}`` otherwise."""
    search = getattr(estimator, "search_scores_", None)
    if not search:
        return {}
    return {"selection": {
        "best_params": dict(estimator.best_params_),
        "scores": [{"params": p, "val_accuracy": a} for p, a in search],
        "seconds": float(getattr(estimator, "search_seconds_", 0.0)),
        "trained_on_validation": bool(getattr(estimator, "trained_on_validation_", False)),
    }}


def fit_estimator(estimator: Any, X, y, X_val=None, y_val=None, val_from_train: bool = False
                  ) -> None:
    """Fit, passing the validation split only to estimators that take it (deep ones, the
    classical pipelines that select parameters on it); those that can train on it after
    selection (``refit_on_validation``) may do so only when the protocol carved it out of the
    training data (``val_from_train``)."""
    from ..pipelines.base import accepts_validation

    if (hasattr(estimator, "get_params")
            and "refit_on_validation" in estimator.get_params(deep=False)):
        estimator.set_params(refit_on_validation=bool(val_from_train))
    if X_val is not None and accepts_validation(estimator):
        estimator.fit(X, y, X_val=X_val, y_val=y_val)
    else:
        estimator.fit(X, y)


def run_job(job: Job, data_root: str | None = None, checkpoint_root: str | None = None,
            command: list[str] | None = None) -> dict:
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
    if len(job.datasets) == 2:
        record["train_dataset"], record["test_dataset"] = job.datasets
    else:
        record["dataset"] = job.datasets[0]
    if job.problem is not None:  # planning found its data broken: no second attempt to load it
        record.update(status="failed", error=job.problem,
                      traceback=f"found while planning the run:\n{job.problem_traceback}")
    else:
        try:
            record.update(_execute(job, data_root, checkpoint_root))
            record["status"] = "ok"
        except Exception as exc:  # any failure of this one job is recorded; the run goes on
            record.update(status="failed", error=error_line(exc), traceback=traceback.format_exc())
    record["environment"] = environment()
    record["finished_at"] = now()
    return record


@dataclass
class JobData:
    """One job's data after loading, label view, face stage and split (the test part kept apart).

    ``X_*`` are ``(N, 48, 48)`` uint8 faces, ``y_*`` view labels; ``train`` indexes the training
    dataset's faces (already subsampled for ``limit_train``).
    """

    protocol: Any
    split: Any
    classes: list[str]
    dropped: list[str]
    train: np.ndarray
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    X_test: np.ndarray
    y_test: np.ndarray
    detection_rates: list[float | None]
    loaded: tuple
    dataset_options: dict
    #: Per test image: whether the face stage ran detection on it, and whether it found a face.
    test_attempted: np.ndarray
    test_detected: np.ndarray
    #: Per test image: its path in the test dataset.
    test_paths: np.ndarray

    @property
    def test_no_face(self) -> np.ndarray:
        """Test images where detection ran and found no face (all False without detection)."""
        return self.test_attempted & ~self.test_detected


def prepare(job: Job, data_root: str | None) -> JobData:
    """Load, view, crop and split ``job``'s data; shared by :func:`run_job` and ``train``."""
    from ..protocols import get_protocol
    from . import data as jobdata

    protocol = get_protocol(job.protocol)
    options = job.config()["dataset_options"]
    loaded = tuple(jobdata.load(d, options[d], data_root) for d in job.datasets)
    prepared = jobdata.view_data(loaded, job.view)
    crops = [jobdata.faces(d, options[d], data_root, job.face) for d in job.datasets]
    X_all = [c[0][keep] for c, keep in zip(crops, prepared.keep)]
    y_all = [prepared.labels(i) for i in range(len(job.datasets))]
    split = next((s for s in protocol.splits(prepared.protocol_input, job.seed)
                  if s.fold == job.fold), None)
    if split is None:
        raise LookupError(f"{job.protocol} has no fold {job.fold!r} for seed {job.seed}")
    X_tr, y_tr = X_all[0], y_all[0]
    X_te, y_te = X_all[-1], y_all[-1]
    train = split.train
    if job.limit_train is not None:
        train = stratified_subsample(train, y_tr[train], job.limit_train, job.seed)
    has_val = split.val is not None and len(split.val) > 0
    _, _, attempted, detected = crops[-1]
    keep = prepared.keep[-1]
    test_rows = np.flatnonzero(keep)[split.test]  # rows of the loaded test dataset
    return JobData(
        protocol=protocol, split=split, classes=list(prepared.view.classes),
        dropped=list(prepared.dropped), train=train,
        X_train=X_tr[train], y_train=y_tr[train],
        X_val=X_tr[split.val] if has_val else None, y_val=y_tr[split.val] if has_val else None,
        X_test=X_te[split.test], y_test=y_te[split.test],
        detection_rates=[c[1] for c in crops], loaded=loaded, dataset_options=options,
        test_attempted=attempted[test_rows], test_detected=detected[test_rows],
        test_paths=np.asarray(loaded[-1].paths)[test_rows],
    )


def _execute(job: Job, data_root: str | None, checkpoint_root: str | None) -> dict:
    from . import data as jobdata

    d = prepare(job, data_root)
    split, classes, train = d.split, d.classes, d.train
    X_val, y_val, X_test = d.X_val, d.y_val, d.X_test
    estimator, kwargs = build_estimator(job, checkpoint_root)
    _reset_peak_rss()
    t0 = time.perf_counter()
    fit_estimator(estimator, d.X_train, d.y_train, X_val, y_val, split.val_from_train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    y_pred = np.asarray(estimator.predict(X_test))
    predict_s = time.perf_counter() - t0
    scores = class_scores(estimator, X_test, len(classes))
    no_face = d.test_no_face
    scored_as = job.face.get("no_face", "crop")
    wrong = no_face if scored_as == "wrong" else None
    metrics = classification_metrics(d.y_test, y_pred, classes, scores, n_boot=N_BOOT,
                                     seed=job.seed)
    if wrong is not None:
        metrics = count_no_face_wrong(metrics, d.y_test, y_pred, scores, wrong, job.seed)
    out: dict[str, Any] = {
        "params": kwargs, "default_view": d.protocol.default_view, "classes": classes,
        "dropped_classes": d.dropped,
        "n_train": int(len(train)), "n_val": int(0 if split.val is None else len(split.val)),
        "n_test": int(len(split.test)),
        "n_test_duplicates": int(split.test_duplicates),  # copies in train/val (fixed splits)
        "metrics": metrics,
    }
    start = starting_weights(estimator)
    if start:
        out["init_from"] = start
    tta = tta_accuracies(estimator, X_test, d.y_test, y_pred, wrong=wrong)
    if tta:
        out["tta_accuracy"] = tta
        out["tta_mode"] = estimator.get_params(deep=False).get("tta") or "none"
    out.update(selection_summary(estimator))
    if out.get("selection", {}).get("trained_on_validation"):
        # The validation images are training images of the final model now: no honest
        # validation score remains (the search's own scores are in "selection").
        out["n_train"] += out["n_val"]
    elif X_val is not None and len(X_val):
        val_scores = class_scores(estimator, X_val, len(classes))
        out["val_metrics"] = classification_metrics(
            y_val, np.asarray(estimator.predict(X_val)), classes, val_scores, n_boot=N_BOOT,
            seed=job.seed,
        )
    out["timing"] = {
        "fit_s": fit_s, "predict_s": predict_s,
        "predict_ms_per_image": 1000 * predict_s / max(len(split.test), 1),
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
    history = training_history(estimator)
    if history is not None:
        out["history"] = history
    return out
