"""The registered CNN pipelines: :class:`~.estimator.CNNClassifier` with each network's
published training setup as its defaults, and their registry declarations."""
from __future__ import annotations

from typing import Any

from .estimator import CNNClassifier

_DEFAULTS: dict[str, dict[str, Any]] = {
    # The thesis's Keras setup: Adam 1e-3, ImageDataGenerator-style affine augmentation.
    "little-vgg": dict(epochs=60, batch_size=64, learning_rate=1e-3, patience=12,
                       lr_patience=5, lr_factor=0.5),
    # Arriaga et al.: Adam 1e-3, batch 32, rotation 10 / shift 0.1 / zoom 0.1 / flip,
    # early stopping patience 50 and LR x0.1 after patience/4 (shortened for a bounded budget).
    "mini-xception": dict(epochs=100, batch_size=32, learning_rate=1e-3, patience=25,
                          lr_patience=10, lr_factor=0.1),
    # Khaireddin & Chen: SGD + Nesterov 0.01, weight decay 1e-4, batch 64, LR x0.75 on a
    # 5-epoch plateau, rescale/shift 20 %, rotation 10, random erasing, ten-crop at test time.
    "vgg-fer": dict(epochs=300, batch_size=64, learning_rate=0.01, optimizer="sgd",
                    weight_decay=1e-4, patience=40, lr_patience=5, lr_factor=0.75,
                    max_shift=0.2, max_zoom=0.2, max_rotation=10.0, erasing=0.5, tta="tencrop"),
    # No published recipe: what the other two CPU budgets showed on PublicTest (mini-Xception:
    # a cosine decay over a fixed budget, an average of the weights and mirror test-time
    # averaging chosen on validation), AdamW 1e-3 as little-VGG's, batch 64 (per image the
    # fastest batch measured on 2 cores: 32 is as fast, 128 is 10-15 % slower).
    "cpu-vgg": dict(epochs=60, batch_size=64, learning_rate=1e-3, lr_schedule="cosine",
                    ema=0.999, tta="auto", patience=60),
}


def _make(arch: str, params: dict) -> CNNClassifier:
    if "arch" in params:
        raise TypeError("the factory fixes arch; use CNNClassifier(arch=...) to choose it")
    return CNNClassifier(arch=arch, **{**_DEFAULTS[arch], **params})


def make_little_vgg(**params: Any) -> CNNClassifier:
    """The thesis's little-VGG (``CNNClassifier`` parameters override the defaults)."""
    return _make("little-vgg", params)


def make_mini_xception(**params: Any) -> CNNClassifier:
    """Arriaga et al.'s mini-Xception (``CNNClassifier`` parameters override the defaults)."""
    return _make("mini-xception", params)


def make_vgg_fer(**params: Any) -> CNNClassifier:
    """The VGG-style network after Khaireddin & Chen 2021 (parameters override the defaults)."""
    return _make("vgg-fer", params)


def make_cpu_vgg(**params: Any) -> CNNClassifier:
    """The VGG sized for training on a CPU (:data:`~.networks.CPUVGG`; parameters override the
    defaults)."""
    return _make("cpu-vgg", params)


#: Registry declarations (read without importing this module: see fer_bench.registry). The
#: ``budgets`` are each CNN's own entries of ``run --budget`` (fer_bench.registry.BUDGETS
#: gives the family's where a CNN has none).
PLUGINS = [
    {"kind": "pipeline", "name": "little-vgg", "target": "make_little_vgg", "order": 110,
     "summary": "the thesis's little-VGG CNN (JAX/Flax)", "family": "deep",
     "published": (65.5, "the thesis, 25 epochs at batch 32"),
     "budgets": {
         "cpu": {"fer2013": {"epochs": 1}, "ckplus": {"epochs": 6}, "jaffe": {"epochs": 6}},
         "cpu-2h": {"fer2013": {"epochs": 22, "lr_schedule": "cosine"},
                    "ckplus": {"epochs": 6}, "jaffe": {"epochs": 6}},
     }},
    {"kind": "pipeline", "name": "mini-xception", "target": "make_mini_xception", "order": 120,
     "summary": "the thesis's mini-Xception residual CNN (JAX/Flax)", "family": "deep",
     "published": (66.0, "Arriaga et al. 2017"),
     "budgets": {
         "cpu": {"fer2013": {"epochs": 5}},
         "cpu-2h": {"fer2013": {"epochs": 90, "lr_schedule": "cosine", "ema": 0.999,
                                "tta": "auto"}},
     }},
    {"kind": "pipeline", "name": "vgg-fer", "target": "make_vgg_fer", "order": 130,
     "summary": "the strongest CNN here: a VGG-style net after Khaireddin & Chen 2021 "
                "(JAX/Flax)", "family": "deep",
     "published": (73.28, "Khaireddin & Chen 2021, on a GPU budget"),
     "budgets": {
         "cpu": {"fer2013": {"epochs": 1, "tta": None}, "ckplus": {"epochs": 3, "tta": None},
                 "jaffe": {"epochs": 3, "tta": None}},
         "cpu-2h": {"fer2013": {"epochs": 10, "lr_schedule": "cosine", "tta": None},
                    "ckplus": {"epochs": 3, "tta": None}, "jaffe": {"epochs": 3, "tta": None}},
     }},
    {"kind": "pipeline", "name": "cpu-vgg", "target": "make_cpu_vgg", "order": 125,
     "summary": "a VGG sized for training on 2 CPU cores: width and depth where XLA's CPU "
                "convolutions run fast (JAX/Flax)", "family": "deep",
     "budgets": {
         # 27 epochs: ~230 s each on 2 idle cores (136 images/s at batch 64, plus validation).
         "cpu-2h": {"fer2013": {"epochs": 27}},
     }},
]
