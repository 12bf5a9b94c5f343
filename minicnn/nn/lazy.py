"""Lazy layers, as torch's: ``LazyConv2d``, ``LazyLinear``, ``LazyBatchNorm2d`` learn their input size
from the first batch they see (d2l.ai builds every model this way).

Until then their parameters are :class:`UninitializedParameter` s without a shape, and they are in
``parameters()``, so an optimiser made before the first forward holds them.  The first forward builds
the layer the lazy one stands for (``Conv2d(in_channels=x.shape[1], ...)``, drawing its initial weights
as that layer does), gives each placeholder the real array in place (the same Parameter objects, now
plain Parameters), and turns the module into that layer (``type(m)`` is ``Conv2d`` from then on, as in
torch).  Shapes: as the layer it becomes.
"""
import numpy as np

from .conv import Conv2d
from .linear import Linear
from .module import Module, Parameter
from .normalization import BatchNorm2d


class UninitializedParameter(Parameter):
    """torch's ``nn.UninitializedParameter``: a Parameter whose shape is not known yet (its array is empty).

    ``materialize(array)`` gives it ``array`` (cast to its dtype) and makes it a plain Parameter, in place.
    """

    def __init__(self, dtype=np.float32):
        super().__init__(np.empty((0,), dtype))

    def materialize(self, array):
        self.array = np.array(array, dtype=self.dtype)
        self.__class__ = Parameter

    def __repr__(self):
        return "<UninitializedParameter>"


class LazyModuleMixin:
    """What the three lazy layers share: the placeholders, the pre-forward hook that infers the input
    size, and the switch to the real layer (``cls_to_become``)."""
    cls_to_become = None

    def _lazy_init(self, args, parameters, present, buffers=()):
        Module.__init__(self)
        self._lazy_args = args
        for name in parameters:
            setattr(self, name, UninitializedParameter() if name in present else None)
        for name in buffers:
            self.register_buffer(name, None)
        self._lazy_hook = self.register_forward_pre_hook(_infer_parameters)

    def extra_repr(self):
        """torch's: the real layer's, with the size not known yet as 0 (``LazyLinear(in_features=0, ...)``)."""
        name, stand_in = self._in_size_name
        real = self.cls_to_become(stand_in(self._lazy_args), **self._lazy_args)
        setattr(real, name, 0)
        return real.extra_repr()

    def has_uninitialized_params(self):
        return any(isinstance(p, UninitializedParameter) for p in self._parameters.values())

    def initialize_parameters(self, input):
        """Build the real layer for ``input``'s size and take its parameters, buffers and attributes."""
        shape = getattr(input, "shape", None)
        if shape is None:
            raise TypeError(f"{type(self).__name__}: expected a Tensor or ndarray input, got {type(input).__name__}")
        real = self.cls_to_become(self._in_size(tuple(shape)), **self._lazy_args)
        for name, value in vars(real).items():
            if not name.startswith("_") and name not in real._parameters and name not in real._buffers \
                    and name != "training":
                object.__setattr__(self, name, value)
        for name, p in real._parameters.items():
            if p is not None:
                self._parameters[name].materialize(p.array)
        for name, b in real._buffers.items():
            self.register_buffer(name, b, name not in real._non_persistent)


def _infer_parameters(module, args):
    """The pre-forward hook: initialise from the first input, then become the real layer."""
    module.initialize_parameters(args[0] if args else None)
    module._lazy_hook.remove()
    del module._lazy_hook, module._lazy_args
    module.__class__ = module.cls_to_become


class LazyConv2d(LazyModuleMixin, Conv2d):
    """``torch.nn.LazyConv2d(out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
    padding_mode='zeros')``: ``in_channels`` from the first input, (N, C, H, W) or unbatched (C, H, W)."""
    cls_to_become = Conv2d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros"):
        self._lazy_init(dict(out_channels=out_channels, kernel_size=kernel_size, stride=stride, padding=padding,
                             dilation=dilation, groups=groups, bias=bias, padding_mode=padding_mode),
                        ("weight", "bias"), ("weight", "bias") if bias else ("weight",))
        self.out_channels = out_channels

    def _in_size(self, shape):
        if len(shape) not in (3, 4):
            raise ValueError(f"LazyConv2d: expected a (N, C, H, W) or (C, H, W) input, got shape {shape}")
        return shape[1] if len(shape) == 4 else shape[0]

    _in_size_name = ("in_channels", lambda args: args["groups"])  # (a size the real layer accepts, for repr)


class LazyLinear(LazyModuleMixin, Linear):
    """``torch.nn.LazyLinear(out_features, bias=True)``: ``in_features`` is the first input's last dim."""
    cls_to_become = Linear

    def __init__(self, out_features, bias=True):
        self._lazy_init(dict(out_features=out_features, bias=bias), ("weight", "bias"),
                        ("weight", "bias") if bias else ("weight",))
        self.out_features = out_features

    def _in_size(self, shape):
        if len(shape) < 1:
            raise ValueError(f"LazyLinear: expected an input with a feature dim, got shape {shape}")
        return shape[-1]

    _in_size_name = ("in_features", lambda args: 0)


class LazyBatchNorm2d(LazyModuleMixin, BatchNorm2d):
    """``torch.nn.LazyBatchNorm2d(eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)``:
    ``num_features`` is the first input's channel count, (N, C, H, W)."""
    cls_to_become = BatchNorm2d

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        self._lazy_init(dict(eps=eps, momentum=momentum, affine=affine, track_running_stats=track_running_stats),
                        ("weight", "bias"), ("weight", "bias") if affine else (),
                        ("running_mean", "running_var", "num_batches_tracked"))

    def _in_size(self, shape):
        if len(shape) != 4:
            raise ValueError(f"LazyBatchNorm2d: expected a (N, C, H, W) input, got shape {shape}")
        return shape[1]

    _in_size_name = ("num_features", lambda args: 1)
