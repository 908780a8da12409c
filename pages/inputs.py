"""The images a visitor gives the app: uploads and built-in samples, the limits on both, and shareable links.

Classify and Explain take the same kinds of input, so both read them through :class:`ImageInput`
(a name, the raw bytes and their sha256, kept in memory and never written to disk). The samples
are shipped with the app or come with scikit-image, so a fresh clone has something to try.
Decoding and refusing a file is ``deepfake_core.intake``'s job, not this module's.

A chosen sample is kept in the page's URL (``?sample=NAME``, repeated for several), so a link
opens the same sample for a colleague: :func:`url_values` reads such a choice at page start and
:func:`share_in_url` writes it when it changes (the Explain page keeps its methods the same way).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

import skimage.data
import streamlit as st

from deepfake_core.intake import image_sha256

__all__ = [
    "MAX_IMAGES",
    "SAMPLES",
    "SAMPLES_DIR",
    "SAMPLE_PARAM",
    "ImageInput",
    "Sample",
    "sample_inputs",
    "sample_label",
    "share_in_url",
    "upload_inputs",
    "upload_limits_note",
    "url_values",
]

MAX_IMAGES: Final = 30
"""Images classified per run: the originals stay in session memory for the Explain page, and the
public demo has under 1 GB for every visitor together. Larger batches belong to the CLI."""


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
        "Real: NASA portrait of Eileen Collins; the shipped default model calls it Real (P(fake) 0.05)",
    ),
    "stylegan2_tpdne_fake_9": _generated(
        "stylegan2_tpdne_fake_9.jpg", "StyleGAN2 face, a typical test image", caught=True
    ),
    "stylegan2_tpdne_fake_89": _generated(
        "stylegan2_tpdne_fake_89.jpg", "StyleGAN2 face, the hardest test image of this generator", caught=False
    ),
    "sd21_000276": _generated("sd21_000276.jpg", "Stable Diffusion 2.1 portrait, a typical test image", caught=True),
    "sd21_000535": _generated(
        "sd21_000535.jpg", "Stable Diffusion 2.1 portrait, the hardest test image of this generator", caught=False
    ),
    "gan256_000536": _generated("gan256_000536.jpg", "GAN face (256 px), a typical test image", caught=True),
    "gan256_004575": _generated(
        "gan256_004575.jpg", "GAN face (256 px), the hardest test image of this generator", caught=False
    ),
    "chelsea": Sample(_SKIMAGE_DIR / "chelsea.png", "Not a face: Chelsea the cat, outside what the model knows"),
    "coffee": Sample(_SKIMAGE_DIR / "coffee.png", "Not a face: a cup of coffee"),
}
"""Built-in samples, nothing downloaded: a real face and two pictures without one from ``skimage.data``, and
generated faces from the test split (never trained on) in :data:`SAMPLES_DIR`. Per generator, the test image
with the median and the one with the lowest stored P(fake) of the default model (see ``samples/README.md``),
so a visitor sees both a Fake verdict and what the model misses."""


SAMPLE_PARAM: Final = "sample"
"""The URL query parameter that names the chosen samples (keys of :data:`SAMPLES`)."""


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


def sample_label(name: str) -> str:
    """How a sample is named in a picker: its name and what it shows.

    Pickers take this function, never a lambda written in the page: a page's lambda holds the
    page's whole namespace (the decoded photo among it), and Streamlit keeps a widget's format
    function in the session, so a 40 MP photo outlived the visit.
    """
    return f"{name}: {SAMPLES[name][1]}"


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


def url_values(key: str, allowed: Collection[str]) -> list[str]:
    """The values of ``key`` in the page's URL (``?key=a&key=b``) that are in ``allowed``, in URL order.

    A link may be old or hand-edited: a value the app does not know is dropped, not an error.
    """
    return [value for value in dict.fromkeys(st.query_params.get_all(key)) if value in allowed]


def share_in_url(key: str, values: Sequence[str], *, default: Sequence[str] = ()) -> None:
    """Keep ``values`` in the page's URL under ``key``, so the address bar is a link to this choice.

    The URL is written only when it says something else, and the choice is left out while it is
    ``default`` (what the page shows without it), so a plain visit keeps a plain address.
    """
    wanted = [] if list(values) == list(default) else list(values)
    if st.query_params.get_all(key) == wanted:
        return
    if wanted:
        st.query_params[key] = wanted
    else:
        del st.query_params[key]
