"""CNN workloads for the benchmarks: the jitted forward pass and the jitted train step of a
registered deep pipeline, compiled ahead of time so their FLOPs come from XLA's cost analysis.

The train step is the one :func:`fer_bench.pipelines.deep.train.fit` runs (same optimiser,
augmentation and batch size as the registered factory unless overridden); the forward pass is the
model's inference on a device-resident float batch, without host transfers or softmax.
"""
from __future__ import annotations

import numpy as np

from fer_bench.registry import PIPELINES

from .workload import Workload, compiled_cost

NUM_CLASSES = 7
IMAGE_SIZE = 48


def registered_estimator(name: str, **params):
    """The registered deep pipeline ``name`` built by its factory with ``params`` overrides."""
    entry = PIPELINES.get(name)
    if entry.tags.get("family") != "deep":
        raise ValueError(f"pipeline {name!r} is not a deep pipeline")
    return entry.load()(**params)


def _images(n: int, seed: int) -> np.ndarray:
    """``n`` synthetic 48x48 faces (uint8): realistic pixel statistics for batch norm."""
    from fer_bench.data.synthetic import render_faces

    rng = np.random.default_rng(seed)
    return render_faces(rng.integers(0, NUM_CLASSES, n), rng, IMAGE_SIZE)


def _per_item(cost: dict[str, float], items: int) -> dict[str, float | None]:
    return {"flops_per_item": cost["flops"] / items if "flops" in cost else None,
            "bytes_per_item": cost["bytes"] / items if "bytes" in cost else None}


def forward_workload(name: str, batch: int, seed: int = 0) -> Workload:
    """Inference of deep pipeline ``name``'s network on a ``(batch, 48, 48, 1)`` float32 batch.

    The model is built as the estimator builds it (computation dtype included) with freshly
    initialised weights: the speed of a forward pass does not depend on their values.
    """
    import jax

    from fer_bench.pipelines.deep.estimator import resolve_dtype
    from fer_bench.pipelines.deep.networks import build_model, init_variables

    est = registered_estimator(name)
    model = build_model(est.arch, NUM_CLASSES, resolve_dtype(est.dtype))
    variables = init_variables(model, seed)
    x = jax.device_put(_images(batch, seed)[..., None].astype(np.float32) / 255.0)
    compiled = jax.jit(lambda v, x: model.apply(v, x, train=False)).lower(variables, x).compile()
    cost = compiled_cost(compiled)

    def run():
        return compiled(variables, x).block_until_ready()

    return Workload(run, items=batch, info={"batch": batch,
                                            "dtype": str(np.dtype(resolve_dtype(est.dtype)))},
                    **_per_item(cost, batch))


def train_step_workload(name: str, batch_size: int | None = None, augment: str | None = None,
                        n_images: int | None = None, seed: int = 0) -> Workload:
    """One optimisation step of deep pipeline ``name`` as ``fit`` runs it.

    Parameters
    ----------
    name : str
        A registered deep pipeline.
    batch_size : int, optional
        Default: the registered factory's.
    augment : str, optional
        Augmentation mode (``"none"``, ``"flip"``, ``"crop"``, ``"affine"``); default: the
        factory's.
    n_images : int, optional
        Size of the device-resident training set the step gathers its batch from (default four
        batches); successive calls walk through it as an epoch does.
    """
    import jax
    import jax.numpy as jnp

    from fer_bench.pipelines.deep import train
    from fer_bench.pipelines.deep.estimator import resolve_dtype
    from fer_bench.pipelines.deep.networks import build_model

    overrides = {"verbose": 0, "random_state": seed}
    if batch_size is not None:
        overrides["batch_size"] = batch_size
    if augment is not None:
        overrides["augment"] = augment
    est = registered_estimator(name, **overrides)
    cfg = est.train_config()  # exactly the configuration CNNClassifier.fit trains with
    batch = cfg.batch_size
    n = n_images or 4 * batch
    mesh = train.device_mesh()
    model = build_model(est.arch, NUM_CLASSES, resolve_dtype(est.dtype))
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    state = jax.device_put(train.create_state(model, cfg), replicated)
    metrics = jax.device_put(jnp.zeros(3, jnp.float32), replicated)
    rng = np.random.default_rng(seed)
    images = jax.device_put(_images(n, seed), replicated)
    labels = jax.device_put(rng.integers(0, NUM_CLASSES, n).astype(np.int32), replicated)
    order = jnp.arange(n, dtype=jnp.int32)
    key = jax.random.fold_in(train.make_key(seed), 2)
    step_fn = train.compiled_train_step(train.StepConfig(
        model, train.make_optimizer(cfg), cfg.augment, cfg.label_smoothing, NUM_CLASSES, batch),
        mesh)
    compiled = step_fn.lower(state, metrics, images, labels, order, jnp.int32(0), key).compile()
    cost = compiled_cost(compiled)
    steps = n // batch
    carry = {"state": state, "metrics": metrics, "step": 0}

    def run():
        # The step donates its state: keep the returned one for the next call.
        carry["state"], carry["metrics"] = compiled(
            carry["state"], carry["metrics"], images, labels, order,
            jnp.int32(carry["step"] % steps), key)
        carry["step"] += 1
        return carry["metrics"].block_until_ready()

    return Workload(run, items=batch,
                    info={"batch": batch, "augment": cfg.augment.mode, "optimizer": cfg.optimizer,
                          "dtype": str(np.dtype(resolve_dtype(est.dtype)))},
                    **_per_item(cost, batch))
