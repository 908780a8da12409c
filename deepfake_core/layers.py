"""Custom Keras layers, registered so ``.keras`` files load in safe mode.

The thesis saved its rescale step as a ``Lambda`` layer holding a pickled Python
lambda: such a file only loads with ``safe_mode=False`` (it can run code) and
breaks across Python versions ("bad marshal data"). Here it is a registered
layer with no Python code in the saved file.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["RescaleGAP"]


@keras.saving.register_keras_serializable(package="deepfake_lens")
class RescaleGAP(keras.layers.Layer):
    """``[gap_features, gap_mask] -> gap_features / gap_mask``.

    Global average pooling of ``mask * features`` divided by the mask's own mean:
    an attention-weighted average of the features. ``epsilon`` keeps an all-zero
    mask from producing NaNs.
    """

    def __init__(self, epsilon: float = 1e-7, **kwargs) -> None:
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, inputs):
        gap_features, gap_mask = inputs
        return gap_features / ops.maximum(gap_mask, self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon}
