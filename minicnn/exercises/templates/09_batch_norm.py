"""Exercise 9: batch normalisation, forward and backward.

Read:  docs/backprop.md#batch-norm
Check: minicnn exercises check DIR batch_norm

In training, each channel is normalised with the batch's own mean and (biased) variance, which depend on
every input: the backward then has two extra terms besides ``dout * weight * invstd`` (the mean's and the
variance's).  In eval mode the running estimates normalise: they are constants, and those terms vanish.
The check draws both, (N, C) and (N, C, H, W) inputs, with and without weight and bias.

The cache: return a :data:`BatchNormCache` (below).  minicnn's BatchNorm layers read its ``mean``, ``var``
and ``count`` to update their running estimates; put whatever your backward needs into ``saved``.

The contract (every kernel pair of minicnn keeps it, and the check grades it first):

- ``batch_norm_forward(...)`` returns a tuple ``(out, cache)``.
- ``batch_norm_backward(dout, cache, ...)`` returns ``(dx, dweight, dbias)``, each of its input's shape and
  dtype (dweight and dbias None without a weight).
- Compute in the dtype you were given (float32 stays float32); never modify an input or ``dout`` (the
  running estimates too: the layer updates them), and never return one of them.
"""
from collections import namedtuple

import numpy as np

BatchNormCache = namedtuple("BatchNormCache", "mean var count saved")
BatchNormCache.__doc__ = """What batch_norm_forward returns as its cache.

mean, var : ndarray (C,): the batch's mean and biased variance (divided by count) per channel in training;
    None in eval mode
count : int, the number of values each channel is normalised over: N*H*W (N for an (N, C) input)
saved : anything else your batch_norm_backward needs
"""


def batch_norm_forward(x, weight, bias, running_mean, running_var, training, eps=1e-5):
    """Batch normalisation, as ``torch.nn.functional.batch_norm`` (without updating the running estimates).

    ``out = (x - mean) / sqrt(var + eps) * weight + bias`` per channel (dim 1).

    Parameters
    ----------
    x : ndarray, shape (N, C) or (N, C, H, W), float32 or float64
    weight, bias : ndarray, shape (C,), x's dtype, or None (no affine transform: weight 1, bias 0)
    running_mean, running_var : ndarray, shape (C,): what eval mode normalises with (not modified)
    training : bool; True normalises with the batch's statistics
    eps : float > 0, added to the variance

    Returns
    -------
    out : ndarray, x's shape and dtype
    cache : BatchNormCache
    """
    raise NotImplementedError("exercise 9: write batch_norm_forward")


def batch_norm_backward(dout, cache, need_input_grad=True):
    """Gradients of batch normalisation.

    Parameters
    ----------
    dout : ndarray, x's shape: d loss / d out (not modified)
    cache : the BatchNormCache batch_norm_forward returned
    need_input_grad : bool; False lets you skip dx

    Returns
    -------
    dx : ndarray, x's shape and dtype (or None when need_input_grad is False)
    dweight, dbias : ndarray, shape (C,), or None when the forward had no weight
    """
    raise NotImplementedError("exercise 9: write batch_norm_backward")
