"""Fully connected layer ``y = x @ weight.T + bias`` (torch's weight layout: (out, in))."""
import numpy as np

from .. import threads
from .checks import check_float_array, check_grad, check_same_dtype
from .registry import kernel_table

# Work is split across threads by feature, not by batch row: with a batch of 64, half the rows make a GEMM
# too thin for OpenBLAS (SimpleCNN's fc1 forward: 354 us for 32 of 64 rows against 266 us for 64 of 128
# outputs, one thread).  Below threads.MIN_CHUNK_MACS multiply-adds per chunk one thread is faster.


def _feature_chunks(x, weight):
    """Matching slices of the output features and of the input features, one pair per thread."""
    out_chunks = threads.chunks(weight.shape[0], -(-threads.MIN_CHUNK_MACS // max(1, x.shape[0] * x.shape[1])))
    parts = len(out_chunks)
    bounds = [weight.shape[1] * k // parts for k in range(parts + 1)]
    return out_chunks, [slice(bounds[k], bounds[k + 1]) for k in range(parts)]


def _check_linear(x, weight, bias):
    check_float_array("linear input", x, 2)
    check_float_array("linear weight", weight, 2)
    if bias is not None:
        check_float_array("linear bias", bias, 1)
    check_same_dtype("linear", x, weight, bias)
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"linear: expected input with {weight.shape[1]} features (weight {weight.shape}), "
                         f"got input of shape {x.shape}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: expected bias of shape ({weight.shape[0]},), got {bias.shape}")


def linear_forward(x, weight, bias=None):
    """Affine map, as ``torch.nn.functional.linear``.

    Parameters
    ----------
    x : ndarray, shape (N, in_features)
    weight : ndarray, shape (out_features, in_features)
    bias : ndarray, shape (out_features,), or None

    Returns
    -------
    out : ndarray, shape (N, out_features)
    cache : (x, weight, has_bias)
    """
    _check_linear(x, weight, bias)
    out = np.empty((x.shape[0], weight.shape[0]), dtype=x.dtype)

    def chunk(sl):  # output features sl
        np.matmul(x, weight[sl].T, out=out[:, sl])
        if bias is not None:
            out[:, sl] += bias[sl]
    threads.run_parallel(chunk, _feature_chunks(x, weight)[0])
    return out, (x, weight, bias is not None)


def linear_backward(dout, cache, need_input_grad=True):
    """Gradients of the affine map.

    Parameters
    ----------
    dout : ndarray, shape (N, out_features), not modified
    cache : from :func:`linear_forward`
    need_input_grad : bool, False skips ``dx``

    Returns
    -------
    dx : (N, in_features) or None, dweight : (out_features, in_features), dbias : (out_features,) or None
    """
    x, weight, has_bias = cache
    check_grad("linear backward", dout, (x.shape[0], weight.shape[0]), x.dtype)
    dx = np.empty(x.shape, dtype=x.dtype) if need_input_grad else None
    dweight, dbias = np.empty(weight.shape, dtype=x.dtype), np.empty(weight.shape[0], dtype=x.dtype)
    out_chunks, in_chunks = _feature_chunks(x, weight)

    def chunk(k):  # output features out_chunks[k] of dweight and dbias, input features in_chunks[k] of dx
        sl = out_chunks[k]
        np.matmul(dout[:, sl].T, x, out=dweight[sl])
        np.sum(dout[:, sl], axis=0, out=dbias[sl])
        if dx is not None:
            np.matmul(dout, weight[:, in_chunks[k]], out=dx[:, in_chunks[k]])
    threads.run_parallel(chunk, range(len(out_chunks)))
    return dx, dweight, (dbias if has_bias else None)


def linear_forward_naive(x, weight, bias=None):
    """``out[n, o] = sum_i x[n, i] * weight[o, i] + bias[o]`` with einsum (no BLAS); returns ``(out, cache)``."""
    _check_linear(x, weight, bias)
    out = np.einsum("ni,oi->no", x, weight)
    return (out + bias if bias is not None else out), (x, weight, bias is not None)


def linear_backward_naive(dout, cache, need_input_grad=True):
    """Reference gradients with einsum: ``dx = dout @ weight``, ``dweight = dout.T @ x``, ``dbias = sum_n dout``."""
    x, weight, has_bias = cache
    check_grad("linear backward", dout, (x.shape[0], weight.shape[0]), x.dtype)
    dx = np.einsum("no,oi->ni", dout, weight) if need_input_grad else None
    return dx, np.einsum("no,ni->oi", dout, x), (dout.sum(axis=0) if has_bias else None)


# this file's ops, by torch's names (kernels/registry.py)
KERNELS = kernel_table(globals(), "linear")
