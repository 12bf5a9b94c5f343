"""Explicit padding of an NCHW image, and its adjoint (the backward of padding).

``Conv2d(padding_mode=...)`` pads the input before convolving it with no
padding, as torch does.  Each padded pixel is a *copy* of an input pixel
(or a zero), so the backward of padding is a fold: every padded pixel's
gradient is added to the pixel it was copied from.  One axis at a time,
with ``lo`` cells before and ``hi`` after an axis of ``size`` cells ``a0 .. a(size-1)``:

==========  =================================  =========================================
mode        padded axis                        fold of the gradient ``g`` (strips flipped
                                               where the copy is mirrored)
==========  =================================  =========================================
zeros       ``0 0 | a0 .. a(s-1) | 0 0``       the strips are dropped
replicate   ``a0 a0 | a0 .. a(s-1) | .. ``     each strip sums into its edge cell
reflect     ``a2 a1 | a0 a1 a2 .. a(s-1) | ..``  ``a[1:lo+1] += flip(g_lo)``,
                                               ``a[s-1-hi:s-1] += flip(g_hi)``
circular    ``a(s-2) a(s-1) | a0 .. | a0 a1``  ``a[s-lo:] += g_lo``, ``a[:hi] += g_hi``
==========  =================================  =========================================

torch's limits hold: reflect needs ``pad < size`` (the mirror has no edge
repeat), circular ``pad <= size`` (one wrap).  The ``_naive`` twins build
the copy's index map with ``np.pad(arange(size))`` and fold with ``np.add.at``.

The same four helpers are ``torch.nn.functional.pad``'s kernel pair, :func:`pad_forward` /
:func:`pad_backward` (and their naive twins), with torch's argument order ``(left, right, top,
bottom)``, a fill ``value`` for the constant mode, and negative constant pads, which crop: the
forward crops first and pads what is left; the backward folds the padded gradient back and puts it
where the kept pixels were, zeros where the crop removed them.
"""
import numpy as np

from .checks import check_float_array, check_grad
from .registry import kernel_table

MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def check_padding_mode(name, mode, pads, size, argument="padding_mode"):
    """Raise ValueError unless ``mode`` is one of :data:`MODES` and ``pads`` (top, bottom, left, right)
    suit it for an image of ``size`` (H, W); ``argument`` is the mode's name in the messages."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"{name}: expected {argument} in {tuple(MODES)}, got {mode!r}")
    for (lo, hi), n, axis in ((pads[:2], size[0], "height"), (pads[2:], size[1], "width")):
        if mode == "reflect" and max(lo, hi) >= n:
            raise ValueError(f"{name}: {argument}='reflect' needs padding < the input {axis} {n}, "
                             f"got padding ({lo}, {hi})")
        if mode == "circular" and max(lo, hi) > n:
            raise ValueError(f"{name}: {argument}='circular' needs padding <= the input {axis} {n}, "
                             f"got padding ({lo}, {hi})")
        if mode == "replicate" and n == 0 and max(lo, hi) > 0:
            raise ValueError(f"{name}: {argument}='replicate' needs a non-empty input {axis}, got padding "
                             f"({lo}, {hi}) of size 0")


def pad2d(x, pads, mode, value=0):
    """``x`` (N, C, H, W) padded by ``pads = (top, bottom, left, right)`` in ``mode`` (``"zeros"`` fills with
    ``value``): a new contiguous array."""
    pt, pb, pl, pr = pads
    widths = ((0, 0), (0, 0), (pt, pb), (pl, pr))
    if mode == "zeros":
        return np.pad(x, widths, mode="constant", constant_values=value)
    return np.pad(x, widths, mode=MODES[mode])


def _fold_last_axis(g, lo, hi, mode):
    """The adjoint of padding the last axis of ``g`` by ``lo``/``hi`` cells in ``mode``."""
    size = g.shape[-1] - lo - hi
    out = g[..., lo:lo + size].copy()
    g_lo, g_hi = g[..., :lo], g[..., lo + size:]
    if mode == "replicate":
        out[..., 0] += g_lo.sum(axis=-1)
        out[..., -1] += g_hi.sum(axis=-1)
    elif mode == "reflect":
        out[..., 1:lo + 1] += g_lo[..., ::-1]
        out[..., size - 1 - hi:size - 1] += g_hi[..., ::-1]
    elif mode == "circular":
        out[..., size - lo:] += g_lo
        out[..., :hi] += g_hi
    return out


def pad2d_backward(dxp, pads, mode):
    """Gradient of :func:`pad2d`: fold the padded gradient (N, C, H+pt+pb, W+pl+pr) back to (N, C, H, W)."""
    pt, pb, pl, pr = pads
    dx = _fold_last_axis(dxp, pl, pr, mode)                                   # width
    return _fold_last_axis(dx.swapaxes(2, 3), pt, pb, mode).swapaxes(2, 3).copy()   # height


def _source_index(size, lo, hi, mode):
    """For each padded position, the input position it copies (-1: a zero)."""
    if mode == "zeros":
        return np.pad(np.arange(size), (lo, hi), constant_values=-1)
    return np.pad(np.arange(size), (lo, hi), mode=MODES[mode])


def pad2d_naive(x, pads, mode, value=0):
    """:func:`pad2d` by gathering through the index map, ``value`` (a zero by default) where it is -1."""
    pt, pb, pl, pr = pads
    rows = _source_index(x.shape[2], pt, pb, mode)
    cols = _source_index(x.shape[3], pl, pr, mode)
    if x.shape[2] == 0 or x.shape[3] == 0:  # nothing to gather from: every padded pixel is the fill
        return np.full(x.shape[:2] + (rows.size, cols.size), value, dtype=x.dtype)
    xp = x[:, :, rows[:, None], cols[None, :]]
    xp[:, :, (rows[:, None] < 0) | (cols[None, :] < 0)] = value
    return xp


def pad2d_backward_naive(dxp, pads, mode):
    """:func:`pad2d_backward` as a scatter-add through the index map (``np.add.at``: repeats add up)."""
    pt, pb, pl, pr = pads
    n, c, hp, wp = dxp.shape
    h, w = hp - pt - pb, wp - pl - pr
    rows, cols = _source_index(h, pt, pb, mode), _source_index(w, pl, pr, mode)
    keep = (rows[:, None] >= 0) & (cols[None, :] >= 0)
    rr, cc = np.broadcast_to(rows[:, None], keep.shape)[keep], np.broadcast_to(cols[None, :], keep.shape)[keep]
    dx = np.zeros((n, c, h, w), dtype=dxp.dtype)
    np.add.at(dx, (slice(None), slice(None), rr, cc), dxp[:, :, keep])
    return dx


# --------------------------------------------------------------------------- torch.nn.functional.pad
PAD_MODES = {"constant": "zeros", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}
"""``F.pad``'s mode names -> :data:`MODES`' (``Conv2d``'s ``padding_mode`` calls the constant mode ``zeros``)."""


def check_pad(name, pad, mode, value):
    """torch's ``pad`` (2 ints ``(left, right)`` or 4 ``(left, right, top, bottom)``), ``mode`` and ``value``,
    checked; returns ``((top, bottom, left, right), mode, value)`` with ``mode`` a key of :data:`MODES` and
    ``value`` a float.  Negative pads crop, in the constant mode only."""
    if not isinstance(pad, (tuple, list)) or not all(
            isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_)) for p in pad):
        raise TypeError(f"{name}: expected pad as a tuple of ints, got {pad!r}")
    if len(pad) not in (2, 4):
        raise ValueError(f"{name}: expected a pad of 2 ints (left, right) or 4 (left, right, top, bottom), "
                         f"got {len(pad)}: {tuple(pad)!r}")
    if not isinstance(mode, str) or mode not in PAD_MODES:
        raise ValueError(f"{name}: expected mode in {tuple(PAD_MODES)}, got {mode!r}")
    if value is not None and (not isinstance(value, (int, float, np.integer, np.floating))
                              or isinstance(value, (bool, np.bool_))):
        raise TypeError(f"{name}: expected value as a number or None, got {type(value).__name__}")
    if mode != "constant" and value not in (None, 0):
        raise ValueError(f"{name}: mode={mode!r} takes no value (only mode='constant' fills), got value={value!r}")
    left, right, top, bottom = (int(p) for p in tuple(pad) + (0, 0) * (len(pad) == 2))
    if mode != "constant" and min(left, right, top, bottom) < 0:
        raise ValueError(f"{name}: expected pads >= 0 for mode={mode!r} (negative pads crop in mode='constant' "
                         f"only), got {tuple(pad)!r}")
    if max(map(abs, (left, right, top, bottom))) > 2**31 - 1:
        raise ValueError(f"{name}: expected pads within +-{2**31 - 1}, got {tuple(pad)!r}")
    return (top, bottom, left, right), PAD_MODES[mode], 0.0 if value is None else float(value)


def _pad_setup(x, pad, mode, value):
    """The checks of :func:`pad_forward` and its twin: ``(grow, crop, mode, value)``, each of ``grow`` (the
    pads that add pixels) and ``crop`` (the negative ones, as counts to remove) ``(top, bottom, left, right)``."""
    check_float_array("pad input", x, 4)
    pads, mode, value = check_pad("pad", pad, mode, value)
    grow, crop = tuple(max(p, 0) for p in pads), tuple(max(-p, 0) for p in pads)
    for (lo, hi), n, axis in ((crop[:2], x.shape[2], "height"), (crop[2:], x.shape[3], "width")):
        if lo + hi > n:
            raise ValueError(f"pad: the negative pads ({-lo}, {-hi}) crop {lo + hi} pixels of an input {axis} of "
                             f"{n}: expected at most {n}")
    check_padding_mode("pad", mode, grow, x.shape[2:], argument="mode")
    return grow, crop, mode, x.dtype.type(value)


def _cropped(x, crop):
    ct, cb, cl, cr = crop
    return x[:, :, ct:x.shape[2] - cb, cl:x.shape[3] - cr]


def _uncrop(dxc, crop, shape):
    """The crop's adjoint: ``dxc`` back where the kept pixels were, zeros where the crop removed them."""
    if not any(crop):
        return dxc
    dx = np.zeros(shape, dtype=dxc.dtype)
    _cropped(dx, crop)[...] = dxc
    return dx


def _checked_pad_grad(dout, cache):
    """Check ``dout`` against the forward's output (its shape from the cache, x's dtype); the cache's fields."""
    shape, dtype, grow, crop, mode = cache
    check_grad("pad backward", dout, (shape[0], shape[1], shape[2] - crop[0] - crop[1] + grow[0] + grow[1],
                                      shape[3] - crop[2] - crop[3] + grow[2] + grow[3]), dtype)
    return shape, grow, crop, mode


def pad_forward(x, pad, mode="constant", value=None):
    """``torch.nn.functional.pad`` of the last one or two dims of an (N, C, H, W) array.

    Parameters
    ----------
    x : ndarray (N, C, H, W), float32 or float64
    pad : ``(left, right)`` (the width only) or ``(left, right, top, bottom)``, ints; negative ones crop
        (``mode='constant'`` only)
    mode : ``'constant'`` (filled with ``value``, 0 for None), ``'reflect'`` (mirrored without the edge
        pixel: pad < size), ``'replicate'`` (the edge pixel repeated), ``'circular'`` (wrapped: pad <= size)
    value : number or None, the constant mode's fill

    Returns
    -------
    out : ndarray (N, C, H + top + bottom, W + left + right), x's dtype (a new array)
    cache : ``(x.shape, x.dtype, grow, crop, mode)``
    """
    grow, crop, mode, value = _pad_setup(x, pad, mode, value)
    return pad2d(_cropped(x, crop), grow, mode, value), (x.shape, x.dtype, grow, crop, mode)


def pad_backward(dout, cache):
    """``dx``: every padded pixel's gradient added to the pixel it copies (:func:`pad2d_backward`, the strips
    dropped in the constant mode), then placed where the crop kept it."""
    shape, grow, crop, mode = _checked_pad_grad(dout, cache)
    return _uncrop(pad2d_backward(dout, grow, mode), crop, shape)


def pad_forward_naive(x, pad, mode="constant", value=None):
    """:func:`pad_forward` by the index map: each output pixel gathers the input pixel it copies."""
    grow, crop, mode, value = _pad_setup(x, pad, mode, value)
    return pad2d_naive(_cropped(x, crop), grow, mode, value), (x.shape, x.dtype, grow, crop, mode)


def pad_backward_naive(dout, cache):
    """:func:`pad_backward` as a scatter-add through the index map (``np.add.at``)."""
    shape, grow, crop, mode = _checked_pad_grad(dout, cache)
    return _uncrop(pad2d_backward_naive(dout, grow, mode), crop, shape)


# this file's ops, by torch's names (kernels/registry.py)
KERNELS = kernel_table(globals(), "pad")
