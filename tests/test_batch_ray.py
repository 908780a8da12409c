"""``deepfake-core predict --engine ray`` on a local Ray: the plain command line's rows, resumable runs.

One small local Ray (two CPUs, no dashboard) serves the module; every run starts its own actor
pool, which loads the tiny test model. Ray is a test requirement, so a missing Ray fails here.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import ray
from conftest import encode, face_like_image, four_faces, no_face_pictures

from deepfake_core.batch_ray import read_output
from deepfake_core.cli import main
from deepfake_core.errors import DeepfakeLensError
from deepfake_core.scoring import COLUMNS


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _files(folder: Path, pictures: dict[str, bytes]) -> list[str]:
    for name, data in pictures.items():
        (folder / name).write_bytes(data)
    return [str(folder / name) for name in pictures]


def _by_file_and_face(rows: list[dict]) -> list[dict]:
    """Ray writes rows in no particular order; the command line in input order."""
    return sorted(rows, key=lambda row: (row["file"], str(row["face"])))


def test_ray_gives_the_command_lines_rows(capsys, tmp_path, tiny_face_model_dir):
    """Faces, boxes, a picture without a face and an unreadable file: the same rows as the plain CLI, in Parquet."""
    files = _files(
        tmp_path,
        {
            "four.png": encode(four_faces()),
            "cat.png": encode(no_face_pictures()["cat"]),
            "notes.jpg": b"not an image, just text\n",
        },
    )
    model = ["--model", str(tiny_face_model_dir / "default.keras"), "--batch-size", "2"]  # two batches, two workers
    code, out, _ = _run(capsys, "predict", *files, *model, "--json")
    expected = json.loads(out)
    ray_code, _, err = _run(
        capsys, "predict", *files, *model, "--engine", "ray", "--workers", "2", "--out", str(tmp_path / "out")
    )
    written = read_output(tmp_path / "out", "parquet").to_pylist()
    assert code == ray_code == 1 and "2 of 3 files got no verdict" in err
    assert [row["face"] for row in expected].count(None) == 2 and len(expected) == 6  # four faces, two errors
    assert _by_file_and_face(written) == _by_file_and_face(expected)
    assert list(read_output(tmp_path / "out", "parquet").column_names) == list(COLUMNS)


def test_a_rerun_scores_only_the_new_files_and_the_csv_matches_the_command_lines(
    capsys, tmp_path, tiny_model_dir, monkeypatch
):
    """Relative names (one a would-be formula, defused in the CSV as on stdout); a run on three files, then all."""
    monkeypatch.chdir(tmp_path)
    names = ["=SUM(1).png", "0.png", "1.png", "2.png", "3.png"]
    files = _files(Path(), {name: encode(face_like_image(seed=index)) for index, name in enumerate(names)})
    files += _files(Path(), {"empty.png": b""})
    model = ["--model", str(tiny_model_dir / "default.keras")]
    ray_args = ["--engine", "ray", "--csv", "--batch-size", "2", "--out", "out"]

    first_code, _, first_err = _run(capsys, "predict", *files[:3], *model, *ray_args)
    first_parts = {path: path.read_bytes() for path in Path("out").glob("*.csv")}
    code, _, err = _run(capsys, "predict", *files, *model, *ray_args)

    assert first_code == 0 and "0 files already in out (skipped); scored 3" in first_err and first_parts
    assert code == 1 and "3 files already in out (skipped); scored 3" in err and "1 of 3 files got no verdict" in err
    new_parts = set(Path("out").glob("*.csv")) - set(first_parts)
    assert new_parts and all(path.read_bytes() == data for path, data in first_parts.items())
    assert {row["file"] for row in _csv_rows(new_parts)} == {"2.png", "3.png", "empty.png"}

    cli_code, out, _ = _run(capsys, "predict", *files, *model, "--csv")
    expected = list(csv.DictReader(io.StringIO(out)))
    written = _csv_rows(Path("out").glob("*.csv"))
    assert cli_code == 1 and len(written) == len(files) and "'=SUM(1).png" in {row["file"] for row in written}
    assert _by_file_and_face(written) == _by_file_and_face(expected)

    again_code, _, again_err = _run(capsys, "predict", *files, *model, *ray_args)
    assert again_code == 0 and "6 files already in out (skipped); scored 0" in again_err


def _csv_rows(paths) -> list[dict]:
    return [row for path in paths for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--engine", "ray"], "--engine ray writes Parquet (default) or CSV (--csv) part files into --out DIR."),
        (["--engine", "ray", "--out", "x", "--json"], "--engine ray writes Parquet"),
        (["--out", "x"], "--out is for --engine ray"),
    ],
)
def test_engine_and_output_options_must_fit_together(capsys, tmp_path, tiny_model_dir, flags, message):
    image = _files(tmp_path, {"a.png": encode(face_like_image())})
    code, _, err = _run(capsys, "predict", *image, "--model", str(tiny_model_dir / "default.keras"), *flags)
    assert code == 2 and message in err


def test_a_damaged_part_file_is_named_with_what_to_do(tmp_path):
    (tmp_path / "part-1.parquet").write_bytes(b"PAR1 cut short")
    with pytest.raises(DeepfakeLensError, match=r"delete the \.parquet file named above .* and rerun") as caught:
        read_output(tmp_path, "parquet")
    assert "part-1.parquet" in str(caught.value)


def test_a_manifest_lists_the_inputs(capsys, tmp_path, tiny_model_dir):
    files = _files(tmp_path, {"a.png": encode(face_like_image(seed=1)), "b.png": encode(face_like_image(seed=2))})
    (tmp_path / "list.txt").write_text("\n".join(files) + "\n\n")
    code, out, _ = _run(
        capsys, "predict", "--manifest", str(tmp_path / "list.txt"), "--model", str(tiny_model_dir / "default.keras")
    )
    assert code == 0 and [line.split()[0] for line in out.splitlines()[1:]] == files
