"""Exercise 4: 2-D max pooling.

Read:  docs/backprop.md#max-pool
Check: minicnn exercises check DIR max_pool2d

Each output is the maximum of its window; its gradient goes to that window's winner only.  The check
draws the hard cases: windows that overlap (stride < kernel), so one pixel can win several windows (it
gets the sum of their gradients); ties, where torch picks the *first* maximum in row-major order and only
it gets the gradient; stride > 1, odd sizes, and padding (padded cells are -inf: they never win).

The signature is torch's; this exercise covers ``kernel_size``, ``stride`` and ``padding`` (each an int or
a pair).  ``dilation`` stays 1 and ``ceil_mode`` False in every check: raise NotImplementedError for other
values if you like.

The contract (every kernel pair of minicnn keeps it, and the check grades it first):

- ``max_pool2d_forward(...)`` returns a tuple ``(out, cache)``: the output, and whatever your backward needs.
- ``max_pool2d_backward(dout, cache)`` returns the input's gradient, of the input's shape and dtype.
- Compute in the dtype you were given (float32 stays float32); never modify ``x`` or ``dout``, and never
  return one of them (or a view of one): return new arrays.
"""
import numpy as np


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling, as ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64
    kernel_size : int or (int, int): KH, KW
    stride : int or (int, int), default kernel_size: SH, SW
    padding : int or (int, int), at most half the kernel: PH, PW cells of -inf on each side
    dilation, ceil_mode : torch's; here 1 and False

    Returns
    -------
    out : ndarray, shape (N, C, OH, OW), x's dtype, ``OH = (H + 2*PH - KH) // SH + 1`` (OW alike)
    cache : what max_pool2d_backward needs
    """
    raise NotImplementedError("exercise 4: write max_pool2d_forward")


def max_pool2d_backward(dout, cache):
    """Route each output's gradient to its window's (first) maximum.

    Parameters
    ----------
    dout : ndarray, shape (N, C, OH, OW): d loss / d out (not modified)
    cache : what max_pool2d_forward returned

    Returns
    -------
    dx : ndarray, shape (N, C, H, W), the input's dtype
    """
    raise NotImplementedError("exercise 4: write max_pool2d_backward")
