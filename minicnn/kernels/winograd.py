"""3x3, stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3).

Each 2x2 block of output pixels is computed from a 4x4 tile of the (zero-padded)
input with 16 multiplies per (input, output) channel pair instead of the 36 of
the direct sum (2.25x fewer)::

    Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A                 # d: 4x4 tile, g: 3x3 kernel, Y: 2x2

    B^T = [[1, 0,-1, 0],     G = [[ 1,   0,   0 ],     A^T = [[1, 1, 1, 0],
           [0, 1, 1, 0],          [1/2, 1/2, 1/2],            [0, 1,-1,-1]]
           [0,-1, 1, 0],          [1/2,-1/2, 1/2],
           [0, 1, 0,-1]]          [ 0,   0,   1 ]]

(Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015.)  The
sum over input channels happens in the transformed domain, so for each of the
16 tile positions ``xi`` it is one GEMM over channels::

    V[xi] = (B^T d B)[xi]            (C, T)   T = tiles of the batch chunk
    U[xi] = (G g G^T)[xi]            (O, C)
    M[xi] = U[xi] @ V[xi]            (O, T)   16 GEMMs, K = C
    out   = A^T M A                  (O, N*OH*OW), the layout of im2col's GEMM output

Backward is the same three steps read the other way round (each transform's
adjoint is its transpose), sharing ``dM = A dY A^T``::

    dU[xi] = dM[xi] @ V[xi]^T        ->  dweight = G^T dU G
    dV[xi] = U[xi]^T @ dM[xi]        ->  dx      = B dV B^T, tiles overlapping by 2 accumulate (+=)

Every matrix above has entries 0, ±1 and ±1/2, exact in binary floating point;
F(2x2, 3x3) is the most accurate member of the family (its float32 error is
measured against float64 in ``benchmarks/accuracy_fp32.py`` and bounded in the
tests).  :func:`winograd_conv2d_naive` is the same algorithm in a few lines of
numpy, tile by tile; the readable definition of the convolution itself stays
``conv.conv2d_forward_naive``.
"""
import numpy as np
from numba import njit

BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)


def tiles(oh, ow):
    """Number of 2x2 output tiles down and across (an odd size leaves a half tile, cropped)."""
    return (oh + 1) // 2, (ow + 1) // 2


# --------------------------------------------------------------------------- 1-D transforms
# Each 2-D transform is its 1-D transform applied to the rows, then to the columns.
@njit(inline="always")
def _bt(d0, d1, d2, d3):
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


@njit(inline="always")
def _b(v0, v1, v2, v3):  # B = (B^T)^T, the adjoint of _bt
    return v0, v1 - v2 + v3, v1 + v2 - v0, -v3


@njit(inline="always")
def _at(m0, m1, m2, m3):
    return m0 + m1 + m2, m1 - m2 - m3


@njit(inline="always")
def _a(y0, y1):  # A = (A^T)^T, the adjoint of _at
    return y0, y0 + y1, y0 - y1, -y1


@njit(inline="always")
def _add_column(r0, r1, r2, r3, k, q0, q1, q2, q3):
    s0, s1, s2, s3 = _b(q0, q1, q2, q3)
    r0[k] += s0
    r1[k] += s1
    r2[k] += s2
    r3[k] += s3


# --------------------------------------------------------------------------- numba kernels
@njit(cache=True, nogil=True)
def _input_transform_kernel(x, ph, pw, th, tw, v):
    """``v[4i+j, c, n*th*tw + ty*tw + tx] = (B^T d B)[i, j]`` for the 4x4 tile ``d`` at (2ty, 2tx)
    of image n's channel c, zero-padded by (ph, pw) (and up to the tiles' extent)."""
    n_img, chans, h, w = x.shape
    buf = np.zeros((2 * th + 2, 2 * tw + 2), dtype=x.dtype)
    hh, ww = min(h, buf.shape[0] - ph), min(w, buf.shape[1] - pw)  # rows a tile never reads are skipped
    for n in range(n_img):
        for c in range(chans):
            for y in range(hh):
                for xx in range(ww):
                    buf[ph + y, pw + xx] = x[n, c, y, xx]
            for ty in range(th):
                r0, r1, r2, r3 = buf[2 * ty], buf[2 * ty + 1], buf[2 * ty + 2], buf[2 * ty + 3]
                col = n * th * tw + ty * tw
                for tx in range(tw):
                    k = 2 * tx
                    # rows first (B^T d): four row-vectors a0..a3 of four entries each
                    a00, a10, a20, a30 = _bt(r0[k], r1[k], r2[k], r3[k])
                    a01, a11, a21, a31 = _bt(r0[k + 1], r1[k + 1], r2[k + 1], r3[k + 1])
                    a02, a12, a22, a32 = _bt(r0[k + 2], r1[k + 2], r2[k + 2], r3[k + 2])
                    a03, a13, a23, a33 = _bt(r0[k + 3], r1[k + 3], r2[k + 3], r3[k + 3])
                    # then columns (. B)
                    v[0, c, col + tx], v[1, c, col + tx], v[2, c, col + tx], v[3, c, col + tx] = \
                        _bt(a00, a01, a02, a03)
                    v[4, c, col + tx], v[5, c, col + tx], v[6, c, col + tx], v[7, c, col + tx] = \
                        _bt(a10, a11, a12, a13)
                    v[8, c, col + tx], v[9, c, col + tx], v[10, c, col + tx], v[11, c, col + tx] = \
                        _bt(a20, a21, a22, a23)
                    v[12, c, col + tx], v[13, c, col + tx], v[14, c, col + tx], v[15, c, col + tx] = \
                        _bt(a30, a31, a32, a33)


@njit(cache=True, nogil=True)
def _input_transform_adjoint_kernel(dv, ph, pw, th, tw, dx):
    """``dx[n, c] = crop(sum over tiles of B dV B^T placed at (2ty, 2tx))``; ``dx`` is overwritten."""
    n_img, chans, h, w = dx.shape
    buf = np.empty((2 * th + 2, 2 * tw + 2), dtype=dx.dtype)
    hh, ww = min(h, buf.shape[0] - ph), min(w, buf.shape[1] - pw)
    for n in range(n_img):
        for c in range(chans):
            buf[:] = 0
            for ty in range(th):
                r0, r1, r2, r3 = buf[2 * ty], buf[2 * ty + 1], buf[2 * ty + 2], buf[2 * ty + 3]
                col = n * th * tw + ty * tw
                for tx in range(tw):
                    t = col + tx
                    # columns first (. B^T): row i of dV becomes e_i0..e_i3
                    e00, e01, e02, e03 = _b(dv[0, c, t], dv[1, c, t], dv[2, c, t], dv[3, c, t])
                    e10, e11, e12, e13 = _b(dv[4, c, t], dv[5, c, t], dv[6, c, t], dv[7, c, t])
                    e20, e21, e22, e23 = _b(dv[8, c, t], dv[9, c, t], dv[10, c, t], dv[11, c, t])
                    e30, e31, e32, e33 = _b(dv[12, c, t], dv[13, c, t], dv[14, c, t], dv[15, c, t])
                    k = 2 * tx
                    # then rows (B .); += : neighbouring tiles overlap by two rows and two columns
                    _add_column(r0, r1, r2, r3, k, e00, e10, e20, e30)
                    _add_column(r0, r1, r2, r3, k + 1, e01, e11, e21, e31)
                    _add_column(r0, r1, r2, r3, k + 2, e02, e12, e22, e32)
                    _add_column(r0, r1, r2, r3, k + 3, e03, e13, e23, e33)
            for y in range(h):
                for xx in range(w):
                    dx[n, c, y, xx] = buf[ph + y, pw + xx] if y < hh and xx < ww else 0


@njit(cache=True, nogil=True)
def _output_transform_kernel(m, oh, ow, th, tw, out2):
    """``out2[o, n*oh*ow + y*ow + x] = (A^T M A)`` of tile (y//2, x//2), cropped to (oh, ow)."""
    n_out = out2.shape[0]
    n_img = out2.shape[1] // (oh * ow)
    for o in range(n_out):
        for n in range(n_img):
            for ty in range(th):
                col = n * th * tw + ty * tw
                top = n * oh * ow + 2 * ty * ow
                bottom = top + ow
                for tx in range(tw):
                    t = col + tx
                    s00, s10 = _at(m[0, o, t], m[4, o, t], m[8, o, t], m[12, o, t])
                    s01, s11 = _at(m[1, o, t], m[5, o, t], m[9, o, t], m[13, o, t])
                    s02, s12 = _at(m[2, o, t], m[6, o, t], m[10, o, t], m[14, o, t])
                    s03, s13 = _at(m[3, o, t], m[7, o, t], m[11, o, t], m[15, o, t])
                    y00, y01 = _at(s00, s01, s02, s03)
                    y10, y11 = _at(s10, s11, s12, s13)
                    k = 2 * tx
                    out2[o, top + k] = y00
                    if k + 1 < ow:
                        out2[o, top + k + 1] = y01
                    if 2 * ty + 1 < oh:
                        out2[o, bottom + k] = y10
                        if k + 1 < ow:
                            out2[o, bottom + k + 1] = y11


@njit(cache=True, nogil=True)
def _output_transform_adjoint_kernel(dout2, oh, ow, th, tw, dm):
    """``dm[:, o, t] = A dY A^T`` for the 2x2 block ``dY`` of ``dout2`` at tile t (zero past the crop)."""
    n_out = dout2.shape[0]
    n_img = dout2.shape[1] // (oh * ow)
    for o in range(n_out):
        for n in range(n_img):
            for ty in range(th):
                col = n * th * tw + ty * tw
                top = n * oh * ow + 2 * ty * ow
                bottom = top + ow
                has_bottom = 2 * ty + 1 < oh
                for tx in range(tw):
                    k = 2 * tx
                    has_right = k + 1 < ow
                    y00 = dout2[o, top + k]
                    y01 = dout2[o, top + k + 1] if has_right else 0
                    y10 = dout2[o, bottom + k] if has_bottom else 0
                    y11 = dout2[o, bottom + k + 1] if has_bottom and has_right else 0
                    c00, c10, c20, c30 = _a(y00, y10)  # columns (A .)
                    c01, c11, c21, c31 = _a(y01, y11)
                    t = col + tx
                    dm[0, o, t], dm[1, o, t], dm[2, o, t], dm[3, o, t] = _a(c00, c01)  # rows (. A^T)
                    dm[4, o, t], dm[5, o, t], dm[6, o, t], dm[7, o, t] = _a(c10, c11)
                    dm[8, o, t], dm[9, o, t], dm[10, o, t], dm[11, o, t] = _a(c20, c21)
                    dm[12, o, t], dm[13, o, t], dm[14, o, t], dm[15, o, t] = _a(c30, c31)


# --------------------------------------------------------------------------- the conv, per batch chunk
def _stack16(rows, cols, dtype):
    """An empty (16, rows, cols) array whose 16 matrices start one cache line apart modulo 4 KiB.

    The transforms read or write all 16 matrices at once; contiguous matrices whose size is a
    multiple of 4 KiB (T = 1568 tiles x 32 channels x 4 bytes is) put all 16 streams in the same
    L1 set, and every access misses (measured: the transforms ran 5-10x slower).
    """
    itemsize = np.dtype(dtype).itemsize
    page = 4096 // itemsize
    stride = -(-rows * cols // page) * page + 64 // itemsize
    return np.empty((16, stride), dtype=dtype)[:, :rows * cols].reshape(16, rows, cols)


def weight_transform(weight):
    """``U[4i+j, o, c] = (G g G^T)[i, j]`` for ``weight`` (O, C, 3, 3): shape (16, O, C)."""
    g = G.astype(weight.dtype)
    u = g @ weight @ g.T                                                    # (O, C, 4, 4)
    return np.ascontiguousarray(u.transpose(2, 3, 0, 1)).reshape(16, *weight.shape[:2])


def weight_transform_adjoint(du):
    """``dweight[o, c] = G^T dU G`` for ``du`` (16, O, C): shape (O, C, 3, 3)."""
    g = G.astype(du.dtype)
    return g.T @ du.reshape(4, 4, *du.shape[1:]).transpose(2, 3, 0, 1) @ g


def forward(x, u, padding, out_hw):
    """One chunk's convolution without bias.

    Parameters
    ----------
    x : ndarray (N, C, H, W);  u : :func:`weight_transform` of the weight, (16, O, C)
    padding : (ph, pw);  out_hw : (OH, OW) = (H + 2ph - 2, W + 2pw - 2)

    Returns
    -------
    out2 : ndarray (O, N*OH*OW), im2col's GEMM layout
    v : the transformed input (16, C, T), kept for :func:`backward`
    """
    (oh, ow), (th, tw) = out_hw, tiles(*out_hw)
    n, c = x.shape[:2]
    v = _stack16(c, n * th * tw, x.dtype)
    _input_transform_kernel(np.ascontiguousarray(x), padding[0], padding[1], th, tw, v)
    m = np.matmul(u, v, out=_stack16(u.shape[1], v.shape[2], x.dtype))     # 16 GEMMs (O, C) @ (C, T)
    out2 = np.empty((u.shape[1], n * oh * ow), dtype=x.dtype)
    _output_transform_kernel(m, oh, ow, th, tw, out2)
    return out2, v


def backward(dout2, u, v, padding, out_hw, dx_out):
    """Backward of :func:`forward` from ``dout2`` (O, N*OH*OW).

    Writes d loss / d x into ``dx_out`` (N, C, H, W) unless it is None; returns dweight (O, C, 3, 3).
    """
    (oh, ow), (th, tw) = out_hw, tiles(*out_hw)
    dm = _stack16(dout2.shape[0], v.shape[2], dout2.dtype)
    _output_transform_adjoint_kernel(dout2, oh, ow, th, tw, dm)
    dweight = weight_transform_adjoint(np.matmul(dm, v.transpose(0, 2, 1)))  # 16 GEMMs (O, T) @ (T, C)
    if dx_out is not None:
        dv = np.matmul(u.transpose(0, 2, 1), dm, out=_stack16(v.shape[1], v.shape[2], dm.dtype))  # (C, O) @ (O, T)
        _input_transform_adjoint_kernel(dv, padding[0], padding[1], th, tw, dx_out)
    return dweight


# --------------------------------------------------------------------------- the readable version
def winograd_conv2d_naive(x, weight, padding=0):
    """The same algorithm tile by tile in numpy: ``Y = A^T [(G g G^T) ⊙ (B^T d B)] A`` summed over channels.

    Parameters
    ----------
    x : ndarray (N, C, H, W);  weight : ndarray (O, C, 3, 3);  padding : int

    Returns
    -------
    out : ndarray (N, O, H + 2p - 2, W + 2p - 2), no bias
    """
    n, c, h, w = x.shape
    oh, ow = h + 2 * padding - 2, w + 2 * padding - 2
    th, tw = tiles(oh, ow)
    xp = np.zeros((n, c, 2 * th + 2, 2 * tw + 2), dtype=x.dtype)
    hh, ww = min(h, xp.shape[2] - padding), min(w, xp.shape[3] - padding)
    xp[:, :, padding:padding + hh, padding:padding + ww] = x[:, :, :hh, :ww]
    u = G @ weight @ G.T                                                    # (O, C, 4, 4)
    out = np.zeros((n, weight.shape[0], 2 * th, 2 * tw), dtype=x.dtype)
    for ty in range(th):
        for tx in range(tw):
            d = xp[:, :, 2 * ty:2 * ty + 4, 2 * tx:2 * tx + 4]              # (N, C, 4, 4)
            v = BT @ d @ BT.T
            m = np.einsum("ocij,ncij->noij", u, v)                          # sum over C, elementwise in (i, j)
            out[:, :, 2 * ty:2 * ty + 2, 2 * tx:2 * tx + 2] = AT @ m @ AT.T
    return out[:, :, :oh, :ow].astype(x.dtype)
