"""The built-in synthetic default: procedurally rendered 48x48 faces showing the basic emotions.

Every face is drawn with OpenCV from two sets of parameters:

* an **identity** (shared by all images of one synthetic subject): face ellipse width and height,
  skin tone, hair style, tone and hairline, background, ears, eye spacing and size, brow
  thickness, nose length and width, mouth width and height, lip tone, glasses, and a "resting
  face" (a slight natural smile / frown / brow set that is no expression);
* an **expression**: a vector of facial actions loosely following FACS descriptions of the
  basic emotions, scaled by a per-image intensity (some expressions are subtle) plus per-image
  jitter of every action:

  ======== ==========================================================================
  happy    mouth corners raised (smile), wider mouth often open with teeth, cheeks
           raised (narrowed eyes from below, nasolabial folds)
  surprise arched brows raised high, forehead lines, wide-open eyes, dropped jaw (open
           oval mouth)
  sad      inner brow ends raised (oblique brows), lowered lids, mouth corners lowered
  angry    brows lowered and drawn together (inner ends down), vertical lines between
           the brows, narrowed eyes, pressed thin lips
  disgust  upper lip raised on one side, wrinkled nose bridge, lowered brows, narrowed
           eyes, corners slightly down
  fear     brows raised and drawn together (flat), raised upper lids (wide eyes),
           lips stretched sideways and slightly open
  neutral  relaxed straight brows, normal eyes, straight closed mouth
  ======== ==========================================================================

Nuisance factors follow: an occasional occluder (a hand-like blob), in-plane rotation, scale
and shift (pose), a lighting gradient, contrast and gamma changes, blur and sensor noise.

Difficulty, measured on the default (``n_per_class=300``: 2,100 faces of 210 synthetic subjects;
fitted on the train + val identities, scored on the 32 held-out test identities; 7 classes, chance
14.3 %), for ``seed=0`` / ``seed=1``:

================================================================ ===============
pixels -> PCA(50, whiten) -> RBF SVC (eigenfaces)                  55.9 / 52.2 %
pixels -> standardise -> PCA(100, whiten) -> logistic regression   69.4 / 63.7 %
raw pixels -> standardise -> logistic regression (C=0.01)          71.9 / 68.8 %
HOG (skimage, 8x8 cells, 2x2 blocks) -> standardise -> RBF SVC     79.7 / 75.9 %
================================================================ ===============

so it is learnable, far from solved by a linear model on pixels, and local-gradient features beat
eigenfaces, as a small CNN should too. Pose is what hurts pixel methods most: without it the
eigenfaces figure rises to 65.9 % (``seed=0``). Rendering the default takes about 0.9 s on one core;
:func:`load` caches it.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Sequence

import cv2
import numpy as np

from ..errors import DataError
from .cache import cached, key_for
from .dataset import FaceDataset
from .labels import CLASSES

#: Registry declaration (read without importing this module: see fer_bench.registry). The
#: CNN parameters keep `run --suite all` on the default within minutes on 2 cores.
PLUGINS = [{"kind": "dataset", "name": "synthetic", "target": "load", "order": 40,
            "summary": "Built-in procedurally rendered faces", "subdirs": [], "builtin": True,
            "pipeline_params": {"deep": {"epochs": 6}, "vgg-fer": {"epochs": 3}}}]

#: Bump whenever the rendering changes, so cached copies of older renderings are not reused.
GENERATOR_VERSION = 1

#: The seven classes rendered (canonical labels 0..6; no contempt).
EMOTIONS: tuple[str, ...] = CLASSES[:7]

#: Fractions of identities in the train / val / test splits.
SPLIT_FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}

#: Images per synthetic identity (on average).
IMAGES_PER_IDENTITY = 10

#: Facial actions an expression sets; units are chosen so 1.0 is a full-intensity action.
ACTIONS: tuple[str, ...] = (
    "brow_y",     # whole brow up (+) / down (-)
    "brow_in",    # inner brow end up (+) / down (-), relative to the outer end
    "brow_pull",  # inner ends drawn towards the midline
    "brow_arch",  # brow curvature (+ arched, - flat)
    "eye_open",   # relative change of the eye opening (+ wide, - narrowed)
    "cheek",      # cheek raiser: lower lid pushed up, nasolabial folds
    "curve",      # mouth corners up (+) / down (-)
    "open",       # jaw drop (mouth opening)
    "wide",       # relative change of mouth width
    "thin",       # lips pressed thin
    "lip_raise",  # upper lip raised on one side
    "wrinkle",    # nose-bridge wrinkles
    "forehead",   # horizontal forehead lines
    "glabella",   # vertical lines between the brows
    "teeth",      # teeth visible in an open mouth
)
_A = {a: i for i, a in enumerate(ACTIONS)}

#: Full-intensity action vector of each emotion (absent actions are 0).
TARGETS: dict[str, dict[str, float]] = {
    "angry": {"brow_y": -0.6, "brow_in": -1.0, "brow_pull": 1.0, "eye_open": -0.35,
              "thin": 0.9, "wide": -0.12, "curve": -0.15, "glabella": 1.0},
    "disgust": {"lip_raise": 1.0, "wrinkle": 1.0, "brow_y": -0.5, "brow_in": -0.35,
                "brow_pull": 0.4, "eye_open": -0.3, "curve": -0.35, "cheek": 0.35},
    "fear": {"brow_y": 0.7, "brow_in": 0.8, "brow_pull": 0.7, "brow_arch": -0.5,
             "eye_open": 0.5, "wide": 0.22, "open": 0.3, "curve": -0.3, "forehead": 0.6},
    "happy": {"curve": 1.0, "wide": 0.18, "open": 0.35, "cheek": 1.0, "eye_open": -0.25,
              "teeth": 1.0},
    "sad": {"curve": -0.8, "brow_in": 1.0, "brow_pull": 0.4, "brow_y": -0.1, "eye_open": -0.25},
    "surprise": {"brow_y": 1.2, "brow_arch": 1.0, "eye_open": 0.55, "open": 1.0, "wide": -0.25,
                 "forehead": 1.0},
    "neutral": {},
}
_TARGET_MATRIX = np.array(
    [[TARGETS[e].get(a, 0.0) for a in ACTIONS] for e in EMOTIONS], dtype=np.float64
)
# Per-image jitter (standard deviation) of each action: individual ways of showing an emotion.
_JITTER_SD = {"brow_y": 0.15, "brow_in": 0.15, "brow_pull": 0.15, "brow_arch": 0.2,
              "eye_open": 0.1, "cheek": 0.1, "curve": 0.15, "open": 0.1, "wide": 0.05,
              "thin": 0.1, "lip_raise": 0.05, "wrinkle": 0.05, "forehead": 0.1, "glabella": 0.05}
_JITTER = np.array([_JITTER_SD.get(a, 0.0) for a in ACTIONS])
# Actions that cannot go negative (amounts of folds, lines, opening ...).
_NONNEG = np.array([a in ("brow_pull", "cheek", "open", "thin", "lip_raise", "wrinkle",
                          "forehead", "glabella", "teeth") for a in ACTIONS])


def _sample_identities(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Geometry and tones of ``n`` synthetic people, in units of the canvas side."""
    u = rng.uniform
    skin = u(95, 215, n)
    light_hair = rng.random(n) < 0.2
    ident = {
        "fw": u(0.26, 0.33, n), "fh": u(0.35, 0.42, n), "cy": u(0.5, 0.54, n),
        "skin": skin,
        "bg": u(10, 245, n), "bg2": u(10, 245, n), "bg_angle": u(0, np.pi, n),
        "bg_off": u(-0.5, 0.5, n), "cloth": u(10, 240, n),
        "hair": np.where(light_hair, u(130, 220, n), u(10, 80, n)),
        "hair_style": rng.choice(3, n, p=[0.45, 0.4, 0.15]),  # short, long, bald
        "hairline": u(0.14, 0.36, n), "hair_curve": u(-0.3, 0.5, n),
        "eye_dx": u(0.105, 0.13, n), "eye_dy": u(-0.1, -0.07, n),
        "eye_w": u(0.045, 0.058, n), "eye_h": u(0.019, 0.026, n),
        "iris": u(10, 80, n), "sclera": np.minimum(skin + u(15, 60, n), 250),
        "brow_gap": u(0.045, 0.065, n), "brow_th": u(0.018, 0.036, n),
        "brow_len": u(0.045, 0.065, n),
        "brow_tone": np.minimum(skin - u(50, 110, n), u(15, 90, n)).clip(5, None),
        "nose_len": u(0.11, 0.14, n), "nose_w": u(0.025, 0.042, n),
        "mouth_gap": u(0.075, 0.095, n), "mouth_w": u(0.075, 0.1, n),
        "lip_th": u(0.01, 0.02, n), "lip_tone": skin - u(25, 80, n),
        "fold": u(0.0, 0.35, n), "glasses": rng.random(n) < 0.12,
        "rest": rng.normal(0.0, 0.08, (n, len(ACTIONS))) * ~_NONNEG,
    }
    return ident


def _sample_expressions(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Action vectors ``(N, len(ACTIONS))`` for ``labels``: intensity x target + jitter."""
    n = len(labels)
    intensity = rng.uniform(0.5, 1.0, n)
    jitter = rng.normal(0.0, 1.0, (n, len(ACTIONS))) * _JITTER
    acts = intensity[:, None] * _TARGET_MATRIX[labels] + jitter
    return np.where(_NONNEG, np.maximum(acts, 0.0), acts)


def _sample_nuisance(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-image occluder, pose and photometric settings (angles in degrees / radians)."""
    u = rng.uniform
    return {
        "side": rng.choice([-1.0, 1.0], n),  # which side an asymmetric action favours
        "angle": u(-4, 4, n), "scale": u(1.35, 1.5, n),
        "dx": u(-0.02, 0.02, n), "dy": u(-0.02, 0.02, n),
        "occlude": rng.random(n) < 0.12, "occ_x": u(0.25, 0.75, n), "occ_y": u(0.3, 0.95, n),
        "occ_a": u(0.08, 0.2, n), "occ_b": u(0.06, 0.14, n), "occ_angle": u(0, 180, n),
        "occ_tone": u(20, 235, n),
        "light_angle": u(0, 2 * np.pi, n), "light": u(0.0, 0.3, n),
        "contrast": u(0.7, 1.15, n), "offset": u(-25, 25, n), "gamma": np.exp(u(-0.35, 0.35, n)),
        "blur": u(0.0, 1.0, n), "noise": u(1.0, 6.0, n),
    }


# --- drawing -------------------------------------------------------------------------------
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


def _split_identities(n_id: int, rng: np.random.Generator) -> np.ndarray:
    """Split name per identity: about 70 / 15 / 15 %, each split at least one identity."""
    n_val = max(1, round(SPLIT_FRACTIONS["val"] * n_id))
    n_test = max(1, round(SPLIT_FRACTIONS["test"] * n_id))
    tags = np.array(["train"] * (n_id - n_val - n_test) + ["val"] * n_val + ["test"] * n_test)
    return tags[rng.permutation(n_id)]


def _build(name: str, n_per_class: int, seed: int, size: int) -> FaceDataset:
    rng = np.random.default_rng(seed)
    n = len(EMOTIONS) * n_per_class
    n_id = max(3, -(-n // IMAGES_PER_IDENTITY))
    labels = np.repeat(np.arange(len(EMOTIONS), dtype=np.int64), n_per_class)[rng.permutation(n)]
    identity = np.arange(n) % n_id  # labels are shuffled, so each person shows mixed emotions
    id_split = _split_identities(n_id, rng)
    images = render_faces(labels, rng, size, identities=identity)
    width = max(3, len(str(n_id - 1)))
    subjects = np.array([f"id{k:0{width}d}" for k in range(n_id)])[identity]
    paths = np.array([f"synthetic:{i:06d}" for i in range(n)])
    meta = {"generator": "fer_bench.data.synthetic", "version": GENERATOR_VERSION,
            "n_per_class": n_per_class, "seed": seed, "size": size, "n_identities": n_id,
            "split_fractions": dict(SPLIT_FRACTIONS), "classes": list(EMOTIONS)}
    return FaceDataset(name=name, images=images, labels=labels, paths=paths,
                       subjects=subjects, splits=id_split[identity], meta=meta)


def _check_int(value: Any, option: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise DataError("synthetic", f"option {option}={value!r} is invalid",
                        f"pass an integer {option} >= {low}")
    return int(value)


def load(path: None = None, *, name: str = "synthetic", cache: bool = True, errors: Any = None,
         n_per_class: int = 300, seed: int = 0, size: int = 48, **options: Any) -> FaceDataset:
    """The synthetic default dataset: ``7 * n_per_class`` rendered faces, balanced classes.

    Parameters
    ----------
    path : None
        Unused: the dataset is built in (the registry's ``locate`` returns None for it).
    name : str
        Name recorded in the returned dataset.
    cache : bool
        Reuse (and store) the rendering in the on-disk cache keyed by the options.
    errors : list, optional
        Accepted for the loader contract and ignored: rendering reads no files.
    n_per_class : int
        Faces per emotion (the 7 basic emotions; no contempt).
    seed : int
        Seed of every random choice; the same options give bit-identical arrays.
    size : int
        Side of the square images (default 48).

    Returns
    -------
    FaceDataset
        ``images`` ``(7 * n_per_class, size, size)`` uint8, ``labels`` 0..6, ``subjects`` a
        synthetic identity per image (about 10 images each), ``splits`` ``train`` / ``val`` /
        ``test`` by identity (about 70 / 15 / 15 % of identities), ``paths`` ``synthetic:000123``.
    """
    if options:
        raise DataError("synthetic", f"unknown option(s) {', '.join(sorted(options))}",
                        "the synthetic dataset takes n_per_class, seed and size")
    if path is not None:
        raise DataError(path, "the synthetic dataset is built in and reads no files",
                        "load it without a path")
    n_per_class = _check_int(n_per_class, "n_per_class", 1)
    seed = _check_int(seed, "seed", 0)
    size = _check_int(size, "size", 16)
    opts = {"version": GENERATOR_VERSION, "n_per_class": n_per_class, "seed": seed, "size": size}
    key = key_for("synthetic", None, opts, "")
    ds = cached(key, lambda: _build(name, n_per_class, seed, size), enabled=cache)
    return ds if ds.name == name else replace(ds, name=name)  # the cache key ignores the name
