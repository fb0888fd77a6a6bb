"""Convolution and pooling building blocks written for speed on a small CPU.

XLA's CPU backend lowers a grouped convolution (``feature_group_count``, i.e. a depthwise conv)
to a slow generic loop and a 3x3 convolution with one or a few input channels to a kernel that
cannot use the vector units well. Both become cheap when written as what they are: a handful of
shifted slices multiplied and added, which XLA fuses into one loop, with hand-written gradients
that take one pass over the activations (a variadic reduction, or one small GEMM). ``deep_perf.md``
in the benchmarks records the measurements that picked each formulation.

All arrays are NHWC; kernels are HWIO like :class:`flax.linen.Conv`'s, so parameters from these
modules and from ``nn.Conv`` are interchangeable.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import linen as nn

Array = jax.Array
Initializer = Callable[..., Array]

#: Convolutions with at most this many input channels (the grayscale input layer) are written
#: as shifted multiply-adds (:func:`conv2d`'s ``"shift"``); at 8 channels XLA's own convolution
#: is already faster.
SHIFT_MAX_CHANNELS = 4

#: The kernel gradient of a convolution contracts over every output position of the batch
#: (N x H x W). XLA's CPU convolution makes that one contraction, which on large maps falls out
#: of cache; summed over blocks of whole images of about this many positions it ran 2-3x faster
#: at 24x24 and 12x12 (measured on an Intel AVX-512 machine: ``benchmarks/deep_perf.md``).
KERNEL_GRAD_BLOCK = 2304


def _same_pad(x: Array, kh: int, kw: int) -> Array:
    """Zero-pad H and W as 'SAME' padding does for stride 1 (extra row/column at the end)."""
    ph, pw = kh - 1, kw - 1
    return jnp.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))


def _shift_mul_add(x: Array, kernel: Array) -> Array:
    """Sum over the nine taps (i, j) of pad(x)[:, i:i+H, j:j+W, :] * kernel[i, j] (one fused
    loop)."""
    taps = _taps(x, 3, 3, "SAME")
    out = taps[0] * kernel[0, 0]
    for t in range(1, 9):
        out = out + taps[t] * kernel[t // 3, t % 3]
    return out


@jax.custom_vjp
def _depthwise(x: Array, kernel: Array) -> Array:
    return _shift_mul_add(x, kernel)


def _depthwise_fwd(x: Array, kernel: Array) -> tuple[Array, tuple[Array, Array]]:
    return _shift_mul_add(x, kernel), (x, kernel)


def _depthwise_bwd(res: tuple[Array, Array], g: Array) -> tuple[Array, Array]:
    # Written out so the input gradient is one fused shifted loop like the forward pass (autodiff
    # gives nine pad/slice transposes); measured no slower than autodiff's, see deep_perf notes.
    x, kernel = res
    dx = _shift_mul_add(g, kernel[::-1, ::-1])  # the transpose of a correlation: flipped taps
    # The nine tap gradients as one variadic reduction: one pass over x and g. Nine separate
    # sums made XLA read both (and recompute x's fused producers) nine times; this was a third
    # of mini-Xception's train step.
    taps = channel_sums(*(tap * g for tap in _taps(x, 3, 3, "SAME")))
    return dx, jnp.stack(taps).reshape(kernel.shape)


def channel_sums(*xs: Array, fused: bool = True) -> tuple[Array, ...]:
    """Per-channel sums (over every axis but the last) of same-shaped arrays.

    ``fused=True``: in one pass, a variadic reduction, which reads each input once where
    separate sums would each read (and recompute the fused producers of) all of them again; the
    depthwise kernel gradient's nine sums need it. ``fused=False``: one reduction per array,
    which XLA's CPU backend emits faster for two cheap inputs (batch norm's: 1.1-1.3x whole
    train steps, ``benchmarks/deep_perf.md``, session 12).
    """
    if not fused:
        return tuple(x.sum(axis=tuple(range(x.ndim - 1))) for x in xs)
    zeros = tuple(jnp.zeros((), x.dtype) for x in xs)
    return tuple(jax.lax.reduce(xs, zeros, lambda a, b: tuple(u + v for u, v in zip(a, b)),
                                tuple(range(xs[0].ndim - 1))))


_depthwise.defvjp(_depthwise_fwd, _depthwise_bwd)


def depthwise_conv3x3(x: Array, kernel: Array) -> Array:
    """Depthwise 3x3 convolution, stride 1, 'SAME' padding, as nine shifted multiply-adds.

    Parameters
    ----------
    x : array of shape (N, H, W, C)
    kernel : array of shape (3, 3, 1, C) or (3, 3, C)
        One 3x3 filter per channel (the HWIO layout of a grouped conv with C groups).

    Returns
    -------
    array of shape (N, H, W, C), equal to ``lax.conv_general_dilated`` with
    ``feature_group_count=C`` (cross-correlation, like every deep-learning conv), with a
    hand-written gradient of the same shifted form.
    """
    return _depthwise(x, kernel.reshape(3, 3, x.shape[-1]))


def im2col(x: Array, kh: int, kw: int, padding: str = "SAME") -> Array:
    """Patches of a stride-1 ``kh x kw`` convolution: (N, H', W', kh*kw*C), ordered (i, j, c).

    With this ordering ``im2col(x) @ kernel.reshape(kh*kw*C, O)`` is the convolution of ``x`` by
    an HWIO ``kernel``.
    """
    return jnp.concatenate(_taps(x, kh, kw, padding), axis=-1)


def _taps(x: Array, kh: int, kw: int, padding: str) -> list[Array]:
    """The ``kh * kw`` shifted views (N, H', W', C) a stride-1 convolution multiplies, in (i, j)
    order."""
    if padding == "SAME":
        x = _same_pad(x, kh, kw)
    elif padding != "VALID":
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    ho, wo = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    return [x[:, i:i + ho, j:j + wo, :] for i in range(kh) for j in range(kw)]


def _shift_conv_fwd_only(x: Array, kernel: Array, padding: str) -> Array:
    kh, kw, cin, _ = kernel.shape
    taps = _taps(x, kh, kw, padding)
    out = None
    for t, tap in enumerate(taps):
        for c in range(cin):
            term = tap[..., c:c + 1] * kernel[t // kw, t % kw, c]  # (N, H, W, 1) x (O,)
            out = term if out is None else out + term
    return out


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def _shift_conv(x: Array, kernel: Array, padding: str) -> Array:
    return _shift_conv_fwd_only(x, kernel, padding)


def _shift_conv_fwd(x: Array, kernel: Array, padding: str):
    return _shift_conv_fwd_only(x, kernel, padding), (x, kernel)


def _shift_conv_bwd(padding: str, res: tuple[Array, Array], g: Array):
    x, kernel = res
    kh, kw, cin, _ = kernel.shape
    # dx by autodiff of the forward: dead code for an input layer, whose dx nobody uses.
    _, vjp_x = jax.vjp(lambda x_: _shift_conv_fwd_only(x_, kernel, padding), x)
    (dx,) = vjp_x(g)
    taps = _taps(x, kh, kw, padding)
    # dk = patches^T g as one small-output GEMM: (taps x Cin, P) @ (P, O), P = N*H*W.
    patches = jnp.stack(taps, axis=0).reshape(kh * kw, -1, cin)  # (T, P, Cin)
    patches = jnp.moveaxis(patches, 2, 1).reshape(kh * kw * cin, -1)  # row t * Cin + c
    dk = patches @ g.reshape(-1, g.shape[-1])
    return dx, dk.reshape(kernel.shape)


_shift_conv.defvjp(_shift_conv_fwd, _shift_conv_bwd)


def _lax_conv(x: Array, kernel: Array, padding: str) -> Array:
    return jax.lax.conv_general_dilated(
        x, kernel, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def _blocked_conv(x: Array, kernel: Array, padding: str) -> Array:
    return _lax_conv(x, kernel, padding)


def _blocked_conv_fwd(x: Array, kernel: Array, padding: str):
    return _lax_conv(x, kernel, padding), (x, kernel)


def _blocked_conv_bwd(padding: str, res: tuple[Array, Array], g: Array):
    x, kernel = res
    (dx,) = jax.vjp(lambda x_: _lax_conv(x_, kernel, padding), x)[1](g)
    per = max(1, KERNEL_GRAD_BLOCK // (g.shape[1] * g.shape[2]))  # whole images per block

    def kernel_grad(xb: Array, gb: Array) -> Array:
        (dk,) = jax.vjp(lambda k: _lax_conv(xb, k, padding), kernel)[1](gb)
        return dk.astype(jnp.float32)  # bf16 kernels: sum the blocks in float32

    # Unrolled: inside a lax.scan XLA's CPU backend ran the same convolution 10-40x slower.
    blocks = [kernel_grad(x[i:i + per], g[i:i + per]) for i in range(0, x.shape[0], per)]
    return dx, sum(blocks[1:], blocks[0]).astype(kernel.dtype)


_blocked_conv.defvjp(_blocked_conv_fwd, _blocked_conv_bwd)


def conv2d(x: Array, kernel: Array, padding: str = "SAME", impl: str = "auto") -> Array:
    """Stride-1 2-D convolution of NHWC ``x`` by an HWIO ``kernel``.

    ``impl`` is ``"lax"`` (XLA's convolution), ``"blocked"`` (XLA's convolution, its kernel
    gradient summed over blocks of :data:`KERNEL_GRAD_BLOCK` output positions), ``"shift"`` (a
    sum of shifted views times kernel rows: one fused loop; its kernel gradient is one GEMM of
    the stacked views), ``"im2col"`` (patch matrix times kernel) or ``"auto"``: shift for inputs
    with at most :data:`SHIFT_MAX_CHANNELS` channels, where XLA's convolution leaves the vector
    units idle, blocked otherwise.
    """
    kh, kw, cin, cout = kernel.shape
    if impl == "auto":
        impl = "shift" if cin <= SHIFT_MAX_CHANNELS and (kh, kw) != (1, 1) else "blocked"
    if impl == "shift":
        return _shift_conv(x, kernel, padding)
    if impl == "blocked":
        return _blocked_conv(x, kernel, padding)
    if impl == "im2col":
        patches = im2col(x, kh, kw, padding)
        return patches @ kernel.reshape(kh * kw * cin, cout)
    if impl != "lax":
        raise ValueError(f"impl must be 'auto', 'lax', 'blocked', 'shift' or 'im2col', "
                         f"got {impl!r}")
    return _lax_conv(x, kernel, padding)


def _first_max(a: Array, b: Array) -> Array:
    """Elementwise max whose gradient goes to exactly one side (``a`` on ties); a NaN wins, as
    in ``jnp.maximum``, so a diverging activation is not hidden by the pools.

    ``jnp.maximum`` and ``max`` reductions differentiate by comparing each input with the
    *output* (``x == max``). Under ``jit`` XLA may recompute an input (a fused batch norm and
    activation) in the backward pass with different rounding than the forward pass that produced
    the output, so the comparison fails and the window's gradient is lost or split: cpu-vgg's
    jitted gradients below its third pool were off by a cosine of ~0.9. A select on ``a >= b``
    compares two values computed together, so it always routes the gradient to one of them.
    """
    return jnp.where((a >= b) | jnp.isnan(a), a, b)


def max_pool_2x2(x: Array) -> Array:
    """2x2 max-pool with stride 2, 'VALID' (an odd last row/column is dropped, as Keras does).

    Written as maxima of strided slices: its gradient is a cheap select, where
    ``reduce_window``'s is a ``select_and_scatter`` that XLA's CPU backend runs slowly.
    """
    h, w = x.shape[1] - x.shape[1] % 2, x.shape[2] - x.shape[2] % 2
    rows = _first_max(x[:, 0:h:2, :w], x[:, 1:h:2, :w])
    return _first_max(rows[:, :, 0:w:2], rows[:, :, 1:w:2])


def max_pool_3x3_s2(x: Array) -> Array:
    """3x3 max-pool with stride 2 and 'SAME' padding (Keras ``MaxPooling2D(3, 2, "same")``).

    Computed as a separable max over three strided row slices then three strided column slices
    of the input padded with -inf; output size is ``ceil(H / 2) x ceil(W / 2)``.
    """
    n, h, w, c = x.shape
    ho, wo = -(-h // 2), -(-w // 2)
    # SAME padding for k=3, s=2: total pad = max((out-1)*2 + 3 - size, 0), split low-first.
    ph, pw = max((ho - 1) * 2 + 3 - h, 0), max((wo - 1) * 2 + 3 - w, 0)
    neg = jnp.finfo(x.dtype).min
    xp = jnp.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)),
                 constant_values=neg)
    rows = _first_max(_first_max(xp[:, 0:2 * ho - 1:2], xp[:, 1:2 * ho:2]),
                      xp[:, 2:2 * ho + 1:2])
    return _first_max(_first_max(rows[:, :, 0:2 * wo - 1:2], rows[:, :, 1:2 * wo:2]),
                      rows[:, :, 2:2 * wo + 1:2])


class Conv(nn.Module):
    """A 2-D convolution (stride 1, or 1x1 with a stride) picking its fastest formulation.

    Parameters mirror :class:`flax.linen.Conv` (``kernel`` HWIO, optional ``bias``), so the two
    are interchangeable; ``impl`` chooses the formulation (see :func:`conv2d`).
    """

    features: int
    kernel_size: tuple[int, int] = (3, 3)
    strides: int = 1
    padding: str = "SAME"
    use_bias: bool = True
    kernel_init: Initializer = nn.initializers.lecun_normal()
    bias_init: Initializer = nn.initializers.zeros_init()
    dtype: Any = None
    param_dtype: Any = jnp.float32
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        kh, kw = self.kernel_size
        kernel = self.param(
            "kernel", self.kernel_init, (kh, kw, x.shape[-1], self.features), self.param_dtype
        )
        x, kernel = nn.dtypes.promote_dtype(x, kernel, dtype=self.dtype)
        if self.strides != 1:
            if (kh, kw) != (1, 1):
                raise ValueError("only 1x1 convolutions may be strided here")
            # A strided 1x1 conv is a subsample followed by a matmul ('SAME' keeps the top-left).
            x = x[:, :: self.strides, :: self.strides, :]
        if (kh, kw) == (1, 1):
            y = x @ kernel.reshape(x.shape[-1], self.features)
        else:
            y = conv2d(x, kernel, self.padding, self.impl)
        if self.use_bias:
            bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype)
            y = y + bias.astype(y.dtype)
        return y


class DepthwiseConv3x3(nn.Module):
    """Depthwise 3x3 convolution (stride 1, 'SAME', no bias) via :func:`depthwise_conv3x3`.

    ``impl="lax"`` uses XLA's grouped convolution instead (the reference formulation).
    """

    kernel_init: Initializer = nn.initializers.lecun_normal()
    dtype: Any = None
    param_dtype: Any = jnp.float32
    impl: str = "shift"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        kernel = self.param("kernel", self.kernel_init, (3, 3, 1, c), self.param_dtype)
        x, kernel = nn.dtypes.promote_dtype(x, kernel, dtype=self.dtype)
        if self.impl == "lax":
            return jax.lax.conv_general_dilated(
                x, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                feature_group_count=c,
            )
        return depthwise_conv3x3(x, kernel)


class SeparableConv3x3(nn.Module):
    """Keras ``SeparableConv2D(features, 3, padding="same", use_bias=False)``:
    a depthwise 3x3 conv followed by a pointwise (1x1) conv, computed as a matmul."""

    features: int
    kernel_init: Initializer = nn.initializers.lecun_normal()
    dtype: Any = None
    param_dtype: Any = jnp.float32
    impl: str = "shift"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        x = DepthwiseConv3x3(self.kernel_init, self.dtype, self.param_dtype, self.impl,
                             name="depthwise")(x)
        return Conv(self.features, (1, 1), use_bias=False, kernel_init=self.kernel_init,
                    dtype=self.dtype, param_dtype=self.param_dtype, name="pointwise")(x)
