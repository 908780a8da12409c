"""The face step: alignment geometry, the card's face_crop section, MTCNN on real photos, per-face verdicts, crop cache.

Geometry is checked against hand-made transforms and dots drawn at known
landmarks; detection against scikit-image's astronaut (one face, eyes located
by hand at about (204, 100) and (246, 102)), a 2 x 2 tiling of it (four faces)
and pictures without a face.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import astronaut, four_faces, no_face_pictures, tiny_card
from PIL import Image

from deepfake_core import face_data, judge
from deepfake_core.card import ModelCard, load_card
from deepfake_core.data import scan_dataset
from deepfake_core.detector import Detector
from deepfake_core.errors import ModelCardError
from deepfake_core.face_data import build_face_crops
from deepfake_core.faces import finder as finder_module
from deepfake_core.faces.align import (
    align_face,
    crop_to_photo,
    paste_back,
    similarity_transform,
    template_points,
    working_copy,
)
from deepfake_core.faces.finder import FaceDetection, crop_faces, select_faces
from deepfake_core.faces.spec import FaceCropSpec
from deepfake_core.intake import load_image
from deepfake_core.judge import face_finder, judge_photo_source, judge_photos

ASTRONAUT_EYES = np.array([[204.0, 100.0], [246.0, 102.0]])
"""The astronaut's pupils, read off the picture by hand (image-left eye first)."""


def _similar(points: np.ndarray, *, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.asarray(points, dtype=np.float64) @ (scale * rotation).T + np.asarray(shift)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.asarray(points) @ matrix[:, :2].T + matrix[:, 2]


def _dots(shape: tuple[int, int], points: np.ndarray, sigma: float) -> np.ndarray:
    """A black RGB image with a bright Gaussian dot (standard deviation ``sigma`` px) at each point."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    grey = sum(255 * np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * sigma**2)) for x, y in points)
    return np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def _centroid(grey: np.ndarray, point: np.ndarray, radius: int = 5) -> np.ndarray:
    x, y = (round(value) for value in point)
    window = grey[y - radius : y + radius + 1, x - radius : x + radius + 1].astype(np.float64)
    rows, cols = np.mgrid[y - radius : y + radius + 1, x - radius : x + radius + 1]
    return np.array([(window * cols).sum(), (window * rows).sum()]) / window.sum()


# --- geometry -----------------------------------------------------------------------------------------------------


def test_similarity_transform_recovers_a_known_rotation_scale_and_shift():
    source = np.random.default_rng(0).uniform(0, 200, (5, 2))
    angle, scale, shift = 0.4, 1.7, (12.5, -30.0)
    matrix = similarity_transform(source, _similar(source, angle=angle, scale=scale, shift=shift))
    expected = np.array(
        [
            [scale * np.cos(angle), -scale * np.sin(angle), shift[0]],
            [scale * np.sin(angle), scale * np.cos(angle), shift[1]],
        ]
    )
    np.testing.assert_allclose(matrix, expected, atol=1e-9)


def test_similarity_transform_never_reflects():
    source = np.random.default_rng(1).uniform(0, 100, (5, 2))
    mirrored = source * [-1.0, 1.0]  # a reflection would map these exactly; a similarity cannot
    matrix = similarity_transform(source, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0
    assert np.abs(_apply(matrix, source) - mirrored).max() > 1.0


def test_similarity_transform_rejects_coincident_or_mismatched_points():
    with pytest.raises(ValueError, match="coincide"):
        similarity_transform(np.full((5, 2), 7.0), np.random.default_rng(2).uniform(0, 9, (5, 2)))
    with pytest.raises(ValueError, match="matching"):
        similarity_transform(np.zeros((5, 2)), np.zeros((4, 2)))


def test_template_points_are_centred_symmetric_and_scaled():
    size = 112
    points = template_points(size, 2.0)
    eyes, mouth = points[0:2].mean(axis=0), points[3:5].mean(axis=0)
    np.testing.assert_allclose((eyes + mouth) / 2, [size / 2, size / 2], atol=1e-9)
    assert np.linalg.norm(mouth - eyes) == pytest.approx(size / 2.0)  # crop side = crop_scale eye-to-mouth distances
    # left-right symmetric about the vertical centre line (the template itself is, to 0.3 % of its side)
    for left, right in ((0, 1), (3, 4)):
        assert (points[left, 0] + points[right, 0]) / 2 == pytest.approx(size / 2, abs=0.003 * size)
        assert points[left, 1] == pytest.approx(points[right, 1], abs=0.003 * size)
        assert points[left, 0] < size / 2 < points[right, 0]
    assert points[2, 0] == pytest.approx(size / 2, abs=0.003 * size)
    assert points[0, 1] < points[2, 1] < points[3, 1]  # eyes above the nose above the mouth
    np.testing.assert_allclose(template_points(2 * size, 2.0), 2 * points)
    np.testing.assert_allclose(template_points(size, 3.0) - size / 2, (points - size / 2) * 2 / 3)


@pytest.mark.parametrize("face_scale", [0.6, 1.0, 3.0, 6.0])
def test_align_face_puts_the_landmarks_on_the_template(face_scale):
    """Dots drawn at rotated, scaled landmarks land on the template points of the crop (zoomed in or shrunk)."""
    size = 64
    target = template_points(size, 2.0)
    landmarks = _similar(target - size / 2, angle=0.35, scale=face_scale, shift=(300.0, 310.0))
    photo = _dots((620, 600), landmarks, sigma=1.5 * face_scale)
    crop, matrix = align_face(photo, landmarks, size=size, crop_scale=2.0)
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
    np.testing.assert_allclose(_apply(matrix, landmarks), target, atol=1e-9)
    found = np.array([_centroid(crop[..., 0], point) for point in target])
    np.testing.assert_allclose(found, target, atol=0.1)


def test_align_face_shrinks_a_big_face_without_aliasing():
    """A 1-px checkerboard shrunk 30x must come out mid-grey, as area averaging gives; a plain warp aliases it."""
    size = 32
    checkerboard = ((np.indices((1200, 1200)).sum(axis=0) % 2) * 255).astype(np.uint8)
    photo = np.repeat(checkerboard[..., None], 3, axis=2)
    landmarks = _similar(template_points(size, 2.0) - size / 2, angle=0.2, scale=30.0, shift=(600.0, 600.0))
    crop, matrix = align_face(photo, landmarks, size=size, crop_scale=2.0)
    naive = cv2.warpAffine(photo, matrix, (size, size), flags=cv2.INTER_LINEAR)
    assert abs(crop.mean() - 127.5) < 3 and crop.std() < 3
    assert naive.std() > 20  # the test can fail: without the area shrink the pattern aliases


def test_a_face_in_a_big_photo_gives_the_crop_of_the_same_face_in_a_small_one():
    small = astronaut()
    big = cv2.resize(small, (3000, 3000), interpolation=cv2.INTER_CUBIC)
    landmarks = np.array([[203.5, 100.1], [245.4, 102.2], [224.2, 126.4], [201.8, 138.6], [244.4, 140.4]])
    crop_small, _ = align_face(small, landmarks, size=64, crop_scale=2.0)
    # the resize maps pixel centres: x_big + 0.5 = (x_small + 0.5) * 3000 / 512
    crop_big, _ = align_face(big, (landmarks + 0.5) * 3000 / 512 - 0.5, size=64, crop_scale=2.0)
    assert np.abs(crop_big.astype(int) - crop_small.astype(int)).mean() < 6


def test_paste_back_puts_the_crop_where_it_came_from():
    rows, cols = np.mgrid[0:240, 0:320]
    photo = np.stack([rows, cols * 0.7, (rows + cols) * 0.4], axis=-1).astype(np.uint8)  # smooth: resamples ~exactly
    size = 48
    landmarks = _similar(template_points(size, 2.0) - size / 2, angle=-0.3, scale=1.5, shift=(170.0, 110.0))
    crop, matrix = align_face(photo, landmarks, size=size, crop_scale=2.0)
    canvas = np.zeros_like(photo)
    pasted = paste_back(canvas, crop, matrix)
    inside = cv2.warpAffine(
        np.full((size, size), 255, np.uint8), crop_to_photo(matrix), (320, 240), flags=cv2.INTER_NEAREST
    )
    interior = cv2.erode(inside, np.ones((5, 5), np.uint8)) > 0
    assert np.abs(pasted[interior].astype(int) - photo[interior].astype(int)).max() <= 3
    outside = cv2.dilate(inside, np.ones((5, 5), np.uint8)) == 0
    assert not pasted[outside].any()  # nothing drawn outside the face's square
    # a larger overlay is scaled to the crop first: it covers the same square (size * 1.5 px photo side)
    marked = paste_back(canvas, np.full((4 * size, 4 * size, 3), 255, np.uint8), matrix, crop_size=size)
    assert (marked[..., 0] > 127).sum() == pytest.approx((size * 1.5) ** 2, rel=0.05)
    assert marked[110, 170, 0] == 255


def test_working_copy_shrinks_the_long_side_and_reports_the_factor():
    image = np.zeros((2000, 3000, 3), np.uint8)
    copy, factor = working_copy(image, 1024)
    assert copy.shape == (683, 1024, 3) and factor == pytest.approx(1024 / 3000)
    small = np.zeros((500, 300, 3), np.uint8)
    same, factor = working_copy(small, 1024)
    assert same is small and factor == 1.0


# --- the card's face_crop section ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"detector": "dlib"}, "detector must be one of"),
        ({"template": "dlib68"}, "template must be one of"),
        ({"crop_scale": 0.5}, r"crop_scale must lie in \[1, 6\]"),
        ({"min_face_size": 0}, "min_face_size must be a positive integer"),
        ({"min_face_size": 40.5}, "min_face_size must be a positive integer"),
        ({"min_score": 1.5}, r"min_score must lie in \[0, 1\]"),
        ({"max_detect_side": 32}, "max_detect_side must be an integer between 64 and 4096"),
        ({"retry_border": 2.0}, r"retry_border must lie in \[0, 1\]"),
        ({"retry_equalised": "yes"}, "retry_equalised must be true or false"),
    ],
)
def test_face_crop_spec_names_what_is_wrong(change, message):
    with pytest.raises(ModelCardError, match=f"face_crop section is invalid: .*{message}"):
        FaceCropSpec(**change)


def test_face_crop_spec_lists_every_problem_at_once():
    with pytest.raises(ModelCardError, match=r"crop_scale.*; min_score"):
        FaceCropSpec(crop_scale=9.0, min_score=-1.0)


def test_face_crop_spec_from_dict_refuses_unknown_fields_and_non_objects():
    with pytest.raises(ModelCardError, match="face_crop section has unknown fields: margin, padding"):
        FaceCropSpec.from_dict({"crop_scale": 2.0, "margin": 0.2, "padding": 1})
    with pytest.raises(ModelCardError, match="face_crop section must be a JSON object, got list"):
        FaceCropSpec.from_dict([1, 2])
    assert FaceCropSpec.from_dict({"min_face_size": 64}) == FaceCropSpec(min_face_size=64, retry_equalised=False)


def test_new_models_get_the_equalised_search_and_older_cards_keep_their_two():
    assert FaceCropSpec().retry_equalised is True
    assert FaceCropSpec.from_dict(FaceCropSpec().to_dict()) == FaceCropSpec()
    older = {key: value for key, value in FaceCropSpec().to_dict().items() if key != "retry_equalised"}
    assert FaceCropSpec.from_dict(older).retry_equalised is False


@pytest.mark.parametrize("face_crop", [None, FaceCropSpec(crop_scale=2.5, min_face_size=60)])
def test_card_round_trips_with_and_without_face_crop(face_crop, tmp_path):
    card = replace(tiny_card(), face_crop=face_crop)
    text = json.dumps(card.to_dict())
    again = ModelCard.from_dict(json.loads(text))
    assert again == card and again.face_crop == face_crop
    if face_crop is not None:
        assert json.loads(text)["face_crop"]["crop_scale"] == 2.5


def test_card_file_with_an_unknown_face_crop_field_is_refused(tmp_path):
    data = replace(tiny_card(), face_crop=FaceCropSpec()).to_dict()
    data["face_crop"]["margin"] = 0.3
    path = tmp_path / "m.card.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ModelCardError, match="face_crop section has unknown fields: margin"):
        load_card(path)


# --- MTCNN on real photos -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finder(tiny_face_detector):
    """The process-wide finder of the default face step (the one judge_photos uses)."""
    return face_finder(tiny_face_detector)


@pytest.fixture(scope="module")
def astronaut_face(finder) -> FaceDetection:
    faces = finder.detect(astronaut())
    assert len(faces) == 1
    return faces[0]


def test_the_astronaut_has_one_face_with_landmarks_on_her_eyes(astronaut_face):
    x, y, width, height = astronaut_face.box
    assert astronaut_face.score > 0.99 and 60 < width < 110 and 80 < height < 130
    np.testing.assert_allclose(astronaut_face.landmarks[:2], ASTRONAUT_EYES, atol=4)
    assert x < astronaut_face.landmarks[:, 0].min() and astronaut_face.landmarks[:, 0].max() < x + width
    assert y < astronaut_face.landmarks[:, 1].min() and astronaut_face.landmarks[:, 1].max() < y + height


def test_boxes_found_on_the_working_copy_map_back_to_the_photo(finder, astronaut_face):
    """A 3000 x 2200 photo is searched at 1024 px; boxes and landmarks come back in photo pixels."""
    scale = 3000 / 512
    big = cv2.resize(astronaut(), (3000, 3000), interpolation=cv2.INTER_CUBIC)[:2200]
    copy, factor = working_copy(big, finder.spec.max_detect_side)
    assert copy.shape[:2] == (751, 1024) and factor == pytest.approx(1024 / 3000)
    (on_big,) = finder.detect(big)
    (on_copy,) = finder.detect(copy)  # the copy is searched as it is
    np.testing.assert_allclose(on_big.landmarks, on_copy.landmarks / factor, rtol=1e-6)
    np.testing.assert_allclose(on_big.box, np.array(on_copy.box) / factor, rtol=1e-6)
    # and they match the 512 px photo's, scaled (the detector sees the face at another size: a few px apart)
    np.testing.assert_allclose(on_big.landmarks / scale, astronaut_face.landmarks, atol=2)
    np.testing.assert_allclose(np.array(on_big.box) / scale, astronaut_face.box, atol=6)


def test_four_faces_are_found_largest_first(finder):
    faces = finder.detect(four_faces())
    assert len(faces) == 4
    corners = sorted((round(face.box[0] / 512), round(face.box[1] / 512)) for face in faces)
    assert corners == [(0, 0), (0, 1), (1, 0), (1, 1)]  # one face per tile
    areas = [face.box[2] * face.box[3] for face in faces]
    assert areas == sorted(areas, reverse=True)


def test_a_photos_faces_do_not_depend_on_the_photos_detected_with_it(finder, monkeypatch):
    """Stacked MTCNN calls move boxes near a threshold, so every photo is detected on its own."""
    photos = [astronaut(), four_faces(), astronaut(), no_face_pictures()["cat"], astronaut()]
    alone = [finder.detect(photo) for photo in photos]
    shapes = []
    run = finder._mtcnn.detect_faces

    def one_photo_per_call(images, **kwargs):
        shapes.append(np.shape(images))
        return run(images, **kwargs)

    monkeypatch.setattr(finder._mtcnn, "detect_faces", one_photo_per_call)
    together = finder.detect_batch(photos)
    assert shapes and all(len(shape) == 3 for shape in shapes)  # never a stack of photos
    assert [[face.box for face in faces] for faces in together] == [[face.box for face in faces] for faces in alone]


@pytest.mark.parametrize("name", sorted(no_face_pictures()))
def test_pictures_without_a_face_have_none(finder, name):
    assert finder.detect(no_face_pictures()[name]) == []


def test_a_face_that_fills_the_frame_is_found_inside_the_retry_border(finder, astronaut_face):
    x, y, width, height = astronaut_face.box
    left, top = int(x + 0.1 * width), int(y + 0.1 * height)
    tight = astronaut()[top : int(y + 0.9 * height), left : int(x + 0.9 * width)]
    tight = cv2.resize(tight, (tight.shape[1] * 2, tight.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
    without_border = type(finder)(replace(finder.spec, retry_border=0.0))
    assert without_border.detect(tight) == []  # the case the border exists for
    (face,) = finder.detect(tight)
    # found in the bordered copy, reported in the tight photo's pixels: the landmarks sit on the same eyes and mouth
    in_photo = face.landmarks / 2 + [left, top]
    np.testing.assert_allclose(in_photo[:2], ASTRONAUT_EYES, atol=3)
    np.testing.assert_allclose(in_photo, astronaut_face.landmarks, atol=6)


def test_a_washed_out_face_cut_by_the_frame_is_found_after_contrast_equalisation(finder, astronaut_face):
    """The third search: a low-contrast face cut at the forehead and chin, as in some DFDC video frames."""
    x, y, width, height = (int(value) for value in astronaut_face.box)
    inset = int(0.05 * width)
    cut = astronaut()[y + inset : y + height - inset, x + inset : x + width - inset].astype(np.float32)
    washed_out = (cut * 0.5 + 64).round().astype(np.uint8)
    plain = type(finder)(replace(finder.spec, retry_equalised=False))
    assert plain.detect(washed_out) == []  # the plain border does not find it
    equalising = type(finder)(replace(finder.spec, retry_equalised=True))
    (face,) = equalising.detect(washed_out)
    # the landmarks are in the photo's pixels, on the astronaut's eyes (not the equalised copy's border)
    np.testing.assert_allclose(face.landmarks[:2] + np.array([x + inset, y + inset]), ASTRONAUT_EYES, atol=4)
    assert equalising.detect(astronaut())[0].box == astronaut_face.box  # found at once: no retry, the same face


def test_select_and_crop_faces(astronaut_face):
    small = FaceDetection(box=(0.0, 0.0, 30.0, 35.0), landmarks=astronaut_face.landmarks / 3, score=0.99)
    detections = [astronaut_face, small]
    assert select_faces(detections, "largest") == [astronaut_face]
    with pytest.raises(ValueError, match="face mode must be 'all' or 'largest'"):
        select_faces(detections, "none")
    big, tiny = crop_faces(astronaut(), detections, FaceCropSpec(), size=32)
    assert (big.number, big.too_small, big.crop.shape) == (1, False, (32, 32, 3))
    assert (tiny.number, tiny.too_small, tiny.crop, tiny.matrix) == (2, True, None, None)


# --- per-face verdicts --------------------------------------------------------------------------------------------


def test_judge_four_faces_gives_four_verdicts_with_boxes(tiny_face_detector):
    (photo,) = judge_photos(tiny_face_detector, [four_faces()])
    assert photo.face_step and photo.faces_found == 4 and photo.failure is None
    assert [verdict.number for verdict in photo.judged] == [1, 2, 3, 4]
    for verdict in photo.faces:
        assert verdict.prediction.label in ("Real", "Fake") and verdict.reason is None
        assert verdict.image.shape == (32, 32, 3) and verdict.face.detection.size > 80


def test_judge_a_cat_says_no_face_and_gives_no_verdict(tiny_face_detector):
    (photo,) = judge_photos(tiny_face_detector, [no_face_pictures()["cat"]])
    assert photo.no_face and photo.faces == [] and photo.judged == []
    assert photo.failure.startswith("no face found")


def test_judge_largest_and_none(tiny_face_detector):
    picture = four_faces()
    largest, whole = (judge_photos(tiny_face_detector, [picture], faces=mode)[0] for mode in ("largest", "none"))
    assert len(largest.faces) == 1 and largest.faces_found == 4 and largest.faces[0].number == 1
    assert not whole.face_step and len(whole.faces) == 1 and whole.faces[0].face is None
    assert whole.faces[0].prediction.p_fake == pytest.approx(tiny_face_detector.predict(picture).p_fake, abs=1e-6)
    with pytest.raises(ValueError, match="faces must be one of"):
        judge_photos(tiny_face_detector, [picture], faces="smallest")


def test_a_model_without_face_step_judges_the_whole_image(tiny_detector):
    (photo,) = judge_photos(tiny_detector, [no_face_pictures()["cat"]])
    assert not photo.face_step and not photo.no_face and photo.faces[0].face is None
    assert photo.faces[0].prediction.label in ("Real", "Fake")


def test_a_face_under_min_face_size_is_reported_not_judged(tiny_face_detector):
    small = cv2.resize(astronaut(), (200, 200), interpolation=cv2.INTER_AREA)  # face about 35 px across
    (photo,) = judge_photos(tiny_face_detector, [small])
    (verdict,) = photo.faces
    assert verdict.prediction is None and verdict.face.too_small and verdict.image is None
    assert verdict.reason.startswith("face 1 is") and "under the 40 px this model judges" in verdict.reason
    assert not photo.no_face and photo.failure == verdict.reason


def test_judge_matches_the_detector_on_the_aligned_crop(tiny_face_detector, astronaut_face):
    (photo,) = judge_photos(tiny_face_detector, [astronaut()])
    crop, _ = align_face(astronaut(), astronaut_face.landmarks, size=32, crop_scale=2.0)
    np.testing.assert_array_equal(photo.faces[0].image, crop)
    assert photo.faces[0].prediction.p_fake == pytest.approx(tiny_face_detector.predict(crop).p_fake, abs=1e-6)


class _Tracked(np.ndarray):
    """An array a test can hold a weak reference to (plain ndarrays refuse them)."""


def _same_verdicts(one, other) -> None:
    assert (one.face_step, one.faces_found, len(one.faces)) == (other.face_step, other.faces_found, len(other.faces))
    for mine, theirs in zip(one.faces, other.faces, strict=True):
        assert mine.number == theirs.number and mine.reason == theirs.reason
        if mine.face is not None:
            mine_found, their_found = mine.face.detection, theirs.face.detection
            assert (mine_found.box, mine_found.score) == (their_found.box, their_found.score)
            np.testing.assert_array_equal(mine_found.landmarks, their_found.landmarks)
            np.testing.assert_array_equal(mine.image, theirs.image)
        if mine.prediction is not None:
            assert mine.prediction.p_fake == pytest.approx(theirs.prediction.p_fake, abs=1e-6)


@pytest.mark.parametrize("faces", ["all", "largest"])
def test_a_large_photo_is_not_held_while_its_faces_are_searched(tiny_face_detector, finder, monkeypatch, faces):
    """judge_photo_source drops a large photo during the face search and decodes it again for the crops only."""
    photo = cv2.resize(four_faces(), (2048, 1536), interpolation=cv2.INTER_LINEAR)  # larger than the working copy
    monkeypatch.setattr(judge, "_HELD_PHOTO_BYTES", photo.nbytes - 1)
    alive: list[weakref.ref] = []

    def decode() -> np.ndarray:
        image = photo.copy().view(_Tracked)
        alive.append(weakref.ref(image))
        return image

    searched_with = []
    original = finder.detect_in_copy

    def spying(copy, factor):
        searched_with.append([ref() is not None for ref in alive])
        return original(copy, factor)

    monkeypatch.setattr(finder, "detect_in_copy", spying)
    verdicts, preview, scale = judge_photo_source(tiny_face_detector, decode, faces=faces, preview_side=100)
    assert searched_with == [[False]]  # one search, with the first decode already gone
    assert len(alive) == 2  # decoded again for the crops
    assert len(verdicts.judged) == (4 if faces == "all" else 1)
    _same_verdicts(verdicts, judge_photos(tiny_face_detector, [photo], faces=faces)[0])
    assert max(preview.shape[:2]) == 100 and scale == pytest.approx(100 / max(photo.shape[:2]))


@pytest.mark.parametrize("faces", ["all", "none"])
def test_a_small_photo_or_a_whole_image_verdict_is_decoded_once(tiny_face_detector, faces):
    decoded = []

    def decode() -> np.ndarray:
        decoded.append(1)
        return astronaut()

    verdicts, preview, scale = judge_photo_source(tiny_face_detector, decode, faces=faces, preview_side=1024)
    assert decoded == [1]
    _same_verdicts(verdicts, judge_photos(tiny_face_detector, [astronaut()], faces=faces)[0])
    np.testing.assert_array_equal(preview, astronaut())
    assert scale == 1.0


# --- the crop cache of a data set ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def face_data_root(tmp_path_factory):
    """Real/ and Fake/ with the astronaut (as is, mirrored, too small to judge), a cat and a coffee cup."""
    root = tmp_path_factory.mktemp("face_data") / "faces"
    pictures = no_face_pictures()
    files = {
        "Real/astro_0000.png": astronaut(),
        "Real/astro_0001.png": cv2.resize(astronaut(), (200, 200), interpolation=cv2.INTER_AREA),
        "Real/cat_0000.png": pictures["cat"],
        "Fake/astro_0002.png": np.ascontiguousarray(astronaut()[:, ::-1]),
        "Fake/coffee_0000.png": pictures["coffee"],
    }
    for name, image in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / name)
    return root


def test_build_face_crops_indexes_crops_and_misses_then_hits_the_cache(face_data_root, tmp_path, monkeypatch):
    records = scan_dataset(face_data_root)
    spec = FaceCropSpec()
    logs: list[str] = []
    index = build_face_crops(records, face_data_root, spec, size=32, cache_dir=tmp_path, log=logs.append)
    assert sorted(index.crops) == ["Fake/astro_0002.png", "Real/astro_0000.png"]
    assert index.misses == {
        "Real/astro_0001.png": "face too small",
        "Real/cat_0000.png": "no face",
        "Fake/coffee_0000.png": "no face",
    }
    assert index.faces_found["Real/astro_0001.png"] == 1 and index.faces_found["Real/cat_0000.png"] == 0
    assert index.load("Real/astro_0000.png").shape == (32, 32, 3)
    assert index.coverage(records) == {
        "astro": {"n": 3, "with_face": 2, "no_face": 1, "share": pytest.approx(2 / 3)},
        "cat": {"n": 1, "with_face": 0, "no_face": 1, "share": 0.0},
        "coffee": {"n": 1, "with_face": 0, "no_face": 1, "share": 0.0},
    }
    assert logs and "5 of 5 images" in logs[0]

    def no_detector(spec):
        raise AssertionError("the cache should have answered without a face detector")

    monkeypatch.setattr(finder_module, "FaceFinder", no_detector)
    logs.clear()
    again = build_face_crops(records, face_data_root, spec, size=32, cache_dir=tmp_path, log=logs.append)
    assert again == index and logs == []
    # another crop size or margin is another crop cache entry, cut from the cached detections
    larger = build_face_crops(records, face_data_root, spec, size=48, cache_dir=tmp_path, log=logs.append)
    assert larger.misses == index.misses and larger.load("Real/astro_0000.png").shape == (48, 48, 3)
    assert "finding faces in 0" in logs[0]
    wider = build_face_crops(
        records, face_data_root, replace(spec, crop_scale=3.0), size=32, cache_dir=tmp_path, log=logs.append
    )
    assert sorted(wider.crops) == sorted(index.crops)
    assert not np.array_equal(wider.load("Real/astro_0000.png"), index.load("Real/astro_0000.png"))
    # a setting that changes what the detector finds must look for faces again
    with pytest.raises(AssertionError, match="without a face detector"):
        build_face_crops(
            records, face_data_root, replace(spec, min_score=0.95), size=32, cache_dir=tmp_path, log=logs.append
        )


def test_cached_crop_is_the_crop_judge_photos_makes(face_data_root, tmp_path, tiny_face_detector):
    """One contract: training's cached crop of a file is exactly what prediction judges for it."""
    records = [record for record in scan_dataset(face_data_root) if record.id == "Fake/astro_0002.png"]
    spec = tiny_face_detector.card.face_crop
    index = build_face_crops(records, face_data_root, spec, size=tiny_face_detector.card.input_size, cache_dir=tmp_path)
    photo = load_image(records[0].path(face_data_root))
    (verdicts,) = judge_photos(tiny_face_detector, [photo], faces="largest")
    np.testing.assert_array_equal(index.load(records[0].id), verdicts.faces[0].image)


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(face_data.CACHE_ENV, str(tmp_path / "elsewhere"))
    assert face_data.default_cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv(face_data.CACHE_ENV)
    assert face_data.default_cache_dir() == Path.home() / ".cache" / "deepfake-lens"


def test_a_detector_without_face_crop_has_no_finder(tiny_detector):
    assert face_finder(tiny_detector) is None
    assert face_finder(Detector(tiny_detector.model, replace(tiny_detector.card, face_crop=FaceCropSpec()))) is not None


def test_at_threshold_rejudges_the_stored_probabilities(tiny_face_detector) -> None:
    from deepfake_core.judge import at_threshold, judge_photos

    [photo] = judge_photos(tiny_face_detector, [four_faces()])
    for threshold, expected in ((0.0, "Fake"), (1.0, "Real")):
        moved = at_threshold(photo, tiny_face_detector, threshold)
        assert [verdict.prediction.label for verdict in moved.faces] == [expected] * 4
        assert [verdict.prediction.p_fake for verdict in moved.faces] == [v.prediction.p_fake for v in photo.faces]
        assert all(verdict.prediction.threshold == threshold for verdict in moved.faces)
    same = tiny_face_detector.at_threshold(photo.faces[0].prediction, photo.faces[0].prediction.threshold)
    assert same == photo.faces[0].prediction
    with pytest.raises(ValueError, match="threshold must lie in"):
        tiny_face_detector.at_threshold(photo.faces[0].prediction, 1.5)


def test_paste_back_on_a_display_copy_matches_the_full_size_paste_shrunk():
    rows, cols = np.mgrid[0:1200, 0:1600]
    photo = np.stack([rows * 0.2, cols * 0.15, (rows + cols) * 0.08], axis=-1).astype(np.uint8)
    size = 64
    landmarks = _similar(template_points(size, 2.0) - size / 2, angle=0.2, scale=6.0, shift=(800.0, 600.0))
    _, matrix = align_face(photo, landmarks, size=size, crop_scale=2.0)
    white = np.full((size, size, 3), 255, np.uint8)
    small = paste_back(photo, white, matrix, max_side=400)
    full_then_shrunk, _ = working_copy(paste_back(photo, white, matrix), 400)
    assert small.shape == full_then_shrunk.shape == (300, 400, 3)
    assert np.abs(small.astype(int) - full_then_shrunk.astype(int)).mean() < 2.0
    assert small[150, 200].min() == 255  # the face's centre is covered


def test_warm_up_builds_one_shared_finder_and_skips_models_without_a_face_step(tiny_face_detector, tiny_detector):
    from deepfake_core.judge import face_finder, warm_up_face_step

    warm_up_face_step(tiny_face_detector)
    assert face_finder(tiny_face_detector) is face_finder(tiny_face_detector) is not None
    warm_up_face_step(tiny_detector)
    assert face_finder(tiny_detector) is None
