"""The built-in samples: every file loads, every generated face is traced to its source and split.

A generated sample's Fake verdict cannot be checked with the tiny random-weight test model, so its
description is checked against the shipped default model's stored test predictions instead.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import skimage.data

from deepfake_core.intake import load_image
from pages.inputs import SAMPLES, SAMPLES_DIR, sample_inputs

ROOT = Path(__file__).resolve().parent.parent
SOURCE_COLUMNS = ["file", "label", "kind", "repo", "commit", "original_path", "original_sha256"]
ALLOWED_KINDS = {"stylegan2_tpdne", "sd21", "gan256"}
MAX_GENERATED = 8
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def generated_files() -> list[Path]:
    return sorted(path for path in SAMPLES_DIR.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)


def source_rows() -> dict[str, dict[str, str]]:
    """``samples/SOURCES.tsv`` by file base name; the header must be the data set's own."""
    with (SAMPLES_DIR / "SOURCES.tsv").open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream, delimiter="\t")
        assert reader.fieldnames == SOURCE_COLUMNS
        rows = list(reader)
    names = [Path(row["file"]).name for row in rows]
    assert len(set(names)) == len(names), "one row per file"
    return dict(zip(names, rows, strict=True))


def test_every_sample_loads_from_the_repository_or_scikit_image() -> None:
    skimage_dir = Path(skimage.data.data_dir).resolve()
    for name, sample in SAMPLES.items():
        folder = sample.path.resolve().parent
        assert folder in (SAMPLES_DIR.resolve(), skimage_dir), f"{name} is read from {folder}"
        image = load_image(sample.path.read_bytes())
        assert image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) >= 128, name
    inputs = sample_inputs(list(SAMPLES))
    assert [item.name for item in inputs] == [sample.path.name for sample in SAMPLES.values()]
    assert next(iter(SAMPLES)) == "astronaut"  # the Explain page opens on the first sample: a real face


def test_at_most_eight_generated_files_each_offered_and_labelled() -> None:
    files = generated_files()
    assert 0 < len(files) <= MAX_GENERATED
    generated = [sample for sample in SAMPLES.values() if sample.path.parent == SAMPLES_DIR]
    assert sorted(sample.path for sample in generated) == files
    assert all(sample.description.startswith("Generated: ") for sample in generated)
    others = [sample.description.split(":")[0] for sample in SAMPLES.values() if sample.path.parent != SAMPLES_DIR]
    assert others == ["Real", "Not a face", "Not a face"]  # the astronaut, the cat and the coffee cup


def test_every_generated_file_has_its_source_row_with_an_allowed_kind() -> None:
    rows = source_rows()
    assert set(rows) == {path.name for path in generated_files()}
    for name, row in rows.items():
        assert row["kind"] in ALLOWED_KINDS, name
        assert row["label"] == "Fake" and row["file"] == f"faces/Fake/{name}" and name.startswith(row["kind"])
        assert row["repo"] and len(row["commit"]) == 40 and len(row["original_sha256"]) == 64


def test_generated_samples_come_from_the_test_split() -> None:
    manifest = json.loads((ROOT / "model" / "split_manifest.json").read_text(encoding="utf-8"))
    test_split = {path for path, _label, _kind in manifest["splits"]["test"]}
    trained_on = {path for path, _label, _kind in manifest["splits"]["train"]}
    for path in generated_files():
        assert f"Fake/{path.name}" in test_split and f"Fake/{path.name}" not in trained_on, path.name


def test_descriptions_say_what_the_default_model_decided_on_each_generated_sample() -> None:
    stored = json.loads((ROOT / "model" / "evaluation" / "default.json").read_text(encoding="utf-8"))
    p_fake = {prediction["id"]: prediction["p_fake"] for prediction in stored["predictions"]}
    outcomes = set()
    for name, sample in SAMPLES.items():
        if sample.path.parent != SAMPLES_DIR:
            continue
        caught = p_fake[f"Fake/{sample.path.name}"] >= stored["threshold"]
        said = "calls it Fake" if caught else "misses it, calling it Real"
        assert sample.description.endswith(f"the shipped default model {said}"), name
        outcomes.add(caught)
    assert outcomes == {True, False}  # at least one Fake verdict, and at least one honest miss
