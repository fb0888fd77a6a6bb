"""The trained-model store: each fitted model is saved once and served to every job that needs it.

A model is named by its *model key*: the SHA-256 of what decides the fitted weights -- the
pipeline and its constructor arguments (seed included), the training dataset with its loader
options and a digest of its data, the training split (protocol and fold), the label view, the
face stage, the training-set limit and the weights it started from. Settings that do not change the weights (where checkpoints go, verbosity,
prediction batch size) are left out. The store keeps ``<root>/<key>.ferb`` (``root`` is
``<out>/cache/models`` for ``run``), written by :func:`fer_bench.models.save_model`, so the
files are ordinary model files that ``predict``, ``demo`` and ``evaluate`` read.

Cross-dataset jobs are where the store pays: ``cross:fer2013->X`` evaluates the very model that
``fer2013-official`` trained (fit on Training, selected on PublicTest), and ``cross:ckplus->X``
trains once on all of CK+ and serves every ``X``.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
from ..errors import ModelFileError
from ..protocols.cross import cross_pair, is_cross
from ..registry import NEUTRAL_PARAMS, PROTOCOLS
from .jobs import HARNESS_VERSION, Job, read_models_digests, weights_digest

if TYPE_CHECKING:
    from ..data.dataset import FaceDataset
    from ..models import FerModel



def fixed_protocol(dataset: str) -> str | None:
    """The registered one-fold protocol on ``dataset``'s own published split (FER2013's
    Training / PublicTest / PrivateTest), or None when the dataset has none."""
    base = dataset.split(":", 1)[0]
    for entry in PROTOCOLS:
        if entry.tags.get("fixed_split") and tuple(entry.tags.get("datasets") or ()) == (base,):
            return entry.name
    return None


def model_source(job: Job) -> Job:
    """The job whose fit produces the model ``job`` scores.

    A within-dataset job fits its own. ``cross:A->B`` scores the model of ``A``'s published
    split (``fer2013-official``: fit on Training, selected on PublicTest) when ``A`` has one;
    otherwise the model fitted on all of ``A`` with a seeded subject-independent tenth held out
    for selection, which is the same for every ``B``. A job on corrupted test faces scores the
    model of the same job on clean ones.
    """
    if job.corruption is not None:
        return model_source(replace(job, corruption=None))
    if not is_cross(job.protocol):
        return job
    train = job.datasets[0]
    own = fixed_protocol(train)
    if own is None:
        return job
    return replace(job, protocol=own, datasets=(train,), fold="official",
                   dataset_options={train: job.dataset_options.get(train, {})})


def data_digest(ds: FaceDataset) -> str:
    """SHA-256 of what a dataset gives a model to learn from: every image's pixels, label,
    subject and split tag, in order. A model is reused only for the very same data: an image
    added, deleted, relabelled or replaced (a copy removed after the leak guard refused it)
    is a new model."""
    h = hashlib.sha256(np.ascontiguousarray(ds.content_hashes).tobytes())
    for column in (ds.labels, ds.subjects, ds.splits):
        h.update(b"|" + ("" if column is None else json.dumps(np.asarray(column).tolist(),
                                                              default=str)).encode())
    return h.hexdigest()


def source_label(source: Job) -> str:
    """How reports name the training a model came from: its protocol (``fer2013-official``),
    or, for a dataset without a published split, ``A (all, a tenth held out)``."""
    if is_cross(source.protocol):
        return f"{source.datasets[0]} (all of it, a seeded tenth held out for selection)"
    return source.spec.label


def fit_identity(source: Job) -> dict[str, Any]:
    """What names the fit of ``source`` (a :func:`model_source` job) apart from the estimator's
    constructor arguments and the data's content: the pipeline, the training dataset and split,
    seed, view, face stage and training-set limit. Jobs whose sources agree on it and on their
    parameters fit one model (``cross:ckplus->jaffe`` and ``cross:ckplus->fer2013``)."""
    from ..face.stage import SCORING_PARAMS

    train = source.datasets[0]
    return {
        "harness_version": HARNESS_VERSION, "pipeline": source.pipeline,
        "dataset": train, "dataset_options": source.dataset_options.get(train, {}),
        "split": f"{'cross' if is_cross(source.protocol) else source.protocol}/{source.fold}",
        "seed": source.seed, "view": source.view,
        "face": {k: v for k, v in source.face.items() if k not in SCORING_PARAMS},
        "limit_train": source.limit_train,
    }


def model_config(source: Job, kwargs: dict[str, Any], data_sha256: str,
                 init_from_sha256: str | None = None) -> dict[str, Any]:
    """What decides the weights ``source`` fits: its :func:`fit_identity`, the estimator's
    constructor ``kwargs``, the training dataset's :func:`data_digest`, and the digest of the
    weights it starts from (by default that of the ``init_from`` file on disk now)."""
    config = {**fit_identity(source),
              "params": {k: v for k, v in kwargs.items() if k not in NEUTRAL_PARAMS},
              "data_sha256": data_sha256}
    digest = init_from_sha256 or weights_digest(kwargs.get("init_from"))
    if digest:
        config["init_from_sha256"] = digest
    config.update(read_models_digests(kwargs))
    return config


def model_key(source: Job, kwargs: dict[str, Any], data_sha256: str,
              init_from_sha256: str | None = None) -> str:
    """The model key (hex SHA-256 of :func:`model_config`)."""
    config = model_config(source, kwargs, data_sha256, init_from_sha256)
    payload = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def training_job(model: FerModel) -> Job:
    """The job a model file's provenance describes (a file ``train`` or ``run`` wrote), with
    the face stage it was trained with (a measured framing is the model's, not the job's).
    Raises :class:`ModelFileError` when the provenance lacks what the job needs."""
    from ..face.framing import stage_params

    p = model.provenance
    missing = [k for k in ("pipeline", "params", "dataset", "protocol", "fold", "seed", "view")
               if k not in p]
    if missing:
        raise ModelFileError(model.path, f"its provenance lacks {', '.join(missing)}",
                             "only files written by fer-bench's `train` or `run` qualify")
    face = dict(model.face)
    if p.get("framing"):  # measured on the training crops, not a setting they were made with
        for k in stage_params(p["framing"]):
            face.pop(k, None)
    datasets = tuple(p.get("datasets") or (p["dataset"],))
    if is_cross(p["protocol"]):  # its split needs both datasets
        datasets = cross_pair(p["protocol"])
    return Job(pipeline=p["pipeline"], protocol=p["protocol"], datasets=datasets, fold=p["fold"],
               seed=int(p["seed"]), view=p["view"], params=dict(p["params"]), face=face,
               limit_train=p.get("limit_train"),
               dataset_options=dict(p.get("dataset_options") or {}))


def key_of_file(model: FerModel, data_root: str | None = None) -> str:
    """The model key a model file's provenance describes. A file written before provenances
    held the training data's digest gets it from its training dataset, loaded from
    ``data_root``."""
    p = model.provenance
    job = training_job(model)
    data_sha256 = p.get("data_sha256")
    if data_sha256 is None:
        from .job_data import load

        train = job.datasets[0]
        data_sha256 = data_digest(load(train, job.dataset_options.get(train, {}), data_root))
    start = (p.get("init_from") or {}).get("sha256")  # the weights it started from, not the
    return model_key(job, dict(p["params"]), data_sha256, start)  # file there now


class ModelStore:
    """Fitted models by model key, as ``.ferb`` files under ``root``."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        from ..models import SUFFIX

        return self.root / f"{key}{SUFFIX}"

    def get(self, key: str, stored_after: float | None = None) -> FerModel | None:
        """The stored model, or None (also when it was stored before ``stored_after``, a
        ``time.time()``). A damaged file is deleted with a one-line notice (the job then fits
        the model again) instead of failing the job."""
        from ..models import load_model

        path = self.path(key)
        if not path.is_file():
            return None
        if stored_after is not None and path.stat().st_mtime < stored_after:
            return None
        try:
            return load_model(path)
        except ModelFileError as exc:
            print(f"warning: discarding a damaged stored model ({exc}); it will be fitted again",
                  file=sys.stderr)
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    def put(self, model: FerModel, key: str) -> Path:
        """Save ``model`` under ``key`` (atomically) and return its path."""
        from ..models import save_model

        self.root.mkdir(parents=True, exist_ok=True)
        return save_model(model, self.path(key))

    def add(self, path: str | os.PathLike, data_root: str | None = None) -> tuple[str, Path]:
        """Store a copy of the model file at ``path`` (its bytes: the digest stays the file's)
        under the key its provenance describes (see :func:`key_of_file`), so that jobs with
        that configuration score it instead of fitting one."""
        from ..atomic import write_bytes
        from ..models import load_model

        model = load_model(path)  # refused unless it is a sound model file
        key = key_of_file(model, data_root)
        target = self.path(key)
        if Path(path).resolve() != target.resolve():
            write_bytes(target, Path(path).read_bytes())
        return key, target

    def keys(self) -> list[str]:
        from ..models import SUFFIX

        if not self.root.is_dir():
            return []
        return sorted(p.name[:-len(SUFFIX)] for p in self.root.glob(f"*{SUFFIX}"))

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Hold ``key`` while a model is looked up and, if missing, fitted: parallel jobs that
        need the same model wait for the first one's file instead of fitting it twice. Where
        locking is not possible (no ``fcntl``, as on Windows; a folder that cannot be written)
        the jobs go on unlocked and may fit the model twice: the file is written atomically."""
        try:
            import fcntl
        except ImportError:
            fcntl = None
        handle = None
        if fcntl is not None:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                handle = open(self.root / f"{key}.lock", "a+b")
                fcntl.flock(handle, fcntl.LOCK_EX)
            except OSError:
                if handle is not None:
                    handle.close()
                handle = None
        try:
            yield
        finally:
            if handle is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
