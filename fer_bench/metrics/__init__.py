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

__all__ = [
    "bootstrap_ci", "classification_metrics", "confusion_matrix", "metrics_from_confusion",
    "per_class_metrics", "top_k_accuracy",
]
