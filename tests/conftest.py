"""Shared fixtures: the real datasets beside the repo (integration tests skip without them)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("FER_BENCH_SHARED", Path(__file__).resolve().parents[2] / "shared" / "datasets"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Every test gets its own cache dir, so tests never see each other's (or the user's) cache.
    monkeypatch.setenv("FER_BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def shared_root() -> Path:
    """``../shared/datasets``; integration tests using it are skipped when it is absent."""
    if not (SHARED / "fer2013").is_dir():
        pytest.skip(f"real datasets not found at {SHARED}")
    return SHARED
