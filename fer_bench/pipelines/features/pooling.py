"""Spatial pooling on a regular grid, shared by the extractors."""
from __future__ import annotations

import numpy as np


def grid_edges(n: int, cells: int) -> np.ndarray:
    """``cells + 1`` integer edges splitting ``range(n)`` into near-equal, non-empty parts."""
    if not 1 <= cells <= n:
        raise ValueError(f"cannot split {n} pixels into {cells} grid cells; use 1..{n} cells")
    return np.round(np.linspace(0, n, cells + 1)).astype(int)


def grid_mean(A: np.ndarray, grid: int) -> np.ndarray:
    """Mean of ``A`` over each cell of a ``grid x grid`` partition of its last two axes.

    Parameters
    ----------
    A : ndarray of shape (..., H, W)
    grid : int

    Returns
    -------
    ndarray of shape (..., grid, grid)
    """
    ey, ex = grid_edges(A.shape[-2], grid), grid_edges(A.shape[-1], grid)
    sums = np.add.reduceat(np.add.reduceat(A, ey[:-1], axis=-2), ex[:-1], axis=-1)
    return sums / np.outer(np.diff(ey), np.diff(ex)).astype(A.dtype)
