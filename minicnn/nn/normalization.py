"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm``, ``GroupNorm``, ``InstanceNorm2d`` and
``LocalResponseNorm``, shaped like torch's."""
import warnings

import numpy as np

from .. import functional as F
from ..arguments import feature_count, number
from .module import Module, Parameter


class _RunningStats(Module):
    """What batch norm and instance norm share: the running statistics as buffers (``running_mean`` zeros,
    ``running_var`` ones, ``num_batches_tracked`` int64 0), or None each without ``track_running_stats``."""

    def _register_running_stats(self):
        c, track = self.num_features, self.track_running_stats
        self.register_buffer("running_mean", np.zeros(c, np.float32) if track else None)
        self.register_buffer("running_var", np.ones(c, np.float32) if track else None)
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64) if track else None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0


class _BatchNorm(_RunningStats):
    """Batch normalisation over the channel axis 1 (torch's ``_BatchNorm``).

    Parameters
    ----------
    num_features : int, C
    eps : float, default 1e-5, added to the variance
    momentum : number or None, default 0.1.  The running estimates move as
        ``running = (1 - momentum) * running + momentum * batch`` each training
        forward (any real number, as torch: negative or above 1 too); None makes
        them the cumulative average of every batch so far (the momentum of step t
        is 1/t, t = ``num_batches_tracked``).
    affine : bool, default True: learnable ``weight`` (ones) and ``bias`` (zeros)
    track_running_stats : bool, default True: buffers ``running_mean`` (zeros),
        ``running_var`` (ones, the *unbiased* batch variance is averaged in) and
        ``num_batches_tracked`` (int64 0-d); evaluation normalises with them.
        False: no buffers, and the batch's statistics are used in evaluation too.

    Training mode normalises with the batch's mean and (biased) variance over
    every axis but 1; evaluation mode with the running estimates.
    state_dict keys: ``weight``, ``bias``, ``running_mean``, ``running_var``, ``num_batches_tracked``.
    """
    _expected_dims = ()
    _function = staticmethod(F.batch_norm)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, bias=True):
        super().__init__()
        name = type(self).__name__
        self.num_features = feature_count(name, "num_features", num_features)
        if not (isinstance(eps, (int, float)) and eps > 0):
            raise ValueError(f"{name}: expected eps > 0, got {eps!r}")
        self.eps, self.momentum = float(eps), None if momentum is None else number(name, "momentum", momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        if self.affine:
            self.weight = Parameter(np.ones(self.num_features, np.float32))
        else:
            self.register_parameter("weight", None)
        if self.affine and bias:   # torch's keyword-only bias=False: a scale without a shift
            self.bias = Parameter(np.zeros(self.num_features, np.float32))
        else:
            self.register_parameter("bias", None)
        self._register_running_stats()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def _check_input(self, x):
        if x.ndim not in self._expected_dims:
            raise ValueError(f"{type(self).__name__}: expected a {' or '.join(f'{d}-D' for d in self._expected_dims)} "
                             f"input, got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected input with {self.num_features} channels, "
                             f"got shape {x.shape}")

    def forward(self, x):
        x = F.as_tensor(x, f"{type(self).__name__} input")
        self._check_input(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked[...] += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return self._function(x, self.running_mean if track else None, self.running_var if track else None,
                              self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) inputs, as ``torch.nn.BatchNorm1d`` (see :class:`_BatchNorm`)."""
    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) inputs, as ``torch.nn.BatchNorm2d`` (see :class:`_BatchNorm`)."""
    _expected_dims = (4,)


class BatchNormReLU2d(BatchNorm2d):
    """``ReLU()(BatchNorm2d(...)(x))`` as one layer, computed in one pass per channel (forward and backward).

    The same arguments, parameters and buffers as :class:`BatchNorm2d` (so its state_dict keys are batch
    norm's), the numbers of the two layers one after the other; in the spirit of torch's fused
    ``BNReLU2d``.  Shapes: (N, C, H, W) -> the same.
    """
    _function = staticmethod(F.batch_norm_relu)

    def extra_repr(self):
        return super().extra_repr() + ", relu=True"


class LayerNorm(Module):
    """Each sample normalised over its last dims, as ``torch.nn.LayerNorm(normalized_shape, eps=1e-5,
    elementwise_affine=True, bias=True)``: ``weight`` (ones) and ``bias`` (zeros) of ``normalized_shape``
    where ``elementwise_affine``.  Shapes: (*, *normalized_shape) -> the same."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else normalized_shape
        if not isinstance(shape, (tuple, list)) or not shape or \
                any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in shape):
            raise ValueError(f"LayerNorm: expected normalized_shape as an int or a non-empty tuple of ints >= 1, "
                             f"got {normalized_shape!r}")
        if not isinstance(eps, (float, int, np.floating, np.integer)) or isinstance(eps, bool):
            raise TypeError(f"LayerNorm: expected eps as a number, got {type(eps).__name__}")
        self.normalized_shape, self.eps = tuple(int(n) for n in shape), float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        self.weight = Parameter(np.ones(self.normalized_shape, np.float32)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, np.float32)) if elementwise_affine and bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """The C channels of each sample split into ``num_groups`` groups of consecutive channels, each group
    normalised over its values, then a per-channel ``weight`` (ones) and ``bias`` (zeros) where ``affine``
    (``bias=False``: the weight alone), as ``torch.nn.GroupNorm(num_groups, num_channels, eps=1e-5,
    affine=True, *, bias=True)``.  Shapes: (N, C, *) -> the same.  state_dict keys: ``weight``, ``bias``."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, *, bias=True):
        super().__init__()
        self.num_groups = feature_count("GroupNorm", "num_groups", num_groups)
        self.num_channels = feature_count("GroupNorm", "num_channels", num_channels)
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.eps, self.affine = number("GroupNorm", "eps", eps), bool(affine)
        self.weight = Parameter(np.ones(self.num_channels, np.float32)) if self.affine else None
        self.bias = Parameter(np.zeros(self.num_channels, np.float32)) if self.affine and bias else None

    def reset_parameters(self):
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class InstanceNorm2d(_RunningStats):
    """Each channel of each image normalised over its H x W values, as ``torch.nn.InstanceNorm2d(num_features,
    eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, *, bias=True)``: group norm with one
    channel per group (``F.instance_norm``).

    Parameters
    ----------
    num_features : int, C
    eps : number, default 1e-5, added to the variance (any number, as torch)
    momentum : number or None, default 0.1: ``running = (1 - momentum) * running + momentum * batch`` each
        training forward, ``batch`` the instances' means and unbiased variances averaged over the batch.
        None is torch's 0.0 here (the running statistics stay put; instance norm has no cumulative average)
    affine : bool, default False: learnable ``weight`` (ones) and ``bias`` (zeros; ``bias=False``: none)
    track_running_stats : bool, default False: buffers ``running_mean`` (zeros), ``running_var`` (ones) and
        ``num_batches_tracked`` (int64 0-d, which instance norm never counts up, as torch's); evaluation
        then normalises with the running statistics.  False: no buffers, each instance's own statistics in
        evaluation too.

    Shapes: (N, C, H, W) or unbatched (C, H, W) -> the same.  As torch, a channel count other than
    ``num_features`` is refused where ``affine`` and only warned about otherwise (the layer has nothing per
    channel then).  state_dict keys: ``weight``, ``bias`` (affine), ``running_mean``, ``running_var``,
    ``num_batches_tracked`` (track_running_stats).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, *,
                 bias=True):
        super().__init__()
        self.num_features = feature_count("InstanceNorm2d", "num_features", num_features)
        self.eps = number("InstanceNorm2d", "eps", eps)
        self.momentum = None if momentum is None else number("InstanceNorm2d", "momentum", momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        c = self.num_features
        self.weight = Parameter(np.ones(c, np.float32)) if self.affine else None
        self.bias = Parameter(np.zeros(c, np.float32)) if self.affine and bias else None
        self._register_running_stats()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, x):
        x = F.as_tensor(x, "InstanceNorm2d input")
        if x.ndim not in (3, 4):
            raise ValueError(f"InstanceNorm2d: expected a 3-D (unbatched) or 4-D (batched) input, got shape {x.shape}")
        dim = x.ndim - 3
        if x.shape[dim] != self.num_features:
            if self.affine:
                raise ValueError(f"InstanceNorm2d: expected input's size at dim={dim} to match num_features "
                                 f"({self.num_features}), but got: {x.shape[dim]}.")
            warnings.warn(f"InstanceNorm2d: input's size at dim={dim} does not match num_features. You can silence "
                          f"this warning by not passing in num_features, which is not used because affine=False",
                          stacklevel=2)
        if x.ndim == 3:
            out = self._instance_norm(x.reshape((1,) + x.shape))
            return out.reshape(out.shape[1:])
        return self._instance_norm(x)

    def _instance_norm(self, x):
        return F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                               self.training or not self.track_running_stats,
                               0.0 if self.momentum is None else self.momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class LocalResponseNorm(Module):
    """``x_c / (k + alpha / size * sum of x^2 over the size channels around c) ** beta``, as
    ``torch.nn.LocalResponseNorm`` (the window is zero-padded: ``size // 2`` channels before c,
    ``(size - 1) // 2`` after).  Shapes: (N, C, ...) with at least 3 dims -> the same."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = feature_count("LocalResponseNorm", "size", size)
        self.alpha, self.beta, self.k = float(alpha), float(beta), float(k)

    def forward(self, x):
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
