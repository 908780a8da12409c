"""The robustness lab's curves: one photo changed at every strength, judged as Classify judges it."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import astronaut, face_like_image, no_face_pictures, sensitive_model, tiny_card

from deepfake_core.detector import Detector
from deepfake_core.judge import judge_photos
from deepfake_core.perturb import gaussian_blur
from deepfake_core.preprocess import resize_square
from deepfake_core.robustness_lab import SWEEPS, Curve, NoFaceToJudgeError, Sweep, measure_fragility

PHOTO = face_like_image(72, 60, seed=5)
"""Larger than the 32 px input, so changes made at the photo's own resolution differ from changes to the input."""


@pytest.fixture(scope="module")
def detector() -> Detector:
    """A tiny whole-image model whose scores move with the image (a plain random model says 0.5 to everything)."""
    return Detector(sensitive_model(), tiny_card())


def test_the_unchanged_photo_gets_the_classify_pages_score(detector: Detector) -> None:
    fragility = measure_fragility(detector, PHOTO, sweeps=())
    [verdict] = judge_photos(detector, [PHOTO])[0].faces
    assert fragility.clean_p_fake == pytest.approx(verdict.prediction.p_fake, abs=1e-6)
    assert not fragility.face_step and fragility.curves == ()
    assert fragility.clean_view.shape == (32, 32, 3)


def test_every_strength_is_the_photo_changed_at_its_own_resolution_then_judged(detector: Detector) -> None:
    fragility = measure_fragility(detector, PHOTO, seed=3)
    assert [curve.sweep.name for curve in fragility.curves] == ["jpeg", "blur", "downscale", "noise"]
    for curve in fragility.curves:
        rng = np.random.default_rng(3)
        expected = detector.p_fake([curve.sweep.perturb(PHOTO, strength, rng) for strength in curve.sweep.strengths])
        assert curve.p_fake == pytest.approx(expected.tolist(), abs=1e-6), curve.sweep.name
        # what the model saw changed, and the scores moved with it
        assert all(not np.array_equal(view, fragility.clean_view) for view in curve.views), curve.sweep.name
        assert max(abs(p - fragility.clean_p_fake) for p in curve.p_fake) > 1e-4, curve.sweep.name


def test_blurring_the_photo_is_not_blurring_the_model_input(detector: Detector) -> None:
    """The lab changes the photo before the preprocessing contract, as the world does, not the resized input."""
    blur = next(sweep for sweep in SWEEPS if sweep.name == "blur")
    [curve] = measure_fragility(detector, PHOTO, sweeps=[blur]).curves
    late = detector.p_fake([gaussian_blur(resize_square(PHOTO, 32), 3.0)])[0]  # the input blurred instead
    assert curve.p_fake[blur.strengths.index(3.0)] != pytest.approx(late, abs=1e-6)


def test_each_sweep_is_judged_in_one_model_call(detector: Detector, monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[int] = []
    original = Detector.p_fake

    def counting(self, images):
        batches.append(len(images))
        return original(self, images)

    monkeypatch.setattr(Detector, "p_fake", counting)
    steps: list[tuple[int, int]] = []
    measure_fragility(detector, PHOTO, progress=lambda done, total: steps.append((done, total)))
    assert batches == [1] + [len(sweep.strengths) for sweep in SWEEPS]  # the unchanged photo, then one per sweep
    total = sum(len(sweep.strengths) for sweep in SWEEPS)
    assert steps == [(done, total) for done in range(1, total + 1)]


def test_the_noise_is_seeded(detector: Detector) -> None:
    noise = next(sweep for sweep in SWEEPS if sweep.name == "noise")
    first, again, other = (
        measure_fragility(detector, PHOTO, sweeps=[noise], seed=seed).curves[0] for seed in (0, 0, 1)
    )
    assert first.p_fake == again.p_fake
    assert first.p_fake != other.p_fake


def _curve(p_fake: tuple[float | None, ...]) -> Curve:
    sweep = Sweep(
        "test", "Test", "level", tuple(float(level) for level in range(1, len(p_fake) + 1)), SWEEPS[0].perturb
    )
    return Curve(sweep, p_fake, (None,) * len(p_fake))


def test_a_flip_is_the_mildest_strength_whose_verdict_differs() -> None:
    curve = _curve((0.7, 0.55, None, 0.4, 0.8))
    assert curve.flip(0.5, clean_p_fake=0.9) == 4.0  # a lost face (None) is no verdict, not a changed one
    assert curve.flip(0.3, clean_p_fake=0.9) is None
    assert curve.flip(0.6, clean_p_fake=0.9) == 2.0
    assert curve.flip(0.75, clean_p_fake=0.1) == 5.0  # from Real to Fake, too


def test_jpeg_quality_and_downscale_grow_stronger_as_their_number_shrinks() -> None:
    assert {sweep.name: sweep.stronger_when_smaller for sweep in SWEEPS} == {
        "jpeg": True,
        "blur": False,
        "downscale": True,
        "noise": False,
    }


# --------------------------------------------------------------------------- with the face step (MTCNN)


def test_a_face_model_judges_the_largest_face_found_again_on_each_copy(tiny_face_detector: Detector) -> None:
    photo = astronaut()
    shrink = Sweep("downscale", "Downscale factor", "factor", (0.5, 0.05), SWEEPS[2].perturb)
    fragility = measure_fragility(tiny_face_detector, photo, sweeps=[shrink])
    [verdict] = judge_photos(tiny_face_detector, [photo], faces="largest")[0].faces
    assert fragility.face_step and fragility.faces_found == 1
    assert fragility.clean_p_fake == pytest.approx(verdict.prediction.p_fake, abs=1e-6)
    assert np.array_equal(fragility.clean_view, verdict.image)
    [curve] = fragility.curves
    assert curve.p_fake[0] is not None and curve.views[0].shape == (32, 32, 3)
    assert curve.p_fake[1] is None and curve.views[1] is None  # 26 px across: no face left to judge


def test_a_face_model_refuses_a_photo_without_a_face(tiny_face_detector: Detector) -> None:
    with pytest.raises(NoFaceToJudgeError, match="no face was found in the picture"):
        measure_fragility(tiny_face_detector, no_face_pictures()["cat"], sweeps=())
