"""The Winograd F(2x2, 3x3) convolution (minicnn/kernels/winograd.py) against the definition.

The plain conv path takes Winograd for 3x3 stride-1 kernels over >= 4 input channels; these tests
force it (``conv.algorithm("winograd")``) on hypothesis-drawn shapes, odd sizes and 1 channel
included, and bound its float32 rounding against float64 on SimpleCNN.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicnn
from minicnn import kernels as K
from minicnn import nn
from minicnn.kernels import conv, winograd

from test_kernels import TOL, assert_close, assert_grads_close, dtypes, randn, seeds


@st.composite
def shapes3x3(draw):
    """Batch, channels, an input of at least 1x1 and a padding that leaves a >= 1x1 output."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 5))
    padding = draw(st.integers(0, 2))
    low = max(1, 3 - 2 * padding)
    return (n, c, draw(st.integers(low, 11)), draw(st.integers(low, 11))), padding


def _assert_equals_naive(x, w, bias, padding, out, cache, rng, dtype):
    """A stride-1 conv2d_forward's ``out`` and its backward (with and without dx) against the naive twin."""
    naive_out, naive_cache = K.conv2d_forward_naive(x, w, bias, 1, padding)
    assert_close(out, naive_out, dtype)
    dout = randn(rng, out.shape, dtype)
    naive = K.conv2d_backward_naive(dout, naive_cache)
    assert_grads_close(K.conv2d_backward(dout, cache), naive, bias is not None, dtype)
    no_dx, dw, _ = K.conv2d_backward(dout, cache, need_input_grad=False)
    assert no_dx is None
    assert_close(dw, naive[1], dtype)


@given(shapes3x3(), st.integers(1, 4), st.booleans(), dtypes, seeds)
def test_winograd_conv2d_equals_naive(geom, out_channels, with_bias, dtype, seed):
    shape, padding = geom
    rng = np.random.default_rng(seed)
    x, w = randn(rng, shape, dtype), randn(rng, (out_channels, shape[1], 3, 3), dtype)
    bias = randn(rng, (out_channels,), dtype) if with_bias else None
    with conv.algorithm("winograd"):
        out, cache = K.conv2d_forward(x, w, bias, 1, padding)
    assert _algorithm_of(cache) == "winograd"
    _assert_equals_naive(x, w, bias, padding, out, cache, rng, dtype)


@given(shapes3x3(), seeds)
def test_winograd_fused_conv_relu_pool_equals_naive(geom, seed):
    shape, padding = geom
    if min(shape[2:]) + 2 * padding - 2 < 2:
        return  # the 2x2 pool needs a 2x2 conv output
    rng = np.random.default_rng(seed)
    x, w, b = randn(rng, shape, np.float64), randn(rng, (3, shape[1], 3, 3), np.float64), randn(rng, (3,), np.float64)
    with conv.algorithm("winograd"):
        pooled, cache = K.conv2d_relu_max_pool2d_forward(x, w, b, padding)
    naive_pooled, naive_cache = K.conv2d_relu_max_pool2d_forward_naive(x, w, b, padding)
    assert_close(pooled, naive_pooled, np.float64)
    g = randn(rng, pooled.shape, np.float64)
    for actual, expected in zip(K.conv2d_relu_max_pool2d_backward(g, cache),
                                K.conv2d_relu_max_pool2d_backward_naive(g, naive_cache)):
        assert_close(actual, expected, np.float64)


@given(shapes3x3(), seeds)
def test_the_readable_winograd_is_the_convolution(geom, seed):
    shape, padding = geom
    rng = np.random.default_rng(seed)
    x, w = randn(rng, shape, np.float64), randn(rng, (2, shape[1], 3, 3), np.float64)
    assert_close(winograd.winograd_conv2d_naive(x, w, padding), K.conv2d_forward_naive(x, w, None, 1, padding)[0],
                 np.float64)


def _algorithm_of(cache):
    """Which algorithm a plain conv2d_forward's cache came from."""
    return cache.algorithm


def test_auto_takes_each_algorithm_where_it_applies():
    rng = np.random.default_rng(0)
    for c, stride, kernel, expected in ((4, 1, 3, "winograd"), (1, 1, 3, "direct"), (3, 1, 3, "direct"),
                                        (4, 2, 3, "im2col"), (1, 2, 3, "im2col"), (4, 1, 5, "im2col"),
                                        (1, 1, 5, "direct"), (2, 1, 5, "im2col"), (1, 2, 5, "im2col"),
                                        (3, 1, 1, "direct"), (4, 1, 1, "im2col")):
        x, w = randn(rng, (2, c, 9, 9), np.float32), randn(rng, (3, c, kernel, kernel), np.float32)
        assert _algorithm_of(K.conv2d_forward(x, w, None, stride, 1)[1]) == expected, (c, stride, kernel)
        with conv.algorithm("im2col"):
            assert _algorithm_of(K.conv2d_forward(x, w, None, stride, 1)[1]) == "im2col"
    with pytest.raises(ValueError, match=r"conv algorithm: expected one of .*got 'fft'"):
        with conv.algorithm("fft"):
            pass


def _simplecnn_grads(model, x, y):
    loss = nn.CrossEntropyLoss()(model(x), y)
    model.zero_grad()
    loss.backward()
    return {name: p.grad.astype(np.float64) for name, p in model.named_parameters()}


@pytest.mark.parametrize("algorithm", ["winograd", "im2col"])
def test_float32_gradients_stay_within_1e_5_of_float64(algorithm):
    """The same weights and batch in float32 and float64: every SimpleCNN gradient agrees to 1e-5 of its
    largest entry (measured: a few 1e-7; ``benchmarks/accuracy_fp32.py`` writes the table)."""
    minicnn.manual_seed(0)
    model32 = minicnn.SimpleCNN(fused=True)
    model64 = minicnn.SimpleCNN(fused=True).double()
    model64.load_state_dict({k: v.astype(np.float64) for k, v in model32.state_dict().items()})
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 1, (64, 1, 28, 28)), rng.integers(0, 10, 64)
    with conv.algorithm(algorithm):
        g32 = _simplecnn_grads(model32, x.astype(np.float32), y)
        g64 = _simplecnn_grads(model64, x, y)
    for name, exact in g64.items():
        err = np.abs(g32[name] - exact).max() / np.abs(exact).max()
        assert err <= TOL[np.dtype(np.float32)], f"{name}: float32 error {err:.2e} of the largest gradient"


@pytest.mark.parametrize("where", [(2, 5), (0, 0), (7, 7), (3, 4)])
def test_winograd_propagates_nan_like_the_definition(where):
    """A NaN reaches, through the transforms, exactly the outputs whose window holds it (the transforms'
    zero entries skip it), so the plain and the fused path put NaN where the naive kernels do."""
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 4, 8, 8)), rng.standard_normal((3, 4, 3, 3)), rng.standard_normal(3)
    x[0, 1, where[0], where[1]] = np.nan
    with conv.algorithm("winograd"):
        out, _ = K.conv2d_forward(x, w, b, 1, 1)
        pooled, _ = K.conv2d_relu_max_pool2d_forward(x, w, b, 1)
    expected_out, _ = K.conv2d_forward_naive(x, w, b, 1, 1)
    expected, _ = K.conv2d_relu_max_pool2d_forward_naive(x, w, b, 1)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected_out))
    assert np.isnan(pooled).sum() == np.isnan(expected).sum() > 0
    np.testing.assert_allclose(pooled, expected, rtol=1e-12, atol=1e-12)  # NaN where expected has NaN


@given(st.integers(1, 3), st.integers(1, 5), st.integers(2, 6), st.integers(0, 2), dtypes, seeds)
def test_one_input_channel_fused_block_equals_naive(n, out_channels, half_width, padding, dtype, seed):
    """One input channel (SimpleCNN's conv1) takes its own Winograd kernels in the fused block (no GEMM);
    its weight gradient without an input gradient comes from yet another kernel."""
    rng = np.random.default_rng(seed)
    h = int(rng.integers(max(1, 4 - 2 * padding), 12))
    x = randn(rng, (n, 1, h, 2 * half_width + 2 - 2 * padding), dtype)  # an even conv output width
    w, b = randn(rng, (out_channels, 1, 3, 3), dtype), randn(rng, (out_channels,), dtype)
    pooled, cache = K.conv2d_relu_max_pool2d_forward(x, w, b, padding)
    assert type(cache[0]).__name__ == "_OneChannel"
    naive_pooled, naive_cache = K.conv2d_relu_max_pool2d_forward_naive(x, w, b, padding)
    assert_close(pooled, naive_pooled, dtype)
    g = randn(rng, pooled.shape, dtype)
    expected = K.conv2d_relu_max_pool2d_backward_naive(g, naive_cache)
    for actual, exp in zip(K.conv2d_relu_max_pool2d_backward(g, cache), expected):
        assert_close(actual, exp, dtype)
    no_dx, dw, db = K.conv2d_relu_max_pool2d_backward(g, cache, need_input_grad=False)
    assert no_dx is None
    assert_close(dw, expected[1], dtype)
    assert_close(db, expected[2], dtype)


def test_one_input_channel_nan_takes_the_general_path():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 1, 8, 8)), rng.standard_normal((3, 1, 3, 3)), rng.standard_normal(3)
    x[1, 0, 3, 3] = np.nan
    pooled, cache = K.conv2d_relu_max_pool2d_forward(x, w, b, 1)
    assert type(cache[0]).__name__ != "_OneChannel"
    expected, _ = K.conv2d_relu_max_pool2d_forward_naive(x, w, b, 1)
    assert np.isnan(pooled).sum() == np.isnan(expected).sum() > 0
    np.testing.assert_allclose(pooled, expected, rtol=1e-12, atol=1e-12)


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 10), st.integers(1, 10),
       st.integers(0, 2), st.booleans(), dtypes, seeds, st.sampled_from([(3, 3), (1, 1), (5, 5), (2, 4), (5, 1)]))
def test_direct_conv2d_equals_naive(n, chans, out_channels, h, w, padding, with_bias, dtype, seed, kernel):
    """Stride 1 over 1 to 3 channels: "auto" takes the direct loop (no im2col, no GEMM) for 3x3, and for
    other kernels where C*KH*KW <= 27; ``algorithm("direct")`` takes it for any."""
    if min(h + 2 * padding - kernel[0], w + 2 * padding - kernel[1]) < 0:
        return
    rng = np.random.default_rng(seed)
    x, wt = randn(rng, (n, chans, h, w), dtype), randn(rng, (out_channels, chans) + kernel, dtype)
    bias = randn(rng, (out_channels,), dtype) if with_bias else None
    with conv.algorithm("direct"):
        out, cache = K.conv2d_forward(x, wt, bias, 1, padding)
    assert _algorithm_of(cache) == "direct"
    assert (_algorithm_of(K.conv2d_forward(x, wt, bias, 1, padding)[1]) == "direct") == (chans * kernel[0] * kernel[1] <= 27)
    _assert_equals_naive(x, wt, bias, padding, out, cache, rng, dtype)
