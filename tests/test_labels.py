"""Label views: every canonical class lands where the documentation says."""
from __future__ import annotations

import numpy as np
import pytest

from fer_bench.data.labels import CLASSES, VIEWS, canonical_label, get_view


def test_canonical_order_is_fer2013s():
    assert CLASSES[:7] == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert CLASSES[7] == "contempt"


@pytest.mark.parametrize("name,label", [("Anger", 0), ("sadness", 4), ("HAPPINESS", 3),
                                        ("surprised", 5), ("fearful", 2), ("disgusted", 1),
                                        ("contempt", 7), ("neutral", 6)])
def test_synonyms(name, label):
    assert canonical_label(name) == label


def test_unknown_name():
    with pytest.raises(KeyError):
        canonical_label("bored")


def test_views():
    labels = np.arange(8)
    assert list(get_view("7class").apply(labels)) == [0, 1, 2, 3, 4, 5, 6, -1]
    six = get_view("6class")
    assert six.classes[six.apply([1])[0]] == "angry"  # disgust merged into angry
    valence = get_view("valence3")
    assert [valence.classes[v] for v in valence.apply(labels)] == [
        "negative", "negative", "negative", "positive", "negative", "positive", "neutral", "negative"]
    assert get_view("ckplus8").dropped() == ()
    assert get_view("7class").dropped() == ("contempt",)


def test_restrict_renumbers():
    view = get_view("7class").restrict(("happy", "sad"))
    assert view.classes == ("happy", "sad")
    assert list(view.apply(np.array([3, 4, 0]))) == [0, 1, -1]


def test_unknown_view():
    with pytest.raises(KeyError, match="7class"):
        get_view("9class")
    assert set(VIEWS) == {"7class", "6class", "valence3", "ckplus8"}
