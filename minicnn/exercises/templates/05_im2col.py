"""Exercise 5: im2col and col2im, convolution's windows as the columns of a matrix, and back.

Read:  docs/backprop.md#the-same-thing-as-matrices-im2col
       docs/backprop.md#why-col2im-must-add-the-adjoint
Check: minicnn exercises check DIR im2col

``im2col`` copies every window of the zero-padded input into a column; ``col2im`` is its adjoint (its
backward): it sends every entry of a column back to the pixel it was copied from, and a pixel that
several windows cover receives the *sum* of their entries.  So ``<im2col(x), c> == <x, col2im(c)>`` for
every x and c, and the check holds col2im to central differences of your im2col.

The layout is minicnn's (and, up to the order of the axes, ``torch.nn.functional.unfold``'s):
row ``(c*KH + i)*KW + j``, column ``n*OH*OW + y*OW + x`` of ``cols`` holds ``x_padded[n, c, y*SH + i, x*SW + j]``.

The signatures are minicnn's; ``dilation`` stays 1 in every check (raise NotImplementedError otherwise,
if you like).  Both are plain functions of arrays: no cache.  Return new arrays in the input's dtype and
modify nothing you are given.
"""
import numpy as np


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """Unfold the sliding windows of ``x`` into columns.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64
    kernel_size, stride, padding : int or (int, int): (KH, KW), (SH, SW), (PH, PW); zero padding
    dilation : here 1

    Returns
    -------
    cols : ndarray, shape (C*KH*KW, N*OH*OW), x's dtype, ``OH = (H + 2*PH - KH) // SH + 1`` (OW alike)
    """
    raise NotImplementedError("exercise 5: write im2col")


def col2im(cols, x_shape, kernel_size, stride=1, padding=0, dilation=1):
    """Fold columns back into an image: the adjoint of :func:`im2col`.

    Parameters
    ----------
    cols : ndarray, shape (C*KH*KW, N*OH*OW) (not modified)
    x_shape : tuple (N, C, H, W), the shape of the image im2col unfolded
    kernel_size, stride, padding, dilation : as :func:`im2col`'s

    Returns
    -------
    x : ndarray, shape x_shape, cols' dtype: each entry of cols added into the pixel it came from (the
        padding's share dropped)
    """
    raise NotImplementedError("exercise 5: write col2im")
