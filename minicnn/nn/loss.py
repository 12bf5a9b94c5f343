"""``CrossEntropyLoss``: log-softmax + negative log-likelihood, fused (see kernels.loss)."""
from .. import functional as F
from ..kernels.loss import REDUCTIONS
from .module import Module


class CrossEntropyLoss(Module):
    """As ``torch.nn.CrossEntropyLoss`` with class-index targets.

    ``loss = criterion(logits, labels)`` is a 0-d Tensor; ``loss.backward()``
    sends ``(softmax(logits) - onehot(labels)) / N`` into the network.

    Parameters
    ----------
    reduction : "mean" (default) or "sum"

    Shapes: logits (N, C), labels (N,) integer in [0, C) -> ().
    """

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"CrossEntropyLoss: expected reduction in {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def forward(self, input, target):
        return F.cross_entropy(input, target, reduction=self.reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


# --------------------------------------------------------------------------- the toolbox's losses
from ..kernels.loss_extra import REDUCTIONS as ALL_REDUCTIONS  # noqa: E402


def _reduction(layer, reduction):
    if reduction not in ALL_REDUCTIONS:
        raise ValueError(f"{layer}: expected reduction in {ALL_REDUCTIONS}, got {reduction!r}")
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
        self.register_buffer("weight", None if weight is None else F._array_or_none(weight, "NLLLoss weight"))

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class BCEWithLogitsLoss(Module):
    """Binary cross-entropy on logits, as ``torch.nn.BCEWithLogitsLoss(weight=None, reduction='mean',
    pos_weight=None)``, in the stable form ``(1 - t) x + l (log(1 + exp(-|x|)) + max(-x, 0))`` with
    ``l = 1 + (pos_weight - 1) t`` (see kernels/loss_extra.py).

    Shapes: input and target (N, *) the same, target in [0, 1]; ``weight`` broadcast to them;
    ``pos_weight`` (C,) along the last axis -> () or the input's shape ("none").
    """

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__()
        self.reduction = _reduction("BCEWithLogitsLoss", reduction)
        self.register_buffer("weight", F._array_or_none(weight, "BCEWithLogitsLoss weight"))
        self.register_buffer("pos_weight", F._array_or_none(pos_weight, "BCEWithLogitsLoss pos_weight"))

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"
