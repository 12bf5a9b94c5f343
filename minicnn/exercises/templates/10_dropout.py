"""Exercise 10: (inverted) dropout.

Read:  docs/backprop.md#dropout
Check: minicnn exercises check DIR dropout

In training, each element is kept with probability ``1 - p`` and the kept ones are scaled by
``1 / (1 - p)``, so the expected output is the input and evaluation needs no change.  The random draw is
not yours: ``keep`` arrives as a boolean mask (drawn by the layer), of x's number of dims, each dim x's
size or 1 (Dropout2d drops whole channels: a mask of shape (N, C, 1, 1)).  ``p = 1`` drops everything: the
output is zeros.

The contract (every kernel pair of minicnn keeps it, and the check grades it first):

- ``dropout_forward(x, p, keep)`` returns a tuple ``(out, cache)``.
- ``dropout_backward(dout, cache)`` returns the input's gradient, of the input's shape and dtype.
- Compute in the dtype you were given (float32 stays float32); never modify ``x``, ``keep`` or ``dout``, and
  never return one of them (or a view of one): return new arrays.
"""
import numpy as np


def dropout_forward(x, p, keep):
    """Inverted dropout with a given mask: ``out = x * keep / (1 - p)``.

    Parameters
    ----------
    x : ndarray, any shape, float32 or float64
    p : float in [0, 1], the probability that an element is dropped
    keep : bool ndarray broadcastable to x (same ndim; each dim x's size or 1)

    Returns
    -------
    out : ndarray, x's shape and dtype
    cache : what dropout_backward needs
    """
    raise NotImplementedError("exercise 10: write dropout_forward")


def dropout_backward(dout, cache):
    """The gradient of dropout (it is linear in x).

    Parameters
    ----------
    dout : ndarray, x's shape (not modified)
    cache : what dropout_forward returned

    Returns
    -------
    dx : ndarray, x's shape and dtype
    """
    raise NotImplementedError("exercise 10: write dropout_backward")
