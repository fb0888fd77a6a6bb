"""Training: the train state, jitted train and evaluation steps, and the epoch loop.

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

import json
import math
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache, partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from flax import struct
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from ... import modelfile
from ...errors import ModelFileError
from .input_pipeline import (
    AugmentConfig, augment, bucket, epoch_permutation, mixup, pad_rows, take_batch, to_float,
    tta_views,
)

Array = jax.Array

OPTIMIZERS = ("adamw", "sgd")
LR_SCHEDULES = ("plateau", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (see :class:`~.estimator.CNNClassifier`)."""

    epochs: int = 50
    batch_size: int = 64
    learning_rate: float = 1e-3
    optimizer: str = "adamw"
    momentum: float = 0.9
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    ema: float = 0.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    patience: int = 10
    lr_patience: int = 5
    lr_factor: float = 0.5
    min_lr: float = 1e-6
    lr_schedule: str = "plateau"
    eval_batch_size: int = 256
    seed: int = 0
    verbose: int = 1

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


class TrainState(struct.PyTreeNode):
    """Everything a step updates. The model and the optimiser are not part of it: they are
    constants of the compiled step (:func:`compiled_train_step`), so equal settings in a later
    fit reuse the compiled code."""

    step: Array
    params: Any
    batch_stats: Any
    opt_state: Any
    # The exponential moving average of ``{"params", "batch_stats"}`` (``TrainConfig.ema``);
    # None when off, so that the state and its checkpoints keep their structure.
    ema: Any = None


@dataclass
class Progress:
    """Host-side loop state saved with every checkpoint."""

    epoch: int = 0  # epochs finished
    best_accuracy: float = -1.0
    best_epoch: int = -1
    bad_epochs: int = 0  # epochs since the best validation accuracy (early stopping)
    plateau_loss: float = math.inf
    plateau_epochs: int = 0  # epochs since the lowest validation loss (LR plateau)
    learning_rate: float = 0.0
    stopped: bool = False
    history: list[dict] = field(default_factory=list)


@dataclass
class FitResult:
    """The weights of the best epoch, those of the last one, and the per-epoch history."""

    variables: dict
    last_variables: dict
    history: list[dict]


def device_mesh() -> Mesh:
    """A one-axis mesh (``"batch"``) over every local device."""
    return Mesh(np.asarray(jax.local_devices()), ("batch",))


def _decay_mask(params: Any) -> Any:
    # Decay kernels only: biases and batch-norm scales/offsets are not weights to shrink.
    return jax.tree_util.tree_map(lambda p: p.ndim > 1, params)


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """AdamW (decoupled decay) or SGD with Nesterov momentum (L2 decay).

    The learning rate lives in the optimiser state (``inject_hyperparams``), where
    :func:`create_state` puts ``cfg.learning_rate`` and the plateau rule lowers it, so neither
    needs a recompilation.
    """
    return _optimizer(cfg.optimizer, cfg.momentum, cfg.weight_decay)


@lru_cache(maxsize=16)
def _optimizer(name: str, momentum: float, weight_decay: float) -> optax.GradientTransformation:
    # Cached, and independent of the learning rate: the optimiser is a constant of the compiled
    # step, so an identical object lets later fits reuse the compiled code.
    def build(learning_rate):
        if name == "adamw":
            return optax.adamw(learning_rate, weight_decay=weight_decay, mask=_decay_mask)
        return optax.chain(
            optax.add_decayed_weights(weight_decay, mask=_decay_mask),
            optax.sgd(learning_rate, momentum=momentum, nesterov=True),
        )

    return optax.inject_hyperparams(build)(learning_rate=1.0)  # the real rate is set in the state


def make_key(seed: int) -> Array:
    """The root random key of a run. XLA's RngBitGenerator ("rbg") rather than threefry: the
    same determinism on one backend, and several times faster to compile on CPU."""
    return jax.random.key(seed, impl="rbg")


def create_state(model: nn.Module, cfg: TrainConfig, image_size: int = 48,
                 initialise: Callable[[dict], dict] | None = None) -> TrainState:
    """A fresh train state: weights initialised from ``cfg.seed``, then mapped by ``initialise``
    (fresh ``{"params", "batch_stats"}`` -> starting ones, e.g. :mod:`.transfer`) if given."""
    x = jnp.zeros((1, image_size, image_size, 1), jnp.float32)
    variables = _jitted_init(model)(jax.random.fold_in(make_key(cfg.seed), 1), x)
    variables = {"params": variables["params"], "batch_stats": variables.get("batch_stats", {})}
    if initialise is not None:
        variables = initialise(variables)
    params = variables["params"]
    state = TrainState(step=jnp.zeros((), jnp.int32), params=params,
                       batch_stats=variables["batch_stats"],
                       opt_state=make_optimizer(cfg).init(params),
                       ema=_copy(variables) if cfg.ema > 0 else None)
    return set_learning_rate(state, cfg.learning_rate)


@lru_cache(maxsize=8)
def _jitted_init(model: nn.Module) -> Callable:
    return jax.jit(partial(model.init, train=False))


def set_learning_rate(state: TrainState, lr: float) -> TrainState:
    hyper = dict(state.opt_state.hyperparams)
    hyper["learning_rate"] = jnp.asarray(lr, dtype=jnp.asarray(hyper["learning_rate"]).dtype)
    return state.replace(opt_state=state.opt_state._replace(hyperparams=hyper))


def cosine_rate(cfg: TrainConfig, epoch: int) -> float:
    """Learning rate of (0-based) ``epoch`` under the cosine schedule: ``cfg.learning_rate`` at
    the first epoch, decaying along half a cosine to ``cfg.min_lr`` after ``cfg.epochs``.

    Set once per epoch from the host, like the plateau rule, so it never recompiles the step.
    """
    t = min(epoch, cfg.epochs) / cfg.epochs
    return cfg.min_lr + (cfg.learning_rate - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * t))


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


def predict_chunk(apply_fn: Callable, variables: dict, images: Array, offset: Array, *,
                  chunk: int, tta: str | None, mesh: Mesh) -> Array:
    """Class probabilities ``(chunk, K)`` of rows ``offset:offset+chunk`` of the uint8 images,
    averaged over the test-time views ``tta`` (see :func:`.input_pipeline.tta_views`)."""
    x = to_float(jax.lax.dynamic_slice_in_dim(images, offset, chunk))
    x = jax.lax.with_sharding_constraint(x, NamedSharding(mesh, PartitionSpec("batch")))
    views = tta_views(x, tta)
    probs = jax.vmap(lambda v: jax.nn.softmax(apply_fn(variables, v, train=False)))(views)
    return probs.mean(axis=0)


def chunk_size(n: int, batch_size: int, n_devices: int) -> int:
    """Rows per inference call: ``batch_size``, or less for small inputs (a power of two, so
    that few shapes are compiled), always a multiple of the device count."""
    size = min(batch_size, 1 << max(0, math.ceil(math.log2(max(n, 1)))))
    return max(n_devices, -(-size // n_devices) * n_devices)


class Predictor:
    """Jitted, chunked inference of ``model`` with fixed ``variables`` on uint8 images."""

    def __init__(self, model: nn.Module, batch_size: int = 256, mesh: Mesh | None = None) -> None:
        self.model = model
        self.batch_size = batch_size
        self.mesh = mesh or device_mesh()
        self._fns: dict = {}

    def _fn(self, chunk: int, tta: str | None):
        if (chunk, tta) not in self._fns:
            self._fns[chunk, tta] = jax.jit(partial(
                predict_chunk, self.model.apply, chunk=chunk, tta=tta, mesh=self.mesh))
        return self._fns[chunk, tta]

    def place(self, variables: Any) -> Any:
        """``variables`` replicated on the mesh's devices (a no-op for a tree already there)."""
        return jax.device_put(variables, NamedSharding(self.mesh, PartitionSpec()))

    def put(self, images: np.ndarray, chunk: int) -> Array:
        """``images`` (N, H, W) uint8 zero-padded to :func:`~.input_pipeline.bucket` rows,
        replicated on the devices."""
        images = pad_rows(images, bucket(len(images), chunk))
        return jax.device_put(images, NamedSharding(self.mesh, PartitionSpec()))

    def proba_on_device(self, variables: dict, images: Array, n: int, chunk: int,
                        tta: str | None = None) -> Array:
        """Probabilities of the first ``n`` rows of ``images`` (as returned by :meth:`put`)."""
        fn = self._fn(chunk, tta)
        parts = [fn(variables, images, jnp.int32(i)) for i in range(0, n, chunk)]
        return jnp.concatenate(parts)[:n]

    def predict_proba(self, variables: dict, images: np.ndarray, tta: str | None = None
                      ) -> np.ndarray:
        """Class probabilities ``(N, K)`` of uint8 ``images`` (N, H, W)."""
        n = len(images)
        chunk = chunk_size(n, self.batch_size, self.mesh.size)
        probs = self.proba_on_device(self.place(variables), self.put(images, chunk), n, chunk, tta)
        return np.asarray(probs, dtype=np.float64)


@lru_cache(maxsize=8)
def get_embedder(model: nn.Module) -> Callable:
    """A jitted ``(variables, (N, H, W) uint8 images) -> (N, D)`` function giving ``model``'s
    penultimate features (what it sows into :data:`~.models.FEATURES`)."""
    from .models import FEATURES

    def embed(variables: dict, images: Array) -> Array:
        _, sown = model.apply(variables, to_float(images), train=False, mutable=[FEATURES])
        return sown[FEATURES]["features"][0]

    return jax.jit(embed)


@lru_cache(maxsize=8)
def get_predictor(model: nn.Module, batch_size: int = 256, mesh: Mesh | None = None) -> Predictor:
    """A shared :class:`Predictor` per (model, batch size, mesh): its compiled functions are
    reused by later fits and predictions."""
    return Predictor(model, batch_size, mesh)


def _evaluate(predictor: Predictor, variables: dict, images: Array, labels: np.ndarray,
              chunk: int, smoothing: float, num_classes: int) -> tuple[float, float]:
    """Validation loss (cross-entropy with the training smoothing) and accuracy."""
    probs = np.asarray(predictor.proba_on_device(variables, images, len(labels), chunk),
                       dtype=np.float64)
    targets = np.eye(num_classes)[labels] * (1 - smoothing) + smoothing / num_classes
    loss = float(-np.mean(np.sum(targets * np.log(np.clip(probs, 1e-12, None)), axis=1)))
    return loss, float(np.mean(probs.argmax(1) == labels))


def _copy(tree: Any) -> Any:
    # Fresh buffers: the train step donates the state's, which would invalidate a plain alias.
    return jax.tree_util.tree_map(jnp.copy, tree)


def _state_tree(state: TrainState) -> dict:
    tree = {"step": state.step, "params": state.params, "batch_stats": state.batch_stats,
            "opt_state": state.opt_state}
    if state.ema is not None:
        tree["ema"] = state.ema
    return tree


def _checkpoint_tree(state: TrainState, best: dict, progress: Progress, signature: str) -> dict:
    return {
        "signature": signature,
        "state": _state_tree(state),
        "best": best,
        "progress": json.dumps(asdict(progress)),
    }


def _resume(directory: str, signature: str, state: TrainState, best: dict
            ) -> tuple[TrainState, dict, Progress] | None:
    raw = modelfile.load_checkpoint(directory)
    if raw is None:
        return None
    path = modelfile.checkpoint_path(directory)
    fix = "delete it, or pass another checkpoint_dir, to start a new run"
    if raw.get("signature") != signature:
        raise ModelFileError(
            path, "checkpoint belongs to a run with other data or parameters", fix)
    restored = modelfile.restore_into(_state_tree(state), raw["state"], path, "checkpoint", fix)
    best = modelfile.restore_into(best, raw["best"], path, "checkpoint", fix)
    try:
        progress = Progress(**json.loads(raw["progress"]))
    except (KeyError, TypeError, ValueError):
        raise ModelFileError(path, "checkpoint has no readable progress record", fix) from None
    state = state.replace(**restored)
    return state, best, progress


def fit(model: nn.Module, images: np.ndarray, labels: np.ndarray, val_images: np.ndarray,
        val_labels: np.ndarray, num_classes: int, cfg: TrainConfig,
        checkpoint_dir: str | None = None, signature: str = "",
        initialise: Callable[[dict], dict] | None = None) -> FitResult:
    """Train ``model`` on uint8 ``images`` (N, H, W) with integer ``labels`` (N,) in
    ``0..num_classes-1``, selecting on ``val_images`` / ``val_labels``.

    With ``checkpoint_dir``, the state is saved after every epoch and a run finds and resumes
    its own checkpoint there (``signature`` identifies the run; another run's checkpoint raises
    :class:`~fer_bench.errors.ModelFileError`). ``initialise`` maps the freshly initialised
    weights to the starting ones (see :func:`create_state`).
    """
    mesh = device_mesh()
    n = len(images)
    batch_size = min(cfg.batch_size, n)
    batch_size = max(mesh.size, batch_size - batch_size % mesh.size)
    steps = n // batch_size
    replicated = NamedSharding(mesh, PartitionSpec())

    state = create_state(model, cfg, images.shape[1], initialise)
    best = _copy({"params": state.params, "batch_stats": state.batch_stats})
    progress = Progress(learning_rate=cfg.learning_rate)
    if checkpoint_dir is not None:
        resumed = _resume(checkpoint_dir, signature, state, best)
        if resumed is not None:
            state, best, progress = resumed
    state = jax.device_put(state, replicated)
    best = jax.device_put(best, replicated)

    base_key = jax.random.fold_in(make_key(cfg.seed), 2)
    step_fn = compiled_train_step(
        StepConfig(model, make_optimizer(cfg), cfg.augment, cfg.label_smoothing, num_classes,
                   batch_size, cfg.ema), mesh)
    predictor = get_predictor(model, cfg.eval_batch_size, mesh)
    val_chunk = chunk_size(len(val_labels), cfg.eval_batch_size, mesh.size)
    val_dev = predictor.put(val_images, val_chunk)
    # Padded to a bucketed length so that folds of similar size reuse the compiled step.
    rows = bucket(n, 1024)
    train_x = jax.device_put(pad_rows(images, rows), replicated)
    train_y = jax.device_put(pad_rows(labels.astype(np.int32), rows), replicated)

    first_epoch = True
    while progress.epoch < cfg.epochs and not progress.stopped:
        epoch = progress.epoch
        if cfg.lr_schedule == "cosine":
            progress.learning_rate = cosine_rate(cfg, epoch)
            state = set_learning_rate(state, progress.learning_rate)
        order_key, epoch_key = jax.random.split(jax.random.fold_in(base_key, epoch))
        order = epoch_permutation(order_key, jnp.int32(n), train_y)
        metrics = jax.device_put(jnp.zeros(3, jnp.float32), replicated)
        bar = tqdm(total=steps * batch_size, unit="img", desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   disable=cfg.verbose < 1, leave=cfg.verbose >= 2, dynamic_ncols=True)
        start = shown = timed_from = time.perf_counter()
        timed_steps = steps
        for step in range(steps):
            state, metrics = step_fn(state, metrics, train_x, train_y, order, jnp.int32(step),
                                     epoch_key)
            if step == 0 and first_epoch and steps > 1:
                # The first call compiles; leave it out of the throughput figure.
                jax.block_until_ready(metrics)
                timed_from, timed_steps = time.perf_counter(), steps - 1
            bar.update(batch_size)
            if not bar.disable and time.perf_counter() - shown > 1.0:
                loss_sum, correct, count = np.asarray(metrics)
                bar.set_postfix(loss=f"{loss_sum / count:.3f}", acc=f"{correct / count:.3f}")
                shown = time.perf_counter()
        loss_sum, correct, count = np.asarray(metrics)  # waits for the epoch to finish
        end = time.perf_counter()
        seconds = end - start
        first_epoch = False
        raw = {"params": state.params, "batch_stats": state.batch_stats}
        val_loss, val_acc = _evaluate(predictor, _selected(state), val_dev, val_labels,
                                      val_chunk, cfg.label_smoothing, num_classes)
        record = {
            "epoch": epoch + 1, "loss": float(loss_sum / count), "accuracy": float(correct / count),
            "val_loss": val_loss, "val_accuracy": val_acc, "lr": progress.learning_rate,
            "images_per_s": timed_steps * batch_size / (end - timed_from), "seconds": seconds,
        }
        if state.ema is not None:  # what the average gains over the raw weights, every epoch
            record["val_loss_raw"], record["val_accuracy_raw"] = _evaluate(
                predictor, raw, val_dev, val_labels, val_chunk, cfg.label_smoothing, num_classes)
        bar.set_postfix(loss=f"{record['loss']:.3f}", acc=f"{record['accuracy']:.3f}",
                        val_acc=f"{val_acc:.3f}", img_s=f"{record['images_per_s']:.0f}")
        bar.close()
        progress.history.append(record)
        progress.epoch = epoch + 1
        state, best = _update_progress(progress, state, best, val_loss, val_acc, cfg)
        if checkpoint_dir is not None:
            modelfile.save_checkpoint(checkpoint_dir, _checkpoint_tree(
                state, best, progress, signature))
    return FitResult(modelfile.to_host(best), modelfile.to_host(_selected(state)),
                     progress.history)


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
        best = _copy(_selected(state))
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
