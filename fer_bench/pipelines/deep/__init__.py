"""Deep pipelines: Flax CNNs trained with optax, wrapped as scikit-learn estimators.

Modules follow the Flax examples' layout: :mod:`.layers` (fast conv / pooling formulations),
:mod:`.networks` (the architectures), :mod:`.input_pipeline` (on-device augmentation and
batching), :mod:`.state` (configuration, train state, optimiser), :mod:`.train` (the jitted
train step and the epoch loop), :mod:`.checkpoint` (a run's signature, saving and resuming),
:mod:`.predict` (jitted inference and features), :mod:`.transfer` (starting from a trained
CNN), :mod:`.estimator` (``CNNClassifier``) and :mod:`.factories` (the registered CNNs).
Checkpoint and model files are written and read by :mod:`fer_bench.modelfile`.
"""
from __future__ import annotations

from .estimator import CNNClassifier
from .factories import make_cpu_vgg, make_little_vgg, make_mini_xception, make_vgg_fer

__all__ = [
    "CNNClassifier", "make_cpu_vgg", "make_little_vgg", "make_mini_xception", "make_vgg_fer",
]
