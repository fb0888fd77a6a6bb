"""Per-fusion profile of a deep pipeline's jitted train step on this machine's CPU.

Usage (from the repository root)::

    XLA_FLAGS=--xla_cpu_enable_xprof_traceme=true python -m benchmarks.profile_step \
        mini-xception 32

Builds the step exactly as ``fit`` runs it (:func:`benchmarks.perf.cnn.train_step_workload`,
no augmentation, data on the device), runs ``steps`` of it under :func:`jax.profiler.trace`
and prints the XLA thunks (fusions, dots, convolutions) that took the most time per step, then
the same grouped by kind (``ynn_fusion`` = YNNPACK dots, ``*_reduce_fusion`` = reductions, ...).
Without the XLA flag the trace holds only the Python side. The measurements behind
``deep_perf.md`` were made this way.
"""
from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import tempfile
from pathlib import Path


def profile(arch: str, batch: int, steps: int, top: int) -> None:
    import jax

    from benchmarks.perf.cnn import train_step_workload

    work = train_step_workload(arch, batch_size=batch, augment="none")
    for _ in range(3):  # compile and warm up outside the trace
        work.run()
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp, create_perfetto_trace=True):
            for _ in range(steps):
                work.run()
        [trace] = Path(tmp).rglob("*.trace.json.gz")
        events = json.load(gzip.open(trace))
    events = events["traceEvents"] if isinstance(events, dict) else events
    per_op: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
    for e in events:
        # XLA's thunks only: Python frames start with "$", executor spans wrap the whole step.
        if e.get("ph") == "X" and not e["name"].startswith("$") and "::" not in e["name"] \
                and "PjitFunction" not in e["name"]:
            per_op[e["name"]][0] += 1
            per_op[e["name"]][1] += e.get("dur", 0.0)
    total = sum(v[1] for v in per_op.values()) / steps / 1000
    print(f"{arch}, batch {batch}: {total:.1f} ms of thunks per step "
          f"({batch / total * 1000:.0f} images per thunk-second)")
    for name, (calls, us) in sorted(per_op.items(), key=lambda kv: -kv[1][1])[:top]:
        print(f"{us / steps / 1000:8.2f} ms  {calls // steps:4d}x  {name}")
    kinds: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
    for name, (calls, us) in per_op.items():
        kind = re.sub(r"\.\d+$", "", name)
        kinds[kind][0] += calls
        kinds[kind][1] += us
    print("by kind:")
    for kind, (calls, us) in sorted(kinds.items(), key=lambda kv: -kv[1][1])[:top]:
        print(f"{us / steps / 1000:8.2f} ms  {calls // steps:4d}x  {kind}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arch", nargs="?", default="mini-xception", help="a deep pipeline")
    parser.add_argument("batch", nargs="?", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    profile(args.arch, args.batch, args.steps, args.top)


if __name__ == "__main__":
    main()
