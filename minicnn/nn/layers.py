"""Layers: thin Modules around :mod:`minicnn.functional`.

A layer holds its Parameters and hyperparameters and calls the functional op;
the op records itself on the graph, so the layer has no backward of its own,
and one instance may be called any number of times in a forward.
"""
import math

import numpy as np

from .. import functional as F
from ..autograd.tensor import flatten_dims
from ..kernels.checks import pair
from ..kernels.conv import conv_padding
from ..kernels.padding import MODES as PADDING_MODES
from ..random import get_rng
from .module import Module, Parameter


def _positive_int(layer, name, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{layer}: expected {name} as an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{layer}: expected {name} >= 1, got {value}")
    if value > _MAX_FEATURES:  # numpy cannot even make such an array ("Maximum allowed dimension exceeded")
        raise ValueError(f"{layer}: expected {name} <= {_MAX_FEATURES}, got {value}")
    return int(value)


_MAX_FEATURES = 2**63 - 1


class _WeightBias(Module):
    """A layer with ``weight`` and an optional ``bias``, initialised as torch does:
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both, fan_in = weight[0].size."""

    def _make_parameters(self, weight_shape, bias):
        self.weight = Parameter(np.empty(weight_shape, np.float32))
        self.bias = Parameter(np.empty(weight_shape[0], np.float32)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """Draw fresh weights from minicnn's seeded generator, in the parameters' current dtype."""
        bound = 1.0 / math.sqrt(self.weight.data[0].size)
        for p in (self.weight, self.bias):
            if p is not None:
                p.data = get_rng().uniform(-bound, bound, size=p.shape).astype(p.dtype)


class Conv2d(_WeightBias):
    """2-D convolution, as ``torch.nn.Conv2d``.

    Parameters
    ----------
    in_channels, out_channels : int, both divisible by ``groups``
    kernel_size : int or (int, int)
    stride : int or (int, int), default 1
    padding : int, (int, int), ``'valid'`` or ``'same'`` (stride 1 only), default 0
    dilation : int or (int, int), default 1
    groups : int, default 1 (``groups=in_channels``: depthwise)
    bias : bool, default True
    padding_mode : ``'zeros'`` (default), ``'reflect'``, ``'replicate'`` or ``'circular'``

    Shapes: input (N, in_channels, H, W) or (in_channels, H, W) -> output (N, out_channels, OH, OW)
    (or (out_channels, OH, OW)); ``weight`` (out_channels, in_channels / groups, KH, KW), ``bias`` (out_channels,).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros"):
        super().__init__()
        name = type(self).__name__  # (Conv2dReLUMaxPool2d refuses in its own name)
        self.in_channels = _positive_int(name, "in_channels", in_channels)
        self.out_channels = _positive_int(name, "out_channels", out_channels)
        self.kernel_size = pair(f"{name} kernel_size", kernel_size, 1)
        self.stride = pair(f"{name} stride", stride, 1)
        self.dilation = pair(f"{name} dilation", dilation, 1)
        self.groups = _positive_int(name, "groups", groups)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{name}: expected in_channels ({self.in_channels}) and out_channels "
                             f"({self.out_channels}) divisible by groups ({self.groups})")
        if isinstance(padding, str):
            # refuses what torch refuses, in torch's words for Conv2d ("conv2d: padding='same' ...")
            conv_padding(padding, self.kernel_size, self.dilation, self.stride, "conv2d" if name == "Conv2d" else name)
            self.padding = padding
        else:
            self.padding = pair(f"{name} padding", padding, 0)
        if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
            raise ValueError(f"{name}: expected padding_mode in {tuple(PADDING_MODES)}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        self._make_parameters((self.out_channels, self.in_channels // self.groups, *self.kernel_size), bias)

    def forward(self, x):
        return F.conv2d_padded(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
                               self.padding_mode)

    def extra_repr(self):
        extra = "".join(f", {name}={getattr(self, name)!r}" for name, default in
                        (("dilation", (1, 1)), ("groups", 1), ("padding_mode", "zeros"))
                        if getattr(self, name) != default)
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}{extra}, bias={self.bias is not None}")


class Conv2dReLUMaxPool2d(Conv2d):
    """``MaxPool2d(2)(ReLU()(Conv2d(...)(x)))`` as one layer, computed by the fused kernel.

    The same parameters as :class:`Conv2d` (so ``weight``/``bias`` keep their
    state_dict names) with stride 1; the activation and 2x2 pool are fused into
    the pass that follows the convolution's GEMM (see ``kernels/fused.py``).
    In the spirit of torch's fused ``ConvReLU2d`` modules.

    Shapes: (N, in_channels, H, W) -> (N, out_channels, OH // 2, OW // 2).
    """

    def __init__(self, in_channels, out_channels, kernel_size, padding=0):
        super().__init__(in_channels, out_channels, kernel_size, stride=1, padding=padding, bias=True)
        if isinstance(self.padding, str):  # 'same'/'valid': the fused kernel takes symmetric (h, w) padding
            pt, pb, pl, pr = conv_padding(self.padding, self.kernel_size, self.dilation, self.stride)
            if pt != pb or pl != pr:
                raise ValueError(f"Conv2dReLUMaxPool2d: padding={padding!r} pads an even kernel "
                                 f"{self.kernel_size} unevenly; the fused kernel needs symmetric padding")
            self.padding = (pt, pl)

    def forward(self, x):
        return F.conv2d_relu_max_pool2d(x, self.weight, self.bias, self.padding)

    def extra_repr(self):
        return super().extra_repr() + ", relu=True, max_pool=2"


class Linear(_WeightBias):
    """Fully connected layer, as ``torch.nn.Linear``: ``y = x @ weight.T + bias``.

    Shapes: input (*, in_features) (any leading dims, including none) -> output (*, out_features);
    ``weight`` (out_features, in_features), ``bias`` (out_features,) (None with ``bias=False``).
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = _positive_int("Linear", "in_features", in_features)
        self.out_features = _positive_int("Linear", "out_features", out_features)
        self._make_parameters((self.out_features, self.in_features), bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(Module):
    """``max(x, 0)`` elementwise; any shape."""

    def forward(self, x):
        return F.relu(x)


class MaxPool2d(Module):
    """Max pooling, as ``torch.nn.MaxPool2d(kernel_size, stride=None, padding=0, dilation=1,
    return_indices=False, ceil_mode=False)``.

    Shapes: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW) (or (C, OH, OW)),
    OH = (H + 2*padding - dilation*(kernel - 1) - 1) // stride + 1 (rounded up with ``ceil_mode``,
    while the last window starts inside the input or its left padding).  With ``return_indices``
    the call returns ``(output, indices)``, indices an int64 Tensor for :class:`MaxUnpool2d`.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = pair("MaxPool2d kernel_size", kernel_size, 1)
        self.stride = pair("MaxPool2d stride", kernel_size if stride is None else stride, 1)
        self.padding = pair("MaxPool2d padding", padding, 0)
        self.dilation = pair("MaxPool2d dilation", dilation, 1)
        if 2 * self.padding[0] > self.kernel_size[0] or 2 * self.padding[1] > self.kernel_size[1]:
            raise ValueError(f"MaxPool2d: expected padding at most half the kernel size "
                             f"{self.kernel_size}, got {self.padding}")
        for name, flag in (("return_indices", return_indices), ("ceil_mode", ceil_mode)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"MaxPool2d: expected {name} as a bool, got {flag!r}")
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxUnpool2d(Module):
    """The partial inverse of :class:`MaxPool2d`, as ``torch.nn.MaxUnpool2d(kernel_size, stride=None,
    padding=0)``: ``unpool(output, indices, output_size=None)`` puts each value back at its index.

    Shapes: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW) (or (C, OH, OW)),
    OH = (H - 1)*stride - 2*padding + kernel unless ``output_size`` says otherwise.
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = pair("MaxUnpool2d kernel_size", kernel_size, 1)
        self.stride = pair("MaxUnpool2d stride", kernel_size if stride is None else stride, 1)
        self.padding = pair("MaxUnpool2d padding", padding, 0)

    def forward(self, x, indices, output_size=None):
        return F.max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


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


class Sequential(Module):
    """Modules applied in order; state_dict keys ``0.weight``, ``1.bias``… as torch."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: expected Module arguments, got {type(m).__name__} at {i}")
            setattr(self, str(i), m)

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(Module):
    """A list of Modules, registered under ``0``, ``1``… (``torch.nn.ModuleList``); it has no forward."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __iter__(self):
        return iter(self._modules.values())
