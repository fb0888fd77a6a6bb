"""Hostile and broken image inputs: each ends in the project's one-line error, the rest goes on.

Decompression bombs and lying headers, symbolic-link loops and dangling links, class folders
that cannot be listed, arrays no image helper expects, and a fuzz test of the readers, the folder
loader and the gray converters asserting that only :class:`FerBenchError` escapes.
"""
from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

import cv2
import fakes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.dummy import DummyClassifier

from fakes import (
    face, make_ckplus_original, make_class_tree, make_fer2013_csv, make_jaffe, write_image,
)
from fer_bench.apps.predict import predict_files
from fer_bench.data import ckplus, fer2013, folder, jaffe, load_dataset, verify_dataset
from fer_bench.data.cache import fingerprint
from fer_bench.data.io import (
    MAX_PIXELS, MAX_PIXELS_ENV, IMAGE_EXTENSIONS, read_color, read_gray, to_gray_uint8,
)
from fer_bench.errors import DataError, FerBenchError, ImageError, UsageError
from fer_bench.face import to_gray
from fer_bench.models import FerModel

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# --- crafted files -------------------------------------------------------------------------------

def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(path: Path, width: int, height: int) -> Path:
    """A valid all-black 8-bit gray PNG of ``width`` x ``height`` that stays a few MB on disk.

    Every row is deflated once after a full flush (which resets the compressor's history), so its
    compressed bytes repeat verbatim: 50000x50000 (2.5 GB of pixels) is written in milliseconds.
    """
    row = bytes(1 + width)  # filter byte 0, then black pixels
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = raw.compress(row) + raw.flush(zlib.Z_FULL_FLUSH)
    adler = (len(row) * height % 65521) << 16 | 1  # adler32 of all-zero data
    idat = b"\x78\xda" + block * height + raw.flush() + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
                     + _chunk(b"IEND", b""))
    return path


def lying(ext: str, width: int, height: int) -> bytes:
    """A real 16x16 image of format ``ext`` whose header claims ``width`` x ``height``."""
    data = bytearray(cv2.imencode(ext, np.full((16, 16), 128, np.uint8))[1].tobytes())
    if ext == ".png":  # IHDR, with a correct CRC so only the size lies
        data[16:24] = struct.pack(">II", width, height)
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    elif ext == ".jpg":  # the baseline SOF0 frame header
        i = data.index(b"\xff\xc0")
        data[i + 5:i + 9] = struct.pack(">HH", height, width)
    elif ext == ".bmp":
        data[18:26] = struct.pack("<ii", width, height)
    elif ext == ".pgm":
        pixels = data[data.index(b"255\n") + 4:]
        data = bytearray(f"P5\n{width} {height}\n255\n".encode()) + pixels
    return bytes(data)


LYING_FORMATS = (".png", ".jpg", ".bmp", ".pgm")


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# --- 1. decompression bombs and huge images ------------------------------------------------------

@pytest.mark.parametrize("read", [read_gray, read_color])
def test_png_bomb_is_refused_from_its_header(tmp_path, read):
    bomb = png_bomb(tmp_path / "bomb.png", 50000, 50000)
    assert bomb.stat().st_size < 5_000_000  # 2.5 GB of pixels in a few MB
    with pytest.raises(DataError) as exc:
        read(bomb)
    message = one_line(exc)
    assert message.startswith(f"{bomb}: image has over ") and f"limit of {MAX_PIXELS}" in message
    assert MAX_PIXELS_ENV in message


def test_image_over_the_pixel_limit_is_refused_with_its_size(tmp_path):
    # 100 MP: OpenCV alone would decode it (its own cap is 2**30 pixels)
    big = png_bomb(tmp_path / "big.png", 10000, 10000)
    with pytest.raises(DataError, match=r"big.png: image is 10000x10000 pixels, more than the "
                                        rf"limit of {MAX_PIXELS}"):
        read_gray(big)


@pytest.mark.parametrize("ext", LYING_FORMATS)
def test_lying_header_is_refused_before_decoding(tmp_path, ext):
    path = tmp_path / f"liar{ext}"
    path.write_bytes(lying(ext, 40000, 30000))  # 1.2 G pixels claimed by a few hundred bytes
    with pytest.raises(DataError) as exc:
        read_gray(path)
    assert one_line(exc).startswith(f"{path}: image has over ")


def test_pixel_limit_is_configurable(tmp_path, monkeypatch):
    path = write_image(tmp_path / "small.png", face(np.random.default_rng(0), (20, 30)))
    monkeypatch.setenv(MAX_PIXELS_ENV, "599")
    with pytest.raises(DataError, match="image is 30x20 pixels, more than the limit of 599"):
        read_gray(path)
    monkeypatch.setenv(MAX_PIXELS_ENV, "600")
    assert read_gray(path).shape == (20, 30)
    monkeypatch.setenv(MAX_PIXELS_ENV, "lots")
    with pytest.raises(UsageError, match=f"{MAX_PIXELS_ENV}='lots' is not a positive"):
        read_gray(path)


def test_opencv_errors_are_data_errors(tmp_path, monkeypatch):
    # A limit raised past Pillow's ceiling leaves the bomb to OpenCV, whose cv2.error is caught.
    monkeypatch.setenv(MAX_PIXELS_ENV, str(10**10))
    bomb = png_bomb(tmp_path / "bomb.png", 50000, 50000)
    with pytest.raises(DataError) as exc:
        read_gray(bomb)
    assert one_line(exc).startswith(f"{bomb}: OpenCV cannot decode it (")


def radiance_bomb(path: Path, width: int, height: int) -> Path:
    """A Radiance HDR header claiming ``width`` x ``height`` (32000x32000 decodes to 12 GB) with a
    few bytes of pixels: a format OpenCV decodes but Pillow cannot read the size of."""
    header = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {height} +X {width}\n".encode()
    path.write_bytes(header + b"\x02\x02\x7d\x00" * 16)
    return path


@pytest.mark.parametrize("read", [read_gray, read_color])
@pytest.mark.parametrize("name", ["bomb.png", "bomb.hdr"])
def test_format_without_a_checked_header_is_refused_undecoded(tmp_path, monkeypatch, read, name):
    bomb = radiance_bomb(tmp_path / name, 32000, 32000)
    decoded = []
    monkeypatch.setattr(cv2, "imdecode", lambda *a: decoded.append(a))  # it must not get there
    with pytest.raises(DataError) as exc:
        read(bomb)
    assert one_line(exc).startswith(
        f"{bomb}: corrupt image, or not a PNG/JPEG/BMP/TIFF/PNM/WebP image (")
    assert not decoded


@pytest.mark.parametrize("ext, dtype, channels", [
    (".tiff", np.uint8, 1), (".tif", np.uint16, 3), (".tiff", np.float32, 1),
    (".png", np.uint16, 1), (".png", np.uint16, 4), (".pgm", np.uint8, 1), (".ppm", np.uint8, 3),
    (".pbm", np.uint8, 1), (".bmp", np.uint8, 3), (".webp", np.uint8, 3), (".jpg", np.uint8, 3),
])
def test_every_format_fer_bench_reads_still_loads(tmp_path, ext, dtype, channels):
    rng = np.random.default_rng(0)
    shape = (12, 10) if channels == 1 else (12, 10, channels)
    image = (rng.random(shape) * (255 if dtype == np.uint8 else 60000)).astype(dtype)
    if ext == ".pbm":
        image = np.where(image > 127, 255, 0).astype(np.uint8)
    path = write_image(tmp_path / f"img{ext}", image)
    gray = read_gray(path)
    assert gray.shape == (12, 10) and read_color(path).shape == (12, 10, 3)
    if dtype == np.uint8:  # 8-bit: exactly OpenCV's pixels, BGR made gray as fakes.gray does
        decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(gray, fakes.gray(decoded))


def test_verify_lists_the_bomb_and_every_other_problem(tmp_path):
    make_class_tree(tmp_path)
    bomb = png_bomb(tmp_path / "Happy" / "bomb.png", 50000, 50000)
    liar = tmp_path / "neutral" / "liar.jpg"
    liar.write_bytes(lying(".jpg", 40000, 30000))
    problems = verify_dataset(f"folder:{tmp_path}")
    assert [p.path for p in problems if "pixels" in p.problem] == [str(bomb), str(liar)]


# --- 2. predict goes on after a bad file ---------------------------------------------------------

@pytest.fixture(scope="module")
def dummy_model() -> FerModel:
    """A model answering class priors: predict's file handling is under test, not accuracy."""
    classes = ("angry", "happy")
    estimator = DummyClassifier(strategy="prior").fit(np.zeros((4, 1)), [0, 1, 1, 1])
    return FerModel(estimator, classes, {"mode": "auto", "size": 48}, "classical")


@pytest.mark.parametrize("as_json", [False, True])
def test_predict_reports_the_bomb_and_still_predicts_the_good_image(tmp_path, dummy_model,
                                                                    as_json):
    bomb = png_bomb(tmp_path / "bomb.png", 50000, 50000)
    ok = write_image(tmp_path / "ok.png", face(np.random.default_rng(0)))
    out, err = io.StringIO(), io.StringIO()
    assert predict_files(dummy_model, [bomb, ok], as_json=as_json, out=out, err=err) == 1
    errors = err.getvalue().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"error: {bomb}: image has over ")
    if as_json:
        records = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [r["path"] for r in records] == [str(bomb), str(ok)]
        assert "error" in records[0] and records[1]["faces"][0]["label"] == "happy"
    else:
        assert out.getvalue().startswith(f"{ok}: 1 face\n")


# --- 3. symbolic-link loops and dangling links ---------------------------------------------------

def broken_links(root: Path) -> list[Path]:
    """A loop (a.png -> b.png -> a.png) and a dangling link in ``root/Happy``."""
    happy = root / "Happy"
    os.symlink("b.png", happy / "a.png")
    os.symlink("a.png", happy / "b.png")
    os.symlink("gone.png", happy / "dangling.png")
    return [happy / "a.png", happy / "b.png", happy / "dangling.png"]


def test_fingerprint_survives_broken_links(tmp_path):
    make_class_tree(tmp_path)
    links = broken_links(tmp_path)
    files = [*links, tmp_path / "Happy" / "img0.png"]
    before = fingerprint(files, tmp_path)
    links[2].unlink()
    write_image(links[2], face(np.random.default_rng(1)))  # the link is mended: a new key
    assert fingerprint(files, tmp_path) != before


def test_broken_links_are_data_errors_on_every_path(tmp_path):
    make_class_tree(tmp_path)
    loop_a, loop_b, dangling = broken_links(tmp_path)
    problems = {p.path: p for p in verify_dataset(f"folder:{tmp_path}")}
    assert problems[str(loop_a)].problem == "symbolic link loop"
    assert problems[str(loop_b)].problem == "symbolic link loop"
    assert problems[str(dangling)].problem == "broken symbolic link to gone.png"
    for cache in (True, False):  # the cached path hashes file stats before decoding
        with pytest.raises(DataError) as exc:
            folder.load(tmp_path, cache=cache)
        assert one_line(exc) == str(problems[str(loop_a)])
    errors: list[DataError] = []
    ds = folder.load(tmp_path, cache=False, errors=errors)
    assert len(ds) == 12 and {e.path for e in errors} >= set(map(str, [loop_a, loop_b, dangling]))


def test_load_dataset_names_the_broken_link(tmp_path):
    make_class_tree(tmp_path)
    broken_links(tmp_path)
    (tmp_path / "Happy" / "a.png").unlink()
    (tmp_path / "Happy" / "b.png").unlink()
    with pytest.raises(DataError, match="dangling.png: broken symbolic link"):
        load_dataset(f"folder:{tmp_path}")


LINK_FIX = "(repair the link or delete it)"
LOOP_PROBLEM = f"symbolic link loop {LINK_FIX}"


def loop(path: Path) -> Path:
    """``path`` made a symbolic link loop (path -> path.loop -> path), replacing any file there."""
    if path.exists():
        path.unlink()
    os.symlink(f"{path.name}.loop", path)
    os.symlink(path.name, path.with_name(f"{path.name}.loop"))
    return path


def assert_reported(name: str, root: Path, bad: Path, problem: str) -> None:
    """``bad`` reported with ``problem``: among verify's problems, and as load's one-line error
    (with and without the cache, which stats the files first)."""
    assert f"{bad}: {problem}" in [str(p) for p in verify_dataset(name, root)]
    for cache in (True, False):
        with pytest.raises(DataError) as exc:
            load_dataset(name, root, cache=cache)
        assert one_line(exc) == f"{bad}: {problem}"


@pytest.mark.parametrize("kind", ["loop", "dangling"])
def test_jaffe_names_the_broken_link(tmp_path, kind):
    make_jaffe(tmp_path / "jaffe")
    bad = tmp_path / "jaffe" / "KA.SU1.40.tiff"
    if kind == "loop":
        loop(bad)
        problem = LOOP_PROBLEM
    else:
        os.symlink("KA.SU1.99.tiff", bad)
        problem = f"broken symbolic link to KA.SU1.99.tiff {LINK_FIX}"
    assert_reported("jaffe", tmp_path, bad, problem)
    errors: list[DataError] = []
    assert len(jaffe.load(tmp_path / "jaffe", cache=False, errors=errors)) == 8  # the rest loads


def test_ckplus_names_a_looped_emotion_file(tmp_path):
    make_ckplus_original(tmp_path / "ckplus")
    bad = loop(tmp_path / "ckplus" / "Emotion" / "S010" / "004" / "S010_004_00000005_emotion.txt")
    assert_reported("ckplus", tmp_path, bad, LOOP_PROBLEM)
    errors: list[DataError] = []
    ds = ckplus.load(tmp_path / "ckplus", cache=False, errors=errors)
    assert [str(e) for e in errors] == [f"{bad}: {LOOP_PROBLEM}"] and "S010" in set(ds.subjects)


def test_ckplus_names_a_dangling_sequence_folder(tmp_path):
    root = tmp_path / "ckplus"
    make_ckplus_original(root)
    seq = root / "cohn-kanade-images" / "S022" / "001"
    seq.rename(root / "moved")
    os.symlink(root / "elsewhere", seq)
    assert_reported("ckplus", tmp_path, seq,
                    f"broken symbolic link to {root / 'elsewhere'} {LINK_FIX}")


@pytest.mark.parametrize("where", ["fer2013.csv", "fer2013/fer2013.csv"])
def test_fer2013_names_a_looped_csv(tmp_path, where):
    csv = tmp_path / "fer2013" / where
    make_fer2013_csv(csv)
    loop(csv)
    assert_reported("fer2013", tmp_path, csv, LOOP_PROBLEM)
    with pytest.raises(DataError, match="symbolic link loop"):
        fer2013.load(csv)  # the file named itself


def test_fer2013_names_a_dangling_split_folder(tmp_path):
    root = tmp_path / "fer2013"
    root.mkdir()
    os.symlink(tmp_path / "unmounted" / "train", root / "train")
    (root / "README").write_text("FER2013\n")
    bad = root / "train"
    assert_reported("fer2013", tmp_path, bad,
                    f"broken symbolic link to {tmp_path / 'unmounted' / 'train'} {LINK_FIX}")


def test_folder_labels_csv_names_the_broken_links(tmp_path):
    fakes.make_labels_csv_folder(tmp_path)
    bad = loop(tmp_path / "b.png")
    name = f"folder:{tmp_path}"
    assert_reported(name, tmp_path, bad, LOOP_PROBLEM)
    loop(tmp_path / "labels.csv")
    assert_reported(name, tmp_path, tmp_path / "labels.csv", LOOP_PROBLEM)


def test_class_folder_behind_a_broken_link_is_named(tmp_path):
    make_class_tree(tmp_path)
    os.symlink(tmp_path / "gone", tmp_path / "surprise")
    assert_reported(f"folder:{tmp_path}", tmp_path, tmp_path / "surprise",
                    f"broken symbolic link to {tmp_path / 'gone'} {LINK_FIX}")


# --- 4. a class folder that cannot be listed -----------------------------------------------------

def refuse_listing(monkeypatch, forbidden: Path) -> None:
    """Listing ``forbidden`` fails as under ``chmod 000`` (which root, running the tests,
    ignores)."""
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path) == str(forbidden):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_unlistable_class_folder_is_reported_as_unreadable(tmp_path, monkeypatch):
    make_class_tree(tmp_path)
    refuse_listing(monkeypatch, tmp_path / "sadness")
    expected = f"{tmp_path / 'sadness'}: cannot list folder (Permission denied)"
    problems = [str(p) for p in verify_dataset(f"folder:{tmp_path}")]
    assert any(p.startswith(expected) for p in problems)
    assert not any("empty class folder" in p for p in problems)
    with pytest.raises(DataError) as exc:
        folder.load(tmp_path, cache=False)
    assert one_line(exc).startswith(expected)


def test_unlistable_dataset_folder_is_a_data_error(tmp_path, monkeypatch):
    make_class_tree(tmp_path)
    real = Path.iterdir

    def iterdir(self):
        if self == tmp_path:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    with pytest.raises(DataError, match="cannot list folder \\(Permission denied\\)"):
        folder.load(tmp_path, cache=False)


# --- 5. arrays the image helpers do not expect ---------------------------------------------------

REFUSED = {
    "2 channels": np.zeros((4, 4, 2), np.uint8),
    "5 channels": np.zeros((4, 4, 5), np.uint8),
    "1-D": np.zeros(5, np.uint8),
    "4-D": np.zeros((1, 4, 4, 3), np.uint8),
    "0-D": np.array(7, np.uint8),
    "complex": np.zeros((4, 4), np.complex64),
    "object": np.full((4, 4), None, object),
    "strings": np.full((4, 4), "x"),
}


@pytest.mark.parametrize("convert", [to_gray_uint8, to_gray])
@pytest.mark.parametrize("name", REFUSED)
def test_unexpected_arrays_raise_the_projects_error(convert, name):
    with pytest.raises(ImageError) as exc:
        convert(REFUSED[name])
    assert isinstance(exc.value, FerBenchError) and isinstance(exc.value, ValueError)
    assert "\n" not in str(exc.value)


ACCEPTED = {  # name: (array, expected gray)
    "empty gray": (np.zeros((0, 0), np.uint8), np.zeros((0, 0), np.uint8)),
    "empty BGR": (np.zeros((0, 5, 3), np.uint8), np.zeros((0, 5), np.uint8)),
    "empty BGRA": (np.zeros((3, 0, 4), np.float32), np.zeros((3, 0), np.uint8)),
    "bool BGR": (np.array([[[True] * 3, [False] * 3]]), np.array([[255, 0]], np.uint8)),
    "int64 BGR": (np.array([[[0] * 3, [65535] * 3]], np.int64), np.array([[0, 255]], np.uint8)),
    "float64 BGRA": (np.array([[[0.0] * 4, [1.0] * 4]]), np.array([[0, 255]], np.uint8)),
}


@pytest.mark.parametrize("convert", [to_gray_uint8, to_gray])
@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_arrays_convert(convert, name):
    image, expected = ACCEPTED[name]
    out = convert(image)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)


# --- 6. fuzz: only FerBenchError escapes ---------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def fuzz_tree(tmp_path_factory) -> Path:
    """Two good images, one per class folder: the fuzzed file joins them in ``Happy``."""
    root = tmp_path_factory.mktemp("tree")
    rng = np.random.default_rng(0)
    write_image(root / "Happy" / "good.png", face(rng))
    write_image(root / "sad" / "good.jpg", face(rng, color=True))
    return root


@pytest.fixture
def small_limit(monkeypatch):
    # Lying headers under the limit are decoded (and fail): keep what that allocates small.
    monkeypatch.setenv(MAX_PIXELS_ENV, str(1_000_000))


SIZES = st.one_of(st.integers(0, 70), st.sampled_from([0, 1, 999, 4096, 65535, 65536, 2**31 - 1]))


@st.composite
def hostile_files(draw) -> tuple[str, bytes]:
    """``(suffix, bytes)``: random bytes, or a real image with a lying header, cut anywhere."""
    kind = draw(st.sampled_from(["random", *LYING_FORMATS]))
    if kind == "random":
        suffix = draw(st.sampled_from(sorted(IMAGE_EXTENSIONS)))
        prefix = draw(st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"P5\n",
                                       b"II*\x00", b"RIFF\x00\x00\x00\x00WEBP"]))
        return suffix, prefix + draw(st.binary(max_size=300))
    width, height = draw(SIZES), draw(SIZES)
    if kind == ".jpg":
        width, height = min(width, 65535), min(height, 65535)
    if kind == ".bmp":  # a negative height means top-down rows
        height = draw(st.sampled_from([height, -height]))
    data = lying(kind, width, height)
    cut = draw(st.integers(0, len(data)))
    return kind, data[:cut] if draw(st.booleans()) else data


@FUZZ
@given(hostile_files())
def test_fuzz_readers_raise_only_the_projects_error(fuzz_dir, small_limit, file):
    suffix, data = file
    path = fuzz_dir / f"fuzz{suffix}"
    path.write_bytes(data)
    for read in (read_gray, read_color):
        try:
            image = read(path)
        except FerBenchError as exc:
            assert "\n" not in str(exc)
        else:
            assert image.dtype == np.uint8 and image.size <= 1_000_000 * 3


@settings(FUZZ, max_examples=100)
@given(hostile_files())
def test_fuzz_folder_loader_keeps_the_good_images(fuzz_tree, small_limit, file):
    suffix, data = file
    path = fuzz_tree / "Happy" / f"zz-fuzz{suffix}"
    path.write_bytes(data)
    try:
        errors: list[DataError] = []
        ds = folder.load(fuzz_tree, cache=False, errors=errors)
        assert len(ds) >= 2 and all(isinstance(e, FerBenchError) for e in errors)
        try:
            folder.load(fuzz_tree, cache=False)
        except FerBenchError as exc:
            assert "\n" not in str(exc)
    finally:
        path.unlink()


DTYPES = st.sampled_from([bool, np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32,
                          np.uint64, np.int64, np.float16, np.float32, np.float64, np.complex64])


@FUZZ
@given(hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6)))
def test_fuzz_gray_converters_raise_only_the_projects_error(image):
    accepted = ((image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4)))
                and image.dtype.kind != "c")
    for convert in (to_gray_uint8, to_gray):
        try:
            out = convert(image)
        except ImageError:
            assert not accepted, f"{convert.__name__} refused {image.dtype} {image.shape}"
        else:
            assert accepted and out.dtype == np.uint8 and out.shape == image.shape[:2]


def test_a_failed_decode_prints_only_the_projects_line(tmp_path, capfd):
    """OpenCV logs its decoder failures to stderr; the one-line error is all a user sees."""
    good = tmp_path / "t.pgm"
    cv2.imwrite(str(good), np.full((48, 48), 7, np.uint8))
    cut = tmp_path / "cut.pgm"
    cut.write_bytes(good.read_bytes()[:1200])
    capfd.readouterr()
    with pytest.raises(DataError, match="cut.pgm"):
        read_gray(cut)
    assert capfd.readouterr().err == ""
