"""Atomic file writes: a temporary file beside the target, then a rename.

A reader (or a run killed mid-write) never sees half a file, and the result gets the mode the
user's umask gives any new file (``mkstemp`` alone would leave it private, 0600).
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def umask() -> int:
    """The process's umask (read without changing it for long)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def replacing(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success it replaces ``path``.

    Anything written there (``np.savez``, ``zipfile``, ``open``) becomes ``path`` in one rename
    when the block ends without an exception; on an exception the temporary file is removed and
    ``path`` is left as it was. ``suffix`` ends the temporary name (``np.savez`` wants ``.npz``).
    Raises ``OSError`` when the folder cannot be created or written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``. Raises ``OSError``."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; returns ``path``. Raises ``OSError``."""
    return write_bytes(path, text.encode("utf-8"))
