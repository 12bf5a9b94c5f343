"""Convolution layers: ``Conv2d`` (torch's full signature), ``ConvTranspose2d`` and the fused ``Conv2dReLUMaxPool2d``.

A layer holds its Parameters and hyperparameters and calls the functional op;
the op records itself on the graph, so the layer has no backward of its own,
and one instance may be called any number of times in a forward.
"""
import numpy as np

from .. import functional as F
from ..arguments import feature_count
from ..kernels.checks import pair
from ..kernels.conv import conv_padding
from ..kernels.conv_transpose import output_hw
from ..kernels.padding import MODES as PADDING_MODES
from . import init
from .module import Module, Parameter


def conv_repr(layer):
    """torch's ``_ConvNd.extra_repr``: the sizes, then each argument only where it is not its default."""
    s = f"{layer.in_channels}, {layer.out_channels}, kernel_size={layer.kernel_size}, stride={layer.stride}"
    for name, default in (("padding", (0, 0)), ("dilation", (1, 1)), ("output_padding", (0, 0)), ("groups", 1)):
        if getattr(layer, name, default) != default:
            s += f", {name}={getattr(layer, name)}"
    s += ", bias=False" if layer.bias is None else ""
    return s + (f", padding_mode={layer.padding_mode}" if getattr(layer, "padding_mode", "zeros") != "zeros" else "")


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
        return conv_repr(self)


class ConvTranspose2d(Module):
    """2-D transposed convolution, as ``torch.nn.ConvTranspose2d``: the input gradient of a ``Conv2d`` with the
    same weight, run forward (``kernels/conv_transpose.py``), so that its own input gradient is that
    ``Conv2d``'s forward and its weight gradient that ``Conv2d``'s weight gradient with the roles swapped.

    Parameters
    ----------
    in_channels, out_channels : int, both divisible by ``groups``
    kernel_size : int or (int, int)
    stride : int or (int, int), default 1
    padding : int or (int, int), default 0: ``dilation * (kernel_size - 1) - padding`` zeros on each side, i.e.
        ``padding`` rows and columns cut off each side of the full output
    output_padding : int or (int, int), default 0: rows (columns) added at the bottom (right), smaller than
        ``stride`` or ``dilation`` (checked in the forward, as torch)
    groups : int, default 1
    bias : bool, default True
    dilation : int or (int, int), default 1
    padding_mode : ``'zeros'`` only, as torch

    Shapes: input (N, in_channels, H, W) or (in_channels, H, W) -> output (N, out_channels, OH, OW) (or
    (out_channels, OH, OW)), ``OH = (H - 1)*stride - 2*padding + dilation*(KH - 1) + output_padding + 1``;
    ``weight`` (in_channels, out_channels / groups, KH, KW) (torch's layout), ``bias`` (out_channels,).
    ``forward(input, output_size=None)``: an ``output_size`` ((OH, OW), or with the leading dims) picks the
    output padding that gives it, as torch.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros"):
        super().__init__()
        name = "ConvTranspose2d"
        if not isinstance(padding_mode, str) or padding_mode != "zeros":
            raise ValueError(f'{name}: only "zeros" padding mode is supported, got padding_mode={padding_mode!r}')
        self.in_channels = feature_count(name, "in_channels", in_channels)
        self.out_channels = feature_count(name, "out_channels", out_channels)
        self.kernel_size = pair(f"{name} kernel_size", kernel_size, 1)
        self.stride = pair(f"{name} stride", stride, 1)
        self.padding = pair(f"{name} padding", padding, 0)
        self.output_padding = pair(f"{name} output_padding", output_padding, 0)
        self.dilation = pair(f"{name} dilation", dilation, 1)
        self.groups = feature_count(name, "groups", groups)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{name}: expected in_channels ({self.in_channels}) and out_channels "
                             f"({self.out_channels}) divisible by groups ({self.groups})")
        self.padding_mode = padding_mode
        self.weight = Parameter(np.empty((self.in_channels, self.out_channels // self.groups, *self.kernel_size),
                                         np.float32))
        self.bias = Parameter(np.empty(self.out_channels, np.float32)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """Fresh weights from minicnn's seeded generator, as torch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with torch's
        ``fan_in`` of this weight, ``(out_channels / groups) * KH * KW`` (its dim 1 and the kernel)."""
        init.fan_in_uniform_(self.weight, self.bias)

    def forward(self, input, output_size=None):
        input = F.as_tensor(input, "ConvTranspose2d input")
        output_padding = self.output_padding if output_size is None else self._output_padding(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation)

    def _output_padding(self, input, output_size):
        """The ``output_padding`` that makes the output ``output_size`` ((OH, OW), or the output's whole shape),
        torch's ``_output_padding``: each size must lie within ``stride - 1`` above the smallest output."""
        name = "ConvTranspose2d"
        if not isinstance(output_size, (tuple, list)) or not all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in output_size):
            raise TypeError(f"{name}: expected output_size as a sequence of ints, got {output_size!r}")
        if input.ndim not in (3, 4):
            raise ValueError(f"{name}: expected a 3-D (unbatched) or 4-D (batched) input, got shape {input.shape}")
        leading = input.ndim - 2
        size = tuple(int(v) for v in output_size)
        size = size[leading:] if len(size) == leading + 2 else size
        if len(size) != 2:
            raise ValueError(f"{name}: for {input.ndim}D input, output_size must have 2 or {leading + 2} elements "
                             f"(got {len(output_size)})")
        smallest = output_hw(input.shape[-2:], self.kernel_size, self.stride, self.padding, (0, 0), self.dilation)
        largest = tuple(smallest[a] + self.stride[a] - 1 for a in (0, 1))
        if any(not smallest[a] <= size[a] <= largest[a] for a in (0, 1)):
            raise ValueError(f"{name}: requested an output size of {size}, but valid sizes range from "
                             f"{list(smallest)} to {list(largest)} (for an input of {tuple(input.shape[-2:])})")
        return tuple(size[a] - smallest[a] for a in (0, 1))

    def extra_repr(self):
        return conv_repr(self)


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
