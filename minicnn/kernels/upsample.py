"""Resizing an image: ``torch.nn.functional.interpolate``'s nearest, nearest-exact, bilinear and bicubic modes.

Every output pixel is a fixed linear combination of input pixels, chosen per axis from where the output
pixel "comes from" in the input (its *source index*); nothing depends on the values, so each op is a
linear map ``out = R x`` and its backward is the adjoint ``dx = R^T dout``: each output pixel's gradient
is added back into the input pixels it was read from, with the same weights (a scatter-add, where the
forward is a gather).

**The kernel names.**  torch's functional API is one dispatcher, ``F.interpolate(mode=...)``, plus the
deprecated aliases ``F.upsample``, ``F.upsample_nearest`` and ``F.upsample_bilinear`` (the last one
always with ``align_corners=True``), so no functional name names one computation.  The kernels take the
names of the ATen ops ``F.interpolate`` calls for a 4-D input instead, with their arguments
``(x, output_size, [align_corners,] scales_h, scales_w)``: ``upsample_nearest2d``,
``upsample_nearest_exact2d`` (ATen's ``_upsample_nearest_exact2d``, without the private underscore),
``upsample_bilinear2d`` and ``upsample_bicubic2d``.  :func:`minicnn.functional.interpolate` turns torch's ``size`` /
``scale_factor`` / ``recompute_scale_factor`` into ``output_size`` and ``scales``
(:func:`interpolate_arguments`) and calls the kernel of its ``mode``.

**Other ranks, and mode ``area``.**  torch's 1-D and 3-D ops (``upsample_nearest1d``, ``upsample_linear1d``,
``upsample_trilinear3d``, ...) pick each output's sources per dim by the rules below, and its weight is the
product of the per-dim weights; mode ``area`` is torch's ``adaptive_avg_pool1d/2d/3d`` of the output size,
whose windows are products of per-dim windows too.  So :func:`minicnn.functional.interpolate` computes them by
passes of the 2-D kernels (:data:`MODES`: ``linear`` and ``trilinear`` by ``upsample_bilinear2d``, ``area`` by
``kernels/avgpool.py``'s ``adaptive_avg_pool2d``) over reshaped views, each pass keeping one dim at its size.

**Source indices** (torch's ``aten/src/ATen/native/UpSample.h``), for output index ``d`` of ``O`` along an
axis of ``I`` input pixels; ``scale`` is the scale factor torch passes on (``scale_factor`` when given
and ``recompute_scale_factor`` is not True, else None):

* the step ``s = 1 / scale``, or ``I / O`` when there is none (``compute_scales_value``);
* ``nearest``: ``src = min(floor(d * s), I - 1)``, with ``s`` and the product in float32 whatever the
  dtype (``nearest_idx``), and two shortcuts taken before any of it: ``O == I`` copies (``src = d``) and
  ``O == 2 I`` halves (``src = d >> 1``), even when a scale factor would say otherwise (``I = 5``,
  ``scale_factor=1.1``: ``O = 5``, a copy);
* ``nearest-exact``: ``src = min(floor((d + 0.5) * s), I - 1)`` (the pixel centre's; float32 ``s``, the
  product in float64 and rounded to float32 before the floor, ``nearest_exact_idx``), no shortcuts;
* ``bilinear``: ``O == I`` copies (whatever the scale factor); else the real source position
  ``r = d * (I - 1) / (O - 1)`` (0 for ``O = 1``) with ``align_corners=True``, or
  ``r = max(s * (d + 0.5) - 0.5, 0)`` (pixel centres matched, clamped at 0 as OpenCV does) with
  ``align_corners=False``; then ``i0 = min(floor(r), I - 1)``, ``i1 = i0 + 1`` unless ``i0`` is the last
  pixel, ``lam = clamp(r - i0, 0, 1)``, and the weights are ``1 - lam`` for ``i0`` and ``lam`` for ``i1``
  (``compute_source_index_and_lambda``).  In 2-D the weights multiply: the output is
  ``(1-a)(1-b) x[i0, j0] + (1-a) b x[i0, j1] + a (1-b) x[i1, j0] + a b x[i1, j1]``;
* ``bicubic`` (``upsample_bicubic2d``, cubic convolution): no copy at a kept size; the real source position
  ``r = d * (I - 1) / (O - 1)`` (0 for ``O = 1``) with ``align_corners=True``, or ``r = s * (d + 0.5) - 0.5``
  *not* clamped at 0 with ``align_corners=False`` (``area_pixel_compute_source_index`` with ``cubic=True``);
  then ``i = min(floor(float32(r)), I - 1)`` (torch's ``floorf``, which rounds a float64 ``r`` to float32
  first: ``r = 1 - 1e-9`` gives ``i = 1``) and ``t = clamp(r - i, 0, 1)`` (``guard_index_and_lambda``); the
  four taps ``i - 1, i, i + 1, i + 2``, each clamped into ``[0, I - 1]`` (a tap beyond the border reads the
  border pixel), weighted by Keys' cubic convolution kernel at the tap's distance ``|t - k|`` from the source,
  ``1 + t, t, 1 - t, 2 - t``: ``W(u) = (A + 2) u^3 - (A + 3) u^2 + 1`` for ``u <= 1`` and
  ``A u^3 - 5 A u^2 + 8 A u - 4 A`` for ``1 < u < 2``, with ``A = -0.75`` (``get_cubic_upsample_coefficients``).
  In 2-D the 4 x 4 taps weigh ``wy[j] * wx[k]``; at a border several taps are one pixel, whose weight is
  their sum.

The two nearest rules are the ones torch's backward kernels use on every input, and its forward kernels
on channels-last inputs of more than 3 channels and on outputs with ``OH + OW <= 128`` (in 1-D and 3-D:
channels-last 3-D inputs of more than 3 channels only; its NCL and NCDHW forward never).  torch's generic
forward kernel (every other input: NCHW with a larger output, any NCL or NCDHW input) computes the nearest index without the
two shortcuts and with the dtype's own precision (a float64 step in float64): where a scale factor
gives ``O == I`` or ``2 I`` without being 1 or 2, or where the two precisions round a product that is
an integer in exact arithmetic to different sides of it, torch's forward there differs from torch's
own backward, which is then not its adjoint.  minicnn follows the backward's rule everywhere, so its
backward is the adjoint of its forward (``tests/test_agreement.py`` shows the difference on
64 -> 128 pixels with ``scale_factor=2.005``).  The bilinear rule is the same in all of torch's
kernels; its weights are computed in float64 here (torch: float32 for float32 input), the same up to
rounding, and so are the bicubic weights.  torch's bicubic backward copies the gradient where the output
keeps both sizes (``upsample_bicubic2d_backward_out_frame``'s shortcut), even where a scale factor made its
forward interpolate (``I = 5``, ``scale_factor=1.1``: ``O = 5``, stepped by 1/1.1); there torch's backward is
not its forward's adjoint.  minicnn's backward is the adjoint of the forward everywhere, the gradient of
what was computed (``tests/test_agreement.py`` shows the difference).

The fast kernels treat the (N, C) planes as independent images: the batch of ``N*C`` planes is split
into contiguous chunks for minicnn's threads (``minicnn/threads.py``), and each chunk's numba loop
writes only its own planes of the output (or of ``dx``), so no two threads add into one value.  The
backward sums a plane in float64 before storing it.  The naive twins loop over the output pixels and
compute each one's source pixels and weights from the formulas above, one pixel at a time.
"""
import math
from collections import namedtuple
from functools import lru_cache

import numpy as np
from numba import njit

from .. import threads
from .checks import check_float_array, check_grad, pair
from .registry import kernel_table

# --------------------------------------------------------------------------- the arguments
TORCH_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "lanczos", "area", "nearest-exact")
"""Every mode ``torch.nn.functional.interpolate`` knows."""
MODES = {"nearest": "upsample_nearest2d", "nearest-exact": "upsample_nearest_exact2d",
         "linear": "upsample_bilinear2d", "bilinear": "upsample_bilinear2d", "trilinear": "upsample_bilinear2d",
         "bicubic": "upsample_bicubic2d", "area": "adaptive_avg_pool2d"}
"""The modes minicnn computes -> the 2-D kernel that computes each, one pass per pair of axes (torch's other modes
are refused by name; ``area`` is ``kernels/avgpool.py``'s adaptive average pooling, as in torch)."""
RANKS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
"""The input rank of each interpolating mode (torch's); the other modes take 3-, 4- and 5-D input."""
_NO_ALIGN = ("nearest", "area", "nearest-exact")   # the modes that take no align_corners (torch's list)
_MAX_SIZE = 2**31 - 1   # an output size beyond any array (as kernels/checks.py's pair)
NEAREST_EXACT_KEEPS = 2**23
"""The longest axis that ``nearest-exact`` maps onto itself at a kept size: output ``o``'s source is
``floor(o + 0.5)`` in float32, which is ``o`` while ``o + 0.5`` is a float32, ``o < 2**23``."""

Resize = namedtuple("Resize", "shape dtype output_size scales align_corners")
Resize.__doc__ = """The cache of every kernel of this file: the input's shape and dtype, the output size ``(OH, OW)``,
the scale factors ``(scales_h, scales_w)`` (float or None each), and ``align_corners`` (None for the nearest
modes).  Enough to recompute every source pixel: the ops are linear, no activation is kept."""


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_number(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _check_scale(name, scale):
    """A kernel's ``scales_h`` / ``scales_w``: None, or a positive finite number (returned as a float)."""
    if scale is None:
        return None
    if not _is_number(scale):
        raise TypeError(f"{name}: expected each scale as a number or None, got {type(scale).__name__}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"{name}: expected each scale positive and finite (or None), got {scale!r}")
    return float(scale)


def _setup(name, x, output_size, scales, align_corners=None):
    """The checks every kernel of this file runs before any numba code: the cache (:class:`Resize`)."""
    check_float_array(f"{name} input", x, 4)
    if 0 in x.shape[1:]:
        raise ValueError(f"{name}: expected non-empty channels, height and width (an empty batch is fine), got "
                         f"shape {x.shape}")
    if not isinstance(output_size, (tuple, list)) or len(output_size) != 2:
        raise TypeError(f"{name}: expected output_size as 2 ints (OH, OW), got {output_size!r}")
    output_size = pair(f"{name} output_size", tuple(output_size), 1)
    scales = tuple(_check_scale(name, s) for s in scales)
    if align_corners is not None and not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"{name}: expected align_corners as a bool, got {type(align_corners).__name__}")
    return Resize(x.shape, x.dtype, output_size, scales, None if align_corners is None else bool(align_corners))


def _aligned_setup(name, x, output_size, align_corners, scales):
    """:func:`_setup` of an interpolating mode, whose kernels take ``align_corners`` as a bool (not None)."""
    if not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"{name}: expected align_corners as a bool, got {type(align_corners).__name__}")
    return _setup(name, x, output_size, scales, align_corners)


def _check_resize_grad(name, dout, cache):
    check_grad(f"{name} backward", dout, cache.shape[:2] + cache.output_size, cache.dtype)


def interpolate_arguments(op, shape, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias):
    """torch's ``interpolate`` arguments for an input of ``shape`` (N, C, *spatial) with 1, 2 or 3 spatial dims,
    checked as torch checks them: ``(kernel name, output_size, scales, align_corners)``, one output size and
    one scale (float or None) per spatial dim, and the 2-D kernel of :data:`MODES` that computes ``mode``.

    ``size`` (an int, or one int per spatial dim) is the output size; ``scale_factor`` (a number, or one per
    dim) gives ``floor(size * factor)`` and is passed on as the scales unless ``recompute_scale_factor`` is
    True (then the step is in/out of the sizes); ``mode='area'`` always recomputes, as torch.  Exactly one of
    the two; ``align_corners`` only with the interpolating modes (None means False there), each of which
    takes one rank (:data:`RANKS`: ``'linear'`` 3-D, ``'bilinear'`` 4-D, ``'trilinear'`` 5-D).  Refused by name:
    torch's modes minicnn does not compute and ``antialias=True``.
    """
    if not isinstance(mode, str) or mode not in TORCH_MODES:
        raise ValueError(f"{op}: expected mode in {TORCH_MODES}, got {mode!r}")
    if mode in _NO_ALIGN:
        if align_corners is not None:
            raise ValueError(f"{op}: align_corners option can only be set with the interpolating modes: "
                             f"linear | bilinear | bicubic | trilinear (got mode={mode!r}, "
                             f"align_corners={align_corners!r})")
    elif align_corners is None:
        align_corners = False
    elif not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"{op}: expected align_corners as a bool or None, got {type(align_corners).__name__}")
    if size is not None and scale_factor is not None:
        raise ValueError(f"{op}: only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError(f"{op}: either size or scale_factor should be defined")
    for flag, value in (("recompute_scale_factor", recompute_scale_factor), ("antialias", antialias)):
        if value is not None and not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{op}: expected {flag} as a bool{' or None' if flag[0] == 'r' else ''}, got "
                            f"{type(value).__name__}")
    if recompute_scale_factor and size is not None:
        raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an explicit size.")
    if antialias:
        if mode not in ("bilinear", "bicubic", "lanczos"):
            raise ValueError(f"{op}: the anti-alias option is restricted to bilinear, bicubic and lanczos modes "
                             f"(got mode={mode!r})")
        raise ValueError(f"{op}: antialias=True is not supported (only antialias=False)")
    if mode not in MODES:
        raise ValueError(f"{op}: mode={mode!r} is not supported (minicnn computes mode "
                         f"{' / '.join(map(repr, MODES))})")
    dims = _spatial_dims(op, mode, shape)
    if size is not None:
        sizes = _per_dim(op, "size", size, _is_int, "int", dims)
        output_size, scales = tuple(int(s) for s in sizes), (None,) * dims
    else:
        factors = _per_dim(op, "scale_factor", scale_factor, _is_number, "number", dims)
        if not all(math.isfinite(f) and f > 0 for f in factors):
            raise ValueError(f"{op}: expected scale_factor positive and finite, got {scale_factor!r}")
        sizes = [n * float(f) for n, f in zip(shape[2:], factors)]
        if not all(s < _MAX_SIZE + 1 for s in sizes):
            raise ValueError(f"{op}: scale_factor={scale_factor!r} gives an output size of {sizes} for input "
                             f"({_axes(shape[2:])}): expected at most {_MAX_SIZE}")
        output_size = tuple(int(s) for s in sizes)   # rounded down, as torch
        recompute = recompute_scale_factor or mode == "area"   # area takes sizes only (torch recomputes)
        scales = (None,) * dims if recompute else tuple(float(f) for f in factors)
    if max(output_size) > _MAX_SIZE:
        raise ValueError(f"{op}: expected an output size of at most {_MAX_SIZE}, got {output_size}")
    if min(output_size) < 1:
        raise ValueError(f"{op}: input and output sizes should be greater than 0, but got input "
                         f"({_axes(shape[2:])}) output ({_axes(output_size)})")
    if min(shape[1:]) < 1:
        raise ValueError(f"{op}: expected non-empty channels and spatial dims (an empty batch is fine), got "
                         f"shape {tuple(shape)}")
    return MODES[mode], output_size, scales, None if mode in _NO_ALIGN else bool(align_corners)


def _spatial_dims(op, mode, shape):
    """The number of spatial dims of an input of ``shape`` for ``mode``: 1, 2 or 3 (torch's refusals otherwise)."""
    if len(shape) not in (3, 4, 5):
        raise ValueError(f"{op}: expected a 3-D (N, C, L), 4-D (N, C, H, W) or 5-D (N, C, D, H, W) input, got "
                         f"shape {tuple(shape)}")
    if RANKS.get(mode, len(shape)) != len(shape):
        raise ValueError(f"{op}: got {len(shape)}-D input, but {mode} mode needs {RANKS[mode]}-D input")
    return len(shape) - 2


def _axes(sizes):
    """``D: 3, H: 4, W: 5`` (torch's names for 3, 2 or 1 spatial sizes)."""
    return ", ".join(f"{axis}: {n}" for axis, n in zip("DHW"[-len(sizes):], sizes))


def _per_dim(op, argument, value, kind, what, dims):
    """``value`` as ``dims`` values (one value repeated, as torch), each of ``kind`` (a ``what``: int, number)."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims
    if len(values) != dims:
        raise ValueError(f"{op}: input and {argument} must have the same number of spatial dimensions ({dims} for "
                         f"a {dims + 2}-D input), got {argument}={value!r}")
    if not all(kind(v) for v in values):
        raise TypeError(f"{op}: expected {argument} as {'an' if what[0] == 'i' else 'a'} {what} or {dims} "
                        f"{what}s, got {value!r}")
    return values


# --------------------------------------------------------------------------- source indices, one axis at a time
def _step32(in_size, out_size, scale):
    """torch's ``compute_scales_value<float>``: ``1 / scale`` (in float64, rounded to float32), or ``I / O`` in
    float32."""
    if scale is not None:
        return np.float32(1.0 / scale)
    return np.float32(in_size) / np.float32(out_size)


def _frozen(*arrays):
    for a in arrays:
        a.setflags(write=False)  # shared between calls (cached): nobody may change them
    return arrays


@lru_cache(maxsize=256)
def nearest_sources(in_size, out_size, scale):
    """The ``nearest`` source index of each of ``out_size`` outputs along an axis of ``in_size`` (int64, read-only)."""
    d = np.arange(out_size, dtype=np.int64)
    if out_size == in_size:
        src = d
    elif out_size == 2 * in_size:
        src = d >> 1
    else:
        src = np.floor(d.astype(np.float32) * _step32(in_size, out_size, scale)).astype(np.int64)
        src = np.minimum(src, in_size - 1)
    return _frozen(src)[0]


@lru_cache(maxsize=256)
def nearest_exact_sources(in_size, out_size, scale):
    """The ``nearest-exact`` source index (the pixel centre's) of each output (int64, read-only)."""
    centre = (np.arange(out_size) + 0.5) * np.float64(_step32(in_size, out_size, scale))
    src = np.minimum(np.floor(centre.astype(np.float32)).astype(np.int64), in_size - 1)
    return _frozen(src)[0]


@lru_cache(maxsize=256)
def linear_sources(in_size, out_size, align_corners, scale):
    """``(i0, i1, w0, w1)``: each output's two source indices (int64) and their weights ``1 - lam``, ``lam``
    (float64), read-only."""
    d = np.arange(out_size, dtype=np.float64)
    if out_size == in_size:   # torch copies when the size is kept, whatever the scale factor says
        i = np.arange(out_size, dtype=np.int64)
        return _frozen(i, i.copy(), np.ones(out_size), np.zeros(out_size))
    if align_corners:
        real = d * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    else:
        step = 1.0 / scale if scale is not None else in_size / out_size
        real = np.maximum(step * (d + 0.5) - 0.5, 0.0)
    i0 = np.minimum(np.floor(real).astype(np.int64), in_size - 1)
    lam = np.clip(real - i0, 0.0, 1.0)
    i1 = i0 + (i0 < in_size - 1)
    return _frozen(i0, i1, 1.0 - lam, lam)


CUBIC_A = -0.75
"""torch's ``A`` of the cubic convolution kernel (OpenCV's; Keys' paper and PIL use -0.5)."""


@lru_cache(maxsize=256)
def cubic_sources(in_size, out_size, align_corners, scale):
    """``(taps, weights)``: each output's four source indices ``i - 1 .. i + 2``, clamped into the axis (int64,
    (out_size, 4)), and their cubic convolution weights (float64, (out_size, 4)), read-only."""
    d = np.arange(out_size, dtype=np.float64)
    if align_corners:
        real = d * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    else:
        step = 1.0 / scale if scale is not None else in_size / out_size
        real = step * (d + 0.5) - 0.5   # not clamped at 0: the taps beyond the border are clamped instead
    i = np.minimum(np.floor(real.astype(np.float32)).astype(np.int64), in_size - 1)   # torch's floorf
    t = np.clip(real - i, 0.0, 1.0)
    taps = np.clip(i[:, None] + np.arange(-1, 3), 0, in_size - 1)
    a = CUBIC_A
    near = lambda u: ((a + 2) * u - (a + 3)) * u * u + 1          # noqa: E731 (W(u), 0 <= u <= 1, Horner's form)
    far = lambda u: ((a * u - 5 * a) * u + 8 * a) * u - 4 * a     # noqa: E731 (W(u), 1 <= u <= 2)
    weights = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1)
    return _frozen(taps, weights)


# --------------------------------------------------------------------------- numba: one plane at a time
@njit(cache=True, nogil=True)
def _gather_kernel(x, rows, cols, out):
    """``out[p, oy, ox] = x[p, rows[oy], cols[ox]]`` for every plane ``p``."""
    for p in range(x.shape[0]):
        for oy in range(rows.size):
            src, dst = x[p, rows[oy]], out[p, oy]
            for ox in range(cols.size):
                dst[ox] = src[cols[ox]]


@njit(cache=True, nogil=True)
def _scatter_kernel(dout, rows, cols, dx):
    """``dx[p, rows[oy], cols[ox]] += dout[p, oy, ox]``: each plane summed in float64, then stored."""
    acc = np.zeros((dx.shape[1], dx.shape[2]))
    for p in range(dout.shape[0]):
        acc[:] = 0.0
        for oy in range(rows.size):
            r = rows[oy]
            for ox in range(cols.size):
                acc[r, cols[ox]] += dout[p, oy, ox]
        for i in range(dx.shape[1]):
            for j in range(dx.shape[2]):
                dx[p, i, j] = acc[i, j]


@njit(cache=True, nogil=True)
def _bilinear_kernel(x, h0, h1, hw0, hw1, w0, w1, ww0, ww1, out):
    """``out[p, oy, ox]``: the two rows ``h0, h1`` blended by ``hw0, hw1``, each row's two pixels ``w0, w1``
    by ``ww0, ww1`` (in float64, whatever x's dtype)."""
    for p in range(x.shape[0]):
        for oy in range(h0.size):
            top, bottom = x[p, h0[oy]], x[p, h1[oy]]
            a, b = hw0[oy], hw1[oy]
            for ox in range(w0.size):
                i, j = w0[ox], w1[ox]
                out[p, oy, ox] = (a * (ww0[ox] * top[i] + ww1[ox] * top[j])
                                  + b * (ww0[ox] * bottom[i] + ww1[ox] * bottom[j]))


@njit(cache=True, nogil=True)
def _bilinear_adjoint_kernel(dout, h0, h1, hw0, hw1, w0, w1, ww0, ww1, dx):
    """The adjoint of :func:`_bilinear_kernel`: each output's gradient added to its four source pixels with their
    weights; each plane summed in float64, then stored."""
    acc = np.zeros((dx.shape[1], dx.shape[2]))
    for p in range(dout.shape[0]):
        acc[:] = 0.0
        for oy in range(h0.size):
            r0, r1 = h0[oy], h1[oy]
            for ox in range(w0.size):
                g = dout[p, oy, ox] * 1.0
                top, bottom = hw0[oy] * g, hw1[oy] * g
                i, j = w0[ox], w1[ox]
                acc[r0, i] += top * ww0[ox]
                acc[r0, j] += top * ww1[ox]
                acc[r1, i] += bottom * ww0[ox]
                acc[r1, j] += bottom * ww1[ox]
        for i in range(dx.shape[1]):
            for j in range(dx.shape[2]):
                dx[p, i, j] = acc[i, j]


@njit(cache=True, nogil=True)
def _bicubic_kernel(x, rows, row_w, cols, col_w, out):
    """``out[p, oy, ox] = sum_j row_w[oy, j] * sum_i col_w[ox, i] * x[p, rows[oy, j], cols[ox, i]]``: the 4 x 4
    taps (in float64, whatever x's dtype)."""
    for p in range(x.shape[0]):
        for oy in range(rows.shape[0]):
            for ox in range(cols.shape[0]):
                acc = 0.0
                for j in range(4):
                    r = rows[oy, j]
                    line = 0.0
                    for i in range(4):
                        line += col_w[ox, i] * x[p, r, cols[ox, i]]
                    acc += row_w[oy, j] * line
                out[p, oy, ox] = acc


@njit(cache=True, nogil=True)
def _bicubic_adjoint_kernel(dout, rows, row_w, cols, col_w, dx):
    """The adjoint of :func:`_bicubic_kernel`: each output's gradient added to its 16 taps with their weights
    (added: at a border several taps are one pixel); each plane summed in float64, then stored."""
    acc = np.zeros((dx.shape[1], dx.shape[2]))
    for p in range(dout.shape[0]):
        acc[:] = 0.0
        for oy in range(rows.shape[0]):
            for ox in range(cols.shape[0]):
                g = dout[p, oy, ox] * 1.0
                for j in range(4):
                    for i in range(4):
                        acc[rows[oy, j], cols[ox, i]] += g * row_w[oy, j] * col_w[ox, i]
        for i in range(dx.shape[1]):
            for j in range(dx.shape[2]):
                dx[p, i, j] = acc[i, j]


def _planes(kernel, a, geometry, shape):
    """``kernel(a's planes, *geometry, result's planes)`` over the N*C planes, in chunks on minicnn's threads;
    ``a`` (N, C, h, w), the result (N, C) + ``shape`` in a's dtype."""
    n, c = a.shape[:2]
    src = np.ascontiguousarray(a).reshape((n * c,) + a.shape[2:])
    out = np.empty((n * c,) + tuple(shape), dtype=a.dtype)
    threads.map_chunks(lambda sl: kernel(src[sl], *geometry, out[sl]), n * c,
                       threads.min_items(math.prod(a.shape[2:]) + math.prod(shape)))
    return out.reshape((n, c) + tuple(shape))


# --------------------------------------------------------------------------- upsample_nearest2d
def upsample_nearest2d_forward(x, output_size, scales_h=None, scales_w=None):
    """``interpolate(mode='nearest')`` of an (N, C, H, W) array: each output pixel a copy of one input pixel.

    Parameters
    ----------
    x : ndarray (N, C, H, W), float32 or float64 (C, H, W non-empty)
    output_size : 2 ints (OH, OW), each >= 1
    scales_h, scales_w : the scale factors torch passes on (``scale_factor``; the step is their inverse), or
        None (the step is H / OH, W / OW)

    Returns
    -------
    out : ndarray (N, C, OH, OW), x's dtype (a new array)
    cache : :class:`Resize`
    """
    cache = _setup("upsample_nearest2d", x, output_size, (scales_h, scales_w))
    return _nearest_gather(x, cache, nearest_sources), cache


def upsample_nearest2d_backward(dout, cache):
    """``dx``: each output pixel's gradient added to the input pixel it copied; returns dx like x."""
    _check_resize_grad("upsample_nearest2d", dout, cache)
    rows = nearest_sources(cache.shape[2], cache.output_size[0], cache.scales[0])
    cols = nearest_sources(cache.shape[3], cache.output_size[1], cache.scales[1])
    return _planes(_scatter_kernel, dout, (rows, cols), cache.shape[2:])


def _nearest_gather(x, cache, sources):
    rows = sources(x.shape[2], cache.output_size[0], cache.scales[0])
    cols = sources(x.shape[3], cache.output_size[1], cache.scales[1])
    return _planes(_gather_kernel, x, (rows, cols), cache.output_size)


def _nearest_source_naive(d, in_size, out_size, scale):
    """torch's ``nearest_idx`` for output ``d``: the two shortcuts, else ``min(floor(d * step), I - 1)`` in float32."""
    if out_size == in_size:
        return d
    if out_size == 2 * in_size:
        return d // 2
    step = np.float32(1.0 / scale) if scale is not None else np.float32(in_size) / np.float32(out_size)
    return min(int(np.floor(np.float32(d) * step)), in_size - 1)


def _gather_naive(x, cache, source):
    """``out[:, :, oy, ox] = x[:, :, source(oy), source(ox)]``, one output pixel at a time."""
    (n, c, h, w), (oh, ow), (sh, sw) = x.shape, cache.output_size, cache.scales
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    for oy in range(oh):
        iy = source(oy, h, oh, sh)
        for ox in range(ow):
            out[:, :, oy, ox] = x[:, :, iy, source(ox, w, ow, sw)]
    return out


def _scatter_naive(dout, cache, source):
    """``dx[:, :, source(oy), source(ox)] += dout[:, :, oy, ox]``, one output pixel at a time (in float64)."""
    (n, c, h, w), (oh, ow), (sh, sw) = cache.shape, cache.output_size, cache.scales
    dx = np.zeros((n, c, h, w))
    for oy in range(oh):
        iy = source(oy, h, oh, sh)
        for ox in range(ow):
            dx[:, :, iy, source(ox, w, ow, sw)] += dout[:, :, oy, ox]
    return dx.astype(cache.dtype)


def upsample_nearest2d_forward_naive(x, output_size, scales_h=None, scales_w=None):
    """:func:`upsample_nearest2d_forward`, each output pixel's source computed on its own."""
    cache = _setup("upsample_nearest2d", x, output_size, (scales_h, scales_w))
    return _gather_naive(x, cache, _nearest_source_naive), cache


def upsample_nearest2d_backward_naive(dout, cache):
    """``dx[source(oy), source(ox)] += dout[oy, ox]`` for every output pixel."""
    _check_resize_grad("upsample_nearest2d", dout, cache)
    return _scatter_naive(dout, cache, _nearest_source_naive)


# --------------------------------------------------------------------------- upsample_nearest_exact2d
def upsample_nearest_exact2d_forward(x, output_size, scales_h=None, scales_w=None):
    """``interpolate(mode='nearest-exact')``: as :func:`upsample_nearest2d_forward`, each output pixel a copy of
    the input pixel under its centre (Pillow's and scikit-image's nearest neighbour)."""
    cache = _setup("upsample_nearest_exact2d", x, output_size, (scales_h, scales_w))
    return _nearest_gather(x, cache, nearest_exact_sources), cache


def upsample_nearest_exact2d_backward(dout, cache):
    """``dx``: each output pixel's gradient added to the input pixel under its centre."""
    _check_resize_grad("upsample_nearest_exact2d", dout, cache)
    rows = nearest_exact_sources(cache.shape[2], cache.output_size[0], cache.scales[0])
    cols = nearest_exact_sources(cache.shape[3], cache.output_size[1], cache.scales[1])
    return _planes(_scatter_kernel, dout, (rows, cols), cache.shape[2:])


def _nearest_exact_source_naive(d, in_size, out_size, scale):
    """torch's ``nearest_exact_idx`` for output ``d``: ``min(floor((d + 0.5) * step), I - 1)``."""
    step = np.float32(1.0 / scale) if scale is not None else np.float32(in_size) / np.float32(out_size)
    return min(int(np.floor(np.float32((d + 0.5) * float(step)))), in_size - 1)


def upsample_nearest_exact2d_forward_naive(x, output_size, scales_h=None, scales_w=None):
    """:func:`upsample_nearest_exact2d_forward`, each output pixel's source computed on its own."""
    cache = _setup("upsample_nearest_exact2d", x, output_size, (scales_h, scales_w))
    return _gather_naive(x, cache, _nearest_exact_source_naive), cache


def upsample_nearest_exact2d_backward_naive(dout, cache):
    """``dx[source(oy), source(ox)] += dout[oy, ox]`` for every output pixel."""
    _check_resize_grad("upsample_nearest_exact2d", dout, cache)
    return _scatter_naive(dout, cache, _nearest_exact_source_naive)


# --------------------------------------------------------------------------- upsample_bilinear2d
def upsample_bilinear2d_forward(x, output_size, align_corners, scales_h=None, scales_w=None):
    """``interpolate(mode='bilinear')`` of an (N, C, H, W) array: each output pixel a weighted sum of four.

    Parameters
    ----------
    x : ndarray (N, C, H, W), float32 or float64 (C, H, W non-empty)
    output_size : 2 ints (OH, OW), each >= 1
    align_corners : bool; True: the corner pixels' centres map onto each other (the scales are not used)
    scales_h, scales_w : as :func:`upsample_nearest2d_forward`'s

    Returns
    -------
    out : ndarray (N, C, OH, OW), x's dtype (computed in float64)
    cache : :class:`Resize`
    """
    cache = _aligned_setup("upsample_bilinear2d", x, output_size, align_corners, (scales_h, scales_w))
    rows = linear_sources(x.shape[2], cache.output_size[0], cache.align_corners, cache.scales[0])
    cols = linear_sources(x.shape[3], cache.output_size[1], cache.align_corners, cache.scales[1])
    return _planes(_bilinear_kernel, x, rows + cols, cache.output_size), cache


def upsample_bilinear2d_backward(dout, cache):
    """``dx``: each output pixel's gradient added to its four source pixels, times their weights; dx like x."""
    _check_resize_grad("upsample_bilinear2d", dout, cache)
    h0, h1, hw0, hw1 = linear_sources(cache.shape[2], cache.output_size[0], cache.align_corners, cache.scales[0])
    w0, w1, ww0, ww1 = linear_sources(cache.shape[3], cache.output_size[1], cache.align_corners, cache.scales[1])
    return _planes(_bilinear_adjoint_kernel, dout, (h0, h1, hw0, hw1, w0, w1, ww0, ww1), cache.shape[2:])


def _linear_source_naive(d, in_size, out_size, align_corners, scale):
    """torch's ``compute_source_index_and_lambda`` for output ``d``: ``(i0, i1, 1 - lam, lam)``."""
    if out_size == in_size:
        return d, d, 1.0, 0.0
    if align_corners:
        real = d * ((in_size - 1) / (out_size - 1)) if out_size > 1 else 0.0
    else:
        step = 1.0 / scale if scale is not None else in_size / out_size
        real = max(step * (d + 0.5) - 0.5, 0.0)
    i0 = min(math.floor(real), in_size - 1)
    lam = min(max(real - i0, 0.0), 1.0)
    i1 = i0 + 1 if i0 < in_size - 1 else i0
    return i0, i1, 1.0 - lam, lam


def upsample_bilinear2d_forward_naive(x, output_size, align_corners, scales_h=None, scales_w=None):
    """:func:`upsample_bilinear2d_forward`, each output pixel's four sources and weights computed on its own."""
    cache = _aligned_setup("upsample_bilinear2d", x, output_size, align_corners, (scales_h, scales_w))
    (n, c, h, w), (oh, ow), (sh, sw) = x.shape, cache.output_size, cache.scales
    x64 = x.astype(np.float64)
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    for oy in range(oh):
        y0, y1, a0, a1 = _linear_source_naive(oy, h, oh, cache.align_corners, sh)
        for ox in range(ow):
            x0, x1, b0, b1 = _linear_source_naive(ox, w, ow, cache.align_corners, sw)
            out[:, :, oy, ox] = (a0 * (b0 * x64[:, :, y0, x0] + b1 * x64[:, :, y0, x1])
                                 + a1 * (b0 * x64[:, :, y1, x0] + b1 * x64[:, :, y1, x1]))
    return out, cache


def upsample_bilinear2d_backward_naive(dout, cache):
    """``dx[yi, xj] += a_i * b_j * dout[oy, ox]`` for the four sources of every output pixel (in float64)."""
    _check_resize_grad("upsample_bilinear2d", dout, cache)
    (n, c, h, w), (oh, ow), (sh, sw) = cache.shape, cache.output_size, cache.scales
    dx = np.zeros((n, c, h, w))
    for oy in range(oh):
        y0, y1, a0, a1 = _linear_source_naive(oy, h, oh, cache.align_corners, sh)
        for ox in range(ow):
            x0, x1, b0, b1 = _linear_source_naive(ox, w, ow, cache.align_corners, sw)
            g = dout[:, :, oy, ox].astype(np.float64)
            dx[:, :, y0, x0] += a0 * b0 * g
            dx[:, :, y0, x1] += a0 * b1 * g
            dx[:, :, y1, x0] += a1 * b0 * g
            dx[:, :, y1, x1] += a1 * b1 * g
    return dx.astype(cache.dtype)


# --------------------------------------------------------------------------- upsample_bicubic2d
def upsample_bicubic2d_forward(x, output_size, align_corners, scales_h=None, scales_w=None):
    """``interpolate(mode='bicubic')`` of an (N, C, H, W) array: each output pixel a weighted sum of the 4 x 4
    input pixels around its source position (cubic convolution, ``A = -0.75``, the taps clamped to the border).

    Parameters
    ----------
    x : ndarray (N, C, H, W), float32 or float64 (C, H, W non-empty)
    output_size : 2 ints (OH, OW), each >= 1
    align_corners : bool; True: the corner pixels' centres map onto each other (the scales are not used)
    scales_h, scales_w : as :func:`upsample_nearest2d_forward`'s

    Returns
    -------
    out : ndarray (N, C, OH, OW), x's dtype (computed in float64)
    cache : :class:`Resize`
    """
    cache = _aligned_setup("upsample_bicubic2d", x, output_size, align_corners, (scales_h, scales_w))
    rows = cubic_sources(x.shape[2], cache.output_size[0], cache.align_corners, cache.scales[0])
    cols = cubic_sources(x.shape[3], cache.output_size[1], cache.align_corners, cache.scales[1])
    return _planes(_bicubic_kernel, x, rows + cols, cache.output_size), cache


def upsample_bicubic2d_backward(dout, cache):
    """``dx``: each output pixel's gradient added to its 16 taps, times their weights; dx like x."""
    _check_resize_grad("upsample_bicubic2d", dout, cache)
    rows = cubic_sources(cache.shape[2], cache.output_size[0], cache.align_corners, cache.scales[0])
    cols = cubic_sources(cache.shape[3], cache.output_size[1], cache.align_corners, cache.scales[1])
    return _planes(_bicubic_adjoint_kernel, dout, rows + cols, cache.shape[2:])


def _cubic_kernel_naive(u):
    """Keys' cubic convolution kernel ``W(u)`` with ``A = CUBIC_A``, piece by piece (0 from ``|u| = 2`` on)."""
    u, a = abs(u), CUBIC_A
    if u <= 1:
        return (a + 2) * u**3 - (a + 3) * u**2 + 1
    if u < 2:
        return a * u**3 - 5 * a * u**2 + 8 * a * u - 4 * a
    return 0.0


def _cubic_source_naive(d, in_size, out_size, align_corners, scale):
    """Output ``d``'s four taps (torch's ``area_pixel_compute_source_index`` with ``cubic=True``, then
    ``guard_index_and_lambda``), each clamped into the axis, and ``W`` at each tap's distance from the source."""
    if align_corners:
        real = d * ((in_size - 1) / (out_size - 1)) if out_size > 1 else 0.0
    else:
        step = 1.0 / scale if scale is not None else in_size / out_size
        real = step * (d + 0.5) - 0.5
    i = min(math.floor(np.float32(real)), in_size - 1)   # floorf: the position rounded to float32 first
    t = min(max(real - i, 0.0), 1.0)
    taps = [min(max(i + k, 0), in_size - 1) for k in (-1, 0, 1, 2)]
    return taps, [_cubic_kernel_naive(t - k) for k in (-1, 0, 1, 2)]


def upsample_bicubic2d_forward_naive(x, output_size, align_corners, scales_h=None, scales_w=None):
    """:func:`upsample_bicubic2d_forward`, each output pixel's 16 taps and weights computed on its own."""
    cache = _aligned_setup("upsample_bicubic2d", x, output_size, align_corners, (scales_h, scales_w))
    (n, c, h, w), (oh, ow), (sh, sw) = x.shape, cache.output_size, cache.scales
    x64 = x.astype(np.float64)
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    for oy in range(oh):
        rows, wy = _cubic_source_naive(oy, h, oh, cache.align_corners, sh)
        for ox in range(ow):
            cols, wx = _cubic_source_naive(ox, w, ow, cache.align_corners, sw)
            out[:, :, oy, ox] = sum(a * b * x64[:, :, r, s] for r, a in zip(rows, wy) for s, b in zip(cols, wx))
    return out, cache


def upsample_bicubic2d_backward_naive(dout, cache):
    """``dx[y_j, x_i] += wy_j * wx_i * dout[oy, ox]`` for the 16 taps of every output pixel (in float64), added
    where clamped taps are one pixel."""
    _check_resize_grad("upsample_bicubic2d", dout, cache)
    (n, c, h, w), (oh, ow), (sh, sw) = cache.shape, cache.output_size, cache.scales
    dx = np.zeros((n, c, h, w))
    for oy in range(oh):
        rows, wy = _cubic_source_naive(oy, h, oh, cache.align_corners, sh)
        for ox in range(ow):
            cols, wx = _cubic_source_naive(ox, w, ow, cache.align_corners, sw)
            g = dout[:, :, oy, ox].astype(np.float64)
            for j in range(4):
                for i in range(4):
                    dx[:, :, rows[j], cols[i]] += wy[j] * wx[i] * g
    return dx.astype(cache.dtype)


# this file's ops, by ATen's names (see the module docstring)
KERNELS = kernel_table(globals(), "upsample_nearest2d", "upsample_nearest_exact2d", "upsample_bilinear2d",
                       "upsample_bicubic2d")
