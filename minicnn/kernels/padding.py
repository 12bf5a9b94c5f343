"""Explicit padding of the last one, two or three dims of an array, and its adjoint (the backward of padding).

``Conv2d(padding_mode=...)`` pads the input before convolving it with no padding, as torch does, and
``F.pad`` is this file's kernel pair.  Each padded cell is a *copy* of an input cell (or the fill), so the
backward of padding is a fold: every padded cell's gradient is added to the cell it was copied from.  One
dim at a time, with ``lo`` cells before and ``hi`` after a dim of ``size`` cells ``a0 .. a(size-1)``:

==========  =================================  =========================================
mode        padded dim                         fold of the gradient ``g`` (strips flipped
                                               where the copy is mirrored)
==========  =================================  =========================================
zeros       ``0 0 | a0 .. a(s-1) | 0 0``       the strips are dropped
replicate   ``a0 a0 | a0 .. a(s-1) | .. ``     each strip sums into its edge cell
reflect     ``a2 a1 | a0 a1 a2 .. a(s-1) | ..``  ``a[1:lo+1] += flip(g_lo)``,
                                               ``a[s-1-hi:s-1] += flip(g_hi)``
circular    ``a(s-2) a(s-1) | a0 .. | a0 a1``  ``a[s-lo:] += g_lo``, ``a[:hi] += g_hi``
==========  =================================  =========================================

Pads come as ``(lo, hi)`` per padded dim, outermost first: ``(top, bottom, left, right)`` for an image,
``(front, back, top, bottom, left, right)`` for a volume.  torch's limits hold: reflect needs ``pad < size``
(the mirror has no edge repeat), circular ``pad <= size`` (one wrap).  The ``_naive`` twins gather through
each dim's index map (``np.pad(arange(size))``: for each output cell, the input cell it copies) and fold
with ``np.add.at``.

``F.pad``'s kernel pair, :func:`pad_forward` / :func:`pad_backward` (and their naive twins), takes torch's
argument order, the last dim first (``(left, right)``, ``(left, right, top, bottom)`` or ``(left, right,
top, bottom, front, back)``), a fill ``value`` for the constant mode, and negative pads, which crop.  Where
a crop applies is torch's, and differs by mode:

* ``constant`` and ``circular`` crop first, then pad what is left (torch's ``constant_pad_nd`` narrows the
  input; ``_pad_circular`` wraps the kept cells, so circular's pads are at most the size the crop leaves);
* ``reflect`` and ``replicate`` pad first, then crop (torch's kernels read output cell ``j`` from input
  cell ``j - lo``, mirrored or clamped into range): a crop may reach into the padding on the other side,
  as long as one cell is left (replicate ``(5, -4)`` of ``a0 .. a3`` is five copies of ``a0``).

For the constant mode the two orders agree wherever torch computes (the crops within the input).  The
backward takes the two steps back in reverse order: the crop's adjoint puts the gradient where the kept
cells were (zeros where the crop removed them), the padding's folds it.
"""
import functools

import numpy as np

from .checks import check_float_array, check_grad
from .registry import kernel_table

MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
DIMS = ("depth", "height", "width")
"""The names of the padded dims in the messages, the last ones of this tuple (an image's: height, width)."""


def _pairs(pads):
    """``(lo0, hi0, lo1, hi1, ...)`` -> ``((lo0, hi0), (lo1, hi1), ...)``: one pair per padded dim."""
    return tuple(zip(pads[::2], pads[1::2]))


def _resized(shape, pads):
    """``shape`` with each of its last ``len(pads) // 2`` dims grown by its ``lo + hi`` (negative: shrunk)."""
    k = len(pads) // 2
    return tuple(shape[:len(shape) - k]) + tuple(n + lo + hi for n, (lo, hi) in zip(shape[len(shape) - k:],
                                                                                      _pairs(pads)))


def check_padding_mode(name, mode, pads, size, argument="padding_mode"):
    """Raise ValueError unless ``mode`` is one of :data:`MODES` and ``pads`` (``(lo, hi)`` per padded dim,
    outermost first) suit it for the padded dims' ``size`` ((H, W) for an image); ``argument`` is the mode's
    name in the messages."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"{name}: expected {argument} in {tuple(MODES)}, got {mode!r}")
    for (lo, hi), n, axis in zip(_pairs(pads), size, DIMS[len(DIMS) - len(size):]):
        if mode == "reflect" and max(lo, hi) >= n:
            raise ValueError(f"{name}: {argument}='reflect' needs padding < the input {axis} {n}, "
                             f"got padding ({lo}, {hi})")
        if mode == "circular" and max(lo, hi) > n:
            raise ValueError(f"{name}: {argument}='circular' needs padding <= the input {axis} {n}, "
                             f"got padding ({lo}, {hi})")
        if mode == "replicate" and n == 0 and max(lo, hi) > 0:
            raise ValueError(f"{name}: {argument}='replicate' needs a non-empty input {axis}, got padding "
                             f"({lo}, {hi}) of size 0")


def pad_nd(x, pads, mode, value=0):
    """``x`` padded on its last ``len(pads) // 2`` dims by ``pads`` (``(lo, hi)`` per dim, outermost first:
    ``(top, bottom, left, right)`` for an (N, C, H, W) image) in ``mode`` (``"zeros"`` fills with ``value``):
    a new contiguous array."""
    widths = ((0, 0),) * (x.ndim - len(pads) // 2) + _pairs(pads)
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


def pad_nd_backward(dxp, pads, mode):
    """Gradient of :func:`pad_nd`: the padded gradient folded back, one padded dim at a time (the last
    first), to the input's shape."""
    first = dxp.ndim - len(pads) // 2
    dx = dxp
    for axis, (lo, hi) in reversed(list(enumerate(_pairs(pads), first))):
        dx = _fold_last_axis(dx.swapaxes(axis, -1), lo, hi, mode).swapaxes(axis, -1)
    return np.ascontiguousarray(dx)   # (each fold is a copy: never dxp itself)


def _source_index(size, lo, hi, mode):
    """For each padded position, the input position it copies (-1: the fill)."""
    if mode == "zeros":
        return np.pad(np.arange(size), (lo, hi), constant_values=-1)
    return np.pad(np.arange(size), (lo, hi), mode=MODES[mode])


def _is_fill(grids):
    """Where any of the index maps ``grids`` (``np.ix_``'s, broadcastable to the output's last dims) says -1."""
    return functools.reduce(np.logical_or, [g < 0 for g in grids])


def _gather(x, maps, value):
    """``out[..., i, j] = x[..., maps[0][i], maps[1][j]]`` over the last ``len(maps)`` dims (one map per dim,
    any number of them), ``value`` where a map says -1."""
    k = len(maps)
    shape = x.shape[:x.ndim - k] + tuple(m.size for m in maps)
    if 0 in x.shape[x.ndim - k:]:  # nothing to gather from: every output cell is the fill
        return np.full(shape, value, dtype=x.dtype)
    grids = np.ix_(*maps)
    out = x[(Ellipsis,) + grids]
    out[..., np.broadcast_to(_is_fill(grids), shape[x.ndim - k:])] = value
    return out


def _scatter(g, maps, shape):
    """The adjoint of :func:`_gather`: ``dx`` of ``shape``, each entry of ``g`` added to the input cell its maps
    name (``np.add.at``: repeats add up), the fill's dropped."""
    grids = np.ix_(*maps)
    keep = np.broadcast_to(~_is_fill(grids), g.shape[g.ndim - len(maps):])
    sources = tuple(np.broadcast_to(m, keep.shape)[keep] for m in grids)
    dx = np.zeros(shape, dtype=g.dtype)
    np.add.at(dx, (Ellipsis,) + sources, g[..., keep])
    return dx


def _pad_maps(shape, pads, mode):
    """One :func:`_source_index` per padded dim of ``shape``."""
    return [_source_index(n, lo, hi, mode) for n, (lo, hi) in zip(shape[len(shape) - len(pads) // 2:], _pairs(pads))]


def pad_nd_naive(x, pads, mode, value=0):
    """:func:`pad_nd` by gathering through the index maps, ``value`` (a zero by default) where they say -1."""
    return _gather(x, _pad_maps(x.shape, pads, mode), value)


def pad_nd_backward_naive(dxp, pads, mode):
    """:func:`pad_nd_backward` as a scatter-add through the index maps."""
    shape = _resized(dxp.shape, tuple(-p for p in pads))
    return _scatter(dxp, _pad_maps(shape, pads, mode), shape)


# --------------------------------------------------------------------------- torch.nn.functional.pad
PAD_MODES = {"constant": "zeros", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}
"""``F.pad``'s mode names -> :data:`MODES`' (``Conv2d``'s ``padding_mode`` calls the constant mode ``zeros``)."""
CROP_FIRST = ("zeros", "circular")
"""The modes whose negative pads crop the input before it is padded, as torch's; reflect and replicate pad,
then crop."""


def check_pad(name, pad, mode, value):
    """torch's ``pad`` (2, 4 or 6 ints, the last dim's pair first: ``(left, right)``, ``(left, right, top,
    bottom)``, ``(left, right, top, bottom, front, back)``), ``mode`` and ``value``, checked.

    Returns ``(pads, mode, value)``: ``pads`` the pairs outermost first (``(top, bottom, left, right)`` for 4
    ints; negative ones crop), ``mode`` a key of :data:`MODES`, ``value`` a float.
    """
    if not isinstance(pad, (tuple, list)) or not all(
            isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_)) for p in pad):
        raise TypeError(f"{name}: expected pad as a tuple of ints, got {pad!r}")
    if len(pad) not in (2, 4, 6):
        raise ValueError(f"{name}: expected a pad of 2 ints (left, right), 4 (left, right, top, bottom) or 6 "
                         f"(left, right, top, bottom, front, back), got {len(pad)}: {tuple(pad)!r}")
    if not isinstance(mode, str) or mode not in PAD_MODES:
        raise ValueError(f"{name}: expected mode in {tuple(PAD_MODES)}, got {mode!r}")
    if value is not None and (not isinstance(value, (int, float, np.integer, np.floating))
                              or isinstance(value, (bool, np.bool_))):
        raise TypeError(f"{name}: expected value as a number or None, got {type(value).__name__}")
    if mode != "constant" and value not in (None, 0):
        raise ValueError(f"{name}: mode={mode!r} takes no value (only mode='constant' fills), got value={value!r}")
    if max(map(abs, pad)) > 2**31 - 1:
        raise ValueError(f"{name}: expected pads within +-{2**31 - 1}, got {tuple(pad)!r}")
    pads = tuple(int(p) for i in range(len(pad) - 2, -1, -2) for p in pad[i:i + 2])
    return pads, PAD_MODES[mode], 0.0 if value is None else float(value)


def _pad_setup(x, pad, mode, value):
    """The checks of :func:`pad_forward` and its twin: ``(grow, crop, mode, value)``, each of ``grow`` (the
    pads that add cells) and ``crop`` (the negative ones, as counts to remove) ``(lo, hi)`` per padded dim."""
    check_float_array("pad input", x)
    pads, mode, value = check_pad("pad", pad, mode, value)
    k = len(pads) // 2
    if not 3 <= x.ndim <= 5:
        raise ValueError(f"pad input: expected a 3-D, 4-D or 5-D array ((N, C, W), (N, C, H, W) or (N, C, D, H, W)), "
                         f"got {x.ndim}-D with shape {x.shape}")
    if x.ndim - 2 < k:
        raise ValueError(f"pad: a pad of {2 * k} ints pads {k} dims after (N, C): expected a {k + 2}-D input, got "
                         f"shape {x.shape}")
    grow, crop = tuple(max(p, 0) for p in pads), tuple(max(-p, 0) for p in pads)
    size = x.shape[x.ndim - k:]
    least = 0 if mode == "reflect" and k > 1 else 1   # torch's reflect of 2 or 3 dims: one non-empty one suffices
    for (lo, hi), (cut_lo, cut_hi), n, axis in zip(_pairs(pads), _pairs(crop), size, DIMS[len(DIMS) - k:]):
        if mode in CROP_FIRST and cut_lo + cut_hi > n:
            raise ValueError(f"pad: the negative pads ({lo}, {hi}) crop {cut_lo + cut_hi} cells of an input {axis} "
                             f"of {n}: expected at most {n}")
        if mode not in CROP_FIRST and n + lo + hi < least:
            raise ValueError(f"pad: mode={mode!r} with pads ({lo}, {hi}) leaves {n + lo + hi} cells of an input "
                             f"{axis} of {n}: expected at least {least}")
        if mode == "circular" and cut_lo + cut_hi and max(lo, hi) > n - cut_lo - cut_hi:
            raise ValueError(f"pad: mode='circular' needs padding <= what the negative pad leaves of the input "
                             f"{axis}, {n - cut_lo - cut_hi} of {n}, got padding ({lo}, {hi})")
    if mode == "reflect" and k > 1 and not any(_resized(size, pads)):
        raise ValueError(f"pad: mode='reflect' with pads {tuple(pad)!r} leaves no cells of the input's last {k} "
                         f"dims {size}: expected at least one in one of them")
    check_padding_mode("pad", mode, grow, size, argument="mode")
    return grow, crop, mode, x.dtype.type(value)


def _window(crop, shape):
    """The index of what ``crop`` (cells to remove, ``(lo, hi)`` per dim of the last ones) keeps of ``shape``."""
    k = len(crop) // 2
    return (Ellipsis,) + tuple(slice(lo, n - hi) for n, (lo, hi) in zip(shape[len(shape) - k:], _pairs(crop)))


def _uncrop(dxc, crop, shape):
    """The crop's adjoint: ``dxc`` back where the kept cells were, zeros where the crop removed them."""
    if not any(crop):
        return dxc
    dx = np.zeros(shape, dtype=dxc.dtype)
    dx[_window(crop, shape)] = dxc
    return dx


def _checked_pad_grad(dout, cache):
    """Check ``dout`` against the forward's output (its shape from the cache, x's dtype); the cache's fields."""
    shape, dtype, grow, crop, mode, crop_first = cache
    check_grad("pad backward", dout, _resized(shape, tuple(g - c for g, c in zip(grow, crop))), dtype)
    return shape, grow, crop, mode, crop_first


def pad_forward(x, pad, mode="constant", value=None):
    """``torch.nn.functional.pad`` of the last one, two or three dims of an array.

    Parameters
    ----------
    x : ndarray (N, C, W), (N, C, H, W) or (N, C, D, H, W), float32 or float64
    pad : ints, the last dim's pair first: ``(left, right)``, ``(left, right, top, bottom)`` or ``(left,
        right, top, bottom, front, back)``; negative ones crop (constant and circular: before the padding,
        reflect and replicate: after it)
    mode : ``'constant'`` (filled with ``value``, 0 for None), ``'reflect'`` (mirrored without the edge
        cell: pad < size), ``'replicate'`` (the edge cell repeated), ``'circular'`` (wrapped: pad <= the
        size the crop leaves)
    value : number or None, the constant mode's fill

    Returns
    -------
    out : ndarray, x's shape with each padded dim grown by its two pads (``W + left + right``, ...), x's
        dtype (a new array)
    cache : ``(x.shape, x.dtype, grow, crop, mode, crop_first)``: ``grow`` the positive pads and ``crop`` the
        negative ones' counts, ``(lo, hi)`` per padded dim outermost first; ``crop_first``: whether the crop came
        before the padding (``mode in CROP_FIRST``)
    """
    grow, crop, mode, value = _pad_setup(x, pad, mode, value)
    crop_first = mode in CROP_FIRST
    if crop_first:
        out = pad_nd(x[_window(crop, x.shape)], grow, mode, value)
    else:
        out = np.ascontiguousarray(pad_nd(x, grow, mode)[_window(crop, _resized(x.shape, grow))])
    return out, (x.shape, x.dtype, grow, crop, mode, crop_first)


def pad_backward(dout, cache):
    """``dx``: the crop and the padding undone in reverse order: every padded cell's gradient added to the cell
    it copies (:func:`pad_nd_backward`, the strips dropped in the constant mode), and the kept cells' gradient
    put back where they were (:func:`_uncrop`)."""
    shape, grow, crop, mode, crop_first = _checked_pad_grad(dout, cache)
    if crop_first:
        return _uncrop(pad_nd_backward(dout, grow, mode), crop, shape)
    return pad_nd_backward(_uncrop(dout, crop, _resized(shape, grow)), grow, mode)


def _crop_pad_index(n, grow, crop, mode, crop_first):
    """For each output cell of a dim of ``n`` cells, grown by ``grow`` and cropped by ``crop`` (``(lo, hi)``
    each) in ``mode``, the crop first or the padding, the input cell it copies (-1: the fill)."""
    if crop_first:   # the kept cells crop[0] .. n - crop[1] - 1, padded
        index = _source_index(n - crop[0] - crop[1], grow[0], grow[1], mode)
        return np.where(index < 0, -1, index + crop[0])
    index = _source_index(n, grow[0], grow[1], mode)   # the padded dim, cropped
    return index[crop[0]:index.size - crop[1]]


def _crop_pad_maps(shape, grow, crop, mode, crop_first):
    """One :func:`_crop_pad_index` per padded dim of ``shape``."""
    return [_crop_pad_index(n, g, c, mode, crop_first)
            for n, g, c in zip(shape[len(shape) - len(grow) // 2:], _pairs(grow), _pairs(crop))]


def pad_forward_naive(x, pad, mode="constant", value=None):
    """:func:`pad_forward` by the index maps: each output cell gathers the input cell it copies."""
    grow, crop, mode, value = _pad_setup(x, pad, mode, value)
    crop_first = mode in CROP_FIRST
    return (_gather(x, _crop_pad_maps(x.shape, grow, crop, mode, crop_first), value),
            (x.shape, x.dtype, grow, crop, mode, crop_first))


def pad_backward_naive(dout, cache):
    """:func:`pad_backward` as a scatter-add through the index maps (``np.add.at``)."""
    shape, grow, crop, mode, crop_first = _checked_pad_grad(dout, cache)
    return _scatter(dout, _crop_pad_maps(shape, grow, crop, mode, crop_first), shape)


# this file's ops, by torch's names (kernels/registry.py)
KERNELS = kernel_table(globals(), "pad")
