"""End to end on one core: a 640x480 frame through face detection and mini-Xception.

JAX sizes its thread pools when it is first imported and XLA reads ``XLA_FLAGS`` only then, so
a single-threaded measurement cannot be made inside a process that has already imported JAX
(the benchmark session has). :class:`OneCoreWorker` therefore starts a child process that

* pins itself to one CPU (``os.sched_setaffinity``) before importing anything heavy, so XLA,
  OpenCV and the BLAS see one schedulable core,
* sets ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` and ``OMP_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` to 1, and ``cv2.setNumThreads(1)``,
* builds the test frames and the model once, warms it up (compiles the one- to four-face
  batches),
* then processes one frame per request read from its stdin: BGR -> gray, Haar detection as the
  demo does it (:class:`fer_bench.apps.demo.FrameDetector`), crops as the model was trained on
  (:meth:`fer_bench.models.FerModel.crop_faces`), and class probabilities from mini-Xception.

The parent times each request (a pipe round trip adds tens of microseconds to frames of tens of
milliseconds); the child also reports its own time per frame, without the round trip.
"""
from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

#: Environment that keeps every library in the child to one thread.
SINGLE_THREAD_ENV = {
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
MODEL = "mini-xception"
#: The folder holding the ``benchmarks`` package.
REPO_ROOT = str(Path(__file__).resolve().parents[2])


def _pick_cpu() -> int | None:
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # no affinity API (macOS): threads are still limited by the env
        return None
    return cpus[-1]


class OneCoreWorker:
    """A child process on one core that runs one frame end to end per :meth:`__call__`.

    Parameters
    ----------
    cpu : int, optional
        The CPU to pin the child to; default the last one this process may use.
    timeout : float
        Seconds to wait for the child to start (it imports JAX and compiles the model).

    Attributes
    ----------
    info : dict
        What the child reported at start: pinned CPU, schedulable CPUs, XLA flags, the model.
    child_seconds : list of float
        The child's own time for each processed frame since the last :meth:`reset`.
    detect_seconds : list of float
        The part of it spent on colour conversion and detection (the rest is cropping and
        the CNN).
    faces_found : int
        Faces found in the last processed frame.
    """

    def __init__(self, cpu: int | None = None, timeout: float = 600.0) -> None:
        self.cpu = _pick_cpu() if cpu is None else cpu
        self.child_seconds: list[float] = []
        self.detect_seconds: list[float] = []
        self.faces_found = 0
        env = {**os.environ, **SINGLE_THREAD_ENV}
        # The child runs this module with -m: the folder holding ``benchmarks/`` must be on its
        # path wherever the parent was started from (the suite is not installed).
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (REPO_ROOT, env.get("PYTHONPATH"))))
        args = [sys.executable, "-m", __name__, str(-1 if self.cpu is None else self.cpu)]
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=env, text=True, bufsize=1)
        line = self._reply(timeout)
        if not line.startswith("ready"):
            raise RuntimeError(f"the one-core worker failed to start: {line} {self._stderr()}")
        fields = dict(kv.split("=", 1) for kv in line.split()[1:])
        self.info = {"cpu": fields["cpu"], "schedulable_cpus": int(fields["ncpu"]),
                     "xla_flags": SINGLE_THREAD_ENV["XLA_FLAGS"], "model": MODEL}

    def _reply(self, timeout: float) -> str:
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        return self._proc.stdout.readline().strip() if ready else "(no answer: timed out)"

    def _stderr(self) -> str:
        if self._proc.poll() is None:
            self._proc.kill()
        return self._proc.stderr.read()[-2000:]

    def reset(self) -> None:
        """Forget the recorded per-frame times."""
        self.child_seconds.clear()
        self.detect_seconds.clear()

    def __call__(self, n_faces: int = 1, detect_width: int = 320) -> int:
        """Process the test frame with ``n_faces`` faces (see
        :func:`benchmarks.perf.frames.make_frame`), detecting at ``detect_width`` pixels wide
        (the demo's default is 320; 640 is full resolution). Returns the faces classified."""
        self._proc.stdin.write(f"frame {int(n_faces)} {int(detect_width)}\n")
        reply = self._proc.stdout.readline().split()
        if not reply or reply[0] != "ok":
            raise RuntimeError(f"the one-core worker failed: {' '.join(reply)} {self._stderr()}")
        self.faces_found = int(reply[1])
        self.child_seconds.append(float(reply[2]))
        self.detect_seconds.append(float(reply[3]))
        return self.faces_found

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._proc.stdin.write("quit\n")
                self._proc.stdin.close()
                self._proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()

    def __enter__(self) -> "OneCoreWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _child(cpu: int) -> None:
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})  # before JAX/XLA, OpenCV and numpy size their pools
    import cv2

    cv2.setNumThreads(1)
    import jax
    import numpy as np

    from fer_bench.apps.demo import FrameDetector
    from fer_bench.data.labels import CLASSES
    from fer_bench.models import FerModel
    from fer_bench.pipelines.deep.networks import build_model, init_variables

    from .cnn import registered_estimator
    from .frames import FACE_COUNTS, make_frame

    frames = {n: make_frame(n) for n in FACE_COUNTS}
    gray = np.empty(frames[0].shape[:2], np.uint8)
    estimator = registered_estimator(MODEL, verbose=0)
    # A fitted estimator's state (its documented attributes): initialised weights classify
    # exactly as fast as trained ones and need no training run in the child.
    classes = np.arange(7)
    estimator.classes_ = classes
    estimator.variables_ = jax.tree_util.tree_map(
        np.asarray, init_variables(build_model(MODEL, len(classes))))
    model = FerModel(estimator, tuple(CLASSES[:7]), {"size": 48, "margin": 0.2, "equalize": None},
                     "deep")
    detectors: dict[int, FrameDetector] = {}

    def process(n_faces: int, width: int) -> tuple[int, float]:
        """Faces classified and seconds spent converting and detecting."""
        detector = detectors.setdefault(width, FrameDetector(width=width))
        t0 = time.perf_counter()
        cv2.cvtColor(frames[n_faces], cv2.COLOR_BGR2GRAY, dst=gray)
        boxes = detector(gray)
        t1 = time.perf_counter()
        model.predict_proba(model.crop_faces(gray, boxes))
        return len(boxes), t1 - t0

    for n in range(1, 5):  # compile every batch size a frame can need, as the demo warms up
        model.predict_proba(np.zeros((n, 48, 48), np.uint8))
    print(f"ready cpu={cpu} ncpu={len(os.sched_getaffinity(0))}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] != "frame":
            break
        t0 = time.perf_counter()
        n, detect_s = process(int(words[1]), int(words[2]))
        print(f"ok {n} {time.perf_counter() - t0:.9f} {detect_s:.9f}", flush=True)


if __name__ == "__main__":
    _child(int(sys.argv[1]))
