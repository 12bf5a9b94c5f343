"""Kernels: pure functions ``forward(x, params) -> (out, cache)`` and
``backward(dout, cache) -> grads``, each with a naive version beside it.

The layers in :mod:`minicnn.nn` are thin objects around these.
"""
from .activation import relu_backward, relu_backward_naive, relu_forward
from .conv import (col2im, conv2d_backward, conv2d_backward_naive, conv2d_forward,
                   conv2d_forward_naive, im2col, im2col_naive)
from .fused import (conv2d_relu_maxpool2d_backward, conv2d_relu_maxpool2d_forward,
                    conv2d_relu_maxpool2d_forward_naive)
from .linear import linear_backward, linear_backward_naive, linear_forward, linear_forward_naive
from .loss import softmax_cross_entropy
from .pool import (maxpool2d_backward, maxpool2d_backward_naive, maxpool2d_forward,
                   maxpool2d_forward_naive)

__all__ = [
    "col2im", "conv2d_backward", "conv2d_backward_naive", "conv2d_forward", "conv2d_forward_naive",
    "conv2d_relu_maxpool2d_backward", "conv2d_relu_maxpool2d_forward",
    "conv2d_relu_maxpool2d_forward_naive", "im2col", "im2col_naive", "linear_backward", "linear_backward_naive", "linear_forward",
    "linear_forward_naive", "maxpool2d_backward", "maxpool2d_backward_naive", "maxpool2d_forward",
    "maxpool2d_forward_naive", "relu_backward", "relu_backward_naive", "relu_forward",
    "softmax_cross_entropy",
]
