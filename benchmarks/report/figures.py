"""Figures derived from a benchmark run: the measured peak, JAX against the PyTorch references,
the roofline (achieved GFLOP/s and share of the peak) and the scaling study's points."""
from __future__ import annotations

from typing import Sequence

from ..perf.scaling import fit_exponent
from .bench import Bench, BenchRun


def peak_gflops(run: BenchRun) -> float | None:
    """The measured peak fp32 GFLOP/s: the best round of the ``peak`` matmul benchmarks (of
    every size timed)."""
    best = None
    for b in run.select(kind="peak"):
        if b.flops_per_item and b.min_s > 0:
            g = b.flops_per_item * b.items / b.min_s / 1e9
            best = g if best is None else max(best, g)
    return best


def largest_batch(benches: Sequence[Bench]) -> Bench | None:
    return max(benches, key=lambda b: b.info.get("batch", b.items), default=None)


def torch_comparison(run: BenchRun) -> list[dict]:
    """JAX vs the PyTorch reference of each model with a twin (``benchmarks/torch_reference.py``),
    per workload and batch.

    The PyTorch side is its fastest timed configuration (thread count, memory layout) for that
    model, workload and batch. Training compares like with like: the JAX step without
    augmentation (``like_for_like``) when it was measured, else the registered one. Returns dicts
    with ``model``, ``workload``, ``kind``, ``batch``, ``jax``, ``torch`` (images/s), ``ratio``
    (JAX / PyTorch), ``torch_config`` and the two benchmark names.
    """
    out = []
    models = sorted({b.info.get("model") for b in run.select(framework="torch")} - {None})
    for model in models:
        for kind, label in (("cnn-train", "training step"), ("cnn-infer", "inference")):
            torch_rows = run.select(kind=kind, framework="torch", model=model)
            for batch in sorted({t.info.get("batch") for t in torch_rows}, key=lambda b: b or 0):
                t = max((r for r in torch_rows if r.info.get("batch") == batch),
                        key=lambda r: r.items_per_s)
                jax_rows = [b for b in run.select(kind=kind, framework="jax", model=model)
                            if b.info.get("batch") == batch]
                if kind == "cnn-train":
                    jax_rows = [b for b in jax_rows if b.info.get("like_for_like")] or jax_rows
                if not jax_rows:
                    continue
                j = jax_rows[0]
                config = ", ".join(f"{k}={t.info[k]}" for k in ("torch_threads", "memory_format")
                                   if k in t.info)
                out.append({"model": model, "workload": label, "kind": kind, "batch": batch,
                            "jax": j.items_per_s, "torch": t.items_per_s,
                            "ratio": j.items_per_s / t.items_per_s, "torch_config": config,
                            "jax_bench": j.name, "torch_bench": t.name})
    return out


def roofline(run: BenchRun) -> list[dict]:
    """Every JAX benchmark with a FLOP count (the CNNs) and PyTorch's reference configuration:
    MFLOP per image, GFLOP/s and % of the measured peak."""
    peak = peak_gflops(run)
    references = {r["torch_bench"] for r in torch_comparison(run)}
    rows = []
    for b in run.benches:
        if b.kind == "peak" or b.gflops_per_s is None:
            continue
        if b.info.get("framework") == "torch" and b.name not in references:
            continue  # only PyTorch's fastest configuration, the one compared with
        rows.append({
            "bench": b, "model": b.info.get("model", ""), "framework": b.info.get("framework", ""),
            "kind": b.kind, "batch": b.info.get("batch"), "mflops": b.flops_per_item / 1e6,
            "gflops": b.gflops_per_s, "pct_peak": 100 * b.gflops_per_s / peak if peak else None,
            "mbytes": b.bytes_per_item / 1e6 if b.bytes_per_item else None,
            "intensity": b.intensity,
        })
    return rows


def scaling_points(run: BenchRun) -> dict[str, list[dict]]:
    """``{pipeline: [{n_train, fit_s, accuracy, predict_s}, ...]}`` sorted by size."""
    out: dict[str, list[dict]] = {}
    for b in run.select(kind="scaling"):
        out.setdefault(b.info["pipeline"], []).append(b.info)
    return {k: sorted(v, key=lambda p: p["n_train"]) for k, v in out.items()}


def fit_exponent_of(points: Sequence[dict]) -> float | None:
    """Growth exponent of the steady-state fit time (``steady_fit_s``, else ``fit_s``)."""
    return fit_exponent([p["n_train"] for p in points],
                        [p.get("steady_fit_s", p["fit_s"]) for p in points])
