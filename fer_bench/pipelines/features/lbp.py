"""Uniform local-binary-pattern histograms on a spatial grid (Ahonen et al. 2006)."""
from __future__ import annotations

import numpy as np
from skimage.feature import local_binary_pattern

from .cache import CachedExtractor
from .pooling import grid_edges


def grid_histograms(codes: np.ndarray, n_bins: int, grid: int) -> np.ndarray:
    """Normalised histograms of integer ``codes`` in each cell of a ``grid x grid`` partition.

    Parameters
    ----------
    codes : ndarray of shape (N, H, W) of int in ``[0, n_bins)``

    Returns
    -------
    ndarray of shape (N, grid, grid, n_bins), each histogram summing to 1.
    """
    n, h, w = codes.shape
    cy = np.searchsorted(grid_edges(h, grid), np.arange(h), side="right") - 1
    cx = np.searchsorted(grid_edges(w, grid), np.arange(w), side="right") - 1
    cell = (cy[:, None] * grid + cx[None, :])  # (H, W) cell index of each pixel
    flat = (np.arange(n)[:, None, None] * grid * grid + cell) * n_bins + codes
    hist = np.bincount(flat.ravel(), minlength=n * grid * grid * n_bins).astype(np.float32)
    hist = hist.reshape(n, grid, grid, n_bins)
    return hist / hist.sum(axis=-1, keepdims=True)


class LbpFeatures(CachedExtractor):
    """Uniform LBP code histograms per grid cell, for one or more (points, radius) pairs.

    Parameters
    ----------
    radii : tuple of int
        Radii of the circular neighbourhoods; radius ``r`` samples ``points * r`` points (at
        most 24). ``points=8, radii=(1,)`` is the classic operator.
    points : int
        Sampling points per unit of radius.
    grid : int
        The crop is split into ``grid x grid`` cells with one histogram each.
    method : {"nri_uniform", "uniform"}
        scikit-image's code set: ``nri_uniform`` keeps the ``P(P-1)+2`` uniform patterns apart
        plus one bin for the rest (59 bins at ``P=8``, Ahonen's u2), ``uniform`` merges
        rotations (``P+2`` bins).
    hellinger : bool
        Take the square root of the histograms, so that a Euclidean (RBF) kernel on them is the
        Hellinger kernel, a good stand-in for the chi-square kernel that scales to big data.
    cache : bool
        Cache features on disk (see :mod:`.cache`).
    """

    # The defaults are the settings tuned on FER2013 PublicTest (lbp-svm's comment in
    # fer_bench.pipelines.classical says how); every pipeline reads them from here.
    def __init__(self, radii: tuple[int, ...] = (1,), points: int = 8, grid: int = 6,
                 method: str = "nri_uniform", hellinger: bool = True, cache: bool = True) -> None:
        self.radii = radii
        self.points = points
        self.grid = grid
        self.method = method
        self.hellinger = hellinger
        self.cache = cache

    def _extract(self, X: np.ndarray) -> np.ndarray:
        feats = []
        for r in np.atleast_1d(self.radii):
            p = min(int(self.points) * int(r), 24)
            if self.method == "uniform":
                n_bins = p + 2
            elif self.method == "nri_uniform":
                n_bins = p * (p - 1) + 3
            else:
                raise ValueError(
                    f"unknown LBP method {self.method!r}; use 'nri_uniform' or 'uniform'"
                )
            codes = np.stack([
                local_binary_pattern(x, p, float(r), method=self.method) for x in X
            ]).astype(np.int64)
            feats.append(grid_histograms(codes, n_bins, int(self.grid)).reshape(len(X), -1))
        out = np.concatenate(feats, axis=1)
        return np.sqrt(out) if self.hellinger else out
