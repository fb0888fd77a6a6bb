"""``labels.csv`` as users have them: extra columns, named label / subject / path columns and an
image root, as dataset options; plain ``path,label[,subject]`` files keep their cache key."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fakes import cache_entries, face, make_labels_csv_folder, one_line, write_image
from fer_bench.data import folder, load_dataset
from fer_bench.data.cache import fingerprint, key_for
from fer_bench.data.labels import CLASS_INDEX
from fer_bench.errors import DataError, DatasetNotFound
from fer_bench.harness.jobs import expand_jobs, resolve_selection
from fer_bench.harness.params import parse_assignments




def make_wide_table(root: Path, image_root: str = "imgs") -> dict[str, np.ndarray]:
    """Images under ``root/image_root`` and a ``labels.csv`` with more columns than
    path,label,subject, the label and subject under other names (as a posed-expression set
    comes): ``path,performer,posed_label,session,notes``."""
    rng = np.random.default_rng(3)
    rows = [("a.png", "p01", "happy", "1", "ok"), ("b.png", "p01", "sad", "1", ""),
            ("c/d.png", "p02", "surprised", "2", "glasses, left"), ("e.png", "p03", "anger",
                                                                     "1", "")]
    images = {}
    for rel, *_ in rows:
        images[rel] = face(rng, (40, 40))
        write_image(root / image_root / rel, images[rel])
    lines = ["path,performer,posed_label,session,notes"]
    lines += [",".join(f'"{c}"' if "," in c else c for c in row) for row in rows]
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return images


OPTIONS = {"label_column": "posed_label", "subject_column": "performer", "image_root": "imgs"}


def test_extra_columns_are_accepted_with_the_columns_named(tmp_path):
    images = make_wide_table(tmp_path)
    ds = load_dataset(f"folder:{tmp_path}", **OPTIONS)
    assert len(ds) == 4
    by_path = {Path(p).relative_to(tmp_path / "imgs").as_posix(): i for i, p in enumerate(ds.paths)}
    for rel, image in images.items():
        np.testing.assert_array_equal(ds.images[by_path[rel]], image)
    assert [ds.labels[by_path[r]] for r in ("a.png", "b.png", "c/d.png", "e.png")] == [
        CLASS_INDEX[c] for c in ("happy", "sad", "surprise", "angry")]
    assert ds.subjects[by_path["c/d.png"]] == "p02" and ds.n_subjects == 3
    assert ds.meta["options"]["label_column"] == "posed_label"
    # the table itself may be named, and column names match case-insensitively
    same = folder.load(tmp_path / "labels.csv", name="folder", label_column="Posed_Label",
                       subject_column="PERFORMER", image_root="imgs")
    assert same.labels.tolist() == ds.labels.tolist()


def test_extra_columns_with_the_default_names_need_no_option(tmp_path):
    make_labels_csv_folder(tmp_path)
    lines = (tmp_path / "labels.csv").read_text().splitlines()
    wide = ["camera,path,notes,label,subject"] + [
        f"cam1,{p},\"x, y\",{lab},{s}" for p, lab, s in (line.split(",") for line in lines[1:])]
    (tmp_path / "labels.csv").write_text("\n".join(wide) + "\n")
    ds = folder.load(tmp_path, name="folder")
    assert len(ds) == 5 and ds.n_subjects == 3


def test_options_select_the_columns(tmp_path):
    """Two label columns: the option decides which one labels the images; without
    ``subject_column`` a table with no ``subject`` column has no subjects."""
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        write_image(tmp_path / name, face(rng, (30, 30)))
    (tmp_path / "labels.csv").write_text(
        "file,posed,perceived,who\na.png,happy,neutral,s1\nb.png,fear,surprise,s2\n")
    posed = folder.load(tmp_path, name="f", path_column="file", label_column="posed")
    perceived = folder.load(tmp_path, name="f", path_column="file", label_column="perceived",
                            subject_column="who")
    assert posed.labels.tolist() == [CLASS_INDEX["happy"], CLASS_INDEX["fear"]]
    assert perceived.labels.tolist() == [CLASS_INDEX["neutral"], CLASS_INDEX["surprise"]]
    assert posed.subjects is None and perceived.subjects.tolist() == ["s1", "s2"]
    assert len(cache_entries()) == 2  # options are part of the key: two entries


@pytest.mark.parametrize("options, missing", [
    ({"label_column": "emotion"}, "'emotion' (label_column)"),
    ({**OPTIONS, "subject_column": "actor"}, "'actor' (subject_column)"),
    ({**OPTIONS, "path_column": "file"}, "'file' (path_column)"),
])
def test_unknown_column_is_a_one_line_error_listing_the_header(tmp_path, options, missing):
    make_wide_table(tmp_path)
    with pytest.raises(DataError) as exc:
        folder.load(tmp_path, name="f", **options)
    message = one_line(exc)
    assert message.startswith(f"{tmp_path / 'labels.csv'}:1: no column {missing}")
    assert "the header has path, performer, posed_label, session, notes" in message


def test_a_wide_table_without_options_says_what_to_name(tmp_path):
    make_wide_table(tmp_path)
    with pytest.raises(DataError) as exc:
        folder.load(tmp_path, name="f")
    message = one_line(exc)
    assert "header is 'path,performer,posed_label,session,notes'" in message
    assert "label_column=" in message


def test_image_root_and_bad_options(tmp_path):
    make_wide_table(tmp_path)
    with pytest.raises(DataError, match="not found in"):  # paths are relative to image_root
        folder.load(tmp_path, name="f", label_column="posed_label")
    with pytest.raises(DatasetNotFound, match="image_root is not a folder"):
        folder.load(tmp_path, name="f", label_column="posed_label", image_root="nowhere")
    with pytest.raises(DataError, match="unknown option.*colour"):
        folder.load(tmp_path, name="f", colour=True)
    with pytest.raises(DataError, match="label_column=True is invalid"):
        folder.load(tmp_path, name="f", label_column=True)
    tree = tmp_path / "tree"
    write_image(tree / "happy" / "a.png", face(np.random.default_rng(0)))
    with pytest.raises(DataError, match="apply to a labels.csv"):
        folder.load(tree, name="f", label_column="posed_label")


def test_plain_file_keeps_its_cache_key_and_meta(tmp_path):
    """No option given: the key is the one fer-bench always computed for this file, and the
    dataset's meta (part of the face cache's key) is unchanged."""
    fakes = make_labels_csv_folder(tmp_path)
    ds = folder.load(tmp_path, name="folder")
    files = [tmp_path / "labels.csv", *[f.path for f in fakes]]
    key = key_for("folder", tmp_path, {"format": "labels.csv", "table": "labels.csv"},
                  fingerprint(files, tmp_path))
    assert [p.name for p in cache_entries()] == [f"{key}.npz"]
    assert ds.meta == {"root": str(tmp_path), "format": "labels.csv",
                       "options": {"format": "labels.csv"}}
    # the same file loaded with an option is another entry; the plain one is still served
    folder.load(tmp_path, name="folder", label_column="label")
    assert len(cache_entries()) == 2 and f"{key}.npz" in [p.name for p in cache_entries()]


def test_dataset_options_reach_the_loader_and_the_job_config(tmp_path):
    make_wide_table(tmp_path)
    name = f"folder:{tmp_path}"
    given = parse_assignments([f"{k}={v}" for k, v in OPTIONS.items()], "--dataset-option")
    assert given == {None: OPTIONS}
    sel = resolve_selection(pipelines="pca-logreg", protocols=f"cross:synthetic->{name}")
    options = {"synthetic": {"n_per_class": 5}, name: given[None]}
    jobs = expand_jobs(sel, [0], dataset_options=options)
    assert [j.problem for j in jobs] == [None]
    assert jobs[0].config()["dataset_options"] == {"synthetic": {"n_per_class": 5}, name: OPTIONS}
    plain = expand_jobs(sel, [0], dataset_options={"synthetic": {"n_per_class": 5}})
    assert "header is" in plain[0].problem  # without the options the table is refused
    assert plain[0].config()["dataset_options"][name] == {}


def test_datasets_info_and_verify_take_the_column_options(tmp_path, capsys):
    from fer_bench.cli.main import main

    make_wide_table(tmp_path)
    flags = [a for k, v in OPTIONS.items() for a in ("--dataset-option", f"{k}={v}")]
    assert main(["datasets", "info", f"folder:{tmp_path}", *flags, "--json"]) == 0
    assert '"n_images": 4' in capsys.readouterr().out
    assert main(["datasets", "verify", f"folder:{tmp_path}", *flags]) == 0
    assert capsys.readouterr().out.strip().endswith("OK")
    assert main(["datasets", "info", f"folder:{tmp_path}"]) == 2  # the wide header needs them
    assert "label_column" in capsys.readouterr().err
    assert main(["datasets", "verify", *flags]) == 2  # options for every dataset: refused
    assert "applies to one dataset" in capsys.readouterr().err


@pytest.mark.parametrize("header,options,match", [
    ("path,label,label", {}, "names column 'label' 2 times"),
    ("path,performer,posed_label", {"label_column": "posed_label",
                                    "subject_column": "posed_label"}, "the same column"),
])
def test_ambiguous_columns_are_refused(tmp_path, header, options, match):
    write_image(tmp_path / "a.png", face(np.random.default_rng(0), (40, 40)))
    (tmp_path / "labels.csv").write_text(f"{header}\na.png,happy,happy\n")
    with pytest.raises(DataError, match=match) as err:
        load_dataset(f"folder:{tmp_path}", **options)
    assert "\n" not in str(err.value)


def test_an_empty_label_cell_says_so(tmp_path):
    from fer_bench.data import verify_dataset

    write_image(tmp_path / "a.png", face(np.random.default_rng(0), (40, 40)))
    (tmp_path / "labels.csv").write_text("path,label\na.png,\n")
    assert [p.problem for p in verify_dataset(f"folder:{tmp_path}")] == ["empty label"]
