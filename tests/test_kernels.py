"""minicnn.kernels on their own.

The fast kernels agree with their naive twins on hypothesis-drawn shapes, keep the dtype they
are given, never write to or alias their arguments, and reject bad input before numba runs.
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from minicnn import kernels as K

DTYPES = [np.float32, np.float64]
# Relative to the largest magnitude of the expected array: float64 agrees to round-off of the
# summation order; float32 sums of up to a few hundred products drift by ~1e-6 of the scale.
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def assert_close(actual, expected, dtype):
    """Shape, then dtype, then values: ``max|actual - expected| <= tol * max|expected|``."""
    assert actual.shape == expected.shape
    assert actual.dtype == np.dtype(dtype)
    actual, expected = actual.astype(np.float64), expected.astype(np.float64)
    scale = np.abs(expected).max(initial=0.0)
    err = np.abs(actual - expected).max(initial=0.0)
    assert err <= TOL[np.dtype(dtype)] * scale, f"max error {err:.3g} at scale {scale:.3g}"


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


def randn(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


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
        ("max_pool2d", lambda: K.max_pool2d_forward(x, 2, 1, 1), K.max_pool2d_backward),
        ("relu", lambda: K.relu_forward(x), K.relu_backward),
        ("linear", lambda: K.linear_forward(xl, wl, bl), K.linear_backward),
        ("im2col", lambda: (K.im2col(x, (3, 2), 2, 1), None), None),
        ("col2im", lambda: (K.col2im(randn(rng, (18, 2 * 3 * 3), dtype), x.shape, (3, 2), 2, 1), None), None),
        ("cross_entropy", lambda: K.softmax_cross_entropy(xl[:, :2], labels), None),
    ], [x, w, b, xl, wl, bl, labels]


def arrays_in(obj):
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [a for o in obj for a in arrays_in(o)]
    return []


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
        assert not isinstance(K.conv2d_forward(x, w, **kwargs)[1], K.conv._GeneralCache), kwargs
    for kwargs in ({"dilation": 2}, {"groups": 3, "padding": 0}, {"padding": 1, "padding_mode": "reflect"}):
        weight = w[:3, :1] if "groups" in kwargs else w
        assert isinstance(K.conv2d_forward(x, weight, **kwargs)[1], K.conv._GeneralCache), kwargs


@given(st.sampled_from(["zeros", "reflect", "replicate", "circular"]), st.tuples(*[st.integers(0, 4)] * 4),
       st.integers(1, 6), st.integers(1, 6), seeds)
def test_pad2d_backward_is_the_adjoint_and_equals_naive(mode, pads, h, w, seed):
    from minicnn.kernels import padding as P
    assume(mode != "reflect" or max(pads[:2]) < h and max(pads[2:]) < w)
    assume(mode != "circular" or max(pads[:2]) <= h and max(pads[2:]) <= w)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, h, w))
    xp = P.pad2d(x, pads, mode)
    np.testing.assert_array_equal(xp, P.pad2d_naive(x, pads, mode))
    g = rng.standard_normal(xp.shape)
    dx = P.pad2d_backward(g, pads, mode)
    np.testing.assert_allclose(dx, P.pad2d_backward_naive(g, pads, mode), rtol=1e-13, atol=1e-13)
    assert abs(np.sum(xp * g) - np.sum(x * dx)) <= 1e-10 * np.sum(np.abs(xp * g))  # <pad(x), g> = <x, pad*(g)>


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
