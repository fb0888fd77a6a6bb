"""The CNN architectures, the fast layer formulations and the on-device augmentation."""
from __future__ import annotations

import hashlib
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen as nn

from fer_bench.pipelines.deep import input_pipeline as ip
from fer_bench.pipelines.deep import batch_norm, layers
from fer_bench.pipelines.deep import networks, transfer
from fer_bench.pipelines.deep.networks import ARCHITECTURES, build_model, count_params, init_variables


def _shapes(arch: str, num_classes: int, batch: int = 2):
    """Parameter tree and output spec of ``arch`` without computing anything (eval_shape)."""
    model = build_model(arch, num_classes)
    variables = jax.eval_shape(partial(init_variables, model))
    out = jax.eval_shape(partial(model.apply, train=False), variables,
                         jax.ShapeDtypeStruct((batch, 48, 48, 1), jnp.float32))
    return variables, out


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("num_classes", [3, 7])
def test_output_shape_is_logits_per_class(arch, num_classes):
    _, out = _shapes(arch, num_classes, batch=5)
    assert out.shape == (5, num_classes)
    assert out.dtype == jnp.float32


def test_parameter_counts():
    counts = {arch: count_params(_shapes(arch, 7)[0]["params"]) for arch in ARCHITECTURES}
    # Arriaga et al. report 56,951 trainable parameters (Keras counts BN scale and offset).
    assert abs(counts["mini-xception"] - 57_000) / 57_000 < 0.03
    assert counts["mini-xception"] == 56_951
    # The thesis's little-VGG: ~1.33 M; vgg-fer stays small enough for CPU inference.
    assert 1.2e6 < counts["little-vgg"] < 1.45e6
    assert 2e6 < counts["vgg-fer"] < 5e6
    assert 2e6 < counts["cpu-vgg"] < 3e6
    assert count_params(_shapes("mini-xception", 3)[0]["params"]) < counts["mini-xception"]


def test_unknown_architecture_is_named():
    with pytest.raises(ValueError, match="mini-xception"):
        build_model("resnet", 7)


#: Per architecture (7 classes): parameter count, number of variables, a digest of every
#: variable's path, shape and dtype, and the classifier's name. Model files and checkpoints
#: store weights under these paths: a change here makes every saved CNN unreadable.
TREES = {
    "little-vgg": (1_325_991, 62, "dc54427574e515d7", "Dense_2"),
    "mini-xception": (56_951, 80, "a69113c63d53200e", "Conv_6"),
    "vgg-fer": (3_589_367, 46, "abaaff7c612e2a82", "Dense_2"),
    "cpu-vgg": (2_493_287, 49, "8a3228ea9e03cd41", "Dense_1"),
}


def _tree_digest(variables) -> tuple[int, str]:
    leaves = jax.tree_util.tree_flatten_with_path(variables)[0]
    rows = [f"{jax.tree_util.keystr(path)}:{leaf.shape}:{np.dtype(leaf.dtype).str}"
            for path, leaf in leaves]
    return len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


@pytest.mark.parametrize("arch", sorted(TREES))
def test_variable_trees_are_those_saved_models_hold(arch):
    variables, _ = _shapes(arch, 7)
    count, leaves, digest, head = TREES[arch]
    assert count_params(variables["params"]) == count
    assert _tree_digest(variables) == (leaves, digest)
    assert transfer.head_name(build_model(arch, 7)) == head
    # The classifier is the one layer whose shapes follow the number of classes.
    three = _shapes(arch, 3)[0]["params"]
    assert [name for name in variables["params"] if jax.tree_util.tree_map(
        jnp.shape, three[name]) != jax.tree_util.tree_map(jnp.shape, variables["params"][name])
    ] == [head]


#: The first image's logits of the seeded (seed 0) networks on a fixed batch, as computed before
#: little-VGG and vgg-fer became variants of one VGG module.
LOGITS = {
    "little-vgg": [-0.26888, 1.03114, 6.0012, -0.44358, -1.40062, -7.05168, 6.88796],
    "mini-xception": [0.61563, 0.35235, 0.42383, 0.62903, 0.61464, 0.62465, 0.83594],
    "vgg-fer": [1.03025, -2.27181, -0.34851, 1.42325, -2.49752, -0.29141, -2.55954],
    "cpu-vgg": [2.14084, 3.83628, 2.85438, -1.50082, -2.11261, 2.17986, 0.08555],  # as added
}
FEATURE_WIDTHS = {"little-vgg": 64, "mini-xception": 128, "vgg-fer": 256, "cpu-vgg": 256}


@pytest.mark.slow  # initialises and runs the four real networks (~15 s on 2 cores)
@pytest.mark.parametrize("arch", sorted(LOGITS))
def test_seeded_forward_pass_and_features_are_unchanged(arch):
    x = jnp.asarray(np.random.default_rng(0).random((4, 48, 48, 1)), jnp.float32)
    model = build_model(arch, 7)
    variables = jax.jit(partial(init_variables, model, 0))()
    logits, sown = jax.jit(partial(model.apply, train=False, mutable=[networks.FEATURES]))(
        variables, x)
    np.testing.assert_allclose(logits[0], LOGITS[arch], rtol=1e-4, atol=1e-4)
    assert sown[networks.FEATURES]["features"][0].shape == (4, FEATURE_WIDTHS[arch])


def test_vgg_variants_are_one_module():
    little, fer = build_model("little-vgg", 7), build_model("vgg-fer", 7)
    assert type(little) is type(fer) is networks.VGG
    assert little == networks.VGG(num_classes=7, **ARCHITECTURES["little-vgg"].keywords)
    assert little.widths == (32, 64, 128, 256) and fer.widths == (48, 96, 192, 384)
    cpu = build_model("cpu-vgg", 7)
    assert type(cpu) is networks.VGG and cpu.convs == (1, 2, 3, 3)


def test_vgg_conv_counts_are_one_per_stage():
    x = jnp.zeros((1, 48, 48, 1))
    one_each = networks.VGG(widths=(8, 16), convs=(1, 2), dense=8, dense_layers=1)
    convs = [k for k in one_each.init(jax.random.key(0), x)["params"] if k.startswith("Conv")]
    assert len(convs) == 3
    with pytest.raises(ValueError, match="3 conv counts for 2 stages"):
        networks.VGG(widths=(8, 16), convs=(1, 2, 2)).init(jax.random.key(0), x)


class _Plain(nn.Module):
    """A network with neither dtype nor impl: the smallest one the convention allows."""

    num_classes: int = 7

    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.Dense(self.num_classes, name=networks.HEAD)(x.reshape(x.shape[0], -1))


class _NoClasses(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.Dense(7)(x.reshape(x.shape[0], -1))


def test_build_model_passes_only_what_a_network_declares(monkeypatch):
    monkeypatch.setitem(ARCHITECTURES, "plain", _Plain)
    monkeypatch.setitem(ARCHITECTURES, "no-classes", _NoClasses)
    assert build_model("plain", 3) == _Plain(num_classes=3)
    assert build_model("plain", 3, jnp.dtype("float32")) == _Plain(num_classes=3)
    with pytest.raises(ValueError, match="'plain' has no impl setting.*impl='lax'"):
        build_model("plain", 3, impl="lax")
    with pytest.raises(ValueError, match="'plain' has no dtype setting"):
        build_model("plain", 3, jnp.bfloat16)
    with pytest.raises(ValueError, match="'no-classes' takes no num_classes"):
        build_model("no-classes", 3)
    assert build_model("vgg-fer", 3, impl="lax").impl == "lax"


def _rand(shape, seed):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def _grouped_conv(x, k):
    return jax.lax.conv_general_dilated(
        x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=x.shape[-1])


@pytest.mark.parametrize("fused", [True, False])
def test_channel_sums_equal_numpy_sums(fused):
    xs = [np.asarray(_rand((3, 5, 4, 6), seed)) for seed in range(3)]
    sums = jax.jit(partial(layers.channel_sums, fused=fused))(*xs)
    assert len(sums) == 3
    for got, x in zip(sums, xs):
        assert got.shape == (6,)
        np.testing.assert_allclose(got, x.sum(axis=(0, 1, 2)), rtol=1e-5, atol=1e-5)


def test_depthwise_shift_equals_grouped_conv_forward_and_gradient():
    x, k, probe = _rand((3, 9, 7, 5), 0), _rand((3, 3, 1, 5), 1), _rand((3, 9, 7, 5), 2)
    np.testing.assert_allclose(layers.depthwise_conv3x3(x, k), _grouped_conv(x, k), atol=1e-5)

    def loss(f, x, k):
        return jnp.sum(f(x, k) * probe)

    g_fast = jax.grad(partial(loss, layers.depthwise_conv3x3), argnums=(0, 1))(x, k)
    g_ref = jax.grad(partial(loss, _grouped_conv), argnums=(0, 1))(x, k)
    for a, b in zip(g_fast, g_ref):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("impl", ["im2col", "shift", "blocked"])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("cin", [1, 3])
def test_fast_conv_equals_lax_conv(impl, padding, cin, monkeypatch):
    # 100 positions per kernel-gradient block: 2 images of 8x6 ('VALID': 3 of 6x4), so the
    # batch of 5 splits into full blocks and a remainder.
    monkeypatch.setattr(layers, "KERNEL_GRAD_BLOCK", 100)
    x, k = _rand((5, 8, 6, cin), 3), _rand((3, 3, cin, 4), 4)
    fast = layers.conv2d(x, k, padding, impl=impl)
    ref = layers.conv2d(x, k, padding, impl="lax")
    np.testing.assert_allclose(fast, ref, atol=1e-5)
    probe = _rand(ref.shape, 5)
    g = [jax.grad(lambda x, k, i=i: jnp.sum(layers.conv2d(x, k, padding, i) * probe),
                  argnums=(0, 1))(x, k) for i in (impl, "lax")]
    for a, b in zip(*g):
        np.testing.assert_allclose(a, b, atol=1e-4)


#: (pool, its reduce_window window and padding, input H x W, seed): 3x3/2 'SAME' over the
#: sizes mini-Xception meets, 2x2/2 'VALID' with odd and non-square inputs.
POOLS = [(layers.max_pool_3x3_s2, (3, 3), "SAME", (size, size), size) for size in (44, 22, 11, 6, 5)
         ] + [(layers.max_pool_2x2, (2, 2), "VALID", shape, 9)
              for shape in ((8, 8), (7, 7), (7, 8), (8, 5))]


@pytest.mark.parametrize("pool, window, padding, shape, seed", POOLS)
def test_max_pools_equal_reduce_window(pool, window, padding, shape, seed):
    x = _rand((2, *shape, 3), seed)
    ref = nn.max_pool(x, window, (2, 2), padding)
    np.testing.assert_array_equal(pool(x), ref)
    probe = _rand(ref.shape, 7)
    g_fast = jax.grad(lambda x: jnp.sum(pool(x) * probe))(x)
    g_ref = jax.grad(lambda x: jnp.sum(nn.max_pool(x, window, (2, 2), padding) * probe))(x)
    np.testing.assert_allclose(g_fast, g_ref, atol=1e-6)


def test_pools_route_each_window_gradient_to_one_input_and_keep_nans():
    zeros = jnp.zeros((1, 4, 4, 1))  # all ties, as after a ReLU
    for pool in (layers.max_pool_2x2, layers.max_pool_3x3_s2):
        g = jax.jit(jax.grad(lambda x, pool=pool: jnp.sum(pool(x))))(zeros)
        assert float(g.sum()) == pool(zeros).size and set(np.unique(g)) <= {0.0, 1.0}
        assert np.isnan(pool(zeros.at[0, 1, 1, 0].set(jnp.nan))).any()


def test_strided_pointwise_conv_equals_lax():
    x, k = _rand((2, 11, 11, 4), 10), _rand((1, 1, 4, 6), 11)
    conv = layers.Conv(6, (1, 1), strides=2, use_bias=False)
    ours = conv.apply({"params": {"kernel": k}}, x)
    ref = jax.lax.conv_general_dilated(x, k, (2, 2), "SAME",
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))
    np.testing.assert_allclose(ours, ref, atol=1e-5)


@pytest.mark.parametrize("shape", [(4, 5, 3, 6), (8, 6)])  # a conv map, a dense layer
@pytest.mark.parametrize("train", [True, False])
def test_batch_norm_equals_flax_forward_gradients_and_running_stats(train, shape):
    x = 2.0 + 3.0 * _rand(shape, 8)
    probe = _rand(x.shape, 9)
    ours = batch_norm.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-3)
    ref = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-3)
    # the same variables, shapes, dtypes and initial values (init never updates the averages)
    variables = ref.init(jax.random.key(0), x)
    init = ours.init(jax.random.key(0), x)
    assert jax.tree_util.tree_structure(init) == jax.tree_util.tree_structure(variables)
    for a, b in zip(jax.tree_util.tree_leaves(init), jax.tree_util.tree_leaves(variables)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    params = {"scale": 0.5 + _rand((6,), 10) ** 2, "bias": _rand((6,), 11)}
    stats = {"mean": _rand((6,), 12), "var": 1.0 + _rand((6,), 13) ** 2}

    def loss(module, params, x):
        y, new = module.apply({"params": params, "batch_stats": stats}, x,
                              mutable=["batch_stats"])
        # The statistics' cotangents are exercised too (zero in training, exact here).
        extra = sum(jnp.sum(v * (i + 2)) for i, v in enumerate(new["batch_stats"].values()))
        return jnp.sum(jnp.tanh(y) * probe) + extra, new

    results = [jax.value_and_grad(partial(loss, m), argnums=(0, 1), has_aux=True)(params, x)
               for m in (ours, ref)]
    for a, b in zip(*(jax.tree_util.tree_leaves(r) for r in results)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("x_dtype, dtype", [(jnp.float32, None), (jnp.bfloat16, None),
                                            (jnp.bfloat16, jnp.bfloat16)])
def test_batch_norm_output_dtype_and_values_are_flax_s(x_dtype, dtype):
    x = _rand((2, 3, 3, 4), 14).astype(x_dtype)
    ours, ref = batch_norm.BatchNorm(dtype=dtype), nn.BatchNorm(use_running_average=False,
                                                                  dtype=dtype)
    variables = ref.init(jax.random.key(0), x)
    y, _ = ours.apply(variables, x, mutable=["batch_stats"])
    y_ref, _ = ref.apply(variables, x, mutable=["batch_stats"])
    assert y.dtype == y_ref.dtype
    np.testing.assert_allclose(np.asarray(y, np.float32), np.asarray(y_ref, np.float32),
                               atol=2e-2 if jnp.bfloat16 in (x_dtype, dtype) else 1e-5)


@pytest.mark.slow  # differentiates two real networks op by op (~20 s on 2 cores)
@pytest.mark.parametrize("arch", ["mini-xception", "cpu-vgg", "little-vgg"])
def test_jitted_train_gradients_equal_the_reference_op_by_op(arch):
    """The fast formulations under ``jit``, as training runs them, against the reference
    formulations (XLA's convs, flax's batch norm) evaluated op by op: a max-pool whose gradient
    compared recomputed inputs with the forward output lost gradient only under ``jit``."""
    x = jnp.asarray(np.random.default_rng(0).random((16, 48, 48, 1)), jnp.float32)
    labels = jnp.arange(16) % 7
    fast, ref = build_model(arch, 7), build_model(arch, 7, impl="lax")
    variables = jax.jit(partial(init_variables, fast, 3))()

    def loss(model, params):
        logits, new = model.apply({**variables, "params": params}, x, train=True,
                                  mutable=["batch_stats"], rngs={"dropout": jax.random.key(1)})
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), new

    fast_out = jax.jit(jax.value_and_grad(partial(loss, fast), has_aux=True))(variables["params"])
    with jax.disable_jit():
        ref_out = jax.value_and_grad(partial(loss, ref), has_aux=True)(variables["params"])
    # Whole-network float32 gradients differ by summation order, amplified by each batch norm's
    # centring (measured: up to ~4e-3 relative in the first layers); the bug was a relative
    # error of ~0.4 in every layer below the faulty pool.
    for a, b in zip(*(jax.tree_util.tree_leaves(o) for o in (fast_out, ref_out))):
        assert np.linalg.norm(np.asarray(a) - b) <= 1e-2 * np.linalg.norm(b) + 1e-6


def test_fast_mini_xception_equals_reference_formulation():
    x = jnp.asarray(np.random.default_rng(0).random((2, 48, 48, 1)), jnp.float32)
    fast, ref = build_model("mini-xception", 7), build_model("mini-xception", 7, impl="lax")
    variables = jax.jit(partial(init_variables, fast, 3))()
    np.testing.assert_allclose(jax.jit(fast.apply)(variables, x), jax.jit(ref.apply)(variables, x),
                               atol=1e-4)


def test_bfloat16_compute_keeps_float32_params_and_logits():
    model = build_model("little-vgg", 7, dtype=jnp.bfloat16)
    variables = jax.jit(partial(init_variables, model))()
    assert all(p.dtype == jnp.float32 for p in jax.tree_util.tree_leaves(variables["params"]))
    x = jnp.asarray(np.random.default_rng(1).random((2, 48, 48)), jnp.float32)  # (N, 48, 48) ok
    logits = jax.jit(model.apply)(variables, x)
    assert logits.dtype == jnp.float32 and logits.shape == (2, 7)
    ref = jax.jit(build_model("little-vgg", 7).apply)(variables, x)
    np.testing.assert_allclose(logits, ref, atol=0.1, rtol=0.1)


# -- input pipeline -------------------------------------------------------------------------
# jitted as the train step runs them (and one compile is quicker than op-by-op dispatch)
augment = jax.jit(ip.augment, static_argnums=2)
erase = jax.jit(ip._erase, static_argnums=2)
mixup = jax.jit(ip.mixup, static_argnums=3)


def _images(n=4, seed=0):
    return jnp.asarray(np.random.default_rng(seed).random((n, 48, 48, 1)), jnp.float32)


def test_identity_warp_returns_the_image():
    x = _images()
    eye = jnp.tile(jnp.array([[1.0, 0, 0], [0, 1.0, 0]]), (len(x), 1, 1))
    np.testing.assert_allclose(ip._warp(x, eye), x, atol=1e-6)


def test_warp_shift_moves_content():
    x = _images(1)
    shift = jnp.array([[[1.0, 0, 0], [0, 1.0, 3.0]]])  # output column c reads input column c+3
    np.testing.assert_allclose(ip._warp(x, shift)[0, :, :-3], x[0, :, 3:], atol=1e-6)


@pytest.mark.parametrize("mode", ["none", "flip", "crop", "affine"])
def test_augment_is_seeded_and_keeps_range(mode):
    cfg = ip.AugmentConfig(mode=mode, erasing=0.5)
    x = _images(8)
    a = augment(jax.random.key(0, impl="rbg"), x, cfg)
    b = augment(jax.random.key(0, impl="rbg"), x, cfg)
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and float(a.min()) >= 0 and float(a.max()) <= 1
    if mode != "none":
        assert not np.allclose(a, x)


def test_affine_with_zero_ranges_only_flips():
    cfg = ip.AugmentConfig(mode="affine", max_rotation=0, max_shift=0, max_zoom=0, max_shear=0)
    x = _images(16)
    out = np.asarray(augment(jax.random.key(1, impl="rbg"), x, cfg))
    for o, i in zip(out, np.asarray(x)):
        assert np.allclose(o, i, atol=1e-5) or np.allclose(o, i[:, ::-1], atol=1e-5)


def test_random_erasing_probability_bounds():
    x = _images(6)
    key = jax.random.key(2, impl="rbg")
    np.testing.assert_array_equal(erase(key, x, 0.0), x)
    erased = np.asarray(erase(key, x, 1.0))
    assert all(not np.array_equal(e, i) for e, i in zip(erased, np.asarray(x)))


def test_mixup_mixes_targets_consistently():
    x = _images(8)
    targets = jax.nn.one_hot(jnp.arange(8) % 3, 3)
    mx, mt = mixup(jax.random.key(3, impl="rbg"), x, targets, 0.4)
    np.testing.assert_allclose(mt.sum(1), 1.0, atol=1e-6)
    assert float(mt.max()) >= 0.5  # the original image keeps the larger weight


def test_tta_views():
    x = _images(3)
    assert ip.tta_views(x, None).shape == (1, 3, 48, 48, 1)
    flip = ip.tta_views(x, "flip")
    np.testing.assert_array_equal(flip[1], x[:, :, ::-1])
    ten = ip.tta_views(x, "tencrop")
    assert ten.shape == (10, 3, 48, 48, 1)
    np.testing.assert_allclose(ten[5], ten[0][:, :, ::-1], atol=1e-6)
    with pytest.raises(ValueError, match="tta"):
        ip.tta_views(x, "twelvecrop")


def test_bad_augment_mode_is_rejected():
    with pytest.raises(ValueError, match="augment"):
        ip.AugmentConfig(mode="cutout")
