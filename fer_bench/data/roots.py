"""Where datasets live: ``--data-root``, else ``$FER_BENCH_DATA``, else ``./datasets``."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import DatasetNotFound
from ..registry import DATASETS

ENV_VAR = "FER_BENCH_DATA"


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """The data root in force: the argument, else ``$FER_BENCH_DATA``, else ``./datasets``."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path("datasets")


def named_root(explicit: str | os.PathLike | None = None) -> tuple[Path, str] | None:
    """The data root the user named and where (``"--data-root"`` or ``"$FER_BENCH_DATA"``);
    None when neither names one (``./datasets`` is then only a default that may be absent)."""
    if explicit:
        return Path(explicit).expanduser(), "--data-root"
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser(), f"${ENV_VAR}"
    return None


def check_named_root(explicit: str | os.PathLike | None = None, *, need_data: bool = False
                     ) -> None:
    """Raise :class:`DatasetNotFound` when the user named a data root that is not a folder or,
    with ``need_data``, holds no registered dataset; a silent fallback to the synthetic data
    would otherwise run for as long as a real benchmark and look like one."""
    named = named_root(explicit)
    if named is None:
        return
    path, source = named
    fix = (f"named by {source}; check the path, put the data there as datasets/README.md "
           f"describes, or name no data root to run on the synthetic default")
    if not path.is_dir():
        raise DatasetNotFound(path, "data root not found", fix)
    if need_data and not available(path):
        wanted = ", ".join(f"{s}/" for e in DATASETS for s in e.tags.get("subdirs", ()))
        raise DatasetNotFound(path, f"no dataset here: looked for {wanted}", fix)


def split_name(name: str) -> tuple[str, str | None]:
    """``"folder:/x/y"`` -> ``("folder", "/x/y")``; ``"fer2013"`` -> ``("fer2013", None)``."""
    base, sep, arg = name.partition(":")
    return base, (arg if sep else None)


def locate(name: str, root: str | os.PathLike | None = None) -> Path | None:
    """The directory (or file) holding dataset ``name`` under the data root.

    Returns ``None`` for the built-in synthetic dataset. Raises :class:`DatasetNotFound` with
    where to put the data when it is not there.
    """
    base, arg = split_name(name)
    entry = DATASETS.get(base)
    root_path = data_root(root)
    if entry.tags.get("builtin"):
        return None
    if entry.tags.get("by_path"):
        if not arg:
            raise DatasetNotFound(name, "a folder dataset needs a path", "write it as folder:PATH")
        path = Path(arg).expanduser()
        if not path.exists() and not path.is_absolute() and (root_path / path).exists():
            path = root_path / path
        if not path.exists():
            raise DatasetNotFound(path, "folder not found", "check the path given after folder:")
        return path
    if not root_path.is_dir():
        raise DatasetNotFound(
            root_path, "data root not found",
            f"pass --data-root DIR or set ${ENV_VAR}; see datasets/README.md for the layout",
        )
    for sub in entry.tags["subdirs"]:
        if (root_path / sub).exists():
            return root_path / sub
    wanted = " or ".join(f"{s}/" for s in entry.tags["subdirs"])
    raise DatasetNotFound(
        root_path, f"no {wanted} here for dataset {base}",
        f"put the {base} files in {root_path / entry.tags['subdirs'][0]} (layout: datasets/README.md)",
    )


def available(root: str | os.PathLike | None = None) -> list[str]:
    """Names of the registered on-disk datasets found under the data root."""
    found = []
    for entry in DATASETS:
        if entry.tags.get("builtin") or entry.tags.get("by_path"):
            continue
        try:
            locate(entry.name, root)
        except DatasetNotFound:
            continue
        found.append(entry.name)
    return found
