"""The duration estimate a run prints before it starts (fer_bench.harness.estimate)."""
from __future__ import annotations

import json
import math

import pytest

from fer_bench.cli.main import main
from fer_bench.harness import estimate as est
from fer_bench.harness.jobs import Job


def record(pipeline: str, n_train: int, wall_s: int, *, n_eval: int = 100, history=None,
           cores: int = 2, device: str = "cpu", reused: bool = False, status: str = "ok",
           corruption=None) -> dict:
    minutes, seconds = divmod(wall_s, 60)
    hours, minutes = divmod(minutes, 60)
    return {"pipeline": pipeline, "status": status, "n_train": n_train, "n_val": n_eval // 2,
            "n_test": n_eval - n_eval // 2, "history": history, "corruption": corruption,
            "model": {"reused": reused}, "environment": {"n_cores": cores, "device": device},
            "started_at": "2026-12-01T00:00:00+00:00",
            "finished_at": f"2026-12-01T{hours:02d}:{minutes:02d}:{seconds:02d}+00:00"}


def job(pipeline: str, sizes=(1000, 50, 50), **params) -> Job:
    return Job(pipeline=pipeline, protocol="p", datasets=("d",), fold="f", seed=0, view="7class",
               params=params, sizes=sizes)


def test_power_law_recovers_an_exact_law_and_bounds_its_exponent():
    law = est.power_law([100, 1000, 10000], [2.0, 2.0 * 10 ** 1.5, 2.0 * 100 ** 1.5])
    assert law(100000) == pytest.approx(2.0 * 1000 ** 1.5)
    assert est.power_law([10, 10], [3, 5])(20) == pytest.approx(2 * math.sqrt(15))  # b = 1
    # b capped at 2.5, the line through the centre of the points: 10 ** (4.5 + 2.5 * 1.5)
    assert est.power_law([10, 100], [1, 10 ** 9])(1000) == pytest.approx(10 ** 8.25)


def test_classical_jobs_scale_with_the_training_set():
    refs = [record("svm", 1000, 10), record("svm", 4000, 160)]  # quadratic
    e = est.estimate([job("svm", (2000, 10, 10))], refs, cores=2)
    assert e.seconds == pytest.approx(40) and e.deep_seconds == 0 and e.n_references == 2


def test_cnn_jobs_cost_epochs_times_images_plus_the_rest():
    history = [{"seconds": 100.0}, {"seconds": 100.0}]  # 0.1 s per image and epoch
    refs = [record("cnn", 1000, 230, n_eval=100, history=history),  # 30 s outside the epochs
            record("cnn", 1000, 500, n_eval=100, history=history, reused=True)]  # not a fit
    e = est.estimate([job("cnn", (500, 50, 50), epochs=4)], refs, cores=2)
    assert e.deep_seconds == pytest.approx(4 * 500 * 0.1)
    assert e.seconds == pytest.approx(200 + 30) and e.n_references == 1
    # without an epochs parameter: as many as the references ran
    assert est.estimate([job("cnn", (500, 50, 50))], refs, cores=2).deep_seconds == pytest.approx(100)


def test_references_come_from_the_same_kind_of_machine_and_scale_with_cores():
    refs = [record("svm", 1000, 100, cores=8), record("svm", 1000, 1, device="jax:gpu (1x H200)"),
            record("svm", 1000, 999, status="failed")]
    assert est.estimate([job("svm")], refs, cores=2).seconds == pytest.approx(400)
    assert est.estimate([job("svm")], refs, accelerator=True, cores=2).seconds == pytest.approx(1)
    assert est.on_accelerator("jax:cpu (1x cpu)") is False and est.on_accelerator("cpu") is False


def test_unknown_pipelines_and_corruption_jobs_are_named_not_guessed():
    refs = [record("svm", 1000, 10)]
    corrupted = Job(pipeline="svm", protocol="p", datasets=("d",), fold="f", seed=0,
                    view="7class", sizes=(1000, 0, 50), corruption=("blur", 1))
    e = est.estimate([job("svm"), job("new"), job("new"), corrupted], refs, n_workers=2, cores=2)
    assert e.seconds == pytest.approx(5) and e.unknown == {"new": 2, "svm": 1}
    line = e.line()
    assert line.startswith("estimated duration: about 5 s for 1 job on 2 workers")
    assert "not costed (no earlier record): new x2, svm x1" in line


def test_durations_read_naturally():
    assert est.Estimate(30, 1, 1).line().startswith("estimated duration: about 30 s for 1 job,")
    assert "about 9 min" in est.Estimate(540, 3, 1, deep_seconds=400).line()
    assert "(CNN training 7 min)" in est.Estimate(540, 3, 1, deep_seconds=400).line()
    assert "about 2.5 h" in est.Estimate(9000, 3, 1).line()


def test_planned_jobs_carry_their_fold_sizes_and_the_run_prints_the_estimate(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(est, "PUBLISHED", tmp_path / "no-published-results")
    out = tmp_path / "out"
    out.mkdir()
    # an earlier record of the pipeline in the run's own store: the estimate learns from it
    earlier = record("pca-logreg", 1460, 120)
    (out / "records.jsonl").write_text(json.dumps({**earlier, "config_hash": "x"}) + "\n")
    assert main(["run", "--pipelines", "pca-logreg", "--datasets", "synthetic", "--out", str(out),
                 "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert "1 jobs" in captured.out
    [line] = [x for x in captured.err.splitlines() if x.startswith("estimated duration")]
    assert line.startswith("estimated duration: about 2 min for 1 job")
    from fer_bench.harness.jobs import expand_jobs, resolve_selection

    [planned] = expand_jobs(resolve_selection(None, "pca-logreg", "synthetic", None, None))
    n_train, n_val, n_test = planned.sizes
    assert n_train > n_val > 0 and n_test > 0
    assert planned.config() == Job(**{**planned.__dict__, "sizes": None}).config()
