"""Training: the jitted train step and the epoch loop (the train state is :mod:`.state`'s, the
checkpoints :mod:`.checkpoint`'s and the inference :mod:`.predict`'s).

The loop keeps the whole training set on the device and runs one jitted step per batch that
gathers the batch, augments it and updates the model, so the host only dispatches. Model
selection uses the validation split only: the best epoch by validation accuracy is kept (and is
what predictions use), early stopping stops after ``patience`` epochs without a better
validation accuracy, and the learning rate is multiplied by ``lr_factor`` after ``lr_patience``
epochs without a lower validation loss (Keras' ``EarlyStopping`` / ``ReduceLROnPlateau``), or,
with ``lr_schedule="cosine"``, follows a cosine decay over the ``epochs`` (better suited to a
fixed time budget, where the plateau rule may never fire).

Every epoch can be checkpointed; a run restarted with the same data, parameters and seed resumes
after the last finished epoch and ends exactly as an uninterrupted run would (on CPU, where XLA is
deterministic). All local devices are used data-parallel: a one-axis mesh shards each batch over
the devices and replicates the parameters (a no-op on a one-device CPU).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from ... import modelfile
from . import checkpoint
from .input_pipeline import (
    AugmentConfig, augment, bucket, epoch_permutation, mixup, pad_rows, take_batch, to_float,
)
from .predict import Predictor, chunk_size, device_mesh, get_predictor
from .state import (
    Progress, TrainConfig, TrainState, copy_tree, cosine_rate, create_state, make_key,
    make_optimizer, set_learning_rate,
)

Array = jax.Array


@dataclass
class FitResult:
    """The weights of the best epoch, those of the last one, and the per-epoch history."""

    variables: dict
    last_variables: dict
    history: list[dict]


def soft_targets(labels: Array, num_classes: int, smoothing: float) -> Array:
    onehot = jax.nn.one_hot(labels, num_classes)
    return onehot * (1.0 - smoothing) + smoothing / num_classes


@dataclass(frozen=True)
class StepConfig:
    """What the compiled train step depends on (a static, hashable jit argument)."""

    model: nn.Module
    tx: optax.GradientTransformation
    augment: AugmentConfig
    label_smoothing: float
    num_classes: int
    batch_size: int
    ema: float = 0.0


def ema_decay(decay: float, step: Array) -> Array:
    """The averaging weight of the old average at (0-based) ``step``: ``decay``, lowered early
    on to ``(1 + step) / (10 + step)`` (TensorFlow's ``ExponentialMovingAverage`` with
    ``num_updates``) so that the average is not dominated by the random initialisation."""
    step = step.astype(jnp.float32)
    return jnp.minimum(decay, (1.0 + step) / (10.0 + step))


def train_step(state: TrainState, metrics: Array, images: Array, labels: Array, order: Array,
               step: Array, key: Array, *, cfg: StepConfig, mesh: Mesh
               ) -> tuple[TrainState, Array]:
    """One optimisation step on batch ``step`` of the epoch order ``order``.

    ``images`` (N, H, W) uint8 and ``labels`` (N,) are the whole training set on the device;
    ``metrics`` accumulates ``[loss sum, correct, count]`` over the epoch without host syncs.
    """
    batch_size = cfg.batch_size
    x, y = take_batch(images, labels, order, step, batch_size)
    x = jax.lax.with_sharding_constraint(to_float(x), NamedSharding(mesh, PartitionSpec("batch")))
    key = jax.random.fold_in(key, step)
    k_aug, k_mix, k_drop = jax.random.split(key, 3)
    x = augment(k_aug, x, cfg.augment)
    targets = soft_targets(y, cfg.num_classes, cfg.label_smoothing)
    if cfg.augment.mixup > 0:
        x, targets = mixup(k_mix, x, targets, cfg.augment.mixup)

    def loss_fn(params):
        logits, updates = cfg.model.apply(
            {"params": params, "batch_stats": state.batch_stats}, x, train=True,
            mutable=["batch_stats"], rngs={"dropout": k_drop},
        )
        return optax.softmax_cross_entropy(logits, targets).mean(), (logits, updates)

    (loss, (logits, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    deltas, opt_state = cfg.tx.update(grads, state.opt_state, state.params)
    state = state.replace(step=state.step + 1, params=optax.apply_updates(state.params, deltas),
                          batch_stats=updates["batch_stats"], opt_state=opt_state)
    if cfg.ema > 0:
        d = ema_decay(cfg.ema, state.step - 1)
        new = {"params": state.params, "batch_stats": state.batch_stats}
        state = state.replace(ema=jax.tree_util.tree_map(
            lambda avg, x: d * avg + (1.0 - d) * x, state.ema, new))
    correct = jnp.sum(jnp.argmax(logits, -1) == y)
    return state, metrics + jnp.stack([loss * batch_size, correct, batch_size]).astype(jnp.float32)


@lru_cache(maxsize=8)
def compiled_train_step(cfg: StepConfig, mesh: Mesh) -> Callable:
    """The jitted :func:`train_step` for ``cfg``, cached so that fits with the same shapes and
    settings compile once; state and metrics come back replicated over ``mesh``, as they went in,
    so the second call hits the cache too."""
    return jax.jit(partial(train_step, cfg=cfg, mesh=mesh), donate_argnums=(0, 1),
                   out_shardings=NamedSharding(mesh, PartitionSpec()))


@dataclass(frozen=True, eq=False)
class _Run:
    """What every epoch of a fit reads: the device-resident data and the compiled functions."""

    step_fn: Callable
    predictor: Predictor
    train_x: Array
    train_y: Array
    n: int
    steps: int
    batch_size: int
    val_x: Array
    val_labels: np.ndarray
    val_chunk: int
    base_key: Array
    num_classes: int
    label_smoothing: float

    def evaluate(self, variables: dict) -> tuple[float, float]:
        """Validation loss (cross-entropy with the training smoothing) and accuracy."""
        labels, k, smoothing = self.val_labels, self.num_classes, self.label_smoothing
        probs = np.asarray(self.predictor.proba_on_device(variables, self.val_x, len(labels),
                                                          self.val_chunk), dtype=np.float64)
        targets = np.eye(k)[labels] * (1 - smoothing) + smoothing / k
        loss = float(-np.mean(np.sum(targets * np.log(np.clip(probs, 1e-12, None)), axis=1)))
        return loss, float(np.mean(probs.argmax(1) == labels))


def fit(model: nn.Module, images: np.ndarray, labels: np.ndarray, val_images: np.ndarray,
        val_labels: np.ndarray, num_classes: int, cfg: TrainConfig,
        checkpoint_dir: str | None = None, signature: str = "",
        initialise: Callable[[dict], dict] | None = None) -> FitResult:
    """Train ``model`` on uint8 ``images`` (N, H, W) with integer ``labels`` (N,) in
    ``0..num_classes-1``, selecting on ``val_images`` / ``val_labels``.

    With ``checkpoint_dir``, the state is saved after every epoch and a run finds and resumes
    its own checkpoint there (``signature`` identifies the run, see
    :func:`.checkpoint.run_signature`; another run's checkpoint raises
    :class:`~fer_bench.errors.ModelFileError`). ``initialise`` maps the freshly initialised
    weights to the starting ones (see :func:`~.state.create_state`).
    """
    mesh = device_mesh()
    state = create_state(model, cfg, images.shape[1], initialise)
    best = copy_tree({"params": state.params, "batch_stats": state.batch_stats})
    progress = Progress(learning_rate=cfg.learning_rate)
    if checkpoint_dir is not None:
        resumed = checkpoint.resume(checkpoint_dir, signature, state, best)
        if resumed is not None:
            state, best, progress = resumed
    replicated = NamedSharding(mesh, PartitionSpec())
    state, best = jax.device_put(state, replicated), jax.device_put(best, replicated)
    run = _setup(model, images, labels, val_images, val_labels, num_classes, cfg, mesh)
    first_epoch = True
    while progress.epoch < cfg.epochs and not progress.stopped:
        state, best = _epoch(run, state, best, progress, cfg, first_epoch)
        first_epoch = False
        if checkpoint_dir is not None:
            checkpoint.save(checkpoint_dir, signature, state, best, progress)
    return FitResult(modelfile.to_host(best), modelfile.to_host(_selected(state)),
                     progress.history)


def _setup(model: nn.Module, images: np.ndarray, labels: np.ndarray, val_images: np.ndarray,
           val_labels: np.ndarray, num_classes: int, cfg: TrainConfig, mesh: Mesh) -> _Run:
    """The data on the devices and the compiled train step and evaluation of a fit."""
    n = len(images)
    batch_size = min(cfg.batch_size, n)
    batch_size = max(mesh.size, batch_size - batch_size % mesh.size)
    replicated = NamedSharding(mesh, PartitionSpec())
    step_fn = compiled_train_step(
        StepConfig(model, make_optimizer(cfg), cfg.augment, cfg.label_smoothing, num_classes,
                   batch_size, cfg.ema), mesh)
    predictor = get_predictor(model, cfg.eval_batch_size, mesh)
    val_chunk = chunk_size(len(val_labels), cfg.eval_batch_size, mesh.size)
    val_x = predictor.put(val_images, val_chunk)
    # Padded to a bucketed length so that folds of similar size reuse the compiled step.
    rows = bucket(n, 1024)
    train_x = jax.device_put(pad_rows(images, rows), replicated)
    train_y = jax.device_put(pad_rows(labels.astype(np.int32), rows), replicated)
    return _Run(step_fn, predictor, train_x, train_y, n, n // batch_size, batch_size, val_x,
                val_labels, val_chunk, jax.random.fold_in(make_key(cfg.seed), 2), num_classes,
                cfg.label_smoothing)


def _epoch(run: _Run, state: TrainState, best: dict, progress: Progress, cfg: TrainConfig,
           compiles: bool) -> tuple[TrainState, dict]:
    """Epoch ``progress.epoch``: its train steps, validation, history record and the progress
    rules (``compiles``: its first step compiles, which the throughput figure leaves out)."""
    epoch = progress.epoch
    if cfg.lr_schedule == "cosine":
        progress.learning_rate = cosine_rate(cfg, epoch)
        state = set_learning_rate(state, progress.learning_rate)
    bar = tqdm(total=run.steps * run.batch_size, unit="img",
               desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=cfg.verbose < 1,
               leave=cfg.verbose >= 2, dynamic_ncols=True)
    state, metrics, images_per_s, seconds = _train_steps(run, state, epoch, bar, compiles)
    loss_sum, correct, count = metrics
    raw = {"params": state.params, "batch_stats": state.batch_stats}
    val_loss, val_acc = run.evaluate(_selected(state))
    record = {
        "epoch": epoch + 1, "loss": float(loss_sum / count), "accuracy": float(correct / count),
        "val_loss": val_loss, "val_accuracy": val_acc, "lr": progress.learning_rate,
        "images_per_s": images_per_s, "seconds": seconds,
    }
    if state.ema is not None:  # what the average gains over the raw weights, every epoch
        record["val_loss_raw"], record["val_accuracy_raw"] = run.evaluate(raw)
    bar.set_postfix(loss=f"{record['loss']:.3f}", acc=f"{record['accuracy']:.3f}",
                    val_acc=f"{val_acc:.3f}", img_s=f"{record['images_per_s']:.0f}")
    bar.close()
    progress.history.append(record)
    progress.epoch = epoch + 1
    return _update_progress(progress, state, best, val_loss, val_acc, cfg)


def _train_steps(run: _Run, state: TrainState, epoch: int, bar: tqdm, compiles: bool
                 ) -> tuple[TrainState, np.ndarray, float, float]:
    """The train steps of ``epoch``: the new state, ``[loss sum, correct, count]`` over the
    epoch, images per second and seconds."""
    order_key, epoch_key = jax.random.split(jax.random.fold_in(run.base_key, epoch))
    order = epoch_permutation(order_key, jnp.int32(run.n), run.train_y)
    mesh = run.predictor.mesh
    metrics = jax.device_put(jnp.zeros(3, jnp.float32), NamedSharding(mesh, PartitionSpec()))
    start = shown = timed_from = time.perf_counter()
    timed_steps = run.steps
    for step in range(run.steps):
        state, metrics = run.step_fn(state, metrics, run.train_x, run.train_y, order,
                                     jnp.int32(step), epoch_key)
        if step == 0 and compiles and run.steps > 1:
            # The first call compiles; leave it out of the throughput figure.
            jax.block_until_ready(metrics)
            timed_from, timed_steps = time.perf_counter(), run.steps - 1
        bar.update(run.batch_size)
        if not bar.disable and time.perf_counter() - shown > 1.0:
            loss_sum, correct, count = np.asarray(metrics)
            bar.set_postfix(loss=f"{loss_sum / count:.3f}", acc=f"{correct / count:.3f}")
            shown = time.perf_counter()
    metrics = np.asarray(metrics)  # waits for the epoch to finish
    end = time.perf_counter()
    return state, metrics, timed_steps * run.batch_size / (end - timed_from), end - start


def _selected(state: TrainState) -> dict:
    """The weights that are evaluated and kept: the moving average when there is one."""
    if state.ema is not None:
        return state.ema
    return {"params": state.params, "batch_stats": state.batch_stats}


def _update_progress(progress: Progress, state: TrainState, best: dict, val_loss: float,
                     val_acc: float, cfg: TrainConfig) -> tuple[TrainState, dict]:
    """Best-epoch bookkeeping, early stopping and the learning-rate plateau rule."""
    if val_acc > progress.best_accuracy:
        progress.best_accuracy, progress.best_epoch = val_acc, progress.epoch
        progress.bad_epochs = 0
        best = copy_tree(_selected(state))
    else:
        progress.bad_epochs += 1
        if progress.bad_epochs >= cfg.patience:
            progress.stopped = True
    if cfg.lr_schedule != "plateau":
        return state, best
    if val_loss < progress.plateau_loss - 1e-4:
        progress.plateau_loss, progress.plateau_epochs = val_loss, 0
    else:
        progress.plateau_epochs += 1
        if progress.plateau_epochs >= cfg.lr_patience and progress.learning_rate > cfg.min_lr:
            progress.learning_rate = max(progress.learning_rate * cfg.lr_factor, cfg.min_lr)
            progress.plateau_epochs = 0
            state = set_learning_rate(state, progress.learning_rate)
    return state, best
