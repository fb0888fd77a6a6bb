"""The CNN architectures: one parametrised VGG (variants little-VGG and vgg-fer) and
mini-Xception (Flax linen).

Every model maps ``(N, 48, 48)`` or ``(N, 48, 48, 1)`` floats in [0, 1] to ``(N, num_classes)``
float32 logits and normalises its input itself. ``dtype`` is the computation dtype
(``jnp.bfloat16`` on a GPU halves memory traffic); parameters and batch statistics stay float32.
``impl="lax"`` swaps the fast layer formulations of :mod:`.layers` and the batch norm of
:mod:`.batch_norm` for XLA's and flax's reference ones (used by tests and benchmarks).

A network joins :data:`ARCHITECTURES` when it is a linen module (or a ``functools.partial`` of
one) that takes ``num_classes`` (``dtype`` and ``impl`` too if it offers them:
:func:`build_model` passes only what it declares), sows its penultimate features into
:data:`FEATURES`, and names its classifier layer :data:`HEAD` (or says in a ``head`` attribute
which layer is its classifier), which is what transfer learning leaves fresh.
"""
from __future__ import annotations

import inspect
from functools import partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import linen as nn

from .batch_norm import BatchNorm
from .layers import Conv, SeparableConv3x3, max_pool_2x2, max_pool_3x3_s2

# Roughly FER2013's pixel mean and standard deviation on the [0, 1] scale; the batch norm after
# the first convolution makes the exact values unimportant.
PIXEL_MEAN = 0.5
PIXEL_STD = 0.25


#: The collection each network sows its penultimate features into (the input of its classifier,
#: globally average-pooled for mini-Xception's convolutional one): read with
#: ``apply(..., mutable=[FEATURES])``; a plain ``apply`` ignores it, so predictions are unchanged.
FEATURES = "features"

#: The name a network gives its classifier layer, unless its ``head`` attribute names another.
HEAD = "head"

# One shared initialiser object: modules are compared (and cached) by their fields.
HE_NORMAL = nn.initializers.he_normal()
LECUN_NORMAL = nn.initializers.lecun_normal()


def resolve_dtype(dtype: str) -> Any:
    """The computation dtype of an estimator's ``dtype`` setting (``"auto"``: bfloat16 on a GPU,
    float32 elsewhere)."""
    if dtype == "auto":
        return jnp.bfloat16 if jax.default_backend() == "gpu" else jnp.float32
    if dtype in ("float32", "bfloat16"):
        return jnp.dtype(dtype)
    raise ValueError(f"dtype must be 'auto', 'float32' or 'bfloat16', got {dtype!r}")


def _normalise(x: jax.Array, dtype: Any) -> jax.Array:
    if x.ndim == 3:  # (N, 48, 48) -> (N, 48, 48, 1)
        x = x[..., None]
    return ((x.astype(jnp.float32) - PIXEL_MEAN) / PIXEL_STD).astype(dtype)


def _batch_norm(train: bool, dtype: Any, impl: str = "auto") -> nn.Module:
    # Keras' epsilon (1e-3), but momentum 0.9 rather than Keras' 0.99: the running statistics
    # then settle within ~30 steps, which matters for the small datasets (JAFFE, CK+) where an
    # epoch is a handful of steps and early epochs are evaluated for model selection. Both
    # classes are named BatchNorm and hold the same variables; ours has the two-pass gradient.
    norm = nn.BatchNorm if impl == "lax" else BatchNorm
    return norm(use_running_average=not train, momentum=0.9, epsilon=1e-3, dtype=dtype)


class VGG(nn.Module):
    """A VGG-style network: stages of 3x3 convolutions, then dense layers and the classifier.

    Each of the ``widths`` stages is ``convs`` x [3x3 conv -> BN and activation] -> 2x2 max-pool
    (``convs`` an int for every stage, or one count per stage)
    (-> dropout ``conv_dropout``); then ``dense_layers`` x [dense(``dense``) -> activation
    (-> BN) -> dropout ``dense_dropout``] and the classifier. Kernels use ``kernel_init``, the
    classifier ``head_init``. The named variants below fix the thesis's and the paper's recipes.
    """

    num_classes: int = 7
    widths: tuple[int, ...] = (48, 96, 192, 384)
    convs: int | tuple[int, ...] = 2
    dense: int = 256
    dense_layers: int = 2
    activation: Callable[[jax.Array], jax.Array] = nn.relu
    #: conv -> BN -> activation when True, conv -> activation -> BN (the thesis's Keras order)
    #: when False.
    norm_first: bool = True
    conv_bias: bool = False
    conv_dropout: float = 0.0
    dense_norm: bool = False
    dense_dropout: float = 0.4
    kernel_init: Callable[..., jax.Array] = HE_NORMAL
    head_init: Callable[..., jax.Array] = LECUN_NORMAL
    dtype: Any = jnp.float32
    impl: str = "auto"

    @property
    def head(self) -> str:
        # The name Flax gave the classifier before it was named explicitly (the dense layer
        # after the hidden ones): model files store its weights under it.
        return f"Dense_{self.dense_layers}"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        x = _normalise(x, self.dtype)
        convs = (self.convs,) * len(self.widths) if isinstance(self.convs, int) else self.convs
        if len(convs) != len(self.widths):
            raise ValueError(f"VGG: {len(convs)} conv counts for {len(self.widths)} stages")
        for width, n_convs in zip(self.widths, convs):
            for _ in range(n_convs):
                x = Conv(width, use_bias=self.conv_bias, kernel_init=self.kernel_init,
                         dtype=self.dtype, impl=self.impl)(x)
                if self.norm_first:
                    x = self.activation(_batch_norm(train, self.dtype, self.impl)(x))
                else:
                    x = _batch_norm(train, self.dtype, self.impl)(self.activation(x))
            x = max_pool_2x2(x)
            if self.conv_dropout:  # no layer at rate 0: later layers keep their names and rngs
                x = nn.Dropout(self.conv_dropout, deterministic=not train)(x)
        x = x.reshape(x.shape[0], -1)
        for _ in range(self.dense_layers):
            x = self.activation(nn.Dense(self.dense, kernel_init=self.kernel_init,
                                         dtype=self.dtype)(x))
            if self.dense_norm:
                x = _batch_norm(train, self.dtype, self.impl)(x)
            x = nn.Dropout(self.dense_dropout, deterministic=not train)(x)
        self.sow(FEATURES, "features", x)
        x = nn.Dense(self.num_classes, kernel_init=self.head_init, dtype=self.dtype,
                     name=self.head)(x)
        return x.astype(jnp.float32)


#: The thesis's Keras "little VGG": four stages of [3x3 conv -> ELU -> BN] x 2 -> 2x2 max-pool
#: -> dropout 0.2 with 32, 64, 128 and 256 filters (he_normal init), then two [dense(64) -> ELU
#: -> BN -> dropout 0.5] and the classifier. About 1.33 M parameters for 7 classes.
LittleVGG = partial(VGG, widths=(32, 64, 128, 256), dense=64, activation=nn.elu,
                    norm_first=False, conv_bias=True, conv_dropout=0.2, dense_norm=True,
                    dense_dropout=0.5, head_init=HE_NORMAL)

#: A VGG-style network after Khaireddin & Chen (2021), sized for CPU inference: four stages of
#: [3x3 conv -> BN -> ReLU] x 2 -> 2x2 max-pool, then two [dense -> ReLU -> dropout 0.4] and the
#: classifier. The paper's widths are (64, 128, 256, 512) with 4096-wide dense layers; these
#: (48, 96, 192, 384) and 256 keep it near 3.6 M parameters and ~0.5 GFLOP per image.
VGGFer = partial(VGG, widths=(48, 96, 192, 384), dense=256, dense_dropout=0.4)

#: A VGG sized from measurements of what XLA's CPU backend trains fast (``results/performance.md``,
#: ``benchmarks/deep_perf.md``): plain 3x3 convolutions (they run at ~35 % of peak in training,
#: depthwise ones at ~9 %), and the depth bought where it is cheap. One convolution at 48x48
#: (a second one there would cost a fifth of the network's FLOPs for little gain: batch norm and
#: ReLU over 48x48x32 activations are memory-bound), then 2, 3 and 3 at 24, 12 and 6 px with 64,
#: 128 and 256 filters; one dense(256) -> ReLU -> dropout 0.4 and the classifier. On 2 cores,
#: batch 64, a training step runs 136 images/s (726 MFLOP per image, ~99 GFLOP/s) against
#: little-VGG's 101 (641 MFLOP; its second 48x48 convolution and 2304x64 dense layers) and
#: a 32-64-128-256 double-conv VGG's 103; the widest candidate measured (40-80-160-320,
#: 63 images/s) would get half the epochs of a two-hour budget. About 2.5 M parameters.
CPUVGG = partial(VGG, widths=(32, 64, 128, 256), convs=(1, 2, 3, 3), dense=256,
                 dense_layers=1, dense_dropout=0.4)


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

    @property
    def head(self) -> str:
        # The classifier convolution's name from before it was named explicitly (after the two
        # base convolutions and one shortcut per module): model files store it under it.
        return f"Conv_{2 + len(self.widths)}"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        sep_impl = "lax" if self.impl == "lax" else "shift"
        x = _normalise(x, self.dtype)
        for _ in range(2):
            x = Conv(self.base_width, padding="VALID", use_bias=False, dtype=self.dtype,
                     impl=self.impl)(x)
            x = nn.relu(_batch_norm(train, self.dtype, self.impl)(x))
        for width in self.widths:
            residual = Conv(width, (1, 1), strides=2, use_bias=False, dtype=self.dtype)(x)
            residual = _batch_norm(train, self.dtype, self.impl)(residual)
            x = SeparableConv3x3(width, dtype=self.dtype, impl=sep_impl)(x)
            x = nn.relu(_batch_norm(train, self.dtype, self.impl)(x))
            x = SeparableConv3x3(width, dtype=self.dtype, impl=sep_impl)(x)
            x = _batch_norm(train, self.dtype, self.impl)(x)
            x = max_pool_3x3_s2(x) + residual
        self.sow(FEATURES, "features", x.mean(axis=(1, 2)))
        x = Conv(self.num_classes, dtype=self.dtype, impl=self.impl, name=self.head)(x)
        return x.mean(axis=(1, 2)).astype(jnp.float32)


#: Architecture name -> model (a module class, or a partial of one); the names are the
#: registered pipeline names.
ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "little-vgg": LittleVGG,
    "mini-xception": MiniXception,
    "vgg-fer": VGGFer,
    "cpu-vgg": CPUVGG,
}


def build_model(arch: str, num_classes: int, dtype: Any = jnp.float32, impl: str = "auto",
                **options: Any) -> nn.Module:
    """The model called ``arch`` (a key of :data:`ARCHITECTURES`) for ``num_classes`` classes.

    ``dtype`` and ``impl`` go to the networks that declare them; asking a network that does not
    for anything but float32 and its own layers is a ``ValueError``, as is any other of
    ``options`` it does not declare (:func:`declared_settings`).
    """
    accepted = declared_settings(arch)
    if "num_classes" not in accepted:
        raise ValueError(f"architecture {arch!r} takes no num_classes; give its module a "
                         "num_classes field sizing the classifier")
    settings = {"num_classes": num_classes}
    for name, value, default in (("dtype", dtype, jnp.float32), ("impl", impl, "auto")):
        if name in accepted:
            settings[name] = value
        elif value != default:
            raise ValueError(f"architecture {arch!r} has no {name} setting, so it cannot run with "
                             f"{name}={value!r}; use the default or give its module a {name} field")
    for name in options:
        if name not in accepted:
            raise ValueError(f"architecture {arch!r} has no {name} setting")
    return ARCHITECTURES[arch](**settings, **options)


def declared_settings(arch: str) -> frozenset[str]:
    """The settings (module fields) network ``arch`` declares."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    return frozenset(inspect.signature(ARCHITECTURES[arch]).parameters)


def init_variables(model: nn.Module, seed: int = 0, size: int = 48) -> dict:
    """``{"params": ..., "batch_stats": ...}`` of ``model``, initialised from ``seed``."""
    x = jnp.zeros((1, size, size, 1), jnp.float32)
    variables = model.init(jax.random.key(seed, impl="rbg"), x, train=False)
    return {k: v for k, v in variables.items() if k != FEATURES}  # init sows them: not weights


def count_params(tree: Any) -> int:
    """Number of scalars in a pytree of arrays (e.g. ``variables["params"]``)."""
    return int(sum(leaf.size for leaf in jax.tree_util.tree_leaves(tree)))
