"""A model's face framing, measured on its own training crops, so detected faces are cut alike.

Pre-cropped datasets (FER2013, CK+48) come with a framing of their own: how much of the crop
the face fills and where it sits. A model trained on them and shown a face found by the Haar
cascade in a photo sees that face framed by the face stage's ``margin`` instead, and loses
most of its accuracy when the two differ. This module measures the training framing in the
detector's own terms: it runs the same cascade on a seeded sample of the training crops
(upscaled, and padded by replicating their border so a face that fills the crop still fits the
detector's window) and takes the median ratio of the box side to the crop side
(``box_scale``) and the box centre's vertical offset from the crop centre, as a fraction of the
crop side (``box_offset``, positive when the box sits low). The face stage then cuts a face
found in a new image as a square of side ``box / box_scale`` centred ``box_offset`` sides above
the box centre: the crop the detector would have seen in the training set.

Measured with the defaults below (300 crops, seed 0): FER2013 Training's box is 0.969 of its crop
(found in 226 of 300), CK+48's 1.010 (300 of 300), both centred within 1 % of the side: the
crops are about the detector's box, where ``margin=0.2`` makes them 1.4 times wider.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

from ..atomic import write_text
from ..data.cache import cache_dir

#: Training crops sampled for the measurement (seeded): FER2013's median box is the same to
#: four digits from 300 crops as from 1,000, and a measurement costs a few seconds.
N_SAMPLE = 300
#: Side the crops are upscaled to before detection (the cascade's 24 px window needs room;
#: 96 and 192 px give the same medians on FER2013, 192 at twice the cost).
UPSCALE = 96
#: Border added on each side, as a fraction of the upscaled side, by replicating the edge: a
#: face that fills its crop is otherwise cut by the image border and never detected.
PAD = 0.5
#: Fewest detections a measurement needs; with fewer the stage keeps its margin.
MIN_FOUND = 20
#: Bump when the measurement changes, so cached framings are measured again.
FRAMING_VERSION = 1
#: Measurements made in this process, by cache key.
_MEMO: dict[str, dict | None] = {}
#: ``box_scale`` and ``box_offset`` values a face stage accepts (and a model file may hold).
SCALE_RANGE = (0.25, 2.0)
OFFSET_RANGE = (-0.5, 0.5)


def measure_framing(crops: np.ndarray, seed: int = 0, n_sample: int = N_SAMPLE) -> dict | None:
    """The framing of ``(N, S, S)`` uint8 face crops in the Haar cascade's terms.

    Returns ``{"box_scale", "box_offset", "found", "sampled"}``: the median box-to-crop side
    ratio and vertical centre offset over the sampled crops where the cascade found a face
    centred inside the crop, and how many it found of how many it tried. None when it found
    fewer than :data:`MIN_FOUND` (the crops are no faces the cascade knows, or too few).
    Measurements are cached on disk by the sampled crops' content.
    """
    crops = np.asarray(crops)
    if crops.ndim != 3 or len(crops) == 0:
        return None
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(len(crops), size=min(n_sample, len(crops)), replace=False))
    sample = np.ascontiguousarray(crops[take])
    key = hashlib.sha256(b"%d:%d:%g:" % (FRAMING_VERSION, UPSCALE, PAD) + sample.tobytes()
                         + str(sample.shape).encode()).hexdigest()[:24]
    path = cache_dir() / "framing" / f"{key}.json"
    if key in _MEMO:
        return _MEMO[key]
    try:
        found = json.loads(path.read_text())
        if found is None or set(found) == {"box_scale", "box_offset", "found", "sampled"}:
            _MEMO[key] = found
            return found
    except (OSError, ValueError):
        pass  # not measured yet, or a damaged entry: measure
    result = _measure(sample)
    _MEMO[key] = result
    try:
        write_text(path, json.dumps(result))
    except OSError:
        pass  # a read-only cache only costs time
    return result


def _measure(sample: np.ndarray) -> dict | None:
    import cv2

    from .detect import detect_faces

    pad = int(round(UPSCALE * PAD))
    scales, offsets = [], []
    for crop in sample:
        up = cv2.resize(crop, (UPSCALE, UPSCALE), interpolation=cv2.INTER_CUBIC)
        canvas = cv2.copyMakeBorder(up, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        for x, y, w, h in detect_faces(canvas, min_size=UPSCALE // 2):
            cx, cy = x + w / 2 - pad, y + h / 2 - pad
            if 0 <= cx < UPSCALE and 0 <= cy < UPSCALE:  # the crop's face, not the border's
                scales.append(max(w, h) / UPSCALE)
                offsets.append((cy - UPSCALE / 2) / UPSCALE)
                break
    if len(scales) < MIN_FOUND:
        return None
    scale = float(np.clip(np.median(scales), *SCALE_RANGE))
    offset = float(np.clip(np.median(offsets), *OFFSET_RANGE))
    return {"box_scale": round(scale, 4), "box_offset": round(offset, 4),
            "found": len(scales), "sampled": int(len(sample))}


def stage_params(framing: dict | None) -> dict:
    """The face-stage parameters that apply a measured ``framing`` (``{}`` for None)."""
    if not framing:
        return {}
    return {"box_scale": framing["box_scale"], "box_offset": framing["box_offset"]}
