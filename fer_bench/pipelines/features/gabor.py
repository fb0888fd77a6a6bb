"""Gabor filter-bank magnitudes pooled on a spatial grid, computed for a whole batch by FFT.

The kernels are OpenCV's (:func:`cv2.getGaborKernel`, an even and an odd kernel per filter, the
pair read as one complex kernel). Filtering all of them at once in the frequency domain gives
exactly what ``cv2.filter2D`` (a correlation with ``BORDER_REFLECT_101``) gives, at a fraction of
the cost: the image is reflect-padded by the largest kernel radius so that the circular
convolution of the FFT never wraps into the part that is kept. With ``stride`` s > 1 the response
is only needed on every s-th pixel, which is obtained exactly by folding the product spectrum
onto a grid s times smaller before the inverse FFT (sampling in space = aliasing in frequency).
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import cv2
import numpy as np
import scipy.fft as sfft
from joblib import effective_n_jobs

from .cache import CachedExtractor
from .pooling import grid_mean


def gabor_kernels(
    wavelengths: tuple[float, ...], n_orientations: int, sigma_ratio: float, gamma: float,
    truncate: float = 2.5, max_radius: int = 16,
) -> list[np.ndarray]:
    """The bank as complex kernels ``even + 1j * odd``, scales outer, orientations inner.

    Each kernel is square with radius ``min(ceil(truncate * sigma), max_radius)`` where
    ``sigma = sigma_ratio * wavelength``; ``gamma`` is the spatial aspect ratio.
    """
    kernels = []
    for lam in wavelengths:
        sigma = sigma_ratio * lam
        radius = min(int(math.ceil(truncate * sigma)), max_radius)
        size = (2 * radius + 1, 2 * radius + 1)
        for k in range(n_orientations):
            theta = k * np.pi / n_orientations
            even = cv2.getGaborKernel(size, sigma, theta, lam, gamma, 0.0, ktype=cv2.CV_64F)
            odd = cv2.getGaborKernel(size, sigma, theta, lam, gamma, np.pi / 2, ktype=cv2.CV_64F)
            kernels.append(even + 1j * odd)
    return kernels


def _fast_len(n: int, stride: int) -> int:
    """Smallest FFT-friendly length >= n that ``stride`` divides."""
    m = sfft.next_fast_len(n)
    while m % stride:
        m = sfft.next_fast_len(m + 1)
    return m


@lru_cache(maxsize=8)
def _bank_spectra(shape: tuple[int, int], bank: tuple, stride: int):
    """Spectra of the flipped kernels on the padded FFT grid, split into stride x stride blocks.

    Returns ``(blocks, pad, (Ph, Pw))`` with ``blocks[a][b]`` of shape ``(F, Ph/s, Pw/s)``.
    """
    kernels = gabor_kernels(*bank)
    pad = max(k.shape[0] // 2 for k in kernels)
    h, w = shape
    Ph, Pw = _fast_len(h + 2 * pad, stride), _fast_len(w + 2 * pad, stride)
    H = np.zeros((len(kernels), Ph, Pw), np.complex128)
    for i, k in enumerate(kernels):
        r = k.shape[0] // 2
        # filter2D correlates: out[x] = sum_u img[x + u] k[u] is a convolution with k[-u], whose
        # centre goes to index 0 of the circular grid.
        H[i, :k.shape[0], :k.shape[1]] = k[::-1, ::-1]
        H[i] = np.roll(H[i], (-r, -r), axis=(0, 1))
    spec = sfft.fft2(H).astype(np.complex64)
    Mh, Mw = Ph // stride, Pw // stride
    spec = spec.reshape(len(kernels), stride, Mh, stride, Mw)
    blocks = [[np.ascontiguousarray(spec[:, a, :, b, :]) for b in range(stride)]
              for a in range(stride)]
    return blocks, pad, (Ph, Pw)


class GaborFeatures(CachedExtractor):
    """Mean Gabor magnitude of each filter in each cell of a ``grid x grid`` partition.

    Parameters
    ----------
    wavelengths : tuple of float
        One scale per wavelength, in pixels of the input crop.
    n_orientations : int
        Orientations ``k * pi / n_orientations``.
    sigma_ratio : float
        Gaussian sigma as a fraction of the wavelength (0.56 is a one-octave bandwidth).
    gamma : float
        Spatial aspect ratio of the Gaussian envelope.
    max_radius : int
        Kernels are cut at ``min(2.5 sigma, max_radius)`` pixels from their centre.
    stride : int
        Responses are sampled on every ``stride``-th pixel before pooling (exact, not smoothed).
    grid : int
        The crop is split into ``grid x grid`` cells; features are ``F * grid**2`` means.
    power : float
        Pooled magnitudes are raised to this power (0.5 tames their heavy tail).
    batch_size, n_jobs : int
        Images per FFT batch, and threads over batches (``-1``: all cores).
    cache : bool
        Cache features on disk (see :mod:`.cache`).
    """

    # The defaults are the settings tuned on FER2013 PublicTest (gabor-svm's comment in
    # fer_bench.pipelines.classical says how); every pipeline reads them from here.
    def __init__(
        self, wavelengths: tuple[float, ...] = (3.0, 4.24, 6.0, 8.49, 12.0),
        n_orientations: int = 8, sigma_ratio: float = 0.56, gamma: float = 0.5,
        max_radius: int = 16, stride: int = 4, grid: int = 6, power: float = 0.5,
        batch_size: int = 16, n_jobs: int = -1, cache: bool = True,
    ) -> None:
        self.wavelengths = wavelengths
        self.n_orientations = n_orientations
        self.sigma_ratio = sigma_ratio
        self.gamma = gamma
        self.max_radius = max_radius
        self.stride = stride
        self.grid = grid
        self.power = power
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.cache = cache

    @property
    def n_filters(self) -> int:
        return len(self.wavelengths) * self.n_orientations

    def _bank(self) -> tuple:
        return (tuple(float(w) for w in self.wavelengths), int(self.n_orientations),
                float(self.sigma_ratio), float(self.gamma), 2.5, int(self.max_radius))

    def responses(self, X: np.ndarray) -> np.ndarray:
        """Gabor magnitudes of shape ``(N, F, ceil(H/stride), ceil(W/stride))`` float32.

        ``responses(X)[:, :, ::]`` with ``stride=1`` equals ``|filter2D(x, even) + 1j *
        filter2D(x, odd)|`` per kernel of :func:`gabor_kernels`.
        """
        X = np.asarray(X)
        n, h, w = X.shape
        s = int(self.stride)
        blocks, pad, (Ph, Pw) = _bank_spectra((h, w), self._bank(), s)
        oh, ow = -(-h // s), -(-w // s)
        out = np.empty((n, self.n_filters, oh, ow), np.float32)

        def run(start: int) -> None:
            xb = X[start:start + self.batch_size].astype(np.float32) / 255.0
            padded = np.pad(xb, ((0, 0), (pad, pad), (pad, pad)), mode="reflect")
            grid = np.zeros((len(xb), Ph, Pw), np.float32)
            grid[:, :padded.shape[1], :padded.shape[2]] = padded
            # put image pixel (0, 0) at grid index 0, so the kept samples are 0, s, 2s, ...
            grid = np.roll(grid, (-pad, -pad), axis=(1, 2))
            spec = sfft.fft2(grid).reshape(len(xb), 1, s, Ph // s, s, Pw // s)
            folded = spec[:, :, 0, :, 0, :] * blocks[0][0]
            tmp = np.empty_like(folded)
            for a in range(s):
                for b in range(s):
                    if a or b:
                        np.multiply(spec[:, :, a, :, b, :], blocks[a][b], out=tmp)
                        folded += tmp
            resp = sfft.ifft2(folded, overwrite_x=True)[:, :, :oh, :ow]
            out[start:start + len(xb)] = np.abs(resp) / (s * s)

        starts = range(0, n, self.batch_size)
        workers = min(effective_n_jobs(self.n_jobs), max(len(starts), 1))
        if workers > 1:  # numpy and scipy.fft release the GIL: threads scale
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, starts))
        else:
            for start in starts:
                run(start)
        return out

    def _extract(self, X: np.ndarray) -> np.ndarray:
        pooled = grid_mean(self.responses(X), self.grid)
        if self.power != 1.0:
            pooled = pooled ** self.power
        return pooled.reshape(len(X), -1).astype(np.float32)
