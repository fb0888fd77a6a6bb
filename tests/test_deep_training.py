"""The CNN trainer and estimator: learning, determinism, checkpoints, clone and model files.

Most tests train a tiny CNN (registered for the test only) so that they compile in seconds;
the trainer does not depend on the architecture. One test trains the real mini-Xception.
"""
from __future__ import annotations

import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from flax import serialization
from sklearn.base import clone

from fer_bench.errors import FerBenchError, ImageError
from fer_bench.pipelines.base import accepts_validation, check_images
from fer_bench import modelfile as ckpt
from fer_bench.models import FerModel, load_model, save_model
from fer_bench.pipelines.deep import (
    CNNClassifier, make_little_vgg, make_mini_xception, make_vgg_fer,
)
from fer_bench.pipelines.deep import networks, train, transfer
from fer_bench.pipelines.deep.layers import Conv, max_pool_2x2


class TinyCNN(nn.Module):
    """Conv -> BN -> ReLU -> pool -> dropout -> dense: every kind of state the trainer handles.
    Its classifier has the conventional name (:data:`~fer_bench.pipelines.deep.networks.HEAD`)."""

    num_classes: int = 7
    dtype: Any = jnp.float32
    impl: str = "auto"

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = networks._normalise(x, self.dtype)
        x = max_pool_2x2(max_pool_2x2(x))  # 12 x 12: keeps the test cheap
        x = Conv(4, dtype=self.dtype)(x)
        x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(x))
        x = max_pool_2x2(x).reshape(x.shape[0], -1)
        x = nn.Dropout(0.1, deterministic=not train)(x)
        return nn.Dense(self.num_classes, name=networks.HEAD)(x).astype(jnp.float32)


@pytest.fixture(autouse=True)
def tiny_arch(monkeypatch):
    monkeypatch.setitem(networks.ARCHITECTURES, "tiny", TinyCNN)


def render(n_per_class: int, seed: int, n_classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Separable faces-sized images: class c is a bright horizontal band at height c, in noise."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = (rng.random((len(y), 48, 48)) * 80).astype(np.uint8)
    for c in range(n_classes):
        top = 4 + c * (40 // n_classes)
        X[y == c, top:top + 8, 8:40] += 150
    order = rng.permutation(len(y))
    return X[order], y[order]


X_TRAIN, Y_TRAIN = render(32, seed=0)  # 96 images: 6 steps of 16
X_VAL, Y_VAL = render(8, seed=1)


def tiny(**params) -> CNNClassifier:
    base = dict(arch="tiny", epochs=2, batch_size=16, learning_rate=3e-3, augment="crop",
                verbose=0, random_state=0)
    return CNNClassifier(**{**base, **params})


def _assert_trees_equal(a, b):
    flat_a, tree_a = jax.tree_util.tree_flatten(a)
    flat_b, tree_b = jax.tree_util.tree_flatten(b)
    assert tree_a == tree_b
    for x, y in zip(flat_a, flat_b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _without_timing(history):
    return [{k: v for k, v in h.items() if k not in ("images_per_s", "seconds")} for h in history]


@pytest.mark.slow  # compiles the real mini-Xception train step (~10-20 s on 2 cores)
def test_mini_xception_training_reduces_loss():
    est = make_mini_xception(epochs=3, batch_size=16, augment="none", verbose=0)
    est.fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    losses = [h["loss"] for h in est.history_]
    assert losses[-1] < 0.5 * losses[0]
    assert est.history_[-1]["accuracy"] > 0.8
    assert est.predict_proba(X_VAL).shape == (len(X_VAL), 3)


def test_tiny_training_learns_and_records_history():
    est = tiny(epochs=4).fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    assert [h["epoch"] for h in est.history_] == [1, 2, 3, 4]
    assert est.history_[-1]["loss"] < est.history_[0]["loss"]
    for h in est.history_:
        assert set(h) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr",
                          "images_per_s", "seconds"}
    proba = est.predict_proba(X_VAL)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    assert est.best_epoch_ == int(np.argmax([h["val_accuracy"] for h in est.history_])) + 1
    best_val = est.history_[est.best_epoch_ - 1]["val_accuracy"]
    assert (est.predict(X_VAL) == Y_VAL).mean() == pytest.approx(best_val)


def test_same_seed_gives_identical_parameters():
    a = tiny().fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    b = tiny().fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    _assert_trees_equal(a.variables_, b.variables_)
    assert _without_timing(a.history_) == _without_timing(b.history_)
    c = tiny(random_state=1).fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    assert not np.array_equal(jax.tree_util.tree_leaves(a.variables_)[0],
                              jax.tree_util.tree_leaves(c.variables_)[0])


def test_checkpoint_restore_gives_identical_next_step(tmp_path):
    # The same step settings as tiny(): the compiled step is shared with the estimator tests.
    cfg = train.TrainConfig(batch_size=16, augment=train.AugmentConfig(mode="crop"))
    model = TinyCNN(num_classes=3)
    mesh = train.device_mesh()
    step = train.compiled_train_step(
        train.StepConfig(model, train.make_optimizer(cfg), cfg.augment, 0.0, 3, 16), mesh)
    images, labels = jnp.asarray(X_TRAIN), jnp.asarray(Y_TRAIN, jnp.int32)
    order, key = jnp.arange(len(labels)), train.make_key(0)

    def run(state, i):
        return step(state, jnp.zeros(3), images, labels, order, jnp.int32(i), key)[0]

    state = run(train.create_state(model, cfg), 0)
    ckpt.save_checkpoint(tmp_path, {"state": state})
    raw = ckpt.load_checkpoint(tmp_path)
    fresh = train.create_state(model, cfg)
    restored = fresh.replace(**ckpt.restore_into(
        {"step": fresh.step, "params": fresh.params, "batch_stats": fresh.batch_stats,
         "opt_state": fresh.opt_state}, raw["state"], tmp_path, "checkpoint", "x"))
    _assert_trees_equal(restored, state)
    _assert_trees_equal(run(restored, 1), run(state, 1))


def test_interrupted_fit_resumes_to_the_uninterrupted_result(tmp_path):
    full = tiny(epochs=3, lr_patience=1).fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    tiny(epochs=2, lr_patience=1, checkpoint_dir=str(tmp_path)).fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    raw = serialization.msgpack_restore((tmp_path / ckpt.CHECKPOINT_NAME).read_bytes())
    assert set(raw) == {"signature", "state", "best", "progress"}
    assert json.loads(raw["progress"])["epoch"] == 2
    resumed = tiny(epochs=3, lr_patience=1, checkpoint_dir=str(tmp_path)).fit(
        X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    _assert_trees_equal(resumed.variables_, full.variables_)
    assert _without_timing(resumed.history_) == _without_timing(full.history_)


def test_weight_average_is_what_is_selected_and_it_resumes(tmp_path):
    """ema > 0: the average is validated and kept, the raw weights' figures are in the history,
    and an interrupted run resumes to the uninterrupted one (the average is checkpointed)."""
    full = tiny(epochs=3, ema=0.9).fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    assert all({"val_accuracy_raw", "val_loss_raw"} <= set(h) for h in full.history_)
    plain = tiny(epochs=3).fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    assert "val_accuracy_raw" not in plain.history_[0]
    # The raw weights follow the same trajectory as without the average...
    assert [h["val_loss_raw"] for h in full.history_] == pytest.approx(
        [h["val_loss"] for h in plain.history_], rel=1e-5)
    # ...and what is kept differs from them.
    assert [h["val_loss"] for h in full.history_] != pytest.approx(
        [h["val_loss"] for h in plain.history_], rel=1e-3)
    tiny(epochs=2, ema=0.9, checkpoint_dir=str(tmp_path)).fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    raw = serialization.msgpack_restore((tmp_path / ckpt.CHECKPOINT_NAME).read_bytes())
    assert "ema" in raw["state"]
    resumed = tiny(epochs=3, ema=0.9, checkpoint_dir=str(tmp_path)).fit(
        X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    _assert_trees_equal(resumed.variables_, full.variables_)
    assert _without_timing(resumed.history_) == _without_timing(full.history_)


def test_ema_decay_warms_up():
    steps = jnp.asarray([0, 10, 10_000])
    np.testing.assert_allclose(train.ema_decay(0.999, steps), [0.1, 11 / 20, 0.999], rtol=1e-6)
    with pytest.raises(ValueError, match="ema"):
        train.TrainConfig(ema=1.0)


def test_checkpoint_of_another_run_is_refused(tmp_path):
    tiny(epochs=1, checkpoint_dir=str(tmp_path)).fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    with pytest.raises(FerBenchError, match="checkpoint"):
        tiny(epochs=1, learning_rate=0.1, checkpoint_dir=str(tmp_path)).fit(
            X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)


def _progress_after(records, patience=3, lr_patience=2):
    cfg = train.TrainConfig(patience=patience, lr_patience=lr_patience, lr_factor=0.5,
                            learning_rate=0.1)
    state = train.create_state(TinyCNN(num_classes=3), cfg)
    progress = train.Progress(learning_rate=0.1)
    best = {}
    for epoch, (loss, acc) in enumerate(records, 1):
        progress.epoch = epoch
        state, best = train._update_progress(progress, state, best, loss, acc, cfg)
        if progress.stopped:
            break
    return progress, state


def test_early_stopping_and_lr_plateau():
    # accuracy peaks at epoch 2, loss stops improving after epoch 1
    progress, state = _progress_after([(1.0, 0.5), (1.1, 0.6), (1.2, 0.6), (1.3, 0.55),
                                       (1.4, 0.6), (1.5, 0.7)])
    assert progress.best_epoch == 2 and progress.best_accuracy == 0.6
    assert progress.stopped and progress.epoch == 5  # 3 epochs without a better accuracy
    assert progress.learning_rate == 0.025  # halved after epochs 3 and 5
    assert float(state.opt_state.hyperparams["learning_rate"]) == pytest.approx(0.025)
    progress, _ = _progress_after([(1.0, 0.5), (0.9, 0.6), (0.8, 0.7)])
    assert not progress.stopped and progress.learning_rate == 0.1


def test_cosine_schedule_sets_each_epochs_rate_and_ignores_plateaus(tmp_path):
    cfg = train.TrainConfig(epochs=4, learning_rate=0.1, min_lr=0.0, lr_schedule="cosine")
    assert [train.cosine_rate(cfg, e) for e in range(5)] == pytest.approx(
        [0.1, 0.1 * (1 + np.cos(np.pi / 4)) / 2, 0.05, 0.1 * (1 + np.cos(3 * np.pi / 4)) / 2, 0])
    est = tiny(epochs=3, learning_rate=0.05, lr_schedule="cosine", lr_patience=1).fit(
        X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    cfg = est.train_config()
    assert [h["lr"] for h in est.history_] == pytest.approx(
        [train.cosine_rate(cfg, e) for e in range(3)])
    # a cosine run's checkpoint is tied to its epochs: the schedule depends on them
    tiny(epochs=1, lr_schedule="cosine", checkpoint_dir=str(tmp_path)).fit(
        X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    with pytest.raises(FerBenchError, match="checkpoint"):
        tiny(epochs=2, lr_schedule="cosine", checkpoint_dir=str(tmp_path)).fit(
            X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    with pytest.raises(ValueError, match="lr_schedule"):
        tiny(lr_schedule="step").fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)


def _save_cnn(estimator, path, classes=("a", "b", "c")):
    """``estimator`` in a ``.ferb`` file, as ``train`` writes one."""
    return save_model(FerModel(estimator=estimator, classes=tuple(classes), face={"size": 48},
                               family="deep"), path)


def test_init_from_copies_all_but_the_classifier(tmp_path):
    source = tiny(epochs=2).fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    path = str(_save_cnn(source, tmp_path / "source.ferb"))
    two = Y_TRAIN < 2  # another label set: the classifier cannot be carried over
    X2, y2, Xv2, yv2 = X_TRAIN[two], Y_TRAIN[two], X_VAL[Y_VAL < 2], Y_VAL[Y_VAL < 2]
    frozen = dict(epochs=1, learning_rate=0.0)  # a zero rate keeps the starting weights
    started = tiny(init_from=path, **frozen).fit(X2, y2, Xv2, yv2)
    fresh = tiny(**frozen).fit(X2, y2, Xv2, yv2)
    head = transfer.head_name(TinyCNN())
    assert head == "head" and head in started.variables_["params"]
    for name, layer in started.variables_["params"].items():
        expected = (fresh if name == head else source).variables_["params"][name]
        _assert_trees_equal(layer, expected)
    with pytest.raises(FerBenchError, match="cannot initialise a mini-xception"):
        make_mini_xception(init_from=path, epochs=1, verbose=0).fit(X2, y2, Xv2, yv2)
    from fer_bench.pipelines.baseline import make_pca_logreg

    classical = make_pca_logreg().fit(X_TRAIN.reshape(len(X_TRAIN), -1), Y_TRAIN)
    classical_ferb = save_model(FerModel(estimator=classical, classes=("a", "b", "c"),
                                         face={"size": 48}, family="classical"),
                                tmp_path / "classical.ferb")
    with pytest.raises(FerBenchError, match="holds a classical pipeline, not a CNN"):
        tiny(init_from=str(classical_ferb)).fit(X2, y2, Xv2, yv2)
    with pytest.raises(FerBenchError, match="missing.ferb"):
        tiny(init_from=str(tmp_path / "missing.ferb")).fit(X2, y2, Xv2, yv2)


def test_transfer_refuses_another_width():
    fresh = {"params": {"Conv_0": {"kernel": np.zeros((3, 3, 1, 4))},
                        "Dense_0": {"kernel": np.zeros((4, 2))}}, "batch_stats": {}}
    wide = {"params": {"Conv_0": {"kernel": np.ones((3, 3, 1, 8))},
                       "Dense_0": {"kernel": np.ones((8, 7))}}, "batch_stats": {}}
    with pytest.raises(FerBenchError, match=r"Conv_0 has shape \(3, 3, 1, 8\)"):
        transfer.transfer_backbone(fresh, wide, "Dense_0")
    out = transfer.transfer_backbone(
        fresh, {"params": {"Conv_0": {"kernel": np.ones((3, 3, 1, 4))}}, "batch_stats": {}},
        "Dense_0")
    assert out["params"]["Conv_0"]["kernel"].sum() == 36
    assert out["params"]["Dense_0"]["kernel"].sum() == 0


def test_transfer_finds_the_declared_classifier_not_the_last_layer():
    # mini-Xception's classifier was created last, but jit returns the variables sorted by
    # name: "the last layer" was SeparableConv3x3_7, so the FER2013 classifier was carried over
    # whenever the class counts matched. Its declared head leaves the classifier fresh.
    fresh = jax.jit(lambda: networks.init_variables(networks.build_model("mini-xception", 3)))()
    source = jax.jit(lambda: networks.init_variables(networks.build_model("mini-xception", 7), 1))()
    assert list(fresh["params"])[-1] == "SeparableConv3x3_7"
    head = transfer.head_name(networks.build_model("mini-xception", 3))
    out = transfer.transfer_backbone(fresh, source, head)  # 7 -> 3 classes: only head differs
    _assert_trees_equal(out["params"][head], fresh["params"][head])
    for collection in ("params", "batch_stats"):
        for name in set(source[collection]) - {head}:
            _assert_trees_equal(out[collection][name], source[collection][name])

    class Calibrated(nn.Module):  # a learnt temperature after the classifier: not last
        num_classes: int = 3

        @nn.compact
        def __call__(self, x, train: bool = False):
            x = nn.relu(nn.Dense(4)(x.reshape(x.shape[0], -1)))
            x = nn.Dense(self.num_classes, name=networks.HEAD)(x)
            return x / self.param("temperature", nn.initializers.ones, ())

    fresh = networks.init_variables(Calibrated())
    assert list(fresh["params"]) == ["Dense_0", "head", "temperature"]
    source = jax.tree_util.tree_map(lambda a: a + 1, fresh)
    out = transfer.transfer_backbone(fresh, source, transfer.head_name(Calibrated()))
    for name in ("Dense_0", "temperature"):
        _assert_trees_equal(out["params"][name], source["params"][name])
    _assert_trees_equal(out["params"]["head"], fresh["params"]["head"])
    with pytest.raises(FerBenchError, match="no classifier layer 'Dense_9'.*head attribute"):
        transfer.transfer_backbone(fresh, source, "Dense_9")


def test_fit_without_validation_holds_out_a_stratified_split():
    est = tiny(epochs=1).fit(X_TRAIN, Y_TRAIN)
    assert len(est.history_) == 1 and 0 <= est.history_[0]["val_accuracy"] <= 1
    assert list(est.classes_) == [0, 1, 2]


def test_string_labels_and_label_space_errors():
    names = np.array(["angry", "happy", "sad"])
    est = tiny(epochs=1).fit(X_TRAIN, names[Y_TRAIN], X_VAL, names[Y_VAL])
    assert set(est.predict(X_VAL[:5])) <= set(names)
    with pytest.raises(FerBenchError, match="validation labels"):
        tiny(epochs=1).fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL + 5)


@pytest.mark.parametrize("bad", [np.zeros((4, 32, 32), np.uint8), np.zeros((4, 48), np.uint8)])
def test_bad_image_shape_is_a_clear_error(bad):
    with pytest.raises(FerBenchError, match="48"):
        tiny().fit(bad, np.zeros(4, int))


@pytest.mark.parametrize("bad, message", [
    (np.zeros((0, 48, 48), np.uint8), "X holds no images; pass at least one face crop"),
    (np.zeros((2, 48, 48), bool), "X has dtype bool, expected uint8 pixels .*to_gray_uint8"),
    (np.zeros((2, 48, 48), np.complex64), "X has dtype complex64, .*to_gray_uint8"),
    (np.zeros((2, 48, 48, 3), np.uint8), r"X has shape \(2, 48, 48, 3\), .*FaceStage"),
])
def test_image_checks_are_the_contracts_one_line_errors(bad, message):
    # The one check every pipeline shares (fer_bench.pipelines.base.check_images): a
    # FerBenchError for the CLI and a ValueError for scikit-learn callers, naming the fix.
    with pytest.raises(ImageError, match=message) as exc:
        tiny().fit(bad, np.zeros(len(bad), int))
    assert isinstance(exc.value, ValueError) and "\n" not in str(exc.value)


def test_image_check_converts_like_the_feature_extractors():
    values = np.random.default_rng(0).random((3, 48, 48)) * 300 - 20  # rounded, clipped
    expected = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(check_images(values, size=48), expected)
    np.testing.assert_array_equal(check_images(expected[..., None], size=48), expected)
    assert check_images(expected) is expected  # valid input passes uncopied
    assert check_images(expected[:, :20, :30]).shape == (3, 20, 30)  # any size unless asked
    with pytest.raises(ImageError, match=r"expected \(N, 48, 48\) .*resizes them to 48x48"):
        check_images(expected[:, :20, :30], "X_val", 48)
    est = tiny(epochs=1).fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    np.testing.assert_array_equal(est.predict_proba(X_VAL[:4].astype(np.float64) + 0.4),
                                  est.predict_proba(X_VAL[:4]))


def test_tta_predictions():
    est = tiny(epochs=1).fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    for tta in (None, "flip", "tencrop"):
        proba = est.predict_proba(X_VAL, tta=tta)
        assert proba.shape == (len(X_VAL), 3)
        np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    assert not np.allclose(est.predict_proba(X_VAL, tta="flip"), est.predict_proba(X_VAL))
    # the mean of the views' probabilities, each view scored on its own
    from fer_bench.pipelines.deep.input_pipeline import to_float, tta_views

    model = networks.build_model("tiny", 3)
    views = tta_views(to_float(jnp.asarray(X_VAL)), "tencrop")
    expected = np.mean([jax.nn.softmax(model.apply(est.variables_, v)) for v in views], axis=0)
    np.testing.assert_allclose(est.predict_proba(X_VAL, tta="tencrop"), expected, atol=1e-6)
    est.set_params(tta="flip")
    np.testing.assert_array_equal(est.predict_proba(X_VAL), est.predict_proba(X_VAL, tta="flip"))


def test_weights_stay_on_the_device_between_predictions():
    import pickle

    est = tiny(epochs=1).fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    first = est.predict_proba(X_VAL)
    placed = est._placed[2]
    np.testing.assert_array_equal(est.predict_proba(X_VAL), first)
    assert est._placed[2] is placed  # reused, not copied again
    est.fit(X_TRAIN[::-1], Y_TRAIN[::-1], X_VAL, Y_VAL)  # new weights: the cache is rebuilt
    est.predict_proba(X_VAL[:2])
    assert est._placed[2] is not placed
    placed = est._placed[2]
    copy = pickle.loads(pickle.dumps(est))
    assert not hasattr(copy, "_placed") and est._placed[2] is placed  # the original keeps it
    np.testing.assert_array_equal(copy.predict_proba(X_VAL), est.predict_proba(X_VAL))


def test_clone_and_factories():
    est = make_vgg_fer(epochs=3)
    assert est.arch == "vgg-fer" and est.epochs == 3 and est.tta == "tencrop"
    twin = clone(est)
    assert twin.get_params() == est.get_params() and not hasattr(twin, "variables_")
    assert make_little_vgg().arch == "little-vgg" and make_mini_xception().arch == "mini-xception"
    assert accepts_validation(est)
    fitted = tiny(epochs=1).fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    refit = clone(fitted)
    assert refit.get_params() == fitted.get_params() and not hasattr(refit, "history_")
    with pytest.raises(TypeError, match="arch"):
        make_mini_xception(arch="vgg-fer")


def test_save_and_load_model_round_trip(tmp_path):
    labels = np.array([2, 5, 9])  # label indices into ten class names, as a label view gives
    est = tiny(epochs=1).fit(X_TRAIN, labels[Y_TRAIN], X_VAL, labels[Y_VAL])
    path = _save_cnn(est, tmp_path / "model.ferb", [f"c{i}" for i in range(10)])
    loaded = load_model(path).estimator
    np.testing.assert_array_equal(loaded.predict_proba(X_VAL), est.predict_proba(X_VAL))
    np.testing.assert_array_equal(loaded.classes_, labels)
    assert loaded.get_params() == {**est.get_params(), "checkpoint_dir": None}
    assert loaded.history_ == est.history_ and loaded.best_epoch_ == est.best_epoch_


def test_tta_auto_is_chosen_on_validation_and_kept_in_the_file(tmp_path):
    est = tiny(epochs=1, tta="auto").fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    acc = {m or "none": float(np.mean(est.predict(X_VAL, tta=m) == Y_VAL)) for m in (None, "flip")}
    assert est.selection_["tta_val_accuracy"] == acc
    chosen = "flip" if acc["flip"] > acc["none"] else None
    assert est.used_tta() == est.selection_["tta"] == chosen
    np.testing.assert_array_equal(est.predict_proba(X_VAL), est.predict_proba(X_VAL, tta=chosen))
    path = tmp_path / "auto.ferb"
    ckpt.write_model(path, family="deep", classes=["a", "b", "c"], face={"size": 48},
                     provenance={}, weights=est.to_weights())
    loaded = load_model(path).estimator
    assert loaded.selection_ == est.selection_ and loaded.used_tta() == chosen
    est.set_params(tta="flip")  # an explicit mode wins over the earlier choice
    assert est.used_tta() == "flip"


def test_corrupt_cnn_weights_give_clear_errors(tmp_path):
    """Weights that do not fit the architecture they name: one line naming the file."""
    est = tiny(epochs=1).fit(X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    weights = est.to_weights()
    cases = {
        "wrong-weights": {**vars(weights), "variables": {"params": {}}},
        "wrong-width": {**vars(weights), "classes": np.arange(2)},  # 2 classes, 3 outputs
        "bad-params": {**vars(weights), "params": {**weights.params, "tta": "sideways"}},
        "bad-dtype": {**vars(weights), "params": {**weights.params, "dtype": "bogus"}},
        "bad-batch": {**vars(weights), "params": {**weights.params, "predict_batch_size": "x"}},
        "auto-without-choice": {**vars(weights), "params": {**weights.params, "tta": "auto"}},
    }
    for name, fields in cases.items():
        path = tmp_path / f"{name}.ferb"
        ckpt.write_model(path, family="deep", classes=["a", "b", "c"], face={"size": 48},
                         provenance={}, weights=ckpt.CNNWeights(**fields))
        with pytest.raises(FerBenchError, match=str(path)) as info:
            load_model(path)
        assert "\n" not in str(info.value)


def test_transfer_version_is_in_the_job_config():
    from fer_bench.harness import jobs
    from fer_bench.pipelines.deep import transfer

    assert jobs.TRANSFER_VERSION == transfer.TRANSFER_VERSION


def test_dense_dropout_overrides_the_networks_own_rate():
    from fer_bench.pipelines.deep.checkpoint import run_signature

    assert CNNClassifier(arch="vgg-fer")._network(7).dense_dropout == 0.4  # as published
    assert CNNClassifier(arch="vgg-fer", dense_dropout=0.1)._network(7).dense_dropout == 0.1
    assert CNNClassifier(arch="little-vgg", dense_dropout=0.0)._network(7).dense_dropout == 0.0
    with pytest.raises(ValueError, match="mini-xception has no dense layers"):
        CNNClassifier(arch="mini-xception", dense_dropout=0.1)._check_params()
    with pytest.raises(ValueError, match=r"dense_dropout must be in \[0, 1\)"):
        CNNClassifier(arch="vgg-fer", dense_dropout=1.0)._check_params()
    # left at None it does not enter a checkpoint's signature (older checkpoints stay valid)
    params = CNNClassifier(arch="vgg-fer").get_params()
    without = {k: v for k, v in params.items() if k != "dense_dropout"}
    assert run_signature(params, X_VAL) == run_signature(without, X_VAL)
    assert run_signature(params, X_VAL) != run_signature({**params, "dense_dropout": 0.1}, X_VAL)
