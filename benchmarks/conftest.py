"""Shared fixtures of the performance suite (``pytest benchmarks/ --benchmark-only``).

Sizes: a full run uses the sizes the report is about (batches of 512 and 1,000, a 4096^2
matmul, ...). With ``--benchmark-disable`` (what CI runs) every benchmark runs once on small
sizes, as a smoke test; ``FER_BENCH_BENCH_SMALL=1`` keeps the small sizes but still times them
(the committed report fixture ``tests/fixtures/bench_small.json`` was made that way).

Data: the FER2013 loading benchmarks read the real release when ``$FER_BENCH_BENCH_DATA`` (or
else ``$FER_BENCH_DATA``) is a data root holding ``fer2013/``; otherwise a fake release of
synthetic faces written as JPEGs in the same layout. Everything else runs on the built-in
synthetic faces, so the suite works on a fresh machine.

The dataset and feature caches point at a temporary directory for the whole session: timings
never read a cache the user filled, and the user's cache is left alone.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from fer_bench.registry import PIPELINES

from .perf.workload import Workload, uncached

#: A call slower than this (seconds, measured on a probe call after the warm-up) is timed with
#: a fixed number of rounds chosen from the time budget instead of pytest-benchmark's
#: calibration.
SLOW_CALL_S = 0.25
#: Seconds of timed rounds to aim for per slow benchmark (at least MIN_ROUNDS rounds).
ROUND_BUDGET_S = 8.0
MIN_ROUNDS, MAX_ROUNDS = 3, 20
#: Calls slower than this get two timed rounds only (a vgg-fer ten-crop batch of 512 can take
#: a minute on two cores).
VERY_SLOW_CALL_S = 15.0


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of one run (full, or small for smoke runs)."""

    small: bool
    feature_batch: int  # images per feature-extractor call
    max_batch: int  # the "batch 512" benchmarks are capped to this
    fit_per_class: int  # synthetic faces per class each pipeline is fitted on
    fake_fer2013: int  # images in the fake FER2013 release
    matmul: int  # side of the peak-FLOP/s matmul


FULL = Sizes(False, feature_batch=1000, max_batch=512, fit_per_class=60, fake_fer2013=2000,
             matmul=4096)
SMALL = Sizes(True, feature_batch=64, max_batch=16, fit_per_class=10, fake_fer2013=140,
              matmul=256)


def _small(config: pytest.Config) -> bool:
    return bool(config.getoption("benchmark_disable", False)) or \
        os.environ.get("FER_BENCH_BENCH_SMALL", "") not in ("", "0")


def pytest_configure(config: pytest.Config) -> None:
    config._fer_bench_load_start = os.getloadavg() if hasattr(os, "getloadavg") else None


def pytest_benchmark_update_json(config: pytest.Config, benchmarks, output_json: dict) -> None:
    """Record what the report needs beyond pytest-benchmark's own machine info: the command
    line, the sizes, the load average (other processes competing for the CPU) and versions."""
    from fer_bench.results.environment import environment, package_versions

    env = environment()
    env["packages"].update(package_versions(("torch", "pytest-benchmark")))
    output_json["fer_bench"] = {
        "command": " ".join(["pytest", *config.invocation_params.args]),
        "sizes": asdict(SMALL if _small(config) else FULL),
        "loadavg_start": getattr(config, "_fer_bench_load_start", None),
        "loadavg_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "environment": env,
    }


@pytest.fixture(scope="session")
def sizes(pytestconfig: pytest.Config) -> Sizes:
    return SMALL if _small(pytestconfig) else FULL


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    # Set for the whole session (not monkeypatched per test): session fixtures load data too.
    old = os.environ.get("FER_BENCH_CACHE")
    os.environ["FER_BENCH_CACHE"] = str(tmp_path_factory.mktemp("fer-bench-cache"))
    yield
    if old is None:
        os.environ.pop("FER_BENCH_CACHE", None)
    else:
        os.environ["FER_BENCH_CACHE"] = old


@pytest.fixture(scope="session")
def real_data_root() -> Path | None:
    """A data root holding ``fer2013/``: ``$FER_BENCH_BENCH_DATA``, else ``$FER_BENCH_DATA``;
    None when neither names one."""
    for var in ("FER_BENCH_BENCH_DATA", "FER_BENCH_DATA"):
        value = os.environ.get(var)
        if value and (Path(value).expanduser() / "fer2013").is_dir():
            return Path(value).expanduser()
    return None


# --- timing ------------------------------------------------------------------------------------

@pytest.fixture
def measure(benchmark, sizes: Sizes) -> Callable[..., Any]:
    """``measure(work, kind=..., items=None, flops_per_item=None, **info)`` times ``work`` and
    records its details.

    ``work`` is a :class:`~benchmarks.perf.workload.Workload` or a zero-argument callable (then
    ``items`` says how many items one call handles). A warm-up call runs first (compilation,
    caches, lazy imports are not timed), then a probe call (unless the warm-up took over
    :data:`VERY_SLOW_CALL_S`); calls slower than :data:`SLOW_CALL_S` get a fixed number of
    rounds fitting :data:`ROUND_BUDGET_S`.
    ``benchmark.extra_info`` receives ``kind``, ``items``, ``flops_per_item`` and ``info`` (over
    the workload's own ``info``), and after timing ``items_per_s`` (from the median) and, with
    FLOPs known, ``gflops_per_s``. Returns the last call's result.
    """

    def run(work: Workload | Callable[[], Any], *, kind: str, items: int | None = None,
            flops_per_item: float | None = None, **info: Any) -> Any:
        if not isinstance(work, Workload):
            work = Workload(work, items=1 if items is None else items)
        elif items is not None:
            work.items = items
        if flops_per_item is not None:
            work.flops_per_item = flops_per_item
        extra = benchmark.extra_info
        extra.update({**work.info, **info}, kind=kind, items=work.items, small=sizes.small)
        if work.flops_per_item:
            extra["flops_per_item"] = work.flops_per_item
        if work.bytes_per_item:
            extra["bytes_per_item"] = work.bytes_per_item
        if benchmark.disabled:
            return benchmark(work.run)
        t0 = time.perf_counter()
        work.run()  # warm-up: compilation, lazy imports, first-touch allocations
        once = time.perf_counter() - t0
        if once < VERY_SLOW_CALL_S:  # else the warm-up alone says it is slow: spare a probe
            t0 = time.perf_counter()
            work.run()  # a probe of the steady-state time per call
            once = time.perf_counter() - t0
        if once > SLOW_CALL_S:
            least = 2 if once > VERY_SLOW_CALL_S else MIN_ROUNDS
            rounds = int(min(MAX_ROUNDS, max(least, ROUND_BUDGET_S // once)))
            result = benchmark.pedantic(work.run, rounds=rounds, iterations=1)
        else:
            result = benchmark(work.run)
        median = benchmark.stats.stats.median
        extra["items_per_s"] = work.items / median
        if work.flops_per_item:
            extra["gflops_per_s"] = work.flops_per_item * work.items / median / 1e9
        return result

    return run


# --- data --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def synthetic_faces(sizes: Sizes):
    """The synthetic default rendered with enough faces for the feature batches."""
    from fer_bench.data import load_dataset

    per_class = -(-max(sizes.feature_batch, sizes.max_batch) // 7)
    return load_dataset("synthetic", n_per_class=per_class, seed=1)


@pytest.fixture(scope="session")
def fit_set(sizes: Sizes) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: the small synthetic training set every pipeline is fitted on once."""
    from fer_bench.data import load_dataset

    ds = load_dataset("synthetic", n_per_class=sizes.fit_per_class, seed=0)
    return ds.images, ds.labels


@pytest.fixture(scope="session")
def fitted_pipeline(fit_set) -> Callable[[str], Any]:
    """``fitted_pipeline(name)``: registered pipeline ``name`` fitted once per session, with
    feature caches off so that predictions are computed, not read back.

    Deep pipelines train one epoch (the weights only have to exist; their speed does not depend
    on them); every other setting, test-time augmentation included, is the registered one.
    """
    fitted: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in fitted:
            entry = PIPELINES.get(name)
            try:
                factory = entry.load()
            except ImportError as exc:
                pytest.skip(f"pipeline {name} cannot be imported: {exc}")
            params = {"epochs": 1, "verbose": 0} if entry.tags.get("family") == "deep" else {}
            X, y = fit_set
            fitted[name] = uncached(factory(**params)).fit(X, y)
        return fitted[name]

    return get


@pytest.fixture(scope="session")
def fake_fer2013_root(tmp_path_factory, sizes: Sizes) -> Path:
    """A data root with a fake FER2013 image-folder release of synthetic faces (JPEG, 48x48):
    80 % Training, 10 % PublicTest, 10 % PrivateTest, in the real release's layout."""
    import cv2

    from fer_bench.data.synthetic import render_faces

    classes = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    root = tmp_path_factory.mktemp("fake-data")
    rng = np.random.default_rng(0)
    n = sizes.fake_fer2013
    labels = rng.integers(0, 7, n)
    images = render_faces(labels, rng, 48)
    for i, (label, image) in enumerate(zip(labels, images)):
        split = "Training" if i < 0.8 * n else ("PublicTest" if i < 0.9 * n else "PrivateTest")
        folder = root / "fer2013" / ("train" if split == "Training" else "test") / classes[label]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{split}_{i:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return root
