"""PCA that fits small data sets too: the component count is capped by the training size."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted


class CappedPCA(TransformerMixin, BaseEstimator):
    """:class:`~sklearn.decomposition.PCA` keeping at most ``n_components`` components, and no
    more than ``max_fraction`` of the training samples, so that a setting tuned on FER2013's
    28,709 images also suits JAFFE's 190 (a whitened PCA with about as many components as samples
    blows noise directions up to the size of the signal, and an RBF SVM on it is at chance).

    Parameters
    ----------
    n_components : int
        Components kept on a large enough training set.
    max_fraction : float
        At most ``max(1, int(max_fraction * n_samples))`` components.
    whiten : bool
        Scale components to unit variance.
    random_state : int
        Seed of the randomized SVD.
    """

    def __init__(self, n_components: int = 100, whiten: bool = True, max_fraction: float = 0.25,
                 random_state: int = 0) -> None:
        self.n_components = n_components
        self.max_fraction = max_fraction
        self.whiten = whiten
        self.random_state = random_state

    def fit(self, X, y=None) -> "CappedPCA":
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:
        X = np.asarray(X)
        cap = max(1, int(self.max_fraction * X.shape[0]))
        k = int(min(self.n_components, cap, X.shape[0], X.shape[1]))
        # an exact SVD is cheapest on small sets; randomized on FER2013-sized ones
        solver = "full" if min(X.shape) <= 1000 else "randomized"
        self.pca_ = PCA(n_components=k, whiten=self.whiten, svd_solver=solver,
                        random_state=self.random_state)
        out = self.pca_.fit_transform(X)
        self.n_components_ = k
        self.n_features_in_ = X.shape[1]
        return out.astype(np.float32)

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.pca_.transform(np.asarray(X)).astype(np.float32)


class BlockScaler(TransformerMixin, BaseEstimator):
    """Standardise each feature, then scale the block to a total variance of ``weight ** 2``.

    Used per descriptor before concatenating several (HOG, Gabor, LBP): each block then carries
    the same total variance into the shared PCA and RBF kernel, whatever its dimension.

    Parameters
    ----------
    weight : float
        Relative weight of this block.
    """

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def fit(self, X, y=None) -> "BlockScaler":
        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std > 1e-12, std, 1.0) * np.sqrt(X.shape[1]) / self.weight
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self)
        return ((np.asarray(X) - self.mean_) / self.scale_).astype(np.float32)
