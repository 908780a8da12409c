"""``draw_face_boxes``: numbered, coloured boxes on hand-made verdicts (no detector, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_core.detector import Prediction
from deepfake_core.faces.draw import FAKE_COLOUR, NOT_JUDGED_COLOUR, REAL_COLOUR, draw_face_boxes
from deepfake_core.faces.finder import Face, FaceDetection
from deepfake_core.judge import FaceVerdict, PhotoVerdicts

GREEN = (0, 160, 0)


def prediction(p_fake: float) -> Prediction:
    return Prediction(
        label="Fake" if p_fake >= 0.5 else "Real",
        p_fake=p_fake,
        probabilities={"Real": 1 - p_fake, "Fake": p_fake},
        threshold=0.5,
        model_id="draw-test",
    )


def face(number: int, box: tuple[float, float, float, float], *, too_small: bool = False) -> Face:
    detection = FaceDetection(box=box, landmarks=np.zeros((5, 2)), score=0.99)
    crop = None if too_small else np.zeros((8, 8, 3), np.uint8)
    return Face(number, detection, crop=crop, matrix=None if too_small else np.eye(2, 3), too_small=too_small)


def judged(number: int, box: tuple[float, float, float, float], p_fake: float) -> FaceVerdict:
    return FaceVerdict(face(number, box), prediction(p_fake))


def not_judged(number: int, box: tuple[float, float, float, float]) -> FaceVerdict:
    return FaceVerdict(face(number, box, too_small=True), None, "too small")


def plain(height: int = 200, width: int = 300) -> np.ndarray:
    return np.full((height, width, 3), GREEN, np.uint8)


def test_each_box_edge_takes_the_colour_of_its_verdict() -> None:
    photo = PhotoVerdicts(
        face_step=True,
        faces=[judged(1, (20, 60, 60, 80), 0.9), judged(2, (120, 60, 50, 70), 0.1), not_judged(3, (220, 80, 30, 30))],
        faces_found=3,
    )
    drawn = draw_face_boxes(plain(), photo)
    # the middle of each box's bottom edge and right edge (away from the number label)
    assert tuple(drawn[140, 50]) == FAKE_COLOUR and tuple(drawn[100, 80]) == FAKE_COLOUR
    assert tuple(drawn[130, 145]) == REAL_COLOUR and tuple(drawn[95, 170]) == REAL_COLOUR
    assert tuple(drawn[110, 235]) == NOT_JUDGED_COLOUR and tuple(drawn[95, 250]) == NOT_JUDGED_COLOUR
    # inside the boxes and outside them the photo is untouched
    assert tuple(drawn[100, 50]) == GREEN and tuple(drawn[180, 150]) == GREEN


def test_the_face_number_is_written_in_a_label_on_the_box() -> None:
    image = plain()
    one = draw_face_boxes(image, PhotoVerdicts(True, [judged(1, (100, 80, 80, 80), 0.9)], 1))
    two = draw_face_boxes(image, PhotoVerdicts(True, [judged(2, (100, 80, 80, 80), 0.9)], 1))
    label = (slice(40, 82), slice(98, 140))  # above the box's top-left corner
    assert (one[label] > 200).all(axis=-1).any()  # white text
    assert (one[label] == FAKE_COLOUR).all(axis=-1).any()  # on the verdict's colour
    assert not np.array_equal(one[label], two[label])  # "1" and "2" are different drawings
    assert np.array_equal(one[150:], two[150:])  # the same box otherwise


def test_a_label_goes_inside_a_box_at_the_top_of_the_picture() -> None:
    drawn = draw_face_boxes(plain(), PhotoVerdicts(True, [judged(1, (100, 0, 80, 80), 0.1)], 1))
    assert (drawn[2:24, 102:124] > 200).all(axis=-1).any()


def test_the_original_is_not_modified_and_the_copy_is_new() -> None:
    image = plain()
    before = image.copy()
    drawn = draw_face_boxes(image, PhotoVerdicts(True, [judged(1, (20, 60, 60, 80), 0.9)], 1))
    assert np.array_equal(image, before)
    assert drawn is not image and drawn.dtype == np.uint8 and drawn.shape == image.shape


def test_too_small_faces_and_boxes_past_the_border_are_drawn() -> None:
    photo = PhotoVerdicts(True, [not_judged(1, (-10, -5, 30, 25)), not_judged(2, (290, 190, 40, 40))], 2)
    drawn = draw_face_boxes(plain(), photo)
    assert (drawn == NOT_JUDGED_COLOUR).all(axis=-1).sum() > 20
    assert tuple(drawn[10, 20]) == NOT_JUDGED_COLOUR  # the right edge of the clipped box


def test_line_width_and_label_grow_with_the_picture() -> None:
    def fake_pixels(side: int) -> int:
        box = (side * 0.3, side * 0.3, side * 0.4, side * 0.4)
        drawn = draw_face_boxes(plain(side, side), PhotoVerdicts(True, [judged(1, box, 0.9)], 1))
        return int((drawn == FAKE_COLOUR).all(axis=-1).sum())

    small, large = fake_pixels(200), fake_pixels(2000)
    assert large > 50 * small  # 10x the side: a 10x longer outline that is also several times thicker


def test_max_side_draws_on_a_shrunk_copy_with_the_boxes_scaled() -> None:
    photo = PhotoVerdicts(True, [judged(1, (400, 400, 400, 400), 0.1)], 1)
    drawn = draw_face_boxes(plain(1200, 1600), photo, max_side=400)
    assert drawn.shape == (300, 400, 3)
    assert tuple(drawn[200, 150]) == REAL_COLOUR  # the box's right edge: x = 800 px / 4
    assert tuple(drawn[150, 200]) == REAL_COLOUR


def test_a_whole_image_verdict_has_no_box() -> None:
    image = plain()
    drawn = draw_face_boxes(image, PhotoVerdicts(False, [FaceVerdict(None, prediction(0.9))]))
    assert np.array_equal(drawn, image) and drawn is not image


def test_a_no_face_photo_comes_back_unchanged() -> None:
    image = plain()
    assert np.array_equal(draw_face_boxes(image, PhotoVerdicts(True, [], 0)), image)


def test_not_an_rgb_picture_is_refused() -> None:
    with pytest.raises(ValueError, match="RGB uint8"):
        draw_face_boxes(np.zeros((10, 10), np.uint8), PhotoVerdicts(True, [], 0))
