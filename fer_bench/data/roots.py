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
