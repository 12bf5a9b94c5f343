"""The padding layers, as torch's ``nn/modules/padding.py``: ``ZeroPad2d``, ``ConstantPad2d``,
``ReflectionPad2d``, ``ReplicationPad2d``, each a call of :func:`minicnn.functional.pad`."""
import numpy as np

from .. import functional as F
from ..kernels.padding import check_pad
from .module import Module


def _padding(layer, padding):
    """torch's ``_ntuple(4)``: an int is the same pad on all four sides; else 4 ints (left, right, top, bottom)."""
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, (bool, np.bool_)):
        return (int(padding),) * 4
    if not isinstance(padding, (tuple, list)) or len(padding) != 4:
        raise TypeError(f"{layer}: expected padding as an int or 4 ints (left, right, top, bottom), got {padding!r}")
    return tuple(int(p) if isinstance(p, (int, np.integer)) and not isinstance(p, bool) else p for p in padding)


class _Pad2d(Module):
    mode = None

    def __init__(self, padding, value=None):
        super().__init__()
        name = type(self).__name__
        self.padding = _padding(name, padding)
        check_pad(name, self.padding, self.mode, value)  # refused in the layer's name, as it is built
        self.value = value

    def forward(self, x):
        return F.pad(x, self.padding, self.mode, self.value)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(_Pad2d):
    """Zeros around the last two dims, as ``torch.nn.ZeroPad2d(padding)``: ``padding`` an int (all four sides)
    or ``(left, right, top, bottom)``; negative pads crop.  (N, C, H, W) or (C, H, W) ->
    (..., H + top + bottom, W + left + right)."""
    mode = "constant"

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ConstantPad2d(_Pad2d):
    """``value`` around the last two dims, as ``torch.nn.ConstantPad2d(padding, value)`` (``padding`` as
    :class:`ZeroPad2d`'s)."""
    mode = "constant"

    def __init__(self, padding, value):
        super().__init__(padding, value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ReflectionPad2d(_Pad2d):
    """The image mirrored at its edges (the edge pixel not repeated), as ``torch.nn.ReflectionPad2d(padding)``;
    each pad less than its dim.  (N, C, H, W) or (C, H, W)."""
    mode = "reflect"


class ReplicationPad2d(_Pad2d):
    """The edge pixels repeated outwards, as ``torch.nn.ReplicationPad2d(padding)``.  (N, C, H, W) or (C, H, W)."""
    mode = "replicate"
