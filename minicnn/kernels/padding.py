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
"""
import numpy as np

MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def check_padding_mode(name, mode, pads, size):
    """Raise ValueError unless ``mode`` is one of :data:`MODES` and ``pads`` (top, bottom, left, right)
    suit it for an image of ``size`` (H, W)."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"{name}: expected padding_mode in {tuple(MODES)}, got {mode!r}")
    for (lo, hi), n, axis in ((pads[:2], size[0], "height"), (pads[2:], size[1], "width")):
        if mode == "reflect" and max(lo, hi) >= n:
            raise ValueError(f"{name}: padding_mode='reflect' needs padding < the input {axis} {n}, "
                             f"got padding ({lo}, {hi})")
        if mode == "circular" and max(lo, hi) > n:
            raise ValueError(f"{name}: padding_mode='circular' needs padding <= the input {axis} {n}, "
                             f"got padding ({lo}, {hi})")


def pad2d(x, pads, mode):
    """``x`` (N, C, H, W) padded by ``pads = (top, bottom, left, right)`` in ``mode``: a new contiguous array."""
    pt, pb, pl, pr = pads
    return np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), mode=MODES[mode])


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


def pad2d_naive(x, pads, mode):
    """:func:`pad2d` by gathering through the index map, a zero where it is -1."""
    pt, pb, pl, pr = pads
    rows = _source_index(x.shape[2], pt, pb, mode)
    cols = _source_index(x.shape[3], pl, pr, mode)
    xp = x[:, :, rows[:, None], cols[None, :]]
    xp[:, :, (rows[:, None] < 0) | (cols[None, :] < 0)] = 0
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
