"""Layers: thin objects around :mod:`minicnn.kernels`.

Each layer checks its input, calls the kernel, keeps the cache, and on
``backward`` hands the cache back to the kernel and accumulates the parameter
gradients.  The math lives in the kernels.
"""
import math

import numpy as np

from .. import kernels as K
from ..kernels._check import check_float_array, pair
from ..random import get_rng
from .module import Module, Parameter, is_grad_enabled


def _positive_int(layer, name, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{layer}: expected {name} as an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{layer}: expected {name} >= 1, got {value}")
    return int(value)


def _uniform(shape, bound, dtype=np.float32):
    return get_rng().uniform(-bound, bound, size=shape).astype(dtype)


class _CachingModule(Module):
    """A module whose backward needs what its last forward cached (dropped under ``no_grad()``)."""

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "_cache", None)

    def _keep(self, cache):
        self._cache = cache if is_grad_enabled() else None

    def _take_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}: backward called before forward "
                               f"(or the forward ran under no_grad())")
        return self._cache


class Conv2d(_CachingModule):
    """2-D convolution, as ``torch.nn.Conv2d``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride : int or (int, int), default 1
    padding : int or (int, int), default 0
    bias : bool, default True

    Shapes: input (N, in_channels, H, W) -> output (N, out_channels, OH, OW);
    ``weight`` (out_channels, in_channels, KH, KW), ``bias`` (out_channels,).
    Initialised as torch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels*KH*KW.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.in_channels = _positive_int("Conv2d", "in_channels", in_channels)
        self.out_channels = _positive_int("Conv2d", "out_channels", out_channels)
        self.kernel_size = pair("Conv2d kernel_size", kernel_size, 1)
        self.stride = pair("Conv2d stride", stride, 1)
        self.padding = pair("Conv2d padding", padding, 0)
        self.weight = Parameter(np.empty((out_channels, in_channels, *self.kernel_size), np.float32))
        self.bias = Parameter(np.empty(out_channels, np.float32)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
        self.weight.data = _uniform(self.weight.shape, bound)
        if self.bias is not None:
            self.bias.data = _uniform(self.bias.shape, bound)

    def _check_input(self, x):
        name = type(self).__name__
        check_float_array(f"{name} input", x, 4)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{name}: expected input with {self.in_channels} channels, got shape {x.shape}")
        if x.dtype != self.weight.data.dtype:
            raise TypeError(f"{name}: expected input of dtype {self.weight.data.dtype} (the weight's), "
                            f"got {x.dtype}")

    def forward(self, x):
        self._check_input(x)
        bias = self.bias.data if self.bias is not None else None
        out, cache = K.conv2d_forward(x, self.weight.data, bias, self.stride, self.padding)
        self._keep(cache)
        return out

    def backward(self, grad_out, need_input_grad=True):
        """Accumulate ``weight.grad``/``bias.grad``; return d loss / d input (None if not needed)."""
        dx, dw, db = K.conv2d_backward(grad_out, self._take_cache(), need_input_grad)
        self.weight.accumulate_grad(dw)
        if self.bias is not None:
            self.bias.accumulate_grad(db)
        return dx

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


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

    def forward(self, x):
        self._check_input(x)
        out, cache = K.conv2d_relu_maxpool2d_forward(x, self.weight.data, self.bias.data, self.padding)
        self._keep(cache)
        return out

    def backward(self, grad_out, need_input_grad=True):
        dx, dw, db = K.conv2d_relu_maxpool2d_backward(grad_out, self._take_cache(), need_input_grad)
        self.weight.accumulate_grad(dw)
        self.bias.accumulate_grad(db)
        return dx

    def extra_repr(self):
        return super().extra_repr() + ", relu=True, max_pool=2"


class Linear(_CachingModule):
    """Fully connected layer, as ``torch.nn.Linear``: ``y = x @ weight.T + bias``.

    Shapes: input (N, in_features) -> output (N, out_features);
    ``weight`` (out_features, in_features), ``bias`` (out_features,).
    Initialised as torch: U(-1/sqrt(in_features), 1/sqrt(in_features)).
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = _positive_int("Linear", "in_features", in_features)
        self.out_features = _positive_int("Linear", "out_features", out_features)
        self.weight = Parameter(np.empty((out_features, in_features), np.float32))
        self.bias = Parameter(np.empty(out_features, np.float32)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight.data = _uniform(self.weight.shape, bound)
        if self.bias is not None:
            self.bias.data = _uniform(self.bias.shape, bound)

    def forward(self, x):
        check_float_array("Linear input", x, 2)
        if x.shape[1] != self.in_features:
            raise ValueError(f"Linear: expected input with {self.in_features} features, got shape {x.shape}")
        if x.dtype != self.weight.data.dtype:
            raise TypeError(f"Linear: expected input of dtype {self.weight.data.dtype} (the weight's), "
                            f"got {x.dtype}")
        bias = self.bias.data if self.bias is not None else None
        out, cache = K.linear_forward(x, self.weight.data, bias)
        self._keep(cache)
        return out

    def backward(self, grad_out, need_input_grad=True):
        dx, dw, db = K.linear_backward(grad_out, self._take_cache(), need_input_grad)
        self.weight.accumulate_grad(dw)
        if self.bias is not None:
            self.bias.accumulate_grad(db)
        return dx

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(_CachingModule):
    """``max(x, 0)`` elementwise; any shape."""

    def forward(self, x):
        out, cache = K.relu_forward(x)
        self._keep(cache)
        return out

    def backward(self, grad_out):
        return K.relu_backward(grad_out, self._take_cache())


class MaxPool2d(_CachingModule):
    """Max pooling, as ``torch.nn.MaxPool2d(kernel_size, stride=None, padding=0)``.

    Shapes: (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2*padding - kernel) // stride + 1.
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = pair("MaxPool2d kernel_size", kernel_size, 1)
        self.stride = pair("MaxPool2d stride", kernel_size if stride is None else stride, 1)
        self.padding = pair("MaxPool2d padding", padding, 0)
        if 2 * self.padding[0] > self.kernel_size[0] or 2 * self.padding[1] > self.kernel_size[1]:
            raise ValueError(f"MaxPool2d: expected padding at most half the kernel size "
                             f"{self.kernel_size}, got {self.padding}")

    def forward(self, x):
        out, cache = K.maxpool2d_forward(x, self.kernel_size, self.stride, self.padding)
        self._keep(cache)
        return out

    def backward(self, grad_out):
        return K.maxpool2d_backward(grad_out, self._take_cache())

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Flatten(_CachingModule):
    """(N, d1, d2, ...) -> (N, d1*d2*...), as ``torch.nn.Flatten()``."""

    def forward(self, x):
        check_float_array("Flatten input", x)
        if x.ndim < 2:
            raise ValueError(f"Flatten: expected at least a 2-D (N, ...) input, got shape {x.shape}")
        self._keep((x.shape, x.dtype))
        return x.reshape(x.shape[0], -1).copy()

    def backward(self, grad_out):
        shape, dtype = self._take_cache()
        K._check.check_grad("Flatten backward", grad_out, (shape[0], int(np.prod(shape[1:]))), dtype)
        return grad_out.reshape(shape).copy()


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

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def backward(self, grad_out, need_input_grad=True):
        mods = list(self._modules.values())
        for i, m in enumerate(reversed(mods)):
            first = i == len(mods) - 1
            if first and not need_input_grad and isinstance(m, (Conv2d, Linear)):
                return m.backward(grad_out, need_input_grad=False)
            grad_out = m.backward(grad_out)
        return grad_out
