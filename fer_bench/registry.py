"""The one place that collects every dataset, protocol and pipeline, and names the suites.

A plug-in is one module. Each dataset loader, protocol and pipeline module declares what it
provides in a module-level ``PLUGINS`` list of plain literals (name, kind, summary, tags, and for
a pipeline its family and training budgets), next to the code it names; the registry finds the
modules of :data:`PLUGIN_PACKAGES` that declare one and reads the declarations with
:func:`ast.literal_eval`, *without importing them*, the first time a table is used. So listing
names (the CLI's ``--help``, ``datasets list``) never imports JAX or scikit-learn, and adding a
pipeline, dataset or protocol touches no other file (CONTRIBUTING.md has a worked example).

A declaration::

    PLUGINS = [{"kind": "pipeline", "name": "hog-svm", "target": "make_hog_svm",
                "summary": "HOG -> PCA -> RBF SVM", "family": "classical", "order": 60}]

``target`` is the module's factory (pipelines, protocols) or loader (datasets); every other key
is a tag (see each table's comment below). ``order`` places the entry in listings and tables
(ascending; omitted: after the built-in ones, by name). The CLI, the harness, the tests and the
benchmarks read these tables instead of repeating lists.
"""
from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator


@dataclass(frozen=True)
class Entry:
    """A registered name and where its implementation lives."""

    name: str
    target: str
    summary: str
    tags: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Callable[..., Any]:
        """Import and return the implementation (a factory or loader)."""
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


#: Packages whose modules (at any depth) may declare plug-ins; ``$FER_BENCH_PLUGINS`` adds
#: importable packages of one's own (comma-separated names), read the same way.
PLUGIN_PACKAGES = ("fer_bench.data", "fer_bench.protocols", "fer_bench.pipelines")
PLUGINS_ENV = "FER_BENCH_PLUGINS"
KINDS = ("dataset", "protocol", "pipeline")
_DEFAULT_ORDER = 10_000


class Registry:
    """An ordered table of :class:`Entry` by name, filled from the plug-in declarations on
    first use (:func:`collect`); :meth:`add` registers one more (e.g. from a test)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] | None = None
        self._added: list[Entry] = []

    def _table(self) -> dict[str, Entry]:
        if self._entries is None:
            entries = [*collect()[self.kind], *self._added]
            self._entries = {}
            for entry in entries:
                self._put(entry)
        return self._entries

    def _put(self, entry: Entry) -> None:
        assert self._entries is not None
        if entry.name in self._entries:
            raise ValueError(f"{self.kind} {entry.name!r} registered twice "
                             f"({self._entries[entry.name].target} and {entry.target})")
        self._entries[entry.name] = entry

    def add(self, name: str, target: str, summary: str, **tags: Any) -> None:
        """Register ``name`` -> ``"module:attribute"`` after the declared entries."""
        entry = Entry(name, target, summary, tags)
        if self._entries is not None:
            self._put(entry)
        self._added.append(entry)

    def get(self, name: str) -> Entry:
        table = self._table()
        try:
            return table[name]
        except KeyError:
            close = difflib.get_close_matches(name, table, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(
                f"unknown {self.kind} {name!r}{hint} (known: {', '.join(table)})"
            ) from None

    def names(self, **tags: Any) -> list[str]:
        """Registered names, optionally only those whose tags match all of ``tags``."""
        return [
            e.name for e in self._table().values()
            if all(e.tags.get(k) == v for k, v in tags.items())
        ]

    def __contains__(self, name: object) -> bool:
        return name in self._table()

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._table().values()))

    def __len__(self) -> int:
        return len(self._table())


def _package_files(package: str) -> list[tuple[str, Path]]:
    """``(module name, path)`` of every module under ``package``, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return []
    out = []
    for root in map(Path, spec.submodule_search_locations):
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out.append((".".join((package, *parts)), path))
    return out


def read_declarations(path: Path) -> list[dict[str, Any]] | None:
    """The ``PLUGINS`` literal of the module at ``path`` (None when it declares none).

    Inside it, a name the module binds once, before it and to a plain literal (``_SMALL =
    {...}``), stands for that literal, so a declaration can share a budget between datasets
    without importing.
    """
    source = path.read_text(encoding="utf-8")
    if "PLUGINS" not in source:  # most modules: skip the parse
        return None
    tree = ast.parse(source, str(path))
    constants = _literal_constants(tree)
    for node in tree.body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) and node.value else [])
        if any(isinstance(t, ast.Name) and t.id == "PLUGINS" for t in targets):
            earlier = {k: v for k, v in constants.items() if v.lineno < node.lineno}
            try:
                value = ast.literal_eval(_LiteralNames(earlier).visit(node.value))
            except _NOT_LITERAL as exc:
                raise ValueError(f"{path}: PLUGINS must be a list of plain literals "
                                 f"(dicts, lists, strings, numbers; {exc})") from None
            if not isinstance(value, list) or not all(isinstance(d, dict) for d in value):
                raise ValueError(f"{path}: PLUGINS must be a list of dicts")
            return value
    return None


_NOT_LITERAL = (ValueError, TypeError, SyntaxError, RecursionError)


def _literal_constants(tree: ast.Module) -> dict[str, ast.expr]:
    """Module-level names bound exactly once in the whole module, to a plain literal, by a
    top-level assignment (and never assigned into), mapped to the literal's node."""
    bindings: dict[str, int] = {}
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names = [node.id]
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and not isinstance(node.ctx,
                                                                               ast.Load):
            base = node.value  # SMALL["k"] = ..., SMALL.k = ...: the literal no longer holds
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            names = [base.id] if isinstance(base, ast.Name) else []
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names = list(node.names)
        for name in names:
            bindings[name] = bindings.get(name, 0) + 1
    constants: dict[str, ast.expr] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        if bindings.get(name) != 1:
            continue
        try:
            ast.literal_eval(node.value)
        except _NOT_LITERAL:
            continue  # not a literal: PLUGINS cannot name it
        constants[name] = node.value
    return constants


class _LiteralNames(ast.NodeTransformer):
    """Replaces the names of module-level literals by those literals (any other name: a
    ``ValueError`` naming it)."""

    def __init__(self, constants: dict[str, ast.expr]) -> None:
        self.constants = constants

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id not in self.constants:
            raise ValueError(f"{node.id} is not a name bound once, before PLUGINS, to a literal")
        return self.constants[node.id]


def _entry(module: str, path: Path, decl: dict[str, Any]) -> tuple[str, Entry]:
    decl = dict(decl)
    try:
        kind, name, target = decl.pop("kind"), decl.pop("name"), decl.pop("target")
    except KeyError as exc:
        raise ValueError(f"{path}: a PLUGINS entry lacks {exc}") from None
    if kind not in KINDS:
        raise ValueError(f"{path}: {name!r} has kind {kind!r}; use one of {', '.join(KINDS)}")
    for key in ("subdirs", "datasets"):  # tuples in the tags, as code compares them
        if isinstance(decl.get(key), list):
            decl[key] = tuple(decl[key])
    return kind, Entry(name, f"{module}:{target}", decl.pop("summary", ""), decl)


_COLLECTED: dict[str, list[Entry]] | None = None


def collect() -> dict[str, list[Entry]]:
    """Every declared entry of :data:`PLUGIN_PACKAGES` by kind, in ``order`` (then name)."""
    global _COLLECTED
    if _COLLECTED is None:
        found: dict[str, list[tuple[Any, str, Entry]]] = {k: [] for k in KINDS}
        extra = [p.strip() for p in os.environ.get(PLUGINS_ENV, "").split(",") if p.strip()]
        for package in (*PLUGIN_PACKAGES, *extra):
            files = _package_files(package)
            if not files and package in extra:
                raise ValueError(f"${PLUGINS_ENV}: no importable package {package!r}; put its "
                                 "folder on PYTHONPATH or fix the name")
            for module, path in files:
                for decl in read_declarations(path) or ():
                    kind, entry = _entry(module, path, decl)
                    order = entry.tags.pop("order", _DEFAULT_ORDER)
                    found[kind].append((order, entry.name, entry))
        _COLLECTED = {k: [e for _, _, e in sorted(v, key=lambda t: t[:2])]
                      for k, v in found.items()}
    return _COLLECTED


def reload() -> None:
    """Read the declarations again on next use (after ``$FER_BENCH_PLUGINS`` changed, or a
    plug-in file was added in a running interpreter)."""
    global _COLLECTED
    _COLLECTED = None
    for table in (DATASETS, PROTOCOLS, PIPELINES):
        table._entries = None


#: Datasets: ``loader(root: Path | None, **options) -> FaceDataset``. Tags: ``subdirs`` (where
#: under a data root it lives), ``builtin`` (needs no files), ``by_path`` (named
#: ``NAME:PATH``), ``pipeline_params`` (pipeline parameters it sets, by family or pipeline name).
DATASETS = Registry("dataset")
#: Protocols: ``factory(**options) -> Protocol``. Tags: ``datasets`` (the ones it reports; None:
#: any), ``fixed_split`` (the dataset's own published split: a cross-dataset job training on
#: that dataset scores this protocol's model, see fer_bench.harness.model_store.model_source),
#: ``by_pair`` (named ``NAME:TRAIN->TEST``).
PROTOCOLS = Registry("protocol")
#: Pipelines: ``factory(**params) -> scikit-learn estimator`` on (N, 48, 48) uint8 faces. Tags:
#: ``family`` (classical, hybrid, deep), ``budgets`` (its own training budgets, see
#: :data:`BUDGETS`), ``reads_model`` (reuses a trained model file), ``published`` (the accuracy
#: (%) its authors report on FER2013 PrivateTest and where, shown beside the headline).
PIPELINES = Registry("pipeline")

#: Named selections of pipelines and protocols the harness runs; ``"*"`` means every
#: registered pipeline of the family and every protocol whose dataset is available.
#: In a ``protocols`` tuple ``"*"`` stands for those protocols and ``"cross"`` for ``cross:A->B``
#: over every ordered pair of the real datasets found; ``family`` narrows ``"*"`` pipelines.
SUITES: dict[str, dict[str, Any]] = {
    "smoke": {"pipelines": ("pca-logreg",), "protocols": ("synthetic-holdout",)},
    "classical": {"pipelines": "*", "family": "classical", "protocols": ("*",)},
    "deep": {"pipelines": "*", "family": "deep", "protocols": ("*",)},
    "cross": {"pipelines": "*", "protocols": ("cross",)},
    "all": {"pipelines": "*", "protocols": ("*", "cross")},
}


# --- CNN training budgets: ``run --budget NAME`` ---------------------------------------------
#: The parameters a budget gives a pipeline, by its training dataset: the pipeline's own
#: ``budgets`` declaration (``{budget: {dataset: params}}``) where it has one for that budget
#: and dataset, else its family's entry here (``BUDGETS[budget][dataset][family]``), so a new
#: CNN gets a sane CPU budget without declaring one; ``--param`` overrides both. ``full`` keeps
#: each factory's published schedule (tens to hundreds of epochs: hours on a GPU, days on a CPU).
#: ``cpu`` caps the epochs so that the deep half of ``run --suite all`` on FER2013 + CK+ takes
#: about 1.25 hours on 2 CPU cores (mini-Xception ~90 s, little-VGG ~330 s, vgg-fer ~620 s per
#: FER2013 epoch there), plus ~10 minutes since cpu-vgg joined (2 epochs of ~285 s; the CNNs'
#: CK+ / JAFFE entries are the small-data recipes of fer_bench/pipelines/deep/factories.py,
#: 6 to 10 epochs of a few hundred images), and drops vgg-fer's ten-crop averaging (ten
#: forward passes per test image: 23 minutes for the 35,887 FER2013 images of CK+ -> FER2013).
#: Its accuracies are those of short schedules, not of the published models; the records carry
#: the epochs used.
#: ``cpu-2h`` gives each FER2013 model about two hours of this 2-core CPU (the issue's CPU
#: training budget): the epochs that fit, under a cosine learning-rate decay over them, which
#: suits a fixed budget better than waiting for plateaus; smaller sets get ``cpu``'s schedule.
#: (Family entries; a CNN's own ``budgets`` declaration overrides them where it has one.)
#: ``run`` picks ``full`` when JAX sees an accelerator and ``cpu`` otherwise (``--budget auto``).
_CPU_SMALL_SET = {"deep": {"epochs": 15}}  # a few hundred training images
BUDGETS: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "full": {},
    "cpu": {"fer2013": {"deep": {"epochs": 5}}, "ckplus": _CPU_SMALL_SET,
            "jaffe": _CPU_SMALL_SET},
    "cpu-2h": {"fer2013": {"deep": {"epochs": 20, "lr_schedule": "cosine"}},
               "ckplus": _CPU_SMALL_SET, "jaffe": _CPU_SMALL_SET},
}


def budget_for(budget: str, dataset: str, pipeline: str) -> dict[str, Any]:
    """What ``budget`` gives ``pipeline`` training on ``dataset`` (see :data:`BUDGETS`)."""
    entry = PIPELINES.get(pipeline)
    own = entry.tags.get("budgets", {}).get(budget, {})
    if dataset in own:
        return dict(own[dataset])
    return dict(BUDGETS[budget].get(dataset, {}).get(entry.tags.get("family"), {}))


#: Pipeline constructor arguments that change where a run keeps things, how much it prints or
#: how it batches predictions, never what it computes: the trained-model store leaves them out
#: of its keys and the reports make no variant of them.
NEUTRAL_PARAMS = ("checkpoint_dir", "verbose", "predict_batch_size")


def protocol_for(dataset: str) -> str:
    """The registered protocol that reports ``dataset`` (``kfold`` when none is specific)."""
    base = dataset.split(":", 1)[0]
    for entry in PROTOCOLS:
        if entry.tags.get("datasets") and base in entry.tags["datasets"]:
            return entry.name
    return "kfold"
