"""Histograms of oriented gradients at one or more cell sizes (OpenCV's HOGDescriptor).

OpenCV's descriptor (trilinear binning, Gaussian block window, L2-Hys) computes a 48 x 48 crop
about ten times faster than ``skimage.feature.hog``, so no process pool is needed.
"""
from __future__ import annotations

import cv2
import numpy as np

from .cache import CachedExtractor


def hog_descriptor(cell: int, shape: tuple[int, int], orientations: int,
                   cells_per_block: int, signed: bool) -> tuple[cv2.HOGDescriptor, int, int]:
    """The descriptor for ``cell``-px cells on the largest window of whole cells in ``shape``,
    and that window's ``(height, width)``."""
    wh, ww = (shape[0] // cell) * cell, (shape[1] // cell) * cell
    block = cell * cells_per_block
    if block > min(wh, ww):
        raise ValueError(
            f"HOG blocks of {cells_per_block} x {cell} px do not fit a {shape[0]}x{shape[1]} crop; "
            "use smaller cell_sizes"
        )
    desc = cv2.HOGDescriptor((ww, wh), (block, block), (cell, cell), (cell, cell),
                             int(orientations), 1, -1.0, cv2.HOGDESCRIPTOR_L2HYS, 0.2, False,
                             cv2.HOGDESCRIPTOR_DEFAULT_NLEVELS, bool(signed))
    return desc, wh, ww


class HogFeatures(CachedExtractor):
    """HOG descriptors of each crop, one per cell size, concatenated.

    Parameters
    ----------
    cell_sizes : tuple of int
        Square cell sizes in pixels (block stride = one cell); several sizes describe both fine
        and coarse shape. A crop that is not a whole number of cells loses its bottom/right
        remainder.
    orientations : int
        Orientation bins.
    cells_per_block : int
        Square blocks of this many cells are normalised together (L2-Hys).
    signed : bool
        Bin orientations over 360 degrees instead of 180.
    cache : bool
        Cache features on disk (see :mod:`.cache`).
    """

    # The defaults are the settings tuned on FER2013 PublicTest (hog-svm's comment in
    # fer_bench.pipelines.classical says how); every pipeline reads them from here.
    def __init__(self, cell_sizes: tuple[int, ...] = (6,), orientations: int = 18,
                 cells_per_block: int = 2, signed: bool = True, cache: bool = True) -> None:
        self.cell_sizes = cell_sizes
        self.orientations = orientations
        self.cells_per_block = cells_per_block
        self.signed = signed
        self.cache = cache

    def _extract(self, X: np.ndarray) -> np.ndarray:
        parts = []
        for cell in np.atleast_1d(self.cell_sizes):
            desc, wh, ww = hog_descriptor(int(cell), X.shape[1:], self.orientations,
                                          int(self.cells_per_block), self.signed)
            parts.append(np.stack([
                desc.compute(np.ascontiguousarray(x[:wh, :ww])).ravel() for x in X
            ]))
        return np.concatenate(parts, axis=1).astype(np.float32)
