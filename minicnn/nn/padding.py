"""The padding layers, as torch's ``nn/modules/padding.py``: ``ZeroPad2d``, ``ConstantPad2d``,
``ReflectionPad2d``, ``ReplicationPad2d``, ``CircularPad2d`` and their 3-D forms ``ZeroPad3d``,
``ConstantPad3d``, ``ReflectionPad3d``, ``ReplicationPad3d``, ``CircularPad3d``, each a call of
:func:`minicnn.functional.pad` (negative pads crop, in every mode, as there)."""
import numpy as np

from .. import functional as F
from ..kernels.padding import check_pad
from .module import Module

_SIDES = {4: "(left, right, top, bottom)", 6: "(left, right, top, bottom, front, back)"}


def _padding(layer, padding, sides):
    """torch's ``_ntuple(sides)``: an int is the same pad on every side; else ``sides`` ints, the last dim's pair
    first."""
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, (bool, np.bool_)):
        return (int(padding),) * sides
    if not isinstance(padding, (tuple, list)) or len(padding) != sides:
        raise TypeError(f"{layer}: expected padding as an int or {sides} ints {_SIDES[sides]}, got {padding!r}")
    return tuple(int(p) if isinstance(p, (int, np.integer)) and not isinstance(p, bool) else p for p in padding)


class _PadNd(Module):
    """A pad of the last ``sides // 2`` dims in ``mode``: ``padding`` kept as torch keeps it, checked as built."""
    mode, sides = None, None

    def __init__(self, padding, value=None):
        super().__init__()
        name = type(self).__name__
        self.padding = _padding(name, padding, self.sides)
        check_pad(name, self.padding, self.mode, value)  # refused in the layer's name, as it is built
        self.value = value

    def forward(self, x):
        return F.pad(x, self.padding, self.mode, self.value)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    mode = "constant"

    def __init__(self, padding, value):
        super().__init__(padding, value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad2d(_ConstantPadNd):
    """``value`` around the last two dims, as ``torch.nn.ConstantPad2d(padding, value)``: ``padding`` an int (all
    four sides) or ``(left, right, top, bottom)``; negative pads crop.  (N, C, H, W) or (C, H, W) ->
    (..., H + top + bottom, W + left + right)."""
    sides = 4


class ZeroPad2d(ConstantPad2d):
    """Zeros around the last two dims, as ``torch.nn.ZeroPad2d(padding)`` (``padding`` as
    :class:`ConstantPad2d`'s)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad2d(_PadNd):
    """The image mirrored at its edges (the edge pixel not repeated), as ``torch.nn.ReflectionPad2d(padding)``;
    each pad less than its dim.  (N, C, H, W) or (C, H, W)."""
    mode, sides = "reflect", 4


class ReplicationPad2d(_PadNd):
    """The edge pixels repeated outwards, as ``torch.nn.ReplicationPad2d(padding)``.  (N, C, H, W) or (C, H, W)."""
    mode, sides = "replicate", 4


class CircularPad2d(_PadNd):
    """The image wrapped around (the left pad copies the right edge), as ``torch.nn.CircularPad2d(padding)``;
    each pad at most its dim.  (N, C, H, W) or (C, H, W)."""
    mode, sides = "circular", 4


class ConstantPad3d(_ConstantPadNd):
    """``value`` around the last three dims, as ``torch.nn.ConstantPad3d(padding, value)``: ``padding`` an int
    (all six sides) or ``(left, right, top, bottom, front, back)``; negative pads crop.  (N, C, D, H, W) or
    (C, D, H, W) -> (..., D + front + back, H + top + bottom, W + left + right)."""
    sides = 6


class ZeroPad3d(ConstantPad3d):
    """Zeros around the last three dims, as ``torch.nn.ZeroPad3d(padding)`` (``padding`` as
    :class:`ConstantPad3d`'s)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad3d(_PadNd):
    """The volume mirrored at its faces (the edge cell not repeated), as ``torch.nn.ReflectionPad3d(padding)``;
    each pad less than its dim.  (N, C, D, H, W) or (C, D, H, W)."""
    mode, sides = "reflect", 6


class ReplicationPad3d(_PadNd):
    """The edge cells repeated outwards, as ``torch.nn.ReplicationPad3d(padding)``.  (N, C, D, H, W) or
    (C, D, H, W)."""
    mode, sides = "replicate", 6


class CircularPad3d(_PadNd):
    """The volume wrapped around in each of its last three dims, as ``torch.nn.CircularPad3d(padding)``; each pad
    at most its dim.  (N, C, D, H, W) or (C, D, H, W)."""
    mode, sides = "circular", 6
