"""Loaders on the real datasets in ../shared/datasets: official counts and the CSV round trip.

FER2013 is decoded once per session (about 10 s) into a session-owned cache; the tests reuse
that dataset and that cache.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from fakes import fer2013_csv_text
from fer_bench.data import load_dataset, verify_dataset, walk

pytestmark = pytest.mark.integration

FER_TRAINING = {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "neutral": 4965,
                "sad": 4830, "surprise": 3171}
CKPLUS = {"angry": 135, "contempt": 54, "disgust": 177, "fear": 75, "happy": 207, "sad": 84,
          "surprise": 249}


@pytest.fixture(scope="session")
def fer(shared_root, tmp_path_factory):
    """The real FER2013, decoded once, and the cache dir that now holds it."""
    cache = tmp_path_factory.mktemp("fer2013-cache")
    old = os.environ.get("FER_BENCH_CACHE")
    os.environ["FER_BENCH_CACHE"] = str(cache)  # conftest's per-test cache is not set up yet
    try:
        ds = load_dataset("fer2013", shared_root)
    finally:
        if old is None:
            os.environ.pop("FER_BENCH_CACHE", None)
        else:
            os.environ["FER_BENCH_CACHE"] = old
    return ds, cache


def test_fer2013_official_counts(fer):
    ds, _ = fer
    assert ds.images.shape == (35887, 48, 48) and ds.images.dtype == np.uint8
    assert ds.split_counts == {"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}
    training = ds.subset(ds.splits == "Training")
    assert training.class_counts == {c: FER_TRAINING[c] for c in training.class_counts}
    assert set(training.class_counts) == set(FER_TRAINING)
    assert ds.subjects is None and ds.meta["format"] == "folder"
    # split tags agree with the folder each file lies in
    in_train = np.char.find(ds.paths.astype(str), f"{os.sep}train{os.sep}") >= 0
    assert np.all((ds.splits == "Training") == in_train)


def test_fer2013_cache_hit_is_identical(fer, shared_root, monkeypatch):
    ds, cache = fer
    monkeypatch.setenv("FER_BENCH_CACHE", str(cache))

    def fail(*args, **kwargs):
        raise AssertionError("decoded although the cache should have answered")

    monkeypatch.setattr(walk, "read_gray", fail)
    hit = load_dataset("fer2013", shared_root)
    for attr in ("images", "labels", "splits", "paths"):  # array_equal: 83 MB compared fast
        assert np.array_equal(getattr(hit, attr), getattr(ds, attr)), attr
    assert hit.subjects is None and hit.meta == ds.meta


def test_fer2013_csv_of_real_images_round_trips(fer, tmp_path):
    ds, _ = fer
    pick = np.sort(np.random.default_rng(0).choice(len(ds), 210, replace=False))
    rows = [(int(ds.labels[i]), ds.images[i], str(ds.splits[i])) for i in pick]
    (tmp_path / "fer2013").mkdir()
    (tmp_path / "fer2013" / "fer2013.csv").write_text(fer2013_csv_text(rows))
    from_csv = load_dataset("fer2013", tmp_path, cache=False)
    assert from_csv.meta["format"] == "csv"
    np.testing.assert_array_equal(from_csv.images, ds.images[pick])
    np.testing.assert_array_equal(from_csv.labels, ds.labels[pick])
    np.testing.assert_array_equal(from_csv.splits, ds.splits[pick])


def test_ckplus48_counts(shared_root):
    ds = load_dataset("ckplus", shared_root, cache=False)
    assert ds.meta["format"] == "ckplus48"
    assert ds.images.shape == (981, 48, 48)
    assert ds.n_subjects == 118
    assert ds.class_counts == CKPLUS
    assert all(s.startswith("S") and len(s) == 4 for s in np.unique(ds.subjects))


def test_ckplus48_verifies_clean(shared_root):
    assert verify_dataset("ckplus", shared_root) == []
