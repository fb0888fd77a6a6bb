"""Where a result was produced: Python and package versions, CPU, device, git commit, host.

Collected once per process and stored in every record, so a table can always say what machine
and code made it. Versions come from package metadata, so nothing heavy is imported; the
accelerator is read from JAX only when the job had already imported it (a classical pipeline
runs on the CPU whatever devices exist).
"""
from __future__ import annotations

import functools
import os
import platform
import socket
import sys
from importlib import metadata
from pathlib import Path

from .. import __version__

PACKAGES = ("numpy", "scikit-learn", "scikit-image", "jax", "jaxlib", "flax", "optax",
            "opencv-python-headless", "opencv-python", "joblib", "dask", "distributed")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed version of each distribution in ``names`` (absent ones are left out)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux, else ``platform``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def n_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def device() -> str:
    """``"jax:<backend> (<devices>)"`` when JAX is loaded in this process, else ``"cpu"``."""
    jax = sys.modules.get("jax")
    if jax is None:
        return "cpu"
    try:
        devices = jax.devices()
        kinds = sorted({getattr(d, "device_kind", d.platform) for d in devices})
        return f"jax:{jax.default_backend()} ({len(devices)}x {', '.join(kinds)})"
    except Exception:  # a broken accelerator runtime must not lose a finished result
        return "jax:unknown"


def git_commit(start: str | os.PathLike | None = None) -> str | None:
    """The commit checked out in the repository holding this package, read from ``.git``.

    Reads the files directly (no ``git`` executable needed); ``None`` outside a checkout.
    """
    here = Path(start) if start else Path(__file__).resolve()
    for parent in [here, *here.parents]:
        dot_git = parent / ".git"
        if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = dot_git.read_text().strip()
            if text.startswith("gitdir:"):
                dot_git = (parent / text.split(":", 1)[1].strip()).resolve()
        if dot_git.is_dir():
            return _resolve_head(dot_git)
    return None


def _resolve_head(git_dir: Path) -> str | None:
    try:
        head = (git_dir / "HEAD").read_text().strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None
    ref = head.split(":", 1)[1].strip()
    common = git_dir
    if (git_dir / "commondir").is_file():
        common = (git_dir / (git_dir / "commondir").read_text().strip()).resolve()
    for base in (git_dir, common):
        if (base / ref).is_file():
            return (base / ref).read_text().strip()
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    return None  # a fresh repository without commits


@functools.lru_cache(maxsize=1)
def _static_environment() -> dict:
    return {
        "python": platform.python_version(),
        "fer_bench": __version__,
        "packages": package_versions(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "n_cores": n_cores(),
        "git_commit": git_commit(),
        "hostname": socket.gethostname(),
    }


def environment() -> dict:
    """Everything above as one JSON-ready dict (the device is re-read: a job may load JAX)."""
    return {**_static_environment(), "device": device()}
