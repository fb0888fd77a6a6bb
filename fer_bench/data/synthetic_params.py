"""What a synthetic face shows: the parameters :mod:`.synthetic_render` draws it from.

An identity (geometry and tones shared by all images of one synthetic subject, and its "resting
face"), an expression (a vector of :data:`ACTIONS`: intensity x the emotion's :data:`TARGETS` plus
per-image jitter) and the per-image nuisance factors (occluder, pose, photometry); see
:mod:`fer_bench.data.synthetic` for the full description. Every value is drawn from the caller's
generator, in a fixed order, so the same generator state gives bit-identical faces.
"""
from __future__ import annotations

import numpy as np

from .labels import CLASSES

#: The seven classes rendered (canonical labels 0..6; no contempt).
EMOTIONS: tuple[str, ...] = CLASSES[:7]

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
