"""The face step: find, align and crop every face before the model judges it.

* :mod:`~deepfake_core.faces.spec`: the card's ``face_crop`` section (no TensorFlow);
* :mod:`~deepfake_core.faces.align`: the geometry (template, similarity transform, crop, paste back);
* :mod:`~deepfake_core.faces.finder`: the MTCNN detector and the crops of a photo.

The finder is imported lazily (it loads TensorFlow); import it from its module.
"""

from __future__ import annotations

from deepfake_core.faces.align import align_face, paste_back, similarity_transform, template_points, working_copy
from deepfake_core.faces.spec import FaceCropSpec

__all__ = ["FaceCropSpec", "align_face", "paste_back", "similarity_transform", "template_points", "working_copy"]
