"""Crafted and tampered model files: nothing in a file runs code, every lie ends in one line.

Each attack is built the way an attacker would: a real model file, then the schema, header or
weights rewritten and the checksum recomputed, so that only the loader's own checks stand
between the file and the process. Where a payload is live (skops would run it if trusted), the
test first proves that, then that fer-bench refuses it.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fer_bench import modelfile
from fer_bench.cli.main import main
from fer_bench.data.synthetic import render_faces
from fer_bench.errors import ModelFileError
from fer_bench.models import FerModel, load_model, read_header, save_model
from fer_bench.registry import PIPELINES

FACE = {"mode": "auto", "size": 48, "margin": 0.2, "equalize": None}
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    y = np.repeat(np.arange(7), 12)
    return render_faces(y, np.random.default_rng(0)), y


@pytest.fixture(scope="module")
def classical_file(tmp_path_factory, data) -> Path:
    est = PIPELINES.get("pca-logreg").load()(n_components=10).fit(*data)
    model = FerModel(est, CLASSES, dict(FACE), "classical", {"pipeline": "pca-logreg"})
    return save_model(model, tmp_path_factory.mktemp("m") / "pca.ferb")


@pytest.fixture(scope="module")
def deep_file(tmp_path_factory) -> Path:
    """A mini-Xception with seeded random weights (no training: the format is under test)."""
    from functools import partial

    import jax

    from fer_bench.pipelines.deep.factories import make_mini_xception
    from fer_bench.pipelines.deep.networks import build_model, init_variables

    est = make_mini_xception(verbose=0)
    shapes = jax.eval_shape(partial(init_variables, build_model("mini-xception", 7)))
    rng = np.random.default_rng(0)
    est.variables_ = jax.tree_util.tree_map(
        lambda s: (0.1 * rng.standard_normal(s.shape)).astype(s.dtype), shapes)
    est.classes_ = np.arange(7)
    model = FerModel(est, CLASSES, dict(FACE), "deep", {"pipeline": "mini-xception"})
    return save_model(model, tmp_path_factory.mktemp("m") / "cnn.ferb")


def members(path: Path) -> tuple[dict, bytes]:
    with zipfile.ZipFile(path) as zf:
        header = json.loads(zf.read("header.json"))
        return header, zf.read(header["weights"])


def forge(path: Path, header: dict, weights: bytes, member: str | None = None) -> Path:
    """A model file with the given header and weights and a *valid* checksum over both."""
    header = {k: v for k, v in header.items() if k != "sha256"}
    header["sha256"] = modelfile._digest(header, weights)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("header.json", json.dumps(header))
        zf.writestr(member or header["weights"], weights)
    return path


def one_line(err: pytest.ExceptionInfo, path: Path) -> str:
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    return message


# -- the allow-list -------------------------------------------------------------------------
def test_allow_list_covers_every_registered_classical_pipeline_and_nothing_else(data):
    """(The hybrids are stored as classical files: their CNN is named by path and digest.)"""
    import skops.io as sio

    used: dict[str, set[str]] = {}
    for name in PIPELINES.names(family="classical") + PIPELINES.names(family="hybrid"):
        blob = sio.dumps(PIPELINES.get(name).load()().fit(*data))
        assert modelfile._untrusted(blob) == [], name
        assert set(sio.get_untrusted_types(data=blob)) <= modelfile.TRUSTED_NAMES, name
        for loader, type_name in modelfile.skops_nodes(blob):
            used.setdefault(loader, set()).add(type_name)
    # Exact: every allowed type is one some pipeline saves (the list is derived, not guessed).
    assert used == {k: set(v) for k, v in modelfile.TRUSTED_TYPES.items()}


@pytest.mark.parametrize("obj", ["function", "kdtree", "transformer"])
def test_allow_list_refuses_what_the_pipelines_never_save(obj):
    import skops.io as sio
    from sklearn.neighbors import KDTree
    from sklearn.preprocessing import FunctionTransformer

    value = {"function": [os.getcwd], "kdtree": KDTree(np.random.rand(20, 2)),
             "transformer": FunctionTransformer(np.log1p)}[obj]
    assert modelfile._untrusted(sio.dumps(value))


# -- skops payloads that call what the file names -------------------------------------------
RUNSTRING = ("numpy.testing._private.utils", "runstring")


_IDS = iter(range(1, 10**6))  # skops memoises nodes by id: every crafted node gets its own


def _json(value) -> dict:
    return {"__class__": type(value).__name__, "__module__": "builtins",
            "__loader__": "JsonNode", "content": json.dumps(value), "is_json": True,
            "__id__": next(_IDS)}


def _empty_dict() -> dict:
    return {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
            "content": {}, "key_types": {"__class__": "list", "__module__": "builtins",
                                         "__loader__": "ListNode", "content": [],
                                         "__id__": next(_IDS)}, "__id__": next(_IDS)}


def _call_node(loader: str, module: str, name: str, args: list) -> dict:
    """A skops node whose loading calls ``module.name(*args)``."""
    return {"__class__": name, "__module__": module, "__loader__": loader,
            "__reduce__": {"args": {"__class__": "tuple", "__module__": "builtins",
                                    "__loader__": "TupleNode", "content": args,
                                    "__id__": next(_IDS)}},
            "content": _empty_dict(), "__id__": next(_IDS)}


def _with_node(blob: bytes, node: dict) -> bytes:
    """A skops archive whose top object gains an attribute holding ``node``."""
    src = zipfile.ZipFile(io.BytesIO(blob))
    schema = json.loads(src.read("schema.json"))
    attrs = schema["content"]  # the top object's attribute dict: keys and their key types
    attrs["content"]["payload"] = node
    attrs["key_types"]["content"].append({"__class__": "str", "__module__": "builtins",
                                          "__loader__": "TypeNode", "__id__": next(_IDS)})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name in src.namelist():
            zf.writestr(name, json.dumps(schema) if name == "schema.json" else src.read(name))
    return out.getvalue()


def test_loss_node_naming_a_code_runner_is_refused_before_anything_runs(classical_file, tmp_path):
    import skops.io as sio

    marker = tmp_path / "pwned"
    code = f"open({str(marker)!r}, 'w').write('x')"
    header, blob = members(classical_file)
    evil = _with_node(blob, _call_node("LossNode", *RUNSTRING, [_json(code), _empty_dict()]))
    # The payload is live: skops runs it as soon as its types are trusted (prefix trust did).
    sio.loads(evil, trusted=sio.get_untrusted_types(data=evil))
    assert marker.exists()
    marker.unlink()
    path = forge(tmp_path / "evil.ferb", header, evil)
    with pytest.raises(ModelFileError, match="refusing to load") as err:
        load_model(path)
    assert "runstring" in one_line(err, path)
    assert not marker.exists()


@pytest.mark.parametrize("loader", ["ReduceNode", "TreeNode", "MethodNode", "PartialNode"])
def test_other_calling_nodes_are_refused(classical_file, tmp_path, loader):
    """Reduce-style nodes (a constructor called with arguments from the file; a ``Tree`` whose
    unchecked indices crash at inference) never reach skops."""
    header, blob = members(classical_file)
    module, name = RUNSTRING if loader != "TreeNode" else ("sklearn.tree._tree", "Tree")
    path = forge(tmp_path / "evil.ferb", header,
                 _with_node(blob, _call_node(loader, module, name, [_json("1")])))
    with pytest.raises(ModelFileError, match="refusing to load") as err:
        load_model(path)
    assert f"{module}.{name} ({loader})" in one_line(err, path)


def test_os_system_is_refused(classical_file, tmp_path):
    marker = tmp_path / "pwned"
    header, blob = members(classical_file)
    node = _call_node("ReduceNode", "os", "system", [_json(f"touch {marker}")])
    path = forge(tmp_path / "evil.ferb", header, _with_node(blob, node))
    with pytest.raises(ModelFileError, match="os.system") as err:
        load_model(path)
    one_line(err, path)
    fn = {"__class__": "system", "__module__": "os", "__loader__": "FunctionNode",
          "content": {"module_path": "os", "function": "system"}, "__id__": 9}
    path = forge(tmp_path / "evil2.ferb", header, _with_node(blob, fn))
    with pytest.raises(ModelFileError, match="os.system"):
        load_model(path)
    assert not marker.exists()


class _Boom:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("where", ["file", "classical", "deep"])
def test_raw_pickle_never_unpickled(classical_file, deep_file, tmp_path, where):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Boom(str(marker)))
    if where == "file":
        path = tmp_path / "evil.ferb"
        path.write_bytes(payload)
    else:
        header, _ = members(classical_file if where == "classical" else deep_file)
        path = forge(tmp_path / "evil.ferb", header, payload)
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    one_line(err, path)
    assert not marker.exists()


@pytest.mark.parametrize("dtype", ["|O", "complex128", "V8"])
def test_deep_weights_with_foreign_arrays_are_refused(deep_file, tmp_path, dtype):
    import msgpack
    from flax import serialization

    header, blob = members(deep_file)
    tree = serialization.msgpack_restore(blob)
    # An ndarray extension (code 1 in flax's encoding) claiming dtype ``dtype``.
    ext = msgpack.ExtType(1, msgpack.packb(((2,), dtype, b"\0" * 16)))
    raw = msgpack.unpackb(blob, raw=False, strict_map_key=False,
                          ext_hook=lambda code, data: msgpack.ExtType(code, data))
    raw["variables"]["params"]["evil"] = ext
    path = forge(tmp_path / "evil.ferb", header, msgpack.packb(raw))
    assert tree  # the untampered weights decode
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    one_line(err, path)


# -- the header -----------------------------------------------------------------------------
@pytest.mark.parametrize("fixture", ["classical_file", "deep_file"])
def test_header_is_covered_by_the_checksum(request, tmp_path, fixture):
    source = request.getfixturevalue(fixture)
    header, blob = members(source)
    header["classes"] = header["classes"][::-1]  # loads, and predicts wrong labels, today
    path = tmp_path / "tampered.ferb"
    with zipfile.ZipFile(path, "w") as zf:  # checksum left as it was
        zf.writestr("header.json", json.dumps(header))
        zf.writestr(header["weights"], blob)
    with pytest.raises(ModelFileError, match="checksum mismatch") as err:
        load_model(path)
    one_line(err, path)


@pytest.mark.parametrize("field,value,match", [
    ("classes", ["a", "b", "c"], "classes do not index"),  # shorter than the outputs
    ("classes", ["a"] * 7, "distinct class names"),
    ("classes", "angry", "distinct class names"),
    ("face.size", 0, "face size 0"),
    ("face.size", "48", "face size '48'"),
    ("face.size", 100000, "face size 100000"),
    ("face.size", True, "face size True"),
    ("face.margin", -1, "face margin"),
    ("face.mode", "rm -rf", "face mode"),
    ("face", None, "face settings"),
    ("family", "pickle", "family"),
    ("family", ["classical"], "family"),
    ("format_version", "2", "format version"),
    ("provenance", [1, 2], "provenance"),
])
@pytest.mark.parametrize("fixture", ["classical_file", "deep_file"])
def test_every_header_field_is_validated(request, tmp_path, fixture, field, value, match):
    header, blob = members(request.getfixturevalue(fixture))
    if field.startswith("face."):
        header["face"][field[5:]] = value
    else:
        header[field] = value
    path = forge(tmp_path / "lying.ferb", header, blob)
    with pytest.raises(ModelFileError, match=match) as err:
        load_model(path)
    one_line(err, path)


def test_cnn_header_must_match_its_face_size(deep_file, tmp_path):
    header, blob = members(deep_file)
    header["face"]["size"] = header["preprocessing"]["size"] = 64
    path = forge(tmp_path / "big.ferb", header, blob)
    with pytest.raises(ModelFileError, match="48x48"):
        load_model(path)


def test_zip_bomb_member_is_refused_unread(classical_file, tmp_path, monkeypatch):
    monkeypatch.setattr(modelfile, "MAX_WEIGHTS_BYTES", 1000)
    with pytest.raises(ModelFileError, match="would inflate to"):
        load_model(classical_file)
    assert read_header(classical_file)["family"] == "classical"  # the header alone still reads


def test_cli_prints_one_line_for_a_tampered_model(classical_file, tmp_path, capsys):
    import cv2

    header, blob = members(classical_file)
    header["face"]["size"] = 100000
    path = forge(tmp_path / "lying.ferb", header, blob)
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), render_faces(np.array([3]), np.random.default_rng(0))[0])
    assert main(["predict", str(image), "--model", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and str(path) in err and len(err.splitlines()) == 1


def test_version_1_is_refused(classical_file, tmp_path):
    """A version-1 digest covers the weights alone: a downgraded file would reopen the header.
    The bundled model is version 2 like every file fer-bench writes."""
    import hashlib

    from fer_bench.models import DEFAULT_MODEL

    header, blob = members(DEFAULT_MODEL)
    assert header["format_version"] == 2
    assert load_model(DEFAULT_MODEL).classes == CLASSES
    header, blob = members(classical_file)
    header.update(format_version=1, classes=header["classes"][::-1],
                  sha256=hashlib.sha256(blob).hexdigest())  # a valid version-1 checksum
    path = tmp_path / "downgraded.ferb"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("header.json", json.dumps(header))
        zf.writestr("weights.skops", blob)
    with pytest.raises(ModelFileError, match="format version 1") as err:
        load_model(path)
    one_line(err, path)


def test_bomb_inside_the_skops_weights_is_refused(classical_file, tmp_path, monkeypatch):
    header, blob = members(classical_file)
    src, out = zipfile.ZipFile(io.BytesIO(blob)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in src.namelist():
            zf.writestr(name, src.read(name))
        zf.writestr("bomb.npy", bytes(4 << 20))  # 4 MB of zeros deflate to a few kB
    monkeypatch.setattr(modelfile, "MAX_WEIGHTS_BYTES", 2 << 20)
    path = forge(tmp_path / "bomb.ferb", header, out.getvalue())
    assert path.stat().st_size < (1 << 20)
    with pytest.raises(ModelFileError, match="would inflate past") as err:
        load_model(path)
    one_line(err, path)


def test_encrypted_member_is_a_one_line_error(classical_file, tmp_path):
    header, blob = members(classical_file)
    path = tmp_path / "locked.ferb"
    forge(path, header, blob)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("weights.skops")
        central = zf.start_dir
    data = bytearray(path.read_bytes())
    # Set the "encrypted" flag bit in the member's local and central headers: zipfile then asks
    # for a password (a RuntimeError) instead of reading it.
    data[info.header_offset + 6] |= 0x1
    entry = data.index(b"PK\x01\x02" + data[central + 4:central + 8], central)
    while data[entry + 46:entry + 46 + len(b"weights.skops")] != b"weights.skops":
        entry = data.index(b"PK\x01\x02", entry + 4)
    data[entry + 8] |= 0x1
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    one_line(err, path)


def test_weights_that_do_not_fit_together_fail_at_load_not_at_predict(classical_file, tmp_path):
    header, blob = members(classical_file)
    src, out = zipfile.ZipFile(io.BytesIO(blob)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith(".npy") and np.load(io.BytesIO(data)).ndim == 2:
                buf = io.BytesIO()
                np.save(buf, np.ones((3, 5)))  # every matrix (PCA components, ...) reshaped
                data = buf.getvalue()
            zf.writestr(name, data)
    path = forge(tmp_path / "mismatched.ferb", header, out.getvalue())
    with pytest.raises(ModelFileError, match="fails on a blank face") as err:
        load_model(path)
    one_line(err, path)
