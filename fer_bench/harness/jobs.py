"""From a suite or a selection to the list of jobs, each with its configuration hash.

A job is one (pipeline, protocol, fold, seed) run with its label view, pipeline parameters,
face-stage parameters, training-set limit and dataset options. Its ``config_hash`` (sha256 of the
canonical JSON of all that plus :data:`HARNESS_VERSION`) names the result: ``--resume`` skips a
job whose hash already has an ``ok`` record.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import traceback
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..data.roots import available, check_named_root, data_root as resolve_root
from ..errors import DataError, DatasetNotFound, FerBenchError, ProtocolError
from ..registry import DATASETS, PIPELINES, PROTOCOLS, SUITES, protocol_for
from ..results.store import UNPLANNED_FOLD
from .params import budget_params, dataset_defaults, face_params

#: Bump when a change to the harness changes what a job computes (so old records stop matching).
HARNESS_VERSION = 1
#: Bump when cross-dataset jobs change what they compute (their records stop matching).
CROSS_VERSION = 2
#: Mirrors fer_bench.pipelines.deep.transfer.TRANSFER_VERSION (a test keeps them equal): jobs
#: that start from a model file's weights stop matching records made before a change to it.
TRANSFER_VERSION = 2

#: The dataset and protocol every selection falls back to when no real data is found.
SYNTHETIC_PROTOCOL = "synthetic-holdout"


def is_builtin(dataset: str) -> bool:
    """Whether ``dataset`` (a name or ``folder:PATH``) is generated, not read from disk."""
    return bool(DATASETS.get(dataset.split(":", 1)[0]).tags.get("builtin"))


@dataclass(frozen=True)
class ProtocolSpec:
    """A protocol name and the dataset(s) it runs on (``kfold`` needs one named)."""

    name: str
    datasets: tuple[str, ...]

    @property
    def label(self) -> str:
        """Unique display name: the protocol, plus the dataset for the generic ``kfold``."""
        if self.name in PROTOCOLS and not PROTOCOLS.get(self.name).tags.get("datasets"):
            return f"{self.name}({','.join(self.datasets)})"
        return self.name

    @property
    def synthetic(self) -> bool:
        """Whether any of its datasets is the built-in synthetic one (its results must stay
        out of a store of real results)."""
        return any(is_builtin(d) for d in self.datasets)


@dataclass(frozen=True)
class Selection:
    """Pipelines x protocols to run; ``note`` says when the synthetic fallback was taken."""

    pipelines: tuple[str, ...]
    protocols: tuple[ProtocolSpec, ...]
    note: str | None = None


@dataclass(frozen=True)
class Job:
    """One unit of work: fit ``pipeline`` on one fold of ``protocol`` with one seed."""

    pipeline: str
    protocol: str
    datasets: tuple[str, ...]
    fold: str
    seed: int
    view: str
    params: dict = field(default_factory=dict)
    face: dict = field(default_factory=dict)
    limit_train: int | None = None
    dataset_options: dict = field(default_factory=dict)
    #: A saved model file to score instead of fitting one (``evaluate``); None for a job that
    #: fits its model (or finds it in the trained-model store).
    model: str | None = None
    #: ``(name, severity)`` of a corruption (:mod:`fer_bench.data.corruptions`) applied to the
    #: test faces, for the robustness analysis: the job scores the model of the same job
    #: without it. None for the clean test set.
    corruption: tuple[str, int] | None = None
    #: Why the job cannot run (its data failed to load or split while planning, one line with
    #: the file), and that error's traceback; None for a job that can run.
    problem: str | None = field(default=None, compare=False)
    problem_traceback: str = field(default="", compare=False, repr=False)
    #: ``(n_train, n_val, n_test)`` of the fold as planned (before ``limit_train``), for the
    #: duration estimate; None when unplanned. Not part of the configuration.
    sizes: tuple[int, int, int] | None = field(default=None, compare=False, repr=False)

    def config(self) -> dict:
        """Everything that determines the result, as canonical JSON-ready data."""
        config = {
            "harness_version": HARNESS_VERSION, "pipeline": self.pipeline,
            "protocol": self.protocol, "datasets": list(self.datasets), "fold": self.fold,
            "seed": self.seed, "view": self.view, "params": self.params, "face": self.face,
            "limit_train": self.limit_train,
            "dataset_options": {d: self.dataset_options.get(d, {}) for d in self.datasets},
        }
        digest = weights_digest(self.params.get("init_from"))
        if digest:
            # The starting weights' content, not their file name: replacing the model file
            # makes a new job rather than one --resume skips.
            config["init_from_sha256"] = digest
            # What the starting weights keep (see pipelines.deep.transfer.TRANSFER_VERSION);
            # written as a literal so planning a job never imports JAX.
            config["transfer_version"] = TRANSFER_VERSION
        if self.protocol.startswith("cross:"):
            # Since version 2 a cross-dataset job scores the training dataset's own model
            # (all of its classes; argmax over the classes both datasets share), reused from
            # the trained-model store, instead of a model fitted on the shared classes alone.
            config["cross_version"] = CROSS_VERSION
        if self.model is not None:
            config["model_sha256"] = weights_digest(self.model)
        config.update(read_models_digests(self.params))
        if self.corruption is not None:
            config["corruption"] = corruption_entry(self.corruption)
        return config

    @cached_property
    def config_hash(self) -> str:
        payload = json.dumps(self.config(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    @property
    def spec(self) -> ProtocolSpec:
        return ProtocolSpec(self.protocol, self.datasets)

    def describe(self) -> str:
        text = f"{self.pipeline} on {self.spec.label} fold {self.fold} seed {self.seed}"
        if self.corruption is not None:
            text += " under {} severity {}".format(*self.corruption)
        return text


def corruption_entry(corruption: tuple[str, int]) -> dict[str, Any]:
    """How a job's config and record name its test-set corruption (with the version of the
    corruption levels: changing a level is a new job, not one ``--resume`` skips)."""
    from ..data.corruptions import VERSION

    name, severity = corruption
    return {"name": name, "severity": int(severity), "version": VERSION}


def corruption_names(text: str | Sequence[str] | None) -> list[str]:
    """``--corrupt``'s names (``all`` for every one) as a list; an unknown name is a
    :class:`FerBenchError` listing the known ones."""
    from ..data.corruptions import CORRUPTIONS

    names = _split_list(text) or []
    if names == ["all"]:
        return list(CORRUPTIONS)
    unknown = [n for n in names if n not in CORRUPTIONS]
    if unknown:
        raise FerBenchError(f"--corrupt {','.join(unknown)}: unknown corruption; choose all or "
                            f"any of {', '.join(CORRUPTIONS)}")
    return names


def error_line(exc: BaseException) -> str:
    """``"Type: message"`` on one line: what a failed record and the run summary show."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split()) or '(no message)'}"


def read_models_digests(params: dict[str, Any]) -> dict[str, Any]:
    """The content digests of the CNN files a hybrid's ``params`` name (``model``, an
    ensemble's ``extra_models``): replacing one makes a new job and a new model key. Empty
    when they name none (the bundled model's jobs keep their hashes)."""
    out: dict[str, Any] = {}
    if not (params.get("model") or params.get("extra_models")):
        return out  # the common case: planning imports no pipeline code
    from ..pipelines.hybrid import model_list

    if params.get("model"):
        out["model_param_sha256"] = weights_digest(str(params["model"]))
    extra = model_list(params.get("extra_models"))
    if extra:
        out["extra_models_sha256"] = [weights_digest(p) for p in extra]
    return out


def weights_digest(path: str | None) -> str | None:
    """SHA-256 of the model file a job starts from (``init_from``); None without one, or when
    it cannot be read (the job then fails with the estimator's one-line error)."""
    if not path or not Path(path).is_file():
        return None
    from ..modelfile import file_digest  # the estimator's own digest of its starting weights

    return file_digest(path)


# --- selection ---------------------------------------------------------------------------------

def _split_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    return [i.strip() for i in items if i.strip()]


def _pipelines(names: Iterable[str], family: str | None = None) -> list[str]:
    out: list[str] = []
    for name in names:
        if name in ("*", "all"):
            chosen = PIPELINES.names(family=family) if family else PIPELINES.names()
        elif name in ("classical", "deep") and name not in PIPELINES:
            chosen = PIPELINES.names(family=name)
        else:
            PIPELINES.get(name)  # raises with close matches for a typo
            chosen = [name]
        out += [c for c in chosen if c not in out]
    return out


def _dataset_protocols(found: Sequence[str]) -> list[ProtocolSpec]:
    """Every registered protocol whose datasets are all among ``found`` (not kfold / cross)."""
    specs = []
    for entry in PROTOCOLS:
        wanted = entry.tags.get("datasets")
        if wanted and all(d in found for d in wanted):
            specs.append(ProtocolSpec(entry.name, tuple(wanted)))
    return specs


def _cross_matrix(datasets: Sequence[str]) -> list[ProtocolSpec]:
    real = [d for d in datasets if not is_builtin(d)]
    return [ProtocolSpec(f"cross:{a}->{b}", (a, b))
            for a, b in itertools.permutations(real, 2)]


def _spec(name: str, datasets: Sequence[str] | None) -> list[ProtocolSpec]:
    if name.startswith("cross:"):
        train, _, test = name[len("cross:"):].partition("->")
        if not (train and test):
            raise FerBenchError(
                f"protocol {name!r}: write a cross-dataset protocol as cross:TRAIN->TEST")
        return [ProtocolSpec(name, (train, test))]
    entry = PROTOCOLS.get(name)
    wanted = entry.tags.get("datasets")
    if wanted:
        return [ProtocolSpec(name, tuple(wanted))]
    if not datasets:
        raise FerBenchError(f"protocol {name!r} runs on any dataset: name it with --datasets X,Y")
    return [ProtocolSpec(name, (d,)) for d in datasets]


def resolve_selection(
    suite: str | None = None,
    pipelines: str | Sequence[str] | None = None,
    datasets: str | Sequence[str] | None = None,
    protocols: str | Sequence[str] | None = None,
    data_root: str | None = None,
) -> Selection:
    """The pipelines and protocols a ``run`` command means.

    ``suite`` names an entry of :data:`~fer_bench.registry.SUITES`; explicit ``pipelines``,
    ``datasets`` or ``protocols`` override its fields. In protocol lists ``"*"`` means every
    protocol of the datasets found under the data root and ``"cross"`` every ordered pair of
    them. With ``datasets`` and no protocols, each dataset gets its own protocol
    (:func:`~fer_bench.registry.protocol_for`). When a wildcard finds no dataset at all the
    selection falls back to the synthetic default and ``note`` says so, unless the user named
    the data root (``data_root`` or ``$FER_BENCH_DATA``): a named root that does not exist or
    holds no dataset raises :class:`~fer_bench.errors.DatasetNotFound`.
    """
    check_named_root(data_root)
    pipe_list, data_list, proto_list = map(_split_list, (pipelines, datasets, protocols))
    if suite is None and not (pipe_list or data_list or proto_list):
        raise FerBenchError(
            f"say what to run: --suite {{{','.join(SUITES)}}} or --pipelines/--datasets/--protocols"
        )
    spec: dict[str, Any] = {}
    if suite is not None:
        if suite not in SUITES:
            raise FerBenchError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")
        spec = SUITES[suite]
    family = spec.get("family")
    wanted_pipes = pipe_list or ([spec["pipelines"]] if isinstance(spec.get("pipelines"), str)
                                 else list(spec.get("pipelines", ("*",))))
    chosen_pipes = _pipelines(wanted_pipes, family if not pipe_list else None)

    if data_list is not None:
        for d in data_list:
            DATASETS.get(d.split(":", 1)[0])
    found = data_list if data_list is not None else available(data_root)
    if proto_list is None and data_list is not None:
        proto_items = [protocol_for(d) for d in data_list]
        specs = []
        for d, p in zip(data_list, proto_items):
            specs += [s for s in _spec(p, [d]) if s not in specs]
    else:
        raw = proto_list if proto_list is not None else spec.get("protocols", "*")
        proto_items = [raw] if isinstance(raw, str) else list(raw)
        specs = []
        for item in proto_items:
            if item == "*":
                new = _dataset_protocols(found)
            elif item == "cross":
                new = _cross_matrix(found)
            else:
                new = _spec(item, data_list)
                if data_list is not None:
                    new = [s for s in new if all(d in data_list for d in s.datasets)]
            specs += [s for s in new if s not in specs]

    note = None
    if not specs:
        if data_list is None and any(i in ("*", "cross") for i in proto_items):
            check_named_root(data_root, need_data=True)  # the fallback is for no root named
            if proto_items == ["cross"]:
                raise FerBenchError(
                    f"cross-dataset runs need two datasets under {resolve_root(data_root)}; found "
                    f"{', '.join(found) or 'none'} (see datasets/README.md; pass --data-root DIR "
                    f"or set $FER_BENCH_DATA)"
                )
            specs = _spec(SYNTHETIC_PROTOCOL, None)
            note = (f"no dataset found under {resolve_root(data_root)}: running on the synthetic "
                    f"default ({SYNTHETIC_PROTOCOL}); put real data there as datasets/README.md "
                    f"describes, or pass --data-root DIR / set $FER_BENCH_DATA")
        else:
            raise FerBenchError("the selection names no protocol that runs on the chosen datasets")
    if not chosen_pipes:
        raise FerBenchError("the selection names no pipeline")
    return Selection(tuple(chosen_pipes), tuple(specs), note)


# --- expansion ---------------------------------------------------------------------------------

def default_view(spec: ProtocolSpec) -> str:
    from ..protocols import get_protocol

    return get_protocol(spec.name).default_view


def folds(spec: ProtocolSpec, view: str, seed: int, dataset_options: dict,
          data_root: str | None, broken: dict[str, BaseException] | None = None
          ) -> list[tuple[str, tuple[int, int, int]]]:
    """``(fold name, (n_train, n_val, n_test))`` of each fold of ``spec`` under ``view`` and
    ``seed`` (loads the data, not the faces).

    ``broken`` remembers the load errors of datasets seen so far (by name and options), so a
    broken dataset shared by several protocols and seeds is read once: its error is raised again.
    """
    from ..protocols import get_protocol
    from .job_data import load, view_data

    protocol = get_protocol(spec.name)
    broken = {} if broken is None else broken
    loaded = []
    for d in spec.datasets:
        key = json.dumps([d, dataset_options.get(d, {})], sort_keys=True, default=str)
        if key in broken:
            raise broken[key]
        try:
            loaded.append(load(d, dataset_options.get(d, {}), data_root))
        except DataError as exc:
            broken[key] = exc
            raise
    data = view_data(tuple(loaded), view)
    return [(s.fold, (len(s.train), 0 if s.val is None else len(s.val), len(s.test)))
            for s in protocol.splits(data.protocol_input, seed)]


def plan_folds(spec: ProtocolSpec, view: str, seed: int, dataset_options: dict,
               data_root: str | None, broken: dict[str, BaseException]
               ) -> tuple[list[tuple[str, tuple[int, int, int] | None]], str | None, str]:
    """``(folds, problem, traceback)``: the folds as :func:`folds` gives them, or when the data
    is broken (a bad file, a split the leak guard refuses) ``[(UNPLANNED_FOLD, None)]`` with the
    one-line problem and its
    traceback, so that only this protocol's jobs fail. A dataset that is not where the user
    said (:class:`~fer_bench.errors.DatasetNotFound`) still raises: every job would fail."""
    try:
        return folds(spec, view, seed, dataset_options, data_root, broken), None, ""
    except (DataError, ProtocolError) as exc:
        if isinstance(exc, DatasetNotFound):
            raise
        return [(UNPLANNED_FOLD, None)], error_line(exc), "".join(traceback.format_exception(exc))


def expand_jobs(
    selection: Selection,
    seeds: Sequence[int] = (0,),
    *,
    view: str | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    face: dict[str, Any] | None = None,
    limit_train: int | None = None,
    dataset_options: dict[str | None, dict[str, Any]] | None = None,
    data_root: str | None = None,
    budget: str | None = None,
    corruptions: Sequence[str] = (),
) -> list[Job]:
    """Every job of ``selection``: protocol -> seed -> fold -> pipeline, in that order.

    A pipeline's parameters are, by increasing priority: its training dataset's registry
    defaults, the training ``budget`` (a :data:`~fer_bench.registry.BUDGETS` name), ``params``.
    ``dataset_options`` maps a dataset name (or ``None`` for all datasets) to loader options.
    Folds come from the protocols themselves, so the data is loaded (from its cache) here. A
    protocol whose data is broken gets one job per pipeline and seed on fold
    :data:`UNPLANNED_FOLD` carrying the ``problem``: it fails alone, the others run. Each of
    ``corruptions`` adds, after every job, one job per severity scoring its model on
    corrupted test faces.
    """
    from ..data.corruptions import SEVERITIES

    if limit_train is not None and limit_train < 2:
        raise FerBenchError(f"--limit-train {limit_train}: need at least 2 training images")
    params = params or {}
    face = face_params(face)
    jobs: list[Job] = []
    broken: dict[str, BaseException] = {}
    for spec in selection.protocols:
        shared = (dataset_options or {}).get(None, {})
        options = {d: {**shared, **(dataset_options or {}).get(d, {})} for d in spec.datasets}
        job_view = view or default_view(spec)
        for seed in seeds:
            planned, problem, trace = plan_folds(spec, job_view, seed, options, data_root,
                                                 broken)
            for fold, sizes in planned:
                for pipeline in selection.pipelines:
                    job_params = {**dataset_defaults(spec.datasets, pipeline),
                                  **budget_params(budget, spec.datasets, pipeline),
                                  **params.get(pipeline, {})}
                    job = Job(
                        pipeline=pipeline, protocol=spec.name, datasets=spec.datasets, fold=fold,
                        seed=int(seed), view=job_view, params=job_params, face=face,
                        limit_train=limit_train, dataset_options=options,
                        problem=problem, problem_traceback=trace, sizes=sizes,
                    )
                    jobs.append(job)
                    jobs += [replace(job, corruption=(name, severity))
                             for name in corruptions for severity in SEVERITIES]
    return jobs
