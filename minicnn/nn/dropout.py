"""Dropout layers: a random mask in training mode, the identity in evaluation mode."""
from .. import functional as F
from ..arguments import dropout_probability, inplace_flag
from .module import Module


class _DropoutNd(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p = dropout_probability(type(self).__name__, p)
        self.inplace = inplace_flag(type(self).__name__, inplace)  # accepted, computed out of place

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Inverted dropout, as ``torch.nn.Dropout(p=0.5)``: in training mode each element is zeroed with
    probability ``p`` and the others scaled by ``1 / (1 - p)`` (so evaluation needs no rescaling); in
    evaluation mode the identity.  The mask is drawn from ``minicnn.rng.get_rng()`` (seeded by
    ``minicnn.manual_seed``), so a seed fixes the masks; they differ from torch's for the same seed."""

    def forward(self, x):
        return F.dropout(x, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Channel dropout, as ``torch.nn.Dropout2d``: each whole channel ``x[n, c]`` of (N, C, H, W) is
    zeroed with probability ``p`` (the others scaled by ``1 / (1 - p)``) in training mode."""

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training)
