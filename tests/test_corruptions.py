"""Graded face corruptions: contract, determinism, severity ordering and the physical levels."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_bench.data.corruptions import CORRUPTIONS, SEVERITIES, corrupt, parameter

NAMES = ("gaussian_noise", "blur", "jpeg", "brightness", "contrast", "low_resolution",
         "rotation", "occlude_eyes", "occlude_mouth", "occlude_patch")
STOCHASTIC = ("gaussian_noise", "brightness", "rotation", "occlude_patch")


def face_like(n: int, h: int = 48, w: int = 48, seed: int = 0) -> np.ndarray:
    """``(n, h, w)`` uint8 smooth images: blurred noise (texture) plus a vertical gradient."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, h, w), np.uint8)
    ramp = np.linspace(-30, 30, h)[:, None]
    for i in range(n):
        texture = cv2.GaussianBlur(rng.normal(0, 1, (h, w)), (0, 0), 1.5)
        texture *= 40 / texture.std()
        out[i] = np.clip(128 + texture + ramp * rng.uniform(-1, 1), 0, 255).round()
    return out


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    return face_like(96)


def _damage(clean: np.ndarray, dirty: np.ndarray) -> float:
    return float(np.abs(dirty.astype(float) - clean).mean())


def test_registry_names_and_levels():
    assert tuple(CORRUPTIONS) == NAMES
    assert SEVERITIES == (1, 2, 3, 4, 5)
    for name, c in CORRUPTIONS.items():
        assert c.name == name and c.description and c.group and c.unit
        assert len(c.params) == 5
    table = {"gaussian_noise": (8, 16, 24, 32, 48), "blur": (0.5, 1, 1.5, 2, 3),
             "jpeg": (30, 20, 12, 8, 5), "contrast": (0.7, 0.5, 0.35, 0.25, 0.15),
             "low_resolution": (1.5, 2, 3, 4, 6), "rotation": (5, 10, 15, 20, 30)}
    for name, levels in table.items():
        assert tuple(parameter(name, s) for s in SEVERITIES) == levels
    assert isinstance(parameter("jpeg", 1), float)


@pytest.mark.parametrize("name", NAMES)
def test_severity_zero_is_an_unchanged_copy(faces, name):
    out = corrupt(faces, name, 0, seed=3)
    assert out is not faces and not np.shares_memory(out, faces)
    np.testing.assert_array_equal(out, faces)


@pytest.mark.parametrize("name", NAMES)
def test_contract_shape_dtype_input_untouched(faces, name):
    frozen = faces[:8].copy()
    frozen.flags.writeable = False  # any in-place write into the input raises
    for s in SEVERITIES:
        out = corrupt(frozen, name, s)
        assert out.shape == frozen.shape and out.dtype == np.uint8
        assert not np.shares_memory(out, frozen)
    np.testing.assert_array_equal(frozen, faces[:8])


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_output(faces, name):
    for s in SEVERITIES:
        np.testing.assert_array_equal(corrupt(faces, name, s, seed=7), corrupt(faces, name, s, seed=7))


@pytest.mark.parametrize("name", NAMES)
def test_seed_matters_only_for_stochastic(faces, name):
    a, b = corrupt(faces, name, 3, seed=0), corrupt(faces, name, 3, seed=1)
    if name in STOCHASTIC:
        assert not np.array_equal(a, b)
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_batch_prefix_is_corrupted_the_same(faces, name):
    # every draw is per image, so evaluating in chunks starting at 0 gives the same images
    np.testing.assert_array_equal(corrupt(faces[:10], name, 4, seed=2),
                                  corrupt(faces, name, 4, seed=2)[:10])


@pytest.mark.parametrize("name", NAMES)
def test_empty_batch(name):
    empty = np.zeros((0, 48, 48), np.uint8)
    for s in (0, 1, 5):
        out = corrupt(empty, name, s)
        assert out.shape == (0, 48, 48) and out.dtype == np.uint8


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(64, 64), (40, 56), (8, 8), (8, 13)])
def test_other_sizes(name, shape):
    small = face_like(4, *shape, seed=1)
    for s in SEVERITIES:
        out = corrupt(small, name, s)
        assert out.shape == small.shape and out.dtype == np.uint8
    assert not np.array_equal(corrupt(small, name, 5), small)


@pytest.mark.parametrize("name", NAMES)
def test_damage_grows_with_severity(faces, name):
    damage = [_damage(faces, corrupt(faces, name, s)) for s in SEVERITIES]
    assert damage[0] > 0, damage
    assert all(b >= a for a, b in zip(damage, damage[1:])), damage
    assert damage[-1] > 1.5 * damage[0], damage


def test_occlusions_stay_in_their_half(faces):
    h = faces.shape[1]
    bright = np.maximum(faces, 1)  # no natural zeros, so every 0 comes from the occluder
    for s in SEVERITIES:
        eyes, mouth = (corrupt(bright, n, s) == 0 for n in ("occlude_eyes", "occlude_mouth"))
        assert eyes[:, : h // 2].any() and not eyes[:, h // 2:].any()
        assert mouth[:, h // 2:].any() and not mouth[:, : h // 2].any()
        assert eyes[:, round(0.35 * h)].all() and mouth[:, round(0.75 * h)].all()  # full width
    for h_odd in (9, 11, 47):  # odd heights: the half boundary falls mid-row
        odd = np.full((2, h_odd, 20), 200, np.uint8)
        rows_e = np.nonzero((corrupt(odd, "occlude_eyes", 5) == 0).any(axis=(0, 2)))[0]
        rows_m = np.nonzero((corrupt(odd, "occlude_mouth", 5) == 0).any(axis=(0, 2)))[0]
        assert rows_e.size and rows_e.max() < h_odd / 2 and rows_m.min() >= h_odd / 2


def test_patch_is_a_square_of_the_listed_side(faces):
    bright = np.maximum(faces, 1)
    for s in SEVERITIES:
        side = round(parameter("occlude_patch", s) * 48)
        assert ((corrupt(bright, "occlude_patch", s) == 0).sum(axis=(1, 2)) == side * side).all()


def test_jpeg_and_low_resolution(faces):
    assert not np.array_equal(corrupt(faces, "jpeg", 5), faces)
    low = corrupt(faces, "low_resolution", 5)
    assert low.shape == faces.shape and not np.array_equal(low, faces)


def test_physical_levels():
    grey = np.full((200, 48, 48), 128, np.uint8)
    noisy = corrupt(grey, "gaussian_noise", 2).astype(float) - 128
    assert abs(noisy.std() - 16) < 0.5 and abs(noisy.mean()) < 0.5
    shifts = corrupt(grey, "brightness", 1).astype(int) - 128
    assert set(np.unique(shifts)) == {-25, 25}  # both signs occur, one shift per image
    assert (shifts == shifts[:, :1, :1]).all()
    rotated = corrupt(grey, "rotation", 5)
    np.testing.assert_array_equal(rotated, grey)  # reflected border: no black corners
    lowc = corrupt(face_like(8), "contrast", 5).astype(float)
    np.testing.assert_allclose(lowc.mean(axis=(1, 2)), face_like(8).mean(axis=(1, 2)), atol=0.6)


def test_blur_scales_with_face_size():
    face = face_like(1, 48, 48, seed=4)
    big = cv2.resize(face[0], (96, 96), interpolation=cv2.INTER_CUBIC)[None]
    blurred_small = corrupt(face, "blur", 5).astype(float)
    blurred_big = cv2.resize(corrupt(big, "blur", 5)[0], (48, 48), interpolation=cv2.INTER_AREA)
    # the same relative blur: the big face blurred and shrunk matches the small one blurred
    assert np.abs(blurred_big - blurred_small).mean() < 2.0
    assert np.abs(corrupt(face, "blur", 2).astype(float) - blurred_small).mean() > 4.0


def test_invalid_arguments(faces):
    with pytest.raises(ValueError, match="valid names: gaussian_noise, blur.*occlude_patch"):
        corrupt(faces, "fog", 1)
    with pytest.raises(ValueError, match="occlude_eyes"):
        parameter("snow", 1)
    for bad in (-1, 6, 2.0, True, None):
        with pytest.raises(ValueError, match="severity"):
            corrupt(faces, "blur", bad)
    with pytest.raises(ValueError, match="severity"):
        parameter("blur", 0)
    with pytest.raises(ValueError, match="uint8"):
        corrupt(faces.astype(np.float32), "blur", 1)
    with pytest.raises(ValueError, match="H, W >= 8"):
        corrupt(faces[:, :7], "blur", 1)
    with pytest.raises(ValueError, match="uint8"):
        corrupt(faces[0], "blur", 1)
