"""The results file as typed records: one frozen dataclass per block of ``docs/evaluation_schema.md``.

Field order is the documented key order (files are written in it), a field without a default
is required, and ``X | None`` may be ``null``. Value rules that types cannot say (a probability
in [0, 1], as many predictions as ``data.n_images``) are checked in ``__post_init__``, so every
record, loaded or built, obeys them. :mod:`deepfake_core.evaluation.results` reads and writes
the files; this module only says what they hold.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from deepfake_core.evaluation.record import Record, SchemaError, json_key

__all__ = [
    "Bootstrap",
    "Calibration",
    "CalibrationBin",
    "ClassCounts",
    "ClassScores",
    "ClassificationReport",
    "ConfusionCounts",
    "DataInfo",
    "EqualErrorRate",
    "EvaluationResults",
    "FaceCoverage",
    "FaceMiss",
    "Faces",
    "FakeGroup",
    "FalseAlarm",
    "Familiarity",
    "FlagCounts",
    "Generalisation",
    "KindSummary",
    "OperatingPoint",
    "PairSummary",
    "PrCurve",
    "Prediction",
    "PredictionArrays",
    "ReportedResults",
    "Results",
    "RobustnessEntry",
    "RobustnessKind",
    "RocCurve",
    "TableRow",
    "ThresholdMetrics",
    "ThresholdView",
    "UnseenReals",
]

Interval = tuple[float, float]
"""``[low, high]`` at 95 % (``None`` where undefined)."""
ConfusionMatrix = tuple[tuple[int, int], tuple[int, int]]
"""``[[TN, FP], [FN, TP]]``: rows = true class, columns = predicted class."""


# --------------------------------------------------------------------------- what was evaluated


@dataclass(frozen=True, kw_only=True)
class DataInfo(Record):
    """The evaluated split; ``manifest_sha256`` proves which images the model never trained on."""

    root: str
    split: str
    manifest_sha256: str | None
    n_images: int


@dataclass(frozen=True, kw_only=True)
class Prediction(Record):
    """One test image's verdict input: true class, source kind and calibrated P(Fake)."""

    id: str
    label: Literal["Real", "Fake"]
    kind: str
    p_fake: float
    feature_distance: float | None = None
    unfamiliar: bool | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.p_fake <= 1.0:
            raise SchemaError("p_fake", f"must lie in [0, 1], got {self.p_fake!r}")


@dataclass(frozen=True, eq=False)
class PredictionArrays:
    """The predictions as ``(N,)`` NumPy columns, so the threshold slider re-thresholds without a Python loop."""

    ids: np.ndarray
    y_fake: np.ndarray
    """Integers, 1 = Fake."""
    kinds: np.ndarray
    p_fake: np.ndarray
    feature_distances: np.ndarray | None = None
    """Floats, the familiarity flag's distance per image; ``None`` for a model without the flag."""


# --------------------------------------------------------------------------- threshold metrics


@dataclass(frozen=True, kw_only=True)
class ClassCounts(Record):
    """Images per true class."""

    real: int = field(metadata=json_key("Real"))
    fake: int = field(metadata=json_key("Fake"))


@dataclass(frozen=True, kw_only=True)
class ConfusionCounts(Record):
    """Confusion counts with Fake as the positive class."""

    tn: int
    fp: int
    fn: int
    tp: int


@dataclass(frozen=True, kw_only=True)
class ThresholdMetrics(Record):
    """Verdicts at one threshold (:func:`~deepfake_core.evaluation.metrics.threshold_metrics`)."""

    threshold: float
    n: int
    support: ClassCounts
    counts: ConfusionCounts
    labels: tuple[str, str]
    confusion_matrix: ConfusionMatrix
    accuracy: float | None
    accuracy_ci: Interval | None
    precision: float | None
    precision_ci: Interval | None
    recall: float | None
    recall_ci: Interval | None
    specificity: float | None
    specificity_ci: Interval | None
    false_positive_rate: float | None
    false_positive_rate_ci: Interval | None
    f1: float | None
    balanced_accuracy: float | None


@dataclass(frozen=True, kw_only=True)
class ClassScores(Record):
    """One row of the classification report."""

    precision: float | None
    recall: float | None
    f1_score: float | None = field(metadata=json_key("f1-score"))
    support: int


@dataclass(frozen=True, kw_only=True)
class ClassificationReport(Record):
    """Shaped like scikit-learn's ``classification_report(output_dict=True)``, undefined values ``None``."""

    real: ClassScores = field(metadata=json_key("Real"))
    fake: ClassScores = field(metadata=json_key("Fake"))
    accuracy: float | None
    macro_avg: ClassScores = field(metadata=json_key("macro avg"))
    weighted_avg: ClassScores = field(metadata=json_key("weighted avg"))

    def rows(self) -> dict[str, ClassScores]:
        """The four score rows by their report names, for a table."""
        return {"Real": self.real, "Fake": self.fake, "macro avg": self.macro_avg, "weighted avg": self.weighted_avg}


# --------------------------------------------------------------------------- curves and calibration


@dataclass(frozen=True, kw_only=True)
class RocCurve(Record):
    """ROC points by decreasing threshold (thinned); ``auc`` from the full curve."""

    fpr: tuple[float, ...]
    tpr: tuple[float, ...]
    thresholds: tuple[float, ...]
    auc: float


@dataclass(frozen=True, kw_only=True)
class PrCurve(Record):
    """Precision-recall points for Fake by decreasing threshold; ``prevalence`` is the no-skill precision."""

    precision: tuple[float, ...]
    recall: tuple[float, ...]
    thresholds: tuple[float, ...]
    average_precision: float
    prevalence: float


@dataclass(frozen=True, kw_only=True)
class EqualErrorRate(Record):
    """Where the false-positive and false-negative rates meet, and the nearest attainable threshold."""

    eer: float
    threshold: float


@dataclass(frozen=True, kw_only=True)
class CalibrationBin(Record):
    """One reliability-diagram bin; the means are ``None`` for an empty bin."""

    lower: float
    upper: float
    count: int
    mean_predicted: float | None
    fraction_fake: float | None


@dataclass(frozen=True, kw_only=True)
class Calibration(Record):
    """Equal-width bins of P(Fake) and their expected calibration error."""

    n_bins: int
    bins: tuple[CalibrationBin, ...]
    ece: float | None


# --------------------------------------------------------------------------- groups of images


@dataclass(frozen=True, kw_only=True)
class KindSummary(Record):
    """Metrics of one image kind at the stored threshold, with intervals (few images, so they matter)."""

    n: int
    n_fake: int
    n_real: int
    accuracy: float | None
    accuracy_ci: Interval | None
    auc: float | None
    auc_ci: Interval | None
    balanced_accuracy: float | None
    balanced_accuracy_ci: Interval | None
    confusion_matrix: ConfusionMatrix
    ece: float | None = None


@dataclass(frozen=True, kw_only=True)
class _PairKinds(Record):
    real_kind: str
    fake_kind: str
    labels: tuple[str, str]


@dataclass(frozen=True, kw_only=True)
class PairSummary(KindSummary, _PairKinds):
    """The real images of one kind against the fake images of another (bases ordered so the pair's keys lead)."""


@dataclass(frozen=True, kw_only=True)
class Bootstrap(Record):
    """How the overall AUC and balanced-accuracy intervals were resampled."""

    n_boot: int
    seed: int
    confidence: float
    stratified: bool
    auc_ci: Interval | None
    balanced_accuracy_ci: Interval | None


@dataclass(frozen=True, kw_only=True)
class RobustnessKind(Record):
    """One image kind after one perturbation: images judged, their accuracy, and images that lost their face."""

    n: int
    accuracy: float | None
    no_face: int | None = None
    """``None`` for a model without a face step (every image is judged)."""


@dataclass(frozen=True, kw_only=True)
class RobustnessEntry(Record):
    """Accuracy and AUC after one perturbation of the test images (``clean``: none, the baseline).

    ``n_no_face`` and ``per_kind`` are absent from files written before they existed, and
    ``n_no_face`` is ``None`` for a model without a face step.
    """

    name: str
    params: dict[str, Any]
    accuracy: float | None
    auc: float | None
    n: int
    n_no_face: int | None = None
    per_kind: dict[str, RobustnessKind] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.per_kind is None:
            return
        judged = sum(kind.n for kind in self.per_kind.values())
        if judged != self.n:
            raise SchemaError("per_kind", f"counts {judged} judged images but n is {self.n}")
        if self.n_no_face is not None:
            lost = sum(kind.no_face or 0 for kind in self.per_kind.values())
            if lost != self.n_no_face:
                raise SchemaError("per_kind", f"counts {lost} images without a face but n_no_face is {self.n_no_face}")


@dataclass(frozen=True, kw_only=True)
class FalseAlarm(Record):
    """How often real full-frame photos (no fakes) are called Fake."""

    data: str
    n: int
    n_fake_verdicts: int
    fake_rate: float | None
    ci: Interval | None
    n_flagged: int | None = None
    n_fake_verdicts_flagged: int | None = None
    p_fake: tuple[float, ...] | None = None
    """Each judged face's calibrated P(fake): an unseen real source to score unseen fakes against."""


@dataclass(frozen=True, kw_only=True)
class FaceCoverage(Record):
    """Images of one kind in the split, and how many had a usable face."""

    n: int
    with_face: int
    no_face: int
    share: float


@dataclass(frozen=True, kw_only=True)
class FaceMiss(Record):
    """A test image that got no verdict, and why."""

    id: str
    kind: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class Faces(Record):
    """A face-step model's coverage: ``face_crop`` is the card's face step, as the card stores it."""

    face_crop: dict[str, Any]
    coverage: dict[str, FaceCoverage]
    misses: tuple[FaceMiss, ...]


@dataclass(frozen=True, kw_only=True)
class FlagCounts(Record):
    """Images, flagged images, wrong verdicts and flagged wrong verdicts."""

    n: int
    flagged: int
    wrong: int
    wrong_flagged: int


@dataclass(frozen=True, kw_only=True)
class Familiarity(Record):
    """How often the "unlike the training faces" flag fires, above all on wrong verdicts."""

    flag_threshold: float
    all: FlagCounts
    accuracy_unflagged: float | None
    per_kind: dict[str, FlagCounts]


@dataclass(frozen=True, kw_only=True)
class FakeGroup(Record):
    """Fakes of some kinds scored against every real test image."""

    n_fake: int
    n_real: int
    recall: float
    auc: float | None
    balanced_accuracy: float | None


@dataclass(frozen=True, kw_only=True)
class UnseenReals(Record):
    """Real kinds left out of training, and how often they are called Fake."""

    n: int
    false_alarm_rate: float


@dataclass(frozen=True, kw_only=True)
class Generalisation(Record):
    """Seen vs unseen kinds of a leave-one-generator-out run."""

    seen_kinds: tuple[str, ...]
    unseen_kinds: tuple[str, ...]
    unseen_fakes: FakeGroup | None
    seen_fakes: FakeGroup | None
    unseen_reals: UnseenReals | None
    missed_unseen_fakes: int
    missed_unseen_fakes_flagged: int | None
    unseen_fakes_vs_photos: FakeGroup | None = None
    """Unseen fakes against the false-alarm photos' faces: unseen generators against an unseen real source."""


# --------------------------------------------------------------------------- the two kinds of file


@dataclass(frozen=True, kw_only=True)
class _Header(Record):
    """The identification both kinds of file start with (``kind`` is narrowed by each)."""

    schema_version: int
    kind: str
    model_id: str
    model_name: str
    created: str


@dataclass(frozen=True, kw_only=True)
class EvaluationResults(_Header):
    """Everything measured about one model on its test split; only the predictions are needed to re-threshold."""

    kind: Literal["evaluation"]
    data: DataInfo
    threshold: float
    temperature: float
    predictions: tuple[Prediction, ...]
    metrics: ThresholdMetrics
    classification_report: ClassificationReport
    roc: RocCurve | None
    pr: PrCurve | None
    eer: EqualErrorRate | None
    calibration: Calibration
    calibration_uncalibrated: Calibration | None = None
    per_kind: dict[str, KindSummary]
    pairs: dict[str, PairSummary]
    bootstrap: Bootstrap
    robustness: tuple[RobustnessEntry, ...] = ()
    false_alarm: FalseAlarm | None = None
    training_history: dict[str, tuple[float | None, ...]] | None = None
    faces: Faces | None = None
    familiarity: Familiarity | None = None
    generalisation: Generalisation | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.data.n_images != len(self.predictions):
            raise SchemaError(
                "data.n_images", f"is {self.data.n_images} but there are {len(self.predictions)} predictions"
            )
        if self.familiarity is not None:  # the block is recomputed from these at any threshold
            missing = next((i for i, item in enumerate(self.predictions) if item.feature_distance is None), None)
            if missing is not None:
                raise SchemaError(
                    f"predictions[{missing}].feature_distance", "is required when the file has a familiarity block"
                )

    @functools.cached_property
    def arrays(self) -> PredictionArrays:
        """The predictions as NumPy columns (computed once per record)."""
        return PredictionArrays(
            ids=np.array([prediction.id for prediction in self.predictions], dtype=str),
            y_fake=np.array([prediction.label == "Fake" for prediction in self.predictions], dtype=int),
            kinds=np.array([prediction.kind for prediction in self.predictions], dtype=str),
            p_fake=np.array([prediction.p_fake for prediction in self.predictions], dtype=float),
            feature_distances=(
                None
                if self.familiarity is None
                else np.array([prediction.feature_distance for prediction in self.predictions], dtype=float)
            ),
        )


@dataclass(frozen=True, kw_only=True)
class TableRow(Record):
    """One model's figures as the source states them; what it did not state stays ``None``."""

    model: str
    optimiser: str
    accuracy: float
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    n_test: int
    approximate: bool = False
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReportedResults(_Header):
    """Figures reported elsewhere and not reproduced here: nothing can be recomputed from them."""

    kind: Literal["reported"]
    source: str
    note: str
    table: tuple[TableRow, ...]

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.table:
            raise SchemaError("table", "must list at least one reported model")


Results = EvaluationResults | ReportedResults
"""What one results file holds."""


# --------------------------------------------------------------------------- the threshold slider (not stored)


@dataclass(frozen=True, kw_only=True)
class OperatingPoint(Record):
    """Where a threshold sits on the ROC (``fpr``, ``tpr``) and PR (``recall``, ``precision``) curves."""

    fpr: float | None
    tpr: float | None
    precision: float | None
    recall: float | None


@dataclass(frozen=True, kw_only=True)
class ThresholdView(Record):
    """Every threshold-dependent block recomputed from the stored predictions at the slider's threshold.

    ``per_kind``, ``pairs``, ``familiarity`` and ``generalisation`` mirror the stored blocks of the
    same names (``None`` where the file has none), so a page shows them at the user's threshold.
    """

    threshold: float
    metrics: ThresholdMetrics
    classification_report: ClassificationReport
    operating_point: OperatingPoint
    per_kind: dict[str, KindSummary]
    pairs: dict[str, PairSummary]
    familiarity: Familiarity | None
    generalisation: Generalisation | None
