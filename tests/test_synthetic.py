"""The built-in synthetic dataset: contract, determinism, identity splits, learnability, cache."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fer_bench.data import load_dataset
from fer_bench.data.cache import cache_dir
from fer_bench.data.synthetic import EMOTIONS, load, render_faces
from fer_bench.errors import DataError

N_PER_CLASS = 60


@pytest.fixture(scope="module")
def small():
    return load(None, n_per_class=N_PER_CLASS, seed=0, cache=False)


def _pixels(images: np.ndarray) -> np.ndarray:
    """``(N, 48, 48)`` faces as ``(N, 576)`` 2x2-pooled pixels (keeps the model fit quick)."""
    n = len(images)
    return images.reshape(n, 24, 2, 24, 2).mean(axis=(2, 4)).reshape(n, -1) / 255.0


@pytest.fixture(scope="module")
def eigen_model(small):
    """Pixels -> PCA -> logistic regression fitted on the train and val identities."""
    model = make_pipeline(
        StandardScaler(), PCA(30, whiten=True, svd_solver="randomized", random_state=0),
        LogisticRegression(max_iter=300),
    )
    fit = small.splits != "test"
    return model.fit(_pixels(small.images[fit]), small.labels[fit])


def _same(a, b) -> bool:
    return all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("images", "labels", "subjects", "splits", "paths")
    ) and a.meta == b.meta


def test_shapes_dtypes_and_labels(small):
    n = 7 * N_PER_CLASS
    assert small.name == "synthetic" and len(small) == n
    assert small.images.shape == (n, 48, 48) and small.images.dtype == np.uint8
    assert small.labels.shape == (n,) and np.issubdtype(small.labels.dtype, np.integer)
    assert set(np.unique(small.labels)) == set(range(7))
    assert small.paths[0] == "synthetic:000000" and len(set(small.paths)) == n
    assert all(s.startswith("id") for s in small.subjects)
    assert small.meta["n_per_class"] == N_PER_CLASS and small.meta["seed"] == 0
    assert small.meta["classes"] == list(EMOTIONS)
    # Real images, not blank canvases: plenty of contrast in every face.
    assert small.images.reshape(n, -1).std(axis=1).min() > 5


def test_class_balance(small):
    assert small.class_counts == {c: N_PER_CLASS for c in EMOTIONS}


def test_splits_are_disjoint_by_identity(small):
    assert set(small.splits) == {"train", "val", "test"}
    for subject in np.unique(small.subjects):
        assert len(set(small.splits[small.subjects == subject])) == 1
    n_id = small.n_subjects
    test_ids = len(np.unique(small.subjects[small.splits == "test"]))
    train_ids = len(np.unique(small.subjects[small.splits == "train"]))
    assert abs(test_ids / n_id - 0.15) < 0.05 and abs(train_ids / n_id - 0.70) < 0.05


def test_identities_show_several_expressions(small):
    per_id = [len(set(small.labels[small.subjects == s])) for s in np.unique(small.subjects)]
    assert len(per_id) >= 10 and np.median(per_id) >= 4


def test_deterministic_for_a_seed():
    a = load(None, n_per_class=5, seed=3, cache=False)
    b = load(None, n_per_class=5, seed=3, cache=False)
    c = load(None, n_per_class=5, seed=4, cache=False)
    assert _same(a, b)
    assert not np.array_equal(a.images, c.images)


def test_size_option():
    ds = load(None, n_per_class=2, size=64, cache=False)
    assert ds.images.shape == (14, 64, 64) and ds.meta["size"] == 64


def test_learnable_but_not_trivial(small, eigen_model):
    test = small.splits == "test"
    acc = np.mean(eigen_model.predict(_pixels(small.images[test])) == small.labels[test])
    assert 0.28 < acc < 0.95  # chance is 1/7 = 0.143


def test_render_faces_shows_the_requested_labels(eigen_model):
    # A model fitted on the dataset recognises fresh faces rendered for given labels.
    labels = np.repeat(np.arange(7), 20)
    faces = render_faces(labels, np.random.default_rng(123))
    assert faces.shape == (140, 48, 48) and faces.dtype == np.uint8
    assert np.mean(eigen_model.predict(_pixels(faces)) == labels) > 0.28


def test_render_faces_open_mouths():
    # Surprise drops the jaw: its lower face is darker on average than a neutral one.
    rng = np.random.default_rng(0)
    surprise = render_faces(np.full(60, 5), rng).astype(float)
    neutral = render_faces(np.full(60, 6), rng).astype(float)

    def mouth_contrast(faces):
        return (faces[:, 34:42, 19:29].mean(axis=(1, 2)) - faces[:, 16:40, 12:36].mean(axis=(1, 2)))

    assert mouth_contrast(surprise).mean() < mouth_contrast(neutral).mean() - 5


def test_render_faces_identities_and_determinism():
    labels = np.array([3, 5, 6, 0])
    a = render_faces(labels, np.random.default_rng(7), identities=np.array([0, 0, 1, 1]))
    b = render_faces(labels, np.random.default_rng(7), identities=np.array([0, 0, 1, 1]))
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="canonical labels"):
        render_faces(np.array([7]), np.random.default_rng(0))  # contempt is not rendered
    with pytest.raises(ValueError, match="identities"):
        render_faces(labels, np.random.default_rng(0), identities=np.array([0, 1]))


def test_cache_second_load_equals_first():
    first = load(None, n_per_class=4, seed=1)
    assert list((cache_dir() / "datasets").glob("*.npz"))
    second = load(None, n_per_class=4, seed=1)
    assert _same(first, second)
    renamed = load(None, name="synthetic-copy", n_per_class=4, seed=1)
    assert renamed.name == "synthetic-copy" and np.array_equal(renamed.images, first.images)


def test_registered_loader():
    ds = load_dataset("synthetic", n_per_class=3, seed=2, cache=False)
    assert len(ds) == 21 and ds.name == "synthetic"


@pytest.mark.parametrize("options, match", [
    ({"n_per_class": 0}, "n_per_class"),
    ({"size": 8}, "size"),
    ({"seed": -1}, "seed"),
    ({"n_frames": 3}, "unknown option"),
])
def test_bad_options_raise_data_error(options, match):
    with pytest.raises(DataError, match=match):
        load(None, cache=False, **options)


def test_path_is_rejected(tmp_path):
    with pytest.raises(DataError, match="built in"):
        load(tmp_path)
