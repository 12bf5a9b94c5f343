"""Pooling layers, shaped like torch's: MaxPool2d, MaxUnpool2d, AvgPool2d, AdaptiveAvgPool2d,
AdaptiveMaxPool2d."""
import numpy as np

from .. import functional as F
from ..arguments import pool_stride
from ..kernels.checks import pair
from .module import Module


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
        self.stride = pair("MaxPool2d stride", pool_stride(stride, kernel_size), 1)
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


class AvgPool2d(Module):
    """Average pooling, as ``torch.nn.AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True, divisor_override=None)``; the windows and divisors follow torch's rules
    exactly (see ``minicnn/kernels/avgpool.py``).

    Shapes: (N, C, H, W) -> (N, C, OH, OW), ``OH = (H + 2*padding - kernel) // stride + 1`` (floor), or
    rounded up under ``ceil_mode`` without a window that would start in the right padding.
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = pair("AvgPool2d kernel_size", kernel_size, 1)
        self.stride = pair("AvgPool2d stride", pool_stride(stride, kernel_size), 1)
        self.padding = pair("AvgPool2d padding", padding, 0)
        if 2 * self.padding[0] > self.kernel_size[0] or 2 * self.padding[1] > self.kernel_size[1]:
            raise ValueError(f"AvgPool2d: expected padding at most half the kernel size {self.kernel_size}, "
                             f"got {self.padding}")
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                            self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed ``output_size`` (int, or a pair of ints or None = keep that size), as
    ``torch.nn.AdaptiveAvgPool2d``; output cell ``o`` of ``O`` averages rows ``floor(o*H/O)`` to
    ``ceil((o+1)*H/O)``.  ``AdaptiveAvgPool2d(1)`` is the global average pool of residual nets.

    Shapes: (N, C, H, W) -> (N, C, OH, OW).
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed ``output_size`` (int, or a pair of ints or None = keep that size), as
    ``torch.nn.AdaptiveMaxPool2d(output_size, return_indices=False)``; output cell ``o`` of ``O`` takes the max of
    rows ``floor(o*H/O)`` to ``ceil((o+1)*H/O)`` (:class:`AdaptiveAvgPool2d`'s windows), its first maximum in
    row-major order winning ties, as torch.  With ``return_indices`` the call returns ``(output, indices)``,
    indices an int64 Tensor of flat indices ``iy*W + ix`` for :class:`MaxUnpool2d`.

    Shapes: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW) (or (C, OH, OW)).
    """

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        if not isinstance(return_indices, (bool, np.bool_)):
            raise TypeError(f"AdaptiveMaxPool2d: expected return_indices as a bool, got {return_indices!r}")
        self.output_size, self.return_indices = output_size, bool(return_indices)

    def forward(self, x):
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"
