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
