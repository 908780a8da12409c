"""Plain names for the data kinds (the ``kind`` column of the data), for cards and pages.

A kind is one source of faces: a generator, a manipulation tool or a collection
of real photos. Users need to know which generators a model has seen, in words
they recognise, because a verdict on any other generator is a guess.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["KIND_NAMES", "describe_kinds"]

KIND_NAMES: dict[str, str] = {
    "celeba": "CelebA celebrity photos",
    "ffhq": "FFHQ Flickr portraits",
    "utkface": "UTKFace web photos",
    "ciplab_real": "CIPLAB real faces",
    "real_dfdc": "DFDC video frames (real actors)",
    "people_photo": "stock photos of people",
    "gan256": "GAN faces (256 px, plain backdrops)",
    "stylegan1024": "StyleGAN",
    "stylegan2_tpdne": "StyleGAN2 (thispersondoesnotexist)",
    "sd21": "Stable Diffusion 2.1",
    "sd1x_class_man": "Stable Diffusion 1.x",
    "ciplab_photoshop": "Photoshop composites",
    "faceswap_dfdc": "DFDC video face swaps",
    "faceswap_inswapper": "InsightFace inswapper face swaps",
    "self_blended": "self-blended pseudo-fakes (real faces blended with an altered copy of themselves)",
}
"""kind -> what it is, in a user's words (unknown kinds are shown by their own name)."""


def describe_kinds(kinds: Iterable[str]) -> str:
    """``"Stable Diffusion 2.1 (sd21), StyleGAN (stylegan1024)"``: plain names with the kind in brackets."""
    return ", ".join(f"{KIND_NAMES[kind]} ({kind})" if kind in KIND_NAMES else kind for kind in kinds)
