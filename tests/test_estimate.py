"""The duration estimate a run prints before it starts (fer_bench.harness.estimate)."""
from __future__ import annotations

import importlib
import json
import math
from dataclasses import replace

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


def job(pipeline: str, sizes=(1000, 50, 50), seed: int = 0, **params) -> Job:
    return Job(pipeline=pipeline, protocol="p", datasets=("d",), fold="f", seed=seed,
               view="7class", params=params, sizes=sizes)


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
    # 0.1 s per image and steady epoch; the first also compiled (10 s more)
    history = [{"seconds": 110.0}, {"seconds": 100.0}, {"seconds": 100.0}]
    refs = [record("cnn", 1000, 340, n_eval=100, history=history),  # 30 s + 10 s outside
            record("cnn", 1000, 500, n_eval=100, history=history, reused=True)]  # not a fit
    e = est.estimate([job("cnn", (500, 50, 50), epochs=4)], refs, cores=2)
    assert e.deep_seconds == pytest.approx(4 * 500 * 0.1)
    assert e.seconds == pytest.approx(200 + 40) and e.n_references == 1
    # without an epochs parameter its factory's schedule is unknown here: not costed
    e = est.estimate([job("cnn", (500, 50, 50))], refs, cores=2)
    assert e.unknown == {"cnn": 1} and e.line().startswith("no duration estimate: no earlier")


def test_references_come_from_the_same_kind_of_machine_and_scale_with_cores():
    refs = [record("svm", 1000, 100, cores=8, device="jax:cpu (1x cpu)"),
            record("svm", 1000, 1, device="jax:gpu (1x H200)"),
            record("svm", 1000, 999, status="failed")]
    assert est.estimate([job("svm")], refs, cores=2).seconds == pytest.approx(400)
    assert est.estimate([job("svm")], refs, accelerator=True, cores=2).seconds == pytest.approx(1)
    assert est.on_accelerator("jax:cpu (1x cpu)") is False and est.on_accelerator("cpu") is False
    # a job that never loaded JAX ran alike with a GPU present: it costs a classical job there
    assert est.estimate([job("knn")], [record("knn", 1000, 7)], accelerator=True,
                        cores=2).seconds == pytest.approx(7)


def test_parallel_workers_share_the_cores_and_wait_for_the_longest_job():
    refs = [record("svm", 1000, 100, cores=2)]
    # two workers on 2 cores: each job on one core takes twice as long, two at a time
    e = est.estimate([job("svm", seed=s) for s in range(4)], refs, n_workers=2, cores=2)
    assert e.seconds == pytest.approx(4 * 200 / 2) and e.n_workers == 2
    long_one = [job("svm", (4000, 10, 10)), job("svm", (10, 1, 1))]
    assert est.estimate(long_one, refs, n_workers=2, cores=4).seconds == pytest.approx(400)


def test_unknown_pipelines_are_named_and_corruption_jobs_cost_their_scoring():
    corrupted = Job(pipeline="svm", protocol="p", datasets=("d",), fold="f", seed=0,
                    view="7class", sizes=(1000, 0, 50), corruption=("blur", 1))
    refs = [record("svm", 1000, 10)]
    e = est.estimate([job("svm"), job("new"), job("new"), corrupted], refs, cores=2)
    assert e.seconds == pytest.approx(10) and e.unknown == {"new": 2, "svm": 1}
    assert e.line().startswith("estimated duration: about 10 s for 1 job, from 1 earlier record")
    assert "not costed (no earlier record, or a CNN without epochs): new x2, svm x1" in e.line()
    # corruption records always score a stored model: they cost by the test-set size
    refs.append(record("svm", 1000, 4, n_eval=100, reused=True, corruption=["blur", 2]))
    e = est.estimate([corrupted], refs, cores=2)
    assert e.seconds == pytest.approx(4) and not e.unknown


def test_a_cross_dataset_job_after_its_source_costs_only_its_scoring():
    refs = [record("cnn", 1000, 100, history=[{"seconds": 9.0}] * 10, n_eval=100)]
    own = Job(pipeline="cnn", protocol="fer2013-official", datasets=("fer2013",),
              fold="official", seed=0, view="7class", params={"epochs": 10},
              sizes=(1000, 50, 50))
    cross = [Job(pipeline="cnn", protocol=f"cross:fer2013->{b}", datasets=("fer2013", b),
                 fold="all", seed=0, view="7class", params={"epochs": 10},
                 sizes=(1000, 50, 50)) for b in ("ckplus", "jaffe")]
    alone = est.estimate([own], refs, cores=2)
    both = est.estimate([own, *cross], refs, cores=2)
    assert alone.deep_seconds == both.deep_seconds == pytest.approx(10 * 1000 * 9.0 / 1000)
    scoring = alone.seconds - alone.deep_seconds
    assert both.seconds == pytest.approx(alone.seconds + 2 * scoring)
    # without their source, the first cross-dataset job fits the model, the second reuses it
    assert est.estimate(cross, refs, cores=2).seconds == pytest.approx(both.seconds - scoring)
    # a dataset without a published split: cross:ckplus->B trains once on all of CK+ for every B
    from_ckplus = [Job(pipeline="cnn", protocol=f"cross:ckplus->{b}", datasets=("ckplus", b),
                       fold="all", seed=0, view="7class", params={"epochs": 10},
                       sizes=(1000, 50, 50)) for b in ("jaffe", "fer2013")]
    assert est.estimate(from_ckplus, refs, cores=2).seconds == pytest.approx(
        alone.seconds + scoring)
    # another seed is another model
    other = replace(from_ckplus[1], seed=1)
    assert est.estimate([from_ckplus[0], other], refs, cores=2).seconds == pytest.approx(
        2 * alone.seconds)
    # a job given a model file only scores it
    given = replace(own, model="m.ferb")
    assert est.estimate([given], refs, cores=2).seconds == pytest.approx(scoring)


def test_durations_read_naturally():
    assert est.Estimate(30, 1, 1).line().startswith("estimated duration: about 30 s for 1 job,")
    assert "about 9 min" in est.Estimate(540, 3, 1, deep_seconds=400).line()
    assert "(CNN training 7 min)" in est.Estimate(540, 3, 1, deep_seconds=400).line()
    assert "about 2.5 h" in est.Estimate(9000, 3, 1).line()


def test_planned_jobs_carry_their_fold_sizes_and_the_run_prints_the_estimate(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(est, "PUBLISHED", tmp_path / "no-published-results")
    monkeypatch.setattr(importlib.import_module("fer_bench.results.environment"), "n_cores",
                        lambda: 2)
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
    assert replace(planned, sizes=None).config_hash == planned.config_hash


def test_a_real_run_prints_its_estimate_before_the_jobs_and_what_it_took(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(est, "PUBLISHED", tmp_path / "no-published-results")
    out = tmp_path / "out"
    out.mkdir()
    (out / "records.jsonl").write_text(
        json.dumps({**record("pca-logreg", 100, 3), "config_hash": "x"}) + "\n")
    assert main(["run", "--pipelines", "pca-logreg", "--datasets", "synthetic", "--out", str(out),
                 "--dataset-option", "synthetic.n_per_class=20", "--no-report",
                 "--no-progress"]) == 0
    err = capsys.readouterr().err.splitlines()
    [line] = [x for x in err if x.startswith("estimated duration")]
    assert line.endswith("for 1 job, from 1 earlier record")
    assert err[-1].startswith("took ") and err.index(line) < len(err) - 1
