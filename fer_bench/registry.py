"""The one place that names every dataset, protocol, pipeline and suite.

Entries point at their implementation as ``"module:attribute"`` so that listing names (the CLI's
``--help``, ``datasets list``) never imports JAX or scikit-learn. The CLI, the harness, the tests and
the benchmarks read these tables instead of repeating lists.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
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


class Registry:
    """An ordered table of :class:`Entry` by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, target: str, summary: str, **tags: Any) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._entries[name] = Entry(name, target, summary, tags)

    def get(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(
                f"unknown {self.kind} {name!r}{hint} (known: {', '.join(self._entries)})"
            ) from None

    def names(self, **tags: Any) -> list[str]:
        """Registered names, optionally only those whose tags match all of ``tags``."""
        return [
            e.name for e in self._entries.values()
            if all(e.tags.get(k) == v for k, v in tags.items())
        ]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)


DATASETS = Registry("dataset")
PROTOCOLS = Registry("protocol")
PIPELINES = Registry("pipeline")

# --- datasets: loader(root: Path | None, **options) -> FaceDataset ---------------------------
DATASETS.add(
    "fer2013", "fer_bench.data.fer2013:load", "FER2013 (image-folder release or fer2013.csv)",
    subdirs=("fer2013",), splits=("Training", "PublicTest", "PrivateTest"),
)
DATASETS.add(
    "ckplus", "fer_bench.data.ckplus:load", "CK+ (CK+48 crops or the original release)",
    subdirs=("ckplus48", "ckplus"),
)
DATASETS.add(
    "jaffe", "fer_bench.data.jaffe:load", "JAFFE (original release, KA.AN1.39.tiff names)",
    subdirs=("jaffe",),
)
DATASETS.add(
    "synthetic", "fer_bench.data.synthetic:load", "Built-in procedurally rendered faces",
    subdirs=(), builtin=True,
    # CNN budgets that keep `run --suite all` on the default within minutes on 2 cores.
    pipeline_params={"deep": {"epochs": 6}, "vgg-fer": {"epochs": 3}},
)
DATASETS.add(
    "folder", "fer_bench.data.folder:load",
    "Any <class>/<image> tree or flat folder + labels.csv; name it folder:PATH",
    subdirs=(), by_path=True,
)

# --- protocols: factory(**options) -> Protocol ---------------------------------------------
# ``fixed_split``: the dataset's own published split; a cross-dataset job training on that
# dataset scores this protocol's model (see fer_bench.harness.models.model_source).
PROTOCOLS.add(
    "fer2013-official", "fer_bench.protocols.official:fer2013_official",
    "fit Training, select on PublicTest, report PrivateTest", datasets=("fer2013",),
    fixed_split=True,
)
PROTOCOLS.add(
    "ckplus-10fold", "fer_bench.protocols.kfold:ckplus_10fold",
    "10 subject-independent stratified folds", datasets=("ckplus",),
)
PROTOCOLS.add(
    "jaffe-10fold", "fer_bench.protocols.kfold:jaffe_10fold",
    "10 subject-independent stratified folds", datasets=("jaffe",),
)
PROTOCOLS.add(
    "jaffe-loso", "fer_bench.protocols.kfold:jaffe_loso",
    "leave one subject out", datasets=("jaffe",),
)
PROTOCOLS.add(
    "synthetic-holdout", "fer_bench.protocols.official:synthetic_holdout",
    "the synthetic default's train / val / test split", datasets=("synthetic",),
    fixed_split=True,
)
PROTOCOLS.add(
    "kfold", "fer_bench.protocols.kfold:generic_kfold",
    "10 stratified folds, subject-independent where subjects are known (any dataset)",
    datasets=None,
)
PROTOCOLS.add(
    "cross", "fer_bench.protocols.cross:cross_dataset",
    "fit on all of one dataset, test on all of another: name it cross:TRAIN->TEST",
    datasets=None, by_pair=True,
)

# --- pipelines: factory(**params) -> scikit-learn estimator on (N, 48, 48) uint8 faces ------
# ``published``: the accuracy (%) the architecture's authors report on FER2013 PrivateTest and
# where, shown beside the headline so a reader sees which figures are budget-limited.
PIPELINES.add(
    "pca-logreg", "fer_bench.pipelines.baseline:make_pca_logreg",
    "pixels -> PCA -> logistic regression (the baseline)", family="classical",
)
PIPELINES.add(
    "eigenfaces", "fer_bench.pipelines.classical:make_eigenfaces",
    "pixels -> whitened PCA -> RBF SVM", family="classical",
)
PIPELINES.add(
    "eigenfaces-knn", "fer_bench.pipelines.classical:make_eigenfaces_knn",
    "pixels -> whitened PCA -> nearest neighbour", family="classical",
)
PIPELINES.add(
    "fisherfaces", "fer_bench.pipelines.classical:make_fisherfaces",
    "pixels -> PCA -> LDA", family="classical",
)
PIPELINES.add(
    "gabor-svm", "fer_bench.pipelines.classical:make_gabor_svm",
    "Gabor bank magnitudes pooled on a grid -> PCA -> RBF SVM", family="classical",
)
PIPELINES.add(
    "hog-svm", "fer_bench.pipelines.classical:make_hog_svm",
    "HOG -> PCA -> RBF SVM", family="classical",
)
PIPELINES.add(
    "lbp-svm", "fer_bench.pipelines.classical:make_lbp_svm",
    "uniform LBP histograms on a grid -> SVM", family="classical",
)
PIPELINES.add(
    "fusion-svm", "fer_bench.pipelines.classical:make_fusion_svm",
    "HOG + Gabor + LBP features -> PCA -> RBF SVM", family="classical",
)
PIPELINES.add(
    "cnn-svm", "fer_bench.pipelines.hybrid:make_cnn_svm",
    "a trained CNN's penultimate features -> RBF SVM (by default the bundled FER2013 "
    "mini-Xception's)", family="hybrid", reads_model=True,
)
PIPELINES.add(
    "ensemble", "fer_bench.pipelines.ensemble:make_ensemble",
    "late fusion of a trained CNN's and fusion-svm's calibrated probabilities, the CNN's "
    "weight chosen on the validation split (by default the bundled FER2013 mini-Xception's)",
    family="hybrid", reads_model=True,
)
PIPELINES.add(
    "little-vgg", "fer_bench.pipelines.deep.estimator:make_little_vgg",
    "the thesis's little-VGG CNN (JAX/Flax)", family="deep",
    published=(65.5, "the thesis, 25 epochs at batch 32"),
)
PIPELINES.add(
    "mini-xception", "fer_bench.pipelines.deep.estimator:make_mini_xception",
    "the thesis's mini-Xception residual CNN (JAX/Flax)", family="deep",
    published=(66.0, "Arriaga et al. 2017"),
)
PIPELINES.add(
    "vgg-fer", "fer_bench.pipelines.deep.estimator:make_vgg_fer",
    "the strongest CNN here: a VGG-style net after Khaireddin & Chen 2021 (JAX/Flax)",
    family="deep", published=(73.28, "Khaireddin & Chen 2021, on a GPU budget"),
)

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
#: Constructor parameters a budget gives the deep pipelines, by training dataset and then by
#: family or pipeline name (the name wins); ``--param`` overrides them. ``full`` keeps each
#: factory's published schedule (tens to hundreds of epochs: hours on a GPU, days on a CPU).
#: ``cpu`` caps the epochs so that the deep half of ``run --suite all`` on FER2013 + CK+ takes
#: about 1.25 hours on 2 CPU cores (mini-Xception ~90 s, little-VGG ~330 s, vgg-fer ~620 s per
#: FER2013 epoch there) and drops vgg-fer's ten-crop averaging (ten forward passes per test
#: image: 23 minutes for the 35,887 FER2013 images of CK+ -> FER2013). Its accuracies are those
#: of short schedules, not of the published models; the records carry the epochs used.
#: ``cpu-2h`` gives each FER2013 model about two hours of this 2-core CPU (the issue's CPU
#: training budget): the epochs that fit, under a cosine learning-rate decay over them, which
#: suits a fixed budget better than waiting for plateaus; smaller sets get ``cpu``'s schedule.
#: ``run`` picks ``full`` when JAX sees an accelerator and ``cpu`` otherwise (``--budget auto``).
_CPU_SMALL_SET = {"deep": {"epochs": 15}, "little-vgg": {"epochs": 6},
                  "vgg-fer": {"epochs": 3, "tta": None}}  # a few hundred training images
BUDGETS: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "full": {},
    "cpu": {
        "fer2013": {"mini-xception": {"epochs": 5}, "little-vgg": {"epochs": 1},
                    "vgg-fer": {"epochs": 1, "tta": None}},
        "ckplus": _CPU_SMALL_SET,
        "jaffe": _CPU_SMALL_SET,
    },
    "cpu-2h": {
        "fer2013": {"mini-xception": {"epochs": 90, "lr_schedule": "cosine", "ema": 0.999,
                                      "tta": "auto"},
                    "little-vgg": {"epochs": 22, "lr_schedule": "cosine"},
                    "vgg-fer": {"epochs": 10, "lr_schedule": "cosine", "tta": None}},
        "ckplus": _CPU_SMALL_SET,
        "jaffe": _CPU_SMALL_SET,
    },
}


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
