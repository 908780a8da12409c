"""How fragile one verdict is: P(fake) of a photo as it is re-compressed, blurred, shrunk or made noisy.

The Evaluation page's robustness block says how a model holds up on the whole test set at a few
fixed settings; the robustness lab asks the same of one photo a user brings, over a range of
strengths, so they can see whether a verdict survives what happens to pictures on their way (a
messenger's JPEG, a screenshot's downscale). Each :class:`Sweep` changes the photo with a function
of :mod:`deepfake_core.perturb` at its native resolution, before the preprocessing contract, as the
world does; the changed photo then goes through the same steps as on the Classify page: for a model
with a face step the face is found again (the largest one, as ``--faces largest``) and its aligned
crop judged, otherwise the whole image. Every strength of a sweep is judged in one model call.

No Streamlit here, and no TensorFlow import until a detector is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np

from deepfake_core.errors import DeepfakeLensError
from deepfake_core.faces.finder import crop_faces, select_faces
from deepfake_core.perturb import downscale, gaussian_blur, gaussian_noise, jpeg_recompress
from deepfake_core.preprocess import resize_square

if TYPE_CHECKING:
    from deepfake_core.detector import Detector
    from deepfake_core.faces.finder import FaceFinder

__all__ = ["SWEEPS", "Curve", "Fragility", "NoFaceToJudgeError", "Sweep", "measure_fragility"]

ProgressCallback = Callable[[int, int], None]
StrengthPerturbation = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]
"""An RGB uint8 photo, a strength and a seeded generator in, the changed photo out (any size)."""


class NoFaceToJudgeError(DeepfakeLensError):
    """The unchanged photo has no face the model can judge, so there is no verdict to test."""


def _jpeg(image: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    return jpeg_recompress(image, round(quality))


def _blur(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return gaussian_blur(image, sigma)


def _downscale(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    return downscale(image, factor)


def _noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return gaussian_noise(image, sigma, rng)


@dataclass(frozen=True)
class Sweep:
    """One perturbation over a range of strengths, mildest first.

    ``parameter`` names the strength as the perturbation's own setting (``quality``, ``sigma``,
    ``factor``); for JPEG quality and the downscale factor a smaller number is a stronger change.
    ``perturb`` is a module-level function, so results holding a sweep can be pickled (cached).
    """

    name: str
    title: str
    parameter: str
    strengths: tuple[float, ...]
    perturb: StrengthPerturbation

    @property
    def stronger_when_smaller(self) -> bool:
        return self.strengths[0] > self.strengths[-1]


SWEEPS: Final[tuple[Sweep, ...]] = (
    Sweep("jpeg", "JPEG quality", "quality", (95, 85, 75, 65, 50, 40, 30, 20, 10), _jpeg),
    Sweep("blur", "Blur sigma (px)", "sigma", (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0), _blur),
    Sweep("downscale", "Downscale factor", "factor", (0.75, 0.5, 0.35, 0.25, 0.18, 0.12), _downscale),
    Sweep("noise", "Noise sigma (grey levels)", "sigma", (2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0), _noise),
)
"""The lab's four sweeps; the same kinds of change as the stored robustness suite, over wider ranges."""


@dataclass(frozen=True, eq=False)
class Curve:
    """P(fake) of one photo at every strength of ``sweep``.

    ``p_fake[i]`` and ``views[i]`` belong to ``sweep.strengths[i]``; both are ``None`` where the
    changed photo had no face left to judge (lost, or too small). ``views`` are what the model
    judged: the aligned face crop, or the whole image at the model's input size.
    """

    sweep: Sweep
    p_fake: tuple[float | None, ...]
    views: tuple[np.ndarray | None, ...]

    def flip(self, threshold: float, *, clean_p_fake: float) -> float | None:
        """The mildest strength whose verdict differs from the unchanged photo's, or ``None`` if none does.

        A lost face is no verdict, not a changed one, so it never counts as a flip.
        """
        clean_fake = clean_p_fake >= threshold
        return next(
            (
                strength
                for strength, p_fake in zip(self.sweep.strengths, self.p_fake, strict=True)
                if p_fake is not None and (p_fake >= threshold) != clean_fake
            ),
            None,
        )


@dataclass(frozen=True, eq=False)
class Fragility:
    """The unchanged photo's P(fake) and one :class:`Curve` per sweep.

    ``face_step`` says whether faces were found and judged (else the whole image was);
    ``faces_found`` counts the faces in the unchanged photo, of which the largest is judged.
    """

    clean_p_fake: float
    clean_view: np.ndarray
    face_step: bool
    faces_found: int
    curves: tuple[Curve, ...]


def _model_view(detector: Detector, finder: FaceFinder | None, image: np.ndarray) -> tuple[np.ndarray | None, int]:
    """What the model judges of ``image`` and how many faces were found: the largest face's crop, or the image.

    Without a face step the image is brought to the input size here, with the contract's own
    resize, so a changed full-size photo is not kept; preparing it again leaves it as it is.
    """
    size = detector.card.input_size
    if finder is None:
        return resize_square(image, size), 0
    detections = finder.detect(image)
    faces = crop_faces(image, select_faces(detections, "largest"), finder.spec, size=size)
    return (faces[0].crop if faces else None), len(detections)


def measure_fragility(
    detector: Detector,
    image: np.ndarray,
    *,
    sweeps: Iterable[Sweep] = SWEEPS,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> Fragility:
    """P(fake) of an RGB uint8 photo unchanged and at every strength of every sweep.

    Each sweep's changed photos are made one at a time (only the small view the model judges is
    kept, so a large photo is never held many times over) and judged together in one model call.
    The noise is drawn from a generator seeded with ``seed`` (afresh for each sweep), so the same
    photo gives the same curves. ``progress(done, total)`` is called after each changed photo.

    Raises:
        NoFaceToJudgeError: the model has a face step and the unchanged photo has no face big
            enough to judge.
    """
    from deepfake_core.judge import face_finder

    finder = face_finder(detector)
    clean_view, faces_found = _model_view(detector, finder, image)
    if clean_view is None:
        found = "no face was found" if not faces_found else "its largest face is too small to judge"
        raise NoFaceToJudgeError(
            f"This model judges faces, and {found} in the picture: there is no verdict to test. "
            "Pick a photo where a face is clearly visible."
        )
    clean_p_fake = float(detector.p_fake([clean_view])[0])
    sweeps = tuple(sweeps)
    total, done = sum(len(sweep.strengths) for sweep in sweeps), 0
    curves = []
    for sweep in sweeps:
        rng = np.random.default_rng(seed)  # per sweep: a curve does not depend on which sweeps ran before it
        views: list[np.ndarray | None] = []
        for strength in sweep.strengths:
            views.append(_model_view(detector, finder, sweep.perturb(image, strength, rng))[0])
            done += 1
            if progress is not None:
                progress(done, total)
        curves.append(Curve(sweep, _p_fake_where_judged(detector, views), tuple(views)))
    return Fragility(
        clean_p_fake=clean_p_fake,
        clean_view=clean_view,
        face_step=finder is not None,
        faces_found=faces_found,
        curves=tuple(curves),
    )


def _p_fake_where_judged(detector: Detector, views: Sequence[np.ndarray | None]) -> tuple[float | None, ...]:
    """P(fake) of every view in one model call; ``None`` stays where there was nothing to judge."""
    judged = [view for view in views if view is not None]
    scores = iter(detector.p_fake(judged).tolist() if judged else [])
    return tuple(None if view is None else next(scores) for view in views)
