"""Result store: one JSON record per finished job, and the environment that produced it."""
from __future__ import annotations

from .environment import environment
from .store import ResultStore, load_records

__all__ = ["ResultStore", "environment", "load_records"]
