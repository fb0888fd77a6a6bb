"""Tiny fake dataset releases written into a temporary folder, for loader and CLI tests.

Each ``make_*`` writes one release layout with a handful of small images and returns a
:class:`Fake` record per image it expects a loader to return, so a test can compare the loaded
rows with what was written, by path. Images are random but seeded; PNG keeps them lossless.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from fer_bench.data.cache import cache_dir
from fer_bench.data.labels import canonical_label
from fer_bench.registry import PIPELINES, Entry

FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CK48_CLASSES = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")


@dataclass(frozen=True)
class Fake:
    """One written image: where, its gray pixels (what a loader must return) and its tags."""

    path: Path
    image: np.ndarray
    label: int
    split: str | None = None
    subject: str | None = None


def face(rng: np.random.Generator, size: tuple[int, int] = (48, 48), color: bool = False
         ) -> np.ndarray:
    """A random uint8 image of ``size`` ``(H, W)``, ``(H, W, 3)`` BGR when ``color``."""
    shape = (*size, 3) if color else size
    return rng.integers(0, 256, shape, dtype=np.uint8)


def gray(image: np.ndarray) -> np.ndarray:
    """What a loader returns for ``image``: BGR converted to 8-bit gray, gray unchanged."""
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def write_image(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise OSError(f"cv2.imwrite failed for {path}")
    return path


def write_corrupt(path: Path) -> Path:
    """A file with an image extension whose bytes are no image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not an image at all, just text pretending to be one\n" * 4)
    return path


def write_truncated(path: Path, image: np.ndarray) -> Path:
    """A real JPEG/PNG of ``image`` with its last tenth cut off, as a broken download leaves it."""
    write_image(path, image)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 9 // 10])
    return path


def make_fer2013_folder(root: Path, n_train: int = 2, n_public: int = 1, n_private: int = 1,
                        ext: str = ".png", seed: int = 0) -> list[Fake]:
    """``root/train/<class>/Training_<id>`` and ``root/test/<class>/{Public,Private}Test_<id>``."""
    rng = np.random.default_rng(seed)
    fakes, uid = [], 1000
    for cls in FER_CLASSES:
        for part, split, n in (("train", "Training", n_train), ("test", "PublicTest", n_public),
                               ("test", "PrivateTest", n_private)):
            for _ in range(n):
                uid += 1
                image = face(rng)
                path = write_image(root / part / cls / f"{split}_{uid}{ext}", image)
                fakes.append(Fake(path, image, canonical_label(cls), split))
    return fakes


def fer2013_csv_text(rows: list[tuple[int, np.ndarray, str]]) -> str:
    """``fer2013.csv`` text for ``(emotion, 48x48 image, Usage)`` rows."""
    lines = ["emotion,pixels,Usage"]
    lines += [f"{e},{' '.join(map(str, im.ravel().tolist()))},{u}" for e, im, u in rows]
    return "\n".join(lines) + "\n"


def make_fer2013_csv(path: Path, n_per_class: int = 2, seed: int = 0) -> list[Fake]:
    """A ``fer2013.csv`` at ``path``; each Fake's path is ``<csv>:LINE``."""
    rng = np.random.default_rng(seed)
    usages = ("Training", "PublicTest", "PrivateTest")
    rows = [(label, face(rng), usages[(label + k) % 3])
            for label in range(7) for k in range(n_per_class)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(fer2013_csv_text(rows))
    return [Fake(Path(f"{path}:{i + 2}"), im, e, u) for i, (e, im, u) in enumerate(rows)]


def make_ckplus48(root: Path, subjects: tuple[str, ...] = ("S005", "S010", "S022"),
                  seed: int = 0) -> list[Fake]:
    """CK+48: each subject posing each class in one sequence, its last three frames."""
    rng = np.random.default_rng(seed)
    fakes = []
    for s_i, subject in enumerate(subjects):
        for c_i, cls in enumerate(CK48_CLASSES):
            if (s_i + c_i) % 3 == 2:  # not every subject shows every class, as in CK+
                continue
            for frame in (8, 9, 10):
                image = face(rng)
                name = f"{subject}_{c_i + 1:03d}_{frame:08d}.png"
                fakes.append(Fake(write_image(root / cls / name, image), image,
                                  canonical_label(cls), subject=subject))
    return fakes


#: (subject, sequence, number of frames, emotion code or None for an unlabelled sequence)
CK_ORIGINAL_SEQUENCES = (
    ("S005", "001", 6, 3), ("S005", "002", 4, None), ("S010", "004", 5, 5),
    ("S010", "006", 2, 2), ("S022", "001", 7, 7),
)


def make_ckplus_original(root: Path, seed: int = 0) -> dict[tuple[str, str], list[Fake]]:
    """The original CK+ layout with small ragged (some colour) frames.

    Returns, per ``(subject, sequence)``, every frame in order as a Fake carrying the
    sequence's canonical label (-1 for unlabelled sequences).
    """
    from fer_bench.data.ckplus import EMOTION_CODES

    rng = np.random.default_rng(seed)
    out = {}
    for s_i, (subject, seq, n, code) in enumerate(CK_ORIGINAL_SEQUENCES):
        size = (49, 64) if s_i % 2 else (49, 60)  # ragged, like the 640x490 / 640x480 originals
        frames = []
        for k in range(1, n + 1):
            image = face(rng, size, color=(subject == "S010"))
            name = f"{subject}_{seq}_{k:08d}.png"
            path = write_image(root / "cohn-kanade-images" / subject / seq / name, image)
            label = EMOTION_CODES[code] if code is not None else -1
            frames.append(Fake(path, gray(image), label, subject=subject))
        if code is not None:
            txt = root / "Emotion" / subject / seq / f"{subject}_{seq}_{n:08d}_emotion.txt"
            txt.parent.mkdir(parents=True, exist_ok=True)
            txt.write_text(f"   {code:.7e}\n")
        out[(subject, seq)] = frames
    (root / "cohn-kanade-images" / "S005" / "001" / ".DS_Store").write_bytes(b"\0\1junk")
    return out


#: JAFFE file names written by :func:`make_jaffe`.
JAFFE_NAMES = ("KA.AN1.39.tiff", "KA.HA2.30.tiff", "KA.NE1.26.tiff", "KL.DI1.170.tiff",
               "KL.FE3.176.tiff", "YM.SA1.55.tiff", "YM.SU2.59.tiff", "YM.NE3.51.tiff")


def make_jaffe(root: Path, seed: int = 0) -> list[Fake]:
    """A flat JAFFE folder (small 32x32 TIFFs instead of 256x256) plus a README."""
    from fer_bench.data.jaffe import EXPRESSION_CODES

    rng = np.random.default_rng(seed)
    fakes = []
    for name in JAFFE_NAMES:
        image = face(rng, (32, 32))
        subject, expr = name.split(".")[:2]
        fakes.append(Fake(write_image(root / name, image), image,
                          EXPRESSION_CODES[expr[:2]], subject=subject))
    (root / "README").write_text("The Japanese Female Facial Expression (JAFFE) Database\n")
    return fakes


def make_class_tree(root: Path, seed: int = 0) -> list[Fake]:
    """A user ``<class>/<image>`` tree: mixed-case and synonym folder names, colour JPEG/PNG
    without EXIF, ragged sizes, a hidden file and a notes file that loading must skip."""
    rng = np.random.default_rng(seed)
    fakes = []
    spec = {"Happy": ((40, 40), False, ".png"), "sadness": ((40, 40), True, ".png"),
            "ANGER": ((30, 36), True, ".bmp"), "neutral": ((40, 40), False, ".tif")}
    for folder, (size, color, ext) in spec.items():
        for k in range(3):
            image = face(rng, size, color=color)
            path = write_image(root / folder / f"img{k}{ext}", image)
            fakes.append(Fake(path, gray(image), canonical_label(folder)))
    (root / "Happy" / ".hidden.png").write_bytes(b"not even an image")
    (root / "Happy" / "notes.txt").write_text("where these came from\n")
    (root / "README.md").write_text("my faces\n")
    return fakes


def make_labels_csv_folder(root: Path, seed: int = 0) -> list[Fake]:
    """A flat folder of images plus ``labels.csv`` with path,label,subject columns."""
    rng = np.random.default_rng(seed)
    rows = [("a.png", "happy", "p1"), ("b.png", "Sad", "p1"), ("sub/c.png", "surprised", "p2"),
            ("d.png", "contempt", "p2"), ("e.png", "neutral", "p3")]
    fakes = []
    for rel, label, subject in rows:
        image = face(rng, (36, 36))
        fakes.append(Fake(write_image(root / rel, image), image, canonical_label(label),
                          subject=subject))
    text = "path,label,subject\n" + "".join(f"{r},{lab},{s}\n" for r, lab, s in rows)
    (root / "labels.csv").write_text(text)
    return fakes


class Boom(ClassifierMixin, BaseEstimator):
    """A pipeline whose ``fit`` always fails (with a two-line message): failure isolation."""

    def __init__(self, random_state=0):
        self.random_state = random_state

    def fit(self, X, y):
        raise ValueError("boom: this pipeline always fails\nsecond line")


def make_boom(random_state: int = 0) -> Boom:
    return Boom(random_state)


class Constant(ClassifierMixin, BaseEstimator):
    """Always the first class it saw (``angry``): right exactly on the angry test images."""

    def __init__(self, random_state=0):
        self.random_state = random_state

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])

    def predict_proba(self, X):
        p = np.zeros((len(X), len(self.classes_)))
        p[:, 0] = 1.0
        return p


def make_constant(random_state: int = 0) -> Constant:
    return Constant(random_state)


def register_pipeline(monkeypatch, name: str, target: str) -> None:
    """Register the test-only pipeline factory ``target`` (``"module:attr"``) as ``name``."""
    entry = Entry(name, target, "test-only pipeline", {"family": "classical"})
    monkeypatch.setitem(PIPELINES._table(), name, entry)


def cache_entries() -> list[Path]:
    """The dataset cache's entries (under ``$FER_BENCH_CACHE``), sorted."""
    return sorted((cache_dir() / "datasets").glob("*.npz"))


def one_line(exc: pytest.ExceptionInfo) -> str:
    """The message of a raised error, checked to be one line."""
    message = str(exc.value)
    assert "\n" not in message
    return message
