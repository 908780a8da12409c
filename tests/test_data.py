"""Data-set scanning, kinds, stratified splits and manifests."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from deepfake_core.data import (
    add_real_source,
    load_manifest,
    make_split,
    read_groups,
    scan_dataset,
    unseen_by,
    write_manifest,
)
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


def _write_video_table(folder, rows, name="dfdc_videos.tsv"):
    lines = ["file\tsource_video", *(f"{file}\t{video}" for file, video in rows)]
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_read_groups_from_tables_in_the_root_and_its_parent(flat_root):
    _write_video_table(flat_root, [("Real/celeba_0000.jpg", "v1"), ("Fake/gan256_0000.jpg", "v1")])
    _write_video_table(
        flat_root.parent,
        [
            ("faces/Real/ffhq_0001.jpg", "v1"),  # another table's v1: another group
            ("faces/Real/ffhq_0002.jpg", ""),  # no video: not grouped
            ("elsewhere/x.jpg", "v9"),  # outside the data root: ignored
        ],
        name="other_videos.tsv",
    )
    assert read_groups(flat_root) == {
        "Real/celeba_0000.jpg": "dfdc_videos:v1",
        "Fake/gan256_0000.jpg": "dfdc_videos:v1",
        "Real/ffhq_0001.jpg": "other_videos:v1",
    }
    assert read_groups(flat_root.parent / "nothing-here") == {}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_keeps_every_image_of_a_video_on_one_side(flat_root, seed):
    """Twelve videos, each with real and fake frames of two kinds: a video never straddles two splits."""
    rows = []
    for video in range(12):
        rows += [(f"Real/celeba_{video * 2 + offset:04d}.jpg", f"video{video}") for offset in range(2)]
        rows += [(f"Fake/gan256_{video * 2 + offset:04d}.jpg", f"video{video}") for offset in range(2)]
        rows.append((f"Fake/stylegan2_tpdne_{video % 10:04d}.jpg", f"video{video}") if video < 10 else ("", ""))
    _write_video_table(flat_root, [row for row in rows if row[0]])
    records = scan_dataset(flat_root)
    groups = read_groups(flat_root)
    assert len(groups) == 58
    splits = make_split(records, seed=seed, groups=groups)
    ids = [r.id for part in splits.values() for r in part]
    assert len(ids) == len(set(ids)) == 80
    where = {r.id: name for name, part in splits.items() for r in part}
    by_video: dict[str, set[str]] = {}
    for image, video in groups.items():
        by_video.setdefault(video, set()).add(where[image])
    assert all(len(sides) == 1 for sides in by_video.values()), by_video
    assert Counter(next(iter(sides)) for sides in by_video.values()) == {"train": 10, "validation": 1, "test": 1}
    # images outside any video are still stratified by label and kind
    ungrouped_train = Counter(r.kind for r in splits["train"] if r.id not in groups)
    assert ungrouped_train == {"celeba": 5, "ffhq": 8, "gan256": 5}  # 80 % of the 6, 10 and 6 images left
    assert make_split(records, seed=seed, groups=groups) == splits


def test_without_groups_the_same_images_can_straddle_splits(flat_root):
    """The check above can fail: the plain stratified split ignores videos."""
    pairs = [(f"Real/celeba_{index:04d}.jpg", f"Fake/gan256_{index:04d}.jpg") for index in range(30)]
    where = {r.id: name for name, part in make_split(scan_dataset(flat_root), seed=0).items() for r in part}
    assert any(where[real] != where[fake] for real, fake in pairs)


@pytest.fixture
def photo_root(tmp_path):
    _write_images(tmp_path / "people_photos", {"Real": {"people_photo": 11}, "Fake": {"gan256": 2}})
    return tmp_path / "people_photos"


def test_a_share_of_real_photos_joins_the_train_split_only(flat_root, photo_root, tmp_path):
    splits = make_split(scan_dataset(flat_root), seed=0)
    added = add_real_source(splits, flat_root, photo_root, share=0.5, seed=0)
    assert added["validation"] == splits["validation"] and added["test"] == splits["test"]
    photos = [r for r in added["train"] if r.kind == "people_photo"]
    assert len(photos) == 6 and len(added["train"]) == len(splits["train"]) + 6  # round(5.5), and no fakes
    # ids stay relative to the data root and resolve to the photos themselves
    assert all(r.id.startswith("../people_photos/Real/") and r.path(flat_root).is_file() for r in photos)
    write_manifest(added, tmp_path / "m.json", root_name="faces", seed=0, fractions=(0.8, 0.1, 0.1))
    assert load_manifest(tmp_path / "m.json").splits["train"] == added["train"]


def test_the_complement_trains_on_the_other_photos(flat_root, photo_root, tmp_path):
    splits = make_split(scan_dataset(flat_root), seed=0)
    ids = {}
    for complement in (False, True):
        added = add_real_source(splits, flat_root, photo_root, share=0.5, seed=0, complement=complement)
        ids[complement] = {r.id for r in added["train"] if r.kind == "people_photo"}
    assert not ids[False] & ids[True] and len(ids[False] | ids[True]) == 11
    other_seed = add_real_source(splits, flat_root, photo_root, share=0.5, seed=1)
    assert {r.id for r in other_seed["train"] if r.kind == "people_photo"} != ids[False]
    with pytest.raises(ValueError, match="share"):
        add_real_source(splits, flat_root, photo_root, share=0)


def test_unseen_by_keeps_only_photos_the_manifest_never_trained_or_validated_on(flat_root, photo_root, tmp_path):
    splits = add_real_source(make_split(scan_dataset(flat_root), seed=0), flat_root, photo_root, share=0.5)
    write_manifest(splits, tmp_path / "m.json", root_name="faces", seed=0, fractions=(0.8, 0.1, 0.1))
    manifest = load_manifest(tmp_path / "m.json")
    reals = [r for r in scan_dataset(photo_root) if r.label == "Real"]
    unseen = unseen_by(reals, photo_root, manifest, flat_root)
    trained = {r.path(flat_root).resolve() for r in manifest.splits["train"] if r.kind == "people_photo"}
    assert len(unseen) == 5 and not {r.path(photo_root).resolve() for r in unseen} & trained
    # a manifest that never names the photos leaves every one of them unseen
    plain = write_manifest(
        make_split(scan_dataset(flat_root), seed=0),
        tmp_path / "p.json",
        root_name="faces",
        seed=0,
        fractions=(0.8, 0.1, 0.1),
    )
    assert unseen_by(reals, photo_root, plain, flat_root) == reals
