"""Convolution layers: ``Conv2d`` (torch's full signature) and the fused ``Conv2dReLUMaxPool2d``.

A layer holds its Parameters and hyperparameters and calls the functional op;
the op records itself on the graph, so the layer has no backward of its own,
and one instance may be called any number of times in a forward.
"""
import numpy as np

from .. import functional as F
from ..arguments import feature_count
from ..kernels.checks import pair
from ..kernels.conv import conv_padding
from ..kernels.padding import MODES as PADDING_MODES
from . import init
from .module import Module, Parameter


class Conv2d(Module):
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
        self.in_channels = feature_count(name, "in_channels", in_channels)
        self.out_channels = feature_count(name, "out_channels", out_channels)
        self.kernel_size = pair(f"{name} kernel_size", kernel_size, 1)
        self.stride = pair(f"{name} stride", stride, 1)
        self.dilation = pair(f"{name} dilation", dilation, 1)
        self.groups = feature_count(name, "groups", groups)
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
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels // self.groups, *self.kernel_size),
                                         np.float32))
        self.bias = Parameter(np.empty(self.out_channels, np.float32)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """Fresh weights from minicnn's seeded generator, as torch: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.fan_in_uniform_(self.weight, self.bias)

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
