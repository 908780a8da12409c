"""``deepfake-core predict --engine ray``: score an archive on Ray Data, resumably, one row per face.

Why Ray (rather than Dask or Apache Beam): the work is "load a TensorFlow model once per
worker, then stream millions of files through it", which is exactly Ray Data's
``map_batches`` with an actor pool (each actor holds a model; batches stream through
them with back-pressure), and the same code runs on a laptop's local Ray and on a
cluster (``ray.init(address=...)`` or ``$RAY_ADDRESS``). Dask has no actor pool in its
DataFrame API (the model would be reloaded per task or held in a global), and Beam needs
a runner (Flink, Spark, Dataflow) to leave the laptop.

The path list is built on the driver (the same ``expand_inputs`` as the local engine),
minus the files already present in the output folder, and cut into the local engine's
batches of ``batch_size`` files; each actor loads the model, reads a batch's files with
the same hardened reader as the local engine and judges them together with
:func:`deepfake_core.scoring.score_inputs`, so the rows are the local engine's rows. (The
face step finds each photo's faces on its own, so neither the batches nor a resumed run's
smaller batches change a row.)
Every run appends new part files to the output folder (Ray writes uniquely named
files), which is what makes a run resumable: an interrupted or extended run scores
only the files without a row yet. Paths are read by the workers, so on a cluster they
must be absolute paths on storage every node mounts at the same place, and so must
the model file.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

from deepfake_core.errors import DeepfakeLensError
from deepfake_core.export import spreadsheet_safe
from deepfake_core.scoring import COLUMNS

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = ["OUTPUT_FORMATS", "ROWS_PER_PART", "RayJob", "RaySummary", "output_schema", "read_output", "run_ray_job"]

OUTPUT_FORMATS: Final = ("parquet", "csv")
ROWS_PER_PART: Final = 1000
"""Rows gathered into one part file: Ray would otherwise write one small file per batch (31,000 files
for a million photos); a run stopped early loses at most the rows it had not written yet, which the
next run scores again."""


@dataclass(frozen=True)
class RayJob:
    """What to score with and where to write: the local engine's options plus the Ray ones.

    ``model`` ``None`` is each worker's default model; ``workers`` is the number of actors
    (model replicas), each reserving one CPU; ``address`` ``None`` means ``$RAY_ADDRESS``
    when set, else a Ray started here for this run.
    """

    out: Path
    model: str | Path | None = None
    allow_legacy: bool = False
    output_format: str = "parquet"
    faces: str = "all"
    threshold: float | None = None
    batch_size: int = 32
    workers: int = 1
    address: str | None = None

    def __post_init__(self) -> None:
        if self.output_format not in OUTPUT_FORMATS:
            raise ValueError(f"output_format must be one of {OUTPUT_FORMATS}, got {self.output_format!r}")


@dataclass(frozen=True)
class RaySummary:
    """One run: files scored now, files skipped (already in the output), rows written, files without a verdict."""

    scored: int
    skipped: int
    rows: int
    failed: int
    seconds: float


def output_schema(output_format: str) -> pa.Schema:
    """The part files' columns (:data:`~deepfake_core.scoring.COLUMNS`); CSV holds the box as ``"x y w h"``."""
    import pyarrow as pa

    types = {
        "file": pa.string(),
        "face": pa.int64(),
        "box": pa.string() if output_format == "csv" else pa.list_(pa.float64()),
        "face_score": pa.float64(),
        "label": pa.string(),
        "p_fake": pa.float64(),
        "confidence": pa.float64(),
        "unfamiliar": pa.bool_(),
        "feature_distance": pa.float64(),
        "threshold": pa.float64(),
        "model_id": pa.string(),
        "sha256": pa.string(),
        "error": pa.string(),
    }
    return pa.schema([(name, types[name]) for name in COLUMNS])


def read_output(out: str | Path, output_format: str, *, columns: Sequence[str] = COLUMNS) -> pa.Table:
    """``columns`` of every part file of ``output_format`` in ``out`` (an empty table when there are none).

    A part file that cannot be read (a run killed while writing it) is an error that names it.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.dataset as pa_dataset

    schema = output_schema(output_format)
    parts = sorted(str(path) for path in Path(out).glob(f"*.{output_format}")) if Path(out).is_dir() else []
    if not parts:
        return schema.empty_table().select(list(columns))
    file_format = (
        pa_dataset.CsvFileFormat(convert_options=pa_csv.ConvertOptions(column_types=schema, strings_can_be_null=True))
        if output_format == "csv"
        else "parquet"
    )
    try:
        return pa_dataset.dataset(parts, schema=schema, format=file_format).to_table(columns=list(columns))
    except (pa.ArrowInvalid, OSError) as exc:
        raise DeepfakeLensError(
            f"Could not read the earlier results in {out} ({exc}). A run stopped while writing leaves a damaged "
            f"part file: delete the .{output_format} file named above (its images are scored again) and rerun."
        ) from exc


def run_ray_job(job: RayJob, paths: Sequence[Path]) -> RaySummary:
    """Score ``paths`` that have no row in ``job.out`` yet; append their rows there as new part files."""
    started = time.perf_counter()
    done = set(read_output(job.out, job.output_format, columns=["file"]).column("file").to_pylist())
    todo = [str(path) for path in paths if _key(str(path), job.output_format) not in done]
    if todo:
        _score(job, todo)
    rows = read_output(job.out, job.output_format, columns=["file", "error"]).to_pylist()
    todo_keys = {_key(file, job.output_format) for file in todo}
    new_rows = [row for row in rows if row["file"] in todo_keys]
    judged = {row["file"] for row in new_rows if not row["error"]}
    return RaySummary(
        scored=len(todo),
        skipped=len(paths) - len(todo),
        rows=len(new_rows),
        failed=len(todo_keys - judged),
        seconds=time.perf_counter() - started,
    )


def _key(file: str, output_format: str) -> str:
    """How ``file`` appears in the output's ``file`` column (CSV cells are defused as the command line does)."""
    return spreadsheet_safe(file) if output_format == "csv" else file


def _score(job: RayJob, files: list[str]) -> None:
    """Run the Ray Data pipeline over ``files``: batches -> actor pool -> new part files in ``job.out``."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise DeepfakeLensError(
            "--engine ray needs Ray: pip install -e '.[scale]' (or pip install 'ray[data]')."
        ) from exc
    joined = ray.is_initialized()
    if not joined:
        ray.init(address=job.address, runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2"}})
    try:
        # One dataset row per model batch, cut as the local engine cuts its input list. Rows name each
        # file as given; workers read it by its absolute path (their working folder is not the driver's).
        batches = [
            {"files": chunk, "paths": [str(Path(file).absolute()) for file in chunk]}
            for chunk in (files[start : start + job.batch_size] for start in range(0, len(files), job.batch_size))
        ]
        scored = ray.data.from_items(batches, override_num_blocks=len(batches)).map_batches(
            _Scorer,
            fn_constructor_kwargs={
                "model": None if job.model is None else str(Path(job.model).absolute()),
                "allow_legacy": job.allow_legacy,
                "faces": job.faces,
                "threshold": job.threshold,
                "output_format": job.output_format,
            },
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=job.workers),
            num_cpus=1,
        )
        write = scored.write_csv if job.output_format == "csv" else scored.write_parquet
        write(str(Path(job.out).absolute()), min_rows_per_file=ROWS_PER_PART)
    finally:
        if not joined:
            ray.shutdown()


class _Scorer:
    """A Ray Data actor: loads the model once, then turns batches of paths into result rows."""

    def __init__(
        self, *, model: str | None, allow_legacy: bool, faces: str, threshold: float | None, output_format: str
    ) -> None:
        import ray
        import tensorflow as tf

        # The actor reserved this many CPUs; TensorFlow would otherwise start threads for every core
        # of the node in each actor, and the actors would fight over them.
        cpus = max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(cpus)

        from deepfake_core.loading import load_detector

        self._detector = load_detector(model, allow_legacy=allow_legacy)
        self._faces = faces
        self._threshold = threshold
        self._output_format = output_format
        self._schema = output_schema(output_format)

    def __call__(self, batch: dict[str, np.ndarray]) -> pa.Table:
        """One input batch (``files`` as named, ``paths`` to read) -> its rows, as the local engine writes them."""
        import pyarrow as pa

        from deepfake_core.inputs import read_input
        from deepfake_core.scoring import score_inputs

        rows = []
        for files, paths in zip(batch["files"], batch["paths"], strict=True):
            items = [replace(read_input(Path(path)), path=Path(file)) for file, path in zip(files, paths, strict=True)]
            results = score_inputs(self._detector, items, faces=self._faces, threshold=self._threshold)
            rows += [row for result in results for row in result.rows()]
        if self._output_format == "csv":
            rows = [{key: spreadsheet_safe(value) for key, value in row.items()} for row in rows]
        return pa.Table.from_pylist(rows, schema=self._schema)
