"""Annotation drawing: a box and label per face, a small probability bar chart, the frame rate.

Everything draws in place on a BGR uint8 image, touching only the pixels it paints (the video
loop calls it on every frame).
"""
from __future__ import annotations

import zlib
from typing import Sequence

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX

#: BGR colour of each class name any label view uses; other names get a stable hashed colour.
PALETTE: dict[str, tuple[int, int, int]] = {
    "angry": (40, 40, 230), "disgust": (40, 150, 60), "fear": (170, 60, 150),
    "happy": (0, 210, 255), "sad": (200, 110, 30), "surprise": (0, 140, 255),
    "neutral": (190, 190, 190), "contempt": (60, 90, 140),
    "positive": (60, 200, 60), "negative": (50, 50, 220),
}


def class_color(name: str) -> tuple[int, int, int]:
    """The BGR colour drawn for class ``name``."""
    if name in PALETTE:
        return PALETTE[name]
    h = zlib.crc32(name.encode())
    return (64 + h % 160, 64 + (h >> 8) % 160, 64 + (h >> 16) % 160)


def text_scale(shape: tuple[int, ...]) -> float:
    """Font scale that stays legible from thumbnails to 4K frames."""
    return float(np.clip(min(shape[:2]) / 600.0, 0.35, 1.6))


def _tag(image: np.ndarray, text: str, x: int, y: int, color, scale: float) -> None:
    """``text`` on a filled ``color`` tag whose bottom-left corner is at ``(x, y)``."""
    thick = max(1, int(round(scale * 1.6)))
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
    h, w = image.shape[:2]
    x = int(np.clip(x, 0, max(0, w - tw - 4)))
    y = int(np.clip(y, th + base + 4, h))
    cv2.rectangle(image, (x, y - th - base - 4), (x + tw + 4, y), color, -1)
    ink = (0, 0, 0) if sum(color) > 380 else (255, 255, 255)
    cv2.putText(image, text, (x + 2, y - base - 2), FONT, scale, ink, thick, cv2.LINE_AA)


def _layout(items: Sequence[tuple[str, float]], scale: float) -> tuple:
    """Bar-chart geometry: panel width and height, name column, bar length, row height, font."""
    s = scale * 0.8
    thick = max(1, int(round(s * 1.4)))
    row = int(round(26 * s)) + 2
    name_w = max(cv2.getTextSize(n, FONT, s, thick)[0][0] for n, _ in items)
    pct_w = cv2.getTextSize("100%", FONT, s, thick)[0][0]
    bar_w = int(round(80 * s)) + 4
    return name_w + bar_w + pct_w + 16, row * len(items) + 6, name_w, bar_w, row, s, thick


def draw_bars(image: np.ndarray, x: int, y: int, items: Sequence[tuple[str, float]],
              scale: float) -> tuple[int, int]:
    """A bar chart of ``(class, probability)`` rows with its top-left corner near ``(x, y)``.

    The panel is moved to stay inside the image. Returns its ``(width, height)``.
    """
    h, w = image.shape[:2]
    pw, ph, name_w, bar_w, row, s, thick = _layout(items, scale)
    x = int(np.clip(x, 0, max(0, w - pw)))
    y = int(np.clip(y, 0, max(0, h - ph)))
    roi = image[y:y + ph, x:x + pw]
    roi //= 3  # a darkened panel keeps the photo visible behind the chart
    for i, (name, p) in enumerate(items):
        top = y + 4 + i * row
        base = top + row - 5
        cv2.putText(image, name, (x + 4, base), FONT, s, (255, 255, 255), thick, cv2.LINE_AA)
        bx = x + name_w + 8
        length = int(round((bar_w - 4) * float(np.clip(p, 0, 1))))
        cv2.rectangle(image, (bx, top + 3), (bx + bar_w - 4, top + row - 3), (90, 90, 90), 1)
        if length > 0:
            cv2.rectangle(image, (bx, top + 3), (bx + length, top + row - 3), class_color(name), -1)
        cv2.putText(image, f"{100 * p:.0f}%", (bx + bar_w + 2, base), FONT, s, (255, 255, 255),
                    thick, cv2.LINE_AA)
    return pw, ph


def draw_face(image: np.ndarray, box: Sequence[int], classes: Sequence[str],
              probabilities: Sequence[float], *, top_k: int | None = None,
              face_id: int | None = None) -> None:
    """Box, top label and a bar chart of the ``top_k`` most probable classes (all by default).

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), uint8 BGR
        Drawn on in place.
    box : (x, y, w, h)
    classes : sequence of K str
    probabilities : sequence of K float
    top_k : int, optional
        Rows of the bar chart, most probable first.
    face_id : int, optional
        Shown in the label (the video's tracked face number).
    """
    x, y, bw, bh = (int(v) for v in box)
    p = np.asarray(probabilities, dtype=float)
    order = np.argsort(-p, kind="stable")[: top_k or len(p)]
    best = classes[order[0]]
    color = class_color(best)
    scale = text_scale(image.shape)
    cv2.rectangle(image, (x, y), (x + bw, y + bh), color, max(2, int(round(2 * scale))))
    label = f"{best} {100 * p[order[0]]:.0f}%"
    if face_id is not None:
        label = f"#{face_id} {label}"
    _tag(image, label, x, y - 2 if y > 20 else y + bh + int(30 * scale), color, scale)
    items = [(classes[k], float(p[k])) for k in order]
    gap = int(6 * scale)
    panel_x = x + bw + gap
    panel_w = _layout(items, scale)[0]
    if panel_x + panel_w > image.shape[1] and x - gap - panel_w >= 0:
        panel_x = x - gap - panel_w  # no room on the right: put the chart on the left
    draw_bars(image, panel_x, y, items, scale)


def draw_fps(image: np.ndarray, fps: float, extra: str = "") -> None:
    """The frame rate (and ``extra`` text) in the top-left corner."""
    scale = text_scale(image.shape)
    _tag(image, f"{fps:5.1f} FPS{(' ' + extra) if extra else ''}", 4, int(30 * scale) + 4,
         (40, 40, 40), scale)
