"""Weight decay toward the pretrained start instead of toward zero (``train --anchor-decay``).

Why: on the leave-one-out folds a fine-tuned run ranks the left-out generator best after its first
epoch and worse with almost every epoch after (docs/experiments.md, "The unseen ranking epoch by
epoch"), and a lower learning rate only walks the same path more slowly. The backbone's squared
distance from its ImageNet start grows in proportion to the steps taken (6.2 after one epoch at
Adam 1e-4, 12.2 after two, 43.3 after seven; ``python benchmarks/drift.py``), about what 3.4 million
weights each stepping the learning rate in a random direction at every step would give: the mark of
a random walk. Most of that movement is noise in directions the seen kinds do not need, and those
directions may still change what the network computes on faces unlike them. Pulling every backbone
weight a small share of the way back to where fine-tuning started, after each step (decoupled from
the gradient, as AdamW decouples its decay from Adam's scaling; L2-SP, Li et al. 2018, is the same
pull written as a loss), bounds that drift while directions the loss keeps pushing can still move.
Unlike mixing weights afterwards (WiSE-FT), the BatchNorm statistics are gathered on the weights the
network actually has. On the StyleGAN fold (3e-3 a step) it held the drift at about 5.7 and the unseen
ranking at 0.87-0.91 over the epochs, but also stopped the fitting of the seen kinds at a seen AUC of
0.96, where the plain runs ranked the unseen faces as well, and lost the hardest seen kinds (DFDC
swaps, SD 1.x), so the shipped recipe does not use it (docs/experiments.md, "Pulling the backbone back
toward ImageNet at every step").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

__all__ = ["AnchorDecay"]


class AnchorDecay(keras.callbacks.Callback):
    """After every training step, move each of ``variables`` ``rate`` of the way back to its value when training began.

    ``rate`` is per step: the remembered share of a displacement after ``n`` steps is ``(1 - rate) ** n``,
    so at 32 faces a batch and ~6,200 training faces, ``1e-3`` halves an unreinforced change in about
    three and a half epochs.
    """

    def __init__(self, variables: Sequence[keras.Variable], rate: float) -> None:
        super().__init__()
        if not 0 < rate <= 1:
            raise ValueError(f"The anchor decay is a share of the way back per step, in (0, 1]; got {rate}.")
        self.variables, self.rate = list(variables), rate
        self._pull: Callable[[], None] | None = None

    def on_train_begin(self, logs=None):
        anchors = [tf.constant(keras.ops.convert_to_numpy(variable)) for variable in self.variables]

        @tf.function
        def pull() -> None:
            for variable, anchor in zip(self.variables, anchors, strict=True):
                variable.assign(variable - self.rate * (variable - anchor))

        self._pull = pull  # traced for this run's anchors; a later fit starts from where it begins

    def on_train_batch_end(self, batch, logs=None):
        self._pull()
