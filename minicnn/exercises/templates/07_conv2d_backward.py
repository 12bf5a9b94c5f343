"""Exercise 7: the convolution's backward pass.

Read:  docs/backprop.md#the-direct-derivation-the-naive-twin
       docs/backprop.md#why-col2im-must-add-the-adjoint
       docs/backprop.md#the-third-view-a-full-correlation-with-the-flipped-kernel
Check: minicnn exercises check DIR conv2d_backward

Your ``conv2d_forward`` from 06_conv2d_forward.py makes the cache this function reads: the check runs the two
together (exercise 6 must pass first).  Each output pixel came from one input window, so its gradient
flows to that window through the weight, and to the weight through that window; where windows overlap,
the input's gradients *add up* (col2im adds).  Your col2im from exercise 5 is yours to use::

    from minicnn.exercises import load
    col2im = load(__file__, "im2col").col2im

The contract: return the three gradients, each of its input's shape and dtype (None for dbias when the
forward had no bias); never modify ``dout`` or the cache's arrays, and never return one of them.
"""
import numpy as np


def conv2d_backward(dout, cache, need_input_grad=True):
    """Gradients of the convolution.

    Parameters
    ----------
    dout : ndarray, shape (N, O, OH, OW): d loss / d out (not modified)
    cache : what your conv2d_forward returned
    need_input_grad : bool; False lets you skip dx (a network's first layer needs none)

    Returns
    -------
    dx : ndarray, shape (N, C, H, W) (or None when need_input_grad is False)
    dweight : ndarray, shape (O, C, KH, KW)
    dbias : ndarray, shape (O,), or None when the forward had no bias
    """
    raise NotImplementedError("exercise 7: write conv2d_backward")
