"""Fit a job's model, or fetch it from the trained-model store: estimator, fit and provenance.

:func:`obtain_model` is the one way a job gets its model (a ``run`` job, a cross-dataset job
reusing another protocol's model, ``train`` through
:func:`~fer_bench.harness.execute.model_and_test_data`): the estimator is built from the registry, fitted
on the job's training part with its validation part for selection, and wrapped as a
:class:`~fer_bench.models.FerModel` whose provenance says how it was made.
"""
from __future__ import annotations

import inspect
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..registry import PIPELINES
from .jobs import Job, error_line, weights_digest

if TYPE_CHECKING:
    from ..models import FerModel
    from .prepare import JobData

#: Constructor parameters that take the job's seed.
_SEED_NAMES = ("random_state", "seed")


def reset_peak_rss() -> None:
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
    import resource  # POSIX only, like the fallback it serves

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


def pretrained_files(job: Job) -> list[Path]:
    """The model files ``job``'s pipeline starts from: ``init_from`` (fine-tuning), and the CNN
    a hybrid reads (a pipeline registered with ``reads_model``: its ``model`` parameter, else
    the bundled model, and its ``extra_models``)."""
    files = [Path(job.params["init_from"])] if job.params.get("init_from") else []
    if PIPELINES.get(job.pipeline).tags.get("reads_model"):
        from ..pipelines.hybrid import model_list, model_path

        files.append(model_path(job.params.get("model")))
        files.extend(map(model_path, model_list(job.params.get("extra_models"))))
    return files


def check_pretrained(job: Job) -> None:
    """Refuse a job whose test images a pretrained part of its pipeline was trained on.

    A model file trained on dataset D (its provenance says so) may be scored on D only under
    the very protocol it was trained by (FER2013's official split: its test part, PrivateTest,
    stayed unseen). Anywhere else (``cross:ckplus->fer2013`` with the FER2013 CNN's features,
    a CK+ fold fine-tuned from a CK+ model) the test images include its training images.
    Raises :class:`~fer_bench.errors.ProtocolError` naming the file.
    """
    from ..errors import ProtocolError
    from ..modelfile import read_header

    test = job.datasets[-1]
    for path in pretrained_files(job):
        if not path.is_file():
            continue  # the estimator reports a missing file itself
        p = read_header(path).get("provenance") or {}
        if p.get("dataset") == test and p.get("protocol") != job.protocol:
            raise ProtocolError(
                f"{job.pipeline} starts from {path}, trained on {test} ({p.get('protocol')}): "
                f"scoring it on {test} under {job.protocol} would test it on images it was "
                f"trained on; use {p.get('protocol')}, or a model trained on other data")


def split_names(protocol: Any, fold: str) -> dict[str, str]:
    """What the train / validation / test parts are called (FER2013: Training, ...)."""
    tags = [getattr(protocol, f"{p}_tag", None) for p in ("train", "val", "test")]
    if all(tags):
        return dict(zip(("train_split", "val_split", "test_split"), tags))
    return {"train_split": f"{fold} train", "val_split": f"{fold} validation",
            "test_split": f"{fold} test"}


def fit_model(job: Job, d: JobData, key: str, data_sha256: str,
              checkpoint_root: str | None = None, command: list[str] | None = None
              ) -> FerModel:
    """Fit ``job``'s pipeline on the training part of ``d`` (selecting on its validation part)
    and return it as a :class:`~fer_bench.models.FerModel` with its provenance: parameters,
    data (``data_sha256``), model ``key``, split, sizes, selection, per-epoch history,
    validation metrics and fit seconds.

    The peak-memory counter is reset first, so a job's ``peak_rss_mb`` covers its own fit.
    """
    from ..face.framing import stage_params
    from ..face.stage import SCORING_PARAMS
    from ..models import FerModel
    from ..pipelines.base import check_label_space
    from ..results.environment import environment
    from .execute import validation_metrics
    from .model_store import source_label

    estimator, kwargs = build_estimator(job, checkpoint_root)
    split = d.split
    # A pipeline whose outputs are a model file's classes (the ensemble's CNN) must answer
    # the job's; checked before a long fit, not after.
    output_classes = getattr(estimator, "output_classes", None)
    fixed = output_classes() if callable(output_classes) else None  # None: learns the job's
    if fixed is not None:
        check_label_space(fixed, d.train_classes, f"{job.pipeline}'s model file")
    reset_peak_rss()
    t0 = time.perf_counter()
    fit_estimator(estimator, d.X_train, d.y_train, d.X_val, d.y_val, split.val_from_train)
    fit_s = time.perf_counter() - t0
    selection = selection_summary(estimator)
    trained_on_val = selection.get("selection", {}).get("trained_on_validation", False)
    n_val = 0 if d.X_val is None else int(len(d.X_val))
    # Scored once here and kept with the model (a job reusing it reports them); None when the
    # model has trained on these images.
    val_metrics = None if trained_on_val else validation_metrics(
        estimator, d.train_classes, d, job.seed)
    family = "deep" if PIPELINES.get(job.pipeline).tags.get("family") == "deep" else "classical"
    env = {k: v for k, v in environment().items() if k != "hostname"}  # the file may be shared
    provenance: dict[str, Any] = {
        "pipeline": job.pipeline, "family": family, "params": kwargs,
        "dataset": job.datasets[0], "datasets": list(job.datasets[:1]),
        "dataset_options": {job.datasets[0]: d.dataset_options.get(job.datasets[0], {})},
        "protocol": job.protocol, "source_label": source_label(job), "fold": split.fold,
        "seed": job.seed, "view": job.view, "dropped_classes": d.train_dropped,
        "data_sha256": data_sha256,
        "limit_train": job.limit_train, **split_names(d.protocol, split.fold),
        "n_train": int(len(d.train)) + (n_val if trained_on_val else 0), "n_val": n_val,
        **selection, "val_accuracy": val_metrics and val_metrics["accuracy"],
        "val_metrics": val_metrics, "fit_seconds": round(fit_s, 3),
        "trained_by": job.config_hash, "model_key": key,
        "fer_bench_version": __version__, "environment": env,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": list(command) if command is not None else list(sys.argv),
    }
    start = starting_weights(estimator)
    if start:
        provenance["init_from"] = start
    history = training_history(estimator)
    if history is not None:
        provenance["history"] = history
    face = {k: v for k, v in job.face.items() if k not in SCORING_PARAMS}
    framing = training_framing(job, d)
    if framing:
        provenance["framing"] = framing
        face.update(stage_params(framing))
    return FerModel(estimator=estimator, classes=tuple(d.train_classes), face=face,
                    family=family, provenance=provenance)


def training_framing(job: Job, d: JobData) -> dict | None:
    """The framing of ``d``'s training crops (:func:`~fer_bench.face.framing.measure_framing`),
    which faces detected in other images are then cut to, when the crops are a pre-cropped
    dataset's own (no detection ran on them) and the job neither sets a framing nor skips
    detection altogether; None otherwise (detected training faces are framed by the stage's
    own ``margin`` / ``box_scale``, the same rule as any test face)."""
    from ..face.framing import measure_framing

    if (d.detection_rates[0] is not None or job.face.get("mode") == "skip"
            or job.face.get("box_scale") is not None or d.X_train is None):
        return None
    return measure_framing(d.X_train, seed=job.seed)


@dataclass
class Obtained:
    """A job's model and where it came from (what its record says under ``"model"``)."""

    model: FerModel
    #: ``key``, ``source`` (the protocol that trained it), ``trained_by`` (that job's config
    #: hash), ``reused`` (found in the store), ``sha256`` / ``file`` (when stored), ``error``
    #: (why it could not be stored).
    info: dict
    #: The job's own constructor arguments (what its record lists; a reused model's file may
    #: name others that do not change its weights, such as where it checkpointed); None for a
    #: model file scored as it is (``evaluate``).
    params: dict | None = None

    @property
    def fitted_here(self) -> bool:
        return not self.info["reused"]


def obtain_model(job: Job, d: JobData, data_root: str | None = None,
                 checkpoint_root: str | None = None, model_root: str | None = None,
                 command: list[str] | None = None, stored_after: float | None = None
                 ) -> Obtained:
    """``job``'s model: from the store under ``model_root`` when an earlier job fitted it, else
    fitted now on its source's training data (``d`` itself, or the source protocol's data for
    a cross-dataset job whose training dataset has a published split) and stored.

    A model that cannot be stored (a pipeline holding types a model file may not) is still
    scored; the record's ``model.error`` says why it was not kept. Only models stored at or
    after ``stored_after`` (a ``time.time()``) are reused: ``run --force`` fits each model again
    once, and replaces the stored one.
    """
    from ..modelfile import file_digest
    from .model_store import ModelStore, data_digest, model_key, model_source, source_label
    from .prepare import prepare

    check_pretrained(job)
    source = model_source(job)
    _, kwargs = build_estimator(source, checkpoint_root)
    # d.loaded[0] is the training dataset, loaded with the source's options, in either case.
    data_sha256 = data_digest(d.loaded[0])
    key = model_key(source, kwargs, data_sha256)
    info: dict[str, Any] = {"key": key, "source": source_label(source),
                            "trained_by": source.config_hash, "reused": False}

    def fit() -> FerModel:
        return fit_model(source, d if source is job else prepare(source, data_root), key,
                         data_sha256, checkpoint_root, command)

    if model_root is None:
        return Obtained(fit(), info, kwargs)
    store = ModelStore(model_root)
    with store.lock(key):
        model = store.get(key, stored_after)
        if model is not None:  # say who fitted it (for A without a published split: the
            # first cross:A->X job that ran)
            p = model.provenance
            info.update(reused=True, source=p.get("source_label") or p.get("protocol"),
                        trained_by=p.get("trained_by"))
        else:
            model = fit()
            try:
                store.put(model, key)
            except Exception as exc:  # noqa: BLE001 - keeping the model is a convenience
                info["error"] = error_line(exc)
    path = store.path(key)
    if path.is_file() and "error" not in info:
        info.update(file=str(path), sha256=file_digest(path), bytes=path.stat().st_size)
    return Obtained(model, info, kwargs)
