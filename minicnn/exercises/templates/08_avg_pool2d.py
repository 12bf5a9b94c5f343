"""Exercise 8: 2-D average pooling.

Read:  docs/backprop.md#average-pooling
Check: minicnn exercises check DIR avg_pool2d

Each output is the mean of its window; its gradient is shared evenly by the window's cells
(``dout / divisor`` each), and where windows overlap the shares add up.  With padding, torch's divisor is
the window's full size (``count_include_pad=True``, the default: padded zeros count) or the number of
real input cells in it (``count_include_pad=False``); the check draws both.

The signature is torch's; ``ceil_mode`` stays False and ``divisor_override`` None in every check.

The contract (every kernel pair of minicnn keeps it, and the check grades it first):

- ``avg_pool2d_forward(...)`` returns a tuple ``(out, cache)``.
- ``avg_pool2d_backward(dout, cache)`` returns the input's gradient, of the input's shape and dtype.
- Compute in the dtype you were given (float32 stays float32); never modify ``x`` or ``dout``, and never
  return one of them (or a view of one): return new arrays.
"""
import numpy as np


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                       divisor_override=None):
    """Average pooling, as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64
    kernel_size : int or (int, int): KH, KW
    stride : int or (int, int), default kernel_size
    padding : int or (int, int), at most half the kernel: zeros on each side
    ceil_mode, divisor_override : torch's; here False and None
    count_include_pad : bool; True divides by KH*KW, False by the number of cells inside the input

    Returns
    -------
    out : ndarray, shape (N, C, OH, OW), x's dtype, ``OH = (H + 2*PH - KH) // SH + 1`` (OW alike)
    cache : what avg_pool2d_backward needs
    """
    raise NotImplementedError("exercise 8: write avg_pool2d_forward")


def avg_pool2d_backward(dout, cache):
    """Spread each output's gradient evenly over its window.

    Parameters
    ----------
    dout : ndarray, shape (N, C, OH, OW) (not modified)
    cache : what avg_pool2d_forward returned

    Returns
    -------
    dx : ndarray, shape (N, C, H, W), the input's dtype
    """
    raise NotImplementedError("exercise 8: write avg_pool2d_backward")
