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
