"""Exercise 1: the linear layer, ``y = x @ weight.T + bias``.

Read:  docs/backprop.md#linear
Check: minicnn exercises check DIR linear

The contract (every kernel pair of minicnn keeps it, and the check grades it first):

- ``linear_forward(...)`` returns a tuple ``(out, cache)``: the output, and whatever your backward needs.
- ``linear_backward(dout, cache, ...)`` returns the gradient of each array input, in the inputs' order,
  each of that input's shape and dtype.
- Compute in the dtype you were given (float32 stays float32); never modify an input or ``dout``, and
  never return one of them (or a view of one): return new arrays.

Then the check holds your backward to central differences of your own forward (float64), and both to
torch on drawn shapes and on torch's own OpInfo samples (1e-10 relative, float64).
"""
import numpy as np


def linear_forward(x, weight, bias=None):
    """The affine map, as ``torch.nn.functional.linear``: ``out[n, o] = sum_i x[n, i] * weight[o, i] + bias[o]``.

    Parameters
    ----------
    x : ndarray, shape (N, in_features), float32 or float64
    weight : ndarray, shape (out_features, in_features), x's dtype (torch's layout: out first)
    bias : ndarray, shape (out_features,), or None

    Returns
    -------
    out : ndarray, shape (N, out_features), x's dtype
    cache : what linear_backward needs
    """
    raise NotImplementedError("exercise 1: write linear_forward")


def linear_backward(dout, cache, need_input_grad=True):
    """Gradients of the affine map.

    Parameters
    ----------
    dout : ndarray, shape (N, out_features): d loss / d out (not modified)
    cache : what linear_forward returned
    need_input_grad : bool; False lets you skip dx (a network's first layer needs none)

    Returns
    -------
    dx : ndarray, shape (N, in_features) (or None when need_input_grad is False)
    dweight : ndarray, shape (out_features, in_features)
    dbias : ndarray, shape (out_features,), or None when the forward had no bias
    """
    raise NotImplementedError("exercise 1: write linear_backward")
