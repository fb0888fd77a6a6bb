"""Bad data that must end in one clear line, never a traceback or a silent wrong answer.

Damaged cache entries (dataset, face-crop and feature caches) are discarded with one line and
rebuilt; identical images are listed by ``datasets verify`` and refused by the leak guard when
they sit on both sides of a split the suite builds; ``records.jsonl`` lines that are JSON but no
record name the file, the line and what is missing.
"""
from __future__ import annotations

import glob
import json
import logging
import os
import shutil
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest

from fakes import make_class_tree, make_fer2013_folder, write_corrupt
from fer_bench.cli.main import main
from fer_bench.data import load_dataset, verify_dataset
from fer_bench.data.cache import cache_dir
from fer_bench.data.dataset import FaceDataset, content_hashes, duplicate_groups
from fer_bench.errors import DuplicateImages, FerBenchError, ProtocolError
from fer_bench.protocols import Split, check_split, get_protocol
from fer_bench.results.store import ResultStore, load_records

CACHE_LOG = "fer_bench.data.cache"


def damage(path: Path, how: str) -> None:
    """Cut ``path`` in half, empty it, or overwrite it with bytes that start like a zip."""
    data = path.read_bytes()
    if how == "half":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(b"PK\x03\x04" + np.random.default_rng(0).bytes(len(data) // 3))


def one_notice(caplog, path: Path) -> str:
    """The single cache notice logged, checked to name ``path`` on one line."""
    notices = [r.getMessage() for r in caplog.records if r.name == CACHE_LOG]
    assert len(notices) == 1, notices
    assert str(path) in notices[0] and "damaged cache entry" in notices[0]
    assert "\n" not in notices[0]
    return notices[0]


def same_dataset(a: FaceDataset, b: FaceDataset) -> bool:
    return (len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a.images, b.images))
            and np.array_equal(a.labels, b.labels) and list(a.paths) == list(b.paths))


# --- damaged cache entries ---------------------------------------------------------------------

@pytest.mark.parametrize("how", ["half", "empty", "garbage"])
def test_damaged_dataset_cache_entry_is_rebuilt(tmp_path, caplog, how):
    make_class_tree(tmp_path / "faces")
    name = f"folder:{tmp_path / 'faces'}"
    first = load_dataset(name)
    [entry] = (cache_dir() / "datasets").glob("*.npz")
    damage(entry, how)
    with caplog.at_level(logging.WARNING, logger=CACHE_LOG):
        again = load_dataset(name)
    assert same_dataset(first, again)
    one_notice(caplog, entry)
    caplog.clear()
    assert same_dataset(first, load_dataset(name))  # the rebuilt entry is whole again
    assert not caplog.records


def test_cache_entries_get_the_umask_mode(tmp_path):
    make_class_tree(tmp_path / "faces")
    old = os.umask(0o022)
    try:
        load_dataset(f"folder:{tmp_path / 'faces'}")
    finally:
        os.umask(old)
    [entry] = (cache_dir() / "datasets").glob("*.npz")
    assert stat.S_IMODE(entry.stat().st_mode) == 0o644  # not mkstemp's private 0600
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # no temporary left


def _big_faces() -> FaceDataset:
    # Larger than 64 px, so the face stage runs detection and caches its crops.
    rng = np.random.default_rng(0)
    n = 4
    return FaceDataset(name="big", images=rng.integers(0, 256, (n, 80, 80), dtype=np.uint8),
                       labels=np.zeros(n, np.int64),
                       paths=np.array([f"b{i}.png" for i in range(n)]))


@pytest.mark.parametrize("how", ["half", "empty", "garbage", "wrong-shape"])
def test_damaged_face_cache_entry_is_recomputed(caplog, how):
    from fer_bench.face.stage import FaceStage, apply_face_stage

    ds = _big_faces()
    faces, rate = apply_face_stage(ds, FaceStage())
    [entry] = (cache_dir() / "faces").glob("*.npz")
    if how == "wrong-shape":  # a readable entry holding other arrays is damaged too
        np.savez(entry, faces=np.zeros((1, 2, 2), np.uint8), detected=np.zeros(1, bool),
                 attempted=np.zeros(1, bool), boxes=np.zeros((1, 4), np.int64))
    else:
        damage(entry, how)
    with caplog.at_level(logging.WARNING, logger=CACHE_LOG):
        again, rate_again = apply_face_stage(ds, FaceStage())
    assert np.array_equal(faces, again) and rate == rate_again
    one_notice(caplog, entry)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("how", ["half", "empty"])
def test_damaged_feature_cache_entry_is_recomputed_with_one_line(caplog, how):
    from fer_bench.pipelines.features.cache import MIN_CACHED_ROWS
    from fer_bench.pipelines.features.hog import HogFeatures

    X = np.random.default_rng(0).integers(0, 256, (MIN_CACHED_ROWS, 24, 24), dtype=np.uint8)
    first = HogFeatures().transform(X)
    [output] = glob.glob(str(cache_dir() / "features" / "**" / "output.pkl"), recursive=True)
    damage(Path(output), how)
    with warnings.catch_warnings(record=True) as caught, \
            caplog.at_level(logging.WARNING, logger=CACHE_LOG):
        warnings.simplefilter("always")
        again = HogFeatures().transform(X)
    assert np.array_equal(first, again)
    # joblib alone recomputes too, but after a warning with a traceback and the repr of X
    assert not [w for w in caught if "joblib" in str(w.filename) or "Memorized" in str(w.message)]
    one_notice(caplog, Path(output).parent)
    assert np.array_equal(first, HogFeatures().transform(X))  # and the new entry reads back


# --- duplicate images --------------------------------------------------------------------------

def test_content_hashes_see_pixels_and_shape_not_names():
    a = np.arange(16, dtype=np.uint8).reshape(4, 4)
    images = np.empty(4, dtype=object)
    images[:] = [a, a.copy(), a.reshape(2, 8), a + 1]
    h = content_hashes(images)
    assert h[0] == h[1] and h[0] != h[2] and h[0] != h[3]
    assert [g.tolist() for g in duplicate_groups(h)] == [[0, 1]]


def test_verify_groups_identical_files(tmp_path, capsys):
    fakes = make_class_tree(tmp_path / "faces")
    (tmp_path / "faces" / "Happy" / "notes.txt").unlink()  # verify names it: no file problem left
    happy = [f.path for f in fakes if f.path.parent.name == "Happy"]
    shutil.copy(happy[0], tmp_path / "faces" / "Happy" / "copy.png")  # same class
    shutil.copy(happy[1], tmp_path / "faces" / "neutral" / "twin.png")  # another label
    name = f"folder:{tmp_path / 'faces'}"
    dups = [p for p in verify_dataset(name) if isinstance(p, DuplicateImages)]
    assert sorted(sorted(Path(p).name for p in d.paths) for d in dups) == [
        ["copy.png", "img0.png"], ["img1.png", "twin.png"]]
    assert any("labelled happy / neutral" in str(d) for d in dups)
    # findings, not file problems: listed one line per group, exit 0 (1 only with --strict)
    assert main(["datasets", "verify", name]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "copy.png" in x)
    assert "img0.png" in line and "same pixels" in line
    assert "k-fold and cross-dataset splits" in line and "delete all but one copy" in line
    assert "0 file problem(s); 2 group(s) of identical images" in out
    assert main(["datasets", "verify", name, "--strict"]) == 1
    assert "counted as problems (--strict)" in capsys.readouterr().out


def test_verify_fails_on_file_problems_and_counts_both(tmp_path, capsys):
    fakes = make_class_tree(tmp_path / "faces")
    (tmp_path / "faces" / "Happy" / "notes.txt").unlink()
    shutil.copy(fakes[0].path, fakes[0].path.parent / "copy.png")
    write_corrupt(fakes[0].path.parent / "broken.png")
    assert main(["datasets", "verify", f"folder:{tmp_path / 'faces'}"]) == 1
    out = capsys.readouterr().out
    assert "broken.png" in out
    assert "1 file problem(s); 1 group(s) of identical images (2 files)" in out.splitlines()[-1]


def test_verify_flags_a_training_image_copied_into_private_test(tmp_path, capsys):
    fakes = make_fer2013_folder(tmp_path / "fer2013")
    train = next(f.path for f in fakes if f.split == "Training")
    copy = tmp_path / "fer2013" / "test" / train.parent.name / "PrivateTest_99999.png"
    shutil.copy(train, copy)
    [dup] = verify_dataset("fer2013", tmp_path)
    assert dup.across_splits and sorted(dup.paths) == sorted([str(copy), str(train)])
    # the published split is kept as published: a finding, exit 0, and what it means
    assert main(["datasets", "verify", "fer2013", "--data-root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "across splits" in out and "1 group(s) across splits" in out
    [line] = [x for x in out.splitlines() if "same pixels" in x]
    assert "official protocol keeps the published split" in line
    assert "n_test_duplicates" in line and "k-fold and cross-dataset" in line


def _dataset_with_copy(n: int = 60, copy: tuple[int, int] = (3, 40), splits=None) -> FaceDataset:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (n, 6, 6), dtype=np.uint8)
    images[copy[1]] = images[copy[0]]
    return FaceDataset(name="folder:/x", images=images, labels=np.arange(n) % 7,
                       paths=np.array([f"/x/img{i}.png" for i in range(n)]), splits=splits)


def test_guard_refuses_a_copy_on_both_sides_naming_both_files():
    ds = _dataset_with_copy()
    split = Split("fold0", train=np.arange(0, 30), test=np.arange(30, 60))
    with pytest.raises(ProtocolError) as err:
        check_split(split, ds)
    msg = str(err.value)
    assert "/x/img40.png" in msg and "/x/img3.png" in msg and "\n" not in msg
    assert "datasets verify folder:/x" in msg


def test_guard_refuses_copies_in_a_kfold_split():
    ds = _dataset_with_copy(n=140)
    with pytest.raises(ProtocolError, match="same pixels"):
        list(get_protocol("kfold").splits(ds))


def test_guard_allows_a_copy_between_train_and_validation():
    ds = _dataset_with_copy()
    split = Split("f", train=np.arange(0, 20), val=np.arange(20, 45), test=np.arange(45, 60))
    assert check_split(split, ds).test_duplicates == 0


def test_guard_refuses_a_test_dataset_holding_training_images():
    train = _dataset_with_copy(copy=(0, 0))
    test = FaceDataset(name="folder:/y", images=train.images[10:20].copy(),
                       labels=train.labels[10:20],
                       paths=np.array([f"/y/{i}.png" for i in range(10)]))
    with pytest.raises(ProtocolError, match=r"/y/0.png .* /x/img10.png"):
        check_split(Split("all", np.arange(60), np.arange(10)), train, test)


def test_official_split_counts_copies_instead_of_refusing():
    tags = np.array(["Training"] * 40 + ["PublicTest"] * 10 + ["PrivateTest"] * 10)
    ds = _dataset_with_copy(copy=(3, 55), splits=tags)  # a Training image again in PrivateTest
    (split,) = get_protocol("fer2013-official").splits(ds)
    assert split.test_duplicates == 1
    with pytest.raises(ProtocolError):  # the same data under a split the suite builds
        check_split(Split("f", split.train, split.test, split.val), ds)


# --- records that are JSON but no record -------------------------------------------------------

GOOD = {"config_hash": "a" * 64, "status": "failed", "pipeline": "pca-logreg",
        "protocol": "kfold", "fold": "fold0", "seed": 0, "error": "x"}


@pytest.mark.parametrize("line,problem", [
    ("[1, 2, 3]", "a list, not an object"),
    ("{}", "an empty object, no config_hash"),
    ('"a string"', "a string, not an object"),
    ("42", "a number, not an object"),
    ('{"status": "ok"}', "no config_hash"),
    ('{"config_hash": 7}', "config_hash is 7, not a hash"),
    ('{"config_hash": "b", "status": "ok", "metrics": {"accuracy": 0.5}}',
     "a scored record without pipeline, protocol, fold, seed"),
    ('{"config_hash": "b", "status": "ok", "pipeline": "p", "protocol": "q", "fold": "f", '
     '"seed": 0, "metrics": {"accuracy": 0.5}}', "metrics without a confusion matrix (matrix and classes)"),
])
def test_a_json_line_that_is_no_record_is_named(tmp_path, line, problem):
    (tmp_path / "records.jsonl").write_text(json.dumps(GOOD) + "\n" + line + "\n")
    with pytest.raises(FerBenchError) as err:
        load_records(tmp_path)
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'records.jsonl'}:2: not a result record ({problem})")
    assert "delete that line" in msg and "\n" not in msg


def test_a_torn_last_line_is_still_tolerated(tmp_path):
    (tmp_path / "records.jsonl").write_text(json.dumps(GOOD) + "\n[1, 2")
    assert [r["config_hash"] for r in load_records(tmp_path)] == [GOOD["config_hash"]]


def test_report_and_resume_name_the_bad_line(tmp_path, capsys):
    out = tmp_path / "res"
    ResultStore(out).append(GOOD)
    with open(out / "records.jsonl", "a") as fh:
        fh.write("[1,2,3]\n")
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {out / 'records.jsonl'}:2: not a result record "
                   "(a list, not an object); delete that line")
    assert main(["run", "--out", str(out), "--pipelines", "pca-logreg", "--datasets", "synthetic",
                 "--resume", "--no-report", "--no-progress",
                 "--dataset-option", "synthetic.n_per_class=30"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"error: {out / 'records.jsonl'}:2: not a result record")


def test_records_path_that_is_a_directory_or_missing_is_one_line(tmp_path):
    from fer_bench.results.store import load_records

    (tmp_path / "out" / "records.jsonl").mkdir(parents=True)
    with pytest.raises(FerBenchError, match="cannot read the records") as err:
        load_records(tmp_path / "out")
    assert "\n" not in str(err.value)
    with pytest.raises(FerBenchError, match=r"run --out .*nowhere` first"):
        load_records(tmp_path / "nowhere")  # names the directory given, not its parent
