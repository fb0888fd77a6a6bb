"""Feature extractors of the classical pipelines on a batch of 48x48 faces: images/s.

Each extractor is taken from its registered pipeline (same settings as the pipeline uses), with
its disk cache off. The eigenfaces projection is the fitted PCA step of ``eigenfaces`` applied
to raw pixels.
"""
from __future__ import annotations

import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from fer_bench.pipelines.base import Flatten
from fer_bench.registry import PIPELINES

from .perf.workload import uncached

#: (registered pipeline, its feature step) pairs.
EXTRACTORS = (("eigenfaces", "pca"), ("gabor-svm", "gabor"), ("hog-svm", "hog"),
              ("lbp-svm", "lbp"))
NAMES = {"pca": "eigenfaces projection", "gabor": "Gabor bank", "hog": "HOG", "lbp": "LBP"}


def _step(pipeline: str, step: str):
    if pipeline not in PIPELINES:
        pytest.skip(f"pipeline {pipeline} is not registered")
    try:
        factory = PIPELINES.get(pipeline).load()
    except ImportError as exc:
        pytest.skip(f"pipeline {pipeline} cannot be imported: {exc}")
    return uncached(clone(factory().named_steps[step]))


@pytest.mark.benchmark(group="features: 48x48 batch")
@pytest.mark.parametrize("pipeline,step", EXTRACTORS, ids=[s for _, s in EXTRACTORS])
def test_extractor(measure, synthetic_faces, sizes, pipeline, step):
    X = synthetic_faces.images[:sizes.feature_batch]
    extractor = _step(pipeline, step)
    if step == "pca":  # the projection needs a fitted PCA: fit it on these faces, time transform
        extractor = make_pipeline(Flatten(), extractor).fit(X)
    dims = extractor.transform(X[:2]).shape[1]
    measure(lambda: extractor.transform(X), kind="feature", items=len(X), unit="images",
            extractor=NAMES[step], pipeline=pipeline, n_features=int(dims))
