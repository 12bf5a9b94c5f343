"""Exercise 6: the convolution's forward pass (a cross-correlation, as torch computes it).

Read:  docs/backprop.md#convolution
       docs/backprop.md#the-same-thing-as-matrices-im2col
Check: minicnn exercises check DIR conv2d_forward

``out[n, o, y, x] = bias[o] + sum_{c,i,j} weight[o, c, i, j] * x_padded[n, c, y*SH + i, x*SW + j]`` -- no
flipped kernel: torch's conv2d is a correlation.  Loops over the output pixels are fine (that is minicnn's
naive twin), and so is your im2col from exercise 5: ``cols`` times the weight as an (O, C*KH*KW) matrix.
To use it here::

    from minicnn.exercises import load
    im2col = load(__file__, "im2col").im2col

Your cache is for exercise 7, where you write the backward pass that reads it.

The signature is torch's (with nn.Conv2d's padding_mode); this exercise covers ``stride`` and ``padding``
(an int or a pair each).  ``dilation`` stays 1, ``groups`` 1 and ``padding_mode`` "zeros" in every check.

The contract: return a tuple ``(out, cache)``; compute in x's dtype (float32 stays float32); never modify an
input, and never return one (or a view of one).
"""
import numpy as np


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """2-D convolution, as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64
    weight : ndarray, shape (O, C, KH, KW), x's dtype
    bias : ndarray, shape (O,), or None
    stride, padding : int or (int, int): (SH, SW), (PH, PW); zero padding
    dilation, groups, padding_mode : torch's; here 1, 1 and "zeros"

    Returns
    -------
    out : ndarray, shape (N, O, OH, OW), x's dtype, ``OH = (H + 2*PH - KH) // SH + 1`` (OW alike)
    cache : what your conv2d_backward (exercise 7) needs
    """
    raise NotImplementedError("exercise 6: write conv2d_forward")
