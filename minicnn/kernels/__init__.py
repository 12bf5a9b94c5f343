"""Kernels: pure functions ``forward(x, params) -> (out, cache)`` and
``backward(dout, cache) -> grads``, each with a naive version beside it.

One file per subject (``conv.py``, ``conv_transpose.py``, ``pool.py``, ``avgpool.py``, ``norm.py``,
``activation.py``, ``linear.py``, ``loss.py``, ``fused.py``, ``padding.py``,
``pixel_shuffle.py``, ``upsample.py``); each ends with a
``KERNELS`` table keyed by torch's functional name (``kernels/registry.py``;
``upsample.py``'s by the ATen ops ``F.interpolate`` dispatches to),
and ``REGISTRY`` below is all of them.  Every kernel is also here by its own
name: ``kernels.max_pool2d_forward``, ``kernels.max_pool2d_forward_naive``, ...

The fast kernel and its naive twin share one contract (arguments, cache,
return values), so either can run under the same op.  :func:`use` switches
every op in :mod:`minicnn.functional` to the readable twins::

    with minicnn.kernels.use("naive"):
        loss = criterion(model(x), y)
        loss.backward()          # every forward and backward in plain numpy loops

It also takes your own functions for some of the names (the rest stay the
fast kernels): ``use({"relu_forward": my_forward, "relu_backward": my_backward})``
is how ``minicnn exercises check`` and ``minicnn train --kernels`` run a
learner's kernels inside minicnn's ops.
"""
import contextlib
import threading
import types
import warnings
from collections.abc import Mapping
from types import SimpleNamespace

from . import activation, avgpool, conv, conv_transpose, fused, linear, loss, norm, padding, pixel_shuffle, pool
from . import upsample
from .conv import col2im, im2col, im2col_naive
from .loss import softmax_cross_entropy, softmax_cross_entropy_naive
from .registry import Kernel

REGISTRY = {**conv.KERNELS, **conv_transpose.KERNELS, **fused.KERNELS, **linear.KERNELS, **pool.KERNELS,
            **avgpool.KERNELS, **norm.KERNELS, **activation.KERNELS, **loss.KERNELS, **padding.KERNELS,
            **pixel_shuffle.KERNELS, **upsample.KERNELS}
"""torch's functional name -> :class:`~minicnn.kernels.registry.Kernel` (fast pair and naive twins)."""


def _namespace(naive):
    """Both directions of every op, named ``<op>_forward`` / ``<op>_backward``, and the plain
    ``softmax_cross_entropy`` (loss and gradient at once): what ``current()`` returns."""
    return SimpleNamespace(**{f"{name}_{way}": getattr(kernel, f"{way}_naive" if naive else way)
                              for name, kernel in REGISTRY.items() for way in ("forward", "backward")},
                           softmax_cross_entropy=softmax_cross_entropy_naive if naive else softmax_cross_entropy)


IMPLEMENTATIONS = {"fast": _namespace(naive=False), "naive": _namespace(naive=True)}
_chosen = threading.local()  # use() is per thread, like no_grad: another thread keeps its own kernels

# every kernel by its own name, as the tests and the teaching text call them
_BY_NAME = {f"{name}_{way}{suffix}": getattr(kernel, way + suffix) for name, kernel in REGISTRY.items()
            for way in ("forward", "backward") for suffix in ("", "_naive")}
globals().update(_BY_NAME)

# the names these kernels had before they took torch's (one release of warnings, then gone)
_RENAMED = {"maxpool2d": "max_pool2d", "maxunpool2d": "max_unpool2d", "avgpool2d": "avg_pool2d",
            "adaptive_avgpool2d": "adaptive_avg_pool2d", "batchnorm": "batch_norm", "batchnorm_relu": "batch_norm_relu",
            "lrn": "local_response_norm", "mse": "mse_loss", "nll": "nll_loss",
            "bce_logits": "binary_cross_entropy_with_logits", "conv2d_relu_maxpool2d": "conv2d_relu_max_pool2d"}


def __getattr__(name):
    for old, new in _RENAMED.items():
        for tail in ("_forward", "_backward", "_forward_naive", "_backward_naive"):
            if name == old + tail:
                warnings.warn(f"minicnn.kernels.{name} is now {new}{tail} (torch's name)", DeprecationWarning,
                              stacklevel=2)
                return _BY_NAME[new + tail]
    raise AttributeError(f"module 'minicnn.kernels' has no attribute {name!r}")


def current():
    """The kernels the ops run now on this thread: ``current().conv2d_forward(...)``."""
    return getattr(_chosen, "kernels", IMPLEMENTATIONS["fast"])


@contextlib.contextmanager
def use(kernels):
    """Run every op on this thread on other kernels inside the block.

    Parameters
    ----------
    kernels : ``"fast"`` (the default), ``"naive"`` (the readable twins), or your own functions for some of
        the names of :func:`current` (``"relu_forward"``, ``"conv2d_backward"``, ...) over the fast set: a
        mapping name -> function, a ``SimpleNamespace``, or a module (its attributes with those names;
        the module's other attributes are left alone).  Override both directions of an op together: the
        backward is handed the cache the forward returned.

    Raises ValueError for an unknown name (naming it), TypeError for a value that is not callable.
    """
    chosen = _implementation(kernels)
    previous, _chosen.kernels = current(), chosen
    try:
        yield
    finally:
        _chosen.kernels = previous


def _implementation(kernels):
    """The namespace ``use(kernels)`` runs on (see :func:`use`)."""
    if isinstance(kernels, str):
        if kernels not in IMPLEMENTATIONS:
            raise ValueError(f"kernels.use: expected one of {sorted(IMPLEMENTATIONS)}, got {kernels!r} (or a mapping "
                             f"of kernel names to functions)")
        return IMPLEMENTATIONS[kernels]
    fast = vars(IMPLEMENTATIONS["fast"])
    if isinstance(kernels, types.ModuleType):
        overrides = {name: value for name, value in vars(kernels).items() if name in fast}
        if not overrides:
            raise ValueError(f"kernels.use: module {kernels.__name__} defines none of the kernel names "
                             f"(such as 'relu_forward', 'relu_backward')")
    elif isinstance(kernels, Mapping):
        overrides = dict(kernels)
    elif isinstance(kernels, SimpleNamespace):
        overrides = vars(kernels)
    else:
        raise TypeError(f"kernels.use: expected 'fast', 'naive', or a mapping of kernel names to functions, got "
                        f"{type(kernels).__name__}")
    bad_keys = [k for k in overrides if not isinstance(k, str)]
    if bad_keys:
        raise TypeError(f"kernels.use: expected kernel names as strings, got {bad_keys[0]!r}")
    unknown = sorted(set(overrides) - set(fast))
    if unknown:
        raise ValueError(f"kernels.use: no kernel named {', '.join(map(repr, unknown))}; expected names such as "
                         f"'relu_forward', 'relu_backward', 'conv2d_forward' (torch's op name, then _forward or "
                         f"_backward)")
    not_callable = sorted(name for name, value in overrides.items() if not callable(value))
    if not_callable:
        raise TypeError(f"kernels.use: expected a function for {not_callable[0]!r}, got "
                        f"{type(overrides[not_callable[0]]).__name__}")
    return SimpleNamespace(**{**fast, **overrides})


__all__ = ["IMPLEMENTATIONS", "Kernel", "REGISTRY", "col2im", "current", "im2col", "im2col_naive",
           "softmax_cross_entropy", "softmax_cross_entropy_naive", "use", *sorted(_BY_NAME)]
