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
import threading
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

# the toolbox: normalisation, average pooling, more activations and losses, dropout
from .activation import (dropout_backward, dropout_backward_naive, dropout_forward, dropout_forward_naive,  # noqa: E402
                         leaky_relu_backward, leaky_relu_backward_naive, leaky_relu_forward,
                         leaky_relu_forward_naive, log_softmax_backward, log_softmax_backward_naive,
                         log_softmax_forward, log_softmax_forward_naive, sigmoid_backward, sigmoid_backward_naive,
                         sigmoid_forward, sigmoid_forward_naive, softmax_backward, softmax_backward_naive,
                         softmax_forward, softmax_forward_naive, tanh_backward, tanh_backward_naive, tanh_forward,
                         tanh_forward_naive)
from .avgpool import (adaptive_avgpool2d_backward, adaptive_avgpool2d_backward_naive,  # noqa: E402
                      adaptive_avgpool2d_forward, adaptive_avgpool2d_forward_naive, avgpool2d_backward,
                      avgpool2d_backward_naive, avgpool2d_forward, avgpool2d_forward_naive)
from .loss_extra import (bce_logits_backward, bce_logits_backward_naive, bce_logits_forward,  # noqa: E402
                         bce_logits_forward_naive, mse_backward, mse_backward_naive, mse_forward, mse_forward_naive,
                         nll_backward, nll_backward_naive, nll_forward, nll_forward_naive)
from .norm import (batchnorm_backward, batchnorm_backward_naive, batchnorm_forward,  # noqa: E402
                   batchnorm_forward_naive, batchnorm_relu_backward, batchnorm_relu_backward_naive,
                   batchnorm_relu_forward, batchnorm_relu_forward_naive, lrn_backward, lrn_backward_naive,
                   lrn_forward, lrn_forward_naive)

TOOLBOX_OPS = tuple(f"{name}_{way}" for name in (
    "batchnorm", "batchnorm_relu", "lrn", "avgpool2d", "adaptive_avgpool2d", "sigmoid", "tanh", "leaky_relu", "softmax",
    "log_softmax", "dropout", "mse", "nll", "bce_logits") for way in ("forward", "backward"))
_OPS = _OPS + TOOLBOX_OPS

IMPLEMENTATIONS = {
    "fast": SimpleNamespace(**{op: globals()[op] for op in _OPS}),
    "naive": SimpleNamespace(**{op: globals()[f"{op}_naive"] for op in _OPS}),
}
_chosen = threading.local()  # use() is per thread, like no_grad: another thread keeps its own kernels


def current():
    """The kernels the ops run now on this thread: ``current().conv2d_forward(...)``."""
    return getattr(_chosen, "kernels", IMPLEMENTATIONS["fast"])


@contextlib.contextmanager
def use(name):
    """Run every op on this thread on the ``"fast"`` kernels (the default) or their ``"naive"`` twins inside
    the block."""
    if name not in IMPLEMENTATIONS:
        raise ValueError(f"kernels.use: expected one of {sorted(IMPLEMENTATIONS)}, got {name!r}")
    previous, _chosen.kernels = current(), IMPLEMENTATIONS[name]
    try:
        yield
    finally:
        _chosen.kernels = previous


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
    *TOOLBOX_OPS, *(f"{op}_naive" for op in TOOLBOX_OPS),
]
