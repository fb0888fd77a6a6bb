"""A timed unit of work: a zero-argument callable, how many items one call handles and its
arithmetic cost, so a benchmark can turn seconds into items/s and FLOP/s."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Workload:
    """One benchmarkable call.

    Attributes
    ----------
    run : callable
        Does the work once and returns when it is finished (device work included).
    items : int
        Items (images, frames, matrix products) one call processes.
    flops_per_item : float or None
        Floating-point operations per item, None where unknown.
    info : dict
        JSON-ready details recorded with the benchmark (batch size, shapes, settings).
    """

    run: Callable[[], Any]
    items: int
    flops_per_item: float | None = None
    info: dict = field(default_factory=dict)


def compiled_flops(compiled: Any) -> float | None:
    """XLA's FLOP estimate of a compiled computation (``cost_analysis()["flops"]``), or None.

    The cost analysis is a dict on recent JAX and a one-element list on older releases.
    """
    try:
        cost = compiled.cost_analysis()
    except Exception:  # a backend without cost analysis
        return None
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else None
    flops = (cost or {}).get("flops")
    return float(flops) if flops and flops > 0 else None


def uncached(estimator: Any) -> Any:
    """``estimator`` with every ``cache`` parameter (feature extractors, nested or not) set to
    False, so a timed ``transform`` / ``predict`` computes instead of reading the disk cache."""
    names = [k for k in estimator.get_params(deep=True) if k == "cache" or k.endswith("__cache")]
    return estimator.set_params(**dict.fromkeys(names, False)) if names else estimator
