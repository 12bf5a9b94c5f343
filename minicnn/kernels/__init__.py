"""Kernels: pure functions ``forward(x, params) -> (out, cache)`` and
``backward(dout, cache) -> grads``, each with a naive version beside it.

The fast kernel and its naive twin share one contract (arguments, cache,
return values), so either can run under the same op.  :func:`use` switches
every op in :mod:`minicnn.functional` to the readable twins::

    with minicnn.kernels.use("naive"):
        loss = criterion(model(x), y)
        loss.backward()          # every forward and backward in plain numpy loops
"""
import contextlib
from types import SimpleNamespace

from .activation import relu_backward, relu_backward_naive, relu_forward, relu_forward_naive
from .conv import (col2im, conv2d_backward, conv2d_backward_naive, conv2d_forward,
                   conv2d_forward_naive, im2col, im2col_naive)
from .fused import (conv2d_relu_maxpool2d_backward, conv2d_relu_maxpool2d_backward_naive,
                    conv2d_relu_maxpool2d_forward, conv2d_relu_maxpool2d_forward_naive)
from .linear import linear_backward, linear_backward_naive, linear_forward, linear_forward_naive
from .loss import (cross_entropy_backward, cross_entropy_backward_naive, cross_entropy_forward,
                   cross_entropy_forward_naive, softmax_cross_entropy, softmax_cross_entropy_naive)
from .pool import (maxpool2d_backward, maxpool2d_backward_naive, maxpool2d_forward,
                   maxpool2d_forward_naive, maxunpool2d_backward, maxunpool2d_backward_naive, maxunpool2d_forward,
                   maxunpool2d_forward_naive)

_OPS = ("conv2d_forward", "conv2d_backward", "conv2d_relu_maxpool2d_forward", "conv2d_relu_maxpool2d_backward",
        "linear_forward", "linear_backward", "maxpool2d_forward", "maxpool2d_backward", "maxunpool2d_forward",
        "maxunpool2d_backward", "relu_forward", "relu_backward", "softmax_cross_entropy", "cross_entropy_forward",
        "cross_entropy_backward")

IMPLEMENTATIONS = {
    "fast": SimpleNamespace(**{op: globals()[op] for op in _OPS}),
    "naive": SimpleNamespace(**{op: globals()[f"{op}_naive"] for op in _OPS}),
}
_current = IMPLEMENTATIONS["fast"]


def current():
    """The kernels the ops run now: ``current().conv2d_forward(...)``."""
    return _current


@contextlib.contextmanager
def use(name):
    """Run every op on the ``"fast"`` kernels (the default) or their ``"naive"`` twins inside the block."""
    global _current
    if name not in IMPLEMENTATIONS:
        raise ValueError(f"kernels.use: expected one of {sorted(IMPLEMENTATIONS)}, got {name!r}")
    previous, _current = _current, IMPLEMENTATIONS[name]
    try:
        yield
    finally:
        _current = previous


__all__ = [
    "IMPLEMENTATIONS", "col2im", "conv2d_backward", "conv2d_backward_naive", "conv2d_forward",
    "conv2d_forward_naive", "conv2d_relu_maxpool2d_backward", "conv2d_relu_maxpool2d_backward_naive",
    "conv2d_relu_maxpool2d_forward", "conv2d_relu_maxpool2d_forward_naive", "cross_entropy_backward",
    "cross_entropy_backward_naive", "cross_entropy_forward", "cross_entropy_forward_naive", "current", "im2col",
    "im2col_naive", "linear_backward", "linear_backward_naive", "linear_forward", "linear_forward_naive",
    "maxpool2d_backward", "maxpool2d_backward_naive", "maxpool2d_forward", "maxpool2d_forward_naive",
    "maxunpool2d_backward", "maxunpool2d_backward_naive", "maxunpool2d_forward", "maxunpool2d_forward_naive",
    "relu_backward", "relu_backward_naive", "relu_forward", "relu_forward_naive", "softmax_cross_entropy",
    "softmax_cross_entropy_naive", "use",
]
