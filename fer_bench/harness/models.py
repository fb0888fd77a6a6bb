"""The trained-model store: each fitted model is saved once and served to every job that needs it.

A model is named by its *model key*: the SHA-256 of what decides the fitted weights -- the
pipeline and its constructor arguments (seed included), the training dataset with its loader
options, the training split (protocol and fold), the label view, the face stage and the
training-set limit. Settings that do not change the weights (where checkpoints go, verbosity,
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

from ..errors import ModelFileError
from ..registry import PROTOCOLS
from .jobs import HARNESS_VERSION, Job, weights_digest

if TYPE_CHECKING:
    from ..models import FerModel

#: Constructor arguments that do not change the fitted weights (left out of the model key).
WEIGHT_NEUTRAL = ("checkpoint_dir", "verbose", "predict_batch_size")
#: Fold of a cross-dataset job's own split of the training dataset: all of it (see
#: :meth:`fer_bench.protocols.cross.CrossDataset.splits`).
ALL_FOLD = "all"


def is_cross(protocol: str) -> bool:
    return protocol.startswith("cross:")


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
    for selection, which is the same for every ``B``.
    """
    if not is_cross(job.protocol):
        return job
    train = job.datasets[0]
    own = fixed_protocol(train)
    if own is None:
        return job
    return replace(job, protocol=own, datasets=(train,), fold="official",
                   dataset_options={train: job.dataset_options.get(train, {})})


def model_config(source: Job, kwargs: dict[str, Any]) -> dict[str, Any]:
    """What decides the weights ``source`` fits, given the estimator's constructor ``kwargs``."""
    from ..face.stage import SCORING_PARAMS

    train = source.datasets[0]
    config = {
        "harness_version": HARNESS_VERSION, "pipeline": source.pipeline,
        "params": {k: v for k, v in kwargs.items() if k not in WEIGHT_NEUTRAL},
        "dataset": train, "dataset_options": source.dataset_options.get(train, {}),
        "split": f"{'cross' if is_cross(source.protocol) else source.protocol}/{source.fold}",
        "seed": source.seed, "view": source.view,
        "face": {k: v for k, v in source.face.items() if k not in SCORING_PARAMS},
        "limit_train": source.limit_train,
    }
    digest = weights_digest(kwargs.get("init_from"))
    if digest:
        config["init_from_sha256"] = digest
    return config


def model_key(source: Job, kwargs: dict[str, Any]) -> str:
    """The model key (hex SHA-256 of :func:`model_config`)."""
    payload = json.dumps(model_config(source, kwargs), sort_keys=True, separators=(",", ":"),
                         default=str)
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
        datasets = tuple(p["protocol"][len("cross:"):].split("->", 1))
    return Job(pipeline=p["pipeline"], protocol=p["protocol"], datasets=datasets, fold=p["fold"],
               seed=int(p["seed"]), view=p["view"], params=dict(p["params"]), face=face,
               limit_train=p.get("limit_train"),
               dataset_options=dict(p.get("dataset_options") or {}))


def key_of_file(model: FerModel) -> str:
    """The model key a model file's provenance describes."""
    return model_key(training_job(model), dict(model.provenance["params"]))


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

    def add(self, path: str | os.PathLike) -> tuple[str, Path]:
        """Store a copy of the model file at ``path`` under the key its provenance describes,
        so that jobs with that configuration score it instead of fitting their own."""
        from ..models import load_model

        model = load_model(path)
        key = key_of_file(model)
        return key, self.put(model, key)

    def keys(self) -> list[str]:
        from ..models import SUFFIX

        if not self.root.is_dir():
            return []
        return sorted(p.name[:-len(SUFFIX)] for p in self.root.glob(f"*{SUFFIX}"))

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Hold ``key`` while a model is looked up and, if missing, fitted: parallel jobs that
        need the same model wait for the first one's file instead of fitting it twice. (Without
        ``fcntl``, as on Windows, the jobs may fit it twice; the file is written atomically.)"""
        try:
            import fcntl
        except ImportError:
            yield
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f"{key}.lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
