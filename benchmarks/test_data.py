"""Data stage: loading FER2013 by decoding every JPEG ("cold") against reading the ``.npz``
cache ("cached"), on the real release when one is configured, else on a fake release."""
from __future__ import annotations

import pytest

from fer_bench.data import load_dataset


@pytest.fixture(scope="module")
def fer2013_root(real_data_root, fake_fer2013_root, sizes):
    """The real release for full runs when present; the fake one otherwise (and in smoke runs,
    where decoding 35,887 JPEGs would take far more than a few seconds)."""
    if real_data_root is not None and not sizes.small:
        return real_data_root, "real"
    return fake_fer2013_root, "fake"


@pytest.mark.benchmark(group="data: FER2013 load")
@pytest.mark.parametrize("cached", [False, True], ids=["cold-decode", "cached"])
def test_fer2013_load(measure, fer2013_root, cached):
    root, which = fer2013_root
    if cached:
        load_dataset("fer2013", root, cache=True)  # fill the session's cache
    n = len(load_dataset("fer2013", root, cache=cached))
    measure(lambda: load_dataset("fer2013", root, cache=cached), kind="data-load", items=n,
            unit="images", variant="cached" if cached else "cold", release=which)
