"""Canonical emotion classes, name synonyms and label views.

Every loader returns labels in one canonical space (FER2013's order 0..6, plus contempt = 7 for
CK+). A :class:`LabelView` maps that space onto the classes a benchmark is scored on
(``7class``, ``6class``, ``valence3``, ``ckplus8``); samples whose class has no place in a view
are dropped by it, and the view says which.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Canonical class names; the index is the canonical label (FER2013's ``emotion`` codes 0..6).
CLASSES: tuple[str, ...] = (
    "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "contempt",
)
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}

# Folder / file-name spellings found in the wild, matched case-insensitively.
SYNONYMS: dict[str, str] = {
    "anger": "angry", "angry": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "neutral": "neutral", "calm": "neutral",
    "contempt": "contempt",
}


def canonical_label(name: str) -> int:
    """Canonical label index of a class name or synonym, e.g. ``"Sadness"`` -> 4.

    Raises ``KeyError`` for a name no synonym matches.
    """
    key = name.strip().lower()
    if key not in SYNONYMS:
        raise KeyError(name)
    return CLASS_INDEX[SYNONYMS[key]]


@dataclass(frozen=True)
class LabelView:
    """A mapping from canonical labels onto the classes a benchmark is scored on.

    ``mapping[c]`` is the view label of canonical class ``c`` or -1 when the view drops it.
    """

    name: str
    classes: tuple[str, ...]
    mapping: tuple[int, ...]
    description: str = ""

    def apply(self, labels: np.ndarray) -> np.ndarray:
        """Map canonical labels (N,) to view labels (N,); dropped classes become -1."""
        table = np.asarray(self.mapping, dtype=np.int64)
        return table[np.asarray(labels, dtype=np.int64)]

    def dropped(self) -> tuple[str, ...]:
        """Canonical classes this view has no place for."""
        return tuple(CLASSES[c] for c, v in enumerate(self.mapping) if v < 0)

    def restrict(self, keep: tuple[str, ...], name: str | None = None) -> "LabelView":
        """This view narrowed to the view classes in ``keep`` (order kept), renumbered."""
        kept = [c for c in self.classes if c in keep]
        new_index = {c: i for i, c in enumerate(kept)}
        mapping = tuple(
            new_index.get(self.classes[v], -1) if v >= 0 else -1 for v in self.mapping
        )
        return LabelView(name or f"{self.name}∩", tuple(kept), mapping, self.description)


def _view(name: str, groups: dict[str, tuple[str, ...]], description: str) -> LabelView:
    classes = tuple(groups)
    mapping = [-1] * len(CLASSES)
    for v, members in enumerate(groups.values()):
        for member in members:
            mapping[CLASS_INDEX[member]] = v
    return LabelView(name, classes, tuple(mapping), description)


VIEWS: dict[str, LabelView] = {
    v.name: v
    for v in (
        _view(
            "7class",
            {c: (c,) for c in CLASSES[:7]},
            "FER2013's seven basic emotions; contempt is dropped.",
        ),
        _view(
            "6class",
            {
                "angry": ("angry", "disgust"), "fear": ("fear",), "happy": ("happy",),
                "sad": ("sad",), "surprise": ("surprise",), "neutral": ("neutral",),
            },
            "Disgust merged into angry (as in the thesis); contempt is dropped.",
        ),
        _view(
            "valence3",
            {
                "positive": ("happy", "surprise"),
                "neutral": ("neutral",),
                "negative": ("angry", "disgust", "fear", "sad", "contempt"),
            },
            "positive = happy, surprise; neutral = neutral; "
            "negative = angry, disgust, fear, sad, contempt.",
        ),
        _view(
            "ckplus8",
            {c: (c,) for c in CLASSES},
            "All eight classes including CK+'s contempt.",
        ),
    )
}


def get_view(name: str) -> LabelView:
    """The registered label view called ``name``."""
    try:
        return VIEWS[name]
    except KeyError:
        raise KeyError(f"unknown label view {name!r}; choose one of {', '.join(VIEWS)}") from None
