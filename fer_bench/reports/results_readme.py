"""The results directory's ``README.md``: the headline table, the commands that made the runs,
the data, the machine and package versions, and links to every other file of the build."""
from __future__ import annotations

import shlex
from collections import Counter
from typing import Sequence

from .aggregate import Cell, failed_records, group, ok_records
from .headline import headline_table
from .layout import index_path, protocol_dir
from .tables import MARKER, _table


def render_readme(records: Sequence[dict], files: dict[str, list[str]]) -> str:
    """The results front page: headline table, commands, data, machine, versions, links.

    ``files["plots"]`` names the figures drawn at the top of the results directory; each
    protocol's reports and their figures are linked from its index (:mod:`.protocol_index`).
    """
    ok = ok_records(records)
    cells = group(records)
    lines = [MARKER, "", "# fer-bench results", ""]
    if ok:
        stamps = sorted(r["finished_at"] for r in ok if r.get("finished_at"))
        lines += [f"{len(ok)} finished runs ({len(failed_records(records))} failed), finished "
                  f"between {stamps[0]} and {stamps[-1]} (UTC).", ""]
    else:
        lines += ["No finished runs yet.", ""]
    if cells:
        lines += ["## Headline: test accuracy (%) per pipeline and protocol", "",
                  "Mean over folds × seeds of the pipeline's variant (parameters, label view) "
                  "with the highest validation accuracy: the test figures choose nothing; "
                  "details in [methods.md](methods.md) and "
                  "[cross_dataset.md](cross_dataset.md).", ""]
        lines += [headline_table(cells), ""]
    lines += _commands_section(records) + _data_section(ok) + _machine_section(records)
    lines += _files_section(cells, files.get("plots", []))
    failed = failed_records(records)
    if failed:
        lines += ["", "## Failed runs", "", _table(
            [[r.get("pipeline", ""), r.get("protocol_label") or r.get("protocol", ""),
              str(r.get("fold")), str(r.get("seed")), str(r.get("error", ""))] for r in failed],
            ["pipeline", "protocol", "fold", "seed", "error"]),
            "", "Tracebacks are in `failures.log`."]
    lines.append("")
    return "\n".join(lines)


def _commands_section(records: Sequence[dict]) -> list[str]:
    commands = []
    for r in records:
        cmd = r.get("command")
        text = shlex.join(cmd) if isinstance(cmd, list) else str(cmd or "")
        if text and text not in commands:
            commands.append(text)
    if not commands:
        return []
    return ["## Commands", "", "The runs recorded here were made by:", "", "```sh",
            *commands, "```", "",
            "Re-render these files with `python -m fer_bench report DIR`.", ""]


def _data_section(ok: Sequence[dict]) -> list[str]:
    data: dict[str, dict] = {}
    for r in ok:
        for name, info in (r.get("data") or {}).items():
            data[name] = info
    if not data:
        return []
    rows = [[name, str(info.get("n_images")),
             ", ".join(f"{k} {v}" for k, v in (info.get("classes") or {}).items()),
             "—" if info.get("n_subjects") is None else str(info["n_subjects"]),
             ", ".join(f"{k} {v}" for k, v in (info.get("splits") or {}).items()) or "—",
             f"`{info.get('source')}`"] for name, info in sorted(data.items())]
    return ["## Data", "", _table(rows, ["dataset", "images", "classes", "subjects", "splits",
                                         "source"]), ""]


def _machine_section(records: Sequence[dict]) -> list[str]:
    envs = [r["environment"] for r in records if r.get("environment")]
    if not envs:
        return []
    machines = Counter((e.get("hostname"), e.get("cpu"), e.get("n_cores"), e.get("device"))
                       for e in envs)
    rows = [[str(h), str(cpu), str(n), str(dev), str(k)]
            for (h, cpu, n, dev), k in machines.items()]
    lines = ["## Machine", "", _table(rows, ["host", "CPU", "cores", "device", "runs"]), ""]
    latest = envs[-1]
    versions = [["python", latest.get("python", "")],
                ["fer-bench", latest.get("fer_bench", "")]]
    versions += [[k, v] for k, v in (latest.get("packages") or {}).items()]
    commits = sorted({str(e.get("git_commit")) for e in envs if e.get("git_commit")})
    lines += ["## Versions", "", _table(versions, ["package", "version"]), ""]
    if len({_freeze(e.get("packages")) for e in envs}) > 1:
        lines += ["Package versions differ between runs; each record in records.jsonl has "
                  "its own.", ""]
    if commits:
        lines += [f"Git commit(s): {', '.join(f'`{c[:12]}`' for c in commits)}.", ""]
    return lines


def _files_section(cells: Sequence[Cell], plots: Sequence[str]) -> list[str]:
    """Links to the other pages, to each protocol's folder of reports and to the top-level
    figures."""
    lines = ["## Files", "", "- [methods.md](methods.md): every pipeline on every protocol",
             "- [cross_dataset.md](cross_dataset.md): train on one dataset, test on another",
             "- [analysis.md](analysis.md): significance of the differences, robustness under "
             "corruption, calibration, cost of accuracy"]
    count = Counter(c.protocol for c in cells)
    for protocol, n in count.items():
        lines.append(f"- [{protocol_dir(protocol)}/]({index_path(protocol)}): the "
                     f"classification report of each of the {n} pipeline variant(s) run on "
                     f"{protocol}, with its figures")
    if plots:
        lines += ["", "Plots:", ""] + [f"- [{name}]({name})" for name in plots]
    if "speed_accuracy.png" in plots:
        lines += ["", "![accuracy vs prediction time](speed_accuracy.png)"]
    return lines


def _freeze(d: dict | None) -> tuple:
    return tuple(sorted((d or {}).items()))
