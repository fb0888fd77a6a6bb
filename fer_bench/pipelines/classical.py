"""Factories of the classical pipelines (eigenfaces, fisherfaces, Gabor / HOG / LBP + SVM, fusion).

Each returns a scikit-learn :class:`~sklearn.pipeline.Pipeline` on ``(N, 48, 48)`` uint8 faces
following :mod:`fer_bench.pipelines.base`. The last step is a
:class:`~fer_bench.pipelines.features.LabelSpace`, so ``classes_ == arange(K)``. Default
hyper-parameters were chosen on FER2013 PublicTest (never PrivateTest), training on Training or a
stratified subset of it; the comment above each factory says how. "8k" below means a stratified
8,000-image subset of Training scored on PublicTest (standard error about 0.8 points, so smaller
differences were read as ties and went to the simpler setting); "full" means the whole Training
set. Common findings: standardising the features and keeping PCA *unwhitened* beat whitened PCA
by 4-5 points for the descriptors; flip test-time averaging hurt (-0.5), so there is no flip
augmentation; gamma ``"scale"`` beat 0.25x and 0.5x of it (-1.6 to -4.3 points at 8k).

On small training sets (CK+ and JAFFE folds, at most ``max_search_samples`` images) the SVM
pipelines and the nearest-neighbour one select the classifier's parameters (``C`` and the kernel
width; ``k``) on the fold's validation split and refit, on training + validation images where the
protocol carved that split out of the training data
(:class:`~fer_bench.pipelines.select.ValidatedPipeline`); on FER2013 they use the defaults below.

SVM probabilities are a softmax over one-vs-rest scores (see
:class:`~fer_bench.pipelines.features.SoftmaxSVC`): ``SVC(probability=True)`` would run a 5-fold
calibration inside ``fit`` and take five times as long on FER2013.
"""
from __future__ import annotations

import inspect
from typing import Any, Sequence

from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler

from .base import Flatten
from .select import ValidatedPipeline
from .features import (
    BlockScaler, CappedPCA, Equalize, GaborFeatures, HogFeatures, LabelSpace, LbpFeatures,
    SoftmaxSVC,
)

#: Registry declarations (read without importing this module: see fer_bench.registry).
PLUGINS = [
    {"kind": "pipeline", "name": "eigenfaces", "target": "make_eigenfaces", "order": 20,
     "summary": "pixels -> whitened PCA -> RBF SVM", "family": "classical"},
    {"kind": "pipeline", "name": "eigenfaces-knn", "target": "make_eigenfaces_knn", "order": 30,
     "summary": "pixels -> whitened PCA -> nearest neighbour", "family": "classical"},
    {"kind": "pipeline", "name": "fisherfaces", "target": "make_fisherfaces", "order": 40,
     "summary": "pixels -> PCA -> LDA", "family": "classical"},
    {"kind": "pipeline", "name": "gabor-svm", "target": "make_gabor_svm", "order": 50,
     "summary": "Gabor bank magnitudes pooled on a grid -> PCA -> RBF SVM",
     "family": "classical"},
    {"kind": "pipeline", "name": "hog-svm", "target": "make_hog_svm", "order": 60,
     "summary": "HOG -> PCA -> RBF SVM", "family": "classical"},
    {"kind": "pipeline", "name": "lbp-svm", "target": "make_lbp_svm", "order": 70,
     "summary": "uniform LBP histograms on a grid -> SVM", "family": "classical"},
    {"kind": "pipeline", "name": "fusion-svm", "target": "make_fusion_svm", "order": 80,
     "summary": "HOG + Gabor + LBP features -> PCA -> RBF SVM", "family": "classical"},
]


def _defaults(cls: type) -> dict[str, Any]:
    """The constructor defaults of ``cls``: the descriptors' tuned settings live there only."""
    return {name: p.default for name, p in inspect.signature(cls).parameters.items()}


_GABOR, _HOG, _LBP = _defaults(GaborFeatures), _defaults(HogFeatures), _defaults(LbpFeatures)


def _reduce(n_components: int, random_state: int) -> list[tuple[str, object]]:
    # Standardised features -> PCA without whitening: whitening blew the many low-variance
    # components up to the size of the informative ones and cost 4-5 points on PublicTest.
    return [("scale", StandardScaler()),
            ("pca", CappedPCA(n_components, whiten=False, random_state=random_state))]


#: Search grid of the SVM pipelines on small training sets, as multiples of the defaults (the
#: default first, so that ties keep it). Tuned values of ``C`` on FER2013 sit in a flat optimum;
#: on a few hundred images a smaller kernel width or a harder margin can matter more.
C_STEPS = (1.0, 1 / 3, 3.0, 10.0)
GAMMA_STEPS = (1.0, 0.5, 2.0)
#: Largest training set on which the pipelines search (one SVM fit per setting, 12 settings).
MAX_SEARCH_SAMPLES = 5000


def _svm_pipeline(steps: list, C: float, gamma_factor: float, max_search_samples: int
                  ) -> ValidatedPipeline:
    grid = {"estimator__C": [C * k for k in C_STEPS],
            "estimator__gamma_factor": [gamma_factor * k for k in GAMMA_STEPS]}
    return ValidatedPipeline(steps, search_grid=grid, max_search_samples=max_search_samples)


def _svm(C: float, gamma: float | str, gamma_factor: float, class_weight, temperature: float,
         class_names: Sequence[str] | None, random_state: int) -> LabelSpace:
    return LabelSpace(
        SoftmaxSVC(C=C, gamma=gamma, gamma_factor=gamma_factor, class_weight=class_weight,
                   temperature=temperature, random_state=random_state),
        class_names=class_names,
    )


# --- pixels ----------------------------------------------------------------------------------

# PCA 100, C 3, histogram equalisation: 8k grid over equalisation {none, hist, clahe}, PCA {50,
# 100, 200}, C {1, 3, 10}, whitened vs standardised (42.2 % best, whitened kept: classic eigenfaces
# and tied); full Training: 49.2 % PublicTest.
def make_eigenfaces(n_components: int = 100, C: float = 3.0, gamma: float | str = "scale",
                    gamma_factor: float = 1.0, equalize: str | None = "hist", class_weight=None,
                    temperature: float = 1.0, class_names: Sequence[str] | None = None,
                    random_state: int = 0,
                    max_search_samples: int = MAX_SEARCH_SAMPLES) -> Pipeline:
    """Pixels -> whitened PCA (eigenfaces) -> RBF SVM with softmax probabilities."""
    return _svm_pipeline([
        ("equalize", Equalize(equalize)),
        ("pixels", Flatten()),
        ("pca", CappedPCA(n_components, whiten=True, random_state=random_state)),
        ("clf", _svm(C, gamma, gamma_factor, class_weight, temperature, class_names,
                     random_state)),
    ], C, gamma_factor, max_search_samples)


# k 30 distance-weighted on unwhitened PCA 100: 8k grid k {1, 10, 30} x whitened or not (36.0 %
# best; whitening cost 0.8); full Training: 42.0 % PublicTest.
def make_eigenfaces_knn(n_components: int = 100, n_neighbors: int = 30,
                        weights: str = "distance", whiten: bool = False,
                        equalize: str | None = "hist", class_names: Sequence[str] | None = None,
                        random_state: int = 0,
                        max_search_samples: int = MAX_SEARCH_SAMPLES) -> Pipeline:
    """Pixels -> PCA (eigenfaces) -> k nearest neighbours (Euclidean).

    Needs at least ``n_neighbors`` training images. On small training sets ``k`` is selected
    on the validation split among ``n_neighbors``, 1, 5 and 10.
    """
    grid = {"estimator__n_neighbors": list(dict.fromkeys([n_neighbors, 1, 5, 10]))}
    return ValidatedPipeline([
        ("equalize", Equalize(equalize)),
        ("pixels", Flatten()),
        ("pca", CappedPCA(n_components, whiten=whiten, random_state=random_state)),
        # Brute force, as "auto" picks on >15 PCA components anyway: a k-d tree would put a
        # type in the model file whose unchecked indices a crafted file could abuse.
        ("clf", LabelSpace(KNeighborsClassifier(n_neighbors=n_neighbors, weights=weights,
                                                algorithm="brute"),
                           class_names=class_names)),
    ], search_grid=grid, max_search_samples=max_search_samples)


# PCA 200 + CLAHE: full Training, PCA {50, 100, 200, 300, 500} with hist (36.7 % best) then
# equalisation {none, hist, clahe} at 200: CLAHE 37.8 % PublicTest.
def make_fisherfaces(n_components: int = 200, equalize: str | None = "clahe",
                     class_names: Sequence[str] | None = None, random_state: int = 0) -> Pipeline:
    """Pixels -> PCA -> linear discriminant analysis (fisherfaces, Belhumeur et al. 1997)."""
    return Pipeline([
        ("equalize", Equalize(equalize)),
        ("pixels", Flatten()),
        ("pca", CappedPCA(n_components, whiten=False, random_state=random_state)),
        ("clf", LabelSpace(LinearDiscriminantAnalysis(), class_names=class_names)),
    ])


# --- texture and shape descriptors -----------------------------------------------------------

# Wavelengths 3-12 px in sqrt(2) steps, 6x6 grid, stride 4, square root, PCA 200, C 3: 8k grid over
# wavelengths {3-12, 4-16}, grid {6, 8}, stride {2, 4} (tied, 4 is 3x faster), power {1, 0.5,
# 0.25} (0.5: +1.9), PCA {100, 200, 300}, C {3, 10}, equalisation (51.3 % best); full Training:
# 58.2 % PublicTest.
def make_gabor_svm(wavelengths: tuple[float, ...] = _GABOR["wavelengths"],
                   n_orientations: int = _GABOR["n_orientations"], grid: int = _GABOR["grid"],
                   stride: int = _GABOR["stride"], power: float = _GABOR["power"],
                   n_components: int = 200, C: float = 3.0, gamma: float | str = "scale",
                   gamma_factor: float = 1.0, equalize: str | None = None, class_weight=None,
                   temperature: float = 1.0, class_names: Sequence[str] | None = None,
                   random_state: int = 0, max_search_samples: int = MAX_SEARCH_SAMPLES) -> Pipeline:
    """Gabor bank (5 scales x 8 orientations) magnitudes pooled on a grid -> PCA -> RBF SVM."""
    return _svm_pipeline([
        ("equalize", Equalize(equalize)),
        ("gabor", GaborFeatures(wavelengths=wavelengths, n_orientations=n_orientations,
                                grid=grid, stride=stride, power=power)),
        *_reduce(n_components, random_state),
        ("clf", _svm(C, gamma, gamma_factor, class_weight, temperature, class_names,
                     random_state)),
    ], C, gamma_factor, max_search_samples)


# 6-px cells, 18 signed bins, PCA 200, C 3: 8k grid over cells {4, 6, 8, 4+8, 6+8, 4+6+8},
# 9 unsigned vs 18 signed bins (+2.7), equalisation, PCA {100, 200, 300}, C {1, 3, 10} (52.9 %
# best, 6 px / no equalisation 52.4 % taken as the simpler tie); full Training: 61.1 % PublicTest.
def make_hog_svm(cell_sizes: tuple[int, ...] = _HOG["cell_sizes"],
                 orientations: int = _HOG["orientations"], signed: bool = _HOG["signed"],
                 n_components: int = 200, C: float = 3.0, gamma: float | str = "scale",
                 gamma_factor: float = 1.0, equalize: str | None = None, class_weight=None,
                 temperature: float = 1.0, class_names: Sequence[str] | None = None,
                 random_state: int = 0, max_search_samples: int = MAX_SEARCH_SAMPLES) -> Pipeline:
    """HOG (one or more cell sizes) -> PCA -> RBF SVM."""
    return _svm_pipeline([
        ("equalize", Equalize(equalize)),
        ("hog", HogFeatures(cell_sizes=cell_sizes, orientations=orientations, signed=signed)),
        *_reduce(n_components, random_state),
        ("clf", _svm(C, gamma, gamma_factor, class_weight, temperature, class_names,
                     random_state)),
    ], C, gamma_factor, max_search_samples)


# P=8, R=1, 59-bin u2 codes on a 6x6 grid, Hellinger, PCA 200, C 3: 8k grid over grid {6, 8},
# radii {1, 1+2}, riu2 radii 1+2+3 (-5), histogram equalisation (50.2 % best, 6x6 / R=1 49.7 %
# kept: tie, half the features); full Training: 58.2 % PublicTest.
def make_lbp_svm(radii: tuple[int, ...] = _LBP["radii"], grid: int = _LBP["grid"],
                 method: str = _LBP["method"], n_components: int = 200, C: float = 3.0, gamma: float | str = "scale",
                 gamma_factor: float = 1.0, equalize: str | None = None, class_weight=None,
                 temperature: float = 1.0, class_names: Sequence[str] | None = None,
                 random_state: int = 0, max_search_samples: int = MAX_SEARCH_SAMPLES) -> Pipeline:
    """Uniform LBP histograms on a grid, square-rooted (Hellinger) -> PCA -> RBF SVM."""
    return _svm_pipeline([
        ("equalize", Equalize(equalize)),
        ("lbp", LbpFeatures(radii=radii, grid=grid, method=method, hellinger=True)),
        *_reduce(n_components, random_state),
        ("clf", _svm(C, gamma, gamma_factor, class_weight, temperature, class_names,
                     random_state)),
    ], C, gamma_factor, max_search_samples)


# Equal weights, PCA 300, C 3: 8k, HOG + Gabor at PCA 200 53.8 %, + LBP at PCA 300 54.6 % (vs
# 52.4 % for HOG alone); full Training: 63.9 % PublicTest, the best classical pipeline.
def make_fusion_svm(hog_weight: float = 1.0, gabor_weight: float = 1.0, lbp_weight: float = 1.0,
                    n_components: int = 300, C: float = 3.0, gamma: float | str = "scale",
                    gamma_factor: float = 1.0, equalize: str | None = None, class_weight=None,
                    temperature: float = 1.0, class_names: Sequence[str] | None = None,
                    random_state: int = 0,
                    max_search_samples: int = MAX_SEARCH_SAMPLES) -> Pipeline:
    """HOG, Gabor and LBP descriptors at their tuned settings, each standardised to the same
    total variance times its weight, concatenated -> PCA -> RBF SVM.

    A weight of 0 drops a descriptor.
    """
    blocks = [
        (name, Pipeline([("features", extractor), ("scale", BlockScaler(weight))]))
        for name, extractor, weight in (
            ("hog", HogFeatures(), hog_weight),
            ("gabor", GaborFeatures(), gabor_weight),
            ("lbp", LbpFeatures(), lbp_weight),
        )
        if weight
    ]
    if not blocks:
        raise ValueError("fusion-svm needs at least one of hog/gabor/lbp_weight > 0")
    return _svm_pipeline([
        ("equalize", Equalize(equalize)),
        ("features", FeatureUnion(blocks)),
        ("pca", CappedPCA(n_components, whiten=False, random_state=random_state)),
        ("clf", _svm(C, gamma, gamma_factor, class_weight, temperature, class_names,
                     random_state)),
    ], C, gamma_factor, max_search_samples)
