"""`datasets list | info | verify` end to end through the CLI entry point."""
from __future__ import annotations

import json
import shutil

import pytest

from fakes import make_ckplus48, make_fer2013_folder, write_corrupt
from fer_bench.cli.main import main


@pytest.fixture
def root(tmp_path):
    make_fer2013_folder(tmp_path / "fer2013", n_train=3, n_public=2, n_private=1)
    make_ckplus48(tmp_path / "ckplus48")
    return tmp_path


def test_list_shows_what_is_found(root, capsys):
    assert main(["datasets", "list", "--data-root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "found: " in out and "jaffe" in out and "not found" in out


def test_info_json_has_the_documented_keys(root, capsys):
    assert main(["datasets", "info", "fer2013", "--data-root", str(root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["dataset"] == "fer2013"
    assert info["n_images"] == 7 * 6
    assert info["splits"] == {"Training": 21, "PublicTest": 14, "PrivateTest": 7}
    assert info["classes"]["happy"] == 6
    assert info["n_subjects"] is None


def test_info_ckplus_counts_subjects(root, capsys):
    assert main(["datasets", "info", "ckplus", "--data-root", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_subjects"] == 3


def test_verify_ok_then_lists_every_problem(root, capsys):
    assert main(["datasets", "verify", "fer2013", "--data-root", str(root)]) == 0
    write_corrupt(root / "fer2013" / "train" / "happy" / "Training_bad1.png")
    write_corrupt(root / "fer2013" / "train" / "sad" / "Training_bad2.png")
    capsys.readouterr()
    assert main(["datasets", "verify", "--data-root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "Training_bad1.png" in out and "Training_bad2.png" in out  # all, not the first
    assert "ckplus: OK" in out


def test_verify_lists_copies_as_findings_that_keep_exit_0(root, capsys):
    train = sorted((root / "fer2013" / "train" / "happy").iterdir())[0]
    shutil.copy(train, root / "fer2013" / "test" / "happy" / "PrivateTest_copy.png")
    assert main(["datasets", "verify", "--data-root", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    [group] = [x for x in lines if "same pixels" in x]  # one line per group
    assert group.startswith("fer2013: ") and "PrivateTest_copy.png" in group
    assert "n_test_duplicates" in group and "delete all but one copy" in group
    assert lines[-2].startswith("fer2013: 0 file problem(s); 1 group(s) of identical images "
                                "(2 files, 1 group(s) across splits), findings that do not set")
    assert "ckplus: OK" in lines
    assert main(["datasets", "verify", "fer2013", "--data-root", str(root), "--strict"]) == 1
    write_corrupt(root / "fer2013" / "train" / "sad" / "Training_bad.png")
    capsys.readouterr()
    assert main(["datasets", "verify", "fer2013", "--data-root", str(root)]) == 1
    assert "fer2013: 1 file problem(s); 1 group(s)" in capsys.readouterr().out


def test_missing_data_root_is_one_line(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["datasets", "info", "fer2013", "--data-root", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(missing) in err and "--data-root" in err


def test_unknown_dataset_is_one_line(root, capsys):
    assert main(["datasets", "info", "fer2031", "--data-root", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert "fer2013" in err and err.count("\n") == 0
