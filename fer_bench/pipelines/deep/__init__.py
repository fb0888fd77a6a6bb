"""Deep pipelines: Flax CNNs trained with optax, wrapped as scikit-learn estimators.

Modules follow the Flax examples' layout: :mod:`.layers` (fast conv / pooling formulations),
:mod:`.models` (the architectures), :mod:`.input_pipeline` (on-device augmentation and
batching), :mod:`.train` (train state, jitted steps, the epoch loop), :mod:`.checkpoint`
(msgpack checkpoints) and :mod:`.estimator` (``CNNClassifier``, the registered factories and
model files).
"""
from __future__ import annotations

from .estimator import (
    CNNClassifier, load_model, make_little_vgg, make_mini_xception, make_vgg_fer, save_model,
)
from .train import save_curves

__all__ = [
    "CNNClassifier", "load_model", "make_little_vgg", "make_mini_xception", "make_vgg_fer",
    "save_curves", "save_model",
]
