"""minicnn.kernels on their own.

The fast kernels agree with their naive twins on hypothesis-drawn shapes, keep the dtype they
are given, never write to or alias their arguments, and reject bad input before numba runs.
"""
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from helpers import DTYPES, TOL, arrays_in, assert_close, randn, torch_pad
from minicnn import functional as F
from minicnn import kernels as K
from minicnn.kernels import conv_transpose


def assert_grads_close(grads, naive, with_bias, dtype):
    """``(dx, dweight, dbias)`` against the naive twin's; ``dbias`` is None without a bias."""
    assert_close(grads[0], naive[0], dtype)
    assert_close(grads[1], naive[1], dtype)
    if with_bias:
        assert_close(grads[2], naive[2], dtype)
    else:
        assert grads[2] is None


# --------------------------------------------------------------------------- strategies
dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**32 - 1)


@st.composite
def windows(draw, pool=False):
    """A batch shape and a sliding-window geometry whose window fits the padded input."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    assume(h + 2 * padding[0] >= kernel[0] and w + 2 * padding[1] >= kernel[1])
    if pool:  # max pooling allows padding of at most half the kernel, as torch
        assume(2 * padding[0] <= kernel[0] and 2 * padding[1] <= kernel[1])
    return (n, c, h, w), kernel, stride, padding


def out_hw(shape, kernel, stride, padding):
    return tuple((shape[2 + a] + 2 * padding[a] - kernel[a]) // stride[a] + 1 for a in (0, 1))


# --------------------------------------------------------------------------- naive vs fast
@given(windows(), dtypes, seeds)
def test_im2col_equals_naive(geom, dtype, seed):
    shape, kernel, stride, padding = geom
    x = randn(np.random.default_rng(seed), shape, dtype)
    cols = K.im2col(x, kernel, stride, padding)
    oh, ow = out_hw(shape, kernel, stride, padding)
    assert cols.shape == (shape[1] * kernel[0] * kernel[1], shape[0] * oh * ow)
    assert cols.dtype == dtype
    np.testing.assert_array_equal(cols, K.im2col_naive(x, kernel, stride, padding))  # a copy: exact


@given(windows(), seeds)
def test_col2im_is_the_adjoint_of_im2col(geom, seed):
    shape, kernel, stride, padding = geom
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    cols = K.im2col(x, kernel, stride, padding)
    c = rng.standard_normal(cols.shape)
    back = K.col2im(c, shape, kernel, stride, padding)
    assert back.shape == shape and back.dtype == np.float64
    lhs, rhs = np.sum(cols * c), np.sum(x * back)
    assert abs(lhs - rhs) <= 1e-10 * np.sum(np.abs(cols * c))


def test_col2im_accumulates_overlapping_windows():
    # 1x1 image of 3x3, kernel 2, stride 1: the centre pixel lies in all four windows.
    cols = np.ones((4, 4))
    dx = K.col2im(cols, (1, 1, 3, 3), 2)
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


@given(windows(), st.integers(1, 4), st.booleans(), dtypes, seeds)
def test_conv2d_equals_naive(geom, out_channels, with_bias, dtype, seed):
    shape, kernel, stride, padding = geom
    rng = np.random.default_rng(seed)
    x = randn(rng, shape, dtype)
    weight = randn(rng, (out_channels, shape[1], *kernel), dtype)
    bias = randn(rng, (out_channels,), dtype) if with_bias else None
    out, cache = K.conv2d_forward(x, weight, bias, stride, padding)
    naive_out, naive_cache = K.conv2d_forward_naive(x, weight, bias, stride, padding)  # the same contract
    assert_close(out, naive_out, dtype)

    dout = randn(rng, out.shape, dtype)
    dx, dw, db = K.conv2d_backward(dout, cache)
    assert_grads_close((dx, dw, db), K.conv2d_backward_naive(dout, naive_cache), with_bias, dtype)
    for backward, c in ((K.conv2d_backward, cache), (K.conv2d_backward_naive, naive_cache)):
        no_dx, dw2, _ = backward(dout, c, need_input_grad=False)
        assert no_dx is None
        assert_close(dw2, dw, dtype)


@given(windows(pool=True), st.booleans(), dtypes, seeds)
def test_max_pool2d_equals_naive(geom, default_stride, dtype, seed):
    shape, kernel, stride, padding = geom
    stride = None if default_stride else stride
    rng = np.random.default_rng(seed)
    x = randn(rng, shape, dtype)
    out, cache = K.max_pool2d_forward(x, kernel, stride, padding)
    n_out, n_cache = K.max_pool2d_forward_naive(x, kernel, stride, padding)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, n_out)              # a max is exact
    np.testing.assert_array_equal(cache[1], n_cache[1])    # and so is its position

    dout = randn(rng, out.shape, dtype)
    assert_close(K.max_pool2d_backward(dout, cache), K.max_pool2d_backward_naive(dout, n_cache), dtype)


@given(st.lists(st.integers(1, 6), min_size=1, max_size=4), dtypes, seeds)
def test_relu_backward_equals_naive(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x = randn(rng, shape, dtype)
    x[rng.random(x.shape) < 0.2] = 0  # exact zeros: the gradient there is 0, as torch
    out, cache = K.relu_forward(x)
    naive_out, naive_cache = K.relu_forward_naive(x)
    np.testing.assert_array_equal(out, naive_out)
    dout = randn(rng, shape, dtype)
    dx = K.relu_backward(dout, cache)
    assert dx.dtype == dtype
    np.testing.assert_array_equal(dx, K.relu_backward_naive(dout, naive_cache))
    np.testing.assert_array_equal(dx[x == 0], 0)


@given(st.integers(1, 4), st.integers(1, 12), st.integers(1, 12), st.booleans(), dtypes, seeds)
def test_linear_equals_naive(n, n_in, n_out, with_bias, dtype, seed):
    rng = np.random.default_rng(seed)
    x, weight = randn(rng, (n, n_in), dtype), randn(rng, (n_out, n_in), dtype)
    bias = randn(rng, (n_out,), dtype) if with_bias else None
    out, cache = K.linear_forward(x, weight, bias)
    naive_out, naive_cache = K.linear_forward_naive(x, weight, bias)
    assert_close(out, naive_out, dtype)
    dout = randn(rng, out.shape, dtype)
    grads = K.linear_backward(dout, cache)
    assert_grads_close(grads, K.linear_backward_naive(dout, naive_cache), with_bias, dtype)
    for backward, c in ((K.linear_backward, cache), (K.linear_backward_naive, naive_cache)):
        no_dx, dw2, db2 = backward(dout, c, need_input_grad=False)   # a network's first layer
        assert no_dx is None
        assert_close(dw2, grads[1], dtype)
        if with_bias:
            assert_close(db2, grads[2], dtype)
        else:
            assert db2 is None


# --------------------------------------------------------------------------- known values
def test_conv2d_known_values():
    # 3x3 ones, 2x2 kernel [[1, 2], [3, 4]], padding 1: corners see one tap, edges two, inside four.
    x = np.ones((1, 1, 3, 3))
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out, _ = K.conv2d_forward(x, w, np.array([0.5]), stride=1, padding=1)
    expected = np.array([[4, 7, 7, 3], [6, 10, 10, 4], [6, 10, 10, 4], [2, 3, 3, 1]]) + 0.5
    np.testing.assert_array_equal(out[0, 0], expected)
    assert np.array_equal(K.conv2d_forward(x, w, None, 2, 1)[0], K.conv2d_forward(x, w, None, (2, 2), (1, 1))[0])


def test_max_pool2d_known_values_ties_and_padding():
    x = np.array([[[[1.0, 3.0, 3.0, 0.0],
                    [2.0, 3.0, 5.0, 5.0],
                    [0.0, 0.0, -1.0, -2.0],
                    [0.0, 0.0, -3.0, -1.0]]]])
    out, cache = K.max_pool2d_forward(x, 2)
    argmax = cache[1]
    np.testing.assert_array_equal(out[0, 0], [[3, 5], [0, -1]])
    # ties go to the first maximum in row-major order, as torch: 3 at (0,1), 5 at (1,2), 0 at (2,0),
    # -1 at (2,2)
    np.testing.assert_array_equal(argmax[0, 0], [[1, 6], [8, 10]])
    dx = K.max_pool2d_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [[0, 1, 0, 0], [0, 0, 2, 0], [3, 0, 4, 0], [0, 0, 0, 0]])
    # padding is -inf, not 0: an all-negative image pools to its own values
    neg = np.full((1, 1, 2, 2), -5.0)
    out, _ = K.max_pool2d_forward(neg, 2, stride=1, padding=1)
    np.testing.assert_array_equal(out, np.full((1, 1, 3, 3), -5.0))


def test_max_pool2d_overlapping_winner_gets_the_sum():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0  # in all four 2x2 windows of stride 1
    out, cache = K.max_pool2d_forward(x, 2, stride=1)
    dx = K.max_pool2d_backward(np.full(out.shape, 0.25), cache)
    expected = np.zeros((3, 3))
    expected[1, 1] = 1.0
    np.testing.assert_array_equal(dx[0, 0], expected)


@pytest.mark.parametrize("impl", ["fast", "naive"])
def test_max_pool2d_backward_gives_a_tie_to_its_first_maximum_only(impl):
    """Both twins send a window's gradient to one winner, its first maximum in row-major order (torch's
    rule), never to every tied maximum; with stride 1 the windows overlap and winners collect sums."""
    suffix = "_naive" if impl == "naive" else ""
    forward, backward = getattr(K, f"max_pool2d_forward{suffix}"), getattr(K, f"max_pool2d_backward{suffix}")
    x = np.array([[[[1.0, 3.0, 3.0],
                    [3.0, 2.0, 0.0],
                    [0.0, 3.0, 1.0]]]])
    out, cache = forward(x, 2, stride=1)
    np.testing.assert_array_equal(out[0, 0], [[3, 3], [3, 3]])
    dx = backward(np.array([[[[1.0, 2.0], [4.0, 8.0]]]]), cache)
    # windows (0,0) and (0,1) both pick the 3 at (0,1); (1,0) the 3 at (1,0); (1,1) the 3 at (2,1)
    np.testing.assert_array_equal(dx[0, 0], [[0, 3, 0], [4, 0, 0], [0, 8, 0]])


# --------------------------------------------------------------------------- softmax cross-entropy
@given(st.integers(1, 8), st.integers(1, 12), st.sampled_from(["mean", "sum"]), dtypes, seeds)
def test_softmax_cross_entropy_equals_naive(n, c, reduction, dtype, seed):
    """The fused loss-and-gradient kernel against its one-sample-at-a-time twin: loss and dlogits."""
    rng = np.random.default_rng(seed)
    logits = randn(rng, (n, c), dtype) * 5
    labels = rng.integers(0, c, n)
    loss, dlogits = K.softmax_cross_entropy(logits, labels, reduction)
    naive_loss, naive_dlogits = K.softmax_cross_entropy_naive(logits, labels, reduction)
    assert loss == pytest.approx(naive_loss, rel=10 * TOL[np.dtype(dtype)], abs=10 * TOL[np.dtype(dtype)])
    assert_close(dlogits, naive_dlogits, dtype)
    assert np.abs(naive_dlogits).max() > 0 or c == 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("label, loss, grad", [(0, 0.0, [0.0, 0.0]), (1, 2e4, [1.0, -1.0])])
def test_cross_entropy_is_finite_at_huge_logits(dtype, label, loss, grad):
    logits = np.array([[1e4, -1e4]], dtype=dtype)
    got, dlogits = K.softmax_cross_entropy(logits, np.array([label]))
    assert got == loss
    assert dlogits.dtype == dtype
    np.testing.assert_array_equal(dlogits, [grad])


def test_cross_entropy_of_equal_logits_is_log_classes():
    n, c = 4, 10
    labels = np.array([0, 3, 9, 3])
    loss, dlogits = K.softmax_cross_entropy(np.zeros((n, c)), labels)
    assert loss == pytest.approx(np.log(c), rel=1e-15)
    expected = np.full((n, c), 1 / c)
    expected[np.arange(n), labels] -= 1
    np.testing.assert_allclose(dlogits, expected / n, rtol=1e-15, atol=1e-17)


@given(st.integers(1, 8), st.integers(1, 12), seeds)
def test_cross_entropy_value_rows_and_reductions(n, c, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, c)) * 5
    labels = rng.integers(0, c, n)
    mean, dmean = K.softmax_cross_entropy(logits, labels)
    total, dsum = K.softmax_cross_entropy(logits, labels, reduction="sum")
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)   # fine at |logits| ~ 20
    assert mean == pytest.approx(-np.log(p[np.arange(n), labels]).mean(), rel=1e-12, abs=1e-15)
    assert total == pytest.approx(n * mean, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(dsum, n * dmean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dmean.sum(axis=1), 0, atol=1e-15)


# --------------------------------------------------------------------------- dtypes, aliasing, layouts
def kernel_calls(dtype, rng):
    """``(name, forward_fn, backward_fn)`` for every kernel on small valid arguments of ``dtype``."""
    x, w, b = randn(rng, (2, 3, 6, 5), dtype), randn(rng, (4, 3, 3, 2), dtype), randn(rng, (4,), dtype)
    xl, wl, bl = randn(rng, (3, 5), dtype), randn(rng, (2, 5), dtype), randn(rng, (2,), dtype)
    labels = np.array([0, 1, 1])
    return [
        ("conv2d", lambda: K.conv2d_forward(x, w, b, 2, 1), K.conv2d_backward),
        ("conv_transpose2d", lambda: K.conv_transpose2d_forward(x, w.transpose(1, 0, 2, 3), b, 2, 1, 1),
         K.conv_transpose2d_backward),
        ("max_pool2d", lambda: K.max_pool2d_forward(x, 2, 1, 1), K.max_pool2d_backward),
        ("relu", lambda: K.relu_forward(x), K.relu_backward),
        ("linear", lambda: K.linear_forward(xl, wl, bl), K.linear_backward),
        ("im2col", lambda: (K.im2col(x, (3, 2), 2, 1), None), None),
        ("col2im", lambda: (K.col2im(randn(rng, (18, 2 * 3 * 3), dtype), x.shape, (3, 2), 2, 1), None), None),
        ("cross_entropy", lambda: K.softmax_cross_entropy(xl[:, :2], labels), None),
    ], [x, w, b, xl, wl, bl, labels]


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_kernel_keeps_the_dtype(dtype):
    calls, _ = kernel_calls(dtype, np.random.default_rng(0))
    for name, forward, backward in calls:
        out, cache = forward()
        if name == "cross_entropy":
            assert isinstance(out, float) and cache.dtype == dtype
            continue
        assert out.dtype == dtype, name
        if backward is not None:
            grads = backward(np.ones_like(out), cache)
            for g in arrays_in(grads):
                assert g.dtype == dtype, name


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_neither_modify_nor_alias_their_arguments(dtype):
    rng = np.random.default_rng(1)
    calls, inputs = kernel_calls(dtype, rng)
    before = [a.copy() for a in inputs]
    for name, forward, backward in calls:
        out, cache = forward()
        outs = [o for o in arrays_in(out) + arrays_in(cache) if not any(o is i for i in inputs)]
        if backward is not None:
            dout = randn(rng, out.shape, dtype)
            dout_before, out_before = dout.copy(), out.copy()
            grads = arrays_in(backward(dout, cache))
            np.testing.assert_array_equal(dout, dout_before, err_msg=f"{name} backward wrote to dout")
            np.testing.assert_array_equal(out, out_before, err_msg=f"{name} backward wrote to its cache")
            for g in grads:
                assert not np.shares_memory(g, dout), f"{name} backward returned an alias of dout"
                assert not any(np.shares_memory(g, o) for o in outs), f"{name} backward aliased its cache"
                assert not any(np.shares_memory(g, i) for i in inputs), f"{name} backward aliased an input"
        for o in arrays_in(out):
            assert not any(np.shares_memory(o, i) for i in inputs), f"{name} returned an alias of an input"
    for a, b in zip(inputs, before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.default_chunks
def test_kernels_accept_non_contiguous_input():
    rng = np.random.default_rng(2)
    base = rng.standard_normal((2, 3, 7, 6))
    x = base.transpose(0, 1, 3, 2)          # a view that is neither C- nor F-contiguous
    xc = np.ascontiguousarray(x)
    w = rng.standard_normal((5, 3, 2, 3))[:, :, ::-1]   # negative strides
    dout_conv = rng.standard_normal((2, 5, 4, 4)).transpose(0, 1, 3, 2)
    out, cache = K.conv2d_forward(x, w, None, 2, 1)
    outc, cachec = K.conv2d_forward(xc, w.copy(), None, 2, 1)
    np.testing.assert_array_equal(out, outc)
    for g, gc in zip(K.conv2d_backward(dout_conv, cache),
                     K.conv2d_backward(np.ascontiguousarray(dout_conv), cachec)):
        assert g is gc or np.array_equal(g, gc)
    out, cache = K.max_pool2d_forward(x, 2)
    np.testing.assert_array_equal(out, K.max_pool2d_forward(xc, 2)[0])
    dout = rng.standard_normal(out.shape[::-1]).T
    np.testing.assert_array_equal(K.max_pool2d_backward(dout, cache), K.max_pool2d_backward_naive(dout, cache))
    xl = base.reshape(6, -1)[:, ::3]
    np.testing.assert_array_equal(K.linear_forward(xl, w.reshape(5, -1)[:, :14], None)[0],
                                  xl @ w.reshape(5, -1)[:, :14].T)
    np.testing.assert_array_equal(K.im2col(x, 3), K.im2col(xc, 3))


@pytest.mark.parametrize("layout", ["F", "transposed"])
def test_relu_backward_with_non_c_ordered_input(layout):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((4, 5, 6))
    x = np.asfortranarray(base) if layout == "F" else base.transpose(2, 0, 1)
    dout = rng.standard_normal(x.shape)
    _, cache = K.relu_forward(x)
    np.testing.assert_array_equal(K.relu_backward(dout, cache), K.relu_backward_naive(dout, K.relu_forward_naive(x)[1]))


# --------------------------------------------------------------------------- bad input
def _conv_cache():
    return K.conv2d_forward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)))[1]


def _conv_transpose_cache():
    return K.conv_transpose2d_forward(np.ones((1, 3, 4, 4)), np.ones((3, 2, 2, 2)))[1]


def _pool_cache():
    return K.max_pool2d_forward(np.ones((1, 1, 4, 4)), 2)[1]


def _relu_cache():
    return K.relu_forward(np.ones((2, 3)))[1]


def _linear_cache():
    return K.linear_forward(np.ones((2, 3)), np.ones((4, 3)))[1]


f32, f64 = np.ones((2, 3, 5, 5), np.float32), np.ones((2, 3, 5, 5))
w3 = np.ones((4, 3, 3, 3))
BAD_INPUT = [
    # conv2d
    (K.conv2d_forward, lambda: (np.ones((3, 5, 5)), w3), ValueError, r"conv2d input: expected a 4-D array, got 3-D"),
    (K.conv2d_forward, lambda: (np.ones((2, 3, 5, 5), int), w3), TypeError,
     r"conv2d input: expected dtype float32 or float64, got int64"),
    (K.conv2d_forward, lambda: (f64.astype(np.float16), w3.astype(np.float16)), TypeError, r"got float16"),
    (K.conv2d_forward, lambda: (np.ones((2, 2, 5, 5)), w3), ValueError,
     r"conv2d: expected input with 3 channels .*got input of shape \(2, 2, 5, 5\)"),
    (K.conv2d_forward, lambda: (f32, w3), TypeError, r"conv2d: expected all arrays in one dtype, got float32, float64"),
    (K.conv2d_forward, lambda: (f64, w3, np.ones(3)), ValueError, r"conv2d: expected bias of shape \(4,\), got \(3,\)"),
    (K.conv2d_forward, lambda: (np.ones((2, 3, 2, 5)), w3), ValueError,
     r"conv2d height: input size 2 with padding 0 is smaller than the kernel size 3"),
    (K.conv2d_forward, lambda: (f64, w3, None, 0), ValueError, r"conv2d stride: expected values >= 1, got \(0, 0\)"),
    (K.conv2d_forward, lambda: (f64, w3, None, 1, -1), ValueError,
     r"conv2d padding: expected values >= 0, got \(-1, -1\)"),
    (K.conv2d_forward, lambda: (f64, np.ones((4, 3, 0, 3))), ValueError,
     r"conv2d: expected a non-empty weight, got shape \(4, 3, 0, 3\)"),
    (K.conv2d_backward, lambda: (np.ones((1, 1, 3, 4)), _conv_cache()), ValueError,
     r"conv2d backward: expected upstream gradient of shape \(1, 1, 3, 3\), got \(1, 1, 3, 4\)"),
    (K.conv2d_backward, lambda: (np.ones((1, 1, 3, 3), np.float32), _conv_cache()), TypeError,
     r"conv2d backward: expected upstream gradient of dtype float64, got float32"),
    # conv_transpose2d: weight (C_in, C_out / groups, KH, KW)
    (K.conv_transpose2d_forward, lambda: (f64, np.ones((4, 2, 3, 3))), ValueError,
     r"conv_transpose2d: expected input with 4 channels \(weight \(4, 2, 3, 3\)\), got input of shape \(2, 3, 5, 5\)"),
    (K.conv_transpose2d_forward, lambda: (f64, np.ones((3, 2, 3, 3)), None, 1, 0, 0, 2), ValueError,
     r"conv_transpose2d: expected in_channels 3 .* divisible by groups=2"),
    (K.conv_transpose2d_forward, lambda: (f64, np.ones((3, 2, 3, 3)), None, 2, 0, 2), ValueError,
     r"conv_transpose2d: expected output_padding smaller than either stride or dilation, got output_padding=\(2, 2\)"),
    (K.conv_transpose2d_forward, lambda: (f64, np.ones((3, 2, 3, 3)), None, 1, 0, 1, 1, 1), ValueError,
     r"conv_transpose2d: expected output_padding smaller than either stride or dilation"),
    (K.conv_transpose2d_forward, lambda: (f64, np.ones((3, 2, 1, 1)), None, 1, 3), ValueError,
     r"conv_transpose2d: input size \(5, 5\) gives an output size \(-1, -1\), too small"),
    (K.conv_transpose2d_forward, lambda: (np.ones((2, 3, 0, 5)), np.ones((3, 2, 3, 3))), ValueError,
     r"conv_transpose2d: expected an input of non-empty height and width, got shape \(2, 3, 0, 5\)"),
    (K.conv_transpose2d_forward, lambda: (f64, np.ones((3, 2, 3, 3)), np.ones(3), 1, 0, 0, 1), ValueError,
     r"conv_transpose2d: expected bias of shape \(2,\), got \(3,\)"),
    (K.conv_transpose2d_forward, lambda: (f64, np.ones((3, 0, 3, 3))), ValueError,
     r"conv_transpose2d: expected a non-empty weight, got shape \(3, 0, 3, 3\)"),
    (K.conv_transpose2d_forward, lambda: (f32, np.ones((3, 2, 3, 3))), TypeError,
     r"conv_transpose2d: expected all arrays in one dtype, got float32, float64"),
    (K.conv_transpose2d_forward, lambda: (f64, np.ones((3, 2, 3, 3)), None, 1, -1), ValueError,
     r"conv_transpose2d padding: expected values >= 0, got \(-1, -1\)"),
    (K.conv_transpose2d_backward, lambda: (np.ones((1, 2, 3, 4)), _conv_transpose_cache()), ValueError,
     r"conv_transpose2d backward: expected upstream gradient of shape \(1, 2, 5, 5\), got \(1, 2, 3, 4\)"),
    (K.conv_transpose2d_backward_naive, lambda: (np.ones((1, 2, 5, 5), np.float32), _conv_transpose_cache()), TypeError,
     r"conv_transpose2d backward: expected upstream gradient of dtype float64, got float32"),
    # im2col / col2im
    (K.im2col, lambda: (f64, 0), ValueError, r"im2col kernel_size: expected values >= 1, got \(0, 0\)"),
    (K.im2col, lambda: (f64, 6), ValueError, r"im2col height: input size 5 with padding 0 is smaller than the kernel size 6"),
    (K.im2col, lambda: (f64, 2.5), TypeError, r"im2col kernel_size: expected an int or a pair of ints, got 2.5"),
    (K.col2im, lambda: (np.ones((27, 10)), (2, 3, 5, 5), 3), ValueError,
     r"col2im: expected cols of shape \(27, 18\), got \(27, 10\)"),
    # max pooling
    (K.max_pool2d_forward, lambda: (np.ones((5, 5)), 2), ValueError, r"max_pool2d input: expected a 4-D array, got 2-D"),
    (K.max_pool2d_forward, lambda: (np.ones((1, 1, 5, 5), np.int32), 2), TypeError,
     r"max_pool2d input: expected dtype float32 or float64, got int32"),
    (K.max_pool2d_forward, lambda: (f64, 6), ValueError,
     r"max_pool2d height: input size 5 with padding 0 is smaller than the kernel size 6"),
    (K.max_pool2d_forward, lambda: (f64, 2, None, 2), ValueError,
     r"max_pool2d: expected padding at most half the kernel size \(2, 2\), got \(2, 2\)"),
    (K.max_pool2d_forward, lambda: (f64, 2, 0), ValueError, r"max_pool2d stride: expected values >= 1, got \(0, 0\)"),
    (K.max_pool2d_backward, lambda: (np.ones((1, 1, 2, 3)), _pool_cache()), ValueError,
     r"max_pool2d backward: expected upstream gradient of shape \(1, 1, 2, 2\), got \(1, 1, 2, 3\)"),
    # relu
    (K.relu_forward, lambda: (np.ones(3, int),), TypeError, r"relu input: expected dtype float32 or float64, got int64"),
    (K.relu_forward, lambda: ([1.0, -1.0],), TypeError, r"relu input: expected a numpy.ndarray, got list"),
    (K.relu_backward, lambda: (np.ones((3, 2)), _relu_cache()), ValueError,
     r"relu backward: expected upstream gradient of shape \(2, 3\), got \(3, 2\)"),
    (K.relu_backward, lambda: (np.ones((2, 3), np.float16), _relu_cache()), TypeError,
     r"relu backward: expected dtype float32 or float64, got float16"),
    # linear
    (K.linear_forward, lambda: (np.ones(3), np.ones((4, 3))), ValueError, r"linear input: expected a 2-D array, got 1-D"),
    (K.linear_forward, lambda: (np.ones((2, 5)), np.ones((4, 3))), ValueError,
     r"linear: expected input with 3 features .*got input of shape \(2, 5\)"),
    (K.linear_forward, lambda: (np.ones((2, 3), np.float32), np.ones((4, 3))), TypeError,
     r"linear: expected all arrays in one dtype, got float32, float64"),
    (K.linear_backward, lambda: (np.ones((2, 3)), _linear_cache()), ValueError,
     r"linear backward: expected upstream gradient of shape \(2, 4\), got \(2, 3\)"),
    # cross-entropy
    (K.softmax_cross_entropy, lambda: (np.ones((2, 3)), np.array([0, 3])), ValueError,
     r"cross_entropy: expected labels in \[0, 3\), got values in \[0, 3\]"),
    (K.softmax_cross_entropy, lambda: (np.ones((2, 3)), np.array([-1, 0])), ValueError,
     r"expected labels in \[0, 3\), got values in \[-1, 0\]"),
    (K.softmax_cross_entropy, lambda: (np.ones((2, 3)), np.array([0, 1, 2])), ValueError,
     r"cross_entropy: expected labels of shape \(2,\), got \(3,\)"),
    (K.softmax_cross_entropy, lambda: (np.ones((2, 3)), np.array([0.0, 1.0])), TypeError,
     r"cross_entropy: expected integer labels, got dtype float64"),
    (K.softmax_cross_entropy, lambda: (np.ones(3), np.array([0])), ValueError,
     r"cross_entropy logits: expected a 2-D array, got 1-D"),
    (K.softmax_cross_entropy, lambda: (np.ones((2, 3), int), np.array([0, 1])), TypeError,
     r"cross_entropy logits: expected dtype float32 or float64, got int64"),
    (K.softmax_cross_entropy, lambda: (np.ones((2, 3)), np.array([0, 1]), "none"), ValueError,
     r"cross_entropy: expected reduction in \('mean', 'sum'\), got 'none'"),
]


@pytest.mark.parametrize("kernel, make_args, error, match", BAD_INPUT)
def test_bad_input_is_rejected_before_numba_runs(kernel, make_args, error, match, numba_tripwire):
    args = make_args()  # a backward's cache comes from a valid forward, run before arming
    with pytest.raises(error, match=match), numba_tripwire:
        kernel(*args)
    assert numba_tripwire.calls == []


def test_the_numba_tripwire_can_fire(numba_tripwire):
    with numba_tripwire, pytest.raises(AssertionError, match="numba kernel"):
        K.max_pool2d_forward(np.ones((1, 1, 4, 4)), 2)


def test_max_pool2d_backward_rejects_a_gradient_of_another_dtype():
    _, cache = K.max_pool2d_forward(np.ones((1, 1, 4, 4), np.float32), 2)
    with pytest.raises(TypeError, match=r"expected upstream gradient of dtype float32, got float64"):
        K.max_pool2d_backward(np.ones((1, 1, 2, 2)), cache)


# --------------------------------------------------------------------------- fused conv + relu + pool
@given(windows(), dtypes, seeds)
def test_fused_conv_relu_pool_equals_the_three_kernels(geom, dtype, seed):
    shape, kernel, _, padding = geom
    oh, ow = out_hw(shape, kernel, (1, 1), padding)
    assume(oh >= 2 and ow >= 2)
    rng = np.random.default_rng(seed)
    x = randn(rng, shape, dtype)
    w, b = randn(rng, (3, shape[1], *kernel), dtype), randn(rng, (3,), dtype)
    pooled, cache = K.conv2d_relu_max_pool2d_forward(x, w, b, padding)
    naive_pooled, naive_cache = K.conv2d_relu_max_pool2d_forward_naive(x, w, b, padding)
    assert_close(pooled, naive_pooled, dtype)
    g = randn(rng, pooled.shape, dtype)
    dx, dw, db = K.conv2d_relu_max_pool2d_backward(g, cache)
    conv_out, conv_cache = K.conv2d_forward(x, w, b, 1, padding)
    relu_out, relu_cache = K.relu_forward(conv_out)
    _, pool_cache = K.max_pool2d_forward(relu_out, 2)
    ex, ew, eb = K.conv2d_backward(K.relu_backward(K.max_pool2d_backward(g, pool_cache), relu_cache), conv_cache)
    for actual, expected in ((dx, ex), (dw, ew), (db, eb)):
        assert_close(actual, expected, dtype)
    for actual, expected in zip((dx, dw, db), K.conv2d_relu_max_pool2d_backward_naive(g, naive_cache)):
        assert_close(actual, expected, dtype)


def test_fused_conv_relu_pool_refuses_an_output_smaller_than_the_pool(numba_tripwire):
    x, w, b = np.zeros((1, 1, 3, 3)), np.zeros((2, 1, 3, 3)), np.zeros(2)
    with numba_tripwire, pytest.raises(ValueError, match=r"conv2d_relu_max_pool2d: expected a conv output "
                                                         r"of at least 2x2 .* got 1x1"):
        K.conv2d_relu_max_pool2d_forward(x, w, b, 0)


# --------------------------------------------------------------------------- thread count
@pytest.mark.parametrize("n", [1, 3, 64])
def test_results_do_not_depend_on_the_thread_count(n):
    """Each thread takes a slice of the batch; only the order of the weight-gradient sum can differ.

    n=1 is the edge case where nothing can be split (one chunk on any thread count); 3 and 64 split."""
    from minicnn import threads
    rng = np.random.default_rng(n)
    x, w, b = rng.standard_normal((n, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    g = rng.standard_normal((n, 4, 4, 4))
    before = threads.num_threads()
    try:
        results = []
        for count in (1, 2, 3):
            threads.configure(count)
            pooled, cache = K.conv2d_relu_max_pool2d_forward(x, w, b, 1)
            out, conv_cache = K.conv2d_forward(x, w, b, 2, 1)
            results.append((pooled, *K.conv2d_relu_max_pool2d_backward(g, cache), out,
                            *K.conv2d_backward(np.ones_like(out), conv_cache)))
    finally:
        threads.configure(before)
    for other in results[1:]:
        for a, e in zip(other, results[0]):
            assert_close(a, e, np.float64)


@pytest.mark.default_chunks
def test_linear_splits_features_between_threads_and_matches_naive():
    """A layer big enough for two threads splits its output features (forward, dW, db) and its input
    features (dx); every thread count gives the naive result."""
    from minicnn import threads
    from minicnn.kernels import linear
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((64, 1024)), rng.standard_normal((300, 1024)), rng.standard_normal(300)
    g = rng.standard_normal((64, 300))
    expected_out, naive_cache = K.linear_forward_naive(x, w, b)
    expected = K.linear_backward_naive(g, naive_cache)
    before = threads.num_threads()
    try:
        for count in (1, 2, 3):
            threads.configure(count)
            out_chunks, in_chunks = linear._feature_chunks(x, w)
            assert len(out_chunks) == len(in_chunks) == min(count, 2)  # 64*1024*128 MACs: at most 2 chunks
            assert in_chunks[-1].stop == 1024 and out_chunks[-1].stop == 300
            out, cache = K.linear_forward(x, w, b)
            assert_close(out, expected_out, np.float64)
            assert_grads_close(K.linear_backward(g, cache), expected, True, np.float64)
    finally:
        threads.configure(before)
    assert len(linear._feature_chunks(x[:4], w)[0]) == 1  # 4*1024*300 MACs: one thread is faster


@pytest.mark.parametrize("op", ["max", "avg"])
def test_pooling_an_empty_batch_gives_an_empty_batch(op):
    """torch pools a batch of 0 images into a batch of 0 (and back); so does minicnn."""
    x = np.zeros((0, 3, 8, 8), np.float32)
    forward, backward = ((K.max_pool2d_forward, K.max_pool2d_backward) if op == "max"
                         else (K.avg_pool2d_forward, K.avg_pool2d_backward))
    out, cache = forward(x, 2)
    assert out.shape == (0, 3, 4, 4)
    assert backward(np.zeros_like(out), cache).shape == x.shape


@pytest.mark.default_chunks
def test_small_passes_stay_on_one_thread():
    """Below threads.MIN_CHUNK_VALUES per chunk, handing work to the pool costs more than it saves."""
    from minicnn import threads
    before = threads.num_threads()
    try:
        threads.configure(2)
        assert len(threads.chunks(64, threads.min_items(6 * 28 * 28))) == 1      # LeNet-5's first pool: 301 056
        assert len(threads.chunks(64, threads.min_items(32 * 28 * 28))) == 2     # SimpleCNN's: 1 605 632
        assert threads.min_items(0) == threads.MIN_CHUNK_VALUES and threads.min_items(1 << 30) == 1
    finally:
        threads.configure(before)


@pytest.mark.skipif(__import__("platform").libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_malloc_keeps_freed_memory_unless_told_not_to():
    """configure() asks glibc to keep freed memory (a step then reuses its pages); MINICNN_MALLOC=default opts out."""
    import os
    import subprocess
    import sys
    code = "from minicnn import threads; threads.configure(1); print(threads.describe()['malloc_tuned'])"
    for setting, expected in (("", "True"), ("tuned", "True"), ("default", "False"), ("off", "False")):
        env = dict(os.environ, MINICNN_MALLOC=setting)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected, (setting, out.stdout, out.stderr)


# --------------------------------------------------------------------------- NaN, as torch treats it
def test_max_pool2d_nan_takes_the_window_and_the_last_nan_wins():
    """torch's rule is ``val > max or isnan(val)``: a NaN always takes over, so the *last* NaN wins."""
    x = np.array([[[[1.0, np.nan, 2.0, 3.0],
                    [np.nan, 0.0, 5.0, 4.0]]]], dtype=np.float32)
    for kernel_path in ({}, {"padding": 0, "stride": 2}):  # fast 2x2 path and, via NaN, the general one
        out, (_, argmax, _) = K.max_pool2d_forward(x, 2, **kernel_path)
        assert np.isnan(out[0, 0, 0, 0]) and out[0, 0, 0, 1] == 5.0
        np.testing.assert_array_equal(argmax[0, 0, 0], [4, 6])  # (1,0) is the later NaN; 5.0 at (1,2)


def test_fused_conv_relu_pool_propagates_nan_like_the_three_kernels():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 2, 8, 8)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    x[0, 1, 2, 5] = np.nan
    pooled, _ = K.conv2d_relu_max_pool2d_forward(x, w, b, 1)
    expected, _ = K.conv2d_relu_max_pool2d_forward_naive(x, w, b, 1)
    assert np.isnan(pooled).sum() == np.isnan(expected).sum() > 0
    np.testing.assert_allclose(pooled, expected, rtol=1e-12, atol=1e-12)  # NaN where expected has NaN


# --------------------------------------------------------------------------- torch's other arguments
@st.composite
def general_conv(draw):
    """Shapes and keyword arguments for the general conv path (dilation, groups, padding modes, 'same')."""
    groups = draw(st.sampled_from([1, 2, 3]))
    c, o = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel, dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3))), (draw(st.integers(1, 3)),
                                                                            draw(st.integers(1, 3)))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    padding = draw(st.sampled_from(["same", "valid"]) | st.tuples(st.integers(0, 2), st.integers(0, 2)))
    stride = (1, 1) if padding == "same" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    h, w = draw(st.integers(1, 10)), draw(st.integers(1, 10))
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, padding_mode=mode)
    try:  # the geometry the kernel accepts (windows fit, reflect/circular limits): refusals have their own tests
        K.conv2d_forward_naive(np.zeros((1, c, h, w)), np.zeros((o, c // groups, *kernel)), **kwargs)
    except ValueError:
        assume(False)
    return (draw(st.integers(1, 3)), c, h, w), (o, c // groups, *kernel), kwargs


@given(general_conv(), st.booleans(), dtypes, seeds)
def test_general_conv2d_equals_naive(case, with_bias, dtype, seed):
    shape, wshape, kwargs = case
    rng = np.random.default_rng(seed)
    x, weight = randn(rng, shape, dtype), randn(rng, wshape, dtype)
    bias = randn(rng, (wshape[0],), dtype) if with_bias else None
    out, cache = K.conv2d_forward(x, weight, bias, **kwargs)
    naive_out, naive_cache = K.conv2d_forward_naive(x, weight, bias, **kwargs)
    assert_close(out, naive_out, dtype)
    dout = randn(rng, out.shape, dtype)
    assert_grads_close(K.conv2d_backward(dout, cache), K.conv2d_backward_naive(dout, naive_cache), with_bias, dtype)
    assert K.conv2d_backward(dout, cache, need_input_grad=False)[0] is None


def test_plain_conv2d_takes_the_fast_path_and_same_padding_joins_it():
    """The common case keeps the chunked fast path; 'same' with an odd kernel resolves to it too."""
    x, w = np.ones((2, 3, 6, 6)), np.ones((4, 3, 3, 3))
    for kwargs in ({}, {"padding": 1}, {"padding": "same"}, {"padding": "valid"}, {"dilation": (1, 1)}):
        assert K.conv2d_forward(x, w, **kwargs)[1].algorithm != "general", kwargs
    for kwargs in ({"dilation": 2}, {"groups": 3, "padding": 0}, {"padding": 1, "padding_mode": "reflect"}):
        weight = w[:3, :1] if "groups" in kwargs else w
        assert K.conv2d_forward(x, weight, **kwargs)[1].algorithm == "general", kwargs


# --------------------------------------------------------------------------- transposed convolution
@st.composite
def transposed_conv(draw, max_hw=6):
    """Shapes and keyword arguments of a transposed conv: groups, stride, padding, dilation, and an
    output_padding below the stride or the dilation (so at times at least the stride); the output at least 1x1."""
    groups = draw(st.sampled_from([1, 2, 3]))
    c, o = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    output_padding = tuple(draw(st.integers(0, max(stride[a], dilation[a]) - 1)) for a in (0, 1))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    h, w = draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw))
    assume(min(conv_transpose.output_hw((h, w), kernel, stride, padding, output_padding, dilation)) >= 1)
    kwargs = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    return (draw(st.integers(1, 3)), c, h, w), (c, o // groups, *kernel), kwargs


@given(transposed_conv(), st.booleans(), dtypes, seeds)
def test_conv_transpose2d_equals_naive(case, with_bias, dtype, seed):
    shape, wshape, kwargs = case
    rng = np.random.default_rng(seed)
    x, weight = randn(rng, shape, dtype), randn(rng, wshape, dtype)
    bias = randn(rng, (wshape[1] * kwargs["groups"],), dtype) if with_bias else None
    out, cache = K.conv_transpose2d_forward(x, weight, bias, **kwargs)
    naive_out, naive_cache = K.conv_transpose2d_forward_naive(x, weight, bias, **kwargs)
    assert out.shape == (shape[0], bias.shape[0] if with_bias else wshape[1] * kwargs["groups"]) + tuple(
        conv_transpose.output_hw(shape[2:], wshape[2:], kwargs["stride"], kwargs["padding"], kwargs["output_padding"],
                                 kwargs["dilation"]))
    assert_close(out, naive_out, dtype)
    dout = randn(rng, out.shape, dtype)
    grads = K.conv_transpose2d_backward(dout, cache)
    assert_grads_close(grads, K.conv_transpose2d_backward_naive(dout, naive_cache), with_bias, dtype)
    for backward, c in ((K.conv_transpose2d_backward, cache), (K.conv_transpose2d_backward_naive, naive_cache)):
        no_dx, dw2, _ = backward(dout, c, need_input_grad=False)
        assert no_dx is None
        assert_close(dw2, grads[1], dtype)


@given(transposed_conv(), seeds)
def test_conv_transpose2d_is_conv2d_backward_run_forward(case, seed):
    """The three passes are conv2d's (float64): the forward is conv2d's input gradient with x as the upstream
    gradient, dx is conv2d's forward of dout, dweight is conv2d's weight gradient with the two swapped (dout
    as conv2d's input, x as its upstream gradient).  With output_padding >= stride (dilation > stride) conv2d
    maps the output to more rows than x has: x is its upstream gradient with zeros below, and dx its first
    H x W."""
    shape, wshape, kwargs = case
    rng = np.random.default_rng(seed)
    x, weight = rng.standard_normal(shape), rng.standard_normal(wshape)
    conv = dict(stride=kwargs["stride"], padding=kwargs["padding"], dilation=kwargs["dilation"],
                groups=kwargs["groups"])
    out, cache = K.conv_transpose2d_forward(x, weight, None, **kwargs)
    dout = rng.standard_normal(out.shape)
    conv_out, conv_cache = K.conv2d_forward(dout, weight, None, **conv)   # (N, C_in, H', W'), H' >= H
    h, w = shape[2:]
    assert conv_out.shape[2] >= h and conv_out.shape[3] >= w
    x_as_dout = np.zeros(conv_out.shape)
    x_as_dout[:, :, :h, :w] = x
    conv_dx, conv_dw, _ = K.conv2d_backward(x_as_dout, conv_cache)
    dx, dw, db = K.conv_transpose2d_backward(dout, cache)
    assert_close(out, conv_dx, np.float64)
    assert_close(dx, conv_out[:, :, :h, :w], np.float64)
    assert_close(dw, conv_dw, np.float64)
    assert db is None


def test_conv_transpose2d_known_values():
    """Each input pixel adds the kernel times itself into its window: stride 1 overlaps the windows, stride 2
    tiles them; padding cuts the border off, output_padding adds a row and column (of bias alone here)."""
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out, cache = K.conv_transpose2d_forward(x, w, np.array([0.5]))
    np.testing.assert_array_equal(out[0, 0], np.array([[1, 4, 4], [6, 20, 16], [9, 24, 16]]) + 0.5)
    tiled = [[1, 2, 2, 4], [3, 4, 6, 8], [3, 6, 4, 8], [9, 12, 12, 16]]
    np.testing.assert_array_equal(K.conv_transpose2d_forward(x, w, None, 2)[0][0, 0], tiled)
    np.testing.assert_array_equal(K.conv_transpose2d_forward(x, w, None, 2, 1)[0][0, 0], [[4, 6], [6, 4]])
    np.testing.assert_array_equal(K.conv_transpose2d_forward(x, w, None, 2, 1, 1)[0][0, 0],
                                  [[4, 6, 8], [6, 4, 8], [12, 12, 16]])
    # dilation 2, stride 1: the taps land two apart; output_padding 1 (< dilation) adds an empty row and column
    spread = np.zeros((5, 5))
    spread[:4, :4] = tiled
    np.testing.assert_array_equal(K.conv_transpose2d_forward(x, w, None, 1, 0, 1, 1, 2)[0][0, 0], spread)
    # backward of the stride-1 case: dx gathers each window of dout through the kernel, dweight sums x times it
    dout = np.array([[[[1.0, 0.0, -1.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]]])
    dx, dw, db = K.conv_transpose2d_backward(dout, cache)
    np.testing.assert_array_equal(dx[0, 0], [[1 * 1 + 0 * 2 + 2 * 3 + 1 * 4, 0 * 1 - 1 * 2 + 1 * 3 + 0 * 4],
                                          [2 * 1 + 1 * 2 + 0 * 3 + 0 * 4, 1 * 1 + 0 * 2 + 0 * 3 + 1 * 4]])
    np.testing.assert_array_equal(dw[0, 0], [[1 * 1 + 2 * 0 + 3 * 2 + 4 * 1, 1 * 0 - 2 * 1 + 3 * 1 + 0],
                                             [1 * 2 + 2 * 1 + 0 + 0, 1 * 1 + 0 + 0 + 4 * 1]])
    np.testing.assert_array_equal(db, [4])
    for naive, fast in zip(K.conv_transpose2d_backward_naive(dout, K.conv_transpose2d_forward_naive(
            x, w, np.array([0.5]))[1]), (dx, dw, db)):
        np.testing.assert_array_equal(naive, fast)


def test_conv_transpose2d_groups_keep_to_their_channels():
    """Group g's inputs reach only group g's outputs: with 2 groups, a pixel of input channel 0 (group 0) changes
    outputs 0 and 1 only, and channel 3's (group 1) outputs 2 and 3."""
    weight = np.ones((4, 2, 2, 2))
    for channel, reached in ((0, [0, 1]), (3, [2, 3])):
        x = np.zeros((1, 4, 2, 2))
        x[0, channel, 1, 0] = 1.0
        out, _ = K.conv_transpose2d_forward(x, weight, None, groups=2)
        assert [o for o in range(4) if out[0, o].any()] == reached


def test_conv_transpose2d_accepts_non_contiguous_input():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 5, 3)).transpose(0, 1, 3, 2)
    w = rng.standard_normal((4, 3, 2, 3))[:, :, ::-1]
    out, cache = K.conv_transpose2d_forward(x, w, None, 2, 1, 1, 2)
    outc, cachec = K.conv_transpose2d_forward(np.ascontiguousarray(x), w.copy(), None, 2, 1, 1, 2)
    np.testing.assert_array_equal(out, outc)
    dout = rng.standard_normal(out.shape[::-1]).T
    for g, gc in zip(K.conv_transpose2d_backward(dout, cache),
                     K.conv_transpose2d_backward(np.ascontiguousarray(dout), cachec)):
        np.testing.assert_array_equal(g, gc)


@st.composite
def pad_nd_cases(draw):
    """(mode, pads, x shape): 1 to 3 padded dims of an (N, C, ...) array, ``(lo, hi)`` per dim outermost first,
    within torch's limits (reflect's pads below the size, circular's at most the size)."""
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    sizes = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    most = {"reflect": lambda n: n - 1, "circular": lambda n: n}.get(mode, lambda n: 4)
    pads = tuple(draw(st.integers(0, most(n))) for n in sizes for _ in (0, 1))
    return mode, pads, (2, 3) + tuple(sizes)


@given(pad_nd_cases(), seeds)
def test_pad_nd_backward_is_the_adjoint_and_equals_naive(case, seed):
    from minicnn.kernels import padding as P
    mode, pads, shape = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    xp = P.pad_nd(x, pads, mode)
    np.testing.assert_array_equal(xp, P.pad_nd_naive(x, pads, mode))
    g = rng.standard_normal(xp.shape)
    dx = P.pad_nd_backward(g, pads, mode)
    np.testing.assert_allclose(dx, P.pad_nd_backward_naive(g, pads, mode), rtol=1e-13, atol=1e-13)
    assert abs(np.sum(xp * g) - np.sum(x * dx)) <= 1e-10 * np.sum(np.abs(xp * g))  # <pad(x), g> = <x, pad*(g)>


@st.composite
def pad_cases(draw):
    """(x shape (N, C, W), (N, C, H, W) or (N, C, D, H, W), pad of 2, 4 or 6 ints, mode, value) that torch's
    F.pad computes, negative pads (crops) in every mode (``helpers.torch_pad``)."""
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=2, max_size=2)) +
                  draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    pad = torch_pad(draw, mode, shape, 2 * draw(st.integers(1, len(shape) - 2)))
    value = draw(st.sampled_from([None, 0.0, -1.5, 2])) if mode == "constant" else None
    return shape, pad, mode, value


@given(pad_cases(), dtypes, seeds)
def test_pad_equals_naive_and_its_backward_is_the_adjoint(case, dtype, seed):
    shape, pad, mode, value = case
    rng = np.random.default_rng(seed)
    x = randn(rng, shape, dtype)
    out, (dx,) = same_both_ways("pad", (x, pad, mode, value), dtype, rng)
    k = len(pad) // 2
    assert out.shape == shape[:-k] + tuple(n + pad[2 * i] + pad[2 * i + 1] for i, n in enumerate(shape[::-1][:k]))[::-1]
    if dtype == np.float64:  # <pad(x) - pad(0), g> = <x, pad*(g)>: the backward is the forward's adjoint
        g = rng.standard_normal(out.shape)
        fill = K.pad_forward(np.zeros_like(x), pad, mode, value)[0]
        dx = K.pad_backward(g, K.pad_forward(x, pad, mode, value)[1])
        assert abs(np.sum((out - fill) * g) - np.sum(x * dx)) <= 1e-10 * max(np.sum(np.abs(out * g)), 1)


def test_pad_known_values_in_every_mode():
    x = np.array([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]]])
    cases = [  # (pad, mode, value, out's first row, dx of an all-ones gradient)
        ((2, 1), "reflect", None, [3, 2, 1, 2, 3, 2], [[1, 3, 2], [1, 3, 2]]),
        ((2, 1), "replicate", None, [1, 1, 1, 2, 3, 3], [[3, 1, 2], [3, 1, 2]]),
        ((2, 1), "circular", None, [2, 3, 1, 2, 3, 1], [[2, 2, 2], [2, 2, 2]]),
        ((1, 1), "constant", 7.0, [7, 1, 2, 3, 7], [[1, 1, 1], [1, 1, 1]]),
        ((-1, 1), "constant", None, [2, 3, 0], [[0, 1, 1], [0, 1, 1]]),
        # reflect and replicate pad, then crop: the crop reaches into the padding on the other side
        ((2, -3), "reflect", None, [3, 2], [[0, 1, 1], [0, 1, 1]]),
        ((3, -4), "replicate", None, [1, 1], [[2, 0, 0], [2, 0, 0]]),
        ((-1, 2), "replicate", None, [2, 3, 3, 3], [[0, 1, 3], [0, 1, 3]]),
        # circular crops, then wraps what is left: (2, 3) padded by 1 on the left is (3, 2, 3)
        ((1, -1), "circular", None, [2, 1, 2], [[1, 2, 0], [1, 2, 0]]),
    ]
    for impl in ("fast", "naive"):  # (by attribute, not from REGISTRY's tuples: a planted mutant replaces these)
        sfx = "_naive" if impl == "naive" else ""
        forward, backward = getattr(K, f"pad_forward{sfx}"), getattr(K, f"pad_backward{sfx}")
        for pad, mode, value, row, dx in cases:
            out, cache = forward(x, pad, mode, value)
            np.testing.assert_array_equal(out[0, 0, 0], row, err_msg=f"{impl} {mode} {pad}")
            np.testing.assert_array_equal(backward(np.ones_like(out), cache)[0, 0], dx, err_msg=f"{impl} {mode}")
        out, cache = forward(x, (0, 0, 1, 0), "reflect")  # the top row is the second row, mirrored
        np.testing.assert_array_equal(out[0, 0], [[4, 5, 6], [1, 2, 3], [4, 5, 6]])
        np.testing.assert_array_equal(backward(np.arange(9.0).reshape(1, 1, 3, 3), cache)[0, 0],
                                      [[3, 4, 5], [6 + 0, 7 + 1, 8 + 2]])
        # 3-D: a (2, 2, 1) volume reflected by one at the front and the top: each dim's map is (1, 0, 1)
        out, cache = forward(np.array([[[[[1.0], [2.0]], [[3.0], [4.0]]]]]), (0, 0, 1, 0, 1, 0), "reflect")
        np.testing.assert_array_equal(out[0, 0, :, :, 0], [[4, 3, 4], [2, 1, 2], [4, 3, 4]])
        np.testing.assert_array_equal(backward(np.ones_like(out), cache)[0, 0, :, :, 0], [[1, 2], [2, 4]])


@pytest.mark.parametrize("name", ["pixel_shuffle", "pixel_unshuffle"])
@given(st.lists(st.integers(0, 2), max_size=2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 3), dtypes, seeds)
def test_pixel_shuffle_and_unshuffle_equal_naive_and_undo_each_other(name, lead, r, c, h, w, dtype, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(lead) + ((c * r * r, h, w) if name == "pixel_shuffle" else (c, h * r, w * r))
    x = randn(rng, shape, dtype)
    out, (dx,) = same_both_ways(name, (x, r), dtype, rng)
    inverse = "pixel_unshuffle" if name == "pixel_shuffle" else "pixel_shuffle"
    np.testing.assert_array_equal(getattr(K, f"{inverse}_forward")(out, r)[0], x)
    # a permutation: the backward of a gradient equal to the output gives back the input itself
    np.testing.assert_array_equal(getattr(K, f"{name}_backward")(out.copy(), getattr(K, f"{name}_forward")(x, r)[1]), x)


@pytest.mark.parametrize("impl", ["fast", "naive"])
def test_pixel_shuffle_known_values(impl):
    pick = slice(0, 2) if impl == "fast" else slice(2, 4)
    shuffle_f, shuffle_b = K.REGISTRY["pixel_shuffle"][pick]
    unshuffle_f, unshuffle_b = K.REGISTRY["pixel_unshuffle"][pick]
    x = np.arange(8.0).reshape(1, 8, 1, 1)  # 2 output channels, channel c*4 + i*2 + j to sub-pixel (i, j) of c
    out, cache = shuffle_f(x, 2)
    np.testing.assert_array_equal(out, [[[[0, 1], [2, 3]], [[4, 5], [6, 7]]]])
    np.testing.assert_array_equal(shuffle_b(out * 10, cache), x * 10)
    y = np.arange(16.0).reshape(1, 1, 4, 4)
    out, cache = unshuffle_f(y, 2)
    np.testing.assert_array_equal(out[0, :, 0, 0], [0, 1, 4, 5])   # the top-left block, row by row
    np.testing.assert_array_equal(out[0, 1], [[1, 3], [9, 11]])    # sub-pixel (0, 1) of every block
    np.testing.assert_array_equal(unshuffle_b(out + 1, cache), y + 1)


# --------------------------------------------------------------------------- resizing (kernels/upsample.py)
RESIZE_KERNELS = ["upsample_nearest2d", "upsample_nearest_exact2d", "upsample_bilinear2d", "upsample_bicubic2d"]


@st.composite
def resize_cases(draw, name):
    """(x shape (N, C, H, W), kernel ``name``'s arguments after x): an output size of its own (scales None), or a
    scale factor per axis with the output size it gives (``floor(H * scale)``); an empty batch sometimes."""
    shape = (draw(st.integers(0, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    sizes = st.integers(1, 14)
    if draw(st.booleans()):
        output_size, scales = (draw(sizes), draw(sizes)), (None, None)
    else:
        # a factor between o / n and (o + 1) / n (its step 1/factor is not n / o, so the two rules differ), or a
        # round one (2, 0.5: the shortcuts; 1.1 and 2.05 keep or double a small size without being 1 or 2)
        def factor(n):
            between = st.tuples(sizes, st.floats(0.05, 0.95)).map(lambda of: (of[0] + of[1]) / n)
            return draw(between | st.sampled_from([1.0, 2.0, 0.5, 3.0, 1.1, 2.05]))
        scales = (factor(shape[2]), factor(shape[3]))
        output_size = tuple(int(n * s) for n, s in zip(shape[2:], scales))
        assume(min(output_size) >= 1)
    align = (draw(st.booleans()),) if name in ("upsample_bilinear2d", "upsample_bicubic2d") else ()
    return shape, (output_size,) + align + scales


@pytest.mark.parametrize("name", RESIZE_KERNELS)
@given(data=st.data(), dtype=dtypes, seed=seeds)
def test_upsample_kernels_equal_naive_and_their_backward_is_the_adjoint(name, data, dtype, seed):
    shape, args = data.draw(resize_cases(name))
    rng = np.random.default_rng(seed)
    x = randn(rng, shape, dtype)
    out, (dx,) = same_both_ways(name, (x,) + args, dtype, rng)
    assert out.shape == shape[:2] + tuple(args[0]) and dx.shape == shape
    if dtype == np.float64:  # <up(x), g> = <x, up*(g)>: the backward is the forward's adjoint
        g = rng.standard_normal(out.shape)
        forward, backward = getattr(K, f"{name}_forward"), getattr(K, f"{name}_backward")
        lhs, rhs = np.sum(out * g), np.sum(x * backward(g, forward(x, *args)[1]))
        assert abs(lhs - rhs) <= 1e-12 * max(np.sum(np.abs(out * g)), 1)


@pytest.mark.parametrize("impl", ["fast", "naive"])
def test_upsample_known_values(impl):
    suffix = "_naive" if impl == "naive" else ""
    nearest, nearest_b, exact, exact_b, bilinear, bilinear_b = (
        getattr(K, f"{name}_{way}{suffix}") for name in RESIZE_KERNELS[:3] for way in ("forward", "backward"))
    row = lambda *v: np.array(v, dtype=np.float64).reshape(1, 1, 1, -1)  # noqa: E731 (one row of width len(v))
    g = row(1, 2, 3, 4)
    cases = [  # (forward, backward, x, arguments after x, out's row, dx's row of the gradient g or of ones)
        # 4 -> 6: floor(d * 4/6) = 0 0 1 2 2 3; pixels 0 and 2 are read twice
        (nearest, nearest_b, row(0, 1, 2, 3), ((1, 6),), [0, 0, 1, 2, 2, 3], [2, 1, 2, 1]),
        # the centres: floor((d + 0.5) * 4/6) = 0 1 1 2 3 3
        (exact, exact_b, row(0, 1, 2, 3), ((1, 6),), [0, 1, 1, 2, 3, 3], [1, 2, 1, 2]),
        # scale_factor 1.3 on 3 pixels gives 3: nearest copies (torch's shortcut), nearest-exact steps by 1/1.3
        (nearest, nearest_b, row(0, 1, 2), ((1, 3), None, 1.3), [0, 1, 2], [1, 1, 1]),
        (exact, exact_b, row(0, 1, 2), ((1, 3), None, 1.3), [0, 1, 1], [1, 2, 0]),
        # scale_factor 2.05 on 2 pixels gives 4 = 2 * 2: nearest halves the index (the other shortcut), not d / 2.05
        (nearest, nearest_b, row(0, 1), ((1, 4), None, 2.05), [0, 0, 1, 1], [2, 2]),
        # scale_factor 1.7 on 4 pixels gives 6, stepped by 1/1.7 (not 4/6: that would read 0 0 1 2 2 3)
        (nearest, nearest_b, row(0, 1, 2, 3), ((1, 6), None, 1.7), [0, 0, 1, 1, 2, 2], [2, 2, 2, 0]),
        # bilinear 2 -> 4, pixel centres: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (the last pixel, alone)
        (bilinear, bilinear_b, row(0, 1), ((1, 4), False), [0, 0.25, 0.75, 1], None),
        # corners aligned: sources 0, 1/3, 2/3, 1
        (bilinear, bilinear_b, row(0, 3), ((1, 4), True), [0, 1, 2, 3], None),
        # 4 -> 2, pixel centres: sources 0.5 and 2.5, each the mean of two pixels
        (bilinear, bilinear_b, row(0, 1, 2, 3), ((1, 2), False), [0.5, 2.5], [0.5, 0.5, 0.5, 0.5]),
        # 5 -> 2 with corners aligned: the two corners themselves
        (bilinear, bilinear_b, row(0, 1, 2, 3, 4), ((1, 2), True), [0, 4], [1, 0, 0, 0, 1]),
        # the size kept with scale_factor 1.2: a copy, whatever the factor says (torch's shortcut)
        (bilinear, bilinear_b, row(0, 1, 2), ((1, 3), False, None, 1.2), [0, 1, 2], [1, 1, 1]),
        # scale_factor 1.7 on 4 pixels (6 out) steps by 1/1.7: a ramp's value is its source position,
        # (d + 0.5) / 1.7 - 0.5 clamped at 0 (4/6 instead would give 0, 0.5, 1.17, 1.83, 2.5, 3)
        (bilinear, bilinear_b, row(0, 1, 2, 3), ((1, 6), False, None, 1.7),
         np.maximum((np.arange(6) + 0.5) / 1.7 - 0.5, 0), None),
    ]
    for forward, backward, x, args, want, dx in cases:
        out, cache = forward(x, *args)
        np.testing.assert_allclose(out[0, 0, 0], want, rtol=0, atol=1e-15, err_msg=f"{impl} {forward.__name__} {args}")
        if dx is not None:
            np.testing.assert_allclose(backward(np.ones_like(out), cache)[0, 0, 0], dx, rtol=0, atol=1e-15,
                                       err_msg=f"{impl} {backward.__name__} {args}")
    # the gradient of g = (1, 2, 3, 4) through 2 -> 4: each output's share by its weight
    _, cache = bilinear(row(0, 1), (1, 4), False)
    np.testing.assert_allclose(bilinear_b(g, cache)[0, 0, 0], [1 + 2 * 0.75 + 3 * 0.25, 2 * 0.25 + 3 * 0.75 + 4],
                               rtol=0, atol=1e-14)
    _, cache = bilinear(row(0, 1), (1, 4), True)
    np.testing.assert_allclose(bilinear_b(g, cache)[0, 0, 0], [1 + 2 * 2 / 3 + 3 / 3, 2 / 3 + 3 * 2 / 3 + 4],
                               rtol=0, atol=1e-14)
    # in 2-D the weights multiply: a 2 x 2 image to 3 x 3 with corners aligned, the centre is the mean of four
    square = np.array([[[[0.0, 1.0], [2.0, 4.0]]]])
    out, cache = bilinear(square, (3, 3), True)
    np.testing.assert_allclose(out[0, 0], [[0, 0.5, 1], [1, 1.75, 2.5], [2, 3, 4]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(bilinear_b(np.ones((1, 1, 3, 3)), cache)[0, 0], [[2.25, 2.25], [2.25, 2.25]],
                               rtol=0, atol=1e-15)
    out, cache = nearest(square, (4, 3))  # rows 0 0 1 1 (twice the height), columns floor(d * 2/3) = 0 0 1
    np.testing.assert_array_equal(out[0, 0], [[0, 0, 1], [0, 0, 1], [2, 2, 4], [2, 2, 4]])
    np.testing.assert_array_equal(nearest_b(np.arange(12.0).reshape(1, 1, 4, 3), cache)[0, 0],
                                  [[0 + 1 + 3 + 4, 2 + 5], [6 + 7 + 9 + 10, 8 + 11]])


def test_upsample_source_indices_follow_torchs_float32_rule():
    """The nearest index is computed in float32 (torch's nearest_idx), in either dtype: floor(82 * (2/164)) is
    floor(1.0) = 1 in exact arithmetic, but 82 times float32(2/164) rounds below 1, so source 0; and the
    shortcuts win over a scale factor."""
    from minicnn.kernels import upsample
    assert upsample.nearest_sources(2, 164, None)[82] == 0
    assert upsample.nearest_sources(5, 5, 1.1).tolist() == [0, 1, 2, 3, 4]           # kept size: a copy
    assert upsample.nearest_sources(3, 6, 2.1).tolist() == [0, 0, 1, 1, 2, 2]        # doubled: d >> 1
    assert upsample.nearest_sources(3, 7, None).tolist() == [0, 0, 0, 1, 1, 2, 2]   # floor(d * 3/7)
    assert upsample.nearest_exact_sources(3, 7, None).tolist() == [0, 0, 1, 1, 1, 2, 2]
    for dtype in DTYPES:
        x = np.arange(2, dtype=dtype).reshape(1, 1, 1, 2)
        for impl in ("fast", "naive"):
            forward = K.upsample_nearest2d_forward if impl == "fast" else K.upsample_nearest2d_forward_naive
            assert forward(x, (1, 164))[0][0, 0, 0, 82] == 0, (impl, dtype)


@pytest.mark.parametrize("impl", ["fast", "naive"])
def test_bicubic_known_values(impl):
    """Cubic convolution, A = -0.75, by hand: at fractions 1/4 and 3/4 the kernel W at the distances 1.25, 0.25,
    0.75, 1.75 is (-27, 225, 67, -9) / 256, at 1/2 it is (-3, 19, 19, -3) / 32; taps beyond a border read the
    border pixel, so their weights add up there, in the forward and in the backward."""
    suffix = "_naive" if impl == "naive" else ""
    forward = getattr(K, f"upsample_bicubic2d_forward{suffix}")
    backward = getattr(K, f"upsample_bicubic2d_backward{suffix}")
    row = lambda *v: np.array(v, dtype=np.float64).reshape(1, 1, 1, -1)  # noqa: E731 (one row of width len(v))
    check = lambda got, want: np.testing.assert_allclose(got, want, rtol=0, atol=1e-15, err_msg=impl)  # noqa: E731
    # 5 -> 10, pixel centres: sources 0.5 d - 0.25 = -0.25, 0.25, ..., 4.25; a unit impulse at pixel 2 gives W
    # at each output's distance from it, with A's negative lobes (0 where pixel 2 is no tap: outputs 0 and 9)
    impulse = row(0, 0, 1, 0, 0)
    out, cache = forward(impulse, (1, 10), False)
    check(out[0, 0, 0], np.array([0, -9, -27, 67, 225, 225, 67, -27, -9, 0]) / 256)
    # output 0 (source -0.25: i = -1, t = 0.75) reads taps -2, -1, 0, 1 = pixels 0, 0, 0, 1: its gradient goes
    # to pixel 0 with the three weights' sum (-9 + 67 + 225) / 256, the rest to pixel 1
    g = np.zeros((1, 1, 1, 10))
    g[..., 0] = 1
    check(backward(g, cache)[0, 0, 0], np.array([283, -27, 0, 0, 0]) / 256)
    check(forward(row(1, 0, 0, 0, 0), (1, 10), False)[0][0, 0, 0, 0], 283 / 256)
    # 4 -> 2, pixel centres: sources 0.5 and 2.5 (t = 1/2), taps 0 0 1 2 and 1 2 3 3; every pixel's weights sum
    # to 1/2, the border pixels' from two taps each
    out, cache = forward(row(0, 1, 2, 3), (1, 2), False)
    check(out[0, 0, 0], [(19 * 1 - 3 * 2) / 32, (-3 * 1 + 19 * 2 + 19 * 3 - 3 * 3) / 32])
    check(backward(np.ones((1, 1, 1, 2)), cache)[0, 0, 0], [0.5, 0.5, 0.5, 0.5])
    # corners aligned, 3 -> 5: sources 0, 1/2, 1, 3/2, 2; at a whole source the pixel itself (t = 0)
    out, _ = forward(row(0, 1, 4), (1, 5), True)
    check(out[0, 0, 0], [0, (19 - 3 * 4) / 32, 1, (19 + 19 * 4 - 3 * 4) / 32, 4])
    # 4 -> 2 by scale_factor 0.6 steps by 1/0.6: sources 1/3 and 2 (the sizes' 4/2 would give 0.5 and 2.5)
    out, _ = forward(row(0, 1, 2, 3), (1, 2), False, None, 0.6)
    t = 0.5 / 0.6 - 0.5
    w = [-0.75 * (t + 1) ** 3 + 3.75 * (t + 1) ** 2 - 6 * (t + 1) + 3, 1.25 * t ** 3 - 2.25 * t ** 2 + 1,
         1.25 * (1 - t) ** 3 - 2.25 * (1 - t) ** 2 + 1]
    np.testing.assert_allclose(out[0, 0, 0], [w[2] + 2 * (1 - sum(w)), 2], rtol=0, atol=1e-14, err_msg=impl)
    # in 2-D the 4 x 4 weights are the product of the rows' and the columns': two 1-D passes give the same
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 6))
    out, cache = forward(x, (7, 3), False, 1.8, 0.55)
    rows_first = forward(forward(x, (7, 6), False, 1.8, None)[0], (7, 3), False, None, 0.55)[0]
    np.testing.assert_allclose(out, rows_first, rtol=0, atol=1e-14)
    gy = np.random.default_rng(1).standard_normal(out.shape)
    _, c1 = forward(x, (7, 6), False, 1.8, None)
    _, c2 = forward(np.zeros((2, 3, 7, 6)), (7, 3), False, None, 0.55)
    np.testing.assert_allclose(backward(gy, cache), backward(backward(gy, c2), c1), rtol=0, atol=1e-14)


def test_bicubic_source_index_is_floored_in_float32_as_torchs_floorf():
    """torch floors the source position with ``floorf``, which rounds a float64 position to float32 first: with
    scale_factor 1.5 / (1.5 - 1e-9) on 3 pixels, output 1's source 1 - 1e-9 becomes 1.0, so t = 0 and the output
    is pixel 1 exactly (a float64 floor would take i = 0, t = 1 - 1e-9 and blend in 3.75e-9 of the neighbours)."""
    from minicnn.kernels import upsample
    factor = 1.5 / (1.5 - 1e-9)
    taps, weights = upsample.cubic_sources(3, 3, False, factor)
    assert taps[1].tolist() == [0, 1, 2, 2] and weights[1].tolist() == [0, 1, 0, 0]
    for forward in (K.upsample_bicubic2d_forward, K.upsample_bicubic2d_forward_naive):
        assert forward(np.array([[[[0.0, 1.0, 5.0]]]]), (1, 3), False, None, factor)[0][0, 0, 0, 1] == 1.0


@given(windows(), st.tuples(st.integers(1, 3), st.integers(1, 3)), seeds)
def test_dilated_im2col_equals_naive_and_col2im_is_its_adjoint(geom, dilation, seed):
    shape, kernel, stride, padding = geom
    span = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    assume(shape[2] + 2 * padding[0] >= span[0] and shape[3] + 2 * padding[1] >= span[1])
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    cols = K.im2col(x, kernel, stride, padding, dilation)
    np.testing.assert_array_equal(cols, K.im2col_naive(x, kernel, stride, padding, dilation))
    c = rng.standard_normal(cols.shape)
    back = K.col2im(c, shape, kernel, stride, padding, dilation)
    assert abs(np.sum(cols * c) - np.sum(x * back)) <= 1e-10 * np.sum(np.abs(cols * c))


@given(windows(pool=True), st.tuples(st.integers(1, 3), st.integers(1, 3)), st.booleans(), st.booleans(), dtypes,
       seeds)
def test_max_pool2d_dilation_ceil_mode_equals_naive(geom, dilation, ceil_mode, default_stride, dtype, seed):
    shape, kernel, stride, padding = geom
    stride = None if default_stride else stride
    rng = np.random.default_rng(seed)
    x = randn(rng, shape, dtype)
    try:
        n_out, n_cache = K.max_pool2d_forward_naive(x, kernel, stride, padding, dilation, ceil_mode)
    except ValueError:
        assume(False)
    out, cache = K.max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode)
    np.testing.assert_array_equal(out, n_out)
    np.testing.assert_array_equal(cache[1], n_cache[1])
    dout = randn(rng, out.shape, dtype)
    assert_close(K.max_pool2d_backward(dout, cache), K.max_pool2d_backward_naive(dout, n_cache), dtype)


@given(windows(pool=True), dtypes, seeds)
def test_max_unpool2d_equals_naive_and_undoes_the_pool(geom, dtype, seed):
    shape, kernel, stride, padding = geom
    rng = np.random.default_rng(seed)
    x = randn(rng, shape, dtype)
    pooled, (_, argmax, _) = K.max_pool2d_forward(x, kernel, stride, padding)
    try:
        out, cache = K.max_unpool2d_forward(pooled, argmax, kernel, stride, padding, output_size=shape[2:])
    except ValueError:   # torch's output_size rule: within stride of (H - 1)*stride - 2*padding + kernel
        assume(False)
    naive_out, naive_cache = K.max_unpool2d_forward_naive(pooled, argmax, kernel, stride, padding, shape[2:])
    np.testing.assert_array_equal(out, naive_out)
    winners = out != 0
    np.testing.assert_array_equal(out[winners], x[winners])   # each maximum is back where it was
    dout = randn(rng, out.shape, dtype)
    dx = K.max_unpool2d_backward(dout, cache)
    np.testing.assert_array_equal(dx, K.max_unpool2d_backward_naive(dout, naive_cache))
    np.testing.assert_array_equal(dx, np.take_along_axis(dout.reshape(*shape[:2], -1),
                                                         argmax.reshape(*shape[:2], -1), 2).reshape(pooled.shape))


@given(st.integers(1, 4), st.integers(1, 5), st.lists(st.integers(1, 3), max_size=2),
       st.sampled_from(["mean", "sum", "none"]), st.booleans(), st.booleans(), st.sampled_from([0.0, 0.2, 1.0]),
       dtypes, seeds)
def test_cross_entropy_forward_equals_naive(n, c, extra, reduction, weighted, probabilities, smoothing, dtype, seed):
    rng = np.random.default_rng(seed)
    logits = randn(rng, (n, c, *extra), dtype) * 3
    weight = rng.uniform(0.5, 2, c).astype(dtype) if weighted else None
    if probabilities:
        target = rng.uniform(0, 1, logits.shape).astype(dtype)
        ignore_index = -100
    else:
        target = rng.integers(0, c, (n, *extra))
        ignore_index = int(target.reshape(-1)[0]) if c > 1 else -100   # some samples ignored, not all
        target.reshape(-1)[-1] = (ignore_index + 1) % c
    args = (logits, target, weight, ignore_index, reduction, smoothing)
    loss, cache = K.cross_entropy_forward(*args)
    naive_loss, naive_cache = K.cross_entropy_forward_naive(*args)
    tol = TOL[np.dtype(dtype)] * 10
    np.testing.assert_allclose(loss, naive_loss, rtol=tol, atol=tol)
    dloss = randn(rng, np.shape(loss), dtype) if reduction == "none" else np.asarray(1.5, dtype)
    dz, dt = K.cross_entropy_backward(dloss, cache, need_target_grad=True)
    ndz, ndt = K.cross_entropy_backward_naive(dloss, naive_cache, need_target_grad=True)
    assert_close(dz, ndz, dtype)
    assert (dt is None) == (not probabilities)
    if probabilities:
        assert_close(dt, ndt, dtype)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("impl", ["fast", "naive"])
def test_cross_entropy_probability_target_gradient_is_the_finite_difference(impl, reduction, smoothing):
    """With class-probability targets the loss is linear in the target, so float64 central differences of
    ``sum(loss * g)`` are exact up to round-off: the target's gradient must be them.  (The torch agreement
    tests compare the logits' gradient only, and fast-vs-naive passes a mistake the two twins share.)"""
    forward = K.cross_entropy_forward_naive if impl == "naive" else K.cross_entropy_forward
    rng = np.random.default_rng(0)
    z, t, w = rng.standard_normal((3, 4, 2)), rng.uniform(0, 1, (3, 4, 2)), rng.uniform(0.5, 2, 4)
    loss, cache = forward(z, t, w, -100, reduction, smoothing)
    g = rng.standard_normal(np.shape(loss)) if reduction == "none" else np.asarray(1.3)
    _, dt = K.cross_entropy_backward(g, cache, need_target_grad=True)

    def f(target):
        return float(np.sum(np.asarray(forward(z, target, w, -100, reduction, smoothing)[0]) * g))
    h, numeric = 1e-6, np.empty_like(t)
    for i in np.ndindex(t.shape):
        plus, minus = t.copy(), t.copy()
        plus[i] += h
        minus[i] -= h
        numeric[i] = (f(plus) - f(minus)) / (2 * h)
    assert dt.shape == t.shape and np.abs(numeric).max() > 0.1
    np.testing.assert_allclose(dt, numeric, rtol=1e-7, atol=1e-9)


def test_cross_entropy_plain_case_is_the_fused_kernel():
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    loss, cache = K.cross_entropy_forward(logits, labels)
    expected, dlogits = K.softmax_cross_entropy(logits, labels)
    assert loss == expected
    np.testing.assert_array_equal(K.cross_entropy_backward(np.asarray(1.0), cache)[0], dlogits)


GENERAL_BAD_INPUT = [
    (K.conv2d_forward, lambda: (f64, np.ones((4, 2, 3, 3)), None, 1, 0, 1, 2), ValueError,
     r"conv2d: expected input with 4 channels \(weight \(4, 2, 3, 3\), groups=2\), got input of shape"),
    (K.conv2d_forward, lambda: (f64, np.ones((3, 1, 3, 3)), None, 1, 0, 1, 2), ValueError,
     r"conv2d: expected out_channels 3 .* divisible by groups=2"),
    (K.conv2d_forward, lambda: (f64, w3, None, 1, 0, 1, 0), ValueError, r"conv2d groups: expected an int >= 1, got 0"),
    (K.conv2d_forward, lambda: (f64, w3, None, 1, 0, 3), ValueError,
     r"conv2d height: input size 5 with padding \(0, 0\) is smaller than the dilated kernel's span 7"),
    (K.conv2d_forward, lambda: (f64, w3, None, 2, "same"), ValueError, r"padding='same' is not supported for strided"),
    (K.conv2d_forward, lambda: (f64, w3, None, 1, 5, 1, 1, "reflect"), ValueError,
     r"padding_mode='reflect' needs padding < the input height 5"),
    (K.conv2d_forward, lambda: (f64, w3, None, 1, 6, 1, 1, "circular"), ValueError,
     r"padding_mode='circular' needs padding <= the input height 5"),
    (K.conv2d_forward, lambda: (f64, w3, None, 1, 1, 1, 1, "mirror"), ValueError, r"expected padding_mode in"),
    (K.max_pool2d_forward, lambda: (np.ones((1, 1, 1, 1)), 2, 2, 1, 2), ValueError,
     r"window 0 \(dilation 2\) has every tap in the padding"),
    (K.max_pool2d_forward, lambda: (f64, 3, 1, 0, 3), ValueError,
     r"max_pool2d height: input size 5 with padding 0 is smaller than the dilated kernel span 7"),
    (K.max_unpool2d_forward, lambda: (f64, np.full(f64.shape, 100), 2), ValueError,
     r"max_unpool2d: expected indices in \[0, 100\)"),
    (K.max_unpool2d_forward, lambda: (f64, np.zeros((2, 3, 5, 4), np.int64), 2), ValueError,
     r"max_unpool2d: expected indices of the input's shape"),
    (K.max_unpool2d_forward, lambda: (f64, np.zeros(f64.shape), 2), TypeError,
     r"max_unpool2d indices: expected an integer ndarray, got float64"),
]


@pytest.mark.parametrize("kernel, make_args, error, match", GENERAL_BAD_INPUT)
def test_general_paths_reject_bad_input_before_numba_runs(kernel, make_args, error, match, numba_tripwire):
    args = make_args()
    with pytest.raises(error, match=match), numba_tripwire:
        kernel(*args)
    assert numba_tripwire.calls == []


def same_both_ways(name, args, dtype, rng, grads_of=lambda g: g if isinstance(g, tuple) else (g,), floors=(),
                   **kwargs):
    """Run kernel ``name``'s fast and naive pairs on ``args``; forward and every gradient must agree
    (gradient k measured against ``floors[k]`` where the exact value may cancel to 0)."""
    fast_f, fast_b = getattr(K, f"{name}_forward"), getattr(K, f"{name}_backward")
    naive_f, naive_b = getattr(K, f"{name}_forward_naive"), getattr(K, f"{name}_backward_naive")
    out, cache = fast_f(*args, **kwargs)
    n_out, n_cache = naive_f(*args, **kwargs)
    assert_close(np.asarray(out), np.asarray(n_out), dtype, f"{name} forward")
    dout = randn(rng, np.shape(out), dtype)
    fast, naive = grads_of(fast_b(dout, cache)), grads_of(naive_b(dout, n_cache))
    for k, (a, e) in enumerate(zip(fast, naive)):
        if e is None:
            assert a is None, f"{name} gradient {k}"
        else:
            assert_close(a, e, dtype, f"{name} gradient {k}", dict(floors).get(k, 0.0))
    return out, fast


# --------------------------------------------------------------------------- naive vs fast
@given(st.integers(1, 4), st.integers(1, 5), st.lists(st.integers(1, 6), max_size=2), st.booleans(), st.booleans(),
       dtypes, seeds)
def test_batch_norm_equals_naive(n, c, rest, affine, training, dtype, seed):
    shape = (n, c, *rest)
    assume(not training or np.prod(shape) // c > 1)
    rng = np.random.default_rng(seed)
    x = randn(rng, shape, dtype, 3) + dtype(2)
    w, b = (randn(rng, c, dtype), randn(rng, c, dtype)) if affine else (None, None)
    rm, rv = randn(rng, c, dtype), rng.uniform(0.5, 2, c).astype(dtype)
    # dx cancels (to exactly 0 for two values per channel): measured on its scale |weight| * invstd * |dout|
    var = x.astype(np.float64).var(axis=tuple(i for i in range(x.ndim) if i != 1)) if training else rv
    gain = np.max(np.abs(w if affine else 1) / np.sqrt(var + 1e-5)) * 4  # |dout| ~ N(0, 1), below 4
    same_both_ways("batch_norm", (x, w, b, rm, rv, training), dtype, rng, floors={0: gain})
    _, cache = K.batch_norm_forward(x, w, b, rm, rv, training)
    _, n_cache = K.batch_norm_forward_naive(x, w, b, rm, rv, training)
    if training:  # the batch statistics the running estimates are updated from
        np.testing.assert_allclose(cache.mean, n_cache.mean, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(cache.var, n_cache.var, rtol=1e-10)
    dout = randn(rng, x.shape, dtype)
    for backward, c_ in ((K.batch_norm_backward, cache), (K.batch_norm_backward_naive, n_cache)):
        _, dw, db = backward(dout, c_)
        no_dx, dw2, db2 = backward(dout, c_, need_input_grad=False)   # a network's first layer
        assert no_dx is None and (dw2 is None) == (not affine) and (db2 is None) == (not affine)
        if affine:  # the same parameter gradients as with dx
            assert_close(dw2, dw, dtype, "dweight without dx")
            assert_close(db2, db, dtype, "dbias without dx")


@given(st.integers(1, 3), st.integers(1, 8), st.integers(1, 5), st.integers(1, 6),
       st.sampled_from([1e-4, 0.5]), st.sampled_from([0.75, 2.0]), dtypes, seeds)
def test_local_response_norm_equals_naive(n, c, length, size, alpha, beta, dtype, seed):
    rng = np.random.default_rng(seed)
    same_both_ways("local_response_norm", (randn(rng, (n, c, length, 2), dtype, 2), size, alpha, beta, 1.5), dtype, rng)


@given(st.integers(1, 4), st.integers(1, 5), st.lists(st.integers(1, 6), max_size=2), st.booleans(), dtypes, seeds)
def test_batch_norm_relu_equals_naive_and_the_two_kernels(n, c, rest, training, dtype, seed):
    """The fused kernel against its naive twin (batch norm's, then ReLU's), and bit for bit against the fast
    batch norm and ReLU kernels one after the other."""
    shape = (n, c, *rest)
    assume(not training or np.prod(shape) // c > 1)
    rng = np.random.default_rng(seed)
    x = randn(rng, shape, dtype, 3) + dtype(0.5)
    w, b = randn(rng, c, dtype), randn(rng, c, dtype)
    rm, rv = randn(rng, c, dtype), rng.uniform(0.5, 2, c).astype(dtype)
    var = x.astype(np.float64).var(axis=tuple(i for i in range(x.ndim) if i != 1)) if training else rv
    gain = np.max(np.abs(w) / np.sqrt(var + 1e-5)) * 4
    same_both_ways("batch_norm_relu", (x, w, b, rm, rv, training), dtype, rng, floors={0: gain})
    fused, cache = K.batch_norm_relu_forward(x, w, b, rm, rv, training)
    bn, bn_cache = K.batch_norm_forward(x, w, b, rm, rv, training)
    relu, relu_cache = K.relu_forward(bn)
    bits = lambda a: np.ascontiguousarray(a).view(np.uint8)  # noqa: E731  (tells -0.0 from +0.0, unlike ==)
    np.testing.assert_array_equal(bits(fused), bits(relu))
    dout = randn(rng, x.shape, dtype)
    for a, e in zip(K.batch_norm_relu_backward(dout, cache),
                    K.batch_norm_backward(K.relu_backward(dout, relu_cache), bn_cache)):
        np.testing.assert_array_equal(bits(a), bits(e))


@st.composite
def avgpool_geometry(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h, w = draw(st.integers(max(1, kh - 2 * ph), 10)), draw(st.integers(max(1, kw - 2 * pw), 10))
    stride = draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    options = (draw(st.booleans()), draw(st.booleans()), draw(st.none() | st.integers(1, 5)))
    return (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w), ((kh, kw), stride, (ph, pw)) + options


@given(avgpool_geometry(), st.booleans(), dtypes, seeds)
def test_avg_pool2d_equals_naive(geom, batched, dtype, seed):
    shape, args = geom
    rng = np.random.default_rng(seed)
    x = randn(rng, shape if batched else shape[1:], dtype)
    same_both_ways("avg_pool2d", (x, *args), dtype, rng)


@pytest.mark.parametrize("args, uniform", [
    ((2,), (2, 2, 2, 2, 4.0)),                       # LeNet-5's pools
    (((3, 2), (1, 2)), (3, 2, 1, 2, 6.0)),           # overlapping rows
    ((2, 2, 1), None),                               # padding: edge windows are clipped
    ((3, 3, 0, True), None),                         # ceil_mode: the last window is cut short
])
def test_uniform_windows_take_the_row_kernels_with_the_same_results(args, uniform):
    """Windows of one size, stride and divisor run the row-at-a-time kernels; the forward gives the general
    kernel's numbers exactly (the same float64 sums in the same order), the backward up to the order in
    which overlapping windows' shares reach a cell."""
    from minicnn.kernels import avgpool
    rng = np.random.default_rng(0)
    x = randn(rng, (3, 2, 8, 9), np.float32)
    windows = avgpool.avg_pool2d_windows(x.shape, *args)
    assert avgpool._uniform(windows) == uniform
    out, cache = K.avg_pool2d_forward(x, *args)
    (h0, h1), (w0, w1), divisor = windows
    general = np.empty_like(out)
    avgpool._window_mean_kernel(x, h0, h1, w0, w1, divisor, general)
    np.testing.assert_array_equal(out, general)
    dout = randn(rng, out.shape, np.float32)
    general_dx = np.zeros_like(x)
    avgpool._window_spread_kernel(dout, h0, h1, w0, w1, divisor, general_dx)
    np.testing.assert_allclose(K.avg_pool2d_backward(dout, cache), general_dx, rtol=1e-6, atol=1e-7)
    assert avgpool._uniform(avgpool.adaptive_windows((1, 1, 7, 7), 1)) == (7, 7, 1, 1, 49.0)  # global pool


@given(st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 10), st.integers(1, 10)),
       st.tuples(st.none() | st.integers(1, 8), st.integers(1, 8)), dtypes, seeds)
def test_adaptive_avg_pool2d_equals_naive(shape, out, dtype, seed):
    rng = np.random.default_rng(seed)
    same_both_ways("adaptive_avg_pool2d", (randn(rng, shape, dtype), out), dtype, rng)


@given(st.tuples(st.integers(0, 3), st.integers(1, 3), st.integers(1, 10), st.integers(1, 10)), st.booleans(),
       st.tuples(st.none() | st.integers(1, 8), st.integers(1, 12)) | st.integers(1, 8), dtypes, seeds)
def test_adaptive_max_pool2d_equals_naive(shape, batched, out, dtype, seed):
    """Windows that overlap (more cells than pixels included), ties in every window of 2+ pixels (values from
    a few levels), batched and unbatched, an empty batch; the indices equal too."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape if batched else shape[1:]).astype(dtype)
    out_fast, _ = same_both_ways("adaptive_max_pool2d", (x, out), dtype, rng)
    _, cache = K.adaptive_max_pool2d_forward(x, out)
    _, n_cache = K.adaptive_max_pool2d_forward_naive(x, out)
    np.testing.assert_array_equal(cache[1], n_cache[1])
    assert cache[1].dtype == n_cache[1].dtype == np.int64 and cache[1].shape == out_fast.shape


# (op, its arguments after the input, the input values where its slope changes: planted in every draw)
ELEMENTWISE = [("sigmoid", (), ()), ("tanh", (), ()), ("leaky_relu", (0.2,), ()),
               ("hardtanh", (-0.5, 0.8), (-0.5, 0.8)), ("hardtanh", (0.0, 6.0), (6.0,)),
               ("hardsigmoid", (), (-3.0, 3.0)), ("hardswish", (), (-3.0, 3.0)), ("silu", (), ()),
               ("gelu", ("none",), ()), ("gelu", ("tanh",), ()), ("elu", (1.0,), ()), ("elu", (0.3,), ()),
               ("elu", (-1.5,), ()), ("softplus", (1.0, 20.0), (20.0,)), ("softplus", (2.0, 3.0), (1.5,)),
               ("softplus", (-1.0, 0.5), (-0.5,))]


@pytest.mark.parametrize("name, extra, kinks", ELEMENTWISE)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.sampled_from([1.0, 30.0]), dtypes, seeds)
def test_elementwise_equals_naive(name, extra, kinks, shape, scale, dtype, seed):
    rng = np.random.default_rng(seed)
    x = randn(rng, shape, dtype, scale)
    period = len(kinks) + 2  # in every period: a 0, each kink, and one drawn value
    x.reshape(-1)[::period] = 0
    for k, kink in enumerate(kinks):
        x.reshape(-1)[1 + k::period] = kink
    same_both_ways(name, (x, *extra), dtype, rng)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.integers(1, 4),
       st.sampled_from(["both", "weight", "bias", "none"]), dtypes, seeds)
def test_layer_norm_equals_naive(shape, k, affine, dtype, seed):
    rng = np.random.default_rng(seed)
    normalized = tuple(shape[len(shape) - min(k, len(shape)):])
    x = randn(rng, shape, dtype, 3) + 0.5
    weight = randn(rng, normalized, dtype) if affine in ("both", "weight") else None
    bias = randn(rng, normalized, dtype) if affine in ("both", "bias") else None
    # dx cancels to 0 where a row has one value: its terms are invstd * w * g there, and invstd = 1/sqrt(eps)
    # (var 0), so its round-off is that size's; dweight and dbias sum over the rows, which may cancel
    rows = float(np.sqrt(x.size / np.prod(normalized)))
    one_value = np.prod(normalized) == 1
    terms = 4 * (1 if weight is None else max(float(np.abs(weight).max()), 1.0)) / np.sqrt(1e-5)
    same_both_ways("layer_norm", (x, normalized, weight, bias, 1e-5), dtype, rng,
                   floors={0: terms if one_value else 1.0, 1: 3 * rows, 2: 3 * rows})


@pytest.mark.parametrize("impl", ["fast", "naive"])
def test_layer_norm_known_values(impl):
    forward, backward = K.REGISTRY["layer_norm"][:2] if impl == "fast" else K.REGISTRY["layer_norm"][2:]
    x = np.array([[1.0, 2.0, 3.0], [2.0, 2.0, 2.0]])
    w, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.0, -0.5])
    out, cache = forward(x, 3, w, b, 1e-12)
    s = np.sqrt(1.5)   # row 0: mean 2, biased var 2/3, xhat = (-1, 0, 1) * sqrt(3/2); row 1: constant, xhat 0
    np.testing.assert_allclose(out, [[0.5 - s, 0.0, -0.5 + 3 * s], [0.5, 0.0, -0.5]], rtol=1e-9)
    dout = np.array([[1.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    dx, dw, db = backward(dout, cache)
    np.testing.assert_allclose(db, [2.0, 2.0, 3.0])                         # the column sums of dout
    np.testing.assert_allclose(dw, [-s, 0.0, 0.0], atol=1e-12)              # sum of dout * xhat
    # row 0: g = dout * w = (1, 0, 0); dx = invstd * (g - mean(g) - xhat * mean(g * xhat))
    g, xhat = np.array([1.0, 0.0, 0.0]), np.array([-s, 0.0, s])
    np.testing.assert_allclose(dx[0], s * (g - g.mean() - xhat * (g * xhat).mean()), rtol=1e-9)
    np.testing.assert_allclose(dx.sum(axis=1), 0.0, atol=1e-6)              # a shift of a row changes nothing


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_of_long_rows_equals_naive(dtype):
    """Rows of 4096 (a transformer's width): the fast pair's float64 sums over a long row, split between threads
    by rows, against the row-by-row definition."""
    rng = np.random.default_rng(7)
    x = randn(rng, (6, 4096), dtype, 3) + dtype(0.5)
    same_both_ways("layer_norm", (x, 4096, randn(rng, 4096, dtype), randn(rng, 4096, dtype), 1e-5), dtype, rng,
                   floors={0: 1.0, 1: 3 * np.sqrt(6), 2: 3 * np.sqrt(6)})


@pytest.mark.parametrize("impl", ["", "_naive"])
def test_layer_norm_of_empty_inputs_and_any_eps_as_torch(impl):
    """An empty batch, rows of no values (torch: empty outputs, zero parameter gradients), and a constant row
    with eps 0 or negative (torch: NaN, no error), both ways alike."""
    forward, backward = getattr(K, f"layer_norm_forward{impl}"), getattr(K, f"layer_norm_backward{impl}")
    for x, normalized in ((np.ones((0, 7)), 7), (np.ones((0, 3, 4)), (3, 4)), (np.ones((2, 0, 3)), (0, 3))):
        with np.errstate(all="ignore"):   # (the naive twin's 0/0 of a row of no values)
            out, cache = forward(x, normalized, np.ones(normalized), np.ones(normalized))
            dx, dw, db = backward(np.ones_like(x), cache)
        assert out.shape == dx.shape == x.shape and dw.shape == db.shape == x.shape[1:]
        assert not dw.any() and not db.any()
    for eps in (0.0, -1.0):
        with np.errstate(all="ignore"):
            out, cache = forward(np.ones((2, 4, 3)), 3, None, None, eps)
            dx = backward(np.ones((2, 4, 3)), cache)[0]
        assert np.isnan(out).all() and np.isnan(dx).all()


def _group_norm_floors(x, groups, weight):
    """Floors for the gradients of group norm (instance norm: one channel per group): dx cancels (to exactly 0
    for a group of one value), so it is measured on its scale |weight| * invstd * |dout| (|dout| < 4); the
    parameter gradients sum over the samples and positions, which may cancel: on the scale of those sums."""
    n, c = x.shape[:2]
    var = x.astype(np.float64).reshape(n, groups, -1).var(axis=2) if x.size else np.ones(1)
    gain = float(np.max(np.abs(1 if weight is None else weight)) / np.sqrt(var.min() + 1e-5)) * 4
    rows = float(np.sqrt(max(x.size // max(c, 1), 1)))
    return {0: gain, 1: 3 * rows, 2: 3 * rows}


@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.lists(st.integers(1, 4), max_size=3),
       st.sampled_from(["both", "weight", "bias", "none"]), dtypes, seeds)
def test_group_norm_equals_naive(n, groups, per, rest, affine, dtype, seed):
    rng = np.random.default_rng(seed)
    c = groups * per
    x = randn(rng, (n, c, *rest), dtype, 3) + dtype(0.5)
    weight = randn(rng, c, dtype) if affine in ("both", "weight") else None
    bias = randn(rng, c, dtype) if affine in ("both", "bias") else None
    same_both_ways("group_norm", (x, groups, weight, bias, 1e-5), dtype, rng,
                   floors=_group_norm_floors(x, groups, weight))
    _, cache = K.group_norm_forward(x, groups, weight, bias)
    _, n_cache = K.group_norm_forward_naive(x, groups, weight, bias)
    np.testing.assert_allclose(cache.mean, n_cache.mean, rtol=1e-12, atol=1e-12)   # float64 both ways
    np.testing.assert_allclose(cache.var, n_cache.var, rtol=1e-10, atol=1e-300)


@given(st.integers(1, 4), st.integers(1, 4), st.lists(st.integers(1, 4), min_size=1, max_size=2),
       st.sampled_from(["both", "weight", "none"]), st.booleans(), dtypes, seeds)
def test_instance_norm_equals_naive(n, c, rest, affine, use_input_stats, dtype, seed):
    rng = np.random.default_rng(seed)
    x = randn(rng, (n, c, *rest), dtype, 3) + dtype(0.5)
    weight = randn(rng, c, dtype) if affine != "none" else None
    bias = randn(rng, c, dtype) if affine == "both" else None
    rm, rv = randn(rng, c, dtype), rng.uniform(0.5, 2, c).astype(dtype)
    floors = _group_norm_floors(x, c, weight) if use_input_stats else {}
    same_both_ways("instance_norm", (x, weight, bias, rm, rv, use_input_stats, 1e-5), dtype, rng, floors=floors)


@pytest.mark.parametrize("impl", ["fast", "naive"])
def test_group_norm_known_values(impl):
    """Channels (0, 1) and (2, 3) are the two groups (consecutive channels, not every other one)."""
    forward, backward = K.REGISTRY["group_norm"][:2] if impl == "fast" else K.REGISTRY["group_norm"][2:]
    x = np.array([[[1.0, 3.0], [5.0, 7.0], [2.0, 2.0], [2.0, 2.0]]])    # (N, C, L) = (1, 4, 2)
    w, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.5, 0.0, -0.5, 1.0])
    out, cache = forward(x, 2, w, b, 1e-12)
    # group 0: 1, 3, 5, 7: mean 4, biased var 5, xhat (-3, -1, 1, 3) / sqrt(5); group 1 constant: xhat 0
    xhat = np.array([-3.0, -1.0, 1.0, 3.0]) / np.sqrt(5)
    np.testing.assert_allclose(out[0, :2].ravel(), [0.5 + xhat[0], 0.5 + xhat[1], 2 * xhat[2], 2 * xhat[3]],
                               rtol=1e-9)
    np.testing.assert_allclose(out[0, 2:], [[-0.5, -0.5], [1.0, 1.0]])
    np.testing.assert_allclose(cache.mean, [[4.0, 2.0]])
    np.testing.assert_allclose(cache.var, [[5.0, 0.0]])
    dout = np.array([[[1.0, 0.0], [0.0, 0.0], [1.0, 2.0], [3.0, 4.0]]])
    dx, dw, db = backward(dout, cache)
    np.testing.assert_allclose(db, [1.0, 0.0, 3.0, 7.0])                     # each channel's sum of dout
    np.testing.assert_allclose(dw, [xhat[0], 0.0, 0.0, 0.0], atol=1e-12)     # each channel's sum of dout * xhat
    # group 0: g = dout * w = (1, 0, 0, 0); dx = invstd * (g - mean(g) - xhat * mean(g * xhat))
    g = np.array([1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(dx[0, :2].ravel(), (g - g.mean() - xhat * (g * xhat).mean()) / np.sqrt(5), rtol=1e-9)
    np.testing.assert_allclose(dx[0].reshape(2, 4).sum(axis=1), 0.0, atol=1e-6)   # a shift of a group: nothing


@pytest.mark.parametrize("impl", ["fast", "naive"])
def test_instance_norm_known_values(impl):
    """Each channel of each sample on its own; in evaluation the running statistics, and no statistics terms."""
    forward, backward = K.REGISTRY["instance_norm"][:2] if impl == "fast" else K.REGISTRY["instance_norm"][2:]
    x = np.array([[[1.0, 3.0], [2.0, 6.0]], [[0.0, 4.0], [5.0, 5.0]]])   # (N, C, L) = (2, 2, 2)
    w, b = np.array([2.0, -1.0]), np.array([0.0, 1.0])
    out, cache = forward(x, w, b, None, None, True, 1e-12)
    # every instance of two values normalises to -1, +1 (a constant one to 0)
    np.testing.assert_allclose(out, [[[-2.0, 2.0], [2.0, 0.0]], [[-2.0, 2.0], [1.0, 1.0]]], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cache.mean, [[2.0, 4.0], [2.0, 5.0]])
    np.testing.assert_allclose(cache.var, [[1.0, 4.0], [4.0, 0.0]])   # biased; the running update unbiases
    rm, rv = np.array([1.0, -1.0]), np.array([4.0, 0.25])
    out, cache = forward(x, w, b, rm, rv, False, 1e-12)
    np.testing.assert_allclose(out, [[[0.0, 2.0], [-5.0, -13.0]], [[-1.0, 3.0], [-11.0, -11.0]]], rtol=1e-9)
    dout = np.array([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]])
    dx, dw, db = backward(dout, cache)
    np.testing.assert_allclose(dx, dout * (w / np.sqrt(rv + 1e-12))[None, :, None], rtol=1e-12)   # given stats
    np.testing.assert_allclose(db, [14.0, 22.0])
    xhat = (x - rm[None, :, None]) / np.sqrt(rv + 1e-12)[None, :, None]
    np.testing.assert_allclose(dw, (dout * xhat).sum(axis=(0, 2)), rtol=1e-12)


@given(st.integers(1, 3), st.integers(1, 4), st.lists(st.integers(1, 4), min_size=1, max_size=2), st.booleans(),
       dtypes, seeds)
def test_instance_norm_is_group_norm_with_one_channel_per_group(n, c, rest, affine, dtype, seed):
    """With the instances' own statistics, bit for bit group norm's kernels at G = C; with the running ones,
    bit for bit batch norm's evaluation (the same map, xhat = (x - running_mean_c) * invstd_c), its parameter
    gradients to round-off (summed in another order)."""
    rng = np.random.default_rng(seed)
    x = randn(rng, (n, c, *rest), dtype, 3)
    w, b = (randn(rng, c, dtype), randn(rng, c, dtype)) if affine else (None, None)
    rm, rv = randn(rng, c, dtype), rng.uniform(0.5, 2, c).astype(dtype)
    dout = randn(rng, x.shape, dtype)
    for impl in ("", "_naive"):
        out, cache = getattr(K, f"instance_norm_forward{impl}")(x, w, b, rm, rv, True)
        ref, ref_cache = getattr(K, f"group_norm_forward{impl}")(x, c, w, b)
        np.testing.assert_array_equal(out, ref)
        for got, want in zip(getattr(K, f"instance_norm_backward{impl}")(dout, cache),
                             getattr(K, f"group_norm_backward{impl}")(dout, ref_cache)):
            np.testing.assert_array_equal(got, want)
    out, cache = K.instance_norm_forward(x, w, b, rm, rv, False)
    ref, ref_cache = K.batch_norm_forward(x, w, b, rm, rv, False)
    np.testing.assert_array_equal(out, ref)
    grads, ref_grads = K.instance_norm_backward(dout, cache), K.batch_norm_backward(dout, ref_cache)
    np.testing.assert_array_equal(grads[0], ref_grads[0])
    for got, want in zip(grads[1:], ref_grads[1:]):
        assert (got is None) == (want is None)
        if got is not None:
            assert_close(got, want, dtype, "a parameter gradient", float(np.sqrt(x.size / c)))


@pytest.mark.parametrize("name, args", [
    ("group_norm", lambda x: (x, 2, None, None, 0.0)),            # eps 0: invstd inf, as torch (NaN out)
    ("group_norm", lambda x: (x, 1, None, None, -1.0)),           # var + eps < 0: NaN, no error
    ("instance_norm", lambda x: (x, None, None, None, None, True, 0.0)),
])
@pytest.mark.parametrize("impl", ["", "_naive"])
def test_group_and_instance_norm_take_any_eps_as_torch(name, args, impl):
    """A constant group with eps 0 divides by 0, a negative eps takes a root of a negative number: NaN, as
    torch gives, and no ZeroDivisionError from inside numba (both ways alike)."""
    x = np.ones((2, 4, 3))
    with np.errstate(all="ignore"):
        out, cache = getattr(K, f"{name}_forward{impl}")(*args(x))
        grads = getattr(K, f"{name}_backward{impl}")(np.ones_like(x), cache)
    assert np.isnan(out).all() and np.isnan(grads[0]).all()


@pytest.mark.parametrize("impl", ["", "_naive"])
def test_group_and_instance_norm_of_empty_inputs(impl):
    """An empty batch or empty instances (what torch computes: empty outputs, zero parameter gradients)."""
    for name, x, args in (("group_norm", np.ones((0, 4, 3)), (2, np.ones(4), np.ones(4))),
                          ("instance_norm", np.ones((0, 3, 4)), (np.ones(3), np.ones(3), None, None, True)),
                          ("instance_norm", np.ones((2, 3, 0)), (np.ones(3), np.ones(3), None, None, True)),
                          ("instance_norm", np.ones((2, 0, 4)), (None, None, np.ones(0), np.ones(0), False))):
        with np.errstate(all="ignore"):
            out, cache = getattr(K, f"{name}_forward{impl}")(x, *args)
            dx, dw, db = getattr(K, f"{name}_backward{impl}")(np.ones_like(x), cache)
        assert out.shape == dx.shape == x.shape
        assert dw is None or (dw.shape == (x.shape[1],) and not dw.any())


@given(st.lists(st.integers(1, 4), max_size=4), st.sampled_from(["channels", "one", "scalar"]), dtypes, seeds)
def test_prelu_equals_naive(shape, slopes, dtype, seed):
    rng = np.random.default_rng(seed)
    x = randn(rng, shape, dtype, 3)
    x.reshape(-1)[::3] = 0  # the kink: the slope there, as torch
    channels = shape[1] if len(shape) >= 2 and slopes == "channels" else 1
    weight = rng.uniform(-1, 1, () if slopes == "scalar" else (channels,)).astype(dtype)
    # dweight sums x * dout over up to 4**3 entries, which may cancel: measured on the scale of the terms
    scale = float(np.sqrt(x.size)) * 3 * 4
    same_both_ways("prelu", (x, weight), dtype, rng, floors={1: scale})


@pytest.mark.parametrize("impl", ["fast", "naive"])
def test_prelu_known_values(impl):
    forward, backward = K.REGISTRY["prelu"][:2] if impl == "fast" else K.REGISTRY["prelu"][2:]
    x = np.array([[[-2.0, 0.0, 3.0]], [[1.0, -1.0, -4.0]]]).transpose(0, 2, 1)  # (2, 3, 1): channels -2/1, 0/-1, 3/-4
    w = np.array([0.5, -1.0, 0.25])
    out, cache = forward(x, w)
    np.testing.assert_array_equal(out[..., 0], [[-1.0, 0.0, 3.0], [1.0, 1.0, -1.0]])
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])[..., None]
    dx, dw = backward(dout, cache)
    np.testing.assert_array_equal(dx[..., 0], [[0.5, -2.0, 3.0], [4.0, -5.0, 1.5]])  # the slope at x == 0
    np.testing.assert_array_equal(dw, [-2.0 * 1.0, 0.0 * 2.0 + -1.0 * 5.0, -4.0 * 6.0])  # x * dout where x <= 0
    out, cache = forward(x, np.array([2.0]))  # one slope for every channel: one gradient, the sum of all
    np.testing.assert_array_equal(backward(dout, cache)[1], [-2.0 - 5.0 - 24.0])


def test_hardtanh_known_values_at_and_beyond_the_bounds():
    x = np.array([-2.0, -0.5, -0.25, 0.0, 0.8, 1.0, np.nan])
    for impl in ("fast", "naive"):
        forward, backward = K.REGISTRY["hardtanh"][:2] if impl == "fast" else K.REGISTRY["hardtanh"][2:]
        out, cache = forward(x, -0.5, 0.8)
        np.testing.assert_array_equal(out, [-0.5, -0.5, -0.25, 0.0, 0.8, 0.8, np.nan])
        # 0 at and beyond the bounds, the gradient itself inside (and at NaN, as torch)
        np.testing.assert_array_equal(backward(np.arange(1.0, 8.0), cache), [0, 0, 3, 4, 0, 0, 7])


_E, _S, _SIXTH = math.e, 1 / (1 + math.exp(-math.log(3))), K.activation.TORCH_ONE_SIXTH  # sigmoid(log 3) = 3/4
_PHI1, _pdf1 = (1 + math.erf(1 / math.sqrt(2))) / 2, math.exp(-0.5) / math.sqrt(2 * math.pi)  # Phi(1), phi(1)
# (op, arguments, x, the output, the gradient for dout = 1, 2, 3, ...): each op's kinks and one value between
KNOWN_VALUES = [
    ("hardsigmoid", (), [-4, -3, -1.5, 0, 1.5, 3, 4], [0, 0, 0.25, 0.5, 0.75, 1, 1],
     [0, 0, 3 * _SIXTH, 4 * _SIXTH, 5 * _SIXTH, 0, 0]),  # torch's 1/6 (kernels/activation.py)
    # torch's choices at the kinks: slope 0 at -3 (not -1/2) and 1 at 3 (not 3/2)
    ("hardswish", (), [-4, -3, -2.25, 0, 1.5, 3, 4], [0, 0, -0.28125, 0, 1.125, 3, 4], [0, 0, -0.75, 2, 5, 6, 7]),
    ("silu", (), [0, math.log(3)], [0, 0.75 * math.log(3)], [0.5, 2 * _S * (1 + math.log(3) * (1 - _S))]),
    ("gelu", ("none",), [0, 1], [0, _PHI1], [0.5, 2 * (_PHI1 + _pdf1)]),
    ("gelu", ("tanh",), [0], [0], [0.5]),
    ("elu", (0.5,), [-1, 0, 2], [0.5 * (1 / _E - 1), 0, 2], [0.5 / _E, 2 * 0.5, 3]),  # slope alpha at 0 (torch)
    ("elu", (-2.0,), [-1, 0, 1], [-2 * (1 / _E - 1), 0, 1], [-2 / _E, 2 * -2, 3]),  # out > 0 on both sides
    ("softplus", (), [0], [math.log(2)], [0.5]),
    ("softplus", (2.0, 3.0), [-1, 1.5, 2], [math.log1p(_E ** -2) / 2, math.log1p(_E ** 3) / 2, 2],
     [1 / (1 + _E ** 2), 2 / (1 + _E ** -3), 3]),  # beta*x = 3 is not above the threshold: still smooth
]


@pytest.mark.parametrize("name, extra, x, out, dx", KNOWN_VALUES)
def test_activation_known_values_at_their_kinks(name, extra, x, out, dx):
    x = np.array(x, dtype=np.float64)
    for forward, backward in (K.REGISTRY[name][:2], K.REGISTRY[name][2:]):
        got, cache = forward(x, *extra)
        np.testing.assert_allclose(got, out, rtol=1e-14, atol=1e-15, err_msg=f"{forward.__name__}")
        np.testing.assert_allclose(backward(np.arange(1.0, x.size + 1), cache), dx, rtol=1e-14, atol=1e-15,
                                   err_msg=f"{backward.__name__}")


@pytest.mark.parametrize("name, extra", [("hardsigmoid", ()), ("hardswish", ()), ("silu", ()), ("gelu", ("tanh",)),
                                         ("elu", (0.5,)), ("softplus", (2.0, 3.0))])
def test_activation_kernels_take_strided_and_read_only_input(name, extra):
    """The flat loops read a contiguous copy of a view: the same numbers as from the array itself."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal((4, 6, 5)) * 4
    view = base.transpose(2, 1, 0)[..., ::2]   # (5, 6, 2), neither C- nor F-contiguous
    view.flags.writeable = False
    dout = rng.standard_normal((2, 6, 5)).transpose(2, 1, 0)
    out, cache = getattr(K, f"{name}_forward")(view, *extra)
    ref, ref_cache = getattr(K, f"{name}_forward")(view.copy(), *extra)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(getattr(K, f"{name}_backward")(dout, cache),
                                  getattr(K, f"{name}_backward")(dout.copy(), ref_cache))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(st.data(), st.lists(st.integers(1, 5), min_size=1, max_size=3), dtypes, seeds)
def test_softmax_equals_naive(name, data, shape, dtype, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(seed)
    # a saturated row's gradient is tiny next to dout ~ N(0, 1): measured on dout's scale
    same_both_ways(name, (randn(rng, shape, dtype, 5), dim), dtype, rng, floors={0: 1.0})


@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.sampled_from([0.0, 0.3, 1.0]), dtypes, seeds)
def test_dropout_equals_naive(shape, p, dtype, seed):
    rng = np.random.default_rng(seed)
    same_both_ways("dropout", (randn(rng, shape, dtype), p, rng.random(shape) >= p), dtype, rng)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.sampled_from(["mean", "sum", "none"]), dtypes, seeds)
def test_mse_loss_equals_naive(shape, reduction, dtype, seed):
    rng = np.random.default_rng(seed)
    same_both_ways("mse_loss", (randn(rng, shape, dtype), randn(rng, shape, dtype), reduction), dtype, rng)


@given(st.integers(1, 5), st.integers(1, 6), st.sampled_from(["mean", "sum", "none"]), st.booleans(), dtypes, seeds)
def test_nll_loss_equals_naive(n, c, reduction, weighted, dtype, seed):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, c, n)
    target[0] = -100  # one ignored
    w = rng.uniform(0.5, 2, c).astype(dtype) if weighted else None
    assume(reduction != "mean" or n > 1)
    same_both_ways("nll_loss", (randn(rng, (n, c), dtype), target, w, -100, reduction), dtype, rng)


@given(st.integers(1, 4), st.integers(1, 4), st.sampled_from(["mean", "sum", "none"]), st.booleans(), st.booleans(),
       dtypes, seeds)
def test_binary_cross_entropy_with_logits_equals_naive(n, c, reduction, weighted, pos, dtype, seed):
    rng = np.random.default_rng(seed)
    x, t = randn(rng, (n, c), dtype, 5), rng.uniform(0, 1, (n, c)).astype(dtype)
    w = rng.uniform(0.5, 2, (n, 1)).astype(dtype) if weighted else None
    pw = rng.uniform(0.5, 2, c).astype(dtype) if pos else None
    same_both_ways("binary_cross_entropy_with_logits", (x, t, w, pw, reduction), dtype, rng)


@given(st.lists(st.integers(1, 4), max_size=3), st.sampled_from(["mean", "sum", "none"]),
       st.sampled_from(["none", "full", "last axis", "scalar"]), dtypes, seeds)
def test_binary_cross_entropy_equals_naive(shape, reduction, weighted, dtype, seed):
    """Any shape (0-d included), a weight of the input's shape or broadcast to it, hard and soft targets, and
    probabilities where the input gradient's denominator x (1 - x) is clamped at 1e-12: 1e-20 against a
    target of 0, 1 - 1e-13 (float64) against 1, whose gradients stay moderate (exactly 0 and 1, where the
    target's gradient is infinite, are in the known values and the agreement tests)."""
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    x = rng.uniform(0.01, 0.99, shape).astype(dtype)
    t = rng.uniform(0, 1, shape).astype(dtype)
    t.reshape(-1)[1::3], t.reshape(-1)[2::3] = 0, 1
    x.reshape(-1)[1::6], x.reshape(-1)[2::6] = dtype(1e-20), dtype(1 - 1e-13)   # (float32: 1 - 1e-13 is 1 - 2**-24)
    if dtype == np.float32:
        x.reshape(-1)[2::6] = dtype(1) - np.finfo(dtype).epsneg
    w = {"none": None, "full": rng.uniform(0.5, 2, shape), "last axis": rng.uniform(0.5, 2, shape[-1:]),
         "scalar": rng.uniform(0.5, 2, ())}[weighted]
    w = None if w is None else np.asarray(w, dtype=dtype)
    same_both_ways("binary_cross_entropy", (x, t, w, reduction), dtype, rng)


# --------------------------------------------------------------------------- known values
def test_avg_pool2d_known_values_and_divisors():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    out, _ = K.avg_pool2d_forward(x, 2)
    np.testing.assert_array_equal(out[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    # padding 1, kernel 3, stride 3: the corner window holds 4 real cells of 9
    out_in, _ = K.avg_pool2d_forward(x, 3, 3, 1, count_include_pad=True)
    out_ex, _ = K.avg_pool2d_forward(x, 3, 3, 1, count_include_pad=False)
    assert out_in[0, 0, 0, 0] == (0 + 1 + 4 + 5) / 9 and out_ex[0, 0, 0, 0] == (0 + 1 + 4 + 5) / 4
    assert K.avg_pool2d_forward(x, 2, divisor_override=3)[0][0, 0, 0, 0] == 10 / 3
    dx = K.avg_pool2d_backward(np.ones((1, 1, 3, 3)), K.avg_pool2d_forward(x, 2, 1)[1])
    np.testing.assert_array_equal(dx[0, 0], np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]]) / 4)


def test_adaptive_windows_are_torch_s_formula():
    (h0, h1), _, _ = K.avgpool.adaptive_windows((1, 1, 10, 10), (4, 4))
    np.testing.assert_array_equal(h0, [0, 2, 5, 7])   # floor(o * 10 / 4)
    np.testing.assert_array_equal(h1, [3, 5, 8, 10])  # ceil((o + 1) * 10 / 4): windows overlap
    out, _ = K.adaptive_avg_pool2d_forward(np.arange(12.0).reshape(1, 3, 2, 2), 1)
    np.testing.assert_array_equal(out.reshape(-1), [1.5, 5.5, 9.5])  # global average pool


@pytest.mark.parametrize("impl", ["fast", "naive"])
def test_adaptive_max_pool2d_known_values_ties_overlaps_and_nan(impl):
    """torch's windows and winner rule, by hand: on a 3-wide row pooled to 2 the windows [0, 2) and [1, 3)
    share the middle pixel, which collects both gradients when it wins both; a tie goes to the first
    maximum in row-major order; a NaN takes its window and the last NaN wins; indices are flat iy*W + ix."""
    suffix = "_naive" if impl == "naive" else ""   # (by name, as the mutants are swapped in: tests/mutants.py)
    forward, backward = getattr(K, f"adaptive_max_pool2d_forward{suffix}"), getattr(K, f"adaptive_max_pool2d_backward{suffix}")
    x = np.array([[[[1.0, 5.0, 2.0],
                    [0.0, 3.0, 3.0]]]])
    out, (_, argmax, _) = forward(x, (1, 2))
    np.testing.assert_array_equal(out, [[[[5.0, 5.0]]]])
    np.testing.assert_array_equal(argmax, [[[[1, 1]]]])                 # both windows' winner is (0, 1)
    dx = backward(np.array([[[[2.0, 3.0]]]]), forward(x, (1, 2))[1])
    np.testing.assert_array_equal(dx, [[[[0, 5, 0], [0, 0, 0]]]])       # 2 + 3: the overlap adds
    out, cache = forward(x, (2, 1))                                      # rows apart: 5 at (0, 1), the tie 3, 3
    np.testing.assert_array_equal(out[0, 0, :, 0], [5.0, 3.0])
    np.testing.assert_array_equal(cache[1][0, 0, :, 0], [1, 4])         # the first 3 of row 1 (flat 3*1 + 1)
    dx = backward(np.array([[[[2.0], [3.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[0, 2, 0], [0, 3, 0]]]])       # the tie's gradient to its first 3 only
    nan = np.array([[[1.0, np.nan, 3.0, np.nan], [np.nan, 2.0, 5.0, 5.0]]], np.float32)   # unbatched (C, H, W)
    out, (_, argmax, _) = forward(nan, (1, 2))
    assert np.isnan(out).all() and out.shape == (1, 1, 2)
    np.testing.assert_array_equal(argmax, [[[4, 3]]])                   # (1, 0) is the later NaN of the left half
    out, (_, argmax, _) = forward(np.full((1, 2, 3), -np.inf), 2)
    np.testing.assert_array_equal(argmax, [[[0, 1], [3, 4]]])           # all -inf: each window's first pixel
    out, _ = forward(np.arange(6.0).reshape(1, 2, 3), (None, 1))        # None keeps the height
    np.testing.assert_array_equal(out, [[[2.0], [5.0]]])


@pytest.mark.parametrize("impl", ["fast", "naive"])
def test_binary_cross_entropy_known_values_the_clamp_and_torch_s_gradients(impl):
    suffix = "_naive" if impl == "naive" else ""   # (by name, as the mutants are swapped in: tests/mutants.py)
    forward, backward = getattr(K, f"binary_cross_entropy_forward{suffix}"), getattr(K, f"binary_cross_entropy_backward{suffix}")
    x = np.array([0.0, 1.0, 0.5, 0.25, 1.0, 0.0])
    t = np.array([1.0, 0.0, 0.5, 1.0, 1.0, 0.0])
    loss, cache = forward(x, t, None, "none")
    # log 0 = -inf clamped at -100 (a sure miss costs 100, not inf); a sure hit costs 0
    np.testing.assert_allclose(loss, [100.0, 100.0, np.log(2), np.log(4), 0.0, 0.0], rtol=1e-15)
    dx, dt = backward(np.ones(6), cache)
    # dx = (x - t) / max(x (1 - x), 1e-12): at 0 and 1 the denominator is the clamp, float32's 1e-12 as torch's
    eps = float(np.float32(1e-12))
    np.testing.assert_allclose(dx, [-1 / eps, 1 / eps, 0.0, -0.75 / 0.1875, 0.0, 0.0], rtol=1e-15)
    # dt = -log(x / (1 - x)), the logs unclamped: infinite where x is 0 or 1, as torch's
    np.testing.assert_array_equal(dt[[0, 1, 4, 5]], [np.inf, -np.inf, -np.inf, np.inf])
    np.testing.assert_allclose(dt[2:4], [0.0, np.log(3)], atol=1e-15)
    # "mean" is over every element, not over the weights' sum; the weight scales the loss and both gradients
    x2, t2, w = np.array([[0.5, 0.25]]), np.array([[1.0, 0.0]]), np.array([2.0, 3.0])
    mean, cache = forward(x2, t2, w, "mean")
    np.testing.assert_allclose(mean, (2 * np.log(2) + 3 * np.log(4 / 3)) / 2, rtol=1e-15)
    dx, dt = backward(np.array(1.0), cache)
    np.testing.assert_allclose(dx, [[2 * -0.5 / 0.25 / 2, 3 * 0.25 / 0.1875 / 2]], rtol=1e-15)
    np.testing.assert_allclose(dt, [[0.0, 3 * np.log(3) / 2]], atol=1e-15)
    total, cache = forward(np.array(0.5), np.array(1.0), None, "sum")   # 0-d
    assert total.shape == () and backward(np.array(2.0), cache)[0].shape == ()
    np.testing.assert_allclose(total, np.log(2), rtol=1e-15)


def test_batch_norm_of_a_constant_channel_is_finite():
    x = np.full((4, 2, 3, 3), 7.0)
    out, cache = K.batch_norm_forward(x, np.ones(2), np.zeros(2), None, None, True)
    np.testing.assert_array_equal(out, 0)
    dx, dw, db = K.batch_norm_backward(np.ones_like(x), cache)
    assert np.isfinite(dx).all() and np.isfinite(dw).all()


def test_batch_norm_sums_in_float64():
    """A float32 channel with a large offset: a float32 running sum would lose the mean's digits."""
    rng = np.random.default_rng(0)
    x = (1000 + rng.standard_normal((64, 1, 64, 64))).astype(np.float32)
    _, cache = K.batch_norm_forward(x, None, None, None, None, True)
    exact = x.astype(np.float64)
    assert abs(cache.mean[0] - exact.mean()) < 1e-9 and abs(cache.var[0] - exact.var()) < 1e-9


# --------------------------------------------------------------------------- dtypes, no mutation, no aliasing
def norm_pool_activation_loss_calls(dtype, rng):
    x, c = randn(rng, (3, 4, 5, 6), dtype), 4
    w, b, rm, rv = randn(rng, c, dtype), randn(rng, c, dtype), randn(rng, c, dtype), np.ones(c, dtype)
    z, t = randn(rng, (3, 5), dtype), rng.uniform(0, 1, (3, 5)).astype(dtype)
    labels = np.array([0, 4, 2])
    inputs = [x, w, b, rm, rv, z, t, labels]
    calls = [
        ("batch_norm", lambda: K.batch_norm_forward(x, w, b, rm, rv, True), K.batch_norm_backward),
        ("batch_norm eval", lambda: K.batch_norm_forward(x, w, b, rm, rv, False), K.batch_norm_backward),
        ("local_response_norm", lambda: K.local_response_norm_forward(x, 3), K.local_response_norm_backward),
        ("avg_pool2d", lambda: K.avg_pool2d_forward(x, 3, 2, 1, True, False), K.avg_pool2d_backward),
        ("adaptive_avg_pool2d", lambda: K.adaptive_avg_pool2d_forward(x, (2, 4)), K.adaptive_avg_pool2d_backward),
        ("adaptive_max_pool2d", lambda: K.adaptive_max_pool2d_forward(x, (2, 4)), K.adaptive_max_pool2d_backward),
        ("adaptive_max_pool2d unbatched", lambda: K.adaptive_max_pool2d_forward(x[0], (7, None)),
         K.adaptive_max_pool2d_backward),
        ("sigmoid", lambda: K.sigmoid_forward(x), K.sigmoid_backward),
        ("tanh", lambda: K.tanh_forward(x), K.tanh_backward),
        ("leaky_relu", lambda: K.leaky_relu_forward(x, 0.1), K.leaky_relu_backward),
        ("pad", lambda: K.pad_forward(x, (1, -1, 2, 0), "constant", 0.5), K.pad_backward),
        ("pixel_shuffle", lambda: K.pixel_shuffle_forward(x, 2), K.pixel_shuffle_backward),
        ("prelu", lambda: K.prelu_forward(x, w), K.prelu_backward),
        ("prelu one slope", lambda: K.prelu_forward(x, w[:1]), K.prelu_backward),
        ("pixel_unshuffle", lambda: K.pixel_unshuffle_forward(x, 1), K.pixel_unshuffle_backward),
        ("pad reflect", lambda: K.pad_forward(x, (0, 0, 0, 0), "reflect"), K.pad_backward),
        ("upsample_nearest2d", lambda: K.upsample_nearest2d_forward(x, (7, 4)), K.upsample_nearest2d_backward),
        ("upsample_nearest2d kept size", lambda: K.upsample_nearest2d_forward(x, (5, 6), 1.1, 1.0),
         K.upsample_nearest2d_backward),
        ("upsample_nearest_exact2d", lambda: K.upsample_nearest_exact2d_forward(x, (7, 4), 1.5, 0.7),
         K.upsample_nearest_exact2d_backward),
        ("upsample_bilinear2d", lambda: K.upsample_bilinear2d_forward(x, (7, 4), False), K.upsample_bilinear2d_backward),
        ("upsample_bilinear2d kept size", lambda: K.upsample_bilinear2d_forward(x, (5, 6), True),
         K.upsample_bilinear2d_backward),
        ("upsample_bicubic2d", lambda: K.upsample_bicubic2d_forward(x, (7, 4), False, 1.5, 0.7),
         K.upsample_bicubic2d_backward),
        ("upsample_bicubic2d kept size", lambda: K.upsample_bicubic2d_forward(x, (5, 6), True),
         K.upsample_bicubic2d_backward),
        ("hardtanh", lambda: K.hardtanh_forward(x, -0.5, 0.5), K.hardtanh_backward),
        ("hardsigmoid", lambda: K.hardsigmoid_forward(x), K.hardsigmoid_backward),
        ("hardswish", lambda: K.hardswish_forward(x), K.hardswish_backward),
        ("silu", lambda: K.silu_forward(x), K.silu_backward),
        ("gelu", lambda: K.gelu_forward(x), K.gelu_backward),
        ("gelu tanh", lambda: K.gelu_forward(x, "tanh"), K.gelu_backward),
        ("elu", lambda: K.elu_forward(x, 0.7), K.elu_backward),
        ("softplus", lambda: K.softplus_forward(x, 2.0, 1.0), K.softplus_backward),
        ("softmax", lambda: K.softmax_forward(x, 1), K.softmax_backward),
        ("log_softmax", lambda: K.log_softmax_forward(x, -1), K.log_softmax_backward),
        ("dropout", lambda: K.dropout_forward(x, 0.5, np.ones(x.shape, bool)), K.dropout_backward),
        ("mse_loss", lambda: K.mse_loss_forward(z, t, "none"), K.mse_loss_backward),
        ("nll_loss", lambda: K.nll_loss_forward(z, labels, None, -100, "none"), K.nll_loss_backward),
        ("binary_cross_entropy_with_logits", lambda: K.binary_cross_entropy_with_logits_forward(z, t, None, None, "none"), K.binary_cross_entropy_with_logits_backward),
        ("binary_cross_entropy", lambda: K.binary_cross_entropy_forward(t, t[::-1].copy(), w[:1], "none"),
         K.binary_cross_entropy_backward),
    ]
    return calls, inputs


@pytest.mark.parametrize("implementation", ["fast", "naive"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_norm_pool_activation_loss_kernels_keep_dtype_and_neither_modify_nor_alias(implementation, dtype):
    rng = np.random.default_rng(1)
    calls, inputs = norm_pool_activation_loss_calls(dtype, rng)
    before = [a.copy() for a in inputs]
    for name, forward, backward in calls:
        if implementation == "naive":
            kernel = name.split()[0]
            forward = _naive_twin(forward, getattr(K, f"{kernel}_forward_naive"))
            backward = getattr(K, f"{kernel}_backward_naive")
        out, cache = forward()
        assert out.dtype == dtype, name
        dout = randn(rng, out.shape, dtype)
        dout_before = dout.copy()
        grads = arrays_in(backward(dout, cache))
        assert grads, name
        np.testing.assert_array_equal(dout, dout_before, err_msg=f"{name} backward wrote to dout")
        for g in grads:
            assert g.dtype == dtype, name
            assert not np.shares_memory(g, dout), f"{name} backward returned an alias of dout"
            assert not any(np.shares_memory(g, i) for i in inputs), f"{name} backward aliased an input"
        assert not any(np.shares_memory(out, i) for i in inputs), f"{name} returned an alias of an input"
    for a, b in zip(inputs, before):
        np.testing.assert_array_equal(a, b)


def _naive_twin(forward, naive):
    """Call ``forward``'s lambda with the fast kernel swapped for its naive twin."""
    fast_name = naive.__name__.removesuffix("_naive")
    fast = getattr(K, fast_name)

    def call():
        setattr(K, fast_name, naive)
        try:
            return forward()
        finally:
            setattr(K, fast_name, fast)
    return call


def test_the_switch_runs_the_naive_twins():
    """``kernels.use("naive")`` reaches these ops: the ctx remembers which kernels ran."""
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    with K.use("naive"):
        out = F.batch_norm(x, None, None, training=True)
    assert out.grad_fn is None  # nothing required a gradient: nothing recorded
    import minicnn
    t = minicnn.tensor(x, requires_grad=True)
    for op in (lambda v: F.batch_norm(v, None, None, training=True), lambda v: F.avg_pool2d(v, 2),
               lambda v: F.local_response_norm(v, 3), lambda v: F.adaptive_avg_pool2d(v, 1), F.sigmoid):
        with K.use("naive"):
            y = op(t)
        assert y.grad_fn.ctx.kernels is K.IMPLEMENTATIONS["naive"]
        y_fast = op(t)
        assert y_fast.grad_fn.ctx.kernels is K.IMPLEMENTATIONS["fast"]
        np.testing.assert_allclose(y.data, y_fast.data, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- bad input, before numba
def _bn_cache():
    return K.batch_norm_forward(np.ones((2, 3, 2, 2)), None, None, None, None, True)[1]


def _avg_pool_cache():
    return K.avg_pool2d_forward(np.ones((1, 1, 4, 4)), 2)[1]


def _lrn_cache():
    return K.local_response_norm_forward(np.ones((1, 3, 2)), 2)[1]


x4, ones3 = np.ones((2, 3, 4, 4)), np.ones(3)
MORE_BAD_INPUT = [
    (K.batch_norm_forward, lambda: (np.ones((2, 3, 4, 4), int), None, None, None, None, True), TypeError,
     r"batch_norm input: expected dtype float32 or float64, got int64"),
    (K.batch_norm_forward, lambda: (np.ones(3), None, None, None, None, True), ValueError,
     r"batch_norm input: expected at least a 2-D \(N, C, \.\.\.\) array, got shape \(3,\)"),
    (K.batch_norm_forward, lambda: (x4, np.ones(4), None, None, None, True), ValueError,
     r"batch_norm: expected weight of shape \(3,\) for input \(2, 3, 4, 4\), got \(4,\)"),
    (K.batch_norm_forward, lambda: (x4, ones3.astype(np.float32), None, None, None, True), TypeError,
     r"batch_norm: expected all arrays in one dtype, got float64, float32"),
    (K.batch_norm_forward, lambda: (np.ones((1, 3, 1, 1)), None, None, None, None, True), ValueError,
     r"batch_norm: expected more than 1 value per channel when training, got input size \(1, 3, 1, 1\)"),
    (K.batch_norm_forward, lambda: (x4, None, None, None, None, False), ValueError,
     r"batch_norm: expected running_mean and running_var when training=False"),
    (K.batch_norm_forward, lambda: (x4, None, None, None, None, True, 0.0), ValueError,
     r"batch_norm: expected eps > 0, got 0.0"),
    (K.batch_norm_backward, lambda: (np.ones((2, 3, 2, 3)), _bn_cache()), ValueError,
     r"batch_norm backward: expected upstream gradient of shape \(2, 3, 2, 2\), got \(2, 3, 2, 3\)"),
    (K.batch_norm_backward, lambda: (np.ones((2, 3, 2, 2), np.float32), _bn_cache()), TypeError,
     r"batch_norm backward: expected upstream gradient of dtype float64, got float32"),
    (K.local_response_norm_forward, lambda: (np.ones((2, 3)), 2), ValueError,
     r"local_response_norm input: expected at least a 3-D \(N, C, \.\.\.\) array, got shape \(2, 3\)"),
    (K.local_response_norm_forward, lambda: (x4, 0), ValueError, r"local_response_norm: expected size as an int from 1 to 2\*\*63 - 1, got 0"),
    (K.local_response_norm_forward, lambda: (x4, 2, "a"), TypeError, r"local_response_norm: expected alpha as a finite number"),
    (K.local_response_norm_backward, lambda: (np.ones((1, 3, 3)), _lrn_cache()), ValueError,
     r"local_response_norm backward: expected upstream gradient of shape \(1, 3, 2\), got \(1, 3, 3\)"),
    (K.avg_pool2d_forward, lambda: (np.ones((4, 4)), 2), ValueError,
     r"avg_pool2d input: expected a 3-D \(C, H, W\) or 4-D \(N, C, H, W\) array, got shape \(4, 4\)"),
    (K.avg_pool2d_forward, lambda: (np.ones((1, 1, 4, 4), np.float16), 2), TypeError,
     r"avg_pool2d input: expected dtype float32 or float64, got float16"),
    (K.avg_pool2d_forward, lambda: (x4, 2, None, 2), ValueError,
     r"avg_pool2d: expected padding at most half the kernel size \(2, 2\), got \(2, 2\)"),
    (K.avg_pool2d_forward, lambda: (x4, 5), ValueError,
     r"avg_pool2d height: input size 4 with padding 0 is smaller than the kernel size 5"),
    (K.avg_pool2d_forward, lambda: (x4, 2, 0), ValueError, r"avg_pool2d stride: expected values >= 1, got \(0, 0\)"),
    (K.avg_pool2d_forward, lambda: (x4, 2, None, 0, False, True, 0), ValueError,
     r"avg_pool2d: expected divisor_override as a non-zero int or None, got 0"),
    (K.avg_pool2d_backward, lambda: (np.ones((1, 1, 2, 3)), _avg_pool_cache()), ValueError,
     r"avg_pool2d backward: expected upstream gradient of shape \(1, 1, 2, 2\), got \(1, 1, 2, 3\)"),
    (K.adaptive_avg_pool2d_forward, lambda: (x4, 0), ValueError,
     r"adaptive_avg_pool2d output_size: expected ints >= 1 \(or None\), got \(0, 0\)"),
    (K.adaptive_avg_pool2d_forward, lambda: (x4, "2"), TypeError,
     r"adaptive_avg_pool2d output_size: expected an int or a pair of ints/None, got '2'"),
    (K.adaptive_avg_pool2d_forward, lambda: (np.ones(4), 1), ValueError,
     r"adaptive_avg_pool2d input: expected a 3-D \(C, H, W\) or 4-D \(N, C, H, W\) array, got shape \(4,\)"),
    (K.adaptive_max_pool2d_forward, lambda: (np.ones((4, 4)), 2), ValueError,
     r"adaptive_max_pool2d input: expected a 3-D \(C, H, W\) or 4-D \(N, C, H, W\) array, got shape \(4, 4\)"),
    (K.adaptive_max_pool2d_forward, lambda: (np.ones((2, 2, 2), np.int64), 2), TypeError,
     r"adaptive_max_pool2d input: expected dtype float32 or float64, got int64"),
    (K.adaptive_max_pool2d_forward, lambda: (x4, (0, 2)), ValueError,
     r"adaptive_max_pool2d output_size: expected ints >= 1 \(or None\), got \(0, 2\)"),
    (K.adaptive_max_pool2d_forward, lambda: (x4, 2**64), ValueError,
     r"adaptive_max_pool2d output_size: expected ints <= 2147483647"),
    (K.adaptive_max_pool2d_forward, lambda: (x4, (2, 3, 4)), TypeError,
     r"adaptive_max_pool2d output_size: expected an int or a pair of ints/None, got \(2, 3, 4\)"),
    (K.adaptive_max_pool2d_forward, lambda: (np.ones((2, 3, 0, 4)), 2), ValueError,
     r"adaptive_max_pool2d input: expected non-empty height and width, got \(2, 3, 0, 4\)"),
    (K.adaptive_max_pool2d_backward, lambda: (np.ones((2, 3, 2, 3)), K.adaptive_max_pool2d_forward(x4, 2)[1]),
     ValueError, r"adaptive_max_pool2d backward: expected upstream gradient of shape \(2, 3, 2, 2\), got \(2, 3, 2, 3\)"),
    (K.binary_cross_entropy_forward, lambda: (np.full(3, 1.5), np.ones(3)), ValueError,
     r"binary_cross_entropy: expected every element of input between 0 and 1 \(probabilities\), got 1.5"),
    (K.binary_cross_entropy_forward, lambda: (np.array([0.5, np.nan]), np.ones(2)), ValueError,
     r"binary_cross_entropy: expected every element of input between 0 and 1 \(probabilities\), got nan"),
    (K.binary_cross_entropy_forward, lambda: (np.ones(3) / 2, np.full(3, -0.5)), ValueError,
     r"binary_cross_entropy: expected every element of target between 0 and 1 \(probabilities\), got -0.5"),
    (K.binary_cross_entropy_forward, lambda: (np.ones((2, 3)) / 2, np.ones(3)), ValueError,
     r"binary_cross_entropy: expected target of the input's shape \(2, 3\), got \(3,\)"),
    (K.binary_cross_entropy_forward, lambda: (np.ones((2, 3)) / 2, np.ones((2, 3)), np.ones(2)), ValueError,
     r"binary_cross_entropy: expected weight broadcastable to the input \(2, 3\), got \(2,\)"),
    (K.binary_cross_entropy_forward, lambda: (np.ones(3) / 2, np.ones(3), np.ones((2, 3))), ValueError,
     r"binary_cross_entropy: expected weight broadcastable to the input \(3,\), got \(2, 3\)"),
    (K.binary_cross_entropy_forward, lambda: (np.ones(3) / 2, np.ones(3, np.float32)), TypeError,
     r"binary_cross_entropy: expected all arrays in one dtype, got float64, float32"),
    (K.binary_cross_entropy_forward, lambda: (np.ones(3) / 2, np.ones(3), None, "avg"), ValueError,
     r"binary_cross_entropy: expected reduction in \('mean', 'sum', 'none'\), got 'avg'"),
    (K.binary_cross_entropy_backward, lambda: (np.ones(3), K.binary_cross_entropy_forward(np.ones(3) / 2,
                                                                                          np.ones(3))[1]),
     ValueError, r"binary_cross_entropy backward: expected upstream gradient of shape \(\), got \(3,\)"),
    (K.sigmoid_forward, lambda: ([1.0],), TypeError, r"sigmoid input: expected a numpy.ndarray, got list"),
    (K.softmax_forward, lambda: (x4, 4), ValueError, r"softmax: expected dim as an int in \[-4, 4\), got 4"),
    (K.hardtanh_forward, lambda: (np.ones(3, int),), TypeError, r"hardtanh input: expected dtype float32 or float64"),
    (K.pad_forward, lambda: (np.ones((3, 4)), (1, 1)), ValueError, r"pad input: expected a 3-D, 4-D or 5-D array"),
    (K.pad_forward, lambda: (x4, (1,) * 6), ValueError,
     r"pad: a pad of 6 ints pads 3 dims after \(N, C\): expected a 5-D input, got shape \(2, 3, 4, 4\)"),
    (K.pixel_shuffle_forward, lambda: (x4, 2.0), TypeError, r"pixel_shuffle: expected upscale_factor as an int, got float"),
    (K.layer_norm_forward, lambda: (x4, (3, 4)), ValueError,
     r"layer_norm: expected an input whose last dims are normalized_shape \(3, 4\), got shape \(2, 3, 4, 4\)"),
    (K.layer_norm_forward, lambda: (x4, (4,), np.ones(3)), ValueError,
     r"layer_norm: expected weight of shape normalized_shape \(4,\), got \(3,\)"),
    (K.layer_norm_forward, lambda: (x4, ()), TypeError, r"layer_norm: expected normalized_shape as an int or a"),
    (K.layer_norm_forward, lambda: (x4, 4, None, None, "1e-5"), TypeError, r"layer_norm: expected eps as a number"),
    (K.layer_norm_forward, lambda: (x4, 4, np.ones(4, np.float32)), TypeError, r"layer_norm"),
    (K.group_norm_forward, lambda: (x4, 2), ValueError,
     r"group_norm: expected the input's channels divisible by num_groups, got input of shape \(2, 3, 4, 4\) and "
     r"num_groups=2"),
    (K.group_norm_forward, lambda: (x4, 0), ValueError, r"group_norm: expected num_groups >= 1, got 0"),
    (K.group_norm_forward, lambda: (x4, 1.0), TypeError, r"group_norm: expected num_groups as an int, got float"),
    (K.group_norm_forward, lambda: (np.ones(3), 1), ValueError,
     r"group_norm input: expected at least a 2-D \(N, C, \.\.\.\) array, got shape \(3,\)"),
    (K.group_norm_forward, lambda: (x4, 3, np.ones(4)), ValueError,
     r"group_norm: expected weight of shape \(3,\), one value per channel of input \(2, 3, 4, 4\), got \(4,\)"),
    (K.group_norm_forward, lambda: (x4, 3, None, np.ones((3, 1))), ValueError, r"group_norm: expected bias of shape"),
    (K.group_norm_forward, lambda: (x4, 3, np.ones(3, np.float32)), TypeError,
     r"group_norm: expected all arrays in one dtype, got float64, float32"),
    (K.group_norm_forward, lambda: (x4, 3, None, None, "1e-5"), TypeError, r"group_norm: expected eps as a number"),
    (K.group_norm_forward, lambda: (np.ones((2, 0, 3)), 1), ValueError, r"group_norm: expected at least 1 channel"),
    (K.group_norm_forward, lambda: (np.ones((2, 4, 0)), 2), ValueError,
     r"group_norm: expected at least 1 value per channel after dim 1"),
    (K.instance_norm_forward, lambda: (x4, None, None, None, None, False), ValueError,
     r"instance_norm: expected running_mean and running_var when use_input_stats=False"),
    (K.instance_norm_forward, lambda: (x4, None, None, np.ones(4), np.ones(4), True), ValueError,
     r"instance_norm: expected running_mean of shape \(3,\) for input \(2, 3, 4, 4\), got \(4,\)"),
    (K.instance_norm_forward, lambda: (x4, None, None, None, None, 1), TypeError,
     r"instance_norm: expected use_input_stats as a bool, got int"),
    (K.instance_norm_forward, lambda: (x4, np.ones(2), None, None, None, True), ValueError,
     r"instance_norm: expected weight of shape \(3,\)"),
    (K.prelu_forward, lambda: (x4, np.ones(4)), ValueError,
     r"prelu: expected weight of 1 value or of the input's 3 channels \(dim 1\), got 4 values"),
    (K.prelu_forward, lambda: (x4, np.ones((1, 3))), ValueError,
     r"prelu: expected weight as a scalar or a 1-D array, got shape \(1, 3\)"),
    (K.prelu_forward, lambda: (x4, np.ones(3, np.float32)), TypeError,
     r"prelu: expected weight of the input's dtype float64, got float32"),
    (K.prelu_forward, lambda: (np.ones(3), np.ones(3)), ValueError,
     r"prelu: expected weight of 1 value or of the input's 1 channels \(dim 1\), got 3 values"),
    (K.prelu_forward, lambda: (x4, [0.25]), TypeError, r"prelu weight: expected a numpy.ndarray, got list"),
    (K.prelu_backward, lambda: (np.ones((2, 3)), K.prelu_forward(x4, np.ones(3))[1]), ValueError,
     r"prelu backward: expected upstream gradient of shape \(2, 3, 4, 4\), got \(2, 3\)"),
    (K.pixel_shuffle_forward, lambda: (x4, 0), ValueError, r"pixel_shuffle: expected a positive upscale_factor, got 0"),
    (K.pixel_shuffle_forward, lambda: (x4, 2), ValueError,
     r"pixel_shuffle: expected the input's channel dim \(-3\) divisible by upscale_factor\*\*2 = 4, got 3"),
    (K.pixel_shuffle_forward, lambda: (np.ones((4, 4)), 2), ValueError,
     r"pixel_shuffle: expected an input of at least 3 dims \(\*, C, H, W\), got shape \(4, 4\)"),
    (K.pixel_unshuffle_forward, lambda: (x4, 3), ValueError,
     r"pixel_unshuffle: expected the input's height and width divisible by downscale_factor = 3, got \(4, 4\)"),
    (K.pixel_unshuffle_forward, lambda: (x4, True), TypeError,
     r"pixel_unshuffle: expected downscale_factor as an int, got bool"),
    (K.pixel_unshuffle_backward, lambda: (np.ones((2, 3, 4, 4)), K.pixel_unshuffle_forward(x4, 2)[1]), ValueError,
     r"pixel_unshuffle backward: expected upstream gradient of shape \(2, 12, 2, 2\), got \(2, 3, 4, 4\)"),
    (K.pad_forward, lambda: (x4, (1, 1, 1)), ValueError,
     r"pad: expected a pad of 2 ints \(left, right\), 4 \(left, right, top, bottom\) or 6 \(left, right, top, "
     r"bottom, front, back\), got 3"),
    (K.pad_forward, lambda: (x4, (1, 1.5)), TypeError, r"pad: expected pad as a tuple of ints, got \(1, 1.5\)"),
    (K.pad_forward, lambda: (x4, (1, 1), "mirror"), ValueError,
     r"pad: expected mode in \('constant', 'reflect', 'replicate', 'circular'\), got 'mirror'"),
    (K.pad_forward, lambda: (x4, (4, 0), "reflect"), ValueError,
     r"pad: mode='reflect' needs padding < the input width 4, got padding \(4, 0\)"),
    (K.pad_forward, lambda: (x4, (0, 0, 5, 0), "circular"), ValueError,
     r"pad: mode='circular' needs padding <= the input height 4, got padding \(5, 0\)"),
    (K.pad_forward, lambda: (x4, (-3, -2), "replicate"), ValueError,
     r"pad: mode='replicate' with pads \(-3, -2\) leaves -1 cells of an input width of 4: expected at least 1"),
    (K.pad_forward, lambda: (x4, (-4, 0), "reflect"), ValueError,
     r"pad: mode='reflect' with pads \(-4, 0\) leaves 0 cells of an input width of 4: expected at least 1"),
    (K.pad_forward, lambda: (x4, (-4, 0, -4, 0), "reflect"), ValueError,
     r"pad: mode='reflect' with pads \(-4, 0, -4, 0\) leaves no cells of the input's last 2 dims \(4, 4\)"),
    (K.pad_forward, lambda: (x4, (3, -2), "circular"), ValueError,
     r"pad: mode='circular' needs padding <= what the negative pad leaves of the input width, 2 of 4, got "
     r"padding \(3, -2\)"),
    (K.pad_forward, lambda: (x4, (1, 1), "reflect", 2.0), ValueError,
     r"pad: mode='reflect' takes no value \(only mode='constant' fills\), got value=2.0"),
    (K.pad_forward, lambda: (x4, (-3, -2)), ValueError,
     r"pad: the negative pads \(-3, -2\) crop 5 cells of an input width of 4: expected at most 4"),
    (K.pad_forward, lambda: (x4, (1, 1), "constant", "0"), TypeError, r"pad: expected value as a number or None, got str"),
    (K.pad_backward, lambda: (np.ones((2, 3, 4, 4)), K.pad_forward(x4, (1, 1))[1]), ValueError,
     r"pad backward: expected upstream gradient of shape \(2, 3, 4, 6\), got \(2, 3, 4, 4\)"),
    (K.upsample_nearest2d_forward, lambda: (np.ones((3, 4, 4)), (2, 2)), ValueError,
     r"upsample_nearest2d input: expected a 4-D array, got 3-D"),
    (K.upsample_bilinear2d_forward, lambda: (np.ones((2, 3, 4, 4), np.float16), (2, 2), False), TypeError,
     r"upsample_bilinear2d input: expected dtype float32 or float64, got float16"),
    (K.upsample_nearest2d_forward, lambda: (np.ones((2, 0, 4, 4)), (2, 2)), ValueError,
     r"upsample_nearest2d: expected non-empty channels, height and width \(an empty batch is fine\)"),
    (K.upsample_nearest_exact2d_forward, lambda: (x4, 3), TypeError,
     r"upsample_nearest_exact2d: expected output_size as 2 ints \(OH, OW\), got 3"),
    (K.upsample_nearest2d_forward, lambda: (x4, (0, 3)), ValueError,
     r"upsample_nearest2d output_size: expected values >= 1, got \(0, 3\)"),
    (K.upsample_nearest2d_forward, lambda: (x4, (2, 2.5)), TypeError,
     r"upsample_nearest2d output_size: expected an int or a pair of ints"),
    (K.upsample_nearest2d_forward, lambda: (x4, (2, 2), -1.0), ValueError,
     r"upsample_nearest2d: expected each scale positive and finite \(or None\), got -1.0"),
    (K.upsample_nearest2d_forward, lambda: (x4, (2, 2), None, "2"), TypeError,
     r"upsample_nearest2d: expected each scale as a number or None, got str"),
    (K.upsample_bilinear2d_forward, lambda: (x4, (2, 2), None), TypeError,
     r"upsample_bilinear2d: expected align_corners as a bool, got NoneType"),
    (K.upsample_bilinear2d_forward, lambda: (x4, (2, 2), False, float("nan")), ValueError,
     r"upsample_bilinear2d: expected each scale positive and finite \(or None\), got nan"),
    (K.upsample_bilinear2d_backward, lambda: (np.ones((2, 3, 4, 4)), K.upsample_bilinear2d_forward(x4, (3, 5), True)[1]),
     ValueError, r"upsample_bilinear2d backward: expected upstream gradient of shape \(2, 3, 3, 5\), got \(2, 3, 4, 4\)"),
    (K.upsample_bicubic2d_forward, lambda: (x4, (2, 2), "yes"), TypeError,
     r"upsample_bicubic2d: expected align_corners as a bool, got str"),
    (K.upsample_bicubic2d_forward_naive, lambda: (np.ones((2, 3, 4)), (2, 2), False), ValueError,
     r"upsample_bicubic2d input: expected a 4-D array, got 3-D"),
    (K.upsample_bicubic2d_backward, lambda: (np.ones((2, 3, 3, 5), np.float32),
                                             K.upsample_bicubic2d_forward(x4, (3, 5), False)[1]), TypeError, r"upsample_bicubic2d backward: expected upstream gradient of dtype float64, got float32"),
    (K.upsample_nearest_exact2d_backward, lambda: (np.ones((2, 3, 3, 5), np.float32),
                                                   K.upsample_nearest_exact2d_forward(x4, (3, 5))[1]),
     TypeError, r"upsample_nearest_exact2d backward: expected upstream gradient of dtype float64, got float32"),
    (K.hardtanh_forward, lambda: (x4, 1.0, -1.0), ValueError,
     r"hardtanh: expected min_val <= max_val, got min_val=1.0, max_val=-1.0"),
    (K.hardtanh_forward, lambda: (x4, 0.0, float("nan")), ValueError, r"hardtanh: expected min_val <= max_val"),
    (K.hardtanh_forward, lambda: (x4, True), TypeError, r"hardtanh: expected min_val as a number, got bool"),
    (K.hardtanh_backward, lambda: (np.ones((2, 3)), K.hardtanh_forward(x4)[1]), ValueError,
     r"hardtanh backward: expected upstream gradient of shape \(2, 3, 4, 4\), got \(2, 3\)"),
    (K.hardsigmoid_forward, lambda: (np.ones(3, np.float16),), TypeError,
     r"hardsigmoid input: expected dtype float32 or float64, got float16"),
    (K.hardsigmoid_backward, lambda: (np.ones((2, 3, 4, 4), np.float32), x4), TypeError,
     r"hardsigmoid backward: expected upstream gradient of dtype float64, got float32"),
    (K.hardswish_forward, lambda: ([1.0, 2.0],), TypeError, r"hardswish input: expected a numpy.ndarray, got list"),
    (K.hardswish_backward, lambda: (np.ones((2, 3)), x4), ValueError,
     r"hardswish backward: expected upstream gradient of shape \(2, 3, 4, 4\), got \(2, 3\)"),
    (K.silu_forward, lambda: (np.ones(3, np.int64),), TypeError, r"silu input: expected dtype float32 or float64"),
    (K.silu_backward, lambda: (np.ones(3, bool), x4), TypeError, r"silu backward: expected dtype float32 or float64"),
    (K.gelu_forward, lambda: (x4, "erf"), ValueError, r"gelu: expected approximate 'none' or 'tanh', got 'erf'"),
    (K.gelu_forward, lambda: (x4, None), TypeError,
     r"gelu: expected approximate as a str, 'none' or 'tanh', got NoneType"),
    (K.gelu_forward, lambda: (np.ones(3, np.complex64),), TypeError, r"gelu input: expected dtype float32 or float64"),
    (K.gelu_backward, lambda: (np.ones(4), K.gelu_forward(x4, "tanh")[1]), ValueError,
     r"gelu backward: expected upstream gradient of shape \(2, 3, 4, 4\), got \(4,\)"),
    (K.elu_forward, lambda: (x4, True), TypeError, r"elu: expected alpha as a number, got bool"),
    (K.elu_forward, lambda: (x4, "1.0"), TypeError, r"elu: expected alpha as a number, got str"),
    (K.elu_backward, lambda: (np.ones((2, 3)), K.elu_forward(x4)[1]), ValueError,
     r"elu backward: expected upstream gradient of shape \(2, 3, 4, 4\), got \(2, 3\)"),
    (K.softplus_forward, lambda: (x4, None), TypeError, r"softplus: expected beta as a number, got NoneType"),
    (K.softplus_forward, lambda: (x4, 1.0, np.bool_(True)), TypeError,
     r"softplus: expected threshold as a number, got bool"),
    (K.softplus_forward, lambda: (x4.astype(np.uint8),), TypeError,
     r"softplus input: expected dtype float32 or float64"),
    (K.softplus_backward, lambda: (np.ones((2, 3, 4, 4), np.float32), K.softplus_forward(x4)[1]), TypeError,
     r"softplus backward: expected upstream gradient of dtype float64, got float32"),
    (K.dropout_forward, lambda: (x4, 1.5, np.ones(x4.shape, bool)), ValueError,
     r"dropout: expected probability p in \[0, 1\], got 1.5"),
    (K.dropout_forward, lambda: (x4, 0.5, np.ones((2, 3, 4, 5), bool)), ValueError,
     r"dropout: expected a keep mask broadcastable to \(2, 3, 4, 4\), got \(2, 3, 4, 5\)"),
    (K.mse_loss_forward, lambda: (np.ones(3), np.ones(4)), ValueError,
     r"mse_loss: expected target of the input's shape \(3,\), got \(4,\)"),
    (K.mse_loss_forward, lambda: (np.ones(3), np.ones(3), "avg"), ValueError,
     r"mse_loss: expected reduction in \('mean', 'sum', 'none'\), got 'avg'"),
    (K.nll_loss_forward, lambda: (np.ones((2, 3)), np.array([0, 3])), ValueError,
     r"nll_loss: expected target in \[0, 3\) or ignore_index=-100, got values in \[0, 3\]"),
    (K.nll_loss_forward, lambda: (np.ones((2, 3)), np.array([0.0, 1.0])), TypeError,
     r"nll_loss target: expected an integer ndarray of class indices, got float64"),
    (K.nll_loss_forward, lambda: (np.ones((2, 3)), np.array([0, 1, 1])), ValueError,
     r"nll_loss: expected target of shape \(2,\) for input \(2, 3\), got \(3,\)"),
    (K.binary_cross_entropy_with_logits_forward, lambda: (np.ones((2, 3)), np.ones((2, 3)), None, np.ones(4)), ValueError,
     r"binary_cross_entropy_with_logits: expected pos_weight broadcastable to the input \(2, 3\), got \(4,\)"),
]


@pytest.mark.parametrize("kernel, make_args, error, match", MORE_BAD_INPUT)
def test_more_bad_input_is_rejected_before_numba_runs(kernel, make_args, error, match, numba_tripwire):
    args = make_args()
    with pytest.raises(error, match=match), numba_tripwire:
        kernel(*args)
    assert numba_tripwire.calls == []


def test_the_tripwire_sees_the_norm_pool_activation_loss_kernels(numba_tripwire):
    for name in ("norm._bn_forward_kernel", "norm._lrn_scale_kernel", "avgpool._window_mean_kernel"):
        assert f"minicnn.kernels.{name}" in numba_tripwire.patched
    with numba_tripwire, pytest.raises(AssertionError, match="numba kernel"):
        K.avg_pool2d_forward(np.ones((1, 1, 4, 4)), 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_relu_of_a_negative_zero_is_positive_zero_as_relu_after_batch_norm(dtype):
    """y = weight * xhat + bias = -0.0 (weight 0, bias -0.0): ReLU's np.maximum gives +0.0, so must the fused layer."""
    x = np.arange(8, dtype=dtype).reshape(2, 1, 4)
    w, b = np.zeros(1, dtype), np.array([-0.0], dtype)
    fused, _ = K.batch_norm_relu_forward(x, w, b, None, None, True)
    relu, _ = K.relu_forward(K.batch_norm_forward(x, w, b, None, None, True)[0])
    assert not np.signbit(relu).any()
    np.testing.assert_array_equal(np.signbit(fused), np.signbit(relu))
