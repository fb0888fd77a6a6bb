"""Drawing the synthetic faces with OpenCV: the face parts, then the nuisance factors.

:func:`render_faces` samples the parameters (:mod:`.synthetic_params`), draws each face at twice
the output size with anti-aliased sub-pixel primitives, applies the occluder and pose, area-
downsamples, and finishes with the photometric changes on the whole batch.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import cv2
import numpy as np

from .synthetic_params import (
    _A, EMOTIONS, _sample_expressions, _sample_identities, _sample_nuisance,
)

_SHIFT = 4  # OpenCV fractional bits: sub-pixel precise anti-aliased drawing


class _Pen:
    """Anti-aliased OpenCV drawing in unit coordinates (0..1 across the square canvas)."""

    def __init__(self, canvas: np.ndarray) -> None:
        self.img = canvas
        self.k = canvas.shape[0] * (1 << _SHIFT)
        self.side = canvas.shape[0]

    def _p(self, xy: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(xy) * self.k).astype(np.int32).reshape(-1, 2)

    def _t(self, width: float) -> int:
        return max(1, int(round(width * self.side)))

    def fill(self, xy: np.ndarray, tone: float) -> None:
        cv2.fillPoly(self.img, [self._p(xy)], float(tone), cv2.LINE_AA, _SHIFT)

    def line(self, xy: np.ndarray, tone: float, width: float) -> None:
        cv2.polylines(self.img, [self._p(xy)], False, float(tone), self._t(width), cv2.LINE_AA,
                      _SHIFT)

    def ellipse(self, cx: float, cy: float, a: float, b: float, tone: float,
                angle: float = 0.0, width: float | None = None, arc: tuple = (0, 360)) -> None:
        thickness = -1 if width is None else self._t(width)
        centre = (int(round(cx * self.k)), int(round(cy * self.k)))
        axes = (max(1, int(round(a * self.k))), max(1, int(round(b * self.k))))
        cv2.ellipse(self.img, centre, axes, float(angle), float(arc[0]), float(arc[1]),
                    float(tone), thickness, cv2.LINE_AA, _SHIFT)


_T = np.linspace(0.0, 1.0, 9)[:, None]
_BERNSTEIN = ((1 - _T) ** 2, 2 * (1 - _T) * _T, _T ** 2)


def _bezier(p0, p1, p2) -> np.ndarray:
    """Nine points on the quadratic Bezier curve with control points ``p0, p1, p2``."""
    b0, b1, b2 = _BERNSTEIN
    return b0 * np.asarray(p0) + b1 * np.asarray(p1) + b2 * np.asarray(p2)


_U = np.linspace(-1.0, 1.0, 13)  # parameter across eyes and mouth, corner to corner
_DOME = np.sqrt(1.0 - _U ** 2)


def _draw_head(pen: _Pen, p: dict[str, Any], a: Sequence[float]) -> None:
    """Background, clothes, neck, hair, ears and the bare face (its chin lowered by a jaw drop)."""
    pen.img[:] = int(p["bg"])
    # A straight edge across the background (a wall corner, a door) in a second tone.
    c, s = math.cos(p["bg_angle"]), math.sin(p["bg_angle"])
    o = np.array([0.5, 0.5]) + p["bg_off"] * np.array([c, s])
    d = np.array([-s, c]) * 3
    pen.fill(np.array([o - d, o + d, o + d + 3 * np.array([c, s]), o - d + 3 * np.array([c, s])]),
             p["bg2"])
    fw, fh, cy, skin = p["fw"], p["fh"], p["cy"], p["skin"]
    pen.ellipse(0.5, cy + fh + 0.3, fw * 1.7, 0.32, p["cloth"])
    pen.fill(np.array([[0.5 - fw * 0.5, cy], [0.5 + fw * 0.5, cy], [0.5 + fw * 0.55, 1.0],
                       [0.5 - fw * 0.55, 1.0]]), skin * 0.8)
    if p["hair_style"] == 1:  # long hair falls behind the face
        pen.ellipse(0.5, cy, fw + 0.06, fh + 0.05, p["hair"])
        pen.fill(np.array([[0.5 - fw - 0.06, cy], [0.5 + fw + 0.06, cy],
                           [0.5 + fw + 0.04, cy + fh * 0.9], [0.5 - fw - 0.04, cy + fh * 0.9]]),
                 p["hair"])
    elif p["hair_style"] == 0:
        pen.ellipse(0.5, cy - fh * 0.1, fw + 0.025, fh * 0.95, p["hair"])
    ey = cy + p["eye_dy"]
    for sx in (-1, 1):
        pen.ellipse(0.5 + sx * fw * 0.97, ey + 0.04, 0.028, 0.055, skin * 0.9)
    pen.ellipse(0.5, cy, fw, fh, skin)
    if a[_A["open"]] > 0.05:
        pen.ellipse(0.5, cy, fw * 0.98, fh + 0.035 * a[_A["open"]], skin, arc=(0, 180))
    # Eye sockets: soft shade from the brows down to the eyes, which follows the brows.
    brow = ey - p["brow_gap"] - 0.035 * a[_A["brow_y"]] - 0.017 * a[_A["brow_in"]]
    for sx in (-1, 1):
        pen.ellipse(0.5 + sx * p["eye_dx"], (brow + ey) / 2, p["eye_w"] * 1.5,
                    (ey - brow) / 2 + p["eye_h"] * 1.3, skin * 0.9)
        if a[_A["cheek"]] > 0.1:  # raised cheeks catch the light
            pen.ellipse(0.5 + sx * (p["eye_dx"] + 0.01), ey + 0.085, 0.05, 0.032,
                        min(skin * (1 + 0.1 * min(a[_A["cheek"]], 1.2)), 255))


def _draw_hair_cap(pen: _Pen, p: dict[str, Any]) -> None:
    """Hair over the forehead, down to a (curved) hairline."""
    if p["hair_style"] == 2:
        return
    fw, fh, cy = p["fw"], p["fh"], p["cy"]
    k = pen.side * 8
    axes = (int((fw + 0.01) * k), int((fh + 0.01) * k))
    poly = cv2.ellipse2Poly((int(0.5 * k), int(cy * k)), axes, 0, 0, 360, 10) / k
    x = poly[:, 0]
    line_y = cy - fh + 2 * fh * p["hairline"] + p["hair_curve"] * (x - 0.5) ** 2 / fw * 0.5
    poly[:, 1] = np.minimum(poly[:, 1], line_y)
    pen.fill(poly, p["hair"])


def _draw_eyes(pen: _Pen, p: dict[str, Any], a: Sequence[float]) -> None:
    skin = p["skin"]
    ey = p["cy"] + p["eye_dy"]
    ew, eh = p["eye_w"], p["eye_h"]
    h_up = eh * max(0.25, 1.0 + a[_A["eye_open"]])
    h_low = eh * 0.8 * max(0.2, 1.0 - 0.5 * a[_A["cheek"]] + 0.3 * max(a[_A["eye_open"]], 0))
    r_iris = eh * 1.05
    for sx in (-1, 1):
        cx = 0.5 + sx * p["eye_dx"]
        xs = cx + ew * _U
        upper = np.stack([xs, ey - h_up * _DOME ** 0.8], 1)
        lower = np.stack([xs, ey + h_low * _DOME ** 0.8], 1)
        pen.fill(np.concatenate([upper, lower[::-1]]), p["sclera"])
        pen.ellipse(cx, ey + 0.1 * eh, r_iris, r_iris, p["iris"])
        # Skin-coloured lids cover whatever of the iris lies outside the opening.
        top = ey - r_iris * 1.6 - 0.004
        bot = ey + r_iris * 1.6 + 0.004
        pen.fill(np.concatenate([upper, [[cx + ew, top], [cx - ew, top]]]), skin)
        pen.fill(np.concatenate([lower, [[cx + ew, bot], [cx - ew, bot]]]), skin)
        pen.line(upper, skin * 0.3, 0.011)
        pen.line(lower[2:-2], skin * 0.75, 0.006)
        if a[_A["cheek"]] > 0.1:  # raised cheek: a fold under the lower lid
            fold = np.stack([xs, ey + h_low + 0.012 + 0.006 * _DOME], 1)[2:-2]
            pen.line(fold, skin * (1 - 0.18 * min(a[_A["cheek"]], 1.2)), 0.008)
        if p["glasses"]:
            pen.ellipse(cx, ey, ew * 1.45, ew * 1.15, skin * 0.25, width=0.008)
    if p["glasses"]:
        inner = p["eye_dx"] - ew * 1.45
        pen.line(np.array([[0.5 - inner, ey], [0.5 + inner, ey]]), skin * 0.25, 0.008)


def _draw_brows(pen: _Pen, p: dict[str, Any], a: Sequence[float]) -> None:
    skin = p["skin"]
    ey = p["cy"] + p["eye_dy"]
    base = ey - p["brow_gap"] - 0.035 * a[_A["brow_y"]]
    inner_y = base - 0.035 * a[_A["brow_in"]]
    outer_y = base + 0.006
    arch = 0.012 + 0.014 * a[_A["brow_arch"]]
    pull = 0.02 * a[_A["brow_pull"]]
    for sx in (-1, 1):
        cx = 0.5 + sx * p["eye_dx"]
        inner = (cx - sx * (p["brow_len"] - pull), inner_y + 0.005)
        outer = (cx + sx * p["brow_len"] * 1.1, outer_y)
        mid = ((inner[0] + outer[0]) / 2, (inner[1] + outer[1]) / 2 - 2 * arch)
        pen.line(_bezier(inner, mid, outer), p["brow_tone"], p["brow_th"])
    g = a[_A["glabella"]]
    if g > 0.1:  # vertical frown lines between drawn-together brows
        for sx in (-1, 1):
            x = 0.5 + sx * 0.012
            pen.line(np.array([[x, inner_y - 0.012], [x + sx * 0.003, inner_y + 0.02]]),
                     skin * (1 - 0.22 * min(g, 1.2)), 0.007)
    f = a[_A["forehead"]]
    if f > 0.1:  # horizontal forehead lines above raised brows
        for k in range(3):
            y = min(inner_y, outer_y) - 0.035 - 0.02 * k
            pen.ellipse(0.5, y + 0.04, 0.09 - 0.01 * k, 0.04, skin * (1 - 0.16 * min(f, 1.2)),
                        width=0.006, arc=(200, 340))


def _draw_nose(pen: _Pen, p: dict[str, Any], a: Sequence[float]) -> float:
    """Nose and its wrinkles; returns the y of the nose base."""
    skin = p["skin"]
    ey = p["cy"] + p["eye_dy"]
    w = a[_A["wrinkle"]]
    base_y = ey + p["nose_len"] - 0.01 * w  # the nose wrinkler also lifts the nostrils
    nw = p["nose_w"]
    pen.line(np.array([[0.5 + 0.01, ey + 0.02], [0.5 + 0.016, base_y - 0.025]]), skin * 0.88, 0.008)
    pen.line(_bezier((0.5 - nw, base_y - 0.01), (0.5, base_y + 0.012), (0.5 + nw, base_y - 0.01)),
             skin * 0.6, 0.01)
    for sx in (-1, 1):
        pen.ellipse(0.5 + sx * nw * 0.45, base_y - 0.002, 0.008, 0.005, skin * 0.45)
    if w > 0.1:
        for k in range(3):
            y = ey + 0.005 + 0.013 * k
            pen.line(np.array([[0.5 - 0.02, y], [0.5, y + 0.004], [0.5 + 0.02, y]]),
                     skin * (1 - 0.3 * min(w, 1.2)), 0.006)
    return base_y


def _draw_mouth(pen: _Pen, p: dict[str, Any], a: Sequence[float], nose_y: float,
                side: float) -> None:
    skin = p["skin"]
    my = nose_y + p["mouth_gap"]
    mw = p["mouth_w"] * (1.0 + a[_A["wide"]])
    xs = 0.5 + mw * _U
    line = my - 0.045 * a[_A["curve"]] * _U ** 2  # corners up for a smile, down for a frown
    bump = np.exp(-((_U - side * 0.45) / 0.35) ** 2) * _DOME
    opening = 0.07 * a[_A["open"]] * _DOME
    up_in = line - 0.25 * opening - 0.03 * a[_A["lip_raise"]] * bump
    low_in = line + 0.75 * opening
    th = p["lip_th"] * max(0.1, 1.0 - 0.85 * a[_A["thin"]])
    up_out = up_in - th * (0.6 + 0.4 * _DOME)
    low_out = low_in + 1.3 * th * (0.5 + 0.5 * _DOME)

    fold = p["fold"] + a[_A["cheek"]] + 0.5 * a[_A["lip_raise"]]
    if fold > 0.1:  # nasolabial folds from the nose wings to beyond the mouth corners
        for sx in (-1, 1):
            start = (0.5 + sx * (p["nose_w"] + 0.012), nose_y - 0.01)
            end = (0.5 + sx * (mw + 0.02), line[0] + 0.01)
            ctrl = (0.5 + sx * (mw + 0.035), (start[1] + end[1]) / 2)
            pen.line(_bezier(start, ctrl, end), skin * (1 - 0.15 * min(fold, 1.5)), 0.008)

    def band(top: np.ndarray, bot: np.ndarray) -> np.ndarray:  # region between two curves
        return np.concatenate([np.stack([xs, top], 1), np.stack([xs, bot], 1)[::-1]])

    pen.fill(band(up_out, up_in), p["lip_tone"])
    pen.fill(band(low_in, low_out), p["lip_tone"] + 12)
    pen.fill(band(up_in, low_in), 30)
    if a[_A["teeth"]] > 0.5 and a[_A["open"]] > 0.1:
        teeth = np.minimum(up_in + 0.014 * _DOME, low_in)
        pen.fill(band(up_in, teeth), min(skin + 45, 245))
    dark = skin * (0.35 - 0.15 * min(a[_A["thin"]], 1.0))
    pen.line(np.stack([xs, up_in], 1), dark, 0.008)
    if a[_A["open"]] > 0.1:
        pen.line(np.stack([xs, low_in], 1), dark, 0.006)


def _draw_face(canvas: np.ndarray, p: dict[str, Any], a: Sequence[float], side: float) -> None:
    pen = _Pen(canvas)
    _draw_head(pen, p, a)
    _draw_eyes(pen, p, a)
    _draw_brows(pen, p, a)
    _draw_hair_cap(pen, p)
    nose_y = _draw_nose(pen, p, a)
    _draw_mouth(pen, p, a, nose_y, side)


def _degrade(canvas: np.ndarray, q: dict[str, Any], size: int) -> np.ndarray:
    """Occluder, pose (rotation, scale, shift) and downsampling of one rendered canvas."""
    side = canvas.shape[0]
    if q["occlude"]:
        _Pen(canvas).ellipse(q["occ_x"], q["occ_y"], q["occ_a"], q["occ_b"], q["occ_tone"],
                             angle=q["occ_angle"])
    m = cv2.getRotationMatrix2D((side / 2, side / 2), q["angle"], q["scale"])
    m[:, 2] += (q["dx"] * side, q["dy"] * side)
    warped = cv2.warpAffine(canvas, m, (side, side), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    small = cv2.resize(warped, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    if q["blur"] > 0.3:
        small = cv2.GaussianBlur(small, (0, 0), q["blur"])
    return small


def _photometric(images: np.ndarray, q: dict[str, np.ndarray], rng: np.random.Generator
                 ) -> np.ndarray:
    """Lighting gradient, contrast, gamma and noise on a ``(N, H, W)`` float batch -> uint8."""
    _, h, w = images.shape
    col = {k: v.astype(np.float32)[:, None, None] for k, v in q.items()}  # per-image factors
    yy, xx = np.meshgrid(np.linspace(-1, 1, h, dtype=np.float32),
                         np.linspace(-1, 1, w, dtype=np.float32), indexing="ij")
    ramp = np.cos(col["light_angle"]) * xx + np.sin(col["light_angle"]) * yy
    x = images * (1.0 + col["light"] * ramp / 1.4)
    mean = x.mean(axis=(1, 2), keepdims=True)
    x = (x - mean) * col["contrast"] + mean + col["offset"]
    x = 255.0 * (np.clip(x, 0, 255) / 255.0) ** col["gamma"]
    x = x + rng.standard_normal(images.shape, dtype=np.float32) * col["noise"]
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def render_faces(labels: np.ndarray, rng: np.random.Generator, size: int = 48,
                 identities: np.ndarray | None = None) -> np.ndarray:
    """Render one face per label showing that emotion.

    Parameters
    ----------
    labels : ndarray of shape (N,)
        Canonical labels 0..6 (angry, disgust, fear, happy, sad, surprise, neutral).
    rng : numpy.random.Generator
        Source of every random choice; the same generator state gives bit-identical faces.
    size : int
        Side of the square output images (>= 16).
    identities : ndarray of shape (N,) of int, optional
        Synthetic person of each face (0..K-1); faces with the same value share identity.
        Default: a new person per face.

    Returns
    -------
    ndarray of shape (N, size, size), uint8
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and (labels.min() < 0 or labels.max() >= len(EMOTIONS))):
        raise ValueError(f"labels must be a 1-D array of canonical labels 0..{len(EMOTIONS) - 1}")
    labels = labels.astype(np.int64)
    if int(size) < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    size = int(size)
    n = len(labels)
    if identities is None:
        identities = np.arange(n)
    identities = np.asarray(identities, dtype=np.int64)
    if identities.shape != labels.shape or (n and identities.min() < 0):
        raise ValueError("identities must be non-negative ints, one per label")
    if n == 0:
        return np.zeros((0, size, size), np.uint8)
    n_id = int(identities.max()) + 1
    ident = _sample_identities(n_id, rng)
    acts = _sample_expressions(labels, rng) + ident["rest"][identities]
    nuis = _sample_nuisance(n, rng)
    side = 2 * size  # draw at twice the size, then area-downsample: smooth sub-pixel features
    canvas = np.empty((side, side), np.uint8)
    out = np.empty((n, size, size), np.float32)
    # Python scalars: the per-face drawing does scalar arithmetic, much slower on numpy scalars.
    people = {k: v.tolist() for k, v in ident.items() if k != "rest"}
    per_face = {k: v.tolist() for k, v in nuis.items()}
    acts_list = acts.tolist()
    for i, who in enumerate(identities.tolist()):
        p = {k: v[who] for k, v in people.items()}
        q = {k: v[i] for k, v in per_face.items()}
        _draw_face(canvas, p, acts_list[i], q["side"])
        out[i] = _degrade(canvas, q, size)
    return _photometric(out, nuis, rng)
