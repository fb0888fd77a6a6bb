"""The train state and what sets it up: the run's configuration, the optimiser, the learning
rate, the root random key and the host-side progress record.

The learning rate lives in the optimiser state (``optax.inject_hyperparams``), so the plateau
rule and the cosine schedule change it from the host without recompiling the train step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from flax import struct

from .input_pipeline import AugmentConfig

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
    constants of the compiled step (:func:`.train.compiled_train_step`), so equal settings in a later
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
                       ema=copy_tree(variables) if cfg.ema > 0 else None)
    return set_learning_rate(state, cfg.learning_rate)


@lru_cache(maxsize=8)
def _jitted_init(model: nn.Module) -> Callable:
    return jax.jit(partial(model.init, train=False))


def set_learning_rate(state: TrainState, lr: float) -> TrainState:
    """``state`` with the optimiser's learning rate set to ``lr`` (no recompilation)."""
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


def copy_tree(tree: Any) -> Any:
    """``tree`` in fresh device buffers: the train step donates the state's, which would
    invalidate a plain alias."""
    return jax.tree_util.tree_map(jnp.copy, tree)
