"""The wrong-verdict gallery's computing half: which test images fall in a cell, and where their files are."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import synthetic_results

from deepfake_core.errors import DataSetError
from deepfake_core.evaluation.gallery import (
    DATA_ENV,
    cell_predictions,
    default_data_dir,
    image_path,
    images_folder,
)
from deepfake_core.evaluation.results import build_evaluation_results, metrics_at_threshold


def small_results():
    """Six test images with hand-picked scores: two reals and four fakes."""
    return build_evaluation_results(
        model_id="m",
        model_name="m",
        data={"root": "faces", "split": "test", "manifest_sha256": None},
        ids=["Real/a.jpg", "Real/b.jpg", "Fake/c.jpg", "Fake/d.jpg", "Fake/e.jpg", "Fake/f.jpg"],
        labels=["Real", "Real", "Fake", "Fake", "Fake", "Fake"],
        kinds=["celeba", "celeba", "gan256", "gan256", "sd21", "sd21"],
        p_fake=[0.55, 0.95, 0.45, 0.05, 0.9, 0.3],
        threshold=0.5,
        n_boot=10,
    )


def ids(predictions) -> list[str]:
    return [prediction.id for prediction in predictions]


def test_a_cell_holds_its_wrong_verdicts_the_most_wrong_first() -> None:
    results = small_results()
    assert ids(cell_predictions(results, 0.5, "real_called_fake")) == ["Real/b.jpg", "Real/a.jpg"]  # 0.95, then 0.55
    assert ids(cell_predictions(results, 0.5, "fake_called_real")) == ["Fake/d.jpg", "Fake/f.jpg", "Fake/c.jpg"]


def test_a_cell_follows_the_threshold() -> None:
    results = small_results()
    assert ids(cell_predictions(results, 0.6, "real_called_fake")) == ["Real/b.jpg"]
    assert ids(cell_predictions(results, 0.25, "fake_called_real")) == ["Fake/d.jpg"]
    # most wrong is measured from the threshold in use: at 0.93 the fake at 0.9 is wrong too, but barely
    assert ids(cell_predictions(results, 0.93, "fake_called_real")) == [
        "Fake/d.jpg",
        "Fake/f.jpg",
        "Fake/c.jpg",
        "Fake/e.jpg",
    ]


def test_a_score_on_the_threshold_is_a_fake_verdict_as_everywhere_else() -> None:
    results = small_results()
    assert "Real/a.jpg" in ids(cell_predictions(results, 0.55, "real_called_fake"))
    assert "Fake/c.jpg" not in ids(cell_predictions(results, 0.45, "fake_called_real"))


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.77, 1.0])
def test_cells_count_what_the_confusion_matrix_counts(threshold: float) -> None:
    results = synthetic_results()
    counts = metrics_at_threshold(results, threshold).metrics.counts
    assert len(cell_predictions(results, threshold, "real_called_fake")) == counts.fp
    assert len(cell_predictions(results, threshold, "fake_called_real")) == counts.fn


def test_an_unknown_cell_is_refused() -> None:
    with pytest.raises(ValueError, match="cell must be one of"):
        cell_predictions(small_results(), 0.5, "real_called_real")


# --------------------------------------------------------------------------- where the images are


def test_an_id_resolves_inside_the_folder(tmp_path: Path) -> None:
    assert image_path(tmp_path, "Real/a.jpg") == tmp_path.resolve() / "Real" / "a.jpg"


@pytest.mark.parametrize(
    "image_id", ["../secret.jpg", "Real/../../secret.jpg", "/etc/passwd", "", ".", "Real/a.jpg\0.png"]
)
def test_an_id_that_leaves_the_folder_is_refused(tmp_path: Path, image_id: str) -> None:
    with pytest.raises(DataSetError, match="not a path inside the data folder"):
        image_path(tmp_path / "faces", image_id)


def test_a_link_leading_out_of_the_folder_is_refused_and_one_inside_is_not(tmp_path: Path) -> None:
    folder = tmp_path / "faces"
    (folder / "Real").mkdir(parents=True)
    (tmp_path / "secret.jpg").write_bytes(b"not for the dashboard")
    (folder / "Real" / "out.jpg").symlink_to(tmp_path / "secret.jpg")
    (folder / "Real" / "a.jpg").write_bytes(b"a face")
    (folder / "Real" / "in.jpg").symlink_to(folder / "Real" / "a.jpg")
    with pytest.raises(DataSetError, match="leads outside the data folder"):
        image_path(folder, "Real/out.jpg")
    assert image_path(folder, "Real/in.jpg") == (folder / "Real" / "a.jpg").resolve()


def test_the_images_folder_is_found_beside_or_as_the_data_folder(tmp_path: Path) -> None:
    assert images_folder("faces", tmp_path) is None  # not here: the page lists names only
    (tmp_path / "faces").mkdir()
    assert images_folder("faces", tmp_path) == tmp_path / "faces"  # ../shared/data holds faces/
    assert images_folder("faces", tmp_path / "faces") == tmp_path / "faces"  # --data ../shared/data/faces
    assert images_folder("synthetic", tmp_path) is None


@pytest.mark.parametrize("root_name", ["..", ".", "", "faces/..", "/faces"])
def test_a_results_root_that_is_not_a_plain_name_finds_nothing(tmp_path: Path, root_name: str) -> None:
    (tmp_path / "faces").mkdir()
    assert images_folder(root_name, tmp_path / "faces") is None


def test_the_data_folder_comes_from_the_environment_or_sits_beside_the_repository(monkeypatch) -> None:
    monkeypatch.setenv(DATA_ENV, "/somewhere/data")
    assert default_data_dir() == Path("/somewhere/data")
    monkeypatch.delenv(DATA_ENV)
    repository = Path(__file__).resolve().parent.parent
    assert default_data_dir() == repository.parent / "shared" / "data"
