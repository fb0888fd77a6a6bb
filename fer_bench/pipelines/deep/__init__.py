"""Deep pipelines: Flax CNNs trained with optax, wrapped as scikit-learn estimators.

Modules follow the Flax examples' layout: :mod:`.layers` (fast conv / pooling formulations),
:mod:`.models` (the architectures), :mod:`.input_pipeline` (on-device augmentation and
batching), :mod:`.train` (train state, jitted steps, the epoch loop) and :mod:`.estimator`
(``CNNClassifier`` and the registered factories). Checkpoints and model files are written and
read by :mod:`fer_bench.modelfile`.
"""
from __future__ import annotations

from .estimator import CNNClassifier, make_little_vgg, make_mini_xception, make_vgg_fer

__all__ = [
    "CNNClassifier", "make_little_vgg", "make_mini_xception", "make_vgg_fer",
]
