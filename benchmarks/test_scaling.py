"""Scaling study (opt-in, long): fit time and accuracy of every registered pipeline against the
training-set size. Runs only with ``FER_BENCH_SCALING=1``.

On FER2013 (when ``$FER_BENCH_BENCH_DATA`` / ``$FER_BENCH_DATA`` holds it) the ladder is 1k,
2k, 4k, 8k, 16k and all 28,709 Training images, scored on PublicTest; otherwise the synthetic
default with a smaller ladder. Each point is one timed round (fit, then predict the test set;
quick fits are repeated up to three times within 20 s and the fastest counts) with the fit's
own seconds, the size, accuracy and prediction time in ``extra_info``; ``python -m
benchmarks.report`` turns them into the scaling table, plot and growth exponents. Deep pipelines
train a fixed ``FER_BENCH_SCALING_EPOCHS`` epochs (default 2) at every size.
``FER_BENCH_SCALING_PIPELINES=a,b`` restricts the pipelines.
"""
from __future__ import annotations

import os

import pytest

from fer_bench.registry import PIPELINES

from .perf import scaling

ENABLED = os.environ.get("FER_BENCH_SCALING", "") not in ("", "0")
pytestmark = pytest.mark.skipif(not ENABLED, reason="scaling study: set FER_BENCH_SCALING=1")


def _pipelines() -> list[str]:
    chosen = os.environ.get("FER_BENCH_SCALING_PIPELINES")
    return [p for p in chosen.split(",") if p] if chosen else PIPELINES.names()


def _ladder_ids() -> list[int]:
    # Parametrise by rung index: the sizes depend on the data found at run time.
    return list(range(len(scaling.FER2013_LADDER)))


@pytest.fixture(scope="module")
def data(real_data_root, sizes):
    return scaling.load_scaling_data(real_data_root, quick=sizes.small)


@pytest.mark.benchmark(group="scaling: fit time vs training-set size")
@pytest.mark.parametrize("rung", _ladder_ids(), ids=lambda r: f"rung{r}")
@pytest.mark.parametrize("name", _pipelines())
def test_fit_scaling(benchmark, data, name, rung):
    if rung >= len(data.ladder):
        pytest.skip(f"the {data.name} ladder has {len(data.ladder)} sizes")
    n = data.ladder[rung]
    epochs = int(os.environ.get("FER_BENCH_SCALING_EPOCHS", scaling.DEEP_EPOCHS))
    point: dict = {}

    def fit() -> None:
        point.update(scaling.fit_point(name, data, n, deep_epochs=epochs))

    benchmark.pedantic(fit, rounds=1, iterations=1)
    benchmark.extra_info.update(kind="scaling", items=point["n_train"], unit="images",
                                family=PIPELINES.get(name).tags.get("family"),
                                deep_epochs=epochs, **point)
