"""The performance report (``python -m benchmarks.report``): reading pytest-benchmark JSON, the
derived figures (JAX / PyTorch ratio, roofline, targets, scaling exponents) and the rendered
Markdown.

``fixtures/bench_small.json`` is the JSON of a real smoke-size run of the suite
(``FER_BENCH_BENCH_SMALL=1 FER_BENCH_SCALING=1 pytest benchmarks --benchmark-only``, see
``benchmarks/README.md``), with the per-round timings and CPU flag lists dropped to keep it small.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks import report as perf
from benchmarks.perf.scaling import fit_exponent
from benchmarks.report.__main__ import main
from benchmarks.report.formatting import status, table
from fer_bench.errors import DataError

FIXTURE = Path(__file__).parent / "fixtures" / "bench_small.json"


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def run() -> perf.BenchRun:
    return perf.load_run(FIXTURE)


def _by_name(raw: dict) -> dict[str, dict]:
    return {b["name"]: b for b in raw["benchmarks"]}


def _rate(b: dict) -> float:
    return b["extra_info"]["items"] / b["stats"]["median"]


def _bench(name: str, median: float, min_: float | None = None, **info) -> dict:
    return {"name": name, "group": info.pop("group", "g"),
            "stats": {"min": min_ or median, "median": median, "rounds": 5}, "extra_info": info}


def _unpadded(text: str) -> str:
    """``text`` with the cell padding of its Markdown tables removed: ``| a | b |`` rows."""
    def row(line: str) -> str:
        return "| " + " | ".join(c.strip() for c in line.strip().strip("|").split("|")) + " |"

    return "\n".join(row(line) if line.startswith("|") else line for line in text.splitlines())


def _write(tmp_path: Path, benches: list[dict], commit_info: dict | None = None,
           **meta) -> Path:
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"benchmarks": benches, "machine_info": {},
                                "commit_info": commit_info or {},
                                "datetime": "2026-01-02T03:04:05", "fer_bench": meta}))
    return path


# --- the fixture run ---------------------------------------------------------------------------

def test_fixture_holds_every_kind(run):
    kinds = {b.kind for b in run.benches}
    assert {"data-load", "face-detect", "face-stage", "face-crop", "feature", "pipeline-predict",
            "cnn-train", "cnn-infer", "peak", "end-to-end", "scaling"} <= kinds
    assert run.small
    assert all(b.median_s > 0 and b.min_s <= b.median_s for b in run.benches)


def test_throughput_is_items_over_median(run, raw):
    by_name = _by_name(raw)
    for b in run.benches:
        assert b.items_per_s == pytest.approx(_rate(by_name[b.name]))


def test_torch_ratio_from_the_json(run, raw):
    by_name = _by_name(raw)
    rows = perf.torch_comparison(run)
    assert {r["kind"] for r in rows} == {"cnn-train", "cnn-infer"}
    assert {r["model"] for r in rows} == {"mini-xception", "cpu-vgg"}  # the PyTorch twins
    for r in rows:
        jax, torch = by_name[r["jax_bench"]], by_name[r["torch_bench"]]
        assert jax["extra_info"]["framework"] == "jax"
        assert torch["extra_info"]["framework"] == "torch"
        assert jax["extra_info"]["batch"] == torch["extra_info"]["batch"] == r["batch"]
        assert jax["extra_info"]["model"] == torch["extra_info"]["model"] == r["model"]
        assert r["ratio"] == pytest.approx(_rate(jax) / _rate(torch))
        # the reference is PyTorch's fastest configuration for this workload and batch
        rivals = [b for b in raw["benchmarks"] if b["extra_info"].get("framework") == "torch"
                  and b["extra_info"]["kind"] == r["kind"]
                  and b["extra_info"]["batch"] == r["batch"]
                  and b["extra_info"]["model"] == r["model"]]
        assert len(rivals) == 4
        assert _rate(torch) == max(_rate(b) for b in rivals)
    # like for like: the JAX step without augmentation, as the PyTorch step has none
    for train in (r for r in rows if r["kind"] == "cnn-train"):
        assert by_name[train["jax_bench"]]["extra_info"]["augment"] == "none"


def test_peak_and_roofline(run, raw):
    peaks = [b for b in raw["benchmarks"] if b["extra_info"]["kind"] == "peak"]
    assert len(peaks) == 3  # three matmul sizes; the best round of any is the peak
    peak = max(2 * b["extra_info"]["n"] ** 3 / b["stats"]["min"] / 1e9 for b in peaks)
    assert perf.peak_gflops(run) == pytest.approx(peak)
    rows = perf.roofline(run)
    assert {r["model"] for r in rows} >= {"mini-xception", "little-vgg", "vgg-fer"}
    for r in rows:
        b = r["bench"]
        gflops = b.info["flops_per_item"] * b.items / b.median_s / 1e9
        assert r["gflops"] == pytest.approx(gflops)
        assert r["pct_peak"] == pytest.approx(100 * gflops / peak)


def test_targets_from_the_fixture(run, raw):
    rows = perf.evaluate_targets(run)
    assert [r["target"] for r in rows] == list(perf.TARGETS)
    by_name = _by_name(raw)
    gabor = next(r for r in rows if "Gabor" in r["target"].label)
    assert gabor["measured"] == pytest.approx(_rate(by_name[gabor["source"]]))
    for r in rows:
        assert r["measured"] is not None, r["target"].label  # every target has its benchmark
        assert r["met"] == (r["measured"] >= r["target"].goal)
        expected = 0.0 if r["met"] else 1 - r["measured"] / r["target"].goal
        assert r["shortfall"] == pytest.approx(expected)


def test_rendered_report(run, tmp_path):
    written = perf.write_performance_report(FIXTURE, tmp_path)
    assert written[0] == tmp_path / "performance.md"
    assert {p.name for p in written} >= {"performance.md", "perf_pipelines.png", "perf_scaling.png"}
    assert all(p.stat().st_size > 0 for p in written)
    text = written[0].read_text()
    for heading in ("## Targets", "## JAX vs the PyTorch reference", "## Roofline",
                    "## All benchmarks", "## Scaling with the training-set size",
                    "## Machine and run"):
        assert heading in text
    for target in perf.TARGETS:
        assert f"| {target.label} |" in _unpadded(text)
    assert "Smoke-test sizes" in text
    assert run.meta["command"] in text
    assert "![predict time per image](perf_pipelines.png)" in text
    for r in perf.torch_comparison(run):
        assert f"{r['ratio']:.2f}x" in text


# --- hand-made runs with known numbers ---------------------------------------------------------

def test_ratio_and_targets_with_known_numbers(tmp_path):
    mx = {"model": "mini-xception"}
    path = _write(tmp_path, [
        _bench("peak", 2.0, 1.0, kind="peak", items=1, flops_per_item=100e9, n=4096),
        _bench("jax-train", 0.010, kind="cnn-train", items=32, batch=32, framework="jax",
               augment="affine", **mx),  # 3,200 img/s
        _bench("jax-train-none", 0.008, kind="cnn-train", items=32, batch=32, framework="jax",
               augment="none", like_for_like=True, **mx),  # 4,000 img/s
        _bench("torch-train", 0.032, kind="cnn-train", items=32, batch=32, framework="torch",
               augment="none", torch_threads=1, **mx),  # 1,000 img/s
        _bench("torch-train-2", 0.064, kind="cnn-train", items=32, batch=32, framework="torch",
               augment="none", torch_threads=2, **mx),  # 500 img/s: not the reference
        _bench("jax-infer", 0.256, kind="cnn-infer", items=512, batch=512, framework="jax",
               flops_per_item=1e6, **mx),  # 2,000 img/s, 2 GFLOP/s
        _bench("torch-infer", 0.128, kind="cnn-infer", items=512, batch=512, framework="torch",
               **mx),  # 4,000 img/s
        _bench("lvgg", 1.0, kind="cnn-infer", items=512, batch=512, framework="jax",
               model="little-vgg", flops_per_item=50e6),  # 25.6 GFLOP/s = 25.6 % of 100
        _bench("frame", 0.05, kind="end-to-end", items=1, faces=1, detect_width=320),  # 20 fps
        # the second twin: its own ratio, never mixed with mini-Xception's
        _bench("vgg-train-none", 0.064, kind="cnn-train", items=64, batch=64, framework="jax",
               augment="none", like_for_like=True, model="cpu-vgg"),  # 1,000 img/s
        _bench("vgg-torch-train", 0.032, kind="cnn-train", items=64, batch=64,
               framework="torch", augment="none", torch_threads=1, model="cpu-vgg"),  # 2,000
    ])
    run = perf.load_run(path)
    assert perf.peak_gflops(run) == pytest.approx(100.0)
    comparison = perf.torch_comparison(run)
    ratios = {(r["model"], r["kind"]): r["ratio"] for r in comparison}
    assert ratios == pytest.approx({("mini-xception", "cnn-train"): 4.0,
                                    ("mini-xception", "cnn-infer"): 0.5,
                                    ("cpu-vgg", "cnn-train"): 0.5})
    comparison = [r for r in comparison if r["model"] == "mini-xception"]
    assert comparison[0]["torch_bench"] == "torch-train"
    assert comparison[0]["torch_config"] == "torch_threads=1"
    got = {r["target"].label: r for r in perf.evaluate_targets(run)}
    train = got["mini-Xception training (JAX, as `fit` runs it)"]
    assert train["measured"] == pytest.approx(3200) and train["met"]  # the augmented step
    infer = got["mini-Xception inference, batch 512"]
    assert infer["measured"] == pytest.approx(2000) and not infer["met"]
    assert infer["shortfall"] == pytest.approx(0.6)
    assert got["mini-Xception inference vs PyTorch reference, batch 512"]["shortfall"] == \
        pytest.approx(1 - 0.5 / 1.5)
    assert got["mini-Xception training vs PyTorch reference"]["measured"] == pytest.approx(4.0)
    assert got["cpu-vgg training vs PyTorch reference"]["measured"] == pytest.approx(0.5)
    assert got["little-VGG inference, batch 512, share of measured peak"]["measured"] == \
        pytest.approx(25.6)
    frame = got["640x480 frame end to end on one core (demo detection + mini-Xception)"]
    assert frame["measured"] == pytest.approx(20) and frame["shortfall"] == pytest.approx(1 / 3)
    assert got["Gabor bank features, 48x48"]["measured"] is None
    text = perf.render(run)
    assert "**missed** by 60 % (needs x2.50)" in text
    assert "met (x2.13 the goal)" in text  # 3,200 / 1,500
    assert "| Gabor bank features, 48x48 | 2,000 images/s | not measured | not measured |" in \
        _unpadded(text)
    assert "Measured peak fp32: **100.0 GFLOP/s**" in text


@pytest.mark.parametrize("load,warned", [((2.0, 2.9), False), ((0.4, 3.2), True)])
def test_machine_load_is_reported(tmp_path, load, warned):
    path = _write(tmp_path, [_bench("x", 1.0, kind="feature", items=1)],
                  loadavg_start=[load[0], 0, 0], loadavg_end=[load[1], 0, 0])
    run = perf.load_run(path)
    run.machine["cpu"] = {"count": 2}
    text = perf.render(run)
    assert f"load average (1 min) at start / end: {load[0]:.2f} / {load[1]:.2f}" in text
    assert ("other processes competed" in text) == warned


def test_missed_targets_are_explained_from_the_numbers(tmp_path):
    mx = {"model": "mini-xception"}
    path = _write(tmp_path, [
        _bench("peak", 1.0, kind="peak", items=1, flops_per_item=100e9, n=4096),
        _bench("jax-train", 0.32, kind="cnn-train", items=32, batch=32, framework="jax",
               augment="none", flops_per_item=40e6, bytes_per_item=20e6, **mx),  # 100 img/s, 4 %
        _bench("torch-train", 0.064, kind="cnn-train", items=32, batch=32, framework="torch",
               augment="none", flops_per_item=40e6, **mx),  # 500 img/s: 0.20x
        _bench("jax-infer", 0.512, kind="cnn-infer", items=512, batch=512, framework="jax",
               flops_per_item=10e6, bytes_per_item=4e6, **mx),  # 1,000 img/s: 10 %
        _bench("torch-infer", 1.024, kind="cnn-infer", items=512, batch=512, framework="torch",
               flops_per_item=10e6, **mx),  # 500 img/s: 2.00x
        _bench("lvgg", 1.0, kind="cnn-infer", items=512, batch=512, framework="jax",
               model="little-vgg", flops_per_item=100e6, bytes_per_item=1e6),  # 51.2 %
        _bench("frame", 0.05, kind="end-to-end", items=1, faces=1, detect_width=320,
               detect_median_s=0.04),  # 20 fps, 80 % detection
    ])
    run = perf.load_run(path)
    rows = {r["bench"].name: r for r in perf.roofline(run)}
    assert rows["jax-train"]["intensity"] == pytest.approx(2.0)
    assert rows["jax-train"]["mbytes"] == pytest.approx(20.0)
    assert rows["torch-train"]["intensity"] is None
    why = "\n".join(perf.explain_misses(run, perf.evaluate_targets(run)))
    assert "4.0 % of the measured peak in training and 10.0 % in inference" in why
    assert "2.0 FLOP per byte accessed in training and 2.5 in inference" in why
    assert "against 100 for little-vgg, which reaches 51.2 % of peak" in why
    assert "training step runs at 0.20x and inference at 2.00x (batch 512): the forward pass " \
        "is competitive, the gap is in the backward pass" in why
    assert "Haar detection takes 40 ms of the 50 ms per frame (80.0 %)" in why
    assert why in perf.render(run)
    met = _write(tmp_path, [_bench("lvgg", 1.0, kind="cnn-infer", items=512, batch=512,
                                   framework="jax", model="little-vgg", flops_per_item=100e6)])
    assert perf.explain_misses(perf.load_run(met), perf.evaluate_targets(perf.load_run(met))) == []


def test_scaling_table_and_exponents(tmp_path):
    benches = []
    for n in (1000, 2000, 4000, 8000):
        benches.append(_bench(f"svm-{n}", 1.0, kind="scaling", items=n, pipeline="svm",
                              n_train=n, fit_s=2e-6 * n ** 2, accuracy=0.5, dataset="fer2013"))
        benches.append(_bench(f"cnn-{n}", 1.0, kind="scaling", items=n, pipeline="cnn",
                              n_train=n, fit_s=0.01 * n, accuracy=0.6, dataset="fer2013"))
    run = perf.load_run(_write(tmp_path, benches))
    points = perf.scaling_points(run)
    assert perf.fit_exponent_of(points["svm"]) == pytest.approx(2.0)
    assert perf.fit_exponent_of(points["cnn"]) == pytest.approx(1.0)
    text = perf.render(run)
    rows = _unpadded(text)
    assert "| pipeline | n=1,000 | n=2,000 | n=4,000 | n=8,000 | b |" in rows
    assert "| svm | 2 s / 50.0 % | 8 s / 50.0 % | 32 s / 50.0 % | 128 s / 50.0 % | 2.00 |" in rows
    assert "scaling" not in {b.group for b in run.benches if b.kind != "scaling"}


def test_merging_runs(tmp_path):
    first = _write(tmp_path, [_bench("a", 1.0, kind="feature", items=10),
                              _bench("b", 1.0, kind="feature", items=10)], command="pytest one",
                   environment={"cpu": "CPU One"})
    second = tmp_path / "second.json"
    first.rename(tmp_path / "first.json")
    _write(tmp_path, [_bench("b", 0.5, kind="feature", items=10),
                      _bench("c", 1.0, kind="scaling", items=10, pipeline="p", n_train=10,
                             fit_s=1.0, accuracy=0.5)], command="pytest two",
           commit_info={"id": "0123456789abcdef", "branch": "main", "dirty": False},
           environment={"cpu": "CPU Two"}).rename(second)
    run = perf.load_runs([tmp_path / "first.json", second])
    assert [b.name for b in run.benches] == ["a", "b", "c"]
    assert run.benches[1].items_per_s == pytest.approx(20.0)  # the later file wins
    text = perf.render(run)
    assert "`pytest one`" in text and "`pytest two`" in text
    # each merged file says which machine ran it
    assert "on CPU One, `pytest one`" in text
    assert "on CPU Two, commit `0123456789ab` on main, `pytest two`" in text


def test_fit_exponent_uses_the_larger_sizes():
    n = np.array([100, 200, 400, 800, 1600, 3200])
    seconds = 5.0 + 1e-4 * n ** 2  # a fixed cost dominates the small sizes
    assert fit_exponent(n, seconds) == pytest.approx(2.0, abs=0.15)
    assert fit_exponent([100, 100], [1.0, 2.0]) is None
    assert fit_exponent([100], [1.0]) is None


def test_formatting():
    assert perf.fmt_seconds(1.5) == "1.5 s"
    assert perf.fmt_seconds(0.0123) == "12.3 ms"
    assert perf.fmt_seconds(4.56e-5) == "45.6 µs"
    assert perf.fmt_seconds(math.nan) == "–"
    assert perf.fmt_rate(12345.6) == "12,346"
    assert perf.fmt_rate(12.345) == "12.3"
    goal = perf.TARGETS[0]
    near = {"target": goal, "measured": 0.993 * goal.goal, "met": False, "shortfall": 0.007}
    assert status(near) == "**missed** by 0.7 % (needs x1.01)"


def test_tables_are_aligned_pipe_tables():
    lines = table(("name", "rate", "note"), [("a", "1,000", "x"), ("bb", None, "")], "lrl")
    assert lines == ["| name   |   rate | note   |",
                     "|:-------|-------:|:-------|",  # figures right-aligned when rendered too
                     "| a      |  1,000 | x      |",
                     "| bb     |   None |        |"]


# --- errors and the command ----------------------------------------------------------------------

def test_bad_files(tmp_path):
    with pytest.raises(DataError, match="benchmark JSON not found"):
        perf.load_run(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="cannot read benchmark JSON"):
        perf.load_run(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"records": []}))
    with pytest.raises(DataError, match="not a pytest-benchmark JSON"):
        perf.load_run(tmp_path / "other.json")


def test_cli(tmp_path, capsys):
    assert main([str(FIXTURE), "--out", str(tmp_path / "out"), "--no-plots"]) == 0
    assert (tmp_path / "out" / "performance.md").is_file()
    assert not list((tmp_path / "out").glob("*.png"))
    assert main([str(tmp_path / "nope.json")]) == 2
    assert "benchmark JSON not found" in capsys.readouterr().err


# --- the suite's helpers -------------------------------------------------------------------------

def test_frames_hold_the_faces_they_promise():
    from fer_bench.face import detect_faces
    from benchmarks.perf.frames import FACE_COUNTS, make_frame

    for n in FACE_COUNTS:
        frame = make_frame(n)
        assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
        assert len(detect_faces(frame, min_size=64)) == n  # the pasted faces are >= 87 px
    with pytest.raises(ValueError, match="n_faces must be one of"):
        make_frame(2)


def test_uncached_turns_every_feature_cache_off():
    from benchmarks.perf.workload import uncached
    from fer_bench.registry import PIPELINES

    est = uncached(PIPELINES.get("fusion-svm").load()())
    caches = {k: v for k, v in est.get_params(deep=True).items() if k.endswith("cache")}
    assert len(caches) == 3 and not any(caches.values())
