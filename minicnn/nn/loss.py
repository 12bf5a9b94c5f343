"""Losses: ``CrossEntropyLoss`` (log-softmax + negative log-likelihood, fused; see kernels.loss),
``MSELoss``, ``NLLLoss``, ``BCEWithLogitsLoss``, ``BCELoss``."""
import numpy as np

from .. import functional as F
from ..arguments import array_or_none
from ..kernels.loss import REDUCTIONS
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
        if reduction not in REDUCTIONS:
            raise ValueError(f"CrossEntropyLoss: expected reduction in {REDUCTIONS}, got {reduction!r}")
        if not isinstance(ignore_index, (int, np.integer)) or isinstance(ignore_index, bool):
            raise TypeError(f"CrossEntropyLoss: expected ignore_index as an int, got {ignore_index!r}")
        if not isinstance(label_smoothing, (int, float)) or not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: expected label_smoothing in [0.0, 1.0], got {label_smoothing!r}")
        weight = weight.array if isinstance(weight, F.Tensor) else weight
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


# --------------------------------------------------------------------------- MSE, NLL, BCE with logits


def _reduction(layer, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{layer}: expected reduction in {REDUCTIONS}, got {reduction!r}")
    return reduction


class MSELoss(Module):
    """``(input - target)**2``, reduced: as ``torch.nn.MSELoss(reduction='mean'|'sum'|'none')``.

    Shapes: input and target the same -> () ("mean", "sum") or that shape ("none").
    """

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = _reduction("MSELoss", reduction)

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class NLLLoss(Module):
    """Negative log-likelihood of class indices, as ``torch.nn.NLLLoss(weight=None, ignore_index=-100,
    reduction='mean')``: ``-weight[y] * input[y]``, "mean" divided by the summed weights of the targets.
    Follow ``LogSoftmax(dim=1)`` with it to get cross-entropy.

    Shapes: input (N, C) log-probabilities, target (N,) integer in [0, C) (or ``ignore_index``) -> ().
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__()
        self.reduction = _reduction("NLLLoss", reduction)
        self.ignore_index = int(ignore_index)
        self.register_buffer("weight", None if weight is None else array_or_none(weight, "NLLLoss weight"))

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class BCEWithLogitsLoss(Module):
    """Binary cross-entropy on logits, as ``torch.nn.BCEWithLogitsLoss(weight=None, reduction='mean',
    pos_weight=None)``, in the stable form ``(1 - t) x + l (log(1 + exp(-|x|)) + max(-x, 0))`` with
    ``l = 1 + (pos_weight - 1) t`` (see kernels/loss.py).

    Shapes: input and target (N, *) the same, target in [0, 1]; ``weight`` broadcast to them;
    ``pos_weight`` (C,) along the last axis -> () or the input's shape ("none").
    """

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__()
        self.reduction = _reduction("BCEWithLogitsLoss", reduction)
        self.register_buffer("weight", array_or_none(weight, "BCEWithLogitsLoss weight"))
        self.register_buffer("pos_weight", array_or_none(pos_weight, "BCEWithLogitsLoss pos_weight"))

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class BCELoss(Module):
    """Binary cross-entropy of probabilities, as ``torch.nn.BCELoss(weight=None, size_average=None, reduce=None,
    reduction='mean')``: ``-weight [t log x + (1 - t) log(1 - x)]``, each log clamped at -100 as torch's (see
    kernels/loss.py).  For a network's raw scores, :class:`BCEWithLogitsLoss` is the stable form.

    Parameters
    ----------
    weight : ndarray broadcastable to the input, optional; a buffer (in ``state_dict()``), as torch
    size_average, reduce : torch's deprecated spellings of ``reduction``; only None is accepted
    reduction : "mean" (default), "sum" or "none"

    Shapes: input and target the same, every element in [0, 1] -> () or the input's shape ("none"); the target
    gets a gradient too, as in torch.
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        for name, value in (("size_average", size_average), ("reduce", reduce)):
            if value is not None:
                raise ValueError(f"BCELoss: {name}={value!r} is deprecated in torch and not supported; "
                                 f"use reduction=")
        self.reduction = _reduction("BCELoss", reduction)
        self.register_buffer("weight", array_or_none(weight, "BCELoss weight"))

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"
