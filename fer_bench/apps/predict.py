"""Emotions of every face in photos: detect, crop as in training, classify, report, annotate."""
from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, TextIO

import cv2
import numpy as np

from ..data.io import IMAGE_EXTENSIONS, read_color
from ..errors import FerBenchError
from ..face.detect import detect_faces, to_gray
from ..models import FerModel
from ..models.model import whole_image_is_face
from .draw import draw_face

#: Annotated images smaller than this (longest side) are enlarged so the labels stay legible.
ANNOTATE_MIN_SIDE = 480


@dataclass
class FaceResult:
    """One face: its box in the image and the probability of every class."""

    box: tuple[int, int, int, int]
    probabilities: dict[str, float]
    whole_image: bool = False

    @property
    def label(self) -> str:
        """The most probable class."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    def ranked(self) -> list[tuple[str, float]]:
        """``(class, probability)`` pairs, most probable first."""
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])

    def to_dict(self) -> dict:
        return {"box": list(self.box), "label": self.label, "whole_image": self.whole_image,
                "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()}}


@dataclass
class ImageResult:
    """Every face found in one image."""

    path: str
    width: int
    height: int
    faces: list[FaceResult] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"path": self.path, "width": self.width, "height": self.height,
                "faces": [f.to_dict() for f in self.faces]}

    def to_text(self) -> str:
        """Human-readable report: each face's box, then every class high to low."""
        if not self.faces:
            return f"{self.path}: no face found"
        n = len(self.faces)
        lines = [f"{self.path}: {n} face{'s' if n > 1 else ''}"]
        width = max(len(c) for c in self.faces[0].probabilities) + 1
        for i, face in enumerate(self.faces, 1):
            x, y, w, h = face.box
            where = "the whole image" if face.whole_image else f"x={x} y={y} w={w} h={h}"
            lines.append(f"face {i} at {where}: {face.label}")
            lines += [f"  {name + ':':<{width}} {100 * p:5.1f} %" for name, p in face.ranked()]
        return "\n".join(lines)


def find_faces(gray: np.ndarray, face: dict | None = None) -> tuple[np.ndarray, bool]:
    """Face boxes ``(F, 4)`` ``x, y, w, h``, largest first, and whether the image is the face.

    The rule is the face stage's (``face``: a model's settings), so a photo's largest face gets
    the crop the benchmark would score: an image the stage takes as a face crop already
    (``mode="auto"``: at most 64 px, like FER2013's) is one face filling the image; in others
    the cascade finds every face of 24 px or more. A small image where the detector finds
    nothing is taken as one face filling the image too.
    """
    from ..face.stage import FaceStage

    h, w = gray.shape
    whole = np.array([[0, 0, w, h]], np.int64)
    if gray.size and not FaceStage(**(face or {})).wants_detection(gray.shape):
        return whole, True
    boxes = detect_faces(gray)  # every face from 24 px up (the stage keeps the largest)
    if len(boxes) == 0 and gray.size and whole_image_is_face(gray.shape):
        return whole, True
    return boxes, False


def predict_image(model: FerModel, image: np.ndarray, path: str = "") -> ImageResult:
    """Classify every face of ``image`` (BGR colour or grayscale array) in one batched call."""
    gray = to_gray(image)
    h, w = gray.shape
    boxes, whole = find_faces(gray, model.face)
    proba = model.predict_proba(model.crop_faces(gray, boxes, whole=whole))
    faces = [
        FaceResult(tuple(int(v) for v in box), dict(zip(model.classes, map(float, p))), whole)
        for box, p in zip(boxes, proba)
    ]
    return ImageResult(path, w, h, faces)


def annotate(image: np.ndarray, result: ImageResult, classes: Sequence[str]) -> np.ndarray:
    """A BGR copy of ``image`` with each face's box, label and probability chart drawn on it.

    Small images are enlarged first (nearest neighbour, so pixels stay visible).
    """
    out = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    factor = max(1, math.ceil(ANNOTATE_MIN_SIDE / max(out.shape[:2])))
    out = cv2.resize(out, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST) \
        if factor > 1 else out.copy()
    for face in result.faces:
        box = [v * factor for v in face.box]
        draw_face(out, box, classes, [face.probabilities[c] for c in classes])
    return out


def annotation_targets(inputs: Sequence[str | os.PathLike], target: str | os.PathLike) -> list[Path]:
    """Where each input's annotated image goes.

    ``target`` is a file (one input, an image suffix, not an existing folder) or a folder that
    gets ``<stem>.annotated.png`` per input (numbered when stems repeat).
    """
    target = Path(target)
    as_file = target.suffix.lower() in IMAGE_EXTENSIONS and not target.is_dir()
    if as_file:
        if len(inputs) > 1:
            raise FerBenchError(f"--annotate {target}: several images need a folder, not a file")
        return [target]
    out, used = [], set()
    for src in inputs:
        stem, k = Path(src).stem or "image", 1
        name = f"{stem}.annotated.png"
        while name in used:
            k += 1
            name = f"{stem}-{k}.annotated.png"
        used.add(name)
        out.append(target / name)
    return out


def predict_files(model: FerModel, paths: Sequence[str | os.PathLike], *, as_json: bool = False,
                  annotate_to: str | os.PathLike | None = None, out: TextIO | None = None,
                  err: TextIO | None = None) -> int:
    """Predict on each file, print the results; return 0, or 1 when any file failed.

    A file that cannot be read is reported on ``err`` (and as ``{"path", "error"}`` with
    ``as_json``) and the others are still processed.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    targets = annotation_targets(paths, annotate_to) if annotate_to is not None else None
    failed = 0
    for i, path in enumerate(paths):
        try:
            image = read_color(path)
            result = predict_image(model, image, str(path))
            if targets is not None:
                _write_image(targets[i], annotate(image, result, model.classes))
        except FerBenchError as exc:
            failed += 1
            print(f"error: {exc}", file=err, flush=True)
            if as_json:
                print(json.dumps({"path": str(path), "error": str(exc)}), file=out, flush=True)
            continue
        if as_json:
            print(json.dumps(result.to_dict()), file=out, flush=True)
        else:
            print(("\n" if i - failed else "") + result.to_text(), file=out, flush=True)
    return 1 if failed else 0


def _write_image(path: Path, image: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ok = cv2.imwrite(str(path), image)
    except (OSError, cv2.error) as exc:
        raise FerBenchError(f"{path}: cannot write the annotated image ({exc})") from None
    if not ok:
        raise FerBenchError(f"{path}: cannot write the annotated image (use a .png or .jpg name "
                            "in a writable folder)")
