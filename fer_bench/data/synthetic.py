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
:func:`load` caches it. The parameters are sampled in :mod:`.synthetic_params` and drawn in
:mod:`.synthetic_render`; this module builds the dataset from them (identities, splits, cache).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import DataError
from .cache import cached, key_for
from .dataset import FaceDataset
from .synthetic_params import EMOTIONS
from .synthetic_render import render_faces

#: Registry declaration (read without importing this module: see fer_bench.registry). The
#: CNN parameters keep `run --suite all` on the default under 10 minutes on 2 idle cores while
#: every CNN learns; each was chosen on the synthetic validation identities (seed 0; val accuracy
#: and seconds on this 2-core machine): mini-Xception at 3e-3 rather than 1e-3 (83.4 % after
#: 20 cosine epochs, 119 s; 1e-3 needed 30 epochs for 79 %); the VGGs with the dense layers'
#: dropout lowered (`dense_dropout`), without which they stay at chance for the few hundred
#: steps a 1,460-image set gives (vgg-fer 0.4: 13.8 % after 5 epochs at 1e-3 or 3e-3; 0.1: 59.7 %;
#: 0.0 and 7 epochs: 67.5 %, 244 s; little-VGG 0.5: 36 % after 10 epochs, 0.1: 80.9 % after 8,
#: 139 s, and with the exact pool and batch-norm gradients 78.4 % after 8, 82.2 % after 10),
#: flips only (the renderer already varies pose), and vgg-fer with AdamW 5e-4 (best validation
#: epoch of 6, 129 s on an Intel 2-core machine: 1e-3 71.3 %, its first steps overshoot to a
#: loss of 2.9; 5e-4 82.5 %; 3e-4 80.9 %; 2e-3 stays at chance; 10 epochs at 1e-3 87.2 % but
#: 208 s, past the 10-minute run) and no ten-crop (ten times the scoring cost); cpu-vgg with the
#: little-VGG recipe at AdamW 5e-4 and no weight average (80.9 % after 10 epochs; at 1e-3 29.1 % after 6,
#: 3e-4 74.1 % after 8; see its small-data budget in fer_bench/pipelines/deep/factories.py).
PLUGINS = [{"kind": "dataset", "name": "synthetic", "target": "load", "order": 40,
            "summary": "Built-in procedurally rendered faces", "subdirs": [], "builtin": True,
            "pipeline_params": {
                "deep": {"epochs": 6, "lr_schedule": "cosine"},
                "mini-xception": {"epochs": 20, "learning_rate": 0.003},
                "little-vgg": {"epochs": 10, "batch_size": 32, "augment": "flip",
                               "dense_dropout": 0.1},
                "vgg-fer": {"epochs": 6, "batch_size": 32, "optimizer": "adamw",
                            "learning_rate": 0.0005, "weight_decay": 0.0, "augment": "flip",
                            "erasing": 0.0, "tta": None, "dense_dropout": 0.0},
                "cpu-vgg": {"epochs": 10, "batch_size": 32, "augment": "flip",
                            "dense_dropout": 0.1, "ema": 0.0, "learning_rate": 0.0005}}}]

#: Bump whenever the rendering (:mod:`.synthetic_params`, :mod:`.synthetic_render`) changes, so
#: cached copies of older renderings are not reused.
GENERATOR_VERSION = 1

#: Fractions of identities in the train / val / test splits.
SPLIT_FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}

#: Images per synthetic identity (on average).
IMAGES_PER_IDENTITY = 10


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
