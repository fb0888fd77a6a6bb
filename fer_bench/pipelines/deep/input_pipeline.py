"""On-device data augmentation, batching and test-time views.

The training set lives on the device as one uint8 array; every function here is pure JAX, runs
inside the jitted train step and draws its randomness from a ``jax.random`` key, so no per-step
host work is needed and a seed fixes every augmentation.

Augmentation follows Keras' ``ImageDataGenerator`` (the thesis's setup): one random affine per
image (rotation, zoom, shear, shift; 'nearest' fill) plus a horizontal flip, or a cheaper
pad-and-random-crop plus flip. Random erasing (Zhong et al. 2017) and mixup (Zhang et al. 2018)
are optional on top.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

AUGMENT_MODES = ("none", "flip", "crop", "affine")
TTA_MODES = (None, "flip", "tencrop")


@dataclass(frozen=True)
class AugmentConfig:
    """What the training-time augmentation does (hashable: it is a static jit argument).

    Attributes
    ----------
    mode : {"none", "flip", "crop", "affine"}
        ``flip``: horizontal flips only; ``crop``: edge-pad by ``max_shift`` and crop back at a
        random offset, plus flips; ``affine``: a random rotation / zoom / shear / shift per image,
        plus flips.
    max_rotation : float
        Degrees, uniform in ``[-max_rotation, max_rotation]``.
    max_shift : float
        Fraction of the image size, per axis.
    max_zoom : float
        Scale factors uniform in ``[1 - max_zoom, 1 + max_zoom]``, drawn per axis.
    max_shear : float
        Shear angle in degrees.
    erasing : float
        Probability of erasing one random rectangle (2-25 % of the area) per image.
    mixup : float
        Beta(mixup, mixup) mixing coefficient; 0 disables mixup.
    """

    mode: str = "affine"
    max_rotation: float = 10.0
    max_shift: float = 0.1
    max_zoom: float = 0.1
    max_shear: float = 5.0
    erasing: float = 0.0
    mixup: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in AUGMENT_MODES:
            raise ValueError(f"augment must be one of {AUGMENT_MODES}, got {self.mode!r}")


def to_float(images: Array) -> Array:
    """uint8 ``(N, H, W)`` or ``(N, H, W, 1)`` -> float32 ``(N, H, W, 1)`` in [0, 1]."""
    if images.ndim == 3:
        images = images[..., None]
    return images.astype(jnp.float32) / 255.0


def bucket(n: int, unit: int) -> int:
    """``n`` rounded up to ``unit`` times a power of two: arrays padded to it take few distinct
    shapes, so folds of slightly different sizes share one compiled step."""
    blocks = -(-max(n, 1) // unit)
    return unit * (1 << (blocks - 1).bit_length())


def pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
    """``a`` with zero rows appended up to ``rows`` rows."""
    if len(a) >= rows:
        return a
    return np.concatenate([a, np.zeros((rows - len(a),) + a.shape[1:], a.dtype)])


@jax.jit
def epoch_permutation(key: Array, n: Array, size_like: Array) -> Array:
    """A random order of the training indices ``0..n-1`` for one epoch, followed by the padding
    rows ``n..len(size_like)-1`` (never reached by a step), as one array of fixed length."""
    size = size_like.shape[0]
    scores = jnp.where(jnp.arange(size) < n, jax.random.uniform(key, (size,)), 2.0)
    return jnp.argsort(scores).astype(jnp.int32)


def take_batch(images: Array, labels: Array, order: Array, step: Array, batch_size: int
               ) -> tuple[Array, Array]:
    """Batch ``step`` of an epoch: rows ``order[step * batch_size : (step + 1) * batch_size]``."""
    idx = jax.lax.dynamic_slice_in_dim(order, step * batch_size, batch_size)
    return jnp.take(images, idx, axis=0), jnp.take(labels, idx, axis=0)


def _flip(key: Array, x: Array) -> Array:
    flip = jax.random.bernoulli(key, 0.5, (x.shape[0], 1, 1, 1))
    return jnp.where(flip, x[:, :, ::-1, :], x)


def _random_crop(key: Array, x: Array, pad: int) -> Array:
    n, h, w, _ = x.shape
    xp = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    offsets = jax.random.randint(key, (n, 2), 0, 2 * pad + 1)

    def crop(img, off):
        return jax.lax.dynamic_slice(img, (off[0], off[1], 0), (h, w, img.shape[-1]))

    return jax.vmap(crop)(xp, offsets)


def _affine_matrices(key: Array, n: int, size: int, cfg: AugmentConfig) -> Array:
    """(n, 2, 3) maps from output pixel (row, col, 1) to input pixel (row, col), about the
    image centre."""
    k = jax.random.split(key, 6)
    deg = math.pi / 180.0
    theta = jax.random.uniform(k[0], (n,), minval=-cfg.max_rotation, maxval=cfg.max_rotation) * deg
    shear = jax.random.uniform(k[1], (n,), minval=-cfg.max_shear, maxval=cfg.max_shear) * deg
    zoom = jax.random.uniform(k[2], (n, 2), minval=1 - cfg.max_zoom, maxval=1 + cfg.max_zoom)
    shift = jax.random.uniform(k[3], (n, 2), minval=-cfg.max_shift, maxval=cfg.max_shift) * size
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    # Inverse map as Keras builds it: rotation @ shear @ zoom, in (row, col) coordinates.
    rot = jnp.stack([jnp.stack([cos, -sin], -1), jnp.stack([sin, cos], -1)], -2)
    shr = jnp.stack([
        jnp.stack([jnp.ones(n), -jnp.sin(shear)], -1),
        jnp.stack([jnp.zeros(n), jnp.cos(shear)], -1),
    ], -2)
    zm = jax.vmap(jnp.diag)(zoom)
    lin = rot @ shr @ zm
    centre = (size - 1) / 2.0
    offset = centre - lin @ jnp.full((2,), centre) + shift
    return jnp.concatenate([lin, offset[:, :, None]], axis=-1)


def _warp(x: Array, mats: Array) -> Array:
    """Bilinear resampling of ``x`` (N, H, W, 1) by per-image maps ``mats`` (N, 2, 3), edges
    extended ('nearest' fill). Gathers from the flattened image, which XLA handles well."""
    n, h, w, _ = x.shape
    rows, cols = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32),
                              indexing="ij")
    grid = jnp.stack([rows.ravel(), cols.ravel(), jnp.ones(h * w)], 0)  # (3, HW)
    src = mats @ grid  # (N, 2, HW)
    r = jnp.clip(src[:, 0], 0, h - 1)
    c = jnp.clip(src[:, 1], 0, w - 1)
    r0 = jnp.floor(r)
    c0 = jnp.floor(c)
    fr, fc = r - r0, c - c0
    r0, c0 = r0.astype(jnp.int32), c0.astype(jnp.int32)
    r1, c1 = jnp.minimum(r0 + 1, h - 1), jnp.minimum(c0 + 1, w - 1)
    flat = x.reshape(n, h * w)

    def at(ri, ci):
        return jnp.take_along_axis(flat, ri * w + ci, axis=1)

    out = ((at(r0, c0) * (1 - fc) + at(r0, c1) * fc) * (1 - fr)
           + (at(r1, c0) * (1 - fc) + at(r1, c1) * fc) * fr)
    return out.reshape(n, h, w, 1)


def _erase(key: Array, x: Array, prob: float) -> Array:
    n, h, w, _ = x.shape
    k = jax.random.split(key, 5)
    area = jax.random.uniform(k[0], (n,), minval=0.02, maxval=0.25) * h * w
    log_ratio = jax.random.uniform(k[1], (n,), minval=math.log(0.3), maxval=math.log(1 / 0.3))
    eh = jnp.clip(jnp.sqrt(area * jnp.exp(log_ratio)), 1, h).astype(jnp.int32)
    ew = jnp.clip(jnp.sqrt(area / jnp.exp(log_ratio)), 1, w).astype(jnp.int32)
    top = (jax.random.uniform(k[2], (n,)) * (h - eh + 1)).astype(jnp.int32)
    left = (jax.random.uniform(k[3], (n,)) * (w - ew + 1)).astype(jnp.int32)
    on = jax.random.bernoulli(k[4], prob, (n,))
    rr = jnp.arange(h)[None, :, None]
    cc = jnp.arange(w)[None, None, :]
    mask = ((rr >= top[:, None, None]) & (rr < (top + eh)[:, None, None])
            & (cc >= left[:, None, None]) & (cc < (left + ew)[:, None, None]) & on[:, None, None])
    fill = x.mean(axis=(1, 2, 3), keepdims=True)  # the image's mean grey, not black
    return jnp.where(mask[..., None], fill, x)


def augment(key: Array, x: Array, cfg: AugmentConfig) -> Array:
    """Randomly transformed copies of the float images ``x`` (N, H, W, 1) in [0, 1]."""
    if cfg.mode == "none":
        return x
    k_geo, k_flip, k_erase = jax.random.split(key, 3)
    if cfg.mode == "crop":
        x = _random_crop(k_geo, x, max(1, round(cfg.max_shift * x.shape[1])))
    elif cfg.mode == "affine":
        x = _warp(x, _affine_matrices(k_geo, x.shape[0], x.shape[1], cfg))
    x = _flip(k_flip, x)
    if cfg.erasing > 0:
        x = _erase(k_erase, x, cfg.erasing)
    return x


def mixup(key: Array, x: Array, targets: Array, alpha: float) -> tuple[Array, Array]:
    """Mix each image and its soft target with a random partner of the batch (Beta(alpha))."""
    k_lam, k_perm = jax.random.split(key)
    lam = jax.random.beta(k_lam, alpha, alpha)
    lam = jnp.maximum(lam, 1 - lam)  # keep the original image dominant
    perm = jax.random.permutation(k_perm, x.shape[0])
    return lam * x + (1 - lam) * x[perm], lam * targets + (1 - lam) * targets[perm]


def _resize(x: Array, h: int, w: int) -> Array:
    return jax.image.resize(x, (x.shape[0], h, w, x.shape[-1]), "bilinear")


def tta_views(x: Array, mode: str | None) -> Array:
    """Test-time views of ``x`` (N, H, W, 1): ``(V, N, H, W, 1)``.

    ``None``: the image itself (V = 1); ``"flip"``: plus its mirror image (V = 2);
    ``"tencrop"``: the four corner and the centre crops of 7/8 of the side, resized back to
    H x W, and their mirror images (V = 10).
    """
    if mode is None:
        return x[None]
    if mode == "flip":
        return jnp.stack([x, x[:, :, ::-1, :]])
    if mode == "tencrop":
        n, h, w, _ = x.shape
        ch, cw = round(h * 7 / 8), round(w * 7 / 8)
        starts = [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw),
                  ((h - ch) // 2, (w - cw) // 2)]
        crops = [_resize(x[:, r:r + ch, c:c + cw, :], h, w) for r, c in starts]
        return jnp.stack(crops + [c[:, :, ::-1, :] for c in crops])
    raise ValueError(f"tta must be one of {TTA_MODES}, got {mode!r}")
