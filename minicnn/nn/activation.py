"""Activations, shaped like ``torch.nn``: each a Module around one functional op."""
import numpy as np

from .. import functional as F
from ..arguments import only_default
from .module import Module


class ReLU(Module):
    """``max(x, 0)`` elementwise; any shape."""

    def forward(self, x):
        return F.relu(x)


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise; any shape."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """``tanh(x)`` elementwise; any shape."""

    def forward(self, x):
        return F.tanh(x)


class LeakyReLU(Module):
    """``x`` where positive, else ``negative_slope * x``, as ``torch.nn.LeakyReLU(negative_slope=0.01)``."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        only_default("LeakyReLU", inplace=inplace)
        if not isinstance(negative_slope, (int, float, np.integer, np.floating)) or isinstance(negative_slope, bool):
            raise TypeError(f"LeakyReLU: expected negative_slope as a number, got {type(negative_slope).__name__}")
        self.negative_slope, self.inplace = float(negative_slope), inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"



class Hardtanh(Module):
    """``min(max(x, min_val), max_val)`` elementwise, as ``torch.nn.Hardtanh(min_val=-1.0, max_val=1.0,
    inplace=False)``; any shape."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        name = type(self).__name__
        only_default(name, inplace=inplace)
        for arg, value in (("min_val", min_val), ("max_val", max_val)):
            if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name}: expected {arg} as a number, got {type(value).__name__}")
        if not min_val < max_val:  # torch's Hardtanh asserts max_val > min_val
            raise ValueError(f"{name}: expected min_val < max_val, got min_val={min_val}, max_val={max_val}")
        self.min_val, self.max_val = float(min_val), float(max_val)

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``, as ``torch.nn.ReLU6(inplace=False)`` (MobileNet's activation)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return ""

class Softmax(Module):
    """``softmax`` along ``dim``, as ``torch.nn.Softmax(dim=None)`` (None: torch's deprecated implicit choice)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """``log(softmax(x))`` along ``dim`` through the log-sum-exp, as ``torch.nn.LogSoftmax(dim=None)``."""

    def forward(self, x):
        return F.log_softmax(x, self.dim)
