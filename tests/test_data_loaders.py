"""Dataset loaders on tiny fake releases: counts, labels, tags, errors, verify mode and cache."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from fakes import (
    CK_ORIGINAL_SEQUENCES, Fake, cache_entries, face, fer2013_csv_text, make_ckplus48,
    make_ckplus_original, make_class_tree, make_fer2013_csv, make_fer2013_folder, make_jaffe,
    make_labels_csv_folder, one_line, write_corrupt, write_image, write_truncated,
)
from fer_bench.data import load_dataset, verify_dataset
from fer_bench.data import ckplus, fer2013, folder, jaffe, walk
from fer_bench.data.labels import CLASS_INDEX
from fer_bench.errors import DataError, DatasetNotFound

LOADERS = {"fer2013": fer2013.load, "ckplus": ckplus.load, "jaffe": jaffe.load,
           "folder": folder.load}


def by_path(ds):
    return {str(p): i for i, p in enumerate(ds.paths)}


def assert_matches(ds, fakes, *, splits=False, subjects=False):
    """Every fake is loaded exactly once with its pixels, label and tags."""
    assert len(ds) == len(fakes)
    rows = by_path(ds)
    for fake in fakes:
        i = rows[str(fake.path)]
        np.testing.assert_array_equal(ds.images[i], fake.image)
        assert ds.labels[i] == fake.label, fake.path
        if splits:
            assert ds.splits[i] == fake.split
        if subjects:
            assert ds.subjects[i] == fake.subject




# --- FER2013 -------------------------------------------------------------------------------

def test_fer2013_folder_release(tmp_path):
    fakes = make_fer2013_folder(tmp_path / "fer2013", n_train=3, n_public=2, n_private=1)
    ds = load_dataset("fer2013", tmp_path)
    assert_matches(ds, fakes, splits=True)
    assert ds.images.shape == (42, 48, 48) and ds.images.dtype == np.uint8
    assert ds.split_counts == {"Training": 21, "PublicTest": 14, "PrivateTest": 7}
    assert ds.class_counts == {c: 6 for c in ("angry", "disgust", "fear", "happy", "sad",
                                                "surprise", "neutral")}
    assert ds.subjects is None and ds.name == "fer2013"
    assert ds.meta["format"] == "folder"


def test_fer2013_csv_equals_folder_release(tmp_path):
    root = tmp_path / "fer2013"
    make_fer2013_folder(root)
    from_folder = fer2013.load(root, name="fer2013")
    rows = list(zip(from_folder.labels, from_folder.images, from_folder.splits))
    (root / "fer2013.csv").write_text(fer2013_csv_text(rows))

    assert fer2013.load(root, name="fer2013").meta["format"] == "folder"  # folder preferred
    from_csv = fer2013.load(root, name="fer2013", format="csv")
    assert from_csv.meta["format"] == "csv"
    np.testing.assert_array_equal(from_csv.images, from_folder.images)
    np.testing.assert_array_equal(from_csv.labels, from_folder.labels)
    np.testing.assert_array_equal(from_csv.splits, from_folder.splits)
    assert from_csv.paths[0] == f"{root / 'fer2013.csv'}:2"


def test_fer2013_csv_release(tmp_path):
    fakes = make_fer2013_csv(tmp_path / "fer2013" / "fer2013.csv", n_per_class=3)
    ds = load_dataset("fer2013", tmp_path)  # only the CSV is there: no format needed
    assert_matches(ds, fakes, splits=True)
    assert ds.split_counts == {"Training": 7, "PublicTest": 7, "PrivateTest": 7}
    # the CSV file itself may be passed too
    same = fer2013.load(tmp_path / "fer2013" / "fer2013.csv", name="fer2013")
    np.testing.assert_array_equal(same.images, ds.images)


def test_fer2013_jpeg_release_decodes_near_the_written_pixels(tmp_path):
    fakes = make_fer2013_folder(tmp_path / "fer2013", n_train=1, n_public=1, n_private=0,
                                ext=".jpg")
    ds = fer2013.load(tmp_path / "fer2013", name="fer2013")
    assert ds.images.shape == (14, 48, 48)
    for fake in fakes:  # JPEG is lossy: decoded, not identical, but clearly the same image
        i = by_path(ds)[str(fake.path)]
        assert np.corrcoef(ds.images[i].ravel(), fake.image.ravel())[0, 1] > 0.5


def _csv_with(tmp_path, mutate) -> Path:
    """A 7-row fake ``fer2013.csv`` whose lines (index 0 = header = line 1) ``mutate`` edits."""
    csv = tmp_path / "fer2013" / "fer2013.csv"
    make_fer2013_csv(csv, n_per_class=1)
    lines = csv.read_text().split("\n")
    csv.write_text(mutate(lines))
    return csv


def _set_pixels(line: str, edit) -> str:
    emotion, pixels, usage = line.split(",")
    return ",".join([emotion, " ".join(edit(pixels.split())), usage])


def _short_row(L):  # line 4: one pixel missing
    L[3] = _set_pixels(L[3], lambda px: px[:-1])
    return "\n".join(L)


def _non_integer(L):  # line 3
    L[2] = _set_pixels(L[2], lambda px: px[:5] + ["12.5"] + px[6:])
    return "\n".join(L)


def _bad_usage(L):  # line 6
    L[5] = L[5].rsplit(",", 1)[0] + ",Validation"
    return "\n".join(L)


def _bad_emotion(L):  # line 5
    L[4] = "7" + L[4][1:]
    return "\n".join(L)


def _cut_off(L):  # the download stopped inside the last row (line 8)
    return "\n".join(L).rstrip("\n")[:-3000]


def _out_of_range(L):  # line 4
    L[3] = _set_pixels(L[3], lambda px: ["300"] + px[1:])
    return "\n".join(L)


@pytest.mark.parametrize("mutate, line, words", [
    (_short_row, 4, "2303 pixels, expected 2304"), (_non_integer, 3, "non-integer pixel '12.5'"),
    (_bad_usage, 6, "unknown Usage 'Validation'"), (_bad_emotion, 5, "not a code 0..6"),
    (_cut_off, 8, "truncated"), (_out_of_range, 4, "outside 0..255"),
])
def test_fer2013_bad_csv_row_names_file_and_line(tmp_path, mutate, line, words):
    csv = _csv_with(tmp_path, mutate)
    with pytest.raises(DataError) as exc:
        fer2013.load(csv.parent, name="fer2013")
    message = one_line(exc)
    assert message.startswith(f"{csv}:{line}: ") and words in message
    assert "re-download" in message  # the fix


def test_fer2013_bad_csv_header(tmp_path):
    csv = _csv_with(tmp_path, lambda L: "\n".join(["label,pixels,split"] + L[1:]))
    with pytest.raises(DataError, match=r"fer2013\.csv:1: header"):
        fer2013.load(csv, name="fer2013")


def test_fer2013_csv_verify_reports_every_bad_row(tmp_path):
    def mutate(lines):
        lines[2] = "9" + lines[2][1:]                       # emotion out of range
        lines[4] = lines[4].replace(" ", " 1.5 ", 1)        # non-integer pixel
        lines[6] = lines[6].rsplit(",", 1)[0] + ",Unknown"  # bad Usage
        return "\n".join(lines)

    csv = _csv_with(tmp_path, mutate)
    errors: list[DataError] = []
    ds = fer2013.load(csv.parent, name="fer2013", errors=errors)
    assert [e.path.rsplit(":", 1)[1] for e in errors] == ["3", "5", "7"]
    assert len(ds) == 7 - 3
    assert [e.path for e in verify_dataset("fer2013", tmp_path)] == [e.path for e in errors]


@pytest.mark.parametrize("make_bad, words", [
    (lambda r: write_image(r / "train" / "happy" / "Training_9.png",
                           face(np.random.default_rng(1), (64, 64))), "64x64"),
    (lambda r: write_corrupt(r / "test" / "sad" / "PublicTest_9.jpg"), "corrupt"),
    (lambda r: write_truncated(r / "train" / "fear" / "Training_9.jpg",
                               face(np.random.default_rng(2))), "truncated|corrupt"),
    (lambda r: write_image(r / "train" / "Bored" / "Training_9.png",
                           face(np.random.default_rng(3))).parent, "unknown class folder"),
    (lambda r: write_image(r / "test" / "happy" / "img_9.png", face(np.random.default_rng(4))),
     "cannot tell the split"),
    (lambda r: write_image(r / "test" / "happy" / "Training_9.png", face(np.random.default_rng(5))),
     "cannot tell the split"),
])
def test_fer2013_bad_image_names_the_file(tmp_path, make_bad, words):
    root = tmp_path / "fer2013"
    make_fer2013_folder(root, n_train=1, n_public=1, n_private=1)
    bad = make_bad(root)
    with pytest.raises(DataError) as exc:
        fer2013.load(root, name="fer2013")
    message = one_line(exc)
    assert message.startswith(f"{bad}: ") and re.search(words, message)
    assert message.endswith(")")  # the fix


def test_fer2013_verify_collects_all_problems(tmp_path):
    root = tmp_path / "fer2013"
    good = make_fer2013_folder(root, n_train=1, n_public=1, n_private=1)
    rng = np.random.default_rng(7)
    bad = [
        write_image(root / "train" / "happy" / "Training_90.png", face(rng, (40, 48))),
        write_corrupt(root / "train" / "sad" / "Training_91.jpg"),
        write_truncated(root / "test" / "angry" / "PrivateTest_92.png", face(rng)),
        root / "train" / "Bored",
        root / "test" / "fear" / "notes.txt",
    ]
    write_image(bad[3] / "Training_93.png", face(rng))
    bad[4].write_text("a stray file")
    problems = verify_dataset("fer2013", tmp_path)
    assert sorted(p.path for p in problems) == sorted(map(str, bad))
    errors: list[DataError] = []
    ds = fer2013.load(root, name="fer2013", errors=errors)
    assert len(errors) == len(bad) and len(ds) == len(good)
    assert cache_entries() == []  # verify mode never reads or writes the cache


def test_fer2013_stray_text_file_is_skipped_when_loading(tmp_path):
    root = tmp_path / "fer2013"
    fakes = make_fer2013_folder(root, n_train=1, n_public=0, n_private=1)
    (root / "train" / "happy" / "notes.txt").write_text("a stray file")
    (root / "train" / "happy" / ".DS_Store").write_bytes(b"\0")
    assert len(fer2013.load(root, name="fer2013")) == len(fakes)


def test_fer2013_format_choice(tmp_path):
    root = tmp_path / "fer2013"
    make_fer2013_folder(root, n_train=1, n_public=0, n_private=0)
    with pytest.raises(DatasetNotFound, match="fer2013.csv"):
        fer2013.load(root, name="fer2013", format="csv")
    with pytest.raises(ValueError, match="format"):
        fer2013.load(root, name="fer2013", format="parquet")


# --- CK+ -----------------------------------------------------------------------------------

def test_ckplus48(tmp_path):
    fakes = make_ckplus48(tmp_path / "ckplus48")
    ds = load_dataset("ckplus", tmp_path)
    assert_matches(ds, fakes, subjects=True)
    assert ds.n_subjects == 3 and ds.splits is None and ds.meta["format"] == "ckplus48"
    assert set(ds.class_counts) == {"angry", "contempt", "disgust", "fear", "happy", "sad",
                                    "surprise"}
    assert ds.class_counts["sad"] == 6  # "sadness" folder, two subjects x three frames
    with pytest.raises(ValueError, match="original release only"):
        ckplus.load(tmp_path / "ckplus48", name="ckplus", n_frames=2)


def test_ckplus48_bad_file_name(tmp_path):
    make_ckplus48(tmp_path / "ckplus48")
    bad = write_image(tmp_path / "ckplus48" / "happy" / "face01.png",
                      face(np.random.default_rng(0)))
    with pytest.raises(DataError) as exc:
        ckplus.load(tmp_path / "ckplus48", name="ckplus")
    assert one_line(exc).startswith(f"{bad}: name is not S<subject>")


@pytest.mark.parametrize("n_frames, first_as_neutral",
                         [(3, False), (2, False), (3, True), (10, True)])
def test_ckplus_original(tmp_path, n_frames, first_as_neutral):
    sequences = make_ckplus_original(tmp_path / "ckplus")
    ds = ckplus.load(tmp_path / "ckplus", name="ckplus", n_frames=n_frames,
                     first_as_neutral=first_as_neutral)
    expected = []
    for (subject, seq, n, code) in CK_ORIGINAL_SEQUENCES:
        frames = sequences[(subject, seq)]
        if code is None:
            continue  # unlabelled sequences are not used
        expected += frames[-n_frames:]
        if first_as_neutral and n > n_frames:
            expected.append(Fake(frames[0].path, frames[0].image, CLASS_INDEX["neutral"],
                                 subject=subject))
    assert_matches(ds, expected, subjects=True)
    assert ds.images.dtype == object and {im.shape for im in ds.images} == {(49, 60), (49, 64)}
    assert all(im.ndim == 2 and im.dtype == np.uint8 for im in ds.images)  # colour frames -> gray
    assert ds.meta["options"] == {"format": "original", "n_frames": n_frames,
                                  "first_as_neutral": first_as_neutral}


def test_ckplus_original_default_is_three_last_frames(tmp_path):
    make_ckplus_original(tmp_path / "ckplus")
    ds = load_dataset("ckplus", tmp_path)  # located as ckplus/ since there is no ckplus48/
    assert len(ds) == 3 + 3 + 2 + 3 and ds.n_subjects == 3
    assert ds.class_counts == {"disgust": 3, "happy": 3, "contempt": 2, "surprise": 3}


def test_ckplus_original_bad_label_files(tmp_path):
    root = tmp_path / "ckplus"
    make_ckplus_original(root)
    bad_code = root / "Emotion" / "S005" / "001" / "S005_001_00000006_emotion.txt"
    bad_code.write_text("   9.0000000e+00\n")
    no_seq = root / "Emotion" / "S099" / "001" / "S099_001_00000004_emotion.txt"
    no_seq.parent.mkdir(parents=True)
    no_seq.write_text("1.0\n")
    with pytest.raises(DataError) as exc:
        ckplus.load(root, name="ckplus")
    assert one_line(exc).startswith(f"{bad_code}: not an emotion code 0..7")
    problems = verify_dataset("ckplus", tmp_path)
    assert [p.path for p in problems] == [str(bad_code), str(no_seq)]
    assert "no image frames" in problems[1].problem


def test_ckplus_original_needs_both_folders(tmp_path):
    root = tmp_path / "ckplus"
    make_ckplus_original(root)
    shutil.rmtree(root / "Emotion")
    with pytest.raises(DatasetNotFound) as exc:
        ckplus.load(root, name="ckplus")
    assert str(root / "Emotion") in one_line(exc)


# --- JAFFE ---------------------------------------------------------------------------------

def test_jaffe(tmp_path):
    fakes = make_jaffe(tmp_path / "jaffe")
    ds = load_dataset("jaffe", tmp_path)
    assert_matches(ds, fakes, subjects=True)
    assert ds.images.shape == (8, 32, 32)
    assert ds.n_subjects == 3 and ds.class_counts["neutral"] == 2


def test_jaffe_bad_names_all_reported(tmp_path):
    root = tmp_path / "jaffe"
    fakes = make_jaffe(root)
    rng = np.random.default_rng(0)
    unknown = write_image(root / "KA.XX1.40.tiff", face(rng, (32, 32)))
    odd = write_image(root / "photo.tiff", face(rng, (32, 32)))
    with pytest.raises(DataError) as exc:
        jaffe.load(root, name="jaffe")
    assert one_line(exc).startswith(f"{unknown}: unknown expression code 'XX'")
    errors: list[DataError] = []
    ds = jaffe.load(root, name="jaffe", errors=errors)
    assert [e.path for e in errors] == [str(unknown), str(odd)] and len(ds) == len(fakes)


# --- folder:PATH ---------------------------------------------------------------------------

def test_folder_class_tree(tmp_path):
    fakes = make_class_tree(tmp_path / "mine")
    ds = load_dataset(f"folder:{tmp_path / 'mine'}")
    assert_matches(ds, fakes)  # colour images (no EXIF) come back as their gray conversion
    assert ds.name == f"folder:{tmp_path / 'mine'}" and ds.meta["format"] == "class-tree"
    assert ds.images.dtype == object and all(im.ndim == 2 for im in ds.images)
    assert ds.class_counts == {"angry": 3, "happy": 3, "sad": 3, "neutral": 3}
    # verify mode reports the stray notes.txt but never the hidden file
    problems = verify_dataset(f"folder:{tmp_path / 'mine'}")
    assert [p.path for p in problems] == [str(tmp_path / "mine" / "Happy" / "notes.txt")]


def test_folder_colour_jpeg_becomes_gray(tmp_path):
    image = cv2.GaussianBlur(face(np.random.default_rng(0), (32, 32), color=True), (5, 5), 0)
    write_image(tmp_path / "happy" / "x.jpg", image)
    ds = folder.load(tmp_path, name="folder")
    assert ds.images.shape == (1, 32, 32)
    expected = cv2.cvtColor(cv2.imread(str(tmp_path / "happy" / "x.jpg")), cv2.COLOR_BGR2GRAY)
    np.testing.assert_array_equal(ds.images[0], expected)


def test_folder_unknown_and_empty_class_folders(tmp_path):
    make_class_tree(tmp_path)
    write_image(tmp_path / "bored" / "a.png", face(np.random.default_rng(0)))
    with pytest.raises(DataError) as exc:
        folder.load(tmp_path, name="folder")
    message = one_line(exc)
    assert message.startswith(f"{tmp_path / 'bored'}: unknown class folder 'bored'")
    assert "happy" in message and "sadness" in message and "contempt" in message
    (tmp_path / "bored" / "a.png").unlink()
    (tmp_path / "bored").rmdir()
    (tmp_path / "Fear").mkdir()
    with pytest.raises(DataError, match="Fear: empty class folder"):
        folder.load(tmp_path, name="folder")


def test_folder_undecodable_image_is_an_error(tmp_path):
    make_class_tree(tmp_path)
    bad = write_corrupt(tmp_path / "neutral" / "broken.png")
    with pytest.raises(DataError) as exc:
        folder.load(tmp_path, name="folder")
    assert one_line(exc).startswith(f"{bad}: corrupt image")


def test_folder_verify_collects_all_problems(tmp_path):
    make_class_tree(tmp_path)
    rng = np.random.default_rng(0)
    bad = sorted(map(str, [
        write_corrupt(tmp_path / "neutral" / "broken.png"),
        write_truncated(tmp_path / "Happy" / "cut.jpg", face(rng)),
        write_image(tmp_path / "loose.png", face(rng)),
        tmp_path / "Happy" / "notes.txt",
        tmp_path / "empty",
        tmp_path / "Mystery",
    ]))
    (tmp_path / "empty").mkdir()
    write_image(tmp_path / "Mystery" / "m.png", face(rng))
    problems = verify_dataset(f"folder:{tmp_path}")
    # "empty" is an unknown name, so it is reported once, as unknown
    assert sorted(p.path for p in problems) == bad


def test_folder_labels_csv(tmp_path):
    fakes = make_labels_csv_folder(tmp_path)
    ds = load_dataset(f"folder:{tmp_path}")
    assert_matches(ds, fakes, subjects=True)
    assert ds.meta["format"] == "labels.csv" and ds.n_subjects == 3
    assert ds.class_counts == {"happy": 1, "sad": 1, "surprise": 1, "neutral": 1, "contempt": 1}
    same = folder.load(tmp_path / "labels.csv", name="folder")  # the table itself may be named
    assert len(same) == len(ds)


def test_folder_labels_csv_without_subjects(tmp_path):
    make_labels_csv_folder(tmp_path)
    lines = (tmp_path / "labels.csv").read_text().splitlines()
    (tmp_path / "labels.csv").write_text("\n".join(l.rsplit(",", 1)[0] for l in lines) + "\n")
    ds = folder.load(tmp_path, name="folder")
    assert ds.subjects is None and len(ds) == 5


def test_folder_labels_csv_bad_rows(tmp_path):
    make_labels_csv_folder(tmp_path)
    table = tmp_path / "labels.csv"
    lines = table.read_text().splitlines()
    lines[2] = "b.png,bored,p1"
    lines[4] = "missing.png,happy,p2"
    table.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as exc:
        folder.load(tmp_path, name="folder")
    message = one_line(exc)
    assert message.startswith(f"{table}:3: unknown label 'bored'") and "surprise" in message
    problems = verify_dataset(f"folder:{tmp_path}")
    assert [p.path for p in problems] == [f"{table}:3", f"{table}:5"]
    assert "not found" in problems[1].problem


def test_folder_labels_csv_may_point_outside_its_folder(tmp_path):
    image = face(np.random.default_rng(0), (20, 20))
    write_image(tmp_path / "elsewhere" / "a.png", image)
    (tmp_path / "table").mkdir()
    (tmp_path / "table" / "labels.csv").write_text("path,label\n../elsewhere/a.png,fear\n")
    for _ in range(2):  # built, then served from the cache
        ds = folder.load(tmp_path / "table", name="folder")
        np.testing.assert_array_equal(ds.images[0], image)
        assert ds.labels.tolist() == [CLASS_INDEX["fear"]]
    assert len(cache_entries()) == 1


def test_folder_labels_csv_bad_header(tmp_path):
    make_labels_csv_folder(tmp_path)
    (tmp_path / "labels.csv").write_text("file,emotion\na.png,happy\n")
    with pytest.raises(DataError, match=r"labels\.csv:1: header"):
        folder.load(tmp_path, name="folder")


# --- every loader --------------------------------------------------------------------------

@pytest.mark.parametrize("loader", sorted(LOADERS))
@pytest.mark.parametrize("state", ["missing", "empty"])
def test_missing_or_empty_dataset_folder(tmp_path, loader, state):
    path = tmp_path / "data"
    if state == "empty":
        path.mkdir()
        (path / ".DS_Store").write_bytes(b"\0")
    with pytest.raises(DatasetNotFound) as exc:
        LOADERS[loader](path, name=loader)
    message = one_line(exc)
    assert message.startswith(f"{path}: ") and "put " in message


# --- cache ---------------------------------------------------------------------------------

def _forbid_decoding(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("decoded although the cache should have answered")
    monkeypatch.setattr(walk, "read_gray", fail)


@pytest.mark.parametrize("make, loader, sub", [
    (make_fer2013_folder, "fer2013", "fer2013"),
    (make_ckplus_original, "ckplus", "ckplus"),
    (make_class_tree, "folder", "tree"),
])
def test_cache_hit_and_invalidation(tmp_path, monkeypatch, make, loader, sub):
    root = tmp_path / sub
    make(root)
    first = LOADERS[loader](root, name=loader)
    assert len(cache_entries()) == 1
    with monkeypatch.context() as m:
        _forbid_decoding(m)
        hit = LOADERS[loader](root, name=loader)
    assert hit.uniform == first.uniform
    for a, b in zip(hit.images, first.images):
        np.testing.assert_array_equal(a, b)
    for attr in ("labels", "paths", "subjects", "splits"):
        x, y = getattr(hit, attr), getattr(first, attr)
        assert (x is None and y is None) or np.array_equal(x, y), attr
    assert hit.meta == first.meta

    # rewrite one used file with other pixels: the entry no longer matches and is rebuilt
    target = Path(first.paths[-1])
    new = face(np.random.default_rng(99), first.images[-1].shape)
    write_image(target, new)
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    again = LOADERS[loader](root, name=loader)
    np.testing.assert_array_equal(again.images[-1], new)
    assert len(cache_entries()) == 2


def test_cache_invalidated_when_csv_changes(tmp_path, monkeypatch):
    csv = tmp_path / "fer2013.csv"
    make_fer2013_csv(csv, n_per_class=1)
    first = fer2013.load(tmp_path, name="fer2013")
    def fail(*args, **kwargs):
        raise AssertionError("parsed although the cache should have answered")

    with monkeypatch.context() as m:
        m.setattr(fer2013, "parse_csv", fail)
        fer2013.load(tmp_path, name="fer2013")
    make_fer2013_csv(csv, n_per_class=2, seed=5)
    assert len(fer2013.load(tmp_path, name="fer2013")) == 2 * len(first)


def test_cache_disabled_and_name_kept(tmp_path):
    make_jaffe(tmp_path / "jaffe")
    jaffe.load(tmp_path / "jaffe", name="jaffe", cache=False)
    assert cache_entries() == []
    jaffe.load(tmp_path / "jaffe", name="jaffe")
    assert jaffe.load(tmp_path / "jaffe", name="jaffe-again").name == "jaffe-again"


def test_fer2013_train_val_test_repackaging(tmp_path):
    # a common re-packaging: val/ holds PublicTest and test/ PrivateTest, names without prefix
    root = tmp_path / "fer2013"
    rng = np.random.default_rng(0)
    for part in ("train", "val", "test"):
        for cls in ("happy", "sad"):
            write_image(root / part / cls / f"{part}_{cls}.png", face(rng))
    ds = fer2013.load(root, name="fer2013")
    assert ds.split_counts == {"Training": 2, "PublicTest": 2, "PrivateTest": 2}
    in_val = np.array([p.startswith(str(root / "val") + os.sep) for p in ds.paths])
    assert set(ds.splits[in_val]) == {"PublicTest"} and in_val.sum() == 2
