"""The toolbox's kernels on their own: fast against naive twin, dtype kept, nothing mutated or aliased,
bad input refused before any numba code runs (the ``numba_tripwire`` fixture of conftest.py)."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from minicnn import functional as F
from minicnn import kernels as K

DTYPES = [np.float32, np.float64]
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**32 - 1)


def assert_close(actual, expected, dtype, what="", floor=0.0):
    """Shape, dtype, then ``max|actual - expected| <= tol * max(max|expected|, floor)``."""
    assert actual.shape == expected.shape, what
    assert actual.dtype == np.dtype(dtype), what
    scale = max(np.abs(expected.astype(np.float64)).max(initial=0.0), floor)
    err = np.abs(actual.astype(np.float64) - expected).max(initial=0.0)
    assert err <= TOL[np.dtype(dtype)] * scale, f"{what}: max error {err:.3g} at scale {scale:.3g}"


def randn(rng, shape, dtype, scale=1.0):
    return np.asarray(scale * rng.standard_normal(shape), dtype=dtype)


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


ELEMENTWISE = [("sigmoid", ()), ("tanh", ()), ("leaky_relu", (0.2,))]


@pytest.mark.parametrize("name, extra", ELEMENTWISE)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.sampled_from([1.0, 30.0]), dtypes, seeds)
def test_elementwise_equals_naive(name, extra, shape, scale, dtype, seed):
    rng = np.random.default_rng(seed)
    x = randn(rng, shape, dtype, scale)
    x.reshape(-1)[::3] = 0
    same_both_ways(name, (x, *extra), dtype, rng)


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
def toolbox_calls(dtype, rng):
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
        ("sigmoid", lambda: K.sigmoid_forward(x), K.sigmoid_backward),
        ("tanh", lambda: K.tanh_forward(x), K.tanh_backward),
        ("leaky_relu", lambda: K.leaky_relu_forward(x, 0.1), K.leaky_relu_backward),
        ("softmax", lambda: K.softmax_forward(x, 1), K.softmax_backward),
        ("log_softmax", lambda: K.log_softmax_forward(x, -1), K.log_softmax_backward),
        ("dropout", lambda: K.dropout_forward(x, 0.5, np.ones(x.shape, bool)), K.dropout_backward),
        ("mse_loss", lambda: K.mse_loss_forward(z, t, "none"), K.mse_loss_backward),
        ("nll_loss", lambda: K.nll_loss_forward(z, labels, None, -100, "none"), K.nll_loss_backward),
        ("binary_cross_entropy_with_logits", lambda: K.binary_cross_entropy_with_logits_forward(z, t, None, None, "none"), K.binary_cross_entropy_with_logits_backward),
    ]
    return calls, inputs


def arrays_in(obj):
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [a for o in obj for a in arrays_in(o)]
    return []


@pytest.mark.parametrize("implementation", ["fast", "naive"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_toolbox_kernels_keep_dtype_and_neither_modify_nor_alias(implementation, dtype):
    rng = np.random.default_rng(1)
    calls, inputs = toolbox_calls(dtype, rng)
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
    """``kernels.use("naive")`` reaches the toolbox's ops: the ctx remembers which kernels ran."""
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


def _pool_cache():
    return K.avg_pool2d_forward(np.ones((1, 1, 4, 4)), 2)[1]


def _lrn_cache():
    return K.local_response_norm_forward(np.ones((1, 3, 2)), 2)[1]


x4, ones3 = np.ones((2, 3, 4, 4)), np.ones(3)
BAD_INPUT = [
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
    (K.avg_pool2d_backward, lambda: (np.ones((1, 1, 2, 3)), _pool_cache()), ValueError,
     r"avg_pool2d backward: expected upstream gradient of shape \(1, 1, 2, 2\), got \(1, 1, 2, 3\)"),
    (K.adaptive_avg_pool2d_forward, lambda: (x4, 0), ValueError,
     r"adaptive_avg_pool2d output_size: expected ints >= 1 \(or None\), got \(0, 0\)"),
    (K.adaptive_avg_pool2d_forward, lambda: (x4, "2"), TypeError,
     r"adaptive_avg_pool2d output_size: expected an int or a pair of ints/None, got '2'"),
    (K.adaptive_avg_pool2d_forward, lambda: (np.ones(4), 1), ValueError,
     r"adaptive_avg_pool2d input: expected a 3-D \(C, H, W\) or 4-D \(N, C, H, W\) array, got shape \(4,\)"),
    (K.sigmoid_forward, lambda: ([1.0],), TypeError, r"sigmoid input: expected a numpy.ndarray, got list"),
    (K.softmax_forward, lambda: (x4, 4), ValueError, r"softmax: expected dim as an int in \[-4, 4\), got 4"),
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


@pytest.mark.parametrize("kernel, make_args, error, match", BAD_INPUT)
def test_bad_input_is_rejected_before_numba_runs(kernel, make_args, error, match, numba_tripwire):
    args = make_args()
    with pytest.raises(error, match=match), numba_tripwire:
        kernel(*args)
    assert numba_tripwire.calls == []


def test_the_tripwire_sees_the_toolbox_kernels(numba_tripwire):
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
