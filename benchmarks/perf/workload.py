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
    bytes_per_item : float or None
        Bytes read and written per item by the compiled computation's operations (XLA's
        estimate: each fused operation's operands and results, whether they come from cache or
        memory), None where unknown.
    info : dict
        JSON-ready details recorded with the benchmark (batch size, shapes, settings).
    """

    run: Callable[[], Any]
    items: int
    flops_per_item: float | None = None
    info: dict = field(default_factory=dict)
    bytes_per_item: float | None = None


def compiled_cost(compiled: Any) -> dict[str, float]:
    """XLA's cost estimate of a compiled computation: ``{"flops": ..., "bytes": ...}`` with the
    entries it gives (``cost_analysis()``'s ``flops`` and ``bytes accessed``); empty for a
    backend without cost analysis.

    The cost analysis is a dict on recent JAX and a one-element list on older releases.
    """
    try:
        cost = compiled.cost_analysis()
    except Exception:  # a backend without cost analysis
        return {}
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else None
    cost = cost or {}
    out = {}
    for key, name in (("flops", "flops"), ("bytes", "bytes accessed")):
        value = cost.get(name)
        if value and value > 0:
            out[key] = float(value)
    return out


def compiled_flops(compiled: Any) -> float | None:
    """XLA's FLOP estimate of a compiled computation, or None (see :func:`compiled_cost`)."""
    return compiled_cost(compiled).get("flops")


def uncached(estimator: Any) -> Any:
    """``estimator`` with every ``cache`` parameter (feature extractors, nested or not) set to
    False, so a timed ``transform`` / ``predict`` computes instead of reading the disk cache."""
    names = [k for k in estimator.get_params(deep=True) if k == "cache" or k.endswith("__cache")]
    return estimator.set_params(**dict.fromkeys(names, False)) if names else estimator
