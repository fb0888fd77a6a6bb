"""Classical building blocks and pipelines on tiny rendered faces (fast, deterministic)."""
from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.svm import SVC

import fer_bench.pipelines.features.cache as cache_module
from fer_bench.data.cache import cache_dir
from fer_bench.errors import LabelSpaceError
from fer_bench.pipelines.features import (
    Equalize, GaborFeatures, HogFeatures, LabelSpace, LbpFeatures, SoftmaxSVC, check_images,
    gabor_kernels,
)
from fer_bench.pipelines.features.lbp import grid_histograms
from fer_bench.pipelines.features.pooling import grid_edges, grid_mean
from fer_bench.pipelines.features.reduce import BlockScaler, CappedPCA
from fer_bench.registry import PIPELINES

CLASSICAL = [n for n in PIPELINES.names(family="classical") if n != "pca-logreg"]


def render_faces(n_per_class: int, n_classes: int = 3, size: int = 48, seed: int = 0,
                 noise_sd: float = 8.0):
    """Cartoon faces whose mouth (smile, frown, open) gives the class, jittered and noisy."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label in range(n_classes):
        for _ in range(n_per_class):
            img = np.full((size, size), rng.integers(40, 90), np.uint8)
            dx, dy = rng.integers(-2, 3, 2)
            c = (size // 2 + dx, size // 2 + dy)
            cv2.ellipse(img, c, (17, 21), 0, 0, 360, int(rng.integers(150, 210)), -1)
            for ex in (-7, 7):
                cv2.circle(img, (c[0] + ex, c[1] - 6), 2, 20, -1)
            mouth = (c[0], c[1] + 9)
            if label == 0:
                cv2.ellipse(img, mouth, (7, 4), 0, 0, 180, 30, 2)
            elif label == 1:
                cv2.ellipse(img, (mouth[0], mouth[1] + 4), (7, 4), 0, 180, 360, 30, 2)
            else:
                cv2.circle(img, mouth, 4, 30, -1)
            noise = rng.normal(0, noise_sd, img.shape)
            images.append(np.clip(img + noise, 0, 255).astype(np.uint8))
            labels.append(label)
    return np.stack(images), np.array(labels)


@pytest.fixture(scope="module")
def faces():
    X, y = render_faces(16, seed=0)
    Xt, yt = render_faces(6, seed=1)
    return X, y, Xt, yt


# --- extractors ------------------------------------------------------------------------------

def _filter2d_reference(image: np.ndarray, kernels) -> np.ndarray:
    x = image.astype(np.float32) / 255.0
    return np.stack([
        np.hypot(cv2.filter2D(x, cv2.CV_32F, k.real.astype(np.float32)),
                 cv2.filter2D(x, cv2.CV_32F, k.imag.astype(np.float32)))
        for k in kernels
    ])


@pytest.mark.parametrize("stride, shape", [(1, (48, 48)), (2, (48, 48)), (3, (41, 56))])
def test_gabor_fft_equals_filter2d(faces, stride, shape):
    X = np.stack([cv2.resize(x, shape[::-1]) for x in faces[0][[0, 20, 40]]])
    g = GaborFeatures(stride=stride, n_jobs=1, cache=False)
    responses = g.responses(X)
    kernels = gabor_kernels(*g._bank())
    assert len(kernels) == 40
    assert responses.shape == (3, 40, -(-shape[0] // stride), -(-shape[1] // stride))
    for image, got in zip(X, responses):
        ref = _filter2d_reference(image, kernels)[:, ::stride, ::stride]
        np.testing.assert_allclose(got, ref, atol=1e-4 * ref.max())


def test_gabor_features_shape_threads_and_power(faces):
    X = faces[0]
    one = GaborFeatures(grid=4, power=1.0, n_jobs=1, cache=False).transform(X)
    two = GaborFeatures(grid=4, power=1.0, n_jobs=2, batch_size=7, cache=False).transform(X)
    assert one.shape == (len(X), 40 * 16) and one.dtype == np.float32
    np.testing.assert_array_equal(one, two)
    root = GaborFeatures(grid=4, power=0.5, cache=False).transform(X)
    np.testing.assert_allclose(root, np.sqrt(one), rtol=1e-5)


def test_grid_mean_and_edges():
    A = np.arange(2 * 6 * 7, dtype=np.float64).reshape(2, 6, 7)
    out = grid_mean(A, 2)
    np.testing.assert_allclose(out[1, 0, 1], A[1, :3, 4:].mean())  # edges 0,3,6 and 0,4,7
    assert grid_edges(7, 7).tolist() == list(range(8))
    with pytest.raises(ValueError, match="grid cells"):
        grid_edges(4, 5)


def test_hog_shapes(faces):
    X = faces[0][:5]
    assert HogFeatures(cell_sizes=(6,), orientations=9, signed=False,
                       cache=False).transform(X).shape == (5, 7 * 7 * 4 * 9)
    both = HogFeatures(cell_sizes=(6, 8), cache=False).transform(X)  # 18 signed bins
    assert both.shape == (5, 7 * 7 * 72 + 5 * 5 * 72)
    odd = HogFeatures(cell_sizes=(8,), cache=False).transform(np.zeros((2, 50, 45), np.uint8))
    assert odd.shape == (2, 5 * 4 * 72) and np.isfinite(odd).all()
    with pytest.raises(ValueError, match="do not fit"):
        HogFeatures(cell_sizes=(30,), cache=False).transform(X)


def test_grid_histograms_count_codes():
    codes = np.zeros((1, 4, 4), np.int64)
    codes[0, :2, :2] = 1
    hist = grid_histograms(codes, 3, 2)
    assert hist.shape == (1, 2, 2, 3)
    np.testing.assert_array_equal(hist[0, 0, 0], [0, 1, 0])
    np.testing.assert_array_equal(hist[0, 1, 1], [1, 0, 0])


@pytest.mark.parametrize("method, bins", [("uniform", 10), ("nri_uniform", 59)])
def test_lbp_histograms(faces, method, bins):
    X = faces[0][:4]
    raw = LbpFeatures(grid=3, method=method, hellinger=False, cache=False).transform(X)
    assert raw.shape == (4, 9 * bins)
    np.testing.assert_allclose(raw.reshape(4, 9, bins).sum(-1), 1.0, rtol=1e-5)
    hel = LbpFeatures(grid=3, method=method, cache=False).transform(X)
    np.testing.assert_allclose(hel, np.sqrt(raw), rtol=1e-6)
    multi = LbpFeatures(radii=(1, 2), grid=3, method=method, cache=False).transform(X)
    assert multi.shape[1] > raw.shape[1]


def test_extractors_reject_non_batches():
    with pytest.raises(ValueError, match="FaceStage"):
        check_images(np.zeros((48, 48)))
    with pytest.raises(ValueError, match="FaceStage"):
        HogFeatures().fit_transform(np.zeros((2, 48, 48, 3), np.uint8))


def test_feature_cache_reuses_results(faces, monkeypatch):
    X = np.tile(faces[0], (cache_module.MIN_CACHED_ROWS // len(faces[0]) + 1, 1, 1))
    hog = HogFeatures(cell_sizes=(8,))
    first = hog.transform(X)
    assert any((cache_dir() / "features").rglob("output.pkl"))

    def boom(self, X):
        raise AssertionError("features recomputed instead of read from the cache")

    monkeypatch.setattr(HogFeatures, "_extract", boom)
    np.testing.assert_array_equal(clone(hog).transform(X), first)
    with pytest.raises(AssertionError):  # other settings, other entry
        HogFeatures(cell_sizes=(6,)).transform(X)
    with pytest.raises(AssertionError):  # small batches and cache=False bypass the cache
        hog.transform(X[:10])
    with pytest.raises(AssertionError):
        HogFeatures(cell_sizes=(8,), cache=False).transform(X)


def test_equalize_transformer(faces):
    X = faces[0][:3]
    assert Equalize(None).transform(X) is not None
    np.testing.assert_array_equal(Equalize(None).transform(X), X)
    out = Equalize("hist").transform(X)
    assert out.shape == X.shape and out.dtype == np.uint8 and out.max() == 255


def test_capped_pca_fits_tiny_sets():
    X = np.random.default_rng(0).normal(size=(40, 30))
    pca = CappedPCA(n_components=200).fit(X)
    assert pca.n_components_ == 10 and pca.transform(X).shape == (40, 10)
    assert CappedPCA(n_components=200, max_fraction=1.0).fit(X).n_components_ == 30
    assert CappedPCA(n_components=5).fit(X).n_components_ == 5


# --- classifiers ---------------------------------------------------------------------------

def test_softmax_svc_probabilities():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4)) + np.repeat(np.eye(3, 4) * 3, 30, axis=0)
    y = np.repeat(np.arange(3), 30)
    svc = SoftmaxSVC(C=1.0).fit(X, y)
    proba = svc.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(proba.argmax(1), svc.predict(X))
    np.testing.assert_array_equal(svc.predict(X), SVC(C=1.0, break_ties=True).fit(X, y).predict(X))
    binary = SoftmaxSVC().fit(X[:60], y[:60])
    assert binary.predict_proba(X).shape == (90, 2)
    sharp = SoftmaxSVC(temperature=0.1).fit(X, y).predict_proba(X)
    assert sharp.max(1).mean() > proba.max(1).mean()
    assert svc.gamma_ == pytest.approx(1 / (X.shape[1] * X.var()))
    assert SoftmaxSVC(gamma_factor=0.5).fit(X, y).gamma_ == pytest.approx(svc.gamma_ / 2)
    assert SoftmaxSVC(gamma=2.0, gamma_factor=0.5).fit(X, y).gamma_ == 1.0


def test_block_scaler_equalises_total_variance():
    rng = np.random.default_rng(0)
    small, big = rng.normal(0, 5, size=(200, 4)), rng.normal(3, 0.1, size=(200, 64))
    a = BlockScaler().fit_transform(small)
    b = BlockScaler(weight=2.0).fit_transform(big)
    assert a.var(0).sum() == pytest.approx(1.0, rel=1e-4)
    assert b.var(0).sum() == pytest.approx(4.0, rel=1e-4)
    assert np.isfinite(BlockScaler().fit_transform(np.ones((5, 3)))).all()


def test_label_space_pads_unseen_classes_and_checks_names():
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.repeat([0, 2], 20)
    names = ("angry", "happy", "sad")
    model = LabelSpace(SoftmaxSVC(), class_names=names).fit(X, y)
    assert model.classes_.tolist() == [0, 1, 2]
    proba = model.predict_proba(X)
    assert proba.shape == (40, 3) and not proba[:, 1].any()
    np.testing.assert_allclose(proba.sum(1), 1.0)
    model.check_classes(names)
    with pytest.raises(LabelSpaceError, match="refit"):
        model.check_classes(("angry", "sad", "happy"))
    with pytest.raises(LabelSpaceError, match="outside"):
        LabelSpace(SoftmaxSVC(), class_names=names).fit(X, y + 1)
    with pytest.raises(LabelSpaceError, match="integers"):
        LabelSpace(SoftmaxSVC()).fit(X, y.astype(float))
    unnamed = LabelSpace(SoftmaxSVC()).fit(X, y)
    with pytest.raises(LabelSpaceError, match="2 classes|3 classes"):
        unnamed.check_classes(("a", "b"))


# --- pipelines -----------------------------------------------------------------------------

def _params_equal(a: dict, b: dict) -> bool:
    return all(
        a[k] == b[k] for k in a if not hasattr(a[k], "get_params") and not isinstance(a[k], list)
    ) and a.keys() == b.keys()


@pytest.mark.parametrize("name", CLASSICAL)
def test_pipeline_contract(faces, name):
    X, y, Xt, yt = faces
    factory = PIPELINES.get(name).load()
    model = factory().fit(X, y)
    proba = model.predict_proba(Xt)
    pred = model.predict(Xt)
    assert model.classes_.tolist() == [0, 1, 2]
    assert proba.shape == (len(Xt), 3) and pred.shape == (len(Xt),)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(pred.tolist()) <= {0, 1, 2}
    if name != "lbp-svm":  # LBP codes of flat noisy cartoons carry no mouth: see the texture test
        assert (pred == yt).mean() >= 0.6  # cartoon mouths are easy; chance is 1/3
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict_proba(Xt), proba)
    twin = clone(model)
    assert _params_equal(twin.get_params(), model.get_params())
    np.testing.assert_array_equal(twin.fit(X, y).predict_proba(Xt), proba)  # seeded: bit-identical


def render_textures(n_per_class: int, seed: int = 0):
    """Horizontal stripes, vertical stripes and checkers of random phase and period, noisy."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:48, :48]
    images, labels = [], []
    for label in range(3):
        for _ in range(n_per_class):
            period, phase = rng.integers(3, 6), rng.integers(0, 6)
            stripes_y, stripes_x = (yy + phase) // period % 2, (xx + phase) // period % 2
            pattern = [stripes_y, stripes_x, stripes_y ^ stripes_x][label]
            img = 80 + 90 * pattern + rng.normal(0, 8, pattern.shape)
            images.append(np.clip(img, 0, 255).astype(np.uint8))
            labels.append(label)
    return np.stack(images), np.array(labels)


def test_lbp_svm_learns_textures():
    from fer_bench.pipelines.classical import make_lbp_svm

    X, y = render_textures(16, seed=0)
    Xt, yt = render_textures(6, seed=1)
    assert (make_lbp_svm().fit(X, y).predict(Xt) == yt).mean() >= 0.9


def test_factories_take_tuned_settings_and_class_names(faces):
    from fer_bench.pipelines.classical import make_fusion_svm, make_hog_svm

    X, y, Xt, _ = faces
    names = ("happy", "sad", "surprise")
    model = make_hog_svm(cell_sizes=(6, 8), n_components=8, C=2.0, class_names=names).fit(X, y)
    assert model.get_params()["clf__estimator__C"] == 2.0
    assert model.named_steps["pca"].n_components_ == 8
    model[-1].check_classes(names)
    with pytest.raises(LabelSpaceError):
        model[-1].check_classes(names[:2])
    with pytest.raises(ValueError, match="at least one"):
        make_fusion_svm(hog_weight=0, gabor_weight=0, lbp_weight=0)
