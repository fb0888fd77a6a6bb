"""Metrics stage: scores of a prediction, as the JSON the result store keeps."""
from __future__ import annotations

from .bootstrap import bootstrap_ci
from .classification import (
    classification_metrics,
    confusion_matrix,
    metrics_from_confusion,
    per_class_metrics,
    top_k_accuracy,
)
from .degeneracy import DOMINANT_SHARE, MIN_SUPPORT_FOR_RECALL, degeneracy

__all__ = [
    "DOMINANT_SHARE", "MIN_SUPPORT_FOR_RECALL", "bootstrap_ci", "classification_metrics",
    "confusion_matrix", "degeneracy", "metrics_from_confusion", "per_class_metrics",
    "top_k_accuracy",
]
