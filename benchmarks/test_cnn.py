"""CNNs: the jitted train step (images/s) and inference at batch 1 and 512 of every registered
deep model, the PyTorch CPU references of mini-Xception and cpu-vgg side by side (in four
thread / memory layout configurations), and the measured peak fp32 FLOP/s (a large jitted
matmul) the roofline column of the report divides by.

FLOPs per image come from XLA's cost analysis of the compiled computation (``extra_info``
``flops_per_item``); the PyTorch benchmarks carry the JAX count of the same network.
"""
from __future__ import annotations

import numpy as np
import pytest

from fer_bench.registry import PIPELINES

from .perf.cnn import forward_workload, registered_estimator, train_step_workload
from .perf.peak import matmul_workload

DEEP = PIPELINES.names(family="deep")
#: The models with a PyTorch twin (``torch_reference.TWINS``, which needs torch to import).
TWINNED = ("mini-xception", "cpu-vgg")
BATCHES = (1, 512)


@pytest.fixture(scope="module")
def workloads():
    """Compiled workloads shared by the JAX and PyTorch benchmarks of this module (compiling a
    train step takes seconds to a minute)."""
    cache: dict = {}

    def get(kind: str, *args):
        if (kind, *args) not in cache:
            build = {"forward": forward_workload, "train": train_step_workload}[kind]
            try:
                cache[kind, *args] = build(*args)
            except ImportError as exc:  # the deep pipelines are not installed / built
                pytest.skip(f"deep pipeline code cannot be imported: {exc}")
        return cache[kind, *args]

    return get


#: Matmul sides of the peak measurement (scaled down in smoke runs). The report takes the best:
#: a long call is likelier to be interrupted on a busy machine, a short one to be overhead-bound.
PEAK_SIZES = (1024, 2048, 4096)


@pytest.mark.benchmark(group="peak: fp32 matmul")
@pytest.mark.parametrize("side", PEAK_SIZES, ids=lambda n: f"{n}x{n}")
def test_peak_matmul(measure, sizes, side):
    measure(matmul_workload(side * sizes.matmul // max(PEAK_SIZES)), kind="peak",
            unit="matmuls")


@pytest.mark.benchmark(group="cnn: train step")
@pytest.mark.parametrize("name", DEEP)
def test_train_step(measure, workloads, name):
    """One optimisation step as ``fit`` runs it: batch gathered on the device, the registered
    augmentation, forward, backward and the optimiser update."""
    work = workloads("train", name, None, None)
    measure(work, kind="cnn-train", unit="images", model=name, framework="jax")


@pytest.mark.benchmark(group="cnn: train step")
@pytest.mark.parametrize("name", TWINNED)
def test_train_step_no_augmentation(measure, workloads, name):
    """The step without augmentation: the same work as the PyTorch reference step."""
    work = workloads("train", name, None, "none")
    measure(work, kind="cnn-train", unit="images", model=name, framework="jax",
            like_for_like=True)


@pytest.mark.benchmark(group="cnn: inference")
@pytest.mark.parametrize("batch", BATCHES, ids=lambda b: f"batch{b}")
@pytest.mark.parametrize("name", DEEP)
def test_inference(measure, workloads, sizes, name, batch):
    work = workloads("forward", name, min(batch, sizes.max_batch))
    measure(work, kind="cnn-infer", unit="images", model=name, framework="jax")


# --- the PyTorch reference -----------------------------------------------------------------------

def _torch_model(torch, name: str, seed: int = 0):
    from fer_bench.pipelines.deep.networks import build_model, init_variables

    from .torch_reference import TWINS

    torch.manual_seed(seed)
    twin, load = TWINS[name]
    variables = init_variables(build_model(name, 7), seed)
    return load(twin(7), variables), variables


def _torch_batch(torch, n: int, seed: int = 0):
    from fer_bench.data.synthetic import render_faces

    rng = np.random.default_rng(seed)
    x = render_faces(rng.integers(0, 7, n), rng, 48).astype(np.float32) / 255.0
    return torch.from_numpy(x[:, None]), torch.from_numpy(rng.integers(0, 7, n))


@pytest.mark.parametrize("name", TWINNED)
def test_torch_reference_matches_flax(name):
    """The reference computes the same function as the Flax model (same weights, same logits),
    so comparing their speed compares implementations, not networks."""
    torch = pytest.importorskip("torch")
    from fer_bench.pipelines.deep.networks import build_model

    from .torch_reference import TWINS

    assert set(TWINS) == set(TWINNED)
    model, variables = _torch_model(torch, name, seed=3)
    x, _ = _torch_batch(torch, 8, seed=3)
    with torch.inference_mode():
        ours = model.eval()(x).numpy()
    flax = np.asarray(build_model(name, 7).apply(
        variables, x.numpy().transpose(0, 2, 3, 1), train=False))
    np.testing.assert_allclose(ours, flax, rtol=1e-4, atol=1e-4)


#: PyTorch configurations timed: all cores or one thread, NCHW or channels-last tensors. The
#: report compares JAX with the fastest, so the reference is PyTorch at its best on this machine
#: (on a busy machine, OpenMP's spinning threads can make the multi-threaded one far slower).
TORCH_CONFIGS = (("all", "nchw"), ("all", "channels_last"), (1, "nchw"), (1, "channels_last"))
TORCH_IDS = [f"threads-{t}-{m}" for t, m in TORCH_CONFIGS]


@pytest.fixture(params=TORCH_CONFIGS, ids=TORCH_IDS)
def torch_config(request):
    """``(torch, threads, memory_format)`` with the thread count set for the test only."""
    torch = pytest.importorskip("torch")
    threads, layout = request.param
    before = torch.get_num_threads()
    if threads != "all":
        torch.set_num_threads(threads)
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    yield torch, torch.get_num_threads(), fmt, layout
    torch.set_num_threads(before)


@pytest.mark.benchmark(group="cnn: inference")
@pytest.mark.parametrize("batch", BATCHES, ids=lambda b: f"batch{b}")
@pytest.mark.parametrize("name", TWINNED)
def test_torch_inference(measure, workloads, sizes, torch_config, name, batch):
    torch, threads, fmt, layout = torch_config
    batch = min(batch, sizes.max_batch)
    model, _ = _torch_model(torch, name)
    model = model.eval().to(memory_format=fmt)
    x = _torch_batch(torch, batch)[0].contiguous(memory_format=fmt)

    def run():
        with torch.inference_mode():
            return model(x)

    flops = workloads("forward", name, batch).flops_per_item
    measure(run, kind="cnn-infer", items=batch, unit="images", model=name,
            framework="torch", batch=batch, flops_per_item=flops, torch_threads=threads,
            memory_format=layout, torch_version=torch.__version__)


@pytest.mark.benchmark(group="cnn: train step")
@pytest.mark.parametrize("name", TWINNED)
def test_torch_train_step(measure, workloads, torch_config, name):
    torch, threads, fmt, layout = torch_config
    from .torch_reference import make_train_step

    batch = registered_estimator(name).batch_size
    model, _ = _torch_model(torch, name)
    step = make_train_step(model.to(memory_format=fmt))
    x, y = _torch_batch(torch, batch)
    x = x.contiguous(memory_format=fmt)
    flops = workloads("train", name, None, "none").flops_per_item
    measure(lambda: step(x, y), kind="cnn-train", items=batch, unit="images", model=name,
            framework="torch", batch=batch, augment="none", flops_per_item=flops,
            torch_threads=threads, memory_format=layout, torch_version=torch.__version__)
