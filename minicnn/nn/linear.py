"""``Linear``, and the two shape-only layers around it: ``Flatten`` and ``Identity``."""
import numpy as np

from .. import functional as F
from ..arguments import feature_count
from ..autograd.tensor import flatten_dims
from . import init
from .module import Module, Parameter


class Linear(Module):
    """Fully connected layer, as ``torch.nn.Linear``: ``y = x @ weight.T + bias``.

    Shapes: input (*, in_features) (any leading dims, including none) -> output (*, out_features);
    ``weight`` (out_features, in_features), ``bias`` (out_features,) (None with ``bias=False``).
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = feature_count("Linear", "in_features", in_features)
        self.out_features = feature_count("Linear", "out_features", out_features)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), np.float32))
        self.bias = Parameter(np.empty(self.out_features, np.float32)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """Fresh weights from minicnn's seeded generator, as torch: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.fan_in_uniform_(self.weight, self.bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1*d2*...), as ``torch.nn.Flatten(start_dim=1, end_dim=-1)``.

    The dims are checked against each input as torch does: a dim outside the input's dims raises
    :class:`~minicnn.autograd.tensor.DimensionError` (a ValueError and the IndexError torch raises),
    ``start_dim`` after ``end_dim`` a ValueError (torch: RuntimeError), a non-int a TypeError.
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        x = F.as_tensor(x, "Flatten input")
        flatten_dims("Flatten", x.shape, self.start_dim, self.end_dim)  # refused in the layer's name
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input (a placeholder, as ``torch.nn.Identity``)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return F.as_tensor(x, "Identity input")
