"""Training-step throughput of deep pipelines on this machine, for quick before/after checks.

Usage (from the repository root)::

    python -m benchmarks.step_rate mini-xception:32 cpu-vgg:64 [--runs 5] [--seconds 3]

Builds each step as ``fit`` runs it without augmentation
(:func:`benchmarks.perf.cnn.train_step_workload`, data on the device, like the PyTorch
reference step), warms it up, then times ``runs`` windows of ``seconds`` each and prints the
median and every window's images/s. Run two code versions one after the other on an idle
machine and compare the medians; ``benchmarks/test_cnn.py`` is the full benchmark.
"""
from __future__ import annotations

import argparse
import statistics
import time


def step_rates(name: str, batch: int, runs: int, seconds: float) -> list[float]:
    """Images/s of ``runs`` timing windows of the ``name`` train step at ``batch``."""
    from benchmarks.perf.cnn import train_step_workload

    work = train_step_workload(name, batch, "none")
    for _ in range(3):  # compile and warm up
        work.run()
    rates = []
    for _ in range(runs):
        start, steps = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            work.run()
            steps += 1
        rates.append(steps * work.items / (time.perf_counter() - start))
    return rates


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="+", metavar="NAME:BATCH")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    for spec in args.specs:
        name, _, batch = spec.partition(":")
        rates = step_rates(name, int(batch or 32), args.runs, args.seconds)
        print(f"{name} batch {batch or 32}: median {statistics.median(rates):,.0f} images/s "
              f"(windows: {', '.join(f'{r:,.0f}' for r in rates)})", flush=True)


if __name__ == "__main__":
    main()
