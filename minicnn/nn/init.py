"""Parameter initialisation, as ``torch.nn.init``: torch's formulas and fan rules, in place.

Every function takes a Tensor (a :class:`~minicnn.nn.Parameter`, usually), writes into its array in place
(so ``state_dict()`` entries and views see the new values) and returns it.  The random ones draw from
``generator`` (a ``numpy.random.Generator``) or else minicnn's seeded generator (:func:`minicnn.manual_seed`),
in float64, rounded to the tensor's dtype; they need a float tensor.

The fans are torch's: for a weight of shape ``(out, in, *kernel)``, ``fan_in = in * prod(kernel)`` and
``fan_out = out * prod(kernel)`` (a linear weight ``(out, in)`` has no kernel); fewer than 2 dimensions
have no fans and are refused, as torch refuses them.

======================  =================================================================
``uniform_(t, a, b)``   U(a, b)
``normal_(t, m, s)``    N(m, s²)
``trunc_normal_``       N(m, s²) redrawn outside [a, b]
``xavier_uniform_``     U(-b, b), ``b = gain·sqrt(6 / (fan_in + fan_out))``
``xavier_normal_``      N(0, s²), ``s = gain·sqrt(2 / (fan_in + fan_out))``
``kaiming_uniform_``    U(-b, b), ``b = gain·sqrt(3 / fan)``, gain from ``calculate_gain(nonlinearity, a)``
``kaiming_normal_``     N(0, s²), ``s = gain / sqrt(fan)``; ``fan`` is ``fan_in`` or ``fan_out`` (``mode``)
``orthogonal_``         the Q of a QR of a standard normal matrix (signs fixed by R's diagonal), times gain
======================  =================================================================
"""
import math
import numbers
import warnings

import numpy as np

from ..autograd import Tensor
from ..rng import generator_or_default, get_rng

__all__ = ["calculate_fan_in_and_fan_out", "calculate_gain", "constant_", "dirac_", "eye_", "fan_in_uniform_",
           "kaiming_normal_", "kaiming_uniform_", "normal_", "ones_", "orthogonal_", "trunc_normal_", "uniform_",
           "xavier_normal_", "xavier_uniform_", "zeros_"]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


# --------------------------------------------------------------------------- checks and the two rules
def _tensor(name, tensor, random=False):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}: expected a Tensor (a Parameter), got {type(tensor).__name__}"
                        + (" (wrap an array with minicnn.from_numpy)" if isinstance(tensor, np.ndarray) else ""))
    if random and tensor.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating tensor to draw into, got dtype {tensor.dtype}")
    return tensor


def _fill(tensor, values):
    """Write ``values`` into the tensor's own array (cast to its dtype) and return the tensor."""
    tensor.array[...] = values
    return tensor


def calculate_fan_in_and_fan_out(tensor):
    """``(fan_in, fan_out)`` of a weight (out, in, *kernel): ``in·prod(kernel)`` and ``out·prod(kernel)``."""
    shape = tensor.shape if isinstance(tensor, (Tensor, np.ndarray)) else None
    if shape is None:
        raise TypeError(f"calculate_fan_in_and_fan_out: expected a Tensor, got {type(tensor).__name__}")
    if len(shape) < 2:
        raise ValueError(f"Fan in and fan out can not be computed for tensor with fewer than 2 dimensions, "
                         f"got shape {tuple(shape)}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


_calculate_fan_in_and_fan_out = calculate_fan_in_and_fan_out  # torch's name, which model code calls


def _fan(name, tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{name}: mode expected 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def calculate_gain(nonlinearity, param=None):
    """torch's recommended gain: 1 for linear, conv and sigmoid, 5/3 for tanh, sqrt(2) for relu,
    ``sqrt(2 / (1 + slope²))`` for leaky_relu (``param`` the slope, default 0.01), 3/4 for selu."""
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Real) and not isinstance(param, (bool, np.bool_)):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
                     f"{list(_LINEAR) + ['sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu']}")


# --------------------------------------------------------------------------- constant fills
def constant_(tensor, val):
    """Fill with ``val``."""
    return _fill(_tensor("constant_", tensor), val)


def ones_(tensor):
    return _fill(_tensor("ones_", tensor), 1)


def zeros_(tensor):
    return _fill(_tensor("zeros_", tensor), 0)


def eye_(tensor):
    """The identity matrix of a 2-D tensor (ones on the diagonal of a rectangle)."""
    if _tensor("eye_", tensor).ndim != 2:
        raise ValueError(f"eye_: only tensors with 2 dimensions are supported, got shape {tensor.shape}")
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor, groups=1):
    """The Dirac delta of a conv weight (3, 4 or 5 dimensions): output channel ``d`` of each group sees
    input channel ``d`` at the kernel's centre, so the convolution passes its input through."""
    if _tensor("dirac_", tensor).ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: only tensors with 3, 4, or 5 dimensions are supported, got shape {tensor.shape}")
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"dirac_: groups expected a positive int, got {groups!r}")
    if tensor.shape[0] % groups:
        raise ValueError(f"dirac_: dim 0 ({tensor.shape[0]}) must be divisible by groups ({groups})")
    per_group = tensor.shape[0] // groups
    centre = tuple(s // 2 for s in tensor.shape[2:])
    values = np.zeros(tensor.shape)
    for g in range(groups):
        for d in range(min(per_group, tensor.shape[1])):
            values[(g * per_group + d, d) + centre] = 1
    return _fill(tensor, values)


# --------------------------------------------------------------------------- random fills
def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Draw from U(a, b)."""
    rng = generator_or_default("uniform_", generator)
    return _fill(_tensor("uniform_", tensor, random=True), rng.uniform(a, b, size=tensor.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Draw from N(mean, std²)."""
    rng = generator_or_default("normal_", generator)
    return _fill(_tensor("normal_", tensor, random=True), rng.normal(mean, std, size=tensor.shape))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Draw from N(mean, std²) restricted to [a, b]: the values outside are drawn again until none is."""
    rng = generator_or_default("trunc_normal_", generator)
    _tensor("trunc_normal_", tensor, random=True)
    if not (std > 0 and a < b):
        raise ValueError(f"trunc_normal_: expected std > 0 and a < b, got std={std}, a={a}, b={b}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("trunc_normal_: mean is more than 2 std from [a, b]; drawing may take long", stacklevel=2)
    values = rng.normal(mean, std, size=tensor.shape)
    outside = (values < a) | (values > b)
    while outside.any():
        values[outside] = rng.normal(mean, std, size=int(outside.sum()))
        outside = (values < a) | (values > b)
    return _fill(tensor, values)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot: U(-b, b) with ``b = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(_tensor("xavier_uniform_", tensor, random=True))
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot: N(0, s²) with ``s = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(_tensor("xavier_normal_", tensor, random=True))
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(name, tensor, a, mode, nonlinearity):
    """``gain / sqrt(fan)``, or None for a tensor with no entries (torch warns and leaves it)."""
    _tensor(name, tensor, random=True)
    if 0 in tensor.shape:
        warnings.warn(f"{name}: initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(name, tensor, mode))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: U(-b, b) with ``b = gain * sqrt(3 / fan)``, ``gain = calculate_gain(nonlinearity, a)``."""
    std = _kaiming_std("kaiming_uniform_", tensor, a, mode, nonlinearity)
    return tensor if std is None else uniform_(tensor, -math.sqrt(3.0) * std, math.sqrt(3.0) * std, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: N(0, s²) with ``s = gain / sqrt(fan)``, ``gain = calculate_gain(nonlinearity, a)``."""
    std = _kaiming_std("kaiming_normal_", tensor, a, mode, nonlinearity)
    return tensor if std is None else normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix times ``gain``: the tensor as (rows, rest) has orthonormal rows or columns,
    whichever are fewer.  Q of the QR of a standard normal matrix, each column's sign made that of R's
    diagonal entry (so Q is uniform over the orthogonal matrices)."""
    if _tensor("orthogonal_", tensor, random=True).ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape {tensor.shape}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = generator_or_default("orthogonal_", generator).normal(0.0, 1.0, size=(rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


# --------------------------------------------------------------------------- minicnn's layers' default
def fan_in_uniform_(weight, bias=None):
    """Draw ``weight`` and then ``bias`` (if given) in place from U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    ``fan_in = weight[0].size`` (0 gives a bound of 0): torch's default for ``Conv2d`` and ``Linear`` (its
    ``kaiming_uniform_(a=sqrt(5))`` gives the same bound), from minicnn's seeded generator, in each
    Parameter's current dtype.  Returns ``weight``.
    """
    fan_in = math.prod(weight.shape[1:])
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0  # torch's rule: Linear(0, n)'s bias is 0
    for p in (weight, bias):
        if p is not None:
            p.array = get_rng().uniform(-bound, bound, size=p.shape).astype(p.dtype)
    return weight
