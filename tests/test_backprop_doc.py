"""The numbers printed in docs/backprop.md, recomputed: if a kernel changes them, the page is out of date.

Also the one claim of the page that no other test states: a convolution's input
gradient is the full cross-correlation of the upstream gradient with the
180-degree-rotated kernel (stride 1), whatever the shapes.
"""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from minicnn import kernels as K


def full_correlation_with_flipped_kernel(dout, weight):
    """``dx[n, c] = sum_o correlate(pad(dout[n, o], K - 1), rot180(weight[o, c]))`` by explicit loops."""
    _, _, kh, kw = weight.shape
    padded = np.pad(dout, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    flipped = weight[:, :, ::-1, ::-1]
    h, w = dout.shape[2] + kh - 1, dout.shape[3] + kw - 1
    dx = np.zeros((dout.shape[0], weight.shape[1], h, w))
    for s in range(h):
        for t in range(w):
            # (N, O, KH, KW) window against (O, C, KH, KW): sum over o, i, j
            dx[:, :, s, t] = np.tensordot(padded[:, :, s:s + kh, t:t + kw], flipped, axes=([1, 2, 3], [0, 2, 3]))
    return dx


def test_worked_conv_example():
    x = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out, cache = K.conv2d_forward(x, w, np.array([0.5]))
    np.testing.assert_array_equal(K.im2col(x, 2), [[1, 2, 3, 5, 6, 7, 9, 10, 11], [2, 3, 4, 6, 7, 8, 10, 11, 12],
                                                   [5, 6, 7, 9, 10, 11, 13, 14, 15],
                                                   [6, 7, 8, 10, 11, 12, 14, 15, 16]])
    np.testing.assert_array_equal(out[0, 0], [[44.5, 54.5, 64.5], [84.5, 94.5, 104.5], [124.5, 134.5, 144.5]])
    dout = np.array([[[[1.0, 0.0, -1.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]]])
    dx, dw, db = K.conv2d_backward(dout, cache)
    expected_dx = [[1, 2, -1, -2], [5, 9, -1, -4], [6, 11, 5, 2], [0, 0, 3, 4]]
    np.testing.assert_array_equal(dx[0, 0], expected_dx)
    np.testing.assert_array_equal(full_correlation_with_flipped_kernel(dout, w)[0, 0], expected_dx)
    np.testing.assert_array_equal(dw[0, 0], [[25, 29], [41, 45]])
    np.testing.assert_array_equal(db, [4])
    dcols = w.reshape(1, 4).T @ dout.reshape(1, 9)
    assert np.sum(K.im2col(x, 2) * dcols) == np.sum(x * K.col2im(dcols, x.shape, 2)) == 386


def test_worked_pool_example():
    x = np.array([[[[1.0, 5.0, 2.0], [3.0, 4.0, 0.0], [6.0, 0.0, 7.0]]]])
    out, cache = K.maxpool2d_forward(x, 2, stride=1)
    np.testing.assert_array_equal(out[0, 0], [[5, 5], [6, 7]])
    dx = K.maxpool2d_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [[0, 3, 0], [0, 0, 0], [3, 0, 4]])


def test_worked_cross_entropy_example():
    loss, dz = K.softmax_cross_entropy(np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]]), np.array([0, 1]))
    assert round(loss, 4) == 1.7513
    np.testing.assert_allclose(dz, [[-0.167, 0.122, 0.045], [0.023, -0.477, 0.455]], atol=5e-4)
    np.testing.assert_allclose(dz.sum(axis=1), 0, atol=1e-15)


@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 6), st.integers(1, 6),
       st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_conv_input_gradient_is_a_full_correlation_with_the_flipped_kernel(n, c, o, h, w, kh, kw, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h + kh - 1, w + kw - 1))
    weight = rng.standard_normal((o, c, kh, kw))
    _, cache = K.conv2d_forward(x, weight)
    dout = rng.standard_normal((n, o, h, w))
    dx, _, _ = K.conv2d_backward(dout, cache)
    np.testing.assert_allclose(dx, full_correlation_with_flipped_kernel(dout, weight), rtol=1e-12, atol=1e-12)
