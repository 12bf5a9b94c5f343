"""The resizing layers, as torch's ``nn/modules/upsampling.py``: ``Upsample``, ``UpsamplingNearest2d``,
``UpsamplingBilinear2d``, each a call of :func:`minicnn.functional.interpolate`."""
from .. import functional as F
from ..kernels.upsample import MODES, TORCH_MODES
from .module import Module


def _scale_factor(layer, scale_factor):
    """torch's ``Upsample`` storage of ``scale_factor``: a tuple of floats, a float, or None for anything falsy."""
    try:
        if isinstance(scale_factor, tuple):
            return tuple(float(factor) for factor in scale_factor)
        return float(scale_factor) if scale_factor else None
    except (TypeError, ValueError):
        raise TypeError(f"{layer}: expected scale_factor as a number, a tuple of numbers or None, got "
                        f"{scale_factor!r}") from None


class Upsample(Module):
    """Resize the spatial dims, as ``torch.nn.Upsample(size=None, scale_factor=None, mode='nearest',
    align_corners=None, recompute_scale_factor=None)``: :func:`minicnn.functional.interpolate` with these
    arguments.  (N, C, L) -> (N, C, OL), (N, C, H, W) -> (N, C, OH, OW), (N, C, D, H, W) -> (N, C, OD, OH, OW)
    (modes ``'linear'``, ``'bilinear'``, ``'trilinear'`` for one rank each).

    The attributes are torch's (``scale_factor`` kept as a float or a tuple of floats, a falsy one as None);
    ``size`` and ``scale_factor`` (exactly one of them) are checked when the layer is called, as torch
    does; a mode minicnn does not compute is refused as the layer is built.
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        self.scale_factor = _scale_factor(self.name, scale_factor)
        if not isinstance(mode, str) or mode not in TORCH_MODES:
            raise ValueError(f"{self.name}: expected mode in {TORCH_MODES}, got {mode!r}")
        if mode not in MODES:
            raise ValueError(f"{self.name}: mode={mode!r} is not supported (minicnn computes mode "
                             f"{' / '.join(map(repr, MODES))})")
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')``, as ``torch.nn.UpsamplingNearest2d(size=None,
    scale_factor=None)``."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)``, as
    ``torch.nn.UpsamplingBilinear2d(size=None, scale_factor=None)``."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
