"""``deepfake-core``: the command-line interface.

Sub-commands: ``predict`` (files, folders, globs; in this process or on Ray), ``explain``, ``serve``
(the thesis app's HTTP endpoint, back as a service), ``split``, ``train``, ``familiarity``, ``add-probe``,
``mirror``, ``soup``, ``wise``, ``copy``, ``evaluate``. Heavy imports (TensorFlow, Starlette, Ray) happen inside the
commands so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from deepfake_core.errors import DataSetError, DeepfakeLensError
from deepfake_core.explain.command import add_explain_parser
from deepfake_core.familiarity import UNFAMILIAR_NOTE
from deepfake_core.scoring import COLUMNS, FileResult, score_inputs
from deepfake_core.service.command import add_serve_parser

if TYPE_CHECKING:
    from deepfake_core.card import ModelCard
    from deepfake_core.evaluation.schema import EvaluationResults
    from deepfake_core.perturb import AugmentConfig

__all__ = ["main"]


def _scored_files(
    detector, paths: Sequence[Path], *, threshold: float | None, batch_size: int, faces: str
) -> Iterator[FileResult]:
    """One result per file, in order, read and judged ``batch_size`` files at a time."""
    from tqdm import tqdm

    from deepfake_core.inputs import input_batches

    with tqdm(total=len(paths), desc="classifying", unit="img", disable=len(paths) < 2, file=sys.stderr) as bar:
        for batch in input_batches(paths, batch_size):
            yield from score_inputs(detector, batch, faces=faces, threshold=threshold)
            bar.update(len(batch))


def _write_rows(rows: list[dict], output_format: str) -> None:
    if output_format == "json":
        json.dump([{key: row.get(key) for key in COLUMNS} for row in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif output_format == "csv":
        from deepfake_core.export import rows_to_csv

        sys.stdout.write(rows_to_csv(rows, COLUMNS))
    else:
        width = max([len("file"), *(len(row["file"]) for row in rows)])
        print(f"{'file':<{width}}  {'face':>4}  {'verdict':<7}  {'P(fake)':>7}  confidence")
        for row in rows:
            face = "" if row.get("face") is None else str(row["face"])
            if row.get("error"):
                print(f"{row['file']:<{width}}  {face:>4}  {'-':<7}  {row['error']}")
            else:
                note = f"  {UNFAMILIAR_NOTE}" if row.get("unfamiliar") else ""
                print(
                    f"{row['file']:<{width}}  {face:>4}  {row['label']:<7}  {row['p_fake']:>7.3f}  "
                    f"{row['confidence']:.3f}{note}"
                )


def _legacy_opt_in(args: argparse.Namespace) -> bool:
    from deepfake_core.loading import legacy_allowed_by_env

    return args.allow_legacy or legacy_allowed_by_env()


def _load_cli_detector(args: argparse.Namespace):
    from deepfake_core.loading import load_detector

    return load_detector(args.model, allow_legacy=_legacy_opt_in(args))


def _cmd_predict(args: argparse.Namespace) -> int:
    from deepfake_core.inputs import expand_inputs

    paths = expand_inputs([*args.paths, *_manifest_lines(args.manifest)])
    if not paths:
        print("error: no input files.", file=sys.stderr)
        return 2
    usage = _engine_usage_error(args)
    if usage:
        print(f"error: {usage}", file=sys.stderr)
        return 2
    detector = _load_cli_detector(args)  # also checks the model before any Ray worker tries to load it
    if detector.card.face_crop is None and args.faces != "none":
        print(f"note: model {detector.model_id} has no face step; each whole image is judged.", file=sys.stderr)
    if args.engine == "ray":
        return _predict_with_ray(args, paths)
    results = list(
        _scored_files(detector, paths, threshold=args.threshold, batch_size=args.batch_size, faces=args.faces)
    )
    _write_rows([row for result in results for row in result.rows()], args.format)
    return _report_failures(sum(not result.judged for result in results), len(paths))


def _engine_usage_error(args: argparse.Namespace) -> str | None:
    """Why ``--engine``, ``--out`` and the output format do not go together, or ``None``."""
    if args.engine == "local" and args.out is not None:
        return "--out is for --engine ray; the local engine writes to stdout (redirect it to a file)."
    if args.engine == "ray" and (args.out is None or args.format == "json"):
        return "--engine ray writes Parquet (default) or CSV (--csv) part files into --out DIR."
    return None


def _manifest_lines(manifest: Path | None) -> list[str]:
    """The image paths a ``--manifest`` file lists, one per line (blank lines skipped)."""
    if manifest is None:
        return []
    try:
        return [line.strip() for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DeepfakeLensError(
            f"Could not read the manifest {manifest}: {exc}. It must list one path per line."
        ) from exc


def _report_failures(failed: int, total: int) -> int:
    """predict's exit status: 1 when any file got no verdict (said on stderr), else 0."""
    if failed:
        print(f"{failed} of {total} files got no verdict (see the error column).", file=sys.stderr)
    return 1 if failed else 0


def _predict_with_ray(args: argparse.Namespace, paths: list[Path]) -> int:
    """``predict --engine ray``: score on a Ray cluster (or a local Ray) into part files under ``--out``."""
    from deepfake_core.batch_ray import RayJob, run_ray_job

    job = RayJob(
        model=args.model,
        allow_legacy=_legacy_opt_in(args),
        out=args.out,
        output_format="csv" if args.format == "csv" else "parquet",
        faces=args.faces,
        threshold=args.threshold,
        batch_size=args.batch_size,
        workers=args.workers,
        address=args.ray_address,
    )
    summary = run_ray_job(job, paths)
    print(
        f"{summary.skipped} files already in {args.out} (skipped); scored {summary.scored} with {args.workers} "
        f"Ray worker(s) into {summary.rows} rows in {summary.seconds:.1f} s.",
        file=sys.stderr,
    )
    return _report_failures(summary.failed, summary.scored)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from deepfake_core.data import load_manifest
    from deepfake_core.evaluation.pipeline import evaluate_detector, load_history
    from deepfake_core.evaluation.results import save_results
    from deepfake_core.loading import load_detector

    if args.update_card and args.split != "test":
        # the card's metrics are the test split's; another split's figures must not stand in for them
        print(f"error: --update-card stores test-split metrics; drop it to evaluate on {args.split}.", file=sys.stderr)
        return 2
    detector = load_detector(args.model)
    results = evaluate_detector(
        detector,
        load_manifest(args.manifest),
        args.data,
        split=args.split,
        robustness=not args.no_robustness,
        false_alarm_root=args.false_alarm_data,
        training_history=load_history(args.model),
        seed=args.seed,
        cache_dir=args.cache_dir,
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_results(results, args.out)
    _print_summary(results)
    print(f"wrote {args.out}")
    if args.update_card:
        from dataclasses import replace

        from deepfake_core.card import card_path_for, save_card
        from deepfake_core.evaluation.results import comparison_table

        headline = comparison_table([results])[0]
        card = replace(detector.card, metrics={**headline, "results_file": Path(args.out).name})
        save_card(card, card_path_for(args.model))
        print(f"updated the metrics in {card_path_for(args.model)}")
    return 0


def _cmd_reported(args: argparse.Namespace) -> int:
    from deepfake_core.evaluation.results import save_results, thesis_reported_results

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_results(thesis_reported_results(), args.out)
    print(f"wrote {args.out} (the thesis' reported figures, not reproduced)")
    return 0


def _print_summary(results: EvaluationResults) -> None:
    """The headline figures, per kind and for the hard pair, as the closing notes quote them."""
    metrics = results.metrics
    ece = results.calibration.ece
    if results.faces:
        for kind, entry in results.faces.coverage.items():
            print(f"  face found  {kind:<20} {entry.with_face}/{entry.n} ({entry.share:.1%})")
    print(f"{results.model_name} on {results.data.n_images} {results.data.split} images:")
    print(
        f"  accuracy {metrics.accuracy:.4f}  balanced {metrics.balanced_accuracy:.4f}  "
        f"ROC AUC {results.roc.auc:.4f}  ECE {ece:.4f}"
    )
    for kind, entry in results.per_kind.items():
        print(f"  {kind:<16} n={entry.n:<4} accuracy {entry.accuracy:.4f}")
    for name, pair in results.pairs.items():
        print(f"  pair {name}: balanced accuracy {pair.balanced_accuracy}  AUC {pair.auc}")
    for entry in results.robustness:
        accuracy = "-" if entry.accuracy is None else f"{entry.accuracy:.4f}"  # None: every face was lost
        print(f"  robustness {entry.name:<16} accuracy {accuracy}  AUC {entry.auc}  no face {entry.n_no_face}")
    if results.false_alarm:
        alarm = results.false_alarm
        print(f"  Fake verdicts on {alarm.n} real photos ({alarm.data}): {alarm.fake_rate:.4f}")


def _cmd_split(args: argparse.Namespace) -> int:
    from deepfake_core.data import add_real_source, make_split, read_groups, scan_dataset, write_manifest

    records = scan_dataset(args.data)
    fractions = tuple(args.fractions)
    splits = make_split(records, fractions=fractions, seed=args.seed, groups=read_groups(args.data))
    if args.add_real:
        splits = add_real_source(
            splits,
            args.data,
            args.add_real,
            share=args.add_real_share,
            seed=args.seed,
            complement=args.add_real_complement,
        )
    manifest = write_manifest(
        splits, args.out, root_name=args.data.rstrip("/").split("/")[-1], seed=args.seed, fractions=fractions
    )
    print(f"wrote {args.out} (sha256 {manifest.sha256[:16]}...)")
    for name, counts in manifest.counts().items():
        print(f"  {name:<10} {sum(counts.values()):>5}  " + "  ".join(f"{kind}={n}" for kind, n in counts.items()))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from deepfake_core.data import load_manifest
    from deepfake_core.perturb import AUGMENT_PRESETS
    from deepfake_core.training import TrainConfig, train

    config = TrainConfig(
        backbone=args.backbone,
        attention=not args.no_attention,
        head=args.head,
        input_size=args.input_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        lr_schedule=args.lr_schedule,
        patience=args.patience,
        augment=args.augment is not None,
        augment_config=AUGMENT_PRESETS[args.augment or "standard"],
        kind_balance=args.kind_balance,
        seed=args.seed,
        backbone_weights=args.backbone_weights,
        face_crop=args.face_crop,
        exclude_kinds=tuple(args.exclude_kinds),
        init_from=args.init_from,
        max_per_kind=args.max_per_kind,
        self_blend=args.self_blend,
        mirror_average=args.mirror_average,
        average_from=args.average_from,
        jpeg_quality=args.jpeg_quality,
        probe_epochs=args.probe_epochs,
        mixup=args.mixup,
        freeze_norms=args.freeze_norms,
        single_center=args.single_center,
        kind_head=args.kind_head,
        anchor_decay=args.anchor_decay,
        keep_epochs=str(args.keep_epochs) if args.keep_epochs else None,
    )
    result = train(config, load_manifest(args.manifest), args.data, args.out, name=args.name, cache_dir=args.cache_dir)
    print(f"wrote {result.model_path} and its card (model id {result.card.model_id})")
    return 0


def _cmd_familiarity(args: argparse.Namespace) -> int:
    from deepfake_core.data import load_manifest
    from deepfake_core.training import fit_familiarity_from_manifest

    card = fit_familiarity_from_manifest(args.model, load_manifest(args.manifest), args.data, cache_dir=args.cache_dir)
    spec = card.familiarity
    print(
        f"wrote {spec.file} and updated the card of {card.model_id}: threshold {spec.threshold:.3f}, "
        f"{spec.validation_flagged:.1%} of {spec.n_validation} validation faces flagged"
    )
    return 0


def _report_written(out: str, card: ModelCard) -> None:
    """What a command that makes a model from a trained one prints: the file and its new id, and a caution."""
    print(f"wrote {out} and its card (model id {card.model_id}); evaluate it before trusting its figures")


def _cmd_add_probe(args: argparse.Namespace) -> int:
    from deepfake_core.data import load_manifest
    from deepfake_core.texture_probe import add_texture_probe

    card = add_texture_probe(
        args.model,
        load_manifest(args.manifest),
        args.data,
        args.out,
        weight=args.weight,
        c=args.c,
        name=args.name,
        cache_dir=args.cache_dir,
    )
    _report_written(args.out, card)
    return 0


def _cmd_mirror(args: argparse.Namespace) -> int:
    from deepfake_core.data import load_manifest
    from deepfake_core.mirroring import mirror_averaged

    card = mirror_averaged(
        args.model, load_manifest(args.manifest), args.data, args.out, name=args.name, cache_dir=args.cache_dir
    )
    _report_written(args.out, card)
    return 0


def _cmd_soup(args: argparse.Namespace) -> int:
    from deepfake_core.data import load_manifest
    from deepfake_core.model_soup import model_soup

    card = model_soup(
        args.models, load_manifest(args.manifest), args.data, args.out, name=args.name, cache_dir=args.cache_dir
    )
    _report_written(args.out, card)
    return 0


def _cmd_wise(args: argparse.Namespace) -> int:
    from deepfake_core.data import load_manifest
    from deepfake_core.wise_ft import toward_start

    if args.alpha == 1.0 and not args.refresh_norms:
        print("error: --alpha 1 keeps the model as it is; add --refresh-norms or a smaller alpha.", file=sys.stderr)
        return 2
    card = toward_start(
        args.model,
        load_manifest(args.manifest),
        args.data,
        args.out,
        alpha=args.alpha,
        refresh_norms=args.refresh_norms,
        norm_augment=_norm_augment(args.norm_augment, args.model),
        norm_draw=args.norm_draw,
        name=args.name,
        cache_dir=args.cache_dir,
    )
    _report_written(args.out, card)
    return 0


def _norm_augment(spec: str | None, model: str) -> AugmentConfig | None:
    """``--norm-augment``: ``training`` (the augmentation in the model's card) or ``grey=0.2,tone=0.3`` (only those)."""
    from deepfake_core.card import card_path_for, load_card
    from deepfake_core.perturb import AugmentConfig

    if spec is None:
        return None
    if spec == "training":
        trained_with = load_card(card_path_for(model)).training.get("config", {}).get("augment_config")
        if trained_with is None:
            raise DataSetError(f"{model} records no training augmentation; name the transforms instead")
        return AugmentConfig.from_dict(trained_with)
    try:
        shares = {name.strip(): float(share) for name, share in (part.split("=") for part in spec.split(","))}
        return AugmentConfig.only(shares)
    except ValueError as error:
        raise DataSetError(f"--norm-augment {spec!r}: {error} (write it as training or as grey=0.2,tone=0.3)") from None


def _cmd_copy(args: argparse.Namespace) -> int:
    from deepfake_core.model_copy import copy_model

    card = copy_model(args.model, args.out, name=args.name)
    print(f"wrote {args.out} and its card (model id {card.model_id}); evaluate it with --update-card for its metrics")
    return 0


def _unit_interval(text: str) -> float:
    """argparse type for a share strictly between 0 and 1."""
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, got {value}")
    return value


def _share_up_to_one(text: str) -> float:
    """argparse type for a share in (0, 1]: WiSE's alpha 1 keeps the weights, for re-measuring the norms alone."""
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1], got {value}")
    return value


def _add_training_faces_arguments(parser: argparse.ArgumentParser, *, several: bool = False) -> None:
    """The arguments of a step fitted after training on the model's own training faces (``several``: --models)."""
    if several:
        parser.add_argument("--models", required=True, nargs="+", help="trained model files (.keras with cards)")
    else:
        parser.add_argument("--model", required=True, help="trained model file (.keras with its card)")
    parser.add_argument("--data", required=True, help="data root the manifest's ids are relative to")
    parser.add_argument("--manifest", required=True, help="the split manifest the model was trained on")
    parser.add_argument("--cache-dir", default=None, help="cached face crops (default ~/.cache/deepfake-lens)")


def _positive_float(text: str) -> float:
    """argparse type for a rate or concentration that must be above 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return value


def _positive_int(text: str) -> int:
    """argparse type for counts: a clear usage error instead of a traceback for 0 or less."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepfake-core", description="Real-or-fake face detection from the command line."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    split = commands.add_parser("split", help="write a seeded split manifest stratified by label and kind")
    split.add_argument("--data", required=True, help="data root with Real/ and Fake/ (or Train/Validation/Test)")
    split.add_argument("--out", required=True, help="manifest JSON to write")
    split.add_argument("--seed", type=int, default=0)
    split.add_argument("--fractions", type=float, nargs=3, default=(0.8, 0.1, 0.1), metavar=("TRAIN", "VAL", "TEST"))
    split.add_argument(
        "--add-real",
        default=None,
        metavar="DIR",
        help="also train on a seeded share of this folder's real photos (Real/); evaluation's false-alarm "
        "set then skips them",
    )
    split.add_argument("--add-real-share", type=float, default=0.5, metavar="SHARE", help="share to train on")
    split.add_argument(
        "--add-real-complement", action="store_true", help="train on the photos that share leaves out instead"
    )
    split.set_defaults(run=_cmd_split)

    train = commands.add_parser("train", help="train a model on a split manifest's train part")
    train.add_argument("--data", required=True, help="data root the manifest's ids are relative to")
    train.add_argument("--manifest", required=True, help="split manifest written by `deepfake-core split`")
    train.add_argument("--out", required=True, help="model file to write (NAME.keras; card and history go beside it)")
    train.add_argument("--name", default=None, help="model name (default: the file name)")
    train.add_argument(
        "--backbone",
        default="small_cnn",
        help="small_cnn, local_cnn (41 px receptive field), efficientnet_lite0 or efficientnet_lite1 "
        "(start from ImageNet weights), mobilenetv2, efficientnetb0, efficientnetb7",
    )
    train.add_argument("--no-attention", action="store_true", help="plain GAP head instead of the attention branch")
    train.add_argument("--head", default="thesis", choices=("thesis", "flask"))
    train.add_argument("--input-size", type=int, default=128)
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument(
        "--lr-schedule",
        default="plateau",
        choices=("plateau", "cosine"),
        help="plateau: halve the rate when validation loss stalls (thesis); cosine: decay it to 0 by the last epoch",
    )
    train.add_argument("--patience", type=int, default=5, help="EarlyStopping patience on validation loss")
    train.add_argument(
        "--augment",
        nargs="?",
        const="standard",
        default=None,
        choices=("standard", "strong", "past", "cutout", "grey", "no_grey"),
        help="flips, crops, JPEG re-compression, blur, noise, greyscale, colour grading, skin retouching, "
        "sharpening; 'strong' (Wang et al. 2020) adds more blur, JPEG and resampling; 'past' gives 30 %% of "
        "the faces a compressed past (shrunk, saved as a JPEG, enlarged again); 'cutout' hides the eyes, "
        "nose, mouth or one side of 30 %% of the aligned faces (needs --face-crop); 'grey' is the standard "
        "preset without grading, retouching and sharpening, 'no_grey' without greyscale too (earlier recipes)",
    )
    train.add_argument(
        "--kind-balance", type=float, default=0.0, help="per-kind sample weight power (0 = off, 1 = equal kinds)"
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--backbone-weights", default=None, help="local weights file for the backbone (nothing is downloaded)"
    )
    train.add_argument(
        "--face-crop", action="store_true", help="judge aligned face crops (the face step), not whole images"
    )
    train.add_argument("--cache-dir", default=None, help="cached face crops (default ~/.cache/deepfake-lens)")
    train.add_argument(
        "--exclude-kinds",
        nargs="+",
        default=[],
        metavar="KIND",
        help="leave these kinds out of training and validation (a leave-one-generator-out run)",
    )
    train.add_argument("--init-from", default=None, help="start from this model file's weights (train it further)")
    train.add_argument(
        "--max-per-kind",
        type=_positive_int,
        default=None,
        help="train on at most this many images per kind (seeded draw): cheaper leave-one-out runs",
    )
    train.add_argument(
        "--self-blend",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="add SHARE x (real faces) self-blended pseudo-fakes, redrawn every epoch (needs --face-crop)",
    )
    train.add_argument(
        "--mirror-average",
        action="store_true",
        help="judge each face and its mirror image and average the two (the card's mirror_average)",
    )
    train.add_argument(
        "--average-from",
        type=_positive_int,
        default=None,
        metavar="EPOCH",
        help="write the mean of the weights over every training step from this epoch (1-based) on (SWA); "
        "the best epoch's weights go beside it as NAME_best_epoch.keras",
    )
    train.add_argument(
        "--jpeg-quality",
        type=int,
        default=None,
        metavar="Q",
        help="re-encode every input as a JPEG of quality Q before the model sees it, in training and at "
        "prediction (the card's jpeg_quality), so a file's earlier compression says little",
    )
    train.add_argument(
        "--probe-epochs",
        type=_positive_int,
        default=0,
        metavar="N",
        help="first train the new head alone for N epochs on the frozen backbone, then fine-tune everything "
        "for --epochs (LP-FT)",
    )
    train.add_argument(
        "--mixup",
        type=_positive_float,
        default=0.0,
        metavar="ALPHA",
        help="train on blends of two faces with the same blend of their labels, the share drawn from "
        "Beta(ALPHA, ALPHA) (mixup; 0.2 is the paper's ImageNet value)",
    )
    train.add_argument(
        "--freeze-norms",
        action="store_true",
        help="keep the pretrained backbone's BatchNorm statistics and scales fixed while fine-tuning",
    )
    train.add_argument(
        "--single-center",
        type=_positive_float,
        default=0.0,
        metavar="WEIGHT",
        help="add the single-center loss with this weight (0.5 in the paper): real faces' pooled features "
        "gather around a learnt centre, fakes are pushed a margin farther out",
    )
    train.add_argument(
        "--kind-head",
        type=_positive_float,
        default=0.0,
        metavar="WEIGHT",
        help="add a training-only head that names each face's kind (celeba, gan256, ...) from the pooled "
        "features, its cross-entropy weighted WEIGHT beside the verdict's; the saved model is the plain one",
    )
    train.add_argument(
        "--anchor-decay",
        type=_positive_float,
        default=0.0,
        metavar="RATE",
        help="after every step, move each pretrained backbone weight RATE of the way back to its starting "
        "value (weight decay toward the start instead of toward zero; 1e-3 halves an unreinforced change "
        "in ~700 steps)",
    )
    train.add_argument(
        "--keep-epochs",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write every epoch's weights to DIR/epoch_NN.npz (benchmarks/epochs_unseen.py scores them)",
    )
    train.set_defaults(run=_cmd_train)
    predict = commands.add_parser("predict", help="classify image files, folders or globs")
    predict.add_argument("paths", nargs="*", help="image files, folders (searched recursively) or glob patterns")
    predict.add_argument(
        "--manifest", type=Path, default=None, metavar="FILE", help="a text file listing more inputs, one per line"
    )
    predict.add_argument("--model", default=None, help="model file (default: model/default.keras)")
    predict.add_argument("--allow-legacy", action="store_true", help="allow the thesis' H5 + pickle from model/")
    predict.add_argument("--threshold", type=float, default=None, help="P(fake) threshold (default: the card's)")
    predict.add_argument("--batch-size", type=_positive_int, default=32, help="images per model call (default 32)")
    predict.add_argument(
        "--faces",
        choices=("all", "largest", "none"),
        default="all",
        help="judge every face (default), the largest face, or the whole image without the face step",
    )
    output = predict.add_mutually_exclusive_group()
    output.add_argument("--json", dest="format", action="store_const", const="json", help="JSON list on stdout")
    output.add_argument("--csv", dest="format", action="store_const", const="csv", help="CSV on stdout")
    scale = predict.add_argument_group(
        "scale-out", "score on Ray (pip install -e .[scale]); results go to part files, and a rerun skips done files"
    )
    scale.add_argument(
        "--engine", choices=("local", "ray"), default="local", help="local: this process (default); ray: Ray Data"
    )
    scale.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="--engine ray: folder of Parquet (or --csv) part files"
    )
    scale.add_argument("--workers", type=_positive_int, default=1, help="--engine ray: model replicas (actors)")
    scale.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="--engine ray: cluster to join (e.g. auto, ray://head:10001; default $RAY_ADDRESS, else a local Ray)",
    )
    predict.set_defaults(run=_cmd_predict, format="table")

    evaluate = commands.add_parser("evaluate", help="evaluate a model on a split and write the results JSON")
    evaluate.add_argument("--model", required=True, help="model file (.keras with its card)")
    evaluate.add_argument("--data", required=True, help="data root the manifest's ids are relative to")
    evaluate.add_argument("--manifest", required=True, help="split manifest")
    evaluate.add_argument("--out", required=True, help="results JSON to write (e.g. model/evaluation/default.json)")
    evaluate.add_argument(
        "--split",
        default="test",
        choices=("train", "validation", "test", "test+unseen"),
        help="test+unseen: a leave-one-out run's test split plus every other image of the kinds it left out",
    )
    evaluate.add_argument("--false-alarm-data", default=None, help="folder of real full-frame photos (Real/)")
    evaluate.add_argument("--no-robustness", action="store_true", help="skip the perturbation suite")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--update-card", action="store_true", help="store the headline test metrics in the card")
    evaluate.add_argument("--cache-dir", default=None, help="cached face crops (default ~/.cache/deepfake-lens)")
    evaluate.set_defaults(run=_cmd_evaluate)

    familiarity = commands.add_parser(
        "familiarity", help="fit a trained model's 'unlike the training faces' statistics (training does it too)"
    )
    _add_training_faces_arguments(familiarity)
    familiarity.set_defaults(run=_cmd_familiarity)

    probe = commands.add_parser(
        "add-probe", help="blend a frozen ImageNet texture probe into a trained model (writes a new model)"
    )
    _add_training_faces_arguments(probe)
    probe.add_argument("--out", required=True, help="blended model file to write (.keras)")
    probe.add_argument("--name", default=None, help="model name (default: the output file's stem)")
    probe.add_argument("--weight", type=_unit_interval, default=0.5, help="the probe's share of the verdict")
    probe.add_argument("--c", type=float, default=0.01, help="inverse L2 strength of the probe's regression")
    probe.set_defaults(run=_cmd_add_probe)

    mirror = commands.add_parser(
        "mirror", help="average a trained model's verdicts over each face and its mirror image (refits its card)"
    )
    _add_training_faces_arguments(mirror)
    mirror.add_argument("--out", required=True, help="model file to write (.keras; may be --model itself)")
    mirror.add_argument("--name", default=None, help="model name (default: the output file's stem)")
    mirror.set_defaults(run=_cmd_mirror)

    soup = commands.add_parser(
        "soup", help="average the weights of several runs of one network into one model (refits its card)"
    )
    _add_training_faces_arguments(soup, several=True)
    soup.add_argument("--out", required=True, help="model file to write (.keras)")
    soup.add_argument("--name", default=None, help="model name (default: the output file's stem)")
    soup.set_defaults(run=_cmd_soup)

    wise = commands.add_parser(
        "wise", help="move a fine-tuned model's backbone part of the way back to its ImageNet start (WiSE-FT; refits)"
    )
    _add_training_faces_arguments(wise)
    wise.add_argument("--out", required=True, help="model file to write (.keras)")
    wise.add_argument("--name", default=None, help="model name (default: the output file's stem)")
    wise.add_argument(
        "--alpha",
        type=_share_up_to_one,
        required=True,
        help="the fine-tuned weights' share (the start's is 1 - alpha); 1 with --refresh-norms only re-measures norms",
    )
    wise.add_argument(
        "--refresh-norms", action="store_true", help="measure every BatchNorm's statistics again on training faces"
    )
    wise.add_argument(
        "--norm-augment",
        default=None,
        metavar="SPEC",
        help="augment the faces the norms are measured on: 'training' (the card's augmentation) or only the named "
        "transforms, e.g. 'grey=0.2,tone=0.3' (default: un-augmented)",
    )
    wise.add_argument(
        "--norm-draw",
        choices=("uniform", "per-kind", "real"),
        default="uniform",
        help="draw the faces the norms are measured on uniformly, the same number from each kind, or the same number "
        "from each real kind and no fakes (default: uniform)",
    )
    wise.set_defaults(run=_cmd_wise)

    copy = commands.add_parser(
        "copy", help="copy a trained model with its card, history and familiarity statistics (promote a candidate)"
    )
    copy.add_argument("--model", required=True, help="trained model file (.keras with its card)")
    copy.add_argument("--out", required=True, help="model file to write (.keras)")
    copy.add_argument("--name", default=None, help="model name (default: the output file's stem)")
    copy.set_defaults(run=_cmd_copy)

    reported = commands.add_parser("reported", help="write the thesis' reported figures as a results entry")
    reported.add_argument("--out", required=True, help="e.g. model/evaluation/thesis_reported.json")
    reported.set_defaults(run=_cmd_reported)

    add_explain_parser(commands)
    add_serve_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except DeepfakeLensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
