"""The CNN architectures: little-VGG, mini-Xception and vgg-fer (Flax linen).

Every model maps ``(N, 48, 48, 1)`` floats in [0, 1] to ``(N, num_classes)`` float32 logits and
normalises its input itself. ``dtype`` is the computation dtype (``jnp.bfloat16`` on a GPU halves
memory traffic); parameters and batch statistics stay float32. ``impl="lax"`` swaps the fast
layer formulations of :mod:`.layers` for XLA's reference ones (used by tests and benchmarks).
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import linen as nn

from .layers import Conv, SeparableConv3x3, max_pool_2x2, max_pool_3x3_s2

# Roughly FER2013's pixel mean and standard deviation on the [0, 1] scale; the batch norm after
# the first convolution makes the exact values unimportant.
PIXEL_MEAN = 0.5
PIXEL_STD = 0.25


#: The collection each network sows its penultimate features into (the input of its classifier,
#: globally average-pooled for mini-Xception's convolutional one): read with
#: ``apply(..., mutable=[FEATURES])``; a plain ``apply`` ignores it, so predictions are unchanged.
FEATURES = "features"


def _normalise(x: jax.Array, dtype: Any) -> jax.Array:
    if x.ndim == 3:  # (N, 48, 48) -> (N, 48, 48, 1)
        x = x[..., None]
    return ((x.astype(jnp.float32) - PIXEL_MEAN) / PIXEL_STD).astype(dtype)


def _batch_norm(train: bool, dtype: Any, name: str | None = None) -> nn.BatchNorm:
    # Keras' epsilon (1e-3), but momentum 0.9 rather than Keras' 0.99: the running statistics
    # then settle within ~30 steps, which matters for the small datasets (JAFFE, CK+) where an
    # epoch is a handful of steps and early epochs are evaluated for model selection.
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-3,
                        dtype=dtype, name=name)


class LittleVGG(nn.Module):
    """The thesis's Keras "little VGG".

    Four blocks of [3x3 conv -> ELU -> BN] x 2 -> 2x2 max-pool -> dropout 0.2 with 32, 64, 128
    and 256 filters (he_normal init), then two [dense(64) -> ELU -> BN -> dropout 0.5] and the
    classifier. About 1.33 M parameters for 7 classes.
    """

    num_classes: int = 7
    widths: tuple[int, ...] = (32, 64, 128, 256)
    dense: int = 64
    conv_dropout: float = 0.2
    dense_dropout: float = 0.5
    dtype: Any = jnp.float32
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        init = nn.initializers.he_normal()
        x = _normalise(x, self.dtype)
        for width in self.widths:
            for _ in range(2):
                x = Conv(width, kernel_init=init, dtype=self.dtype, impl=self.impl)(x)
                x = _batch_norm(train, self.dtype)(nn.elu(x))
            x = max_pool_2x2(x)
            x = nn.Dropout(self.conv_dropout, deterministic=not train)(x)
        x = x.reshape(x.shape[0], -1)
        for _ in range(2):
            x = nn.Dense(self.dense, kernel_init=init, dtype=self.dtype)(x)
            x = _batch_norm(train, self.dtype)(nn.elu(x))
            x = nn.Dropout(self.dense_dropout, deterministic=not train)(x)
        self.sow(FEATURES, "features", x)
        x = nn.Dense(self.num_classes, kernel_init=init, dtype=self.dtype)(x)
        return x.astype(jnp.float32)


class MiniXception(nn.Module):
    """Arriaga et al.'s mini-Xception (2017), as in the thesis.

    Base: two 3x3 'valid' convs (8 filters) each with BN and ReLU (48 -> 44 px). Four residual
    modules with 16, 32, 64, 128 filters: separable 3x3 conv -> BN -> ReLU -> separable 3x3 conv
    -> BN -> 3x3 stride-2 'same' max-pool, plus a 1x1 stride-2 conv -> BN shortcut. Output: a
    3x3 conv with one filter per class and global average pooling. 56,951 trainable parameters
    for 7 classes (Keras counts BN scales and offsets as trainable).
    """

    num_classes: int = 7
    widths: tuple[int, ...] = (16, 32, 64, 128)
    base_width: int = 8
    dtype: Any = jnp.float32
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        sep_impl = "lax" if self.impl == "lax" else "shift"
        x = _normalise(x, self.dtype)
        for _ in range(2):
            x = Conv(self.base_width, padding="VALID", use_bias=False, dtype=self.dtype,
                     impl=self.impl)(x)
            x = nn.relu(_batch_norm(train, self.dtype)(x))
        for width in self.widths:
            residual = Conv(width, (1, 1), strides=2, use_bias=False, dtype=self.dtype)(x)
            residual = _batch_norm(train, self.dtype)(residual)
            x = SeparableConv3x3(width, dtype=self.dtype, impl=sep_impl)(x)
            x = nn.relu(_batch_norm(train, self.dtype)(x))
            x = SeparableConv3x3(width, dtype=self.dtype, impl=sep_impl)(x)
            x = _batch_norm(train, self.dtype)(x)
            x = max_pool_3x3_s2(x) + residual
        self.sow(FEATURES, "features", x.mean(axis=(1, 2)))
        x = Conv(self.num_classes, dtype=self.dtype, impl=self.impl)(x)
        return x.mean(axis=(1, 2)).astype(jnp.float32)


class VGGFer(nn.Module):
    """A VGG-style network after Khaireddin & Chen (2021), sized for CPU inference.

    Four stages of [3x3 conv -> BN -> ReLU] x 2 -> 2x2 max-pool with ``widths`` filters, then two
    [dense -> ReLU -> dropout] layers and the classifier. The paper's widths are
    (64, 128, 256, 512) with 4096-wide dense layers; the defaults here (48, 96, 192, 384) and 256
    keep it near 3.6 M parameters and ~0.5 GFLOP per image.
    """

    num_classes: int = 7
    widths: tuple[int, ...] = (48, 96, 192, 384)
    dense: int = 256
    dropout: float = 0.4
    dtype: Any = jnp.float32
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        init = nn.initializers.he_normal()
        x = _normalise(x, self.dtype)
        for width in self.widths:
            for _ in range(2):
                x = Conv(width, use_bias=False, kernel_init=init, dtype=self.dtype,
                         impl=self.impl)(x)
                x = nn.relu(_batch_norm(train, self.dtype)(x))
            x = max_pool_2x2(x)
        x = x.reshape(x.shape[0], -1)
        for _ in range(2):
            x = nn.relu(nn.Dense(self.dense, kernel_init=init, dtype=self.dtype)(x))
            x = nn.Dropout(self.dropout, deterministic=not train)(x)
        self.sow(FEATURES, "features", x)
        x = nn.Dense(self.num_classes, dtype=self.dtype)(x)
        return x.astype(jnp.float32)


#: Architecture name -> model class; the names are the registered pipeline names.
ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "little-vgg": LittleVGG,
    "mini-xception": MiniXception,
    "vgg-fer": VGGFer,
}


def build_model(arch: str, num_classes: int, dtype: Any = jnp.float32, impl: str = "auto",
                **options: Any) -> nn.Module:
    """The model called ``arch`` (a key of :data:`ARCHITECTURES`) for ``num_classes`` classes."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](num_classes=num_classes, dtype=dtype, impl=impl, **options)


def init_variables(model: nn.Module, seed: int = 0, size: int = 48) -> dict:
    """``{"params": ..., "batch_stats": ...}`` of ``model``, initialised from ``seed``."""
    x = jnp.zeros((1, size, size, 1), jnp.float32)
    variables = model.init(jax.random.key(seed, impl="rbg"), x, train=False)
    return {k: v for k, v in variables.items() if k != FEATURES}  # init sows them: not weights


def count_params(tree: Any) -> int:
    """Number of scalars in a pytree of arrays (e.g. ``variables["params"]``)."""
    return int(sum(leaf.size for leaf in jax.tree_util.tree_leaves(tree)))
