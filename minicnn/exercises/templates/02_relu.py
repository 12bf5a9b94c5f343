"""Exercise 2: ReLU, ``y = max(x, 0)``.

Read:  docs/backprop.md#relu
Check: minicnn exercises check DIR relu

The contract (every kernel pair of minicnn keeps it, and the check grades it first):

- ``relu_forward(x)`` returns a tuple ``(out, cache)``: the output, and whatever your backward needs.
- ``relu_backward(dout, cache)`` returns the input's gradient, of the input's shape and dtype.
- Compute in the dtype you were given (float32 stays float32); never modify ``x`` or ``dout``, and never
  return one of them (or a view of one): return new arrays.

At x == 0 ReLU has a kink and no derivative; torch (and minicnn) use 0 there, and the check draws inputs
with exact zeros.
"""
import numpy as np


def relu_forward(x):
    """``out = max(x, 0)`` elementwise, as ``torch.relu``.

    Parameters
    ----------
    x : ndarray, any shape, float32 or float64

    Returns
    -------
    out : ndarray, x's shape and dtype (a new array)
    cache : what relu_backward needs
    """
    raise NotImplementedError("exercise 2: write relu_forward")


def relu_backward(dout, cache):
    """The gradient of ReLU.

    Parameters
    ----------
    dout : ndarray, the input's shape: d loss / d out (not modified)
    cache : what relu_forward returned

    Returns
    -------
    dx : ndarray, the input's shape and dtype
    """
    raise NotImplementedError("exercise 2: write relu_backward")
