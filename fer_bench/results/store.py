"""The result store: ``<out>/records.jsonl``, one JSON object per finished job.

Records are only ever appended, each as one line written by a single ``os.write`` on an
``O_APPEND`` descriptor under an exclusive lock, so concurrent writers never interleave and a
killed run leaves at worst a partial last line. The loader skips such a line and the next append
cuts it off first; any other line that is not a record (invalid JSON, or valid JSON that is no
record: ``[1, 2]``, ``{}``, an object without ``config_hash``) is corruption no writer of this
store leaves, and stops the reader with the file and line named. A job run again (``--force``,
or ``--resume`` after a failure) appends a new record with the same ``config_hash``; readers see
only the latest one.
"""
from __future__ import annotations

import fcntl
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..errors import FerBenchError

RECORDS = "records.jsonl"
FAILURE_LOG = "failures.log"
#: What a finished record with metrics names besides its ``config_hash``: reports group by these.
SCORED_KEYS = ("pipeline", "protocol", "fold", "seed")
#: The ``fold`` of a job (and its failed record) whose folds could not be planned because its
#: data is broken; the harness writes it, the reports recognise it.
UNPLANNED_FOLD = "*"


def _plain(value: Any) -> Any:
    """JSON has no numpy scalars, arrays or NaN; turn them into what it has."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def dumps(record: dict) -> str:
    """One record as one line of canonical JSON (sorted keys, no NaN)."""
    return json.dumps(_plain(record), sort_keys=True, separators=(",", ":"), allow_nan=False)


class ResultStore:
    """Append-only JSON-lines store of job records in directory ``out``."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.dir = Path(out)
        self.path = self.dir / RECORDS
        self.failure_log = self.dir / FAILURE_LOG

    def append(self, record: dict) -> None:
        """Append ``record`` atomically (all of its line or nothing)."""
        line = (dumps(record) + "\n").encode()
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)  # umask applies
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _cut_partial_tail(fd)
            written = os.write(fd, line)
            if written != len(line):  # disk full: undo the fragment rather than leave half a line
                os.ftruncate(fd, os.fstat(fd).st_size - written)
                raise OSError(f"{self.path}: short write ({written} of {len(line)} bytes)")
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the lock

    def log_failure(self, header: str, traceback_text: str) -> None:
        """Append a failed job's traceback to ``failures.log`` beside the records."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.failure_log, "a", encoding="utf-8") as fh:
            fh.write(f"=== {header}\n{traceback_text.rstrip()}\n\n")

    def load(self, latest: bool = True) -> list[dict]:
        """Every complete record in file order; with ``latest`` only the last per config hash."""
        return load_records(self.path, latest=latest)

    def ok_hashes(self) -> set[str]:
        """Config hashes whose latest record finished with status ``ok``."""
        return {r["config_hash"] for r in self.load() if r.get("status") == "ok"}

    def __len__(self) -> int:
        return len(self.load())


def _cut_partial_tail(fd: int) -> None:
    """Truncate a trailing line without its newline (left by a killed writer)."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    chunk = 1 << 16
    end = size
    while end > 0:
        start = max(0, end - chunk)
        data = os.pread(fd, end - start, start)
        nl = data.rfind(b"\n")
        if nl >= 0:
            os.ftruncate(fd, start + nl + 1)
            return
        end = start
    os.ftruncate(fd, 0)


def load_records(path: str | os.PathLike, latest: bool = True) -> list[dict]:
    """Records of a ``records.jsonl`` file (or of the directory holding one).

    A final line cut short by a killed run is ignored. Any other line that is not a record
    (invalid JSON, or JSON that :func:`record_problem` rejects) is a :class:`FerBenchError`
    naming the file, the line and what is wrong. With ``latest``, only the last record of each
    ``config_hash`` is kept, at the position of that last record.
    """
    path = Path(path)
    if path.is_dir() or (path.suffix != ".jsonl" and not path.exists()):
        path = path / RECORDS  # a results directory, existing or not
    if not path.exists():
        raise FerBenchError(
            f"{path}: no records found (run `python -m fer_bench run --out {path.parent}` first)"
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:  # a directory of that name, no permission, ...
        raise FerBenchError(f"{path}: cannot read the records ({exc.strerror or exc}); it must "
                            "be the JSON-lines file `run` writes") from None
    records: list[dict] = []
    lines = raw.split(b"\n")
    complete = lines[:-1]  # the text after the last newline is a partial record, if anything
    for number, line in enumerate(complete, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
            raise FerBenchError(f"{path}:{number}: not a JSON record ({reason}); delete that line"
                                ) from None
        problem = record_problem(record)
        if problem:
            raise FerBenchError(f"{path}:{number}: not a result record ({problem}); "
                                "delete that line")
        records.append(record)
    if latest:
        return _latest(records)
    return records


def record_problem(record: Any) -> str | None:
    """What makes decoded JSON ``record`` no result record, or None when it is one.

    A record is an object with a non-empty string ``config_hash`` (the store's key) and, when
    given, a string ``status``; one with ``status`` ``ok`` and ``metrics`` (what reports score)
    also names its :data:`SCORED_KEYS` and has ``metrics`` as an object holding the confusion
    matrix (``matrix`` and ``classes``) every report derives its figures from.
    """
    if not isinstance(record, dict):
        kind = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(record), "a number")
        return f"{kind}, not an object"
    if not record:
        return "an empty object, no config_hash"
    if not isinstance(record.get("config_hash"), str) or not record["config_hash"]:
        return ("no config_hash" if "config_hash" not in record
                else f"config_hash is {json.dumps(record['config_hash'])[:40]}, not a hash")
    if "status" in record and not isinstance(record["status"], str):
        return f"status is {json.dumps(record['status'])[:40]}, not a string"
    if record.get("status") == "ok" and "metrics" in record:
        missing = [k for k in SCORED_KEYS if k not in record]
        if missing:
            return f"a scored record without {', '.join(missing)}"
        if not isinstance(record["metrics"], dict):
            return "metrics is not an object"
        confusion = record["metrics"].get("confusion")
        if not (isinstance(confusion, dict) and isinstance(confusion.get("matrix"), list)
                and isinstance(confusion.get("classes"), list)):
            return "metrics without a confusion matrix (matrix and classes)"
    return None


def _latest(records: Iterable[dict]) -> list[dict]:
    last: dict[str, dict] = {}
    for r in records:
        key = r["config_hash"]
        last.pop(key, None)  # re-insert so the order is that of the latest record
        last[key] = r
    return list(last.values())
