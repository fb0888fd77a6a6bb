"""Protocols: folds are subject-independent, cover every image once, and leaks are refused."""
from __future__ import annotations

import numpy as np
import pytest

from fer_bench.data.dataset import FaceDataset
from fer_bench.data.labels import get_view
from fer_bench.errors import ProtocolError
from fer_bench.protocols import Split, check_split, get_protocol
from fer_bench.protocols.cross import shared_view
from fer_bench.registry import PROTOCOLS


def make_ds(n_subjects=30, per_subject=7, classes=(0, 1, 2, 3, 4, 5, 7), splits=None, name="fake", seed=0):
    rng = np.random.default_rng(seed)
    subjects = np.repeat([f"S{i:03d}" for i in range(n_subjects)], per_subject)
    labels = np.array([classes[i % len(classes)] for i in range(len(subjects))])
    rng.shuffle(labels)
    n = len(labels)
    return FaceDataset(
        name=name, images=rng.integers(0, 255, (n, 4, 4), dtype=np.uint8), labels=labels,
        paths=np.array([f"img{i}" for i in range(n)]), subjects=subjects, splits=splits,
    )


def test_every_registered_protocol_builds():
    for entry in PROTOCOLS:
        if entry.tags.get("by_pair"):
            continue
        protocol = get_protocol(entry.name)
        assert protocol.name == entry.name


@pytest.mark.parametrize("seed", [0, 1])
def test_ckplus_folds_are_subject_independent_and_cover_everything(seed):
    ds = make_ds()
    folds = list(get_protocol("ckplus-10fold").splits(ds, seed=seed))
    assert len(folds) == 10
    tested = np.concatenate([f.test for f in folds])
    assert np.array_equal(np.sort(tested), np.arange(len(ds)))  # every image tested exactly once
    for f in folds:
        test_subjects = set(ds.subjects[f.test])
        assert not test_subjects & set(ds.subjects[f.train])
        assert not test_subjects & set(ds.subjects[f.val])
        assert not np.intersect1d(f.train, f.val).size


def test_folds_are_deterministic_for_a_seed():
    ds = make_ds()
    a = [f.test for f in get_protocol("ckplus-10fold").splits(ds, seed=3)]
    b = [f.test for f in get_protocol("ckplus-10fold").splits(ds, seed=3)]
    c = [f.test for f in get_protocol("ckplus-10fold").splits(ds, seed=4)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_too_few_subjects_for_ten_folds():
    with pytest.raises(ProtocolError, match="fewer than 10"):
        list(get_protocol("jaffe-10fold").splits(make_ds(n_subjects=5)))


def test_loso_has_one_fold_per_subject():
    ds = make_ds(n_subjects=10)
    folds = list(get_protocol("jaffe-loso").splits(ds))
    assert len(folds) == 10
    assert all(len(set(ds.subjects[f.test])) == 1 for f in folds)


def test_official_split_uses_tags():
    tags = np.array(["Training"] * 150 + ["PublicTest"] * 30 + ["PrivateTest"] * 30)
    ds = make_ds(splits=tags)
    ds = FaceDataset(ds.name, ds.images, ds.labels, ds.paths, None, tags)  # FER2013 has no subjects
    (split,) = get_protocol("fer2013-official").splits(ds)
    assert set(tags[split.train]) == {"Training"}
    assert set(tags[split.val]) == {"PublicTest"}
    assert set(tags[split.test]) == {"PrivateTest"}


def test_official_split_missing_tag_is_a_clear_error():
    tags = np.array(["Training"] * 180 + ["PublicTest"] * 30)
    ds = make_ds(splits=tags)
    with pytest.raises(ProtocolError, match="PrivateTest"):
        list(get_protocol("fer2013-official").splits(ds))


def test_guard_refuses_subject_leak_and_overlap():
    ds = make_ds(n_subjects=4, per_subject=5)
    same_subject = np.flatnonzero(ds.subjects == "S000")
    leak = Split("x", train=same_subject[:3], test=same_subject[3:])
    with pytest.raises(ProtocolError, match="subjects"):
        check_split(leak, ds)
    overlap = Split("x", train=np.arange(10), test=np.arange(5, 15))
    with pytest.raises(ProtocolError, match="share images"):
        check_split(overlap, ds)


def test_cross_dataset_maps_to_shared_classes():
    fer = make_ds(classes=(0, 1, 2, 3, 4, 5, 6), name="fer2013")
    ck = make_ds(classes=(0, 1, 2, 3, 4, 5, 7), name="ckplus", seed=1)  # seed 0: fer's pixels
    view, dropped = shared_view(get_view("7class"), fer, ck)
    assert view.classes == ("angry", "disgust", "fear", "happy", "sad", "surprise")
    assert dropped == ["neutral"]  # contempt is not in the 7-class view at all
    protocol = get_protocol("cross:fer2013->ckplus")
    assert protocol.datasets() == ("fer2013", "ckplus")
    (split,) = protocol.splits((fer, ck))
    assert len(split.test) == len(ck)
    assert not np.intersect1d(split.train, split.val).size


@pytest.mark.parametrize("bad", ["cross:fer2013", "cross:->ckplus", "cross:ckplus->ckplus"])
def test_malformed_cross_names(bad):
    with pytest.raises((KeyError, ProtocolError)):
        get_protocol(bad)
