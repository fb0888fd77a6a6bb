"""Face stage: Haar-cascade detection, square crops and resizing shared by every pipeline."""
from __future__ import annotations

from .detect import detect_faces, load_cascade, to_gray
from .stage import FaceStage, apply_face_stage, equalize

__all__ = ["FaceStage", "apply_face_stage", "detect_faces", "equalize", "load_cascade", "to_gray"]
