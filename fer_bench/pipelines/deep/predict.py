"""Inference: jitted, chunked, data-parallel class probabilities and penultimate features.

Images go to the device once as uint8, zero-padded to a bucketed length; a jitted function per
(chunk size, test-time views) computes one chunk of rows, sharded over a one-axis mesh of every
local device. :func:`get_predictor` and :func:`get_embedder` share the compiled functions
between fits and predictions with the same model.
"""
from __future__ import annotations

import math
from functools import lru_cache, partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .input_pipeline import bucket, pad_rows, to_float, tta_views
from .networks import FEATURES

Array = jax.Array


def device_mesh() -> Mesh:
    """A one-axis mesh (``"batch"``) over every local device."""
    return Mesh(np.asarray(jax.local_devices()), ("batch",))


def predict_chunk(apply_fn: Callable, variables: dict, images: Array, offset: Array, *,
                  chunk: int, tta: str | None, mesh: Mesh) -> Array:
    """Class probabilities ``(chunk, K)`` of rows ``offset:offset+chunk`` of the uint8 images,
    averaged over the test-time views ``tta`` (see :func:`.input_pipeline.tta_views`)."""
    x = to_float(jax.lax.dynamic_slice_in_dim(images, offset, chunk))
    x = jax.lax.with_sharding_constraint(x, NamedSharding(mesh, PartitionSpec("batch")))
    views = tta_views(x, tta)
    # One view at a time (lax.map, not vmap): the activations of a call stay those of ``chunk``
    # images whatever the number of views, so ten-crop needs no more memory than plain scoring.
    probs = jax.lax.map(lambda v: jax.nn.softmax(apply_fn(variables, v, train=False)), views)
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
    penultimate features (what it sows into :data:`~.networks.FEATURES`)."""
    def embed(variables: dict, images: Array) -> Array:
        _, sown = model.apply(variables, to_float(images), train=False, mutable=[FEATURES])
        return sown[FEATURES]["features"][0]

    return jax.jit(embed)


@lru_cache(maxsize=8)
def get_predictor(model: nn.Module, batch_size: int = 256, mesh: Mesh | None = None) -> Predictor:
    """A shared :class:`Predictor` per (model, batch size, mesh): its compiled functions are
    reused by later fits and predictions."""
    return Predictor(model, batch_size, mesh)


def embed(model: nn.Module, variables: dict, images: np.ndarray, batch_size: int) -> np.ndarray:
    """Penultimate features ``(N, D)`` float32 of uint8 ``images`` (N, H, W), computed
    ``batch_size`` rows at a time (see :func:`get_embedder`)."""
    fn = get_embedder(model)
    out = []
    for i in range(0, len(images), batch_size):
        chunk = images[i:i + batch_size]
        batch = pad_rows(chunk, bucket(len(chunk), 8))  # few shapes to compile
        out.append(np.asarray(fn(variables, batch))[:len(chunk)])
    return np.concatenate(out).astype(np.float32)
