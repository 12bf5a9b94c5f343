"""``CrossEntropyLoss``: log-softmax + negative log-likelihood, fused (see kernels.loss)."""
import numpy as np

from .. import functional as F
from ..kernels.loss import CE_REDUCTIONS
from .module import Module


class CrossEntropyLoss(Module):
    """As ``torch.nn.CrossEntropyLoss(weight=None, size_average=None, ignore_index=-100, reduce=None,
    reduction='mean', label_smoothing=0.0)``.

    ``loss = criterion(logits, target)`` is a 0-d Tensor ("mean", "sum") or one loss per sample
    ("none"); ``loss.backward()`` sends ``(softmax(logits) - onehot(labels)) / N`` into the network
    in the plain case (see ``kernels/loss.py`` for weights, ignored samples, label smoothing and
    class-probability targets).

    Parameters
    ----------
    weight : ndarray (C,), optional; a buffer (in ``state_dict()``, cast by ``.to()``), as torch
    size_average, reduce : torch's deprecated spellings of ``reduction``; only None is accepted
    ignore_index : int, default -100; class-index targets equal to it count for nothing
    reduction : "mean" (default), "sum" or "none"
    label_smoothing : float in [0, 1], default 0

    Shapes: logits (N, C), (N, C, d1, ...) or (C,); target class indices (N,), (N, d1, ...) or (),
    or class probabilities of the logits' shape -> () or, with "none", (N, d1, ...).
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__()
        for name, value in (("size_average", size_average), ("reduce", reduce)):
            if value is not None:
                raise ValueError(f"CrossEntropyLoss: {name}={value!r} is deprecated in torch and not supported; "
                                 f"use reduction=")
        if reduction not in CE_REDUCTIONS:
            raise ValueError(f"CrossEntropyLoss: expected reduction in {CE_REDUCTIONS}, got {reduction!r}")
        if not isinstance(ignore_index, (int, np.integer)) or isinstance(ignore_index, bool):
            raise TypeError(f"CrossEntropyLoss: expected ignore_index as an int, got {ignore_index!r}")
        if not isinstance(label_smoothing, (int, float)) or not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: expected label_smoothing in [0.0, 1.0], got {label_smoothing!r}")
        weight = weight.data if isinstance(weight, F.Tensor) else weight
        if weight is not None and not isinstance(weight, np.ndarray):
            raise TypeError(f"CrossEntropyLoss: expected weight as an ndarray or Tensor, got {type(weight).__name__}")
        self.register_buffer("weight", None if weight is None else weight.copy())
        self.ignore_index, self.reduction, self.label_smoothing = int(ignore_index), reduction, float(label_smoothing)

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)

    def extra_repr(self):
        extra = f", weight={self.weight.shape}" if self.weight is not None else ""
        if self.ignore_index != -100:
            extra += f", ignore_index={self.ignore_index}"
        if self.label_smoothing:
            extra += f", label_smoothing={self.label_smoothing}"
        return f"reduction={self.reduction!r}{extra}"
