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
    out   = A^T M A + bias           (N, O, OH, OW), written by the output transform

Backward is the same three steps read the other way round (each transform's
adjoint is its transpose), sharing ``dM = A dY A^T`` (``kernels/fused.py`` builds
``dM`` straight from the pooled gradient, and the pooled output straight from ``M``)::

    dU[xi] = dM[xi] @ V[xi]^T        ->  dweight = G^T dU G
    dV[xi] = U[xi]^T @ dM[xi]        ->  dx      = B dV B^T, tiles overlapping by 2 accumulate (+=)

Every matrix above has entries 0, ±1 and ±1/2, exact in binary floating point;
F(2x2, 3x3) is the most accurate member of the family (its float32 error is
measured against float64 in ``benchmarks/accuracy_fp32.py`` and bounded in the
tests).  :func:`winograd_conv2d_naive` is the same algorithm in a few lines of
numpy, tile by tile; the readable definition of the convolution itself stays
``conv.conv2d_forward_naive``.

The interface, as ``conv_direct.py``'s and ``conv_general.py``'s: :func:`applies`, :func:`forward` and
:func:`backward`.  Here they run one batch chunk, a block of images at a time, as generators that
hand each block's ``M`` (forward) or ask for each block's ``dM`` (backward): the plain conv turns
them into its output and back (:func:`output`, :func:`output_gradient`), ``kernels/fused.py`` pools
``M`` directly.  The cache is the list of the blocks' ``V`` that :func:`forward` saves.  ``conv.py``
decides when "auto" takes this path (``WINOGRAD_MIN_CHANNELS`` there); the kernels ``fused.py``
builds its own on (:func:`input_transform_kernel`, :func:`output_tile`, ...) are public.
"""
import functools

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
@njit
def _bt(d0, d1, d2, d3):
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


@njit
def _b(v0, v1, v2, v3):  # B = (B^T)^T, the adjoint of _bt
    return v0, v1 - v2 + v3, v1 + v2 - v0, -v3


@njit
def _at(m0, m1, m2, m3):
    return m0 + m1 + m2, m1 - m2 - m3


@njit
def _a(y0, y1):  # A = (A^T)^T, the adjoint of _at
    return y0, y0 + y1, y0 - y1, -y1


@njit
def _add_column(r0, r1, r2, r3, k, q0, q1, q2, q3):
    s0, s1, s2, s3 = _b(q0, q1, q2, q3)
    r0[k] += s0
    r1[k] += s1
    r2[k] += s2
    r3[k] += s3


# --------------------------------------------------------------------------- numba kernels
@njit(cache=True, nogil=True)
def input_transform_kernel(x, ph, pw, th, tw, v):
    """``v[4i+j, c, n*th*tw + ty*tw + tx] = (B^T d B)[i, j]`` for the 4x4 tile ``d`` at (2ty, 2tx)
    of image n's channel c, zero-padded by (ph, pw) (and up to the tiles' extent)."""
    n_img, chans, h, w = x.shape
    # Indices numba cannot prove >= 0 get a wraparound select (a negative index counts from the end),
    # and that stops LLVM vectorising the loop; max(., 0) is the proof.
    th, tw = max(th, 0), max(tw, 0)
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
def input_transform_adjoint_kernel(dv, ph, pw, th, tw, dx):
    """``dx[n, c] = crop(sum over tiles of B dV B^T placed at (2ty, 2tx))``; ``dx`` is overwritten."""
    n_img, chans, h, w = dx.shape
    th, tw = max(th, 0), max(tw, 0)  # see input_transform_kernel
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


@njit
def output_tile(m, o, t):
    """The 2x2 outputs ``A^T M A`` of tile t, output channel o: (y00, y01, y10, y11)."""
    return tile_outputs(m[0, o, t], m[1, o, t], m[2, o, t], m[3, o, t], m[4, o, t], m[5, o, t], m[6, o, t],
                         m[7, o, t], m[8, o, t], m[9, o, t], m[10, o, t], m[11, o, t], m[12, o, t], m[13, o, t],
                         m[14, o, t], m[15, o, t])


@njit
def tile_outputs(m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15):
    """``A^T M A`` of one tile's 4x4 ``M`` (row-major m0..m15): (y00, y01, y10, y11)."""
    s00, s10 = _at(m0, m4, m8, m12)
    s01, s11 = _at(m1, m5, m9, m13)
    s02, s12 = _at(m2, m6, m10, m14)
    s03, s13 = _at(m3, m7, m11, m15)
    y00, y01 = _at(s00, s01, s02, s03)
    y10, y11 = _at(s10, s11, s12, s13)
    return y00, y01, y10, y11


@njit
def _store_tile_adjoint(dm, o, t, y00, y01, y10, y11):
    """``dm[:, o, t] = A dY A^T`` for the 2x2 output gradient dY of tile t."""
    c00, c10, c20, c30 = _a(y00, y10)  # columns (A .)
    c01, c11, c21, c31 = _a(y01, y11)
    dm[0, o, t], dm[1, o, t], dm[2, o, t], dm[3, o, t] = _a(c00, c01)  # rows (. A^T)
    dm[4, o, t], dm[5, o, t], dm[6, o, t], dm[7, o, t] = _a(c10, c11)
    dm[8, o, t], dm[9, o, t], dm[10, o, t], dm[11, o, t] = _a(c20, c21)
    dm[12, o, t], dm[13, o, t], dm[14, o, t], dm[15, o, t] = _a(c30, c31)


@njit
def store_tiles_adjoint(dm, o, t0, y00, y01, y10, y11):
    """``dm[:, o, t0 + j] = A dY_j A^T`` for tiles j whose 2x2 gradients are ``y00[j] .. y11[j]``.

    :func:`_store_tile_adjoint` for a row of tiles, one output stream per loop: a loop that
    stores to 16 rows of one array does not vectorise (LLVM cannot prove the rows apart), one that
    stores to one row does.
    """
    per, t0 = y00.size, max(t0, 0)  # max: see input_transform_kernel
    r = dm[0, o]
    for j in range(per):
        r[t0 + j] = y00[j]
    r = dm[1, o]
    for j in range(per):
        r[t0 + j] = y00[j] + y01[j]
    r = dm[2, o]
    for j in range(per):
        r[t0 + j] = y00[j] - y01[j]
    r = dm[3, o]
    for j in range(per):
        r[t0 + j] = -y01[j]
    r = dm[4, o]
    for j in range(per):
        r[t0 + j] = y00[j] + y10[j]
    r = dm[5, o]
    for j in range(per):
        r[t0 + j] = (y00[j] + y10[j]) + (y01[j] + y11[j])
    r = dm[6, o]
    for j in range(per):
        r[t0 + j] = (y00[j] + y10[j]) - (y01[j] + y11[j])
    r = dm[7, o]
    for j in range(per):
        r[t0 + j] = -(y01[j] + y11[j])
    r = dm[8, o]
    for j in range(per):
        r[t0 + j] = y00[j] - y10[j]
    r = dm[9, o]
    for j in range(per):
        r[t0 + j] = (y00[j] - y10[j]) + (y01[j] - y11[j])
    r = dm[10, o]
    for j in range(per):
        r[t0 + j] = (y00[j] - y10[j]) - (y01[j] - y11[j])
    r = dm[11, o]
    for j in range(per):
        r[t0 + j] = -(y01[j] - y11[j])
    r = dm[12, o]
    for j in range(per):
        r[t0 + j] = -y10[j]
    r = dm[13, o]
    for j in range(per):
        r[t0 + j] = -y10[j] - y11[j]
    r = dm[14, o]
    for j in range(per):
        r[t0 + j] = y11[j] - y10[j]
    r = dm[15, o]
    for j in range(per):
        r[t0 + j] = y11[j]


@njit(cache=True, nogil=True)
def _output_transform_kernel(m, bias, out):
    """``out[n, o, y, x] = bias[o] + (A^T M A)`` of tile (y//2, x//2), cropped to out's (OH, OW)."""
    n_img, n_out, oh, ow = out.shape
    th, tw = max((oh + 1) // 2, 0), max((ow + 1) // 2, 0)  # see input_transform_kernel
    for n in range(n_img):
        for o in range(n_out):
            b = bias[o]
            plane = out[n, o]
            for ty in range(th):
                y = 2 * ty
                for tx in range(tw):
                    y00, y01, y10, y11 = output_tile(m, o, n * th * tw + ty * tw + tx)
                    k = 2 * tx
                    plane[y, k] = y00 + b
                    if k + 1 < ow:
                        plane[y, k + 1] = y01 + b
                    if y + 1 < oh:
                        plane[y + 1, k] = y10 + b
                        if k + 1 < ow:
                            plane[y + 1, k + 1] = y11 + b


@njit(cache=True, nogil=True)
def _output_transform_adjoint_kernel(dout, dm, dbias):
    """``dm[:, o, t] = A dY A^T`` for the 2x2 block dY of ``dout`` (N, O, OH, OW) at tile t (zero past
    the crop); adds the sum of ``dout[:, o]`` to ``dbias[o]``."""
    n_img, n_out, oh, ow = dout.shape
    th, tw = max((oh + 1) // 2, 0), max((ow + 1) // 2, 0)  # see input_transform_kernel
    zero = np.zeros(1, dtype=dout.dtype)[0]
    for o in range(n_out):
        acc = 0.0  # float64: a float32 running sum over N*OH*OW terms drifts
        for n in range(n_img):
            plane = dout[n, o]
            for ty in range(th):
                y = 2 * ty
                has_bottom = y + 1 < oh
                for tx in range(tw):
                    k = 2 * tx
                    has_right = k + 1 < ow
                    y00 = plane[y, k]
                    y01 = plane[y, k + 1] if has_right else zero
                    y10 = plane[y + 1, k] if has_bottom else zero
                    y11 = plane[y + 1, k + 1] if has_bottom and has_right else zero
                    acc += (y00 + y01) + (y10 + y11)
                    _store_tile_adjoint(dm, o, n * th * tw + ty * tw + tx, y00, y01, y10, y11)
        dbias[o] += acc


# --------------------------------------------------------------------------- the conv, per batch chunk
@functools.lru_cache(maxsize=256)
def _spread(nbytes):
    """True if 16 arrays ``nbytes`` apart start in 16 different L1 sets (64-byte lines, 4 KiB per way)."""
    return len({(k * nbytes) % 4096 // 64 for k in range(16)}) == 16


def _stack16(rows, cols, dtype, workspace=None):
    """An empty (16, rows, cols) array, C-contiguous when that is safe, in ``workspace`` (1-D) if it is given
    and big enough.

    The transforms read or write all 16 matrices at once; matrices whose size is a multiple of
    4 KiB (T = 1568 tiles x 32 channels x 4 bytes is) put all 16 streams in one L1 set, and every
    access misses (measured: the transforms ran 5-10x slower).  Such sizes get one cache line of
    padding between matrices instead (a strided view: correct, but numba's loops over it do not
    vectorise, so the block sizes below avoid it).
    """
    itemsize = np.dtype(dtype).itemsize
    size = rows * cols
    if not _spread(size * itemsize):
        page = 4096 // itemsize
        stride = -(-size // page) * page + 64 // itemsize
        return np.empty((16, stride), dtype=dtype)[:, :size].reshape(16, rows, cols)
    if workspace is None or workspace.size < 16 * size:
        workspace = np.empty(16 * size, dtype=dtype)
    return workspace[:16 * size].reshape(16, rows, cols)


def weight_transform(weight):
    """``U[4i+j, o, c] = (G g G^T)[i, j]`` for ``weight`` (O, C, 3, 3): shape (16, O, C)."""
    g = G.astype(weight.dtype)
    # two contractions, each one GEMM over all (o, c) at once (batched 4x3 @ 3x3 products are 10x slower)
    half = np.tensordot(g, weight, axes=([1], [2]))                         # (4, O, C, 3): i, o, c, b
    u = np.tensordot(half, g, axes=([3], [1]))                              # (4, O, C, 4): i, o, c, j
    return np.ascontiguousarray(u.transpose(0, 3, 1, 2)).reshape(16, *weight.shape[:2])


def weight_transform_adjoint(du):
    """``dweight[o, c] = G^T dU G`` for ``du`` (16, O, C): shape (O, C, 3, 3)."""
    g = G.astype(du.dtype)
    half = np.tensordot(g, du.reshape(4, 4, *du.shape[1:]), axes=([0], [0]))   # (3, 4, O, C): a, j, o, c
    dw = np.tensordot(half, g, axes=([1], [0]))                                # (3, O, C, 3): a, o, c, b
    return np.ascontiguousarray(dw.transpose(1, 2, 0, 3))


# The transformed-domain product M of a block of images stays in L2 (2 MiB per core here) from the GEMM
# that writes it to the kernel that reads it; a whole chunk's M (6.4 MB for 32 images of SimpleCNN's
# conv2) would go through L3 both ways, and so would dM and dV in backward.
BLOCK_BYTES = 1 << 20


def _blocks(n_img, n_out, chans, per_image, itemsize):
    """Split a chunk's images into blocks whose M is about BLOCK_BYTES, preferring sizes whose (16, O, T)
    and (16, C, T) arrays can be contiguous (see :func:`_stack16`)."""
    size = max(1, min(n_img, BLOCK_BYTES // (16 * n_out * per_image * itemsize)))
    for nb in range(size, 0, -1):
        if _spread(n_out * nb * per_image * itemsize) and _spread(chans * nb * per_image * itemsize):
            size = nb
            break
    return [slice(start, min(n_img, start + size)) for start in range(0, n_img, size)]


def applies(weight, geometry):
    """Whether F(2x2, 3x3) computes this plain conv (``geometry`` is ``conv.conv_geometry``'s): a 3x3 kernel
    at stride 1, any channels, padding and size."""
    return geometry[0] == (1, 1) and weight.shape[2:] == (3, 3)


def forward(x, u, padding, out_hw, saved=None):
    """One chunk's convolution, block by block of a few images, as a generator: for each block, the input
    transform and the 16 GEMMs, then it yields ``(images, m)``: ``images`` a slice of the chunk, ``m``
    (16, O, T_block) their product ``M``.  Use ``m`` before asking for the next block (the blocks share
    one workspace): :func:`output` turns it into the conv's output, ``kernels/fused.py`` pools it directly.

    Parameters
    ----------
    x : ndarray (N, C, H, W);  u : :func:`weight_transform` of the weight, (16, O, C)
    padding : (ph, pw);  out_hw : (OH, OW) = (H + 2ph - 2, W + 2pw - 2)
    saved : list or None
        Each block's transformed input V (16, C, T_block) is appended to it, for :func:`backward`; None
        keeps nothing (inference: then every block's V reuses one workspace, like M).
    """
    th, tw = tiles(*out_hw)
    per, (n_out, chans) = th * tw, u.shape[1:]
    x = np.ascontiguousarray(x)
    workspace = v_space = None
    for images in _blocks(x.shape[0], n_out, chans, per, x.dtype.itemsize):
        tiles_b = (images.stop - images.start) * per
        vb = _stack16(chans, tiles_b, x.dtype, v_space)
        input_transform_kernel(x[images], padding[0], padding[1], th, tw, vb)
        mb = np.matmul(u, vb, out=_stack16(n_out, tiles_b, x.dtype, workspace))  # 16 GEMMs (O, C) @ (C, T)
        workspace = mb.reshape(-1) if mb.flags.c_contiguous else None  # the next block reuses it, hot in L2
        yield images, mb
        if saved is not None:
            saved.append(vb)
        else:
            v_space = vb.reshape(-1) if vb.flags.c_contiguous else None


def output(m, bias, out):
    """``out`` (N, O, OH, OW), any strides ``= bias + A^T M A``: the conv's output from :func:`forward`'s ``m``."""
    _output_transform_kernel(m, bias, out)


def output_gradient(dout, dm, dbias):
    """Fill ``dm`` (16, O, T) with ``A dY A^T`` of the output gradient ``dout`` (N, O, OH, OW), and add
    its sum over images and pixels to ``dbias`` (O,): the plain conv's ``dM`` for :func:`backward`."""
    _output_transform_adjoint_kernel(np.ascontiguousarray(dout), dm, dbias)


def backward(u, v, padding, out_hw, n_img, dx_out, du):
    """Backward of :func:`forward` for a chunk of ``n_img`` images, block by block of the same images, as a
    generator: for each block it yields ``(images, dm)``; fill ``dm`` (16, O, T_block) with the block's
    ``dM = A dY A^T`` before asking for the next (:func:`output_gradient` from the conv's output gradient;
    ``kernels/fused.py`` builds it from the pooled one).  It then adds the block's ``dU = dM V^T`` to
    ``du`` (16, O, C; dweight is :func:`weight_transform_adjoint` of it once every block is done) and, unless
    ``dx_out`` (N, C, H, W) is None, writes the block's d loss / d x (``B dV B^T``, ``dV = U^T dM``) into it.

    ``v`` is what :func:`forward` saved.
    """
    th, tw = tiles(*out_hw)
    per, (n_out, chans), dtype = th * tw, u.shape[1:], u.dtype
    part = np.empty((16, n_out, chans), dtype=dtype)
    dm_space = dv_space = None
    for images, vb in zip(_blocks(n_img, n_out, chans, per, dtype.itemsize), v):
        dmb = _stack16(n_out, vb.shape[2], dtype, dm_space)
        yield images, dmb
        du += np.matmul(dmb, vb.transpose(0, 2, 1), out=part)                 # 16 GEMMs (O, T) @ (T, C)
        if dx_out is not None:
            dvb = np.matmul(u.transpose(0, 2, 1), dmb, out=_stack16(chans, vb.shape[2], dtype, dv_space))
            input_transform_adjoint_kernel(dvb, padding[0], padding[1], th, tw, dx_out[images])
            dv_space = dvb.reshape(-1) if dvb.flags.c_contiguous else None
        dm_space = dmb.reshape(-1) if dmb.flags.c_contiguous else None


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
