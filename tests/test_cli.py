"""The `deepfake-core` command line: predict outputs and exit codes, split."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import encode, face_like_image, four_faces, no_face_pictures

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
    assert code == 1 and "2 of 4 files got no verdict" in err
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


def _write_faces(folder, labels, count, prefix):
    """``count`` face-like PNG files ``PREFIX_N.png`` in ``folder/LABEL`` for each of ``labels``."""
    for label in labels:
        (folder / label).mkdir(parents=True)
        for index in range(count):
            (folder / label / f"{prefix}_{index}.png").write_bytes(encode(face_like_image(seed=index)))


def test_split_command(capsys, tmp_path, image_folder):
    _write_faces(tmp_path / "data", ("Real", "Fake"), 10, "k")
    code, out, _ = _run(
        capsys, "split", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "m.json"), "--seed", "1"
    )
    assert code == 0 and "train" in out and json.loads((tmp_path / "m.json").read_text())["seed"] == 1


def test_split_command_can_train_on_a_share_of_real_photos(capsys, tmp_path):
    _write_faces(tmp_path / "data", ("Real", "Fake"), 10, "k")
    _write_faces(tmp_path / "photos", ("Real",), 4, "people_photo")
    trained = {}
    for extra in ([], ["--add-real-complement"]):
        out = tmp_path / f"m{len(extra)}.json"
        code, _, _ = _run(
            capsys,
            "split",
            "--data",
            str(tmp_path / "data"),
            "--out",
            str(out),
            "--add-real",
            str(tmp_path / "photos"),
            "--add-real-share",
            "0.25",
            *extra,
        )
        splits = json.loads(out.read_text())["splits"]
        trained[bool(extra)] = {row[0] for row in splits["train"] if row[2] == "people_photo"}
        assert code == 0 and not any(row[2] == "people_photo" for row in splits["validation"] + splits["test"])
    assert (len(trained[False]), len(trained[True])) == (1, 3) and not trained[False] & trained[True]


def test_reported_command_writes_a_loadable_reported_entry(capsys, tmp_path):
    from deepfake_core.evaluation.results import load_results

    code, out, _ = _run(capsys, "reported", "--out", str(tmp_path / "thesis.json"))
    results = load_results(tmp_path / "thesis.json")
    assert code == 0 and results.kind == "reported" and "not reproduced" in out
    assert any(row.accuracy == 0.9615 for row in results.table)


# --- predict with the face step -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def face_pictures(tmp_path_factory):
    """A photo with four faces (1024 px), and the cat, coffee, screenshot and landscape, as PNG files."""
    folder = tmp_path_factory.mktemp("face_pictures")
    (folder / "four.png").write_bytes(encode(four_faces()))
    for name, picture in no_face_pictures().items():
        (folder / f"{name}.png").write_bytes(encode(picture))
    return folder


def _predict(capsys, model_dir, *paths, flags=()):
    return _run(capsys, "predict", *map(str, paths), "--model", str(model_dir / "default.keras"), *flags)


def _predict_json(capsys, model_dir, *paths, flags=()):
    code, out, err = _predict(capsys, model_dir, *paths, flags=flags)
    return code, json.loads(out), err


def test_predict_gives_one_row_per_face_with_its_box(capsys, tiny_face_model_dir, face_pictures):
    code, rows, err = _predict_json(capsys, tiny_face_model_dir, face_pictures / "four.png", flags=["--json"])
    assert code == 0 and "no face step" not in err
    assert [row["face"] for row in rows] == [1, 2, 3, 4]
    tiles = set()
    for row in rows:
        x, y, width, height = row["box"]
        assert 60 < width < 120 and 80 < height < 140 and row["face_score"] > 0.9
        assert row["label"] in ("Real", "Fake") and 0 <= row["p_fake"] <= 1 and row["error"] is None
        assert row["file"].endswith("four.png") and len(row["sha256"]) == 64
        tiles.add((x // 512, y // 512))
    assert tiles == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_predict_a_picture_without_a_face_is_an_error_row_and_fails(capsys, tiny_face_model_dir, face_pictures):
    paths = (face_pictures / "cat.png", face_pictures / "four.png")
    code, rows, err = _predict_json(capsys, tiny_face_model_dir, *paths, flags=["--json", "--faces", "largest"])
    assert code == 1 and "1 of 2 files got no verdict" in err
    cat, four = rows
    assert cat["file"].endswith("cat.png") and cat["error"].startswith("cat.png: no face found")
    assert cat["label"] is None and cat["box"] is None and len(cat["sha256"]) == 64
    assert four["face"] == 1 and four["label"] in ("Real", "Fake")  # --faces largest: one row for four faces


def test_predict_faces_none_judges_the_whole_image(capsys, tiny_face_model_dir, tiny_face_detector, face_pictures):
    code, rows, _ = _predict_json(
        capsys,
        tiny_face_model_dir,
        face_pictures / "cat.png",
        flags=["--json", "--faces", "none"],
    )
    (row,) = rows
    assert code == 0 and row["face"] is None and row["box"] is None and row["error"] is None
    whole = tiny_face_detector.predict(no_face_pictures()["cat"])
    assert row["label"] == whole.label and row["p_fake"] == pytest.approx(whole.p_fake, abs=1e-5)


def test_predict_csv_has_face_and_box_columns(capsys, tiny_face_model_dir, face_pictures):
    code, out, _ = _predict(
        capsys, tiny_face_model_dir, face_pictures / "four.png", flags=["--csv", "--faces", "largest"]
    )
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and out.splitlines()[0].startswith("file,face,box,face_score,label")
    assert row["face"] == "1" and len(row["box"].split()) == 4 and float(row["face_score"]) > 0.9


def test_predict_with_a_model_without_face_step_notes_it_and_judges_whole_images(capsys, tiny_model_dir, face_pictures):
    code, rows, err = _predict_json(
        capsys, tiny_model_dir, face_pictures / "cat.png", face_pictures / "four.png", flags=["--json"]
    )
    assert code == 0 and "note: model default-test has no face step; each whole image is judged." in err
    assert [row["face"] for row in rows] == [None, None]
    assert all(row["label"] in ("Real", "Fake") and row["box"] is None for row in rows)


def test_predict_table_shows_the_face_number(capsys, tiny_face_model_dir, face_pictures):
    code, out, _ = _predict(capsys, tiny_face_model_dir, face_pictures / "four.png", flags=["--faces", "largest"])
    header, line = out.splitlines()
    assert code == 0 and header.split()[:3] == ["file", "face", "verdict"] and line.split()[1] == "1"


def test_predict_refuses_a_named_pipe_instead_of_hanging(capsys, tiny_model_dir, tmp_path):
    import os

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    code, rows, _ = _predict_json(capsys, tiny_model_dir, fifo, flags=["--json"])
    assert code == 1 and "not a regular file" in rows[0]["error"]


def test_predict_csv_defuses_formula_file_names(capsys, tiny_model_dir, tmp_path, monkeypatch):
    from conftest import encode, face_like_image

    monkeypatch.chdir(tmp_path)
    Path("=HYPERLINK(1).png").write_bytes(encode(face_like_image()))
    code, out, _ = _predict(capsys, tiny_model_dir, "=HYPERLINK(1).png", flags=["--csv"])
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and row["file"] == "'=HYPERLINK(1).png"


def test_predict_gives_no_verdict_for_any_picture_without_a_face(capsys, tiny_face_model_dir, face_pictures):
    names = ("cat", "coffee", "screenshot", "landscape")
    code, rows, err = _predict_json(
        capsys, tiny_face_model_dir, *(face_pictures / f"{name}.png" for name in names), flags=["--json"]
    )
    assert code == 1 and "4 of 4 files got no verdict" in err
    assert [row["file"].rsplit("/", 1)[-1] for row in rows] == [f"{name}.png" for name in names]
    assert all("no face found" in row["error"] and row["label"] is None and row["p_fake"] is None for row in rows)


def test_train_takes_an_augmentation_preset_and_a_per_kind_cap():
    from deepfake_core.cli import build_parser

    base = ["train", "--data", "d", "--manifest", "m.json", "--out", "x.keras"]
    parser = build_parser()
    assert parser.parse_args(base).augment is None
    assert parser.parse_args([*base, "--augment"]).augment == "standard"
    args = parser.parse_args([*base, "--augment", "strong", "--max-per-kind", "5"])
    assert (args.augment, args.max_per_kind) == ("strong", 5)
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--augment", "extreme"])
    from deepfake_core.perturb import AUGMENT_PRESETS

    for preset in AUGMENT_PRESETS:  # every preset can be asked for by name
        assert parser.parse_args([*base, "--augment", preset]).augment == preset
    # head-only epochs are off unless asked for, and a count of 0 or less is a usage error
    assert parser.parse_args(base).probe_epochs == 0
    assert parser.parse_args([*base, "--probe-epochs", "2"]).probe_epochs == 2
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--probe-epochs", "0"])
    # mixup is off unless asked for; its alpha must be above 0
    assert parser.parse_args(base).mixup == 0.0
    assert parser.parse_args([*base, "--mixup", "0.2"]).mixup == 0.2
    for bad in ("0", "-1", "nan"):
        with pytest.raises(SystemExit):
            parser.parse_args([*base, "--mixup", bad])


def test_evaluate_offers_the_split_of_every_unseen_image(capsys):
    from deepfake_core.cli import build_parser
    from deepfake_core.evaluation.pipeline import UNSEEN_SPLIT

    args = ["evaluate", "--model", "x.keras", "--data", "d", "--manifest", "m.json", "--out", "r.json"]
    assert build_parser().parse_args([*args, "--split", UNSEEN_SPLIT]).split == UNSEEN_SPLIT
    # the card's metrics are the test split's: another split cannot update them
    assert main([*args, "--split", UNSEEN_SPLIT, "--update-card"]) == 2
    assert "--update-card stores test-split metrics" in capsys.readouterr().err


def test_evaluate_summary_prints_a_perturbation_that_lost_every_face(capsys):
    from dataclasses import replace

    from conftest import synthetic_results

    from deepfake_core.cli import _print_summary
    from deepfake_core.evaluation.results import robustness_entry

    lost = robustness_entry(
        name="downscale_x0.25",
        params={"factor": 0.25},
        y_fake=[],
        p_fake=[],
        threshold=0.5,
        kinds=[],
        lost_kinds=["ffhq"],
    )
    _print_summary(replace(synthetic_results(), robustness=(lost,)))
    assert "robustness downscale_x0.25  accuracy -  AUC None  no face 1" in capsys.readouterr().out
