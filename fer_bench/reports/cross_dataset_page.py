"""``cross_dataset.md``: train on one dataset, test on another. A table in the shape of the
thesis's Table 4.1 (a row per train -> test pair, a column per pipeline), then per pipeline
variant a train-dataset x test-dataset matrix whose diagonal is the within-dataset result."""
from __future__ import annotations

from typing import Iterable, Sequence

from ..registry import protocol_for
from .aggregate import Cell, group, is_cross
from .layout import report_path
from .tables import (
    DEGENERATE_MARK, _column_variant, _header, _pipelines, _row_order, _table, best_cell,
    degenerate_findings, degenerate_note, detection_text, flag, mean_std, model_text, number,
)

#: Cross-dataset accuracy (%) as reported in Table 4.1 of the thesis this suite reproduces,
#: keyed (training dataset, test dataset). Published reference figures, not results of this
#: suite; where the thesis gives two, they are two of its models, in its order.
THESIS_TABLE_4_1: dict[tuple[str, str], tuple[float, ...]] = {
    ("fer2013", "ckplus"): (76.05, 73.38),
    ("jaffe", "ckplus"): (54.05,),
    ("fer2013", "jaffe"): (50.70, 45.07),
    ("ckplus", "jaffe"): (55.87,),
}


def render_cross(records: Sequence[dict]) -> str:
    """One train -> test x pipeline table (the shape of the thesis's Table 4.1), then per
    pipeline variant a train-dataset x test-dataset accuracy matrix."""
    cells = group(records)
    cross = [c for c in cells if is_cross(c)]
    lines = _header("Cross-dataset accuracy", records)
    if not cross:
        return "\n".join(lines + [
            "No cross-dataset results yet: run `python -m fer_bench run --suite cross` with two "
            "or more datasets under the data root.", ""])
    lines += ["Each training dataset's model is fitted once and scored on all of every other "
              "dataset: FER2013's is the `fer2013-official` model (fit on Training, selected on "
              "PublicTest); a dataset without a published split trains on all of its images, a "
              "seeded subject-independent tenth held out for model selection. Each prediction "
              "is the argmax over the classes both datasets share; the others are dropped and "
              "named. Accuracy (%), mean ± std over seeds.", ""]
    lines += _pairs_table(cross, cells)
    lines += [
        "## Per pipeline", "",
        "Rows: training dataset; columns: test dataset. The diagonal (in italics) is the "
        "within-dataset protocol's accuracy for comparison.", "",
    ]
    within = [c for c in cells if not is_cross(c)]
    for row in _row_order(cross):
        row_cells = [c for c in cross if c.row_label == row]
        variants: dict[str, list[Cell]] = {}
        for c in row_cells:
            variants.setdefault(_column_variant(c), []).append(c)
        for variant, vcells in variants.items():
            pairs = {(c.records[0]["train_dataset"], c.records[0]["test_dataset"]): c
                     for c in vcells}
            names = sorted({d for pair in pairs for d in pair})
            table, shown = [], list(pairs.values())
            for a in names:
                row_out = [a]
                for b in names:
                    if a == b:
                        home = _home_cell(within, row, a, variant)
                        shown.append(home)
                        row_out.append(flag(f"*{mean_std(home, 'accuracy', runs=False)}*", home)
                                       if home else "—")
                    elif (a, b) in pairs:
                        c = pairs[(a, b)]
                        row_out.append(flag(f"[{mean_std(c, 'accuracy', runs=False)}]"
                                            f"({report_path(c)})", c))
                    else:
                        row_out.append("")
                table.append(row_out)
            lines += [f"### {row}{' ' + variant if variant else ''}", "",
                      _table(table, ["train \\ test", *names]), ""]
            for (a, b), c in sorted(pairs.items()):
                dropped = c.records[0].get("dropped_classes") or []
                lines.append(f"- {a} → {b}: {c.n} run(s), scored on {', '.join(c.classes)}"
                             + (f"; dropped (not in both): {', '.join(dropped)}"
                                if dropped else "")
                             + f"; test faces found: {detection_text(c)}"
                             + f"; model: {model_text(c)}"
                             + "".join(f"; {DEGENERATE_MARK} {why}"
                                       for why in degenerate_findings(c)))
            lines += ["", *degenerate_note(shown)]
    return "\n".join(lines)


def _pairs_table(cross: Sequence[Cell], cells: Sequence[Cell]) -> list[str]:
    """The section holding a row per train -> test pair and a column per pipeline (its variant
    in the protocol's own label view that validation selects, as :func:`headline_table` picks
    it, looking up reused models' validation among ``cells``), beside the thesis's Table 4.1
    figures."""
    pipelines = _pipelines(cross)
    table, shown, chosen, faces = [], [], [], []
    run_pairs = []
    # Beside the thesis's figures only runs in each protocol's own label view count (a 3-class
    # valence variant would otherwise stand next to a 6-class figure).
    own_view = [c for c in cross if c.records[0].get("view") == c.records[0].get("default_view")]
    for protocol in dict.fromkeys(c.protocol for c in own_view):  # first-seen order
        best = [best_cell(own_view, p, protocol, cells) for p in pipelines]
        found = [c for c in best if c is not None]
        first = found[0].records[0]
        pair = (first["train_dataset"], first["test_dataset"])
        run_pairs.append(pair)
        thesis = THESIS_TABLE_4_1.get(pair)
        table.append([
            f"{pair[0]} → {pair[1]}",
            # one value unless variants differ in view or test data
            " / ".join(dict.fromkeys(str(len(c.classes)) for c in found)),
            " / ".join(dict.fromkeys(number(c.mean("n_test", None), 6) for c in found)),
            *(flag(f"[{mean_std(c, 'accuracy', runs=False)}]({report_path(c)})", c) if c else ""
              for c in best),
            " / ".join(f"{v:.2f}" for v in thesis) if thesis else "—",
        ])
        faces.append(f"{pair[0]} → {pair[1]} "
                     f"{' / '.join(dict.fromkeys(detection_text(c) for c in found))}")
        shown += found
        variants = [" ".join(filter(None, [c.row_label, _column_variant(c)])) for c in found]
        variants = [v for v, c in zip(variants, found) if v != c.pipeline]
        if variants:
            chosen.append(f"{pair[0]} → {pair[1]}: {', '.join(variants)}")
    lines = [
        "## All pipelines (the shape of the thesis's Table 4.1)", "",
        "A row per training → test dataset, a column per pipeline: the variant its validation "
        "accuracy selects (among its parameter variants, in the protocol's own label view, as "
        "the thesis scores it; a reused model's own validation split), linked to its report.",
        "",
        _table(table, ["train → test", "shared classes", "test images", *pipelines,
                       "thesis (Table 4.1)"]), "",
        f"Test faces found (%): {'; '.join(faces)}. The share of the test images that went "
        "through face detection in which a face was found (how many had none in parentheses: "
        "they are scored on their centred crop, or as errors where a variant sets "
        "`no_face=wrong`); *pre-cropped*: the test images are face crops already and no "
        "detection runs. Each report lists the images without a face.", "",
        "*thesis (Table 4.1)*: accuracy (%) for the same pair as reported in Table 4.1 of the "
        "thesis this suite reproduces (its own models and data preparation); where it gives "
        "two figures, they are two of its models, in the order it reports them. A published "
        "reference, not a result of this suite.", "",
    ]
    if chosen:
        lines += [f"Variants chosen on validation: {'; '.join(chosen)}.", ""]
    missing = [f"{a} → {b} {' / '.join(f'{v:.2f}' for v in figures)}"
               for (a, b), figures in THESIS_TABLE_4_1.items() if (a, b) not in run_pairs]
    if missing:
        lines += [f"The thesis also reports {', '.join(missing)}; this store has no such runs.",
                  ""]
    return lines + degenerate_note(shown)


def _home_cell(cells: Iterable[Cell], row: str, dataset: str, variant: str) -> Cell | None:
    """The within-dataset cell of ``row`` for ``dataset`` (its own protocol), preferring the
    same column variant as the cross-dataset matrix."""
    protocol = protocol_for(dataset)
    options = [c for c in cells if c.row_label == row and c.records
               and c.records[0].get("protocol") == protocol
               and c.records[0].get("datasets") == [dataset]]
    same = [c for c in options if _column_variant(c) == variant]
    return (same or options or [None])[0]
