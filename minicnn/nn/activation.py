"""Activations, shaped like ``torch.nn``: each a Module around one functional op."""
import numpy as np

from .. import functional as F
from ..arguments import feature_count, inplace_flag
from .module import Module, Parameter


class ReLU(Module):
    """``max(x, 0)`` elementwise, as ``torch.nn.ReLU(inplace=False)``; any shape.  ``inplace=True`` is accepted
    and computed out of place (:func:`minicnn.arguments.inplace_flag`)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace_flag("ReLU", inplace)

    def forward(self, x):
        return F.relu(x)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


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
        self.inplace = inplace_flag("LeakyReLU", inplace)
        self.negative_slope = float(_number("LeakyReLU", "negative_slope", negative_slope))

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")



class Hardtanh(Module):
    """``min(max(x, min_val), max_val)`` elementwise, as ``torch.nn.Hardtanh(min_val=-1.0, max_val=1.0,
    inplace=False)``; any shape."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        name = type(self).__name__
        self.inplace = inplace_flag(name, inplace)
        for arg, value in (("min_val", min_val), ("max_val", max_val)):
            _number(name, arg, value)
        if not min_val < max_val:  # torch's Hardtanh asserts max_val > min_val
            raise ValueError(f"{name}: expected min_val < max_val, got min_val={min_val}, max_val={max_val}")
        self.min_val, self.max_val = float(min_val), float(max_val)

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``, as ``torch.nn.ReLU6(inplace=False)`` (MobileNet's activation)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


def _number(layer, name, value):
    """``value`` as given (torch's repr shows it so), if it is a real number that is no bool."""
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{layer}: expected {name} as a number, got {type(value).__name__}")
    return value


class _OutOfPlace(Module):
    """An activation with torch's ``inplace`` flag, accepted: the result is computed out of place either way
    (a new Tensor, the value torch returns; minicnn never overwrites an input)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace_flag(type(self).__name__, inplace)


class Hardsigmoid(_OutOfPlace):
    """``relu6(x + 3) / 6`` elementwise, as ``torch.nn.Hardsigmoid(inplace=False)``; any shape.
    ``inplace=True`` is accepted and computed out of place."""

    def forward(self, x):
        return F.hardsigmoid(x)


class Hardswish(_OutOfPlace):
    """``x * relu6(x + 3) / 6`` elementwise, as ``torch.nn.Hardswish(inplace=False)`` (MobileNetV3's
    activation); any shape.  ``inplace=True`` is accepted and computed out of place."""

    def forward(self, x):
        return F.hardswish(x)


class SiLU(_OutOfPlace):
    """``x * sigmoid(x)`` elementwise, as ``torch.nn.SiLU(inplace=False)`` (swish; EfficientNet's
    activation); any shape.  ``inplace=True`` is accepted and computed out of place."""

    def forward(self, x):
        return F.silu(x)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class GELU(Module):
    """``x * Phi(x)`` elementwise (``Phi`` the standard normal CDF), as ``torch.nn.GELU(approximate='none')``;
    ``approximate='tanh'`` is torch's tanh approximation.  Any shape."""

    def __init__(self, approximate="none"):
        super().__init__()
        if not isinstance(approximate, str):
            raise TypeError(f"GELU: expected approximate as a str, 'none' or 'tanh', got {type(approximate).__name__}")
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: expected approximate 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class ELU(_OutOfPlace):
    """``x`` where positive, else ``alpha * (exp(x) - 1)``, as ``torch.nn.ELU(alpha=1.0, inplace=False)``; any
    shape.  ``inplace=True`` is accepted and computed out of place."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        self.alpha = _number("ELU", "alpha", alpha)

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta`` elementwise, and ``x`` where ``beta * x > threshold``, as
    ``torch.nn.Softplus(beta=1.0, threshold=20.0)``; any shape."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = _number("Softplus", "beta", beta), _number("Softplus", "threshold", threshold)

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class PReLU(Module):
    """``x`` where positive, else ``weight[c] * x``, as ``torch.nn.PReLU(num_parameters=1, init=0.25)``: a learnt
    slope, one for every channel (dim 1) or, with ``num_parameters=1``, one for all.

    ``weight`` (num_parameters,) starts at ``init`` (float32, as every layer here; ``.double()`` for float64);
    its gradient sums ``x * dout`` over the entries where ``x <= 0``, over every dim but the channel's.
    ``state_dict`` key ``weight``, as torch's.
    """

    def __init__(self, num_parameters=1, init=0.25):
        super().__init__()
        self.num_parameters = feature_count("PReLU", "num_parameters", num_parameters)
        if not isinstance(init, (int, float, np.integer, np.floating)) or isinstance(init, (bool, np.bool_)):
            raise TypeError(f"PReLU: expected init as a number, got {type(init).__name__}")
        self.init = float(init)
        self.weight = Parameter(np.empty(self.num_parameters, np.float32))
        self.reset_parameters()

    def reset_parameters(self):
        """Every slope back to ``init``, as torch's ``init.constant_(weight, init)``."""
        self.weight.array[...] = self.init

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


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
