"""Building blocks of the classical pipelines: cached feature extractors (Gabor, HOG, LBP),
photometric normalisation, size-capped PCA and block scaling, the softmax-probability SVM and
the label-space wrapper."""
from __future__ import annotations

from ..base import check_images
from .cache import CachedExtractor
from .gabor import GaborFeatures, gabor_kernels
from .hog import HogFeatures
from .labelspace import LabelSpace
from .lbp import LbpFeatures
from .preprocess import Equalize
from .reduce import BlockScaler, CappedPCA
from .softmax import SoftmaxSVC

__all__ = [
    "BlockScaler", "CachedExtractor", "CappedPCA", "Equalize", "GaborFeatures", "HogFeatures",
    "LabelSpace", "LbpFeatures", "SoftmaxSVC", "check_images", "gabor_kernels",
]
