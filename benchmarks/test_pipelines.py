"""Every registered pipeline's ``predict`` at batch 1 (one face, latency) and batch 512
(throughput), reported as ms per image.

Each pipeline is fitted once per session on a small synthetic set (deep ones for one epoch:
prediction speed does not depend on the weights) with its registered settings, test-time
augmentation included, and feature caches off.
"""
from __future__ import annotations

import pytest

from fer_bench.registry import PIPELINES

BATCHES = (1, 512)


def _predict(measure, fitted_pipeline, synthetic_faces, sizes, name, batch, family):
    batch = min(batch, sizes.max_batch)
    X = synthetic_faces.images[:batch]
    est = fitted_pipeline(name)
    measure(lambda: est.predict(X), kind="pipeline-predict", items=batch, unit="images",
            pipeline=name, family=family, batch=batch, tta=getattr(est, "tta", None))


@pytest.mark.benchmark(group="pipelines: predict (classical)")
@pytest.mark.parametrize("batch", BATCHES, ids=lambda b: f"batch{b}")
@pytest.mark.parametrize("name", PIPELINES.names(family="classical"))
def test_classical_predict(measure, fitted_pipeline, synthetic_faces, sizes, name, batch):
    _predict(measure, fitted_pipeline, synthetic_faces, sizes, name, batch, "classical")


@pytest.mark.benchmark(group="pipelines: predict (deep)")
@pytest.mark.parametrize("batch", BATCHES, ids=lambda b: f"batch{b}")
@pytest.mark.parametrize("name", PIPELINES.names(family="deep"))
def test_deep_predict(measure, fitted_pipeline, synthetic_faces, sizes, name, batch):
    _predict(measure, fitted_pipeline, synthetic_faces, sizes, name, batch, "deep")
