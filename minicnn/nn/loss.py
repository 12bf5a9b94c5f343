"""``CrossEntropyLoss``: log-softmax + negative log-likelihood, fused (see kernels.loss)."""
from .. import kernels as K
from ..kernels.loss import REDUCTIONS


class CrossEntropyLoss:
    """As ``torch.nn.CrossEntropyLoss`` with class-index targets.

    ``loss = crit(logits, labels)`` returns a Python float; ``crit.backward()``
    returns d loss / d logits, shape (N, C), in the logits' dtype.

    Parameters
    ----------
    reduction : "mean" (default) or "sum"
    """

    def __init__(self, reduction="mean"):
        if reduction not in REDUCTIONS:
            raise ValueError(f"CrossEntropyLoss: expected reduction in {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        self._dlogits = None

    def __call__(self, logits, labels):
        return self.forward(logits, labels)

    def forward(self, logits, labels):
        loss, self._dlogits = K.softmax_cross_entropy(logits, labels, self.reduction)
        return loss

    def backward(self):
        if self._dlogits is None:
            raise RuntimeError("CrossEntropyLoss: backward called before forward")
        return self._dlogits.copy()

    def __repr__(self):
        return f"CrossEntropyLoss(reduction={self.reduction!r})"
