"""Reading pytest-benchmark JSON: each benchmark's timing statistics and the ``extra_info`` the
suite records, and several files merged into one run."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from fer_bench.errors import DataError


@dataclass
class Bench:
    """One benchmark of the JSON: its timing statistics and recorded details.

    Attributes
    ----------
    name, group : str
        pytest-benchmark's test name (with parameters) and group.
    min_s, median_s : float
        Fastest and median seconds per call.
    rounds : int
        Timed rounds.
    info : dict
        The suite's ``extra_info``: ``kind``, ``items`` per call, ``unit``, ``flops_per_item``,
        ``model``, ``batch``, ``framework``, ...
    """

    name: str
    group: str
    min_s: float
    median_s: float
    rounds: int
    info: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.info.get("kind", ""))

    @property
    def items(self) -> float:
        return float(self.info.get("items", 1))

    @property
    def unit(self) -> str:
        return str(self.info.get("unit", "items"))

    @property
    def items_per_s(self) -> float:
        """Throughput from the median time per call."""
        return self.items / self.median_s if self.median_s > 0 else math.nan

    @property
    def flops_per_item(self) -> float | None:
        value = self.info.get("flops_per_item")
        return float(value) if value else None

    @property
    def bytes_per_item(self) -> float | None:
        value = self.info.get("bytes_per_item")
        return float(value) if value else None

    @property
    def intensity(self) -> float | None:
        """FLOPs per byte accessed (XLA's estimates), None without both counts."""
        f, b = self.flops_per_item, self.bytes_per_item
        return f / b if f and b else None

    @property
    def gflops_per_s(self) -> float | None:
        """Achieved GFLOP/s at the median time, None without a FLOP count."""
        f = self.flops_per_item
        return f * self.items_per_s / 1e9 if f else None

    def matches(self, **want: Any) -> bool:
        return all(self.info.get(k) == v for k, v in want.items())


@dataclass
class BenchRun:
    """A whole benchmark JSON (or several merged): the benchmarks and where / how they ran.

    ``machine``, ``commit``, ``datetime`` and ``meta`` (what ``benchmarks/conftest.py`` adds:
    command, sizes, load average, versions) are the first file's; ``sessions`` holds
    ``(source, datetime, meta)`` of every file.
    """

    benches: list[Bench]
    machine: dict
    commit: dict
    datetime: str
    meta: dict
    source: str = ""
    sessions: list[tuple[str, str, dict]] = field(default_factory=list)

    def select(self, **want: Any) -> list[Bench]:
        return [b for b in self.benches if b.matches(**want)]

    @property
    def small(self) -> bool:
        return bool(self.meta.get("sizes", {}).get("small"))


def load_runs(paths: Sequence[str | os.PathLike]) -> BenchRun:
    """Read and merge several pytest-benchmark JSON files (e.g. the main run and a separate
    scaling study): a benchmark found in several files is taken from the last one."""
    runs = [load_run(p) for p in paths]
    if not runs:
        raise ValueError("load_runs needs at least one file")
    merged: dict[str, Bench] = {}
    for run in runs:
        for b in run.benches:
            merged[f"{b.group}::{b.name}"] = b
    first = runs[0]
    return BenchRun(list(merged.values()), first.machine, first.commit, first.datetime,
                    first.meta, first.source, [s for r in runs for s in r.sessions])


def load_run(path: str | os.PathLike) -> BenchRun:
    """Read a pytest-benchmark JSON file.

    Raises :class:`DataError` for a missing, unreadable or foreign file.
    """
    path = Path(path)
    fix = "pass the file written by pytest benchmarks/ --benchmark-only --benchmark-json=FILE"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(path, "benchmark JSON not found", fix) from None
    except (OSError, ValueError) as exc:
        raise DataError(path, f"cannot read benchmark JSON ({exc})", fix) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("benchmarks"), list):
        raise DataError(path, "not a pytest-benchmark JSON file (no 'benchmarks' list)", fix)
    benches = []
    for b in raw["benchmarks"]:
        stats = b.get("stats") or {}
        if "median" not in stats:
            continue  # a benchmark that failed before timing
        benches.append(Bench(
            name=b.get("name", "?"), group=b.get("group") or "(no group)",
            min_s=float(stats["min"]), median_s=float(stats["median"]),
            rounds=int(stats.get("rounds", 0)), info=dict(b.get("extra_info") or {}),
        ))
    meta = raw.get("fer_bench") or {}
    commit = raw.get("commit_info") or {}
    # The session keeps its file's commit: merged files may come from different commits.
    return BenchRun(benches, raw.get("machine_info") or {}, commit,
                    raw.get("datetime", ""), meta, str(path),
                    [(str(path), raw.get("datetime", ""), {**meta, "commit": commit})])
