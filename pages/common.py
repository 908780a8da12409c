"""Streamlit-aware helpers shared by every page: the cached model, the sidebar and a few widgets.

``deepfake_core`` never imports Streamlit, so caching, session state and widgets that more
than one page needs live here. The pages are registered with ``st.navigation`` (:func:`run_app`),
so this module sits in ``pages/`` without becoming a page itself.

Everything that computes (decoding, prediction, metrics, figures) is a ``deepfake_core`` call;
this module only wires widgets to those calls and turns their errors into messages.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple, NoReturn

import numpy as np
import pandas as pd
import skimage.data
import streamlit as st
from PIL import Image

from deepfake_core.card import ModelCard, card_path_for
from deepfake_core.errors import DeepfakeLensError
from deepfake_core.evaluation.results import ResultsListing, list_results
from deepfake_core.faces.align import working_copy
from deepfake_core.faces.draw import draw_face_boxes
from deepfake_core.familiarity import UNFAMILIAR_NOTE
from deepfake_core.figures import probability_bar
from deepfake_core.intake import image_sha256, load_image
from deepfake_core.loading import (
    ALLOW_LEGACY_ENV,
    DEFAULT_MODEL_NAME,
    ModelEntry,
    default_model_dir,
    find_models,
    legacy_allowed_by_env,
    load_detector,
)

if TYPE_CHECKING:
    from streamlit.navigation.page import StreamlitPage

    from deepfake_core.detector import Detector, Prediction
    from deepfake_core.explain import Explanation, Legend
    from deepfake_core.faces.finder import Face
    from deepfake_core.judge import FaceVerdict, PhotoVerdicts

__all__ = [
    "MAX_IMAGES",
    "ROW_COLUMNS",
    "SAMPLES",
    "SAMPLES_DIR",
    "Classified",
    "ExplanationRequest",
    "ImageInput",
    "Sample",
    "boxed_photo",
    "chosen_card",
    "classify_images",
    "display_copy",
    "explanation_record",
    "format_interval",
    "format_probability",
    "format_share",
    "last_classified",
    "legend_strip",
    "model_flags",
    "page_setup",
    "photo_faces",
    "require_card",
    "require_detector",
    "results_folder_hint",
    "results_table",
    "run_app",
    "sample_inputs",
    "show_refusals",
    "show_verdict",
    "stop_with_info",
    "stored_results",
    "threshold_slider",
    "upload_inputs",
    "upload_limits_note",
]


_MULTIPART_OVERHEAD_BYTES: Final = 1024 * 1024
"""Room for the multipart headers around an upload of exactly the size limit."""

MAX_IMAGES: Final = 30
"""Images classified per run: the originals stay in session memory for the Explain page, and the
public demo has under 1 GB for every visitor together. Larger batches belong to the CLI."""

THUMBNAIL_SIDE: Final = 192
"""Longest side of the stored thumbnails (pixels), so results never hold full-size images."""

BOXED_PICTURE_SIDE: Final = 512
"""Longest side of the stored photo with numbered face boxes: large enough to tell the faces apart."""

FACE_THUMBNAIL_SIDE: Final = 160
"""Longest side of the stored face crops (the crops a model sees may be larger)."""

DISPLAY_SIDE: Final = 1024
"""Longest side of pictures drawn for display only (e.g. an overlay pasted back onto the photo)."""


class Sample(NamedTuple):
    """A built-in sample: the file to read and what it shows, so a visitor knows the right answer beforehand."""

    path: Path
    description: str


SAMPLES_DIR: Final = Path(__file__).resolve().parent.parent / "samples"
"""Generated faces shipped with the app (provenance in its ``SOURCES.tsv``), so a fresh clone has them."""

_SKIMAGE_DIR: Final = Path(skimage.data.data_dir)


def _generated(file_name: str, what: str, *, caught: bool) -> Sample:
    """A generated face from :data:`SAMPLES_DIR`, described with the shipped default model's verdict on it."""
    verdict = "calls it Fake" if caught else "misses it, calling it Real"
    return Sample(SAMPLES_DIR / file_name, f"Generated: {what}; the shipped default model {verdict}")


SAMPLES: Final[dict[str, Sample]] = {
    "astronaut": Sample(
        _SKIMAGE_DIR / "astronaut.png",
        "Real: NASA portrait of Eileen Collins; the shipped default model wrongly calls it Fake (a false alarm)",
    ),
    "stylegan2_tpdne_fake_76": _generated(
        "stylegan2_tpdne_fake_76.jpg", "StyleGAN2 face, a typical test image", caught=True
    ),
    "stylegan2_tpdne_fake_8": _generated(
        "stylegan2_tpdne_fake_8.jpg", "StyleGAN2 face, the hardest test image of this generator", caught=False
    ),
    "sd21_000260": _generated("sd21_000260.jpg", "Stable Diffusion 2.1 portrait, a typical test image", caught=True),
    "sd21_000293": _generated(
        "sd21_000293.jpg", "Stable Diffusion 2.1 portrait, the hardest test image of this generator", caught=False
    ),
    "gan256_003323": _generated("gan256_003323.jpg", "GAN face (256 px), a typical test image", caught=True),
    "gan256_003264": _generated(
        "gan256_003264.jpg", "GAN face (256 px), the hardest test image of this generator", caught=False
    ),
    "chelsea": Sample(_SKIMAGE_DIR / "chelsea.png", "Not a face: Chelsea the cat, outside what the model knows"),
    "coffee": Sample(_SKIMAGE_DIR / "coffee.png", "Not a face: a cup of coffee"),
}
"""Built-in samples, nothing downloaded: a real face and two pictures without one from ``skimage.data``, and
generated faces from the test split (never trained on) in :data:`SAMPLES_DIR`. Per generator, the test image
with the median and the one with the lowest stored P(fake) of the default model (see ``samples/README.md``),
so a visitor sees both a Fake verdict and what the model misses."""

_VIA_ENTRY_KEY: Final = "_run_via_entry_point"
_MODEL_KEY: Final = "model_name"
_LEGACY_KEY: Final = "allow_legacy"
_CLASSIFIED_KEY: Final = "classified"
_FACES_KEY: Final = "explain_faces"


# --------------------------------------------------------------------------- app shell


def _navigation() -> StreamlitPage:
    """Register the pages; the files in ``pages/`` are pages only because they are listed here."""
    st.set_page_config(page_title="deepfake-lens", page_icon=":material/center_focus_strong:", layout="wide")
    return st.navigation(
        [
            st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
            st.Page("pages/classify.py", title="Classify", icon=":material/image_search:"),
            st.Page("pages/explain.py", title="Explain", icon=":material/visibility:"),
            st.Page("pages/evaluation.py", title="Evaluation", icon=":material/query_stats:"),
            st.Page("pages/model.py", title="Model", icon=":material/description:"),
        ]
    )


def run_app() -> None:
    """The entry point's whole job: register the pages, draw the shared sidebar, run the chosen page.

    The sidebar is drawn here, outside the page, so its widgets are the same widgets on every page
    and the chosen model holds when the visitor switches pages.
    """
    keep_uploads_in_memory()
    page = _navigation()
    _render_sidebar()
    st.session_state[_VIA_ENTRY_KEY] = True
    page.run()


def keep_uploads_in_memory() -> None:
    """Stop the web server from spooling uploads to a temporary file on disk.

    Streamlit parses upload requests with Starlette, whose multipart parser keeps a file part in
    memory only up to ``MultiPartParser.spool_max_size`` (1 MB) and writes the rest to a temporary
    file. Raising that above the upload limit (``server.maxUploadSize``) keeps every accepted upload
    in memory, as promised to analysts with sensitive images. It is a class attribute, so setting it
    once per script run is enough and harmless.
    """
    from starlette.formparsers import MultiPartParser

    limit_bytes = int(st.get_option("server.maxUploadSize")) * 1024 * 1024
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, limit_bytes + _MULTIPART_OVERHEAD_BYTES)


def page_setup() -> None:
    """Every page calls this first, to make sure it runs inside the app shell of :func:`run_app`.

    Because a folder named ``pages/`` sits next to ``streamlit_app.py``, Streamlit runs a page file
    directly, without the entry point, on a server's first request when that is a deep link (and in
    ``AppTest`` after ``switch_page``); it would then list every file in ``pages/`` as a page, this
    helper module included, and show no sidebar. In that case the app shell is run from here, which
    registers the real navigation and runs the page inside it (its widgets get the same identities
    as in every later run), and the direct run ends.
    """
    if not st.session_state.pop(_VIA_ENTRY_KEY, False):
        run_app()
        st.stop()


# --------------------------------------------------------------------------- model


def stop_with_info(message: str) -> NoReturn:
    """Show what the user should do and end the page run (the app itself keeps working)."""
    st.info(message)
    st.stop()


def _stamp(path: Path) -> tuple[int, int] | None:
    """``(mtime_ns, size)`` of a file, so a replaced file gets a new cache entry."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


@st.cache_resource(max_entries=2, show_spinner="Loading the model (once for all visitors)...")
def _load_detector(
    path: str, model_stamp: tuple[int, int] | None, card_stamp: tuple[int, int] | None, allow_legacy: bool
) -> Detector:
    """One detector per (file, version, opt-in), shared by all sessions; ``Detector`` is thread-safe.

    The stamps are unused in the body: they are part of the cache key, so a retrained model or
    an edited card is picked up and tests with different model folders never share an entry.
    ``max_entries=2`` lets a visitor compare two models without piling models up in memory.
    """
    from deepfake_core.judge import warm_up_face_step

    detector = load_detector(path, allow_legacy=allow_legacy)
    warm_up_face_step(detector)
    return detector


def _display_folder(folder: Path) -> str:
    """The model folder as a user would type it: relative to the working directory when inside it."""
    try:
        return f"{folder.resolve().relative_to(Path.cwd().resolve())}/"
    except ValueError:
        return f"{folder}/"


def _no_model_message(folder: Path) -> str:
    shown = _display_folder(folder)
    return (
        f"No model found in `{shown}`. Put `{DEFAULT_MODEL_NAME}.keras` and `{DEFAULT_MODEL_NAME}.card.json` "
        f"there, or train one with `deepfake-core train --data DATA --manifest model/split_manifest.json "
        f"--out {shown}{DEFAULT_MODEL_NAME}.keras` (set `DEEPFAKE_LENS_MODEL_DIR` to use another folder)."
    )


def _selected_entry(entries: Sequence[ModelEntry]) -> ModelEntry:
    """The sidebar's choice, or the first entry (the default model) before the sidebar has run."""
    chosen = st.session_state.get(_MODEL_KEY)
    return next((entry for entry in entries if entry.name == chosen), entries[0])


def _render_sidebar() -> None:
    """Model picker, a summary of the chosen model's card, and the legacy opt-in (only if such a file exists)."""
    entries = find_models()
    with st.sidebar:
        st.subheader("Model")
        if not entries:
            st.caption(f"No model in `{_display_folder(default_model_dir())}` yet.")
            return
        st.selectbox("Model file", [entry.name for entry in entries], key=_MODEL_KEY, label_visibility="collapsed")
        if any(entry.legacy for entry in entries):
            st.checkbox(
                "Allow the thesis' legacy H5 model",
                value=legacy_allowed_by_env(),
                key=_LEGACY_KEY,
                help="The thesis' file holds pickled Python code that runs when it is loaded. Tick this only if "
                f"you trust the copy in the model folder (`{ALLOW_LEGACY_ENV}=1` ticks it for a deployment).",
            )
        entry = _selected_entry(entries)
        if entry.problem:
            st.error(entry.problem)
        elif entry.card is None:
            st.caption("Legacy H5 from the thesis: its card is read when it is loaded.")
        else:
            card = entry.card
            st.markdown(f"**{card.name}** · `{card.model_id}`  \n{card.architecture}")
            st.caption(
                f"Input {card.input_size}x{card.input_size} {card.channel_order}, float32 in {card.value_scale} · "
                f"threshold {card.threshold:.2f} · temperature {card.temperature:.2f} · "
                + ("judges each face" if card.face_crop is not None else "judges the whole image")
            )


def require_detector() -> Detector:
    """The chosen model, loaded once per server; otherwise say what to do and stop the page."""
    folder = default_model_dir()
    entries = find_models(folder)
    if not entries:
        stop_with_info(_no_model_message(folder))
    entry = _selected_entry(entries)
    if entry.problem:
        st.error(f"The model '{entry.name}' cannot be used: {entry.problem}")
        st.stop()
    allow_legacy = bool(st.session_state.get(_LEGACY_KEY, legacy_allowed_by_env()))
    if entry.legacy and not allow_legacy:
        stop_with_info(
            "The thesis' legacy model runs pickled code when it is loaded, so it loads only if you tick "
            "'Allow the thesis' legacy H5 model' in the sidebar. Or pick another model there."
        )
    try:
        return _load_detector(str(entry.path), _stamp(entry.path), _stamp(card_path_for(entry.path)), allow_legacy)
    except DeepfakeLensError as error:
        st.error(str(error))
        st.stop()


def _chosen_entry() -> ModelEntry | None:
    """The sidebar's model entry, or None when the model folder holds no model."""
    entries = find_models()
    return _selected_entry(entries) if entries else None


def chosen_card() -> ModelCard | None:
    """The sidebar's model card when it has one (no weights are loaded), else None."""
    entry = _chosen_entry()
    return entry.card if entry is not None else None


def require_card() -> ModelCard:
    """The chosen model's card, read without loading the weights when the card file exists."""
    entry = _chosen_entry()
    if entry is not None and entry.card is not None:
        return entry.card
    return require_detector().card


def model_flags() -> str:
    """The ``deepfake-core`` options that select the sidebar's model ("" for the default model)."""
    entry = _chosen_entry()
    if entry is None or entry.path == default_model_dir() / f"{DEFAULT_MODEL_NAME}.keras":
        return ""
    path = shlex.quote(f"{_display_folder(entry.path.parent)}{entry.path.name}")
    return f" --model {path}" + (" --allow-legacy" * entry.legacy)


def threshold_slider(default: float, *, scope: str) -> float:
    """The verdict threshold, starting at ``default`` and kept for the session per ``scope`` (a model id).

    Widgets on different pages are different widgets even with the same key, so the value lives in
    its own session-state entry: Classify, Explain and Evaluation share a scope, and a threshold
    chosen on one page holds on the others.
    """
    stored = f"threshold-value:{scope}"
    widget = f"threshold:{scope}"
    st.session_state.setdefault(stored, float(default))

    def remember() -> None:
        st.session_state[stored] = st.session_state[widget]

    return st.slider(
        "Decision threshold: Fake when P(fake) ≥ threshold",
        min_value=0.0,
        max_value=1.0,
        value=st.session_state[stored],
        step=0.01,
        key=widget,
        on_change=remember,
        help=f"The model's threshold is {default:.2f}. Raising it means fewer Fake verdicts: fewer false alarms, "
        "more missed fakes.",
    )


# --------------------------------------------------------------------------- images


@dataclass(frozen=True)
class ImageInput:
    """An image to classify or explain: its display name and raw bytes (kept in memory, never on disk)."""

    name: str
    data: bytes
    sha256: str

    @classmethod
    def from_bytes(cls, name: str, data: bytes) -> ImageInput:
        return cls(name=name, data=data, sha256=image_sha256(data))


@st.cache_data(show_spinner=False)
def _sample_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


def sample_inputs(names: Sequence[str]) -> list[ImageInput]:
    """The chosen built-in samples (see :data:`SAMPLES`) as inputs, each named by its file."""
    return [ImageInput.from_bytes(SAMPLES[name].path.name, _sample_bytes(str(SAMPLES[name].path))) for name in names]


def upload_inputs(files: Sequence[Any] | None) -> list[ImageInput]:
    """``st.file_uploader`` results as inputs, read with ``getvalue()`` (in memory only)."""
    return [ImageInput.from_bytes(file.name, file.getvalue()) for file in files or ()]


def upload_limits_note(max_images: int | None = MAX_IMAGES) -> str:
    """What an uploader takes, to show beside it: a file over the size limit never reaches the page.

    Streamlit's uploader refuses a file over ``server.maxUploadSize`` in the browser, marks it
    with a small icon in its list and never passes it to the script, so the page cannot report
    it afterwards; it can only say the limit up front.
    """
    limit = st.get_option("server.maxUploadSize")
    per_run = f" and {max_images} images per run" if max_images is not None else ""
    return (
        f"PNG, JPEG, WebP or BMP (the content is checked, not the name), at most {limit} MB per file{per_run}. "
        f"A file over {limit} MB is refused by the uploader itself before it reaches "
        "this page: it is marked in the list above and gets no result. Any other file that cannot be classified "
        "is named below with the reason."
    )


def show_refusals(results: Sequence[Classified]) -> None:
    """One ``st.error`` per input that could not be decoded (empty, not an image, damaged, too large in pixels).

    Shown together above the results, so a refused file is not lost among many verdicts.
    """
    for result in results:
        if result.photo is None:
            st.error(f"**{result.source.name}** was not classified: {result.error}", icon=":material/broken_image:")


ROW_COLUMNS: Final = (
    "file",
    "face",
    "box",
    "face_score",
    "verdict",
    "p_fake",
    "confidence",
    "unfamiliar",
    "feature_distance",
    "threshold",
    "sha256",
    "model_id",
    "error",
)
"""The results table's and downloads' columns: one row per face (or per whole image, or per failed file)."""


@dataclass(frozen=True)
class Classified:
    """One input's outcome: the verdicts on its faces (or whole image) and a picture, or the error to show.

    ``picture`` is a display copy: a thumbnail, with a numbered box per face when the face step
    ran. The face crops in ``photo`` are thumbnails too, so a session never keeps full-size pixels.
    """

    source: ImageInput
    model_id: str
    photo: PhotoVerdicts | None
    picture: np.ndarray | None
    error: str | None
    plain: np.ndarray | None = None
    """The display copy without boxes (face step only), to draw the boxes again at another threshold."""
    plain_scale: float = 1.0
    """``plain``'s pixels per photo pixel."""

    def at_threshold(self, detector: Detector, threshold: float) -> Classified:
        """This outcome judged at ``threshold`` from its stored probabilities: no detection, no model call."""
        if self.photo is None:
            return self
        from deepfake_core.judge import at_threshold

        photo = at_threshold(self.photo, detector, threshold)
        picture = draw_face_boxes(self.plain, photo, box_scale=self.plain_scale) if self.plain is not None else None
        return replace(self, photo=photo, picture=self.picture if picture is None else picture)

    @property
    def judged(self) -> bool:
        """True when at least one face (or the whole image) got a verdict."""
        return self.photo is not None and self.photo.failure is None

    def rows(self) -> list[dict[str, Any]]:
        """Rows of the results table and downloads (:data:`ROW_COLUMNS`): one per face, or one with the error."""
        base = {"file": self.source.name, "sha256": self.source.sha256, "model_id": self.model_id}
        if self.photo is None or self.photo.no_face:
            error = self.error if self.photo is None else self.photo.failure
            return [_row(base, error=error)]
        return [_face_row(base, verdict) for verdict in self.photo.faces]


def results_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a table: boxes as ``x y w h`` text, as the command line and the CSV write them."""
    table = pd.DataFrame(list(rows), columns=list(ROW_COLUMNS))
    table["box"] = table["box"].map(lambda box: " ".join(f"{value:g}" for value in box) if box else None)
    return table


def _row(base: dict[str, Any], **values: Any) -> dict[str, Any]:
    return {column: values.get(column, base.get(column)) for column in ROW_COLUMNS}


def _face_row(base: dict[str, Any], verdict: FaceVerdict) -> dict[str, Any]:
    """One table row: the face's fields (as the command line writes them), its label under "verdict"."""
    fields = verdict.fields()
    if "label" in fields:
        fields["verdict"] = fields.pop("label")
    return _row(base, **fields)


def _thumbnail(image: np.ndarray, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """A small display copy, so session state never keeps full-size decoded pixels."""
    picture = Image.fromarray(image)
    picture.thumbnail((side, side))
    return np.asarray(picture)


def display_copy(image: np.ndarray) -> np.ndarray:
    """``image`` shrunk to at most :data:`DISPLAY_SIDE` pixels on its long side, for showing only."""
    return _thumbnail(image, DISPLAY_SIDE)


def boxed_photo(image: np.ndarray, photo: PhotoVerdicts) -> np.ndarray:
    """A display copy of ``image`` with a numbered box per face of ``photo`` (see :func:`draw_face_boxes`)."""
    return draw_face_boxes(image, photo, max_side=BOXED_PICTURE_SIDE)


def _slim(photo: PhotoVerdicts) -> PhotoVerdicts:
    """``photo`` with every face crop replaced by a thumbnail, for keeping in session state."""
    faces = [
        replace(verdict, face=replace(verdict.face, crop=_thumbnail(verdict.face.crop, FACE_THUMBNAIL_SIDE)))
        if verdict.face is not None and verdict.face.crop is not None
        else verdict
        for verdict in photo.faces
    ]
    return replace(photo, faces=faces)


def _outcome(item: ImageInput, detector: Detector, *, faces: str) -> Classified:
    """Decode, judge (at the card's threshold) and shrink one input; an unusable file becomes an error entry."""
    from deepfake_core.judge import judge_photos  # imports TensorFlow: only pages that classify pay for it

    try:
        image = load_image(item.data)
        [photo] = judge_photos(detector, [image], faces=faces)
    except DeepfakeLensError as error:
        return Classified(item, detector.model_id, None, None, str(error))
    if not photo.face_step:
        return Classified(item, detector.model_id, _slim(photo), _thumbnail(image), None)
    plain, scale = working_copy(image, BOXED_PICTURE_SIDE)
    picture = draw_face_boxes(plain, photo, box_scale=scale)
    return Classified(item, detector.model_id, _slim(photo), picture, None, plain=plain, plain_scale=scale)


def classify_images(
    inputs: Sequence[ImageInput], detector: Detector, *, threshold: float, faces: str = "all"
) -> list[Classified]:
    """Classify ``inputs`` with a progress bar; a file that is not a usable image becomes an error entry.

    ``faces`` is ``"all"``, ``"largest"`` or ``"none"`` (the whole image; always so for a model
    without a face step). Images are decoded, judged and dropped one at a time, so memory holds
    one full-size image however many are uploaded. Outcomes are kept in session state by (model,
    faces, file) at the card's threshold: adding a file classifies only that file, a threshold step
    re-judges the stored probabilities without any model call, and the Explain page can offer
    these images.
    """
    faces = faces if detector.card.face_crop is not None else "none"  # one cache entry, whatever was asked
    previous = st.session_state.get(_CLASSIFIED_KEY, {})
    keys = [(detector.model_id, faces, item.sha256, item.name) for item in inputs]
    missing = [(key, item) for key, item in zip(keys, inputs, strict=True) if key not in previous]
    bar = st.progress(0.0, text="Classifying...") if len(missing) > 1 else None
    fresh = {}
    for done, (key, item) in enumerate(missing, start=1):
        fresh[key] = _outcome(item, detector, faces=faces)
        if bar is not None:
            bar.progress(done / len(missing), text=f"Classified {done} of {len(missing)}")
    if bar is not None:
        bar.empty()
    current = {key: previous.get(key) or fresh[key] for key in keys}
    st.session_state[_CLASSIFIED_KEY] = current
    return [outcome.at_threshold(detector, threshold) for outcome in current.values()]


def last_classified() -> list[ImageInput]:
    """Images the Classify page judged in this session (at least one verdict), for the Explain page."""
    outcomes = st.session_state.get(_CLASSIFIED_KEY, {})
    return [outcome.source for outcome in outcomes.values() if outcome.judged]


def format_probability(value: float) -> str:
    """A probability as a percentage that never claims certainty: ``>99.9%`` instead of ``100.0%``."""
    if value > 0.999:
        return ">99.9%"
    if value < 0.001:
        return "<0.1%"
    return f"{value:.1%}"


def show_verdict(prediction: Prediction, source: ImageInput, *, key: str, face: int | None = None) -> None:
    """One verdict, the same on Classify and Explain: badge, P(fake) bar, confidence, threshold.

    The caption names the image's sha256, the face (when a face was judged) and the model id, so a
    shown result can be traced and reproduced. ``key`` names the bar chart and must be unique on the page.
    """
    if prediction.unfamiliar:
        st.badge(f"Verdict: {prediction.label}, {UNFAMILIAR_NOTE}", icon=":material/help:", color="orange")
        st.warning(
            "This face is unlike the faces the model was trained on (feature distance "
            f"{prediction.feature_distance:.1f}, above the flag threshold the model card sets). Verdicts on such "
            "faces are often wrong whatever their confidence, for example on a generator the model never saw: "
            "treat this one as unknown.",
            icon=":material/help:",
        )
    elif prediction.is_fake:
        st.badge(f"Verdict: {prediction.label}", icon=":material/warning:", color="red")
    else:
        st.badge(f"Verdict: {prediction.label}", icon=":material/check_circle:", color="blue")
    st.plotly_chart(
        probability_bar(prediction.p_fake, threshold=prediction.threshold), config={"displayModeBar": False}, key=key
    )
    confidence = "not meaningful here" if prediction.unfamiliar else f"**{format_probability(prediction.confidence)}**"
    st.markdown(
        f"P(fake) **{format_probability(prediction.p_fake)}** · calibrated confidence in this verdict "
        f"{confidence} · threshold {prediction.threshold:.2f}"
    )
    where = f"`{source.name}`" + (f" · face {face}" if face is not None else "")
    st.caption(f"{where} · sha256 `{source.sha256}` · model `{prediction.model_id}`")


# --------------------------------------------------------------------------- explanations


@dataclass(frozen=True)
class ExplanationRequest:
    """One map to compute: which image (and which of its faces), method and class, with which parameters.

    ``face`` is the face's number when the map explains that face's aligned crop (a model with a
    face step), ``None`` when it explains the whole image.
    """

    source: ImageInput
    method: str
    target: str
    params: dict[str, Any]
    face: int | None = None

    def key(self, detector: Detector) -> tuple[str, str, str, str, str, int | None]:
        """What an explanation depends on: (image sha256, model id, method, class, parameters, face)."""
        params = json.dumps(self.params, sort_keys=True)
        return self.source.sha256, detector.model_id, self.method, self.target, params, self.face


def photo_faces(detector: Detector, source: ImageInput, image: np.ndarray, *, threshold: float) -> PhotoVerdicts:
    """Every face of ``image`` with its aligned crop and verdict at ``threshold``, found once per (model, image).

    For the Explain page of a model with a face step: moving the opacity or threshold slider or
    ticking a box re-runs the page but must not run the face detector or the model again. Only the
    current image's faces are kept (their crops are model-input sized).
    """
    from deepfake_core.judge import at_threshold, judge_photos

    key = (detector.model_id, source.sha256)
    stored = st.session_state.get(_FACES_KEY)
    if stored is None or stored[0] != key:
        [photo] = judge_photos(detector, [image], faces="all")
        stored = (key, photo)
        st.session_state[_FACES_KEY] = stored
    return at_threshold(stored[1], detector, threshold)


def explanation_record(explanation: Explanation, face: Face | None = None, *, faces_found: int = 0) -> dict[str, Any]:
    """An explanation's JSON record, as ``deepfake-core explain`` writes it.

    For a face's aligned crop the record also names the face (number, box, landmarks and score in
    photo pixels, the faces found, the crop size and the photo -> crop matrix), so ``--from-json``
    explains the same face of the photo again.
    """
    record = explanation.to_json_dict()
    if face is not None and face.crop is not None and face.matrix is not None:
        record["face"] = face.record(faces_found=faces_found, crop_size=int(explanation.heatmap.shape[0]))
    return record


def legend_strip(scale: Legend) -> np.ndarray:
    """The legend's colour bar as a 256 x 12 image (its 1-pixel strip would be a hairline when stretched)."""
    return np.asarray(Image.fromarray(scale.gradient()).resize((256, 12), Image.Resampling.NEAREST))


# --------------------------------------------------------------------------- stored results


def _results_stamp(folder: Path) -> tuple[tuple[str, int, int], ...]:
    if not folder.is_dir():
        return ()
    return tuple((path.name, *(_stamp(path) or (0, 0))) for path in sorted(folder.glob("*.json")))


@st.cache_data(show_spinner="Reading stored results...", max_entries=4)
def _listing(folder: str, stamp: tuple[tuple[str, int, int], ...]) -> ResultsListing:
    """Stored results, read once per folder version (``stamp`` is the cache key, not used here)."""
    return list_results(folder)


GENERALISATION_FOLDER: Final = "generalisation"
"""Subfolder of ``<model dir>/evaluation/`` with the leave-one-generator-out runs' results."""


def stored_results(subfolder: str | None = None) -> ResultsListing:
    """Every results file in ``<model dir>/evaluation/`` (or its ``subfolder``); unreadable ones become warnings."""
    folder = default_model_dir() / "evaluation"
    if subfolder is not None:
        folder = folder / subfolder
    try:
        listing = _listing(str(folder), _results_stamp(folder))
    except DeepfakeLensError as error:
        st.error(str(error))
        st.stop()
    for path, problem in listing.problems:
        st.warning(f"Skipped `{path.name}`: {problem}")
    return listing


def results_folder_hint() -> str:
    """Where results files go, for the "nothing stored yet" messages."""
    return _display_folder(default_model_dir() / "evaluation")


# --------------------------------------------------------------------------- formatting


def format_share(value: float | None) -> str:
    """A proportion as a percentage, or a dash when it is undefined (e.g. recall without fakes)."""
    return "—" if value is None else f"{value:.1%}"


def format_interval(interval: Sequence[float] | None) -> str:
    """A ``[low, high]`` interval as percentages, or a dash."""
    return "—" if not interval else f"{interval[0]:.1%} to {interval[1]:.1%}"
