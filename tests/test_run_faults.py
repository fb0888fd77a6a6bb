"""A careless user and broken inputs against ``run``: each ends in one line, nothing is lost.

Every test builds its bad input in ``tmp_path`` (fake releases from ``fakes``, the small
synthetic default, the cheapest pipeline) so the whole file runs in seconds.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fakes import make_ckplus48, make_fer2013_folder, register_pipeline, write_corrupt
from fer_bench.cli.main import BROKEN_PIPE_EXIT, main
from fer_bench.reports.readme import END, START
from fer_bench.results.store import load_records

# The small synthetic default (210 faces) and a 5-component baseline keep each job sub-second.
SMALL = ["--dataset-option", "synthetic.n_per_class=30", "--no-progress"]
CHEAP = ["--pipelines", "pca-logreg", "--param", "n_components=5", "--no-progress"]
REPO = Path(__file__).resolve().parents[1]


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def no_named_root(monkeypatch, tmp_path):
    """A fresh working directory (no ./datasets, no results/) with no data root named."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FER_BENCH_DATA", raising=False)
    return tmp_path


# --- 1. one bad file in one dataset ------------------------------------------------------------

@pytest.fixture
def half_broken_root(tmp_path) -> tuple[Path, Path]:
    """A data root with a clean CK+48 (10 subjects: enough for 10 folds) and a FER2013 with one
    corrupt image; returns the root and the bad file."""
    root = tmp_path / "data"
    make_fer2013_folder(root / "fer2013", n_train=3)
    make_ckplus48(root / "ckplus48", subjects=tuple(f"S{i:03d}" for i in range(10)))
    bad = write_corrupt(root / "fer2013" / "train" / "happy" / "Training_9999.png")
    return root, bad


def test_a_corrupt_file_fails_only_its_datasets_jobs(half_broken_root, tmp_path, capsys):
    root, bad = half_broken_root
    out = tmp_path / "out"
    code = main(["run", *CHEAP, "--datasets", "fer2013,ckplus", "--data-root", str(root),
                 "--out", str(out), "--no-report"])
    assert code == 1  # the run went on, and says at the end that something failed
    records = load_records(out)
    ok = [r for r in records if r["status"] == "ok"]
    failed = [r for r in records if r["status"] != "ok"]
    assert len(ok) == 10 and {r["protocol"] for r in ok} == {"ckplus-10fold"}
    [broken] = failed
    assert broken["protocol"] == "fer2013-official" and str(bad) in broken["error"]
    log = (out / "failures.log").read_text()
    assert "pca-logreg on fer2013-official" in log and str(bad) in log
    assert f"FAILED pca-logreg on fer2013-official fold * seed 0: DataError: {bad}" in (
        capsys.readouterr().err)

    # The file removed, --resume runs just FER2013, and the reports forget the old failure.
    bad.unlink()
    assert main(["run", *CHEAP, "--datasets", "fer2013,ckplus", "--data-root", str(root),
                 "--out", str(out), "--no-report", "--resume"]) == 0
    assert "0 failed, 10 skipped" in capsys.readouterr().err
    assert main(["report", str(out), "--no-plots"]) == 0
    assert "## Failed runs" not in (out / "README.md").read_text()


def test_dry_run_lists_the_clean_jobs_and_names_the_bad_file(half_broken_root, tmp_path, capsys):
    root, bad = half_broken_root
    code = main(["run", *CHEAP, "--protocols", "*,cross", "--data-root", str(root),
                 "--out", str(tmp_path / "out"), "--dry-run"])
    assert code == 1
    out = capsys.readouterr().out
    assert out.count("pca-logreg on ckplus-10fold fold") == 10
    broken = [line for line in out.splitlines() if line.startswith("cannot run")]
    # FER2013 is read once, yet all three protocols that need it say why they cannot run
    assert [line.split(" (")[0] for line in broken] == [
        "cannot run fer2013-official", "cannot run cross:fer2013->ckplus",
        "cannot run cross:ckplus->fer2013"]
    assert all(str(bad) in line for line in broken)
    assert out.splitlines()[-1] == "10 jobs (3 more would fail on broken data)"
    assert not (tmp_path / "out").exists()


def test_dry_run_resume_lists_only_what_would_run(tmp_path, capsys):
    out = tmp_path / "out"
    base = ["run", *CHEAP, *SMALL, "--datasets", "synthetic", "--out", str(out)]
    assert main([*base, "--seeds", "0", "--no-report"]) == 0
    records = (out / "records.jsonl").read_bytes()
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    capsys.readouterr()

    argv = [*base, "--seeds", "0,1", "--dry-run"]
    assert main([*argv, "--resume"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [x.split("  ")[1] for x in lines[:-1]] == [
        "pca-logreg on synthetic-holdout fold official seed 1"]
    assert lines[-1] == f"1 jobs; 1 already done in {out / 'records.jsonl'} (--resume skips them)"

    assert main([*argv, "--force"]) == 0  # --force: every job, saying which are redone
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "seed 0" in lines[0] and "seed 1" in lines[1]
    assert lines[-1].startswith("2 jobs; 1 of them already done") and "--force" in lines[-1]

    assert main(argv) == 2  # as a real run: finished jobs need --resume or --force
    line = one_line_error(capsys.readouterr().err)
    assert "1 of these 2 jobs already have results" in line and "--resume" in line
    assert (out / "records.jsonl").read_bytes() == records  # a dry run writes nothing
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == written


# --- 2. synthetic results never enter the real store -------------------------------------------

@pytest.mark.parametrize("selection", [
    ["--suite", "smoke"],
    ["--pipelines", "pca-logreg", "--datasets", "synthetic"],
    ["--pipelines", "pca-logreg", "--protocols", "synthetic-holdout"],
])
def test_synthetic_runs_without_out_use_their_own_store(no_named_root, selection, capsys):
    assert main(["run", *selection, "--no-report", *SMALL]) == 0
    assert (no_named_root / "results" / "synthetic" / "records.jsonl").is_file()
    assert not (no_named_root / "results" / "records.jsonl").exists()
    assert "results go to results/synthetic/" in capsys.readouterr().err


def test_a_run_mixing_real_and_synthetic_data_needs_out(half_broken_root, no_named_root, capsys):
    root, _ = half_broken_root
    argv = ["run", *CHEAP, *SMALL, "--datasets", "synthetic,ckplus", "--data-root", str(root),
            "--dry-run"]
    assert main(argv) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "ckplus-10fold" in line and "synthetic-holdout" in line and "--out DIR" in line
    assert not (no_named_root / "results").exists()
    assert main([*argv, "--out", str(no_named_root / "mixed")]) == 0  # named: the user's choice


# --- 3. a named data root must hold data -------------------------------------------------------

def test_a_data_root_typo_is_an_error_not_a_synthetic_run(no_named_root, monkeypatch, capsys):
    typo = no_named_root / "typo"
    assert main(["run", "--suite", "all", "--data-root", str(typo), "--dry-run"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert f"{typo}: data root not found" in line and "--data-root" in line

    monkeypatch.setenv("FER_BENCH_DATA", str(typo))
    assert main(["run", "--suite", "classical", "--dry-run"]) == 2
    assert "$FER_BENCH_DATA" in one_line_error(capsys.readouterr().err)

    # even a run that needs no data: the root the user named is wrong, and train says so too
    assert main(["run", "--suite", "smoke", "--dry-run"]) == 2
    assert "data root not found" in one_line_error(capsys.readouterr().err)
    assert main(["train", "pca-logreg", "--dataset", "synthetic", "--out",
                 str(no_named_root / "m.ferb")]) == 2
    assert "data root not found" in one_line_error(capsys.readouterr().err)
    assert not (no_named_root / "results").exists() and not (no_named_root / "m.ferb").exists()


def test_a_named_data_root_without_datasets_is_an_error(no_named_root, capsys):
    empty = no_named_root / "empty"
    (empty / "notes").mkdir(parents=True)
    assert main(["run", "--suite", "classical", "--data-root", str(empty), "--dry-run"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert f"{empty}: no dataset here" in line and "fer2013/" in line


def test_the_synthetic_fallback_is_only_for_no_root_named(no_named_root, capsys):
    assert main(["run", "--suite", "classical", "--pipelines", "pca-logreg", "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert "running on the synthetic default" in captured.err
    assert "synthetic-holdout" in captured.out


# --- 4. nonsense option values -----------------------------------------------------------------

@pytest.mark.parametrize("option", [
    ["-j", "0"], ["-j", "-2"], ["--jobs", "two"], ["--seeds", "-1"], ["--seeds", "0,0"],
    ["--seeds", ","], ["--limit-train", "0"], ["--limit-train", "-5"],
])
def test_bad_run_option_values_are_one_line_usage_errors(no_named_root, option, capsys):
    assert main(["run", "--suite", "smoke", *option, "--dry-run"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert option[0].lstrip("-") in line and "--help" in line


@pytest.mark.parametrize("option", [["--seed", "-1"], ["--limit-train", "1"]])
def test_bad_train_option_values_are_one_line_usage_errors(no_named_root, option, capsys):
    assert main(["train", "pca-logreg", "--dataset", "synthetic", *option]) == 2
    assert option[0] in one_line_error(capsys.readouterr().err)


def test_minus_one_still_means_every_core(no_named_root, capsys):
    assert main(["run", "--suite", "smoke", "-j", "-1", "--dry-run"]) == 0


# --- 5. a closed pipe --------------------------------------------------------------------------

@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_a_closed_pipe_ends_quietly(unbuffered):
    # Buffered (a user's default: the error comes at the final flush) and unbuffered (at print).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env.update({"PYTHONPATH": str(REPO), **({"PYTHONUNBUFFERED": "1"} if unbuffered else {})})
    proc = subprocess.Popen([sys.executable, "-m", "fer_bench", "datasets", "list"], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written (`| head -c 0`)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == BROKEN_PIPE_EXIT
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


# --- 6. every output gets the user's umask ------------------------------------------------------

@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_every_output_follows_the_umask(tmp_path, monkeypatch, mask, mode):
    register_pipeline(monkeypatch, "boom", "fakes:make_boom")
    readme = tmp_path / "README.md"
    readme.write_text(f"# project\n\n{START}\n{END}\n")
    readme.chmod(0o600 if mode != 0o600 else 0o644)  # the rewrite must not keep the old mode
    out = tmp_path / "out"
    old = os.umask(mask)
    try:
        assert main(["run", "--pipelines", "boom,pca-logreg", "--datasets", "synthetic",
                     "--param", "pca-logreg.n_components=5", "--out", str(out), *SMALL]) == 1
        assert main(["report", str(out), "--readme", str(readme)]) == 0
    finally:
        os.umask(old)
    reports = [*out.glob("*/*.md"), *out.glob("*/*.png")]  # in each protocol's folder
    files = sorted(p for p in [*out.iterdir(), *reports] if p.is_file())
    names = {p.name for p in files}
    assert {"records.jsonl", "failures.log", "README.md", "methods.md"} <= names
    assert any(n.endswith(".png") for n in names) and any(p.suffix == ".md" for p in reports)
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in [*files, readme]}
    assert set(modes.values()) == {oct(mode)}, modes
    assert not any(n.startswith(".") for n in names)  # no temporary file left behind
    assert json.loads((out / "records.jsonl").read_text().splitlines()[0])["status"] == "failed"
