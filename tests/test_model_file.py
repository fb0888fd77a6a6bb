"""The .ferb model file: round trip, provenance, label spaces, damage and untrusted content."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from fer_bench.apps.train_model import train_model
from fer_bench.cli.main import main
from fer_bench.data.synthetic import render_faces
from fer_bench.models import FerModel, ModelFileError, load_model, open_model, read_header, save_model
from fer_bench import modelfile

SMALL = {"n_per_class": 30}
PARAMS = {"n_components": 15}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> FerModel:
    """A small baseline fitted on a small synthetic set (its own cache dir)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FER_BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        return train_model("pca-logreg", "synthetic", dataset_options=SMALL, params=PARAMS)


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    return render_faces(np.arange(7), np.random.default_rng(5))


def test_round_trip_keeps_predictions_and_provenance(trained, faces, tmp_path):
    path = save_model(trained, tmp_path / "m.ferb")
    loaded = load_model(path)
    # Same arrays, possibly another memory layout: float32 BLAS may differ in the last bits.
    np.testing.assert_allclose(loaded.predict_proba(faces), trained.predict_proba(faces), atol=1e-5)
    assert loaded.classes == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert loaded.family == "classical" and loaded.path == path
    assert loaded.face == trained.face and loaded.face["size"] == 48
    p = loaded.provenance
    assert p["pipeline"] == "pca-logreg" and p["dataset"] == "synthetic"
    assert p["protocol"] == "synthetic-holdout" and p["test_split"] == "test"
    assert p["params"]["n_components"] == 15
    assert 1 / 7 < p["test_accuracy"] <= 1  # better than chance on held-out identities
    assert p["n_train"] > 0 and p["n_val"] > 0 and p["n_test"] > 0
    assert {"numpy", "scikit-learn"} <= set(p["environment"]["packages"])
    assert "git_commit" in p["environment"] and "hostname" not in p["environment"]
    assert p["created_at"].startswith("20")
    proba = loaded.predict_proba(faces)
    assert proba.shape == (7, 7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_header_is_json_with_checksum(trained, tmp_path):
    path = save_model(trained, tmp_path / "m.ferb")
    header = read_header(path)
    assert header["format"] == modelfile.FORMAT and header["format_version"] == modelfile.FORMAT_VERSION
    assert header["classes"] == list(trained.classes)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["header.json", "weights.skops"]
        assert json.loads(zf.read("header.json"))["sha256"] == header["sha256"]


def test_other_label_space_reports_its_classes(tmp_path, faces):
    model = train_model("pca-logreg", "synthetic", view="valence3", dataset_options=SMALL,
                        params=PARAMS)
    loaded = load_model(save_model(model, tmp_path / "v.ferb"))
    assert loaded.classes == ("positive", "neutral", "negative")
    assert loaded.provenance["view"] == "valence3"
    assert loaded.predict_proba(faces).shape == (7, 3)


def _corrupt(path, how):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        path.write_bytes(b"\x89PNG not a model at all" * 10)
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "flipped":  # one byte inside the compressed weights: CRC or checksum catches it
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(read_header(path)["weights"])
        k = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
        path.write_bytes(data[:k] + bytes([data[k] ^ 0xFF]) + data[k + 1:])
    elif how == "no-header":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("something.txt", "hello")


@pytest.mark.parametrize("how", ["truncated", "garbage", "empty", "flipped", "no-header"])
def test_damaged_file_gives_one_line_error_naming_it(trained, tmp_path, how):
    path = save_model(trained, tmp_path / "m.ferb")
    _corrupt(path, how)
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message


def test_cli_reports_a_corrupted_model(trained, tmp_path, capsys):
    path = save_model(trained, tmp_path / "m.ferb")
    _corrupt(path, "truncated")
    image = tmp_path / "face.png"
    import cv2

    cv2.imwrite(str(image), render_faces(np.array([3]), np.random.default_rng(0))[0])
    assert main(["predict", str(image), "--model", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and str(path) in err and len(err.splitlines()) == 1


def test_missing_file_and_newer_version(trained, tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "nope.ferb")
    path = save_model(trained, tmp_path / "m.ferb")
    with zipfile.ZipFile(path) as zf:
        header = json.loads(zf.read("header.json"))
        weights = zf.read("weights.skops")
    header["format_version"] = modelfile.FORMAT_VERSION + 1
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("header.json", json.dumps(header))
        zf.writestr("weights.skops", weights)
    with pytest.raises(ModelFileError, match="upgrade fer-bench"):
        load_model(path)


def test_untrusted_types_are_refused_on_save(tmp_path):
    """``train`` never writes a file it could not read back (loading is tested apart)."""
    import os

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    evil = FerModel(make_pipeline(FunctionTransformer(func=os.getcwd)), ("a", "b"),
                    {"size": 48}, "classical")
    with pytest.raises(ModelFileError, match="holds types a model file may not"):
        save_model(evil, tmp_path / "evil.ferb")
    assert not (tmp_path / "evil.ferb").exists()


def test_default_model_missing_says_how_to_train(monkeypatch, tmp_path):
    import fer_bench.models as models

    monkeypatch.setattr(models, "DEFAULT_MODEL", tmp_path / "default.ferb")
    with pytest.raises(ModelFileError, match="python -m fer_bench train mini-xception"):
        open_model(None)


def test_save_is_atomic_and_readable_by_others(trained, tmp_path):
    path = save_model(trained, tmp_path / "sub" / "m.ferb")
    assert [p.name for p in path.parent.iterdir()] == ["m.ferb"]  # no temp file left behind
    assert path.stat().st_mode & 0o044  # group/other may read it (mkstemp alone gives 0600)


def test_deep_model_round_trip(tmp_path):
    """A CNN's weights go through the deep module's msgpack file inside the model file."""
    from functools import partial

    import jax

    from fer_bench.pipelines.deep.factories import make_mini_xception
    from fer_bench.pipelines.deep.networks import build_model, init_variables

    # "Fitted" with seeded random weights of the right shapes: no training, no slow eager init.
    estimator = make_mini_xception(verbose=0)
    shapes = jax.eval_shape(partial(init_variables, build_model("mini-xception", 3)))
    rng = np.random.default_rng(0)
    estimator.variables_ = jax.tree_util.tree_map(
        lambda s: (1.0 + 0.05 * rng.standard_normal(s.shape)).astype(s.dtype)
        if len(s.shape) == 1 else (0.1 * rng.standard_normal(s.shape)).astype(s.dtype), shapes)
    estimator.classes_ = np.arange(3)
    model = FerModel(estimator, ("positive", "neutral", "negative"),
                     {"mode": "auto", "size": 48, "margin": 0.2, "equalize": None}, "deep",
                     {"pipeline": "mini-xception"})
    path = save_model(model, tmp_path / "cnn.ferb")
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["header.json", "weights.msgpack"]
    loaded = load_model(path)
    assert loaded.family == "deep" and loaded.classes == model.classes
    x = render_faces(np.array([3]), np.random.default_rng(0))
    proba = model.predict_proba(x)
    assert proba.shape == (1, 3) and proba.std() > 1e-3  # not a degenerate uniform output
    np.testing.assert_allclose(loaded.predict_proba(x), proba, atol=1e-6)
    _corrupt(path, "flipped")
    with pytest.raises(ModelFileError, match=str(path)):
        load_model(path)
