"""``deepfake-core explain IMAGE ...``: per image, an overlay PNG and the dashboard's JSON record.

The JSON is exactly :meth:`Explanation.to_json_dict`, the file the Explain page
offers for download, and ``--from-json FILE`` reruns the method, class,
threshold and parameters such a file records, so a dashboard result can be
reproduced here. It refuses an image whose sha256, or a model whose id, differs
from the record's (the result would not reproduce anything), unless ``--force``.
Images larger than ``WORKING_SIDE`` are explained, and drawn, on their working
copy, as on the Explain page.
Many images (files, folders, globs) are read a batch at a time; the attention
mask classifies and explains each batch in shared model calls.

A model whose card has a ``face_crop`` section judges aligned face crops, so
that is what is explained: every judged face of a photo (the same crops
``deepfake-core predict`` judges, made by :func:`deepfake_core.judge.judge_photos`)
gets ``<stem>_face<N>_<method>.png`` (the overlay on the crop) and ``.json``; the
JSON is the explanation record plus a ``face`` object (``number``, ``box``
``[x, y, w, h]`` and ``landmarks`` in photo pixels, detector ``score``,
``faces_found``, ``crop_size`` and ``photo_to_crop``, the ``2 x 3`` matrix from
photo to crop pixels that :func:`deepfake_core.faces.align.paste_back` takes).
A photo with no face to judge is a failed file. ``--from-json`` with such a
record explains the face with the recorded number again. Models without the
section explain the whole image as ``<stem>_<method>``, as do ``--faces none``.
Only constants are imported at module level: TensorFlow loads when the command
runs, not when ``deepfake-core --help`` builds the parser.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepfake_core.errors import ExplanationError, ImageIntakeError
from deepfake_core.explain.defaults import HIDE_MODES, METHOD_NAMES, SEGMENTATIONS

__all__ = ["add_explain_parser", "run_explain"]

if TYPE_CHECKING:
    import numpy as np

    from deepfake_core.detector import Detector
    from deepfake_core.explain.base import Explanation
    from deepfake_core.faces.finder import Face
    from deepfake_core.inputs import InputImage

_DEFAULT_METHOD = "gradcam"
_FACE_MODES = ("all", "largest", "none")
"""What ``--faces`` accepts (the same as ``deepfake-core predict --faces``)."""

_LIME_FLAGS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("seed", "--seed", {"type": int, "metavar": "N", "help": "seed of sampling and segmentation (default 0)"}),
    ("num_samples", "--samples", {"type": int, "metavar": "N", "help": "perturbed images to classify (default 1000)"}),
    ("segmentation", "--segmentation", {"choices": tuple(SEGMENTATIONS), "help": "superpixel algorithm"}),
    (
        "segmentation_params",
        "--segmentation-param",
        {"action": "append", "metavar": "NAME=VALUE", "help": "a segmentation parameter (repeatable)"},
    ),
    ("hide", "--hide", {"choices": HIDE_MODES, "help": "what a switched-off superpixel shows"}),
    (
        "num_features",
        "--num-features",
        {"type": int, "metavar": "N", "help": "superpixels shown (0 = all; default 10)"},
    ),
    ("positive_only", "--positive-only", {"action": argparse.BooleanOptionalAction, "help": "show only support"}),
    ("kernel_width", "--kernel-width", {"type": float, "metavar": "W", "help": "LIME kernel width (default 0.25)"}),
    ("batch_size", "--batch-size", {"type": int, "metavar": "N", "help": "images per model call (default 32)"}),
)
"""LIME parameter name, its flag, and argparse options; every flag defaults to None = "not given"."""


def add_explain_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``explain`` sub-command to ``subparsers``; it sets ``run=run_explain``."""
    parser = subparsers.add_parser(
        "explain",
        help="explain verdicts: write <stem>_<method>.png (overlay) and <stem>_<method>.json per image",
        description="Explain the detector's verdict on images with LIME, the attention mask, Grad-CAM or "
        "Grad-CAM++. Writes, per image, an overlay PNG and a JSON record with every parameter, the seed, the "
        "image's sha256, the model id, the verdict and the time taken. A file that cannot be read is reported "
        "and skipped (exit status 1). A model that judges faces (face_crop in its card) has each judged face "
        "explained on its aligned crop, as <stem>_face<N>_<method>.png/.json; a picture without a face is reported "
        "as a failed file.",
    )
    parser.add_argument(
        "images", nargs="+", metavar="IMAGE", help="PNG, JPEG, WebP or BMP files, folders (searched recursively), globs"
    )
    parser.add_argument("--method", choices=METHOD_NAMES, default=None, help=f"default: {_DEFAULT_METHOD}")
    parser.add_argument(
        "--model", type=Path, default=None, metavar="PATH", help="model file (default: model/default.keras)"
    )
    parser.add_argument("--allow-legacy", action="store_true", help="allow the thesis' legacy H5 model")
    parser.add_argument(
        "--faces",
        choices=_FACE_MODES,
        default=None,
        help="for a model that judges faces: explain every judged face (default), the largest one, or the whole "
        "image without the face step",
    )
    parser.add_argument(
        "--out-dir", type=Path, default=Path("."), metavar="DIR", help="folder for the PNG and JSON (default: .)"
    )
    parser.add_argument(
        "--target-class", default=None, metavar="CLASS", help="label name or index to explain (default: the verdict)"
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        default=None,
        metavar="FILE",
        help="rerun the method, target class, threshold and parameters of a JSON from this command or the "
        "dashboard (flags given as well take precedence); the images and the model must be the record's",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --from-json: apply the record to an image or a model other than the one it was made for",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        metavar="P",
        help="P(fake) threshold of the verdict (default: the record's with --from-json, else the model card's)",
    )
    lime = parser.add_argument_group("LIME")
    for name, flag, options in _LIME_FLAGS:
        lime.add_argument(flag, dest=name, default=None, **options)
    drawing = parser.add_argument_group("drawing")
    drawing.add_argument("--opacity", type=float, default=0.5, help="0 = image only, 1 = map only (default 0.5)")
    drawing.add_argument("--colormap", default=None, help="matplotlib colormap (default: RdBu_r signed, jet 0..1)")
    drawing.add_argument("--boundaries", action="store_true", help="draw LIME's superpixel edges")
    parser.set_defaults(run=run_explain)
    return parser


@dataclass(frozen=True)
class _Job:
    """One map to compute: the image explained (the photo, or a face's aligned crop) and where it came from."""

    item: InputImage
    image: np.ndarray
    face: Face | None = None
    faces_found: int = 0

    @property
    def stem(self) -> str:
        return self.item.path.stem if self.face is None else f"{self.item.path.stem}_face{self.face.number}"


def run_explain(args: argparse.Namespace) -> int:
    """Explain every input, write a PNG and a JSON per image (or per face), print where; returns the exit code."""
    from deepfake_core.explain.registry import METHODS, explain_batch
    from deepfake_core.inputs import expand_inputs, input_batches
    from deepfake_core.loading import load_detector

    recorded = _read_record(args.from_json) if args.from_json is not None else {}
    method, target, params, recorded_face = _request(args, recorded)
    paths = expand_inputs(args.images)
    _check_distinct_stems(paths)
    if recorded and not args.force:
        _check_recorded_image(recorded, paths, args.from_json)
    detector = load_detector(args.model, allow_legacy=args.allow_legacy)
    if recorded and not args.force:
        _check_recorded_model(recorded, detector.model_id, args.from_json)
    threshold = _threshold(args.threshold if args.threshold is not None else recorded.get("threshold"))
    face_mode = args.faces or "all"
    face_step = detector.card.face_crop is not None and face_mode != "none"
    only_face = recorded_face if face_step and args.faces is None else None
    args.out_dir.mkdir(parents=True, exist_ok=True)
    progress = _progress_printer(method) if sys.stderr.isatty() else None
    # Maps are image-sized: only a method that shares model calls across images reads more than one at a time.
    batch_size = detector.batch_size if METHODS[method].compute_batch is not None else 1
    failed = 0
    for batch in input_batches(paths, batch_size):
        readable = [item for item in batch if item.error is None]
        errors = [item.error for item in batch if item.error is not None]
        if face_step:
            jobs, face_errors = _face_jobs(detector, readable, mode=face_mode, only=only_face)
            errors += face_errors
        else:
            jobs = [_Job(item, item.image) for item in readable]
        for error in errors:
            print(f"error: {error}", file=sys.stderr)
        failed += len(errors)
        explanations = explain_batch(
            detector,
            [job.image for job in jobs],
            method=method,
            target_class=target,
            image_sha256s=[job.item.sha256 for job in jobs],
            progress=progress,
            threshold=threshold,
            **params,
        )
        for job, explanation in zip(jobs, explanations, strict=True):
            _write_outputs(job, explanation, method, args)
    if failed:
        print(f"{failed} of {len(paths)} files could not be explained.", file=sys.stderr)
    return 1 if failed else 0


def _face_jobs(
    detector: Detector, items: list[InputImage], *, mode: str, only: int | None
) -> tuple[list[_Job], list[str]]:
    """The judged faces of readable photos (``mode``, or only face number ``only``), and an error per photo without.

    Faces too small to judge are noted on stderr when another face of the photo is explained.
    """
    from deepfake_core.judge import judge_photos

    photos = judge_photos(detector, [item.image for item in items], faces="all" if only is not None else mode)
    jobs: list[_Job] = []
    errors: list[str] = []
    for item, photo in zip(items, photos, strict=True):
        chosen = photo.faces if only is None else [verdict for verdict in photo.faces if verdict.number == only]
        judged = [verdict for verdict in chosen if verdict.prediction is not None]
        skipped = [verdict.reason for verdict in chosen if verdict.prediction is None]
        if judged:
            jobs.extend(_Job(item, verdict.face.crop, verdict.face, photo.faces_found) for verdict in judged)
            for reason in skipped:
                print(f"note: {item.path.name}: {reason}", file=sys.stderr)
        elif photo.no_face:
            errors.append(f"{item.path.name}: {photo.failure} To explain the whole image anyway, add --faces none.")
        elif not chosen:
            errors.append(
                f"{item.path.name}: the record names face {only}, but {photo.faces_found} face(s) were found here; "
                "choose the faces with --faces all or --faces largest."
            )
        else:
            errors.append(f"{item.path.name}: no face here is big enough to judge: {'; '.join(skipped)}")
    return jobs, errors


def _check_recorded_image(record: dict[str, Any], paths: list[Path], source: Path) -> None:
    """Refuse inputs that are not the file ``record`` explains (by sha256), so a rerun reproduces the record.

    Only an upload's hash can be checked against a file (a record of pixels hashed
    in memory cannot). Unreadable files are left for the batch to report.
    """
    from deepfake_core.intake import image_sha256

    expected = record.get("image_sha256")
    if not isinstance(expected, str) or record.get("image_sha256_source", "upload") != "upload":
        return
    for path in paths:
        try:
            found = image_sha256(path)
        except ImageIntakeError:
            continue
        if found != expected:
            raise ExplanationError(
                f"{path.name} is not the image {source.name} explains: its sha256 is {found[:16]}..., the record's "
                f"{expected[:16]}.... Pass the image the record was made from, or add --force to apply the "
                "record's settings to this image anyway."
            )


def _check_recorded_model(record: dict[str, Any], model_id: str, source: Path) -> None:
    """Refuse a model other than the one ``record`` names: its maps would not reproduce the record's."""
    expected = record.get("model_id")
    if isinstance(expected, str) and expected != model_id:
        raise ExplanationError(
            f"{source.name} was made with model '{expected}', but the model loaded is '{model_id}'. Choose that "
            "model with --model, or add --force to explain with this one anyway."
        )


def _threshold(value: Any) -> float | None:
    """The verdict threshold to use: ``None`` (the card's) or a number in ``[0, 1]``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ExplanationError(f"The threshold must be a number between 0 and 1, got {value!r}.")
    return float(value)


def _check_distinct_stems(paths: list[Path]) -> None:
    """Outputs are named after the input's stem: refuse inputs that would overwrite each other's."""
    seen: dict[str, Path] = {}
    for path in paths:
        other = seen.setdefault(path.stem, path)
        if other != path:
            raise ExplanationError(
                f"{other} and {path} would both write {path.stem}_<method>.png; explain them into different --out-dir."
            )


def _write_outputs(job: _Job, explanation: Explanation, method: str, args: argparse.Namespace) -> None:
    """The overlay PNG and the JSON record of one image or face, and a line saying what was written."""
    from PIL import Image

    from deepfake_core.explain.base import working_image
    from deepfake_core.explain.drawing import overlay

    png, record_file = (args.out_dir / f"{job.stem}_{method}{suffix}" for suffix in (".png", ".json"))
    picture = working_image(job.image, max(explanation.heatmap.shape))  # the copy the map was computed at
    drawn = overlay(picture, explanation, colormap=args.colormap, opacity=args.opacity, boundaries=args.boundaries)
    Image.fromarray(drawn).save(png)
    record = explanation.to_json_dict()
    if job.face is not None:
        record["face"] = job.face.record(faces_found=job.faces_found, crop_size=int(job.image.shape[0]))
    record_file.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    verdict = explanation.verdict
    where = "" if job.face is None else f"face {job.face.number}: "
    print(f"wrote {png} and {record_file}")
    print(
        f"{where}verdict {verdict['label']} (p_fake {verdict['p_fake']:.3f}, threshold {verdict['threshold']:.2f}); "
        f"{method} explains "
        f"'{explanation.target_class}' in {explanation.seconds:.2f} s (model {explanation.model_id})"
    )


def _request(args: argparse.Namespace, recorded: dict[str, Any]) -> tuple[str, str | None, dict[str, Any], int | None]:
    """Method, target class, parameters and face number from the record (``{}`` if none) overridden by flags.

    The face number is ``None`` unless the record explains one face of a photo.
    """
    method = args.method or recorded.get("method") or _DEFAULT_METHOD
    params = dict(recorded.get("params") or {}) if recorded.get("method") == method else {}
    flags = {name: getattr(args, name) for name, _, _ in _LIME_FLAGS if getattr(args, name) is not None}
    if flags and method != "lime":
        given = ", ".join(flag for name, flag, _ in _LIME_FLAGS if name in flags)
        raise ExplanationError(f"{given} only apply to --method lime; {method} is deterministic and takes none.")
    if "segmentation" in flags and "segmentation_params" not in flags:
        params.pop("segmentation_params", None)  # a recorded algorithm's parameters do not fit another one
    if "segmentation_params" in flags:
        flags["segmentation_params"] = dict(_parse_assignment(item) for item in flags["segmentation_params"])
    if flags.get("num_features") == 0:
        flags["num_features"] = None
    target = args.target_class if args.target_class is not None else recorded.get("target_class")
    return method, target, {**params, **flags}, _recorded_face(recorded)


def _recorded_face(record: dict[str, Any]) -> int | None:
    face = record.get("face")
    number = face.get("number") if isinstance(face, dict) else face
    if number is None:
        return None
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ExplanationError(f"The record's face number must be a positive integer, got {number!r}.")
    return number


def _read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExplanationError(f"Could not read the explanation record {path.name}: {exc}.") from exc
    if not isinstance(record, dict) or record.get("method") not in METHOD_NAMES:
        raise ExplanationError(f"{path.name} is not an explanation record (no known 'method' in it).")
    return record


def _parse_assignment(text: str) -> tuple[str, Any]:
    """``"n_segments=80"`` -> ``("n_segments", 80)``; values are read as JSON numbers/booleans when they parse."""
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise ExplanationError(f"--segmentation-param expects NAME=VALUE, got {text!r}.")
    try:
        return name.strip(), json.loads(value)
    except json.JSONDecodeError:
        return name.strip(), value


def _progress_printer(method: str) -> Callable[[int, int], None]:
    """A progress callback that redraws ``method: done/total`` on one terminal line."""

    def report(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r{method}: {done}/{total}", end=end, file=sys.stderr, flush=True)

    return report
