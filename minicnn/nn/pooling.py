"""Average pooling layers, shaped like torch's (MaxPool2d lives in layers.py)."""
from .. import functional as F
from ..kernels.checks import pair
from .module import Module


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
        self.stride = pair("AvgPool2d stride", kernel_size if stride is None else stride, 1)
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
