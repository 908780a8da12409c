"""Nothing stored, nothing executed: uploads stay in memory and no file's code runs unless the user opts in.

The public demo is open to anyone and analysts may upload sensitive images, so these tests check
what the dashboard and ``deepfake_core`` do *around* a prediction:

* **nothing stored**: the Classify and Explain pages run through ``AppTest`` with good and bad
  uploads, with the app's working folder, the temp folder (``TMPDIR``) and the model folder made
  fresh for the test. Afterwards every file in them has the same size and mtime and no file was
  added; and an audit hook (:func:`sys.addaudithook`) saw no file opened for writing and no
  folder made *anywhere*, in any thread, during the visit. The core is checked the same way for
  ``load_image(bytes)``, ``predict`` and every explanation method.
* **nothing executed**: the thesis' legacy files, booby-trapped (an H5 whose ``Lambda`` runs a
  shell command when the model is rebuilt, and a label pickle whose ``__reduce__`` does), never
  run without the opt-in, whether through any page or the CLI; the same hook sees no program
  started. Opting in is shown to be what would run the H5's code, so the trap is live.
* a weights file that does not match its card's sha256 is refused *in the app* with a message;
* uploads are capped at 10 MB and images at the intake's pixel limit.

Not repeated here: intake fuzzing (``tests/test_intake.py``), the legacy loader's own opt-in and
unpickler tests (``tests/test_legacy.py``) and the core's sha256 refusal
(``tests/test_detector_and_loading.py``).
"""

from __future__ import annotations

import os
import pickle
import shlex
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from conftest import encode, face_like_image, save_tiny_model
from PIL import Image
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest

from deepfake_core.cli import main as cli_main
from deepfake_core.detector import Detector
from deepfake_core.errors import ImageIntakeError
from deepfake_core.explain import METHOD_NAMES, explain, legend, overlay
from deepfake_core.intake import image_sha256, load_image
from deepfake_core.legacy import LABELS_FILE, LegacyLabelsWarning
from deepfake_core.loading import ALLOW_LEGACY_ENV, LEGACY_MODEL_FILE

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR_ENV = "DEEPFAKE_LENS_MODEL_DIR"
TIMEOUT = 120  # seconds per AppTest run: the first one imports TensorFlow and loads a model on a busy machine
LEGACY_ENTRY = "thesis (legacy H5)"
FAST_PARAMS: dict[str, dict[str, Any]] = {"lime": {"num_samples": 20}}
"""Per-method parameters that keep the explanations quick (LIME's default is 1000 samples)."""

# --------------------------------------------------------------------------- watching for side effects

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
PROGRAM_EVENTS = frozenset({"os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "subprocess.Popen"})
IGNORED_PARTS = frozenset({"__pycache__", ".pytest_cache"})


@dataclass
class AuditLog:
    """What the audit hook saw while recording: paths opened for writing or created, programs started."""

    writes: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)


_RECORDING: list[AuditLog] = []
"""The logs being recorded now; the hook does nothing while this is empty."""


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Audit hook: CPython raises ``open`` for every file opened from Python, in any thread, by any library.

    Patching ``builtins.open`` would miss ``os.open``, ``io.open``, ``tempfile`` and modules that keep
    their own reference to ``open``. Writes by C code that bypasses Python (TensorFlow, HDF5) are left
    to the folder snapshots.
    """
    if not _RECORDING:
        return
    if event == "os.mkdir" or (event == "open" and isinstance(args[2], int) and args[2] & WRITE_FLAGS):
        entry, kind = str(args[0]), "writes"
    elif event in PROGRAM_EVENTS:
        entry, kind = f"{event}: {args[0]!r}", "programs"
    else:
        return
    for log in _RECORDING:
        getattr(log, kind).append(entry)


sys.addaudithook(_audit)  # hooks cannot be removed; this one is idle unless a test is recording


@contextmanager
def audited() -> Iterator[AuditLog]:
    """Record file writes and program starts, from every thread, while the block runs."""
    log = AuditLog()
    _RECORDING.append(log)
    try:
        yield log
    finally:
        _RECORDING.remove(log)


Snapshot = dict[tuple[str, str], tuple[int, int] | None]


def snapshot(*folders: Path) -> Snapshot:
    """``(folder, relative path) -> (size, mtime_ns)`` of every file below ``folders`` (None for a folder)."""
    entries: Snapshot = {}
    for folder in folders:
        for path in folder.rglob("*"):
            relative = path.relative_to(folder)
            if IGNORED_PARTS.intersection(relative.parts):
                continue
            info = path.lstat()
            regular = stat.S_ISREG(info.st_mode)
            entries[str(folder), relative.as_posix()] = (info.st_size, info.st_mtime_ns) if regular else None
    return entries


@contextmanager
def nothing_stored(*folders: Path) -> Iterator[None]:
    """Fail unless the block writes no file anywhere, starts no program and leaves ``folders`` exactly as they were.

    The audit sees Python-level writes everywhere; the snapshot also catches writes from C code
    (TensorFlow, HDF5) inside ``folders``.
    """
    before = snapshot(*folders)
    with audited() as log:
        yield
    assert log.writes == [], "opened for writing or created"
    assert log.programs == [], "programs started"
    assert snapshot(*folders) == before


@dataclass(frozen=True)
class Sandbox:
    """Fresh folders the dashboard could write to: its working folder, the temp folder and its model folder."""

    cwd: Path
    tmp: Path
    model: Path

    @property
    def folders(self) -> tuple[Path, Path, Path]:
        return self.cwd, self.tmp, self.model


@pytest.fixture(scope="module")
def traced(tiny_detector: Detector) -> None:
    """Run every method once before any check.

    The first trace of each ``tf.function`` in a process makes TensorFlow's autograph write the
    converted *source code* of that function to the temp folder (``__autograph_generated_file*.py``),
    whichever model it is for. That is our code, not an image, and it happens once per server
    process, so it is done here, before the checks, instead of being allowed inside them.
    """
    image = face_like_image(seed=99)
    tiny_detector.predict(image)
    for method in METHOD_NAMES:
        explain(tiny_detector, image, method=method, **FAST_PARAMS.get(method, {}))


@pytest.fixture
def sandbox(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, traced: None) -> Sandbox:
    """The app pointed at a copy of the fixture model, run from an empty folder with an empty ``TMPDIR``."""
    box = Sandbox(cwd=tmp_path / "cwd", tmp=tmp_path / "tmp", model=tmp_path / "model")
    box.cwd.mkdir()
    box.tmp.mkdir()
    shutil.copytree(tiny_model_dir, box.model)
    # Streamlit reads .streamlit/config.toml from the working folder on first use: read it before leaving,
    # so moving to an empty folder does not change the options later tests of this process see.
    streamlit_config.get_option("server.maxUploadSize")
    monkeypatch.chdir(box.cwd)
    monkeypatch.setenv("TMPDIR", str(box.tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() caches its answer; make it read TMPDIR again
    monkeypatch.setenv(MODEL_DIR_ENV, str(box.model))
    monkeypatch.delenv(ALLOW_LEGACY_ENV, raising=False)
    assert tempfile.gettempdir() == str(box.tmp)
    return box


# --------------------------------------------------------------------------- uploads and the app


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width x height`` RGB pixels but that holds no pixel data at all.

    The intake must refuse it from the header alone, as it would a decompression bomb.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


GOOD_PNG = encode(face_like_image(seed=1))
GOOD_JPEG = encode(face_like_image(56, 48, seed=2), "JPEG")
GOOD_UPLOADS = {"face.png": GOOD_PNG, "face.jpg": GOOD_JPEG}
HOSTILE_UPLOADS: dict[str, tuple[bytes, str]] = {
    "notes.png": (b"meeting notes, not an image", "text file"),
    "cut.png": (GOOD_PNG[:60], "truncated or corrupt"),
    "huge.png": (png_header_only(8000, 6000), "above the 40 MP limit"),
    "empty.jpg": (b"", "empty"),
}
"""Upload name -> (content, what the error message must say)."""


def visit(page: str) -> AppTest:
    """Start the app at its entry point, then open ``page`` as the navigation does."""
    app = AppTest.from_file(ROOT / "streamlit_app.py", default_timeout=TIMEOUT).run()
    assert not app.exception
    return app.switch_page(page).run()


def as_uploads(files: dict[str, bytes]) -> list[tuple[str, bytes, str]]:
    return [(name, data, "image/jpeg" if name.endswith(".jpg") else "image/png") for name, data in files.items()]


def verdict_count(app: AppTest) -> int:
    return sum("Verdict: " in item.value for item in app.markdown)


def image_captions(app: AppTest) -> list[str]:
    return [caption for image in app.get("image") for caption in image.captions]


def test_the_classify_page_keeps_uploads_in_memory(sandbox: Sandbox) -> None:
    """Good and hostile uploads are classified, then one is explained from the Classify page's list."""
    uploads = GOOD_UPLOADS | {name: data for name, (data, _) in HOSTILE_UPLOADS.items()}
    with nothing_stored(*sandbox.folders):
        app = visit("pages/classify.py")
        app.file_uploader[0].set_value(as_uploads(uploads)).run()
        assert not app.exception
        assert verdict_count(app) == len(GOOD_UPLOADS)
        errors = {item.value.split("**")[1]: item.value for item in app.error}
        assert errors.keys() == HOSTILE_UPLOADS.keys()
        for name, (_, says) in HOSTILE_UPLOADS.items():
            assert says in errors[name]
        app.switch_page("pages/explain.py").run()
        assert app.radio[0].value == "An image from the Classify page"
        app.multiselect(key="explain-methods").set_value(["attention"]).run()
        app.button[0].click().run()
    assert not app.exception
    assert any(caption.startswith("Attention mask (") for caption in image_captions(app))


def test_the_explain_page_keeps_uploads_in_memory(sandbox: Sandbox) -> None:
    """An upload explained with the attention mask and LIME, then a broken upload."""
    with nothing_stored(*sandbox.folders):
        app = visit("pages/explain.py")
        app.file_uploader(key="explain-upload").set_value(("face.jpg", GOOD_JPEG, "image/jpeg")).run()
        app.multiselect(key="explain-methods").set_value(["attention", "lime"]).run()
        app.number_input(key="lime-samples").set_value(FAST_PARAMS["lime"]["num_samples"]).run()
        app.button[0].click().run()
        assert not app.exception
        captions = image_captions(app)
        assert any(caption.startswith("Attention mask (") for caption in captions)
        assert any(caption.startswith("LIME (") for caption in captions)
        app.file_uploader(key="explain-upload").set_value(("cut.png", GOOD_PNG[:60], "image/png")).run()
    assert not app.exception
    assert app.error[0].value.startswith("**cut.png**")


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_the_core_keeps_uploaded_bytes_in_memory(sandbox: Sandbox, tiny_detector: Detector, method: str) -> None:
    with nothing_stored(*sandbox.folders):
        image = load_image(GOOD_JPEG)
        prediction = tiny_detector.predict(image)
        explanation = explain(
            tiny_detector, image, method=method, image_sha256=image_sha256(GOOD_JPEG), **FAST_PARAMS.get(method, {})
        )
        drawn = overlay(image, explanation, opacity=0.5)
        legend(explanation)
        explanation.to_json_dict()
    assert explanation.verdict["p_fake"] == pytest.approx(prediction.p_fake)
    assert drawn.shape == image.shape


def test_the_core_refuses_hostile_uploads_without_writing(sandbox: Sandbox) -> None:
    with nothing_stored(*sandbox.folders):
        for name, (data, says) in HOSTILE_UPLOADS.items():
            with pytest.raises(ImageIntakeError) as refused:
                load_image(data)
            assert says in str(refused.value), name


def write_with_open(folder: Path) -> None:
    with open(folder / "open.bin", "wb") as handle:
        handle.write(b"x")


SIDE_EFFECTS: dict[str, Callable[[Path], object]] = {
    "open": write_with_open,
    "Path.write_bytes": lambda folder: (folder / "path.bin").write_bytes(b"x"),
    "os.open": lambda folder: os.close(os.open(folder / "os.bin", os.O_WRONLY | os.O_CREAT)),
    "NamedTemporaryFile": lambda folder: tempfile.NamedTemporaryFile(dir=folder).close(),
    "TemporaryFile": lambda folder: tempfile.TemporaryFile(dir=folder).close(),
    "mkstemp": lambda folder: os.close(tempfile.mkstemp(dir=folder)[0]),
    "mkdir": lambda folder: (folder / "made").mkdir(),
    "PIL save": lambda folder: Image.new("RGB", (4, 4)).save(folder / "pil.png"),
    "numpy save": lambda folder: np.save(folder / "numpy.npy", np.zeros(2)),
    "os.system": lambda folder: os.system("true"),
    "subprocess": lambda folder: subprocess.run(["true"], check=True),
}


@pytest.mark.parametrize("side_effect", SIDE_EFFECTS.values(), ids=SIDE_EFFECTS.keys())
def test_the_audit_sees_every_kind_of_write_and_program(tmp_path: Path, side_effect: Callable[[Path], object]) -> None:
    """Guards the checks above: each way of storing data or running a program is recorded (reading is not)."""
    (tmp_path / "read.bin").write_bytes(b"x")
    with audited() as reading:
        (tmp_path / "read.bin").read_bytes()
    with audited() as log:
        side_effect(tmp_path)
    assert reading.writes == reading.programs == []
    assert log.writes or log.programs


def test_the_snapshot_sees_changed_and_new_files_but_not_caches(tmp_path: Path) -> None:
    (tmp_path / "kept.bin").write_bytes(b"x")
    before = snapshot(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "module.pyc").write_bytes(b"x")
    assert snapshot(tmp_path) == before
    os.utime(tmp_path / "kept.bin", ns=(0, 0))
    assert snapshot(tmp_path) != before
    (tmp_path / "kept.bin").unlink()
    assert snapshot(tmp_path) != before


# --------------------------------------------------------------------------- legacy files without the opt-in


@dataclass(frozen=True)
class Trap:
    """A model folder with the thesis' file names, both booby-trapped to create their own marker file."""

    folder: Path
    h5_marker: Path
    pickle_marker: Path

    @property
    def h5(self) -> Path:
        return self.folder / LEGACY_MODEL_FILE

    def sprung(self) -> list[str]:
        return [marker.name for marker in (self.h5_marker, self.pickle_marker) if marker.exists()]


class ShellOnUnpickle:
    """Unpickles by running ``command`` in a shell, as a hostile ``label_transform.pkl`` would."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Callable[[str], int], tuple[str]]:
        return os.system, (self.command,)


def shell_in_lambda(command: str) -> Callable[[Any], Any]:
    """A ``Lambda`` function that runs ``command`` whenever Keras calls it, e.g. while rebuilding a loaded model.

    A lambda (not a named function) is saved in the H5 as marshalled bytecode, as the thesis' was.
    """
    return lambda tensor: tensor + 0 * __import__("os").system(command)


def touch(marker: Path) -> str:
    return f"touch {shlex.quote(str(marker))}"


@pytest.fixture(scope="module")
def trapped_h5(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An H5 image classifier (32 px in, 2 classes out) whose Lambda layer touches a marker; returns (h5, marker)."""
    folder = tmp_path_factory.mktemp("trapped_h5")
    marker = folder / "h5-code-ran"
    image = keras.Input((32, 32, 3))
    features = keras.layers.Lambda(shell_in_lambda(touch(marker)), name="RescaleGAP")(image)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    model = keras.Model(image, keras.layers.Dense(2, activation="softmax")(pooled))
    model.save(folder / LEGACY_MODEL_FILE)
    marker.unlink()  # building the model called the Lambda once
    return folder / LEGACY_MODEL_FILE, marker


@pytest.fixture
def trap(sandbox: Sandbox, trapped_h5: tuple[Path, Path], tmp_path: Path) -> Trap:
    """The sandbox's model folder (with a good default model) plus the trapped H5 and label pickle."""
    h5, h5_marker = trapped_h5
    h5_marker.unlink(missing_ok=True)
    shutil.copy(h5, sandbox.model / LEGACY_MODEL_FILE)
    pickle_marker = tmp_path / "pickle-code-ran"
    (sandbox.model / LABELS_FILE).write_bytes(pickle.dumps(ShellOnUnpickle(touch(pickle_marker))))
    return Trap(sandbox.model, h5_marker, pickle_marker)


OPT_IN_OFF = [pytest.param(None, id="env-unset"), pytest.param("0", id="env-0")]


@pytest.mark.parametrize("env", OPT_IN_OFF)
def test_legacy_files_never_load_without_opt_in_in_the_app(
    trap: Trap, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, env: str | None
) -> None:
    """The legacy entry is listed and can be chosen, but every page that needs a model only says how to opt in."""
    if env is not None:
        monkeypatch.setenv(ALLOW_LEGACY_ENV, env)
    with nothing_stored(*sandbox.folders):
        app = visit("pages/classify.py")
        assert app.sidebar.checkbox[0].value is False
        for page in ("pages/classify.py", "pages/explain.py", "pages/model.py"):
            app.switch_page(page).run()
            app.sidebar.selectbox[0].set_value(LEGACY_ENTRY).run()
            assert not app.exception, page
            assert "its card is read when it is loaded" in app.sidebar.caption[0].value, page
            assert "loads only if you tick" in app.info[0].value, page
            assert not app.file_uploader, page
    assert trap.sprung() == []


def test_opting_in_is_what_runs_the_h5_code_and_the_label_pickle_never_runs(trap: Trap) -> None:
    """Shows the trap is live: the sidebar's opt-in loads the H5 (running its Lambda), yet never the pickle."""
    app = visit("pages/classify.py")
    app.sidebar.selectbox[0].set_value(LEGACY_ENTRY).run()
    assert trap.sprung() == []
    with pytest.warns(LegacyLabelsWarning, match=r"refers to (posix|nt)\.system"):
        app.sidebar.checkbox[0].check().run()
    assert not app.exception
    assert app.file_uploader, "the legacy model should have loaded"
    assert trap.sprung() == [trap.h5_marker.name]


@pytest.mark.parametrize("env", OPT_IN_OFF)
def test_the_cli_refuses_the_legacy_model_without_opt_in(
    trap: Trap, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: str | None
) -> None:
    if env is not None:
        monkeypatch.setenv(ALLOW_LEGACY_ENV, env)
    image = sandbox.cwd / "face.png"
    image.write_bytes(GOOD_PNG)
    with audited() as log:
        status = cli_main(["predict", str(image), "--model", str(trap.h5)])
    assert status != 0
    error = capsys.readouterr().err
    assert f"Not loading the thesis' legacy model file {LEGACY_MODEL_FILE}" in error
    assert "--allow-legacy" in error
    assert log.programs == []
    assert trap.sprung() == []


# --------------------------------------------------------------------------- swapped weights, upload limits


@pytest.fixture(scope="module")
def other_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model file like the fixture's but with other weights (another seed)."""
    return save_tiny_model(tmp_path_factory.mktemp("other_weights"), seed=1)


@pytest.mark.parametrize("page", ["pages/classify.py", "pages/explain.py"])
def test_weights_that_do_not_match_the_card_are_refused_in_the_app(
    sandbox: Sandbox, other_weights: Path, page: str
) -> None:
    """The pages that load the model say so instead of predicting with weights nobody vouched for."""
    shutil.copy(other_weights, sandbox.model / "default.keras")  # the card still records the original's sha256
    app = visit(page)
    assert not app.exception
    message = app.error[0].value
    assert "does not match its model card" in message
    assert "restore it or re-create the card" in message
    assert not app.file_uploader


@pytest.fixture
def repository_config() -> Iterator[None]:
    """Streamlit's options as read from the repository's ``.streamlit/config.toml``; re-read as before afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        streamlit_config.get_config_options(force_reparse=True)
        yield
    streamlit_config.get_config_options(force_reparse=True)


def test_uploads_are_capped_at_10_mb(
    repository_config: None, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit is set in the config file, read by Streamlit and handed to the Classify page's uploader.

    Streamlit enforces ``server.maxUploadSize`` twice: the browser's uploader refuses a larger file,
    and the server's upload route answers 413 while the body streams in
    (``streamlit/web/server/starlette/starlette_routes.py``). ``AppTest`` hands files straight to the
    script, past both, so this test checks what they are given. Images within 10 MB that declare
    too many pixels are refused by the intake (``huge.png`` in the Classify test above).
    """
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert settings["server"]["maxUploadSize"] == 10
    assert streamlit_config.get_option("server.maxUploadSize") == 10
    monkeypatch.setenv(MODEL_DIR_ENV, str(tiny_model_dir))
    app = visit("pages/classify.py")
    uploader = app.file_uploader[0]
    assert uploader.proto.max_upload_size_mb == 10
    assert any("at most 10 MB per file" in caption.value for caption in app.caption)


def test_the_server_keeps_accepted_uploads_in_memory(
    repository_config: None, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Starlette spools multipart file parts over ``spool_max_size`` (1 MB by default) to a temp file.

    The app raises that threshold above the upload limit on every run, so an accepted upload never
    reaches the disk, not even in the web server's request parsing.
    """
    from starlette.formparsers import MultiPartParser

    monkeypatch.setattr(MultiPartParser, "spool_max_size", 1024 * 1024)
    monkeypatch.setenv(MODEL_DIR_ENV, str(tiny_model_dir))
    visit("pages/classify.py")
    assert MultiPartParser.spool_max_size > streamlit_config.get_option("server.maxUploadSize") * 1024 * 1024
