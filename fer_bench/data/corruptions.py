"""Graded, seeded corruptions of face crops for robustness curves, in the style of ImageNet-C.

Hendrycks & Dietterich (2019, "Benchmarking Neural Network Robustness to Common Corruptions and
Perturbations") score a model on every corruption at five severities; here the same is done for
``(N, H, W)`` uint8 grayscale face crops (typically 48x48, the face centred and filling the
crop), so that classical pipelines and CNNs can be compared on how gracefully they degrade.

Every level is mild at severity 1 and severe at 5 while the face stays a face. Parameters
(:func:`parameter` returns the number in the table):

=============== =========== ==================================== ============================
name            group       parameter (unit)                     severity 1, 2, 3, 4, 5
=============== =========== ==================================== ============================
gaussian_noise  noise       additive noise sigma (grey levels)   8, 16, 24, 32, 48
blur            blur        Gaussian sigma (px on a 48-px face)  0.5, 1, 1.5, 2, 3
jpeg            digital     JPEG quality (lower is worse)        30, 20, 12, 8, 5
low_resolution  digital     downscale factor of the side         1.5, 2, 3, 4, 6
brightness      photometric shift (grey levels, random sign)     25, 40, 60, 80, 100
contrast        photometric factor around the image mean         0.7, 0.5, 0.35, 0.25, 0.15
rotation        geometric   in-plane angle (deg, random sign)    5, 10, 15, 20, 30
occlude_eyes    occlusion   black band height (fraction of H)    0.06, 0.1, 0.15, 0.2, 0.25
occlude_mouth   occlusion   black band height (fraction of H)    0.06, 0.1, 0.15, 0.2, 0.25
occlude_patch   occlusion   black square side (fraction of side) 0.15, 0.2, 0.3, 0.4, 0.5
=============== =========== ==================================== ============================

Details: blur sigma is scaled by ``H / 48``; low resolution downsamples with area averaging (as
a low-resolution sensor would) and comes back up bilinearly; rotation is about the crop centre
with reflected borders (no black corners, which would add an occlusion); the eye band is centred
on row ``0.35 H`` and the mouth band on ``0.75 H`` (where the mean FER2013 and 48-px CK+ crops are
darkest), both full width and in the upper / lower half at every severity; the patch lies wholly
inside the crop at a uniform position.

:func:`corrupt` draws from ``np.random.default_rng([seed, severity, index of the name])`` once
per batch, so a result depends only on its arguments (new corruptions go at the end of
:data:`CORRUPTIONS` to keep the indices), and every draw is made image by image, so a prefix of
the batch is corrupted exactly as the whole batch's prefix (chunked evaluation is safe).
Only ``gaussian_noise``, ``brightness``, ``rotation`` and ``occlude_patch`` use the draws.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

__all__ = ["CORRUPTIONS", "SEVERITIES", "VERSION", "Corruption", "corrupt", "parameter"]

#: Version of the corruption levels below: bump it when a level or an algorithm changes, so
#: records of the old corruptions are not taken for the new ones.
VERSION = 1
SEVERITIES = (1, 2, 3, 4, 5)

# (faces (N, H, W) uint8, parameter, rng) -> (N, H, W) array of any numeric dtype (clipped later)
Apply = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Corruption:
    """One corruption: what it is, its five severity parameters and the function applying them.

    ``group`` is the kind of corruption (noise, blur, digital, ...); it is not called "family"
    because the benchmark already uses that word for model families (classical vs deep).
    """

    name: str
    group: str
    description: str
    unit: str
    params: tuple[float, float, float, float, float]
    apply: Apply


def _per_image(faces: np.ndarray, fn: Callable[[np.ndarray, int], np.ndarray]) -> np.ndarray:
    """``fn(image, i)`` on each ``(H, W)`` image into a new ``(N, H, W)`` uint8 array (N may be 0)."""
    out = np.empty_like(faces)
    for i, image in enumerate(faces):
        out[i] = fn(image, i)
    return out


def _signs(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n,)`` random +1 / -1, one draw per image."""
    return np.where(rng.random(n) < 0.5, -1.0, 1.0)


def _noise(faces: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return faces + rng.normal(0.0, sigma, size=faces.shape)


def _blur(faces: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    s = sigma * faces.shape[1] / 48.0  # the levels are defined on a 48-px face
    return _per_image(faces, lambda im, _: cv2.GaussianBlur(
        im, (0, 0), sigmaX=s, sigmaY=s, borderType=cv2.BORDER_REFLECT_101))


def _jpeg(faces: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    def one(image: np.ndarray, _: int) -> np.ndarray:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return _per_image(faces, one)


def _low_resolution(faces: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    h, w = faces.shape[1:]
    small = (max(1, round(w / factor)), max(1, round(h / factor)))  # cv2 sizes are (width, height)
    return _per_image(faces, lambda im, _: cv2.resize(
        cv2.resize(im, small, interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_LINEAR))


def _brightness(faces: np.ndarray, shift: float, rng: np.random.Generator) -> np.ndarray:
    return faces + (shift * _signs(rng, len(faces)))[:, None, None]


def _contrast(faces: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    mean = faces.mean(axis=(1, 2), keepdims=True)  # per image, so brightness is kept
    return mean + factor * (faces - mean)


def _rotation(faces: np.ndarray, degrees: float, rng: np.random.Generator) -> np.ndarray:
    h, w = faces.shape[1:]
    angles = degrees * _signs(rng, len(faces))
    centre = ((w - 1) / 2.0, (h - 1) / 2.0)
    return _per_image(faces, lambda im, i: cv2.warpAffine(
        im, cv2.getRotationMatrix2D(centre, float(angles[i]), 1.0), (w, h),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101))


def _band(centre: float) -> Apply:
    """A full-width black band centred on row ``centre * H`` whose height is the parameter."""
    def apply(faces: np.ndarray, height: float, rng: np.random.Generator) -> np.ndarray:
        h = faces.shape[1]
        # floor / ceil: at least one row, and the bands of higher severities contain the lower
        top = max(0, math.floor((centre - height / 2) * h))
        bottom = min(h, math.ceil((centre + height / 2) * h))
        out = faces.copy()
        out[:, top:bottom, :] = 0
        return out
    return apply


def _patch(faces: np.ndarray, side: float, rng: np.random.Generator) -> np.ndarray:
    n, h, w = faces.shape
    s = max(1, round(side * min(h, w)))
    # one (row, col) pair per image, uniform over the positions keeping the square inside
    u = rng.random((n, 2))
    rows = (u[:, 0] * (h - s + 1)).astype(int)
    cols = (u[:, 1] * (w - s + 1)).astype(int)
    out = faces.copy()
    for i in range(n):
        out[i, rows[i]:rows[i] + s, cols[i]:cols[i] + s] = 0
    return out


CORRUPTIONS: dict[str, Corruption] = {c.name: c for c in (
    Corruption("gaussian_noise", "noise", "additive Gaussian sensor noise",
               "sigma (grey levels)", (8, 16, 24, 32, 48), _noise),
    Corruption("blur", "blur", "Gaussian defocus blur",
               "sigma (px, 48-px face)", (0.5, 1, 1.5, 2, 3), _blur),
    Corruption("jpeg", "digital", "JPEG compression artefacts",
               "JPEG quality", (30, 20, 12, 8, 5), _jpeg),
    Corruption("brightness", "photometric", "global brightness shift, sign random per image",
               "shift (grey levels)", (25, 40, 60, 80, 100), _brightness),
    Corruption("contrast", "photometric", "contrast reduction around the image mean",
               "contrast factor", (0.7, 0.5, 0.35, 0.25, 0.15), _contrast),
    Corruption("low_resolution", "digital", "downsampled then upsampled bilinearly",
               "downscale factor", (1.5, 2, 3, 4, 6), _low_resolution),
    Corruption("rotation", "geometric", "in-plane rotation, sign random per image",
               "angle (degrees)", (5, 10, 15, 20, 30), _rotation),
    Corruption("occlude_eyes", "occlusion", "black band over the eyes",
               "band height (fraction of H)", (0.06, 0.1, 0.15, 0.2, 0.25), _band(0.35)),
    Corruption("occlude_mouth", "occlusion", "black band over the mouth",
               "band height (fraction of H)", (0.06, 0.1, 0.15, 0.2, 0.25), _band(0.75)),
    Corruption("occlude_patch", "occlusion", "black square at a random position",
               "square side (fraction of side)", (0.15, 0.2, 0.3, 0.4, 0.5), _patch),
)}


def _lookup(name: str) -> Corruption:
    try:
        return CORRUPTIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown corruption {name!r}; valid names: "
                         f"{', '.join(CORRUPTIONS)}") from None


def _check_severity(severity: int, allowed: range) -> int:
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) \
            or severity not in allowed:
        raise ValueError(f"severity must be an integer in {allowed.start}..{allowed.stop - 1}, "
                         f"got {severity!r}")
    return int(severity)


def parameter(name: str, severity: int) -> float:
    """The physical parameter of corruption ``name`` at ``severity`` (1..5), e.g. for plot axes.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones) or a severity outside 1..5.
    """
    corruption = _lookup(name)
    return float(corruption.params[_check_severity(severity, range(1, 6)) - 1])


def corrupt(faces: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """Corrupt a batch of face crops with corruption ``name`` at ``severity``.

    Parameters
    ----------
    faces : ndarray, shape (N, H, W), uint8
        Grayscale face crops, N >= 0, H and W >= 8. Never modified.
    name : str
        A key of :data:`CORRUPTIONS`.
    severity : int
        0 (a clean copy) to 5.
    seed : int
        Non-negative; with ``severity`` and the corruption's index it seeds the draws.

    Returns
    -------
    ndarray, shape (N, H, W), uint8
        A new array, clipped to 0..255 and rounded.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones), a severity outside 0..5, or
        faces that are not an ``(N, H, W)`` uint8 array with H, W >= 8.
    """
    corruption = _lookup(name)
    severity = _check_severity(severity, range(0, 6))
    faces = np.asarray(faces)
    if faces.ndim != 3 or faces.dtype != np.uint8 or min(faces.shape[1:]) < 8:
        raise ValueError(f"faces must be an (N, H, W) uint8 array with H, W >= 8, "
                         f"got shape {faces.shape} dtype {faces.dtype}")
    if severity == 0:
        return faces.copy()
    rng = np.random.default_rng([seed, severity, list(CORRUPTIONS).index(name)])
    faces = np.ascontiguousarray(faces)  # cv2 wants contiguous images; no copy when already so
    out = corruption.apply(faces, float(corruption.params[severity - 1]), rng)
    if out.dtype == np.uint8:  # cv2 results are already rounded and in range
        return out
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
