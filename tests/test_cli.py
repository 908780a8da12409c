"""The `deepfake-core` command line: predict outputs and exit codes, split."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import encode, face_like_image

from deepfake_core.cli import main
from deepfake_core.inputs import expand_inputs


@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "images"
    (folder / "nested").mkdir(parents=True)
    (folder / "a.png").write_bytes(encode(face_like_image(seed=1)))
    (folder / "nested" / "b.jpg").write_bytes(encode(face_like_image(seed=2), "JPEG"))
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_expand_inputs_files_folders_globs(image_folder):
    assert [p.name for p in expand_inputs([str(image_folder)])] == ["a.png", "b.jpg"]
    assert [p.name for p in expand_inputs([str(image_folder / "**" / "*.jpg")])] == ["b.jpg"]
    assert [p.name for p in expand_inputs([str(image_folder / "a.png"), str(image_folder / "a.png")])] == ["a.png"]
    assert [p.name for p in expand_inputs([str(image_folder / "missing-*.png")])] == ["missing-*.png"]


def _run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_predict_json(capsys, tiny_model_dir, image_folder):
    code, out, _ = _run(
        capsys, "predict", str(image_folder), "--model", str(tiny_model_dir / "default.keras"), "--json"
    )
    rows = json.loads(out)
    assert code == 0 and [row["file"].rsplit("/", 1)[-1] for row in rows] == ["a.png", "b.jpg"]
    for row in rows:
        assert row["label"] in ("Real", "Fake") and 0 <= row["p_fake"] <= 1 and row["error"] is None
        assert row["model_id"] == "default-test" and len(row["sha256"]) == 64


def test_predict_csv_with_a_bad_file_reports_it_and_fails(capsys, tiny_model_dir, image_folder):
    bad = image_folder / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    empty = image_folder / "empty.jpg"
    empty.write_bytes(b"")
    args = ["predict", str(image_folder / "a.png"), str(bad), str(empty), str(image_folder / "nested" / "b.jpg")]
    code, out, err = _run(capsys, *args, "--model", str(tiny_model_dir / "default.keras"), "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 1 and "2 of 4 files could not be classified" in err
    assert [bool(row["error"]) for row in rows] == [False, True, True, False]
    assert rows[2]["error"].startswith("empty.jpg:") and "empty" in rows[2]["error"]
    assert rows[3]["label"] in ("Real", "Fake")


def test_predict_table_and_threshold(capsys, tiny_model_dir, image_folder):
    code, out, _ = _run(
        capsys,
        "predict",
        str(image_folder / "a.png"),
        "--model",
        str(tiny_model_dir / "default.keras"),
        "--threshold",
        "0",
    )
    assert code == 0 and "Fake" in out.splitlines()[1] and out.startswith("file")


def test_predict_missing_model_is_a_clear_error(capsys, tmp_path, image_folder):
    code, _, err = _run(capsys, "predict", str(image_folder), "--model", str(tmp_path / "none.keras"))
    assert code == 2 and "No model file" in err


def test_predict_nothing_matched(capsys, tiny_model_dir, tmp_path):
    code, out, _ = _run(
        capsys, "predict", str(tmp_path / "nothing-*.png"), "--model", str(tiny_model_dir / "default.keras"), "--json"
    )
    assert code == 1 and json.loads(out)[0]["error"]


def test_split_command(capsys, tmp_path, image_folder):
    for label in ("Real", "Fake"):
        (tmp_path / "data" / label).mkdir(parents=True)
        for index in range(10):
            (tmp_path / "data" / label / f"k_{index}.png").write_bytes(encode(face_like_image(seed=index)))
    code, out, _ = _run(
        capsys, "split", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "m.json"), "--seed", "1"
    )
    assert code == 0 and "train" in out and json.loads((tmp_path / "m.json").read_text())["seed"] == 1


def test_reported_command_writes_a_loadable_reported_entry(capsys, tmp_path):
    from deepfake_core.evaluation.results import load_results

    code, out, _ = _run(capsys, "reported", "--out", str(tmp_path / "thesis.json"))
    results = load_results(tmp_path / "thesis.json")
    assert code == 0 and results["kind"] == "reported" and "not reproduced" in out
    assert any(row["accuracy"] == 0.9615 for row in results["table"])
