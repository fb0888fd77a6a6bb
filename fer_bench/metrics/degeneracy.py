"""Flags for a run that has degenerated (e.g. one class predicted for every image).

A degenerate run's accuracy is no evidence that the model learnt anything: it is what a
constant or near-constant classifier scores on that test set. :func:`degeneracy` reads only the
confusion matrix, so records written before the flag existed are judged the same way.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

#: Share of the test images given one predicted class from which a run counts as degenerate: at
#: 90 % the model has all but collapsed onto that class (CK+ -> uncropped photos produced 100 %).
DOMINANT_SHARE = 0.9
#: Fewest test images a class needs before recall 0 on it is a flag: with 20 images, missing
#: every one is no longer bad luck of a small class (a 10 %-recall model misses all 20 in ~12 %
#: of runs; a 20 %-recall one in ~1 %).
MIN_SUPPORT_FOR_RECALL = 20


def degeneracy(confusion: np.ndarray | Sequence[Sequence[int]], classes: Sequence[str]
               ) -> list[str]:
    """Why a run's predictions are degenerate; empty when they are not.

    Parameters
    ----------
    confusion : array-like of shape (K, K)
        Counts ``C[i, j]`` of test images of true class ``i`` predicted as ``j``.
    classes : sequence of str, length K

    Returns
    -------
    list of str, one reason per finding, in this order:

    - one predicted class on at least :data:`DOMINANT_SHARE` of the test images, when fewer
      than that share of the images are of that class;
    - accuracy at or below the majority-class rate of the test set (what always answering its
      largest class scores; a one-class test set always trips this: no accuracy on it tells a
      model from a constant answer);
    - recall 0 on a class with at least :data:`MIN_SUPPORT_FOR_RECALL` test images (one reason
      per such class, in class order).

    An empty matrix (no test images) has nothing to judge and gives ``[]``.
    """
    cm = np.asarray(confusion, dtype=np.int64)
    classes = [str(c) for c in classes]
    if cm.ndim != 2 or cm.shape != (len(classes), len(classes)):
        raise ValueError(f"confusion must have shape ({len(classes)}, {len(classes)}), "
                         f"got {cm.shape}")
    n = int(cm.sum())
    if n == 0:
        return []
    support, predicted, hits = cm.sum(axis=1), cm.sum(axis=0), np.diag(cm)
    reasons = []
    top = int(np.argmax(predicted))
    share = predicted[top] / n  # correctly rounded, so 63 / 70 == 0.9 exactly
    # Only where that class is not itself that common: a good model on a test set that is 92 %
    # one class predicts it 92 % of the time (the majority-rate test judges that case).
    if share >= DOMINANT_SHARE and support[top] / n < DOMINANT_SHARE:
        reasons.append(f"predicts {classes[top]} for {100 * share:.1f} % of the {n} test images")
    major = int(np.argmax(support))
    if hits.sum() <= support[major]:  # integer counts: "at" is exact
        reasons.append(f"accuracy {100 * hits.sum() / n:.1f} % is at or below the "
                       f"majority-class rate {100 * support[major] / n:.1f} % "
                       f"({classes[major]})")
    for i, c in enumerate(classes):
        if support[i] >= MIN_SUPPORT_FOR_RECALL and hits[i] == 0:
            reasons.append(f"recall 0 on {c} ({support[i]} test images)")
    return reasons
