"""End to end: one 640x480 frame through face detection and mini-Xception on one core.

The frame is processed in a child process pinned to one CPU with every thread pool limited to
one thread (XLA, OpenCV, OpenMP, OpenBLAS; see :mod:`benchmarks.perf.onecore` for why it must be
a separate process); each timed call sends it one frame and waits for the answer. Detection
runs as the demo runs it by default (on a 320-px-wide copy) and at full resolution (as
``predict`` does for a photo).
"""
from __future__ import annotations

import numpy as np
import pytest

from .perf.onecore import OneCoreWorker

CASES = ((1, 320), (1, 640), (3, 320))


@pytest.fixture(scope="module")
def worker():
    """One child process for all cases (it takes seconds to start: JAX import, compilation)."""
    for module in ("fer_bench.apps.demo", "fer_bench.pipelines.deep.estimator"):
        pytest.importorskip(module, reason=f"{module} (the demo / the CNNs) is not available")
    with OneCoreWorker() as w:
        yield w


@pytest.mark.benchmark(group="end to end: 640x480 frame, one core")
@pytest.mark.parametrize("n_faces,detect_width", CASES,
                         ids=[f"{n}-face{'s' * (n > 1)}-detect{w}" for n, w in CASES])
def test_frame_one_core(measure, benchmark, worker, n_faces, detect_width):
    worker.reset()
    measure(lambda: worker(n_faces, detect_width), kind="end-to-end", unit="frames",
            faces=n_faces, detect_width=detect_width, cores=1, **worker.info)
    benchmark.extra_info["faces_found"] = worker.faces_found
    # The child's own clock, without the pipe round trip, and its detection share.
    benchmark.extra_info["child_median_s"] = float(np.median(worker.child_seconds))
    benchmark.extra_info["detect_median_s"] = float(np.median(worker.detect_seconds))
