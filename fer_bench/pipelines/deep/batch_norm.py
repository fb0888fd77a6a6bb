"""Batch normalisation with a hand-written gradient: two passes over the activations per step.

Autodiff of :class:`flax.linen.BatchNorm` differentiates through the batch statistics, and XLA's
CPU backend turns that into several fusions that each read the activation again (centred copies,
the two statistics' gradients, then the input gradient). Written out, training needs only:

* forward: the sums of ``x`` and ``x**2`` per channel, then one elementwise pass for ``y``;
* backward: the sums of ``dy`` and ``dy * x_hat`` per channel (which are also the bias and
  scale gradients), then one elementwise pass for ``dx``.

Each pair of sums is two reductions, not one variadic reduction: on an Intel AVX-512 machine
XLA's CPU backend ran the variadic one at ~1 GB/s, and whole train steps were 1.1-1.3x faster
with two (``deep_perf.md``, session 12).

``BatchNorm`` holds the same variables as ``nn.BatchNorm`` (``params``: ``scale``, ``bias``;
``batch_stats``: ``mean``, ``var``) and is named the same, so saved models and checkpoints are
interchangeable with the reference; ``deep_perf.md`` in the benchmarks records what it bought.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from .layers import channel_sums

Array = jax.Array


def _statistics(x: Array) -> tuple[Array, Array]:
    # Var = E[x^2] - E[x]^2 clipped at 0, as flax's use_fast_variance computes it.
    count = x.size // x.shape[-1]
    total, total_sq = channel_sums(x, x * x, fused=False)
    mean = total / count
    return mean, jnp.maximum(0.0, total_sq / count - mean * mean)


def _scale_shift(x: Array, mean: Array, var: Array, scale: Array, bias: Array,
                 epsilon: float) -> tuple[Array, Array]:
    rstd = jax.lax.rsqrt(var + epsilon)
    return (x - mean) * (rstd * scale) + bias, rstd


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def batch_norm_train(x: Array, scale: Array, bias: Array,
                     epsilon: float) -> tuple[Array, Array, Array]:
    """Normalise ``x`` with its own batch statistics.

    Parameters
    ----------
    x : float32 array of shape (N, ..., C)
    scale, bias : float32 arrays of shape (C,)
    epsilon : float, added to the variance

    Returns
    -------
    y : array of shape (N, ..., C), ``(x - mean) / sqrt(var + epsilon) * scale + bias``
    mean, var : arrays of shape (C,), the batch statistics over every axis but the last
    """
    return _batch_norm_fwd(x, scale, bias, epsilon)[0]


def _batch_norm_fwd(x, scale, bias, epsilon):
    mean, var = _statistics(x)
    y, rstd = _scale_shift(x, mean, var, scale, bias, epsilon)
    return (y, mean, var), (x, mean, rstd, scale)


def _batch_norm_bwd(epsilon, res, cotangents):
    x, mean, rstd, scale = res
    g, g_mean, g_var = cotangents
    count = x.size // x.shape[-1]
    x_hat = (x - mean) * rstd
    sum_g, sum_g_xhat = channel_sums(g, g * x_hat, fused=False)
    # dx of y through x and through the batch statistics, plus the statistics' own cotangents
    # (zero in training, where they only feed the running averages; exact unless the variance
    # clipped to 0, where flax's gradient is zero and x - mean is ~0 anyway).
    dx = (scale * rstd) * (g - (sum_g + x_hat * sum_g_xhat) / count)
    dx = dx + (g_mean + 2.0 * g_var * (x - mean)) / count
    return dx, sum_g_xhat.astype(scale.dtype), sum_g.astype(scale.dtype)


batch_norm_train.defvjp(_batch_norm_fwd, _batch_norm_bwd)


class BatchNorm(nn.Module):
    """``nn.BatchNorm`` over the last axis with :func:`batch_norm_train`'s gradient.

    Same variables, initialisation, running-average update (skipped while initialising) and
    float32 statistics as ``nn.BatchNorm(use_running_average=..., momentum=..., epsilon=...,
    dtype=...)``; the output has ``dtype`` (default: the promoted dtype of the input and the
    parameters, as in ``nn.BatchNorm``). ``use_running_average`` is set here only, not per call.
    """

    use_running_average: bool = False
    momentum: float = 0.99
    epsilon: float = 1e-5
    dtype: Any = None
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array) -> Array:
        features = (x.shape[-1],)
        scale = self.param("scale", nn.initializers.ones_init(), features, self.param_dtype)
        bias = self.param("bias", nn.initializers.zeros_init(), features, self.param_dtype)
        ra_mean = self.variable("batch_stats", "mean", jnp.zeros, features, jnp.float32)
        ra_var = self.variable("batch_stats", "var", jnp.ones, features, jnp.float32)
        dtype = nn.dtypes.canonicalize_dtype(x, scale, bias, dtype=self.dtype)
        x32 = x.astype(jnp.promote_types(x.dtype, jnp.float32))
        if self.use_running_average:
            y, _ = _scale_shift(x32, ra_mean.value, ra_var.value, scale, bias, self.epsilon)
            return y.astype(dtype)
        y, mean, var = batch_norm_train(x32, scale, bias, self.epsilon)
        if not self.is_initializing():
            ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
            ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
        return y.astype(dtype)
