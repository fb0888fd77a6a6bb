"""Metrics stage: scores of a prediction, as the JSON the result store keeps."""
from __future__ import annotations

from .bootstrap import bootstrap_ci
from .calibration import (
    apply_temperature, expected_calibration_error, fit_temperature, reliability_bins,
    second_guess,
)
from .classification import (
    classification_metrics,
    confusion_matrix,
    metrics_from_confusion,
    per_class_metrics,
    top_k_accuracy,
)
from .degeneracy import DOMINANT_SHARE, MIN_SUPPORT_FOR_RECALL, degeneracy
from .significance import (
    average_ranks, cd_cliques, corrected_resampled_ttest, friedman, holm, mcnemar_exact,
    nemenyi_cd,
)

__all__ = [
    "DOMINANT_SHARE", "MIN_SUPPORT_FOR_RECALL", "apply_temperature", "average_ranks",
    "bootstrap_ci", "cd_cliques", "classification_metrics", "confusion_matrix",
    "corrected_resampled_ttest", "degeneracy", "expected_calibration_error", "fit_temperature",
    "friedman", "holm", "mcnemar_exact", "metrics_from_confusion",
    "nemenyi_cd", "per_class_metrics", "reliability_bins", "second_guess", "top_k_accuracy",
]
