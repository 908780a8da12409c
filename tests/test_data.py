"""Data-set scanning, kinds, stratified splits and manifests."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from deepfake_core.data import load_manifest, make_split, scan_dataset, write_manifest
from deepfake_core.errors import DataSetError

KINDS = {"Real": {"celeba": 30, "ffhq": 10}, "Fake": {"gan256": 30, "stylegan2_tpdne": 10}}


def _write_images(folder, counts):
    for label, kinds in counts.items():
        (folder / label).mkdir(parents=True, exist_ok=True)
        for kind, count in kinds.items():
            for index in range(count):
                pixels = np.full((8, 8, 3), index % 255, dtype=np.uint8)
                Image.fromarray(pixels).save(folder / label / f"{kind}_{index:04d}.jpg")


@pytest.fixture
def flat_root(tmp_path):
    _write_images(tmp_path / "faces", KINDS)
    return tmp_path / "faces"


def test_flat_layout_kinds_from_file_names(flat_root):
    records = scan_dataset(flat_root)
    assert len(records) == 80
    assert Counter((r.label, r.kind) for r in records) == {
        ("Real", "celeba"): 30,
        ("Real", "ffhq"): 10,
        ("Fake", "gan256"): 30,
        ("Fake", "stylegan2_tpdne"): 10,
    }
    assert records[0].id.startswith("Fake/") and records[0].path(flat_root).is_file()


def test_sources_tsv_overrides_file_name_kinds(flat_root):
    (flat_root.parent / "SOURCES.tsv").write_text("file\tlabel\tkind\nfaces/Real/celeba_0000.jpg\tReal\tspecial\n")
    kinds = {r.id: r.kind for r in scan_dataset(flat_root)}
    assert kinds["Real/celeba_0000.jpg"] == "special" and kinds["Real/celeba_0001.jpg"] == "celeba"


def test_thesis_layout_keeps_its_splits(tmp_path):
    root = tmp_path / "Dataset"
    for split, count in (("Train", 6), ("Validation", 2), ("Test", 2)):
        _write_images(root / split, {"Real": {"real": count}, "Fake": {"fake": count}})
    records = scan_dataset(root)
    splits = make_split(records, seed=5)
    assert {name: len(part) for name, part in splits.items()} == {"train": 12, "validation": 4, "test": 4}
    assert all(r.id.startswith("Test/") for r in splits["test"])


@pytest.mark.parametrize("seed", [0, 1])
def test_split_is_stratified_by_label_and_kind_without_leakage(flat_root, seed):
    splits = make_split(scan_dataset(flat_root), seed=seed)
    ids = [r.id for part in splits.values() for r in part]
    assert len(ids) == len(set(ids)) == 80
    for name, expected in (("train", {"celeba": 24, "ffhq": 8}), ("test", {"celeba": 3, "ffhq": 1})):
        counts = Counter(r.kind for r in splits[name])
        assert {kind: counts[kind] for kind in expected} == expected
    assert make_split(scan_dataset(flat_root), seed=seed) == splits


def test_different_seeds_give_different_splits(flat_root):
    records = scan_dataset(flat_root)
    assert make_split(records, seed=0)["test"] != make_split(records, seed=1)["test"]


def test_manifest_round_trip_and_tamper_detection(flat_root, tmp_path):
    splits = make_split(scan_dataset(flat_root), seed=3)
    path = tmp_path / "manifest.json"
    written = write_manifest(splits, path, root_name="faces", seed=3, fractions=(0.8, 0.1, 0.1))
    loaded = load_manifest(path)
    assert loaded.sha256 == written.sha256 and loaded.splits == splits
    assert loaded.counts()["train"] == {"celeba": 24, "ffhq": 8, "gan256": 24, "stylegan2_tpdne": 8}
    payload = json.loads(path.read_text())
    payload["splits"]["test"].append(payload["splits"]["train"].pop())
    path.write_text(json.dumps(payload))
    with pytest.raises(DataSetError, match="was edited"):
        load_manifest(path)


def test_manifest_refuses_overlapping_splits(flat_root, tmp_path):
    splits = make_split(scan_dataset(flat_root))
    splits["test"].append(splits["train"][0])
    with pytest.raises(DataSetError, match="more than one part"):
        write_manifest(splits, tmp_path / "m.json", root_name="faces", seed=0, fractions=(0.8, 0.1, 0.1))


@pytest.mark.parametrize("make", [lambda p: None, lambda p: p.mkdir()])
def test_missing_or_empty_data_folder(tmp_path, make):
    make(tmp_path / "data")
    with pytest.raises(DataSetError, match=r"data folder|No images"):
        scan_dataset(tmp_path / "data")


def test_bad_fractions(flat_root):
    with pytest.raises(ValueError, match="sum to 1"):
        make_split(scan_dataset(flat_root), fractions=(0.5, 0.1, 0.1))
