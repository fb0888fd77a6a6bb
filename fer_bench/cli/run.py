"""``run``: every selected pipeline on every selected protocol, into ``<out>/records.jsonl``."""
from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from ..errors import FerBenchError
from ..registry import BUDGETS, PIPELINES, SUITES
from .options import add_fit_options, n_jobs, seed_list

if TYPE_CHECKING:  # the harness imports numpy and the registry's modules: only when running
    from ..harness.jobs import Job, Selection

EXAMPLES = """\
examples:
  python -m fer_bench run --suite smoke
  python -m fer_bench run --suite all --data-root ../shared/datasets -j 2
  python -m fer_bench run --pipelines hog-svm,little-vgg --datasets fer2013 --seeds 0,1,2
  python -m fer_bench run --pipelines pca-logreg --protocols cross:fer2013->ckplus
  python -m fer_bench run --suite classical --resume          # finish a killed run
  python -m fer_bench run --suite smoke --dataset-option synthetic.n_per_class=40
  python -m fer_bench run --suite deep --param epochs=5 --limit-train 2000
  python -m fer_bench run --suite classical --backend dask --scheduler tcp://HOST:8786

where results go (without --out):
  results/            runs on real data only
  results/synthetic/  runs on the built-in synthetic data only (--suite smoke, --datasets
                      synthetic, or the fallback when no data root is named and ./datasets
                      holds none), so they never enter the published tables
  a run mixing real and synthetic data is refused: name its store with --out DIR, or run
  the two apart
a data root named by --data-root or $FER_BENCH_DATA must exist, and hold a dataset when the
run looks for them there (--suite, --protocols '*' or cross): only with no root named does a
run fall back to the synthetic data.
a dataset with a broken file fails its own jobs (a failed record each, the file named in
OUT/failures.log, exit 1); the other datasets' jobs still run.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="run pipelines over protocols and store one record per job",
        description="Run every selected pipeline on every fold of every selected protocol, append "
                    "one JSON record per job to OUT/records.jsonl, then write the reports.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = p.add_argument_group("what to run")
    what.add_argument("--suite", choices=list(SUITES),
                      help="a named selection (smoke: the baseline on the synthetic default; "
                           "classical / deep: that family on every dataset found; cross: every "
                           "ordered pair of datasets; all: everything)")
    what.add_argument("--pipelines", metavar="A,B", help="pipeline names (or classical, deep, all)")
    what.add_argument("--datasets", metavar="X,Y",
                      help="datasets (each gets its own protocol unless --protocols is given)")
    what.add_argument("--protocols", metavar="P,Q",
                      help="protocol names, cross:TRAIN->TEST, 'cross' (all pairs) or '*'")
    what.add_argument("--seeds", type=seed_list, default="0", metavar="0,1,2",
                      help="seeds >= 0: each repeats every job with that seed (default: 0)")
    what.add_argument("--budget", default="auto", choices=["auto", *BUDGETS],
                      help="CNN training budget: full (the published schedules), cpu (a few "
                           "epochs, about 1.25 h for the deep half of --suite all on 2 cores), "
                           "cpu-2h (about 2 h of 2 CPU cores per FER2013 model, cosine decay) "
                           "or auto (full when JAX sees a GPU, else cpu; the default)")
    what.add_argument("--corrupt", metavar="NAMES",
                      help="also score every job's model on its test faces under these "
                           "corruptions (comma-separated, or all), at severities 1-5: the "
                           "robustness analysis of `report`; the model is the clean job's "
                           "(from the trained-model store)")
    add_fit_options(what, scoped=True,
                    view_help="label view (default: each protocol's own, e.g. ckplus8 for CK+)")
    how = p.add_argument_group("how to run it")
    how.add_argument("--out", metavar="DIR",
                     help="results directory (default: results/ for real data, "
                          "results/synthetic/ for synthetic data; see below)")
    again = how.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="skip jobs that already have an ok record with the same configuration")
    again.add_argument("--force", action="store_true", help="rerun jobs even if they have records")
    again.add_argument("--rescore", action="store_true",
                       help="--resume, and also run again the finished jobs whose records keep no "
                            "per-image predictions (older records), scoring their stored model "
                            "where the trained-model store has it, fitting it again otherwise")
    how.add_argument("-j", "--jobs", type=n_jobs, default=1, metavar="N",
                     help="parallel jobs, N >= 1 (joblib processes, or local Dask workers); "
                          "-1: all cores")
    how.add_argument("--backend", choices=("joblib", "dask"), default="joblib",
                     help="joblib (local processes, default) or dask (a distributed cluster)")
    how.add_argument("--scheduler", metavar="ADDRESS",
                     help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 "
                          "(default: a local cluster)")
    how.add_argument("--no-report", action="store_true", help="do not write the reports afterwards")
    how.add_argument("--no-progress", action="store_true", help="no progress bar")
    how.add_argument("--dry-run", action="store_true",
                     help="list the jobs a run would run now (after --resume / --force) and exit")
    p.set_defaults(func=cmd_run)


def default_out(selection: Selection) -> str:
    """Where a run without ``--out`` stores its records: ``results`` for real data only,
    ``results/synthetic`` for synthetic data only. Raises :class:`FerBenchError` for a mix,
    which would put synthetic rows into the published tables (or real ones out of them)."""
    synthetic = [s.label for s in selection.protocols if s.synthetic]
    real = [s.label for s in selection.protocols if not s.synthetic]
    if synthetic and real:
        raise FerBenchError(
            f"this run mixes real data ({', '.join(real)}) with synthetic data "
            f"({', '.join(synthetic)}), whose results are kept apart: pass --out DIR to store "
            f"them together, or run them separately (synthetic results go to results/synthetic/)"
        )
    return "results/synthetic" if synthetic else "results"


def command_line(args: argparse.Namespace) -> list[str]:
    """The canonical argv of this run (what the records and the README quote)."""
    argv = ["python", "-m", "fer_bench", "run"]
    for flag in ("suite", "pipelines", "datasets", "protocols", "seeds", "budget", "corrupt",
                 "view", "limit_train", "data_root", "out", "backend", "scheduler"):
        value = getattr(args, flag)
        if flag == "seeds":
            value = ",".join(map(str, value))
        if value is not None and not (flag == "backend" and value == "joblib"):
            argv += [f"--{flag.replace('_', '-')}", str(value)]
    for flag in ("param", "dataset_option", "face"):
        for value in getattr(args, flag) or ():
            argv += [f"--{flag.replace('_', '-')}", value]
    if args.jobs != 1:
        argv += ["-j", str(args.jobs)]
    for flag in ("resume", "force", "rescore", "no_report"):
        if getattr(args, flag):
            argv.append(f"--{flag.replace('_', '-')}")
    return argv


def _dry_run(jobs: list[Job], args: argparse.Namespace) -> int:
    """List the jobs a real run would run now, then each broken protocol's problem once, then
    the count (with how many ``--resume`` skips or ``--force`` redoes); exit 1 if any is broken.

    The store is filtered as by a real run (:func:`~fer_bench.harness.runner.plan`: finished jobs
    without ``--resume`` or ``--force`` are the same error) and only read, never written.
    """
    from ..harness.runner import plan
    from ..results.store import ResultStore

    resume, force, rescore = args.resume, args.force, args.rescore
    store = ResultStore(args.out)
    todo, skipped = plan(jobs, store, resume=resume, force=force, rescore=rescore)
    runnable = [j for j in todo if j.problem is None]
    for job in runnable:
        print(f"{job.config_hash[:12]}  {job.describe()}  view={job.view}")
    problems: dict[tuple[str, str], int] = {}
    for job in todo:
        if job.problem is not None:
            key = (job.spec.label, job.problem)
            problems[key] = problems.get(key, 0) + 1
    for (label, problem), n in problems.items():
        print(f"cannot run {label} ({n} job{'s' if n != 1 else ''}, would fail): {problem}")
    broken = len(todo) - len(runnable)
    line = f"{len(runnable)} jobs" + (
        f" ({broken} more would fail on broken data)" if broken else "")
    if resume or rescore:
        flag = "--rescore" if rescore else "--resume"
        line += f"; {skipped} already done in {store.path} ({flag} skips them)"
    elif force:
        done = store.ok_hashes() if store.path.exists() else set()
        redone = sum(j.config_hash in done for j in jobs)
        if redone:
            line += f"; {redone} of them already done in {store.path} (--force runs them again)"
    print(line)
    _print_estimate(runnable, args)
    return 1 if broken else 0


def _print_estimate(todo: list[Job], args: argparse.Namespace) -> None:
    """Say before the run how long the runnable jobs ``todo`` (what :func:`plan` leaves to
    run) should take (see :mod:`fer_bench.harness.estimate`); an estimate that cannot be made
    never stops the run."""
    from ..harness.estimate import estimate, reference_records
    from ..harness.params import accelerator_present
    from ..results.environment import n_cores

    if not todo:
        return
    if args.backend == "dask" and args.scheduler:
        print("duration estimate skipped: the cluster's workers are not known here",
              file=sys.stderr)
        return
    try:
        # Only JAX jobs run faster with an accelerator (asking costs a JAX start in a subprocess).
        jax_jobs = set(PIPELINES.names(family="deep")) | set(PIPELINES.names(family="hybrid"))
        accelerator = any(j.pipeline in jax_jobs for j in todo) and accelerator_present()
        workers = args.jobs if args.jobs > 0 else n_cores()
        line = estimate(todo, reference_records(args.out), workers, accelerator).line()
    except (FerBenchError, OSError, ValueError, TypeError, KeyError) as exc:
        line = f"no duration estimate ({type(exc).__name__}: {exc})"
    print(line, file=sys.stderr)


def _took(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Let ``kill`` stop a run as cleanly as Ctrl-C (records so far kept, workers stopped)."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_run(args: argparse.Namespace, client=None) -> int:
    """Run the selection; exit code 0 when every job succeeded, 1 on failures, 130 interrupted.

    ``client`` (a ``distributed.Client``) lets a caller reuse a cluster it already holds.
    """
    from ..harness.jobs import corruption_names, expand_jobs, resolve_selection
    from ..harness.params import parse_assignments, pipeline_params, resolve_budget
    from ..harness.runner import execute_jobs

    if args.scheduler and args.backend != "dask":
        raise FerBenchError("--scheduler needs --backend dask")
    if args.backend == "dask" and client is None:
        try:  # fail before any data is loaded
            import dask.distributed  # noqa: F401
        except ImportError:
            raise FerBenchError(
                "--backend dask needs dask.distributed: pip install 'fer-bench[distributed]'"
            ) from None
    seeds = list(args.seeds)
    selection = resolve_selection(args.suite, args.pipelines, args.datasets, args.protocols,
                                  args.data_root)
    if args.out is None:
        args.out = default_out(selection)
        if selection.note is None and args.out != "results":
            print(f"synthetic data only: results go to {args.out}/ (name another with --out)",
                  file=sys.stderr)
    if selection.note:
        print(f"{selection.note}; results go to {args.out}/", file=sys.stderr)
    params = pipeline_params(selection.pipelines, parse_assignments(args.param, "--param"))
    # Resolved once (auto -> full or cpu) so the records and the quoted command name it.
    args.budget = resolve_budget(args.budget, selection.pipelines)
    face = {k: v for k, v in (parse_assignments(args.face, "--face").get(None) or {}).items()}
    jobs = expand_jobs(
        selection, seeds, view=args.view, params=params, face=face, limit_train=args.limit_train,
        dataset_options=parse_assignments(args.dataset_option, "--dataset-option"),
        data_root=args.data_root, budget=args.budget,
        corruptions=corruption_names(args.corrupt),
    )
    if args.dry_run:
        return _dry_run(jobs, args)
    command = command_line(args)
    started = time.monotonic()
    with _sigterm_as_interrupt():
        summary = execute_jobs(
            jobs, args.out, data_root=args.data_root, backend=args.backend, n_jobs=args.jobs,
            scheduler=args.scheduler, client=client, resume=args.resume, force=args.force,
            rescore=args.rescore, command=command, progress=not args.no_progress,
            announce=lambda todo: _print_estimate(todo, args),
        )
    for line in summary.lines():
        print(line, file=sys.stderr)
    print(f"took {_took(time.monotonic() - started)}", file=sys.stderr)
    if summary.interrupted:
        print(f"interrupted: finished jobs are in {args.out}/records.jsonl; run again with "
              f"--resume to finish: {shlex.join(command + ([] if args.resume else ['--resume']))}",
              file=sys.stderr)
        return 130
    if summary.failures:
        print(f"tracebacks: {args.out}/failures.log", file=sys.stderr)
    if not args.no_report and (summary.records or summary.n_skipped):
        from ..reports import write_reports

        write_reports(args.out)
        print(f"report: {args.out}/README.md", file=sys.stderr)
    return 1 if summary.failures else 0
