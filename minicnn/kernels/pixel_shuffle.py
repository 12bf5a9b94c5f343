"""Pixel shuffle and its inverse: channels traded for resolution (ESPCN's sub-pixel convolution).

``pixel_shuffle`` with factor ``r`` moves channel ``c*r*r + i*r + j`` of an (*, C*r*r, H, W) array to the
sub-pixel ``(i, j)`` of each ``r x r`` block of channel ``c`` of the (*, C, H*r, W*r) output::

    out[..., c, h*r + i, w*r + j] = x[..., c*r*r + i*r + j, h, w]

``pixel_unshuffle`` is the inverse permutation.  Both only move values, so each one's backward is the
other one applied to the gradient: every output entry is a copy of exactly one input entry, and its
gradient goes back to that entry (no sums).  The fast pair is a reshape, one transpose and a copy (always
a new array); the naive twins write the formula above as a loop over the ``r*r`` sub-pixels.
"""
import numpy as np

from .checks import check_float_array, check_grad
from .registry import kernel_table


def _check(name, x, factor, argument):
    check_float_array(f"{name} input", x)
    if not isinstance(factor, (int, np.integer)) or isinstance(factor, (bool, np.bool_)):
        raise TypeError(f"{name}: expected {argument} as an int, got {type(factor).__name__}")
    if factor < 1:
        raise ValueError(f"{name}: expected a positive {argument}, got {factor}")
    if x.ndim < 3:
        raise ValueError(f"{name}: expected an input of at least 3 dims (*, C, H, W), got shape {x.shape}")
    return int(factor)


def _check_shuffle(x, r):
    r = _check("pixel_shuffle", x, r, "upscale_factor")
    if x.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle: expected the input's channel dim (-3) divisible by upscale_factor**2 = "
                         f"{r * r}, got {x.shape[-3]} (shape {x.shape})")
    return r


def _check_unshuffle(x, r):
    r = _check("pixel_unshuffle", x, r, "downscale_factor")
    if x.shape[-2] % r or x.shape[-1] % r:
        raise ValueError(f"pixel_unshuffle: expected the input's height and width divisible by downscale_factor "
                         f"= {r}, got {x.shape[-2:]} (shape {x.shape})")
    return r


def _shuffle(a, r):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r): split the channel into (C, i, j), interleave i with H and j with W."""
    *lead, c, h, w = a.shape
    lead = tuple(lead)
    b = a.reshape(lead + (c // (r * r), r, r, h, w))
    k = len(lead)
    b = b.transpose(tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2))    # (*, C, H, i, W, j)
    return b.copy().reshape(lead + (c // (r * r), h * r, w * r))  # (a copy even where r = 1)


def _unshuffle(a, r):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W): the inverse permutation of :func:`_shuffle`."""
    *lead, c, hr, wr = a.shape
    lead = tuple(lead)
    b = a.reshape(lead + (c, hr // r, r, wr // r, r))                       # (*, C, H, i, W, j)
    k = len(lead)
    b = b.transpose(tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3))    # (*, C, i, j, H, W)
    return b.copy().reshape(lead + (c * r * r, hr // r, wr // r))


def _shuffle_naive(a, r):
    """``out[..., c, h*r + i, w*r + j] = a[..., c*r*r + i*r + j, h, w]``, one sub-pixel ``(i, j)`` at a time."""
    *lead, c, h, w = a.shape
    out = np.empty(tuple(lead) + (c // (r * r), h * r, w * r), dtype=a.dtype)
    for i in range(r):
        for j in range(r):
            out[..., :, i::r, j::r] = a[..., i * r + j::r * r, :, :]   # channels c*r*r + i*r + j, c = 0, 1, ...
    return out


def _unshuffle_naive(a, r):
    """``out[..., c*r*r + i*r + j, h, w] = a[..., c, h*r + i, w*r + j]``, one sub-pixel ``(i, j)`` at a time."""
    *lead, c, hr, wr = a.shape
    out = np.empty(tuple(lead) + (c * r * r, hr // r, wr // r), dtype=a.dtype)
    for i in range(r):
        for j in range(r):
            out[..., i * r + j::r * r, :, :] = a[..., :, i::r, j::r]
    return out


def _out_shape(shape, r, up):
    *lead, c, h, w = shape
    return tuple(lead) + ((c // (r * r), h * r, w * r) if up else (c * r * r, h // r, w // r))


# --------------------------------------------------------------------------- pixel_shuffle
def pixel_shuffle_forward(x, upscale_factor):
    """``torch.nn.functional.pixel_shuffle``: (*, C*r*r, H, W) -> (*, C, H*r, W*r), ``r = upscale_factor``.

    Parameters
    ----------
    x : ndarray (*, C*r*r, H, W) (at least 3 dims), float32 or float64
    upscale_factor : int >= 1

    Returns
    -------
    out : ndarray (*, C, H*r, W*r), x's dtype (a new array)
    cache : ``(x.shape, x.dtype, r)``
    """
    r = _check_shuffle(x, upscale_factor)
    return _shuffle(x, r), (x.shape, x.dtype, r)


def pixel_shuffle_backward(dout, cache):
    """``dx = pixel_unshuffle(dout, r)``: each gradient back to the one entry its output copied."""
    shape, dtype, r = cache
    check_grad("pixel_shuffle backward", dout, _out_shape(shape, r, True), dtype)
    return _unshuffle(dout, r)


def pixel_shuffle_forward_naive(x, upscale_factor):
    """:func:`pixel_shuffle_forward` by the formula, one sub-pixel at a time."""
    r = _check_shuffle(x, upscale_factor)
    return _shuffle_naive(x, r), (x.shape, x.dtype, r)


def pixel_shuffle_backward_naive(dout, cache):
    """``dx[..., c*r*r + i*r + j, h, w] = dout[..., c, h*r + i, w*r + j]``."""
    shape, dtype, r = cache
    check_grad("pixel_shuffle backward", dout, _out_shape(shape, r, True), dtype)
    return _unshuffle_naive(dout, r)


# --------------------------------------------------------------------------- pixel_unshuffle
def pixel_unshuffle_forward(x, downscale_factor):
    """``torch.nn.functional.pixel_unshuffle``: (*, C, H*r, W*r) -> (*, C*r*r, H, W), ``r = downscale_factor``.

    Parameters
    ----------
    x : ndarray (*, C, H*r, W*r) (at least 3 dims), float32 or float64
    downscale_factor : int >= 1

    Returns
    -------
    out : ndarray (*, C*r*r, H, W), x's dtype (a new array)
    cache : ``(x.shape, x.dtype, r)``
    """
    r = _check_unshuffle(x, downscale_factor)
    return _unshuffle(x, r), (x.shape, x.dtype, r)


def pixel_unshuffle_backward(dout, cache):
    """``dx = pixel_shuffle(dout, r)``."""
    shape, dtype, r = cache
    check_grad("pixel_unshuffle backward", dout, _out_shape(shape, r, False), dtype)
    return _shuffle(dout, r)


def pixel_unshuffle_forward_naive(x, downscale_factor):
    """:func:`pixel_unshuffle_forward` by the formula, one sub-pixel at a time."""
    r = _check_unshuffle(x, downscale_factor)
    return _unshuffle_naive(x, r), (x.shape, x.dtype, r)


def pixel_unshuffle_backward_naive(dout, cache):
    """``dx[..., c, h*r + i, w*r + j] = dout[..., c*r*r + i*r + j, h, w]``."""
    shape, dtype, r = cache
    check_grad("pixel_unshuffle backward", dout, _out_shape(shape, r, False), dtype)
    return _shuffle_naive(dout, r)


# this file's ops, by torch's names (kernels/registry.py)
KERNELS = kernel_table(globals(), "pixel_shuffle", "pixel_unshuffle")
