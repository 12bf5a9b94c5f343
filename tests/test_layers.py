"""minicnn.nn and SimpleCNN: dtypes, float64 gradient checks, gradient accumulation, the Module
API (names, state_dict, dtype casts, initialisation) and input validation."""
import math

import numpy as np
import pytest

from minicnn import SimpleCNN, Tensor, manual_seed, nn
from minicnn import functional as F
from minicnn.gradcheck import THRESHOLD, check_cross_entropy, check_module

DTYPES = [np.float32, np.float64]
SIMPLE_CNN_KEYS = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                   "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
SIMPLE_CNN_SHAPES = [(32, 1, 3, 3), (32,), (64, 32, 3, 3), (64,), (128, 3136), (128,), (10, 128), (10,)]


def distinct(rng, shape, gap=0.01):
    """Values ``gap`` apart in random order: no max-pool tie within a finite-difference step."""
    size = math.prod(shape)
    return (rng.permutation(size) * gap - size * gap / 2).reshape(shape)


def away_from_zero(rng, shape):
    """|x| in [0.1, 1): no ReLU kink within a finite-difference step."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 1.0, shape)


def small_net():
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3 * 3 * 2, 4))


# (layer, input) pairs of every layer type, for the dtype and accumulation tests
def layer_cases(rng):
    return [
        (nn.Conv2d(2, 3, 3, stride=2, padding=1), rng.standard_normal((2, 2, 7, 6))),
        (nn.Conv2dReLUMaxPool2d(2, 3, 3, padding=1), rng.standard_normal((2, 2, 7, 6))),
        (nn.Linear(5, 4), rng.standard_normal((3, 5))),
        (nn.ReLU(), rng.standard_normal((2, 3, 4))),
        (nn.MaxPool2d(2), rng.standard_normal((2, 3, 6, 5))),
        (nn.Flatten(), rng.standard_normal((2, 3, 4, 5))),
        (small_net(), rng.standard_normal((2, 2, 6, 4))),
        (SimpleCNN(), rng.standard_normal((2, 1, 28, 28))),
    ]


# --------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_layer_computes_in_its_dtype(dtype):
    rng = np.random.default_rng(0)
    for layer, x in layer_cases(rng):
        layer.to(dtype)
        x = Tensor(x.astype(dtype), requires_grad=True)
        out = layer(x)
        assert out.dtype == dtype, layer
        out.backward(rng.standard_normal(out.shape).astype(dtype))
        assert x.grad.dtype == dtype and x.grad.shape == x.shape, layer
        for name, p in layer.named_parameters():
            assert p.data.dtype == dtype and p.grad.dtype == dtype and p.grad.shape == p.shape, name
    logits = Tensor(np.zeros((2, 3), dtype), requires_grad=True)
    loss = nn.CrossEntropyLoss()(logits, np.array([0, 2]))
    assert isinstance(loss, Tensor) and loss.shape == () and loss.dtype == dtype
    assert isinstance(loss.item(), float)
    loss.backward()
    assert logits.grad.dtype == dtype


def test_layers_are_float32_by_default_and_to_float64_switches():
    model = SimpleCNN()
    assert all(p.data.dtype == np.float32 for p in model.parameters())
    x = np.zeros((1, 1, 28, 28), np.float32)
    assert model(x).dtype == np.float32
    assert model.to(np.float64) is model
    assert model(x.astype(np.float64)).dtype == np.float64
    with pytest.raises(TypeError, match=r"SimpleCNN.to: expected float32 or float64, got float16"):
        model.to(np.float16)


def test_assigning_float64_data_makes_a_layer_run_in_float64():
    layer = nn.Linear(3, 2)
    layer.weight.data = layer.weight.data.astype(np.float64)
    layer.bias.data = layer.bias.data.astype(np.float64)
    out = layer(np.ones((4, 3)))
    assert out.dtype == np.float64
    out.backward(np.ones_like(out))
    assert layer.weight.grad.dtype == np.float64
    with pytest.raises(TypeError, match=r"linear: expected input of dtype float64 \(the weight's\), got float32"):
        layer(np.ones((4, 3), np.float32))


# --------------------------------------------------------------------------- gradient checks
def assert_gradcheck(rows, names):
    assert [r["param"] for r in rows] == names  # every tensor was checked
    for r in rows:
        assert r["error"] < THRESHOLD, f"{r['param']}: relative error {r['error']:.3g}"
        assert np.abs(r["analytic"]).max() > 0, f"{r['param']}: an all-zero gradient proves nothing"


CONV_CASES = [
    dict(in_channels=2, out_channels=3, kernel_size=3),
    dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1),
    dict(in_channels=3, out_channels=2, kernel_size=(2, 3), stride=(1, 2), padding=(2, 0)),
    dict(in_channels=1, out_channels=4, kernel_size=(3, 1), stride=(3, 1), padding=(1, 2)),
    dict(in_channels=2, out_channels=2, kernel_size=2, stride=3, padding=2, bias=False),
]


@pytest.mark.parametrize("kwargs", CONV_CASES, ids=lambda k: ",".join(f"{a}={v}" for a, v in k.items()))
def test_conv2d_gradients(kwargs):
    rng = np.random.default_rng(1)
    layer = nn.Conv2d(**kwargs).to(np.float64)
    x = rng.standard_normal((2, kwargs["in_channels"], 7, 6))
    names = ["weight", "bias", "input"] if kwargs.get("bias", True) else ["weight", "input"]
    assert_gradcheck(check_module(layer, x, rng), names)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients(bias):
    rng = np.random.default_rng(2)
    assert_gradcheck(check_module(nn.Linear(6, 4, bias=bias).to(np.float64), rng.standard_normal((3, 6)), rng),
                     ["weight", "bias", "input"] if bias else ["weight", "input"])


def test_relu_gradients():
    rng = np.random.default_rng(3)
    assert_gradcheck(check_module(nn.ReLU(), away_from_zero(rng, (2, 3, 5)), rng), ["input"])


@pytest.mark.parametrize("args, kwargs", [((2,), {}), ((3,), dict(stride=2, padding=1)),
                                          (((2, 3),), dict(stride=(1, 2))), ((3,), dict(stride=1, padding=1))])
def test_max_pool2d_gradients(args, kwargs):
    rng = np.random.default_rng(4)
    assert_gradcheck(check_module(nn.MaxPool2d(*args, **kwargs), distinct(rng, (2, 3, 7, 6)), rng), ["input"])


def test_flatten_gradients():
    rng = np.random.default_rng(5)
    assert_gradcheck(check_module(nn.Flatten(), rng.standard_normal((2, 3, 4, 2)), rng), ["input"])


def test_sequential_gradients():
    rng = np.random.default_rng(6)
    manual_seed(6)
    rows = check_module(small_net().to(np.float64), rng.standard_normal((3, 2, 6, 5)), rng)
    assert_gradcheck(rows, ["0.weight", "0.bias", "4.weight", "4.bias", "input"])


@pytest.mark.parametrize("n, c", [(1, 2), (4, 10)])
def test_cross_entropy_gradients(n, c):
    rng = np.random.default_rng(7)
    logits, labels = 3 * rng.standard_normal((n, c)), rng.integers(0, c, n)
    assert_gradcheck(check_cross_entropy(logits, labels, rng), ["logits"])


def test_simple_cnn_gradients():
    rng = np.random.default_rng(8)
    manual_seed(8)
    rows = check_module(SimpleCNN().to(np.float64), rng.uniform(-1, 1, (2, 1, 28, 28)), rng, samples=15)
    assert_gradcheck(rows, SIMPLE_CNN_KEYS + ["input"])


def test_fused_conv_relu_pool_gradients():
    rng = np.random.default_rng(9)
    manual_seed(9)
    layer = nn.Conv2dReLUMaxPool2d(2, 3, 3, padding=1).to(np.float64)
    assert_gradcheck(check_module(layer, rng.standard_normal((2, 2, 8, 6)), rng), ["weight", "bias", "input"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_simple_cnn_fused_and_unfused_compute_the_same(dtype):
    """SimpleCNN() fuses conv -> ReLU -> pool; SimpleCNN(fused=False) runs the three layers."""
    rng = np.random.default_rng(10)
    manual_seed(10)
    fused = SimpleCNN().to(dtype)
    plain = SimpleCNN(fused=False).to(dtype)
    plain.load_state_dict(fused.state_dict())
    assert list(plain.state_dict()) == list(fused.state_dict()) == SIMPLE_CNN_KEYS
    x = rng.standard_normal((3, 1, 28, 28)).astype(dtype)
    x_fused, x_plain = Tensor(x, requires_grad=True), Tensor(x, requires_grad=True)
    out_fused, out_plain = fused(x_fused), plain(x_plain)
    # not bit for bit: the fused conv1 (one input channel) runs Winograd, the plain Conv2d im2col; both sum
    # the same products in another order, ~1e-16 (float64) and ~3e-7 (float32) of the scale apart
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert np.abs(out_fused - out_plain).max() <= tol * np.abs(out_plain).max()
    g = rng.standard_normal((3, 10)).astype(dtype)
    out_fused.backward(g)
    out_plain.backward(g)
    for name, ours, ref in [("input", x_fused.grad, x_plain.grad)] + [
            (name, p.grad, q.grad) for (name, p), (_, q) in zip(fused.named_parameters(), plain.named_parameters())]:
        assert ours.dtype == ref.dtype == dtype, name
        scale = np.abs(ref).max()
        assert scale > 0, f"{name}: an all-zero gradient proves nothing"
        assert np.abs(ours - ref).max() <= tol * scale, name


def test_gradcheck_catches_a_wrong_backward():
    class LeakyBackwardReLUFunction(F.ReLUFunction):
        @staticmethod
        def backward(ctx, grad_out):  # as if the slope below 0 were 0.01
            return F.ReLUFunction.backward(ctx, grad_out) + 0.01 * grad_out

    class LeakyBackwardReLU(nn.ReLU):
        def forward(self, x):
            return LeakyBackwardReLUFunction.apply(x)

    rng = np.random.default_rng(9)
    (row,) = check_module(LeakyBackwardReLU(), away_from_zero(rng, (2, 3, 5)), rng)
    assert row["error"] > 1e-3


# --------------------------------------------------------------------------- accumulation
def test_two_backward_passes_give_exactly_twice_the_gradient():
    rng = np.random.default_rng(10)
    for layer, x in layer_cases(rng):
        x = Tensor(x.astype(np.float32), requires_grad=True)
        out = layer(x)
        g = rng.standard_normal(out.shape).astype(np.float32)
        out.backward(g, retain_graph=True)
        leaves = {"input": x, **dict(layer.named_parameters())}
        once = {name: p.grad.copy() for name, p in leaves.items()}
        out.backward(g)                    # the same graph again
        for name, p in leaves.items():
            np.testing.assert_array_equal(p.grad, 2 * once[name], err_msg=name)
        layer(x).backward(g)               # a fresh forward of the same input
        for name, p in leaves.items():
            np.testing.assert_array_equal(p.grad, 3 * once[name], err_msg=name)


def test_zero_grad_sets_gradients_to_none():
    model = SimpleCNN()
    x = np.zeros((2, 1, 28, 28), np.float32)
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    for p in model.parameters():
        np.testing.assert_array_equal(p.grad, np.zeros(p.shape, np.float32))
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model(x).sum().backward()  # after zero_grad the first backward sets, not adds
    fresh = {n: p.grad.copy() for n, p in model.named_parameters()}
    model.zero_grad()
    model(x).sum().backward()
    for n, p in model.named_parameters():
        np.testing.assert_array_equal(p.grad, fresh[n])


def test_layers_neither_modify_nor_alias_input_or_upstream_gradient():
    rng = np.random.default_rng(11)
    for layer, x in layer_cases(rng):
        x = x.astype(np.float32)
        x_before = x.copy()
        x_tensor = Tensor._wrap(x, requires_grad=True)
        out = layer(x_tensor)
        g = rng.standard_normal(out.shape).astype(np.float32)
        g_before = g.copy()
        out.backward(g)
        dx = x_tensor.grad
        np.testing.assert_array_equal(x, x_before, err_msg=repr(layer))
        np.testing.assert_array_equal(g, g_before, err_msg=repr(layer))
        assert not np.shares_memory(dx, g) and not np.shares_memory(dx, x)
        if not isinstance(layer, nn.Flatten):  # a reshape is a view, as in torch
            assert not np.shares_memory(out.data, x)
        for p in layer.parameters():
            assert not np.shares_memory(p.grad, g) and not np.shares_memory(p.grad, x)


def test_gradients_do_not_alias_each_other_or_the_upstream_gradient():
    layer = nn.Linear(3, 2)
    x = Tensor(np.ones((4, 3), np.float32), requires_grad=True)
    out = layer(x)
    g = np.ones_like(out)
    out.backward(g, retain_graph=True)
    out.backward(g)  # accumulates in place into .grad: must not reach g or the data
    np.testing.assert_array_equal(g, np.ones_like(out))
    np.testing.assert_array_equal(x.grad, 2 * np.ones((4, 2), np.float32) @ layer.weight.data)
    for p in layer.parameters():
        assert not np.shares_memory(p.grad, p.data) and not np.shares_memory(p.grad, g)


def test_a_gradient_passed_through_unchanged_is_copied_into_each_leaf():
    """``a + b`` hands the same upstream array to both sides: each leaf must own its own .grad."""
    a, b = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    g = np.arange(3.0)
    (a + b).backward(g)
    assert not np.shares_memory(a.grad, b.grad) and not np.shares_memory(a.grad, g)
    a.grad += 1
    np.testing.assert_array_equal(b.grad, g)
    np.testing.assert_array_equal(g, np.arange(3.0))


def test_flatten_neither_modifies_the_input_nor_the_gradient():
    x = np.arange(24.0).reshape(2, 3, 4)
    x_tensor = Tensor(x, requires_grad=True)
    out = nn.Flatten()(x_tensor)
    assert out.shape == (2, 12)
    g = np.arange(24.0).reshape(2, 12)
    out.backward(g)
    np.testing.assert_array_equal(x_tensor.grad, x)
    assert not np.shares_memory(x_tensor.grad, g)


def test_the_first_layer_skips_its_input_gradient():
    """The input does not require grad, so conv's backward is asked for no dx (the first layer's saving)."""
    net = small_net()
    seen = []
    original = F.Conv2dFunction.backward

    def spy(ctx, grad_out):
        seen.append(ctx.needs_input_grad[0])
        return original(ctx, grad_out)
    F.Conv2dFunction.backward = staticmethod(spy)
    try:
        net(np.ones((1, 2, 6, 4), np.float32)).sum().backward()
    finally:
        F.Conv2dFunction.backward = staticmethod(original)
    assert seen == [False]
    assert net[0].weight.grad is not None


# --------------------------------------------------------------------------- Module API
def test_simple_cnn_parameter_names_order_and_shapes():
    model = SimpleCNN()
    assert [n for n, _ in model.named_parameters()] == SIMPLE_CNN_KEYS
    sd = model.state_dict()
    assert list(sd) == SIMPLE_CNN_KEYS
    assert [v.shape for v in sd.values()] == SIMPLE_CNN_SHAPES
    assert len(model.parameters()) == 8


def test_sequential_keys_are_indices():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(net) == 3 and isinstance(net[1], nn.ReLU)
    with pytest.raises(TypeError, match=r"Sequential: expected Module arguments, got function at 1"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_state_dict_returns_copies():
    model = SimpleCNN()
    sd = model.state_dict()
    sd["fc2.bias"][:] = 123.0
    assert not np.any(model.fc2.bias.data == 123.0)
    assert not any(np.shares_memory(v, p.data) for v, p in zip(sd.values(), model.parameters()))


def test_load_state_dict_round_trip_copies_and_keeps_dtype():
    manual_seed(1)
    source = SimpleCNN()
    target = SimpleCNN()
    sd = {k: v.astype(np.float64) for k, v in source.state_dict().items()}
    assert target.load_state_dict(sd) == ([], [])
    for (k, v), p in zip(source.state_dict().items(), target.parameters()):
        assert p.data.dtype == np.float32
        np.testing.assert_array_equal(p.data, v, err_msg=k)
        assert not np.shares_memory(p.data, sd[k])
    sd["fc2.bias"][:] = 7.0
    assert not np.any(target.fc2.bias.data == 7.0)


def test_load_state_dict_strict_errors():
    model = SimpleCNN()
    sd = model.state_dict()
    missing = dict(sd)
    del missing["fc2.bias"]
    with pytest.raises(ValueError, match=r"SimpleCNN: missing keys \['fc2.bias'\]$"):
        model.load_state_dict(missing)
    with pytest.raises(ValueError, match=r"SimpleCNN: unexpected keys \['fc3.weight'\]$"):
        model.load_state_dict({**sd, "fc3.weight": np.zeros(3)})
    with pytest.raises(ValueError, match=r"fc2.bias: expected shape \(10,\), got \(9,\)"):
        model.load_state_dict({**sd, "fc2.bias": np.zeros(9)})
    with pytest.raises(ValueError, match=r"fc2.bias: expected shape \(10,\), got \(9,\)"):
        model.load_state_dict({**sd, "fc2.bias": np.zeros(9)}, strict=False)
    with pytest.raises(ValueError, match=r"missing keys \['fc2.bias'\]; unexpected keys \['fc3.weight'\]; "
                                         r"fc1.bias: expected shape \(128,\), got \(1,\)"):
        model.load_state_dict({**missing, "fc3.weight": np.zeros(3), "fc1.bias": np.zeros(1)})
    with pytest.raises(TypeError, match=r"load_state_dict: expected a mapping of name -> array, got list"):
        model.load_state_dict(list(sd.values()))
    before = model.fc2.bias.data.copy()
    assert model.load_state_dict({"fc2.weight": np.zeros((10, 128)), "extra": np.zeros(1)}, strict=False) == (
        [k for k in SIMPLE_CNN_KEYS if k != "fc2.weight"], ["extra"])
    np.testing.assert_array_equal(model.fc2.weight.data, 0)
    np.testing.assert_array_equal(model.fc2.bias.data, before)


@pytest.mark.parametrize("make, fan_in", [(lambda: nn.Conv2d(16, 64, 3), 16 * 9),
                                          (lambda: nn.Conv2d(3, 40, (5, 2)), 3 * 10),
                                          (lambda: nn.Linear(3136, 128), 3136),
                                          (lambda: nn.Linear(128, 10), 128)])
def test_initialisation_matches_torch_bounds(make, fan_in):
    manual_seed(0)
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        w = p.data.astype(np.float64)
        assert np.abs(w).max() <= bound
        # U(-b, b): the extremes come close to b, the mean is 0 and the std b/sqrt(3)
        assert np.abs(w).max() >= (0.99 if w.size > 1000 else 0.8) * bound
        assert abs(w.mean()) < 5 * bound / math.sqrt(3 * w.size)
        if w.size > 1000:
            assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)


def test_manual_seed_reproduces_initialisation():
    manual_seed(42)
    a = SimpleCNN().state_dict()
    manual_seed(42)
    b = SimpleCNN().state_dict()
    manual_seed(43)
    c = SimpleCNN().state_dict()
    for k in SIMPLE_CNN_KEYS:
        np.testing.assert_array_equal(a[k], b[k])
        assert not np.array_equal(a[k], c[k])
    with pytest.raises(ValueError, match=r"manual_seed: expected a non-negative int, got -1"):
        manual_seed(-1)


def test_parameter_refuses_non_float_data():
    with pytest.raises(TypeError, match=r"Parameter: expected a float32/float64 numpy.ndarray, got int64"):
        nn.Parameter(np.zeros(3, np.int64))
    with pytest.raises(TypeError, match=r"got float16"):
        nn.Parameter(np.zeros(3, np.float16))


# --------------------------------------------------------------------------- bad input
X32 = np.zeros((2, 1, 8, 8), np.float32)
BAD_CALLS = [
    # wrong ndim
    (lambda: nn.Conv2d(1, 4, 3), lambda m: m(np.zeros((8, 8), np.float32)), ValueError,
     r"conv2d: expected a 3-D \(unbatched\) or 4-D \(batched\) input, got shape \(8, 8\)"),
    (lambda: nn.Linear(4, 3), lambda m: m(np.zeros(5, np.float32)), ValueError,
     r"linear: expected input of shape \(\*, 4\) \(weight \(3, 4\)\), got \(5,\)"),
    (lambda: nn.MaxPool2d(2), lambda m: m(np.zeros((8, 8), np.float32)), ValueError,
     r"max_pool2d: expected a 3-D \(unbatched\) or 4-D \(batched\) input, got shape \(8, 8\)"),
    (lambda: nn.Flatten(), lambda m: m(np.zeros(3, np.float32)), ValueError,
     r"Flatten: expected at least a 2-D input, got shape \(3,\)"),
    (lambda: nn.Linear(4, 3), lambda m: m([[1.0, 2.0, 3.0, 4.0]]), TypeError,
     r"linear input: expected a minicnn.Tensor or numpy.ndarray, got list"),
    (lambda: SimpleCNN(), lambda m: m(np.zeros((2, 1, 32, 32), np.float32)), ValueError,
     r"SimpleCNN: expected input of shape \(N, 1, 28, 28\), got \(2, 1, 32, 32\)"),
    # channel / feature mismatch
    (lambda: nn.Conv2d(1, 4, 3), lambda m: m(np.zeros((2, 3, 8, 8), np.float32)), ValueError,
     r"conv2d: expected input with 1 channels \(weight \(4, 1, 3, 3\)\), got input of shape \(2, 3, 8, 8\)"),
    (lambda: nn.Linear(4, 3), lambda m: m(np.zeros((2, 5), np.float32)), ValueError,
     r"linear: expected input with 4 features \(weight \(3, 4\)\), got input of shape \(2, 5\)"),
    # non-float dtypes
    (lambda: nn.Conv2d(1, 4, 3), lambda m: m(X32.astype(np.int64)), TypeError,
     r"conv2d input: expected dtype float32 or float64, got int64"),
    (lambda: nn.Conv2d(1, 4, 3), lambda m: m(X32.astype(np.float16)), TypeError,
     r"conv2d input: expected dtype float32 or float64, got float16"),
    (lambda: nn.Linear(4, 3), lambda m: m(np.zeros((2, 4), np.int32)), TypeError,
     r"linear input: expected dtype float32 or float64, got int32"),
    (lambda: nn.ReLU(), lambda m: m(np.zeros(3, np.int64)), TypeError,
     r"(?i)relu input: expected dtype float32 or float64, got int64"),
    (lambda: nn.ReLU(), lambda m: m(np.zeros(3, np.float16)), TypeError,
     r"(?i)relu input: expected dtype float32 or float64, got float16"),
    (lambda: nn.MaxPool2d(2), lambda m: m(X32.astype(np.uint8)), TypeError,
     r"(?i)max_?pool2d input: expected dtype float32 or float64, got uint8"),
    # mixed dtypes
    (lambda: nn.Conv2d(1, 4, 3), lambda m: m(X32.astype(np.float64)), TypeError,
     r"conv2d: expected input of dtype float32 \(the weight's\), got float64"),
    (lambda: nn.Linear(4, 3).to(np.float64), lambda m: m(np.zeros((2, 4), np.float32)), TypeError,
     r"linear: expected input of dtype float64 \(the weight's\), got float32"),
    # input smaller than the window
    (lambda: nn.Conv2d(1, 4, 5), lambda m: m(np.zeros((2, 1, 3, 8), np.float32)), ValueError,
     r"(?i)conv2d height: input size 3 with padding 0 is smaller than the kernel size 5"),
    (lambda: nn.Conv2d(1, 4, (1, 5), padding=(0, 1)), lambda m: m(np.zeros((2, 1, 3, 2), np.float32)), ValueError,
     r"(?i)conv2d width: input size 2 with padding 1 is smaller than the kernel size 5"),
    (lambda: nn.MaxPool2d(3), lambda m: m(np.zeros((2, 1, 2, 8), np.float32)), ValueError,
     r"(?i)max_?pool2d height: input size 2 with padding 0 is smaller than the kernel size 3"),
    # labels
    (lambda: nn.CrossEntropyLoss(), lambda m: m(np.zeros((2, 10), np.float32), np.array([3, 10])), ValueError,
     r"cross_entropy: expected class indices in \[0, 10\) or ignore_index=-100, got values in \[3, 10\]"),
    (lambda: nn.CrossEntropyLoss(), lambda m: m(np.zeros((2, 10), np.float32), np.array([3])), ValueError,
     r"cross_entropy: expected class-index target of shape \(2,\), got \(1,\)"),
    (lambda: nn.CrossEntropyLoss(), lambda m: m(np.zeros((2, 10), np.float32), np.array([True, False])), TypeError,
     r"cross_entropy: expected integer class indices or float probabilities as target, got dtype bool"),
    (lambda: nn.CrossEntropyLoss(), lambda m: m(np.zeros((2, 10), np.float32), np.zeros((2, 10), np.float64)),
     ValueError, r"cross_entropy: expected class-probability target of the input's shape \(2, 10\) and dtype "
                 r"float32, got \(2, 10\) float64"),
    # arguments torch refuses too, or minicnn does not compute: refused by name, never a different answer
    (lambda: nn.Conv2d(1, 4, 3), lambda m: F.conv2d(X32, m.weight, stride=2, padding="same"), ValueError,
     r"conv2d: padding='same' is not supported for strided convolutions, got stride=\(2, 2\)"),
    (lambda: nn.Conv2d(1, 4, 3), lambda m: F.conv2d(X32, m.weight, padding="full"), ValueError,
     r"conv2d padding: expected 'valid', 'same', an int or a pair of ints, got 'full'"),
    (lambda: nn.Conv2d(2, 4, 3, groups=2), lambda m: F.conv2d(X32, m.weight, groups=2), ValueError,
     r"conv2d: expected input with 2 channels \(weight \(4, 1, 3, 3\), groups=2\), got input of shape \(2, 1, 8, 8\)"),
    (lambda: nn.Conv2d(1, 4, 3), lambda m: F.conv2d(X32, m.weight, groups=3), ValueError,
     r"conv2d: expected out_channels 4 \(weight \(4, 1, 3, 3\)\) divisible by groups=3"),
    (lambda: nn.Conv2d(1, 4, 3, padding=8, padding_mode="reflect"), lambda m: m(X32), ValueError,
     r"conv2d: padding_mode='reflect' needs padding < the input height 8, got padding \(8, 8\)"),
    (lambda: nn.Conv2d(1, 4, 3, dilation=4), lambda m: m(X32), ValueError,
     r"conv2d height: input size 8 with padding \(0, 0\) is smaller than the dilated kernel's span 9"),
    (lambda: nn.MaxPool2d(2), lambda m: F.max_pool2d(X32, 2, ceil_mode="yes"), TypeError,
     r"max_pool2d ceil_mode: expected a bool, got 'yes'"),
    (lambda: nn.MaxPool2d(3, dilation=4), lambda m: m(X32), ValueError,
     r"max_pool2d height: input size 8 with padding 0 is smaller than the dilated kernel span 9"),
    (lambda: nn.MaxUnpool2d(2), lambda m: m(X32, np.full(X32.shape, 256)), ValueError,
     r"max_unpool2d: expected indices in \[0, 256\) for an output of 16x16, got values in \[256, 256\]"),
    (lambda: nn.MaxUnpool2d(2), lambda m: m(X32, np.zeros(X32.shape, np.int64), output_size=(20, 16)), ValueError,
     r"max_unpool2d output_size: expected sizes between 14 and 18 \(exclusive\), got \(20, 16\)"),
    (lambda: nn.CrossEntropyLoss(), lambda m: F.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=1.5),
     ValueError, r"cross_entropy: expected label_smoothing in \[0.0, 1.0\], got 1.5"),
    (lambda: nn.CrossEntropyLoss(), lambda m: F.cross_entropy(np.zeros((2, 3)), np.array([0, 1]),
                                                              weight=nn.Parameter(np.ones(3))),
     ValueError, r"cross_entropy: weight requires grad, but minicnn computes no gradient for the class weights"),
]


@pytest.mark.parametrize("make, call, error, match", BAD_CALLS)
def test_bad_input_names_the_layer_before_numba_runs(make, call, error, match, numba_tripwire):
    layer = make()
    with pytest.raises(error, match=match), numba_tripwire:
        call(layer)


@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.Conv2d(1, 4, 0), ValueError, r"Conv2d kernel_size: expected values >= 1, got \(0, 0\)"),
    (lambda: nn.Conv2d(1, 4, (3, -1)), ValueError, r"Conv2d kernel_size: expected values >= 1, got \(3, -1\)"),
    (lambda: nn.Conv2d(1, 4, 3, padding=-1), ValueError, r"Conv2d padding: expected values >= 0, got \(-1, -1\)"),
    (lambda: nn.Conv2d(1, 4, 3, stride=0), ValueError, r"Conv2d stride: expected values >= 1, got \(0, 0\)"),
    (lambda: nn.Conv2d(0, 4, 3), ValueError, r"Conv2d: expected in_channels >= 1, got 0"),
    (lambda: nn.Conv2d(1, 0, 3), ValueError, r"Conv2d: expected out_channels >= 1, got 0"),
    (lambda: nn.Conv2d(1.0, 4, 3), TypeError, r"Conv2d: expected in_channels as an int, got float"),
    (lambda: nn.Conv2d(1, 4, 2.5), TypeError, r"Conv2d kernel_size: expected an int or a pair of ints, got 2.5"),
    (lambda: nn.Linear(0, 3), ValueError, r"Linear: expected in_features >= 1, got 0"),
    (lambda: nn.Linear(3, -2), ValueError, r"Linear: expected out_features >= 1, got -2"),
    (lambda: nn.MaxPool2d(0), ValueError, r"MaxPool2d kernel_size: expected values >= 1, got \(0, 0\)"),
    (lambda: nn.MaxPool2d(2, stride=0), ValueError, r"MaxPool2d stride: expected values >= 1, got \(0, 0\)"),
    (lambda: nn.MaxPool2d(2, padding=-1), ValueError, r"MaxPool2d padding: expected values >= 0, got \(-1, -1\)"),
    (lambda: nn.MaxPool2d(2, padding=2), ValueError,
     r"MaxPool2d: expected padding at most half the kernel size \(2, 2\), got \(2, 2\)"),
    (lambda: nn.MaxPool2d(3, padding=(1, 2)), ValueError,
     r"MaxPool2d: expected padding at most half the kernel size \(3, 3\), got \(1, 2\)"),
    (lambda: nn.CrossEntropyLoss(reduction="avg"), ValueError,
     r"CrossEntropyLoss: expected reduction in \('mean', 'sum', 'none'\), got 'avg'"),
    (lambda: nn.CrossEntropyLoss(reduce=False), ValueError, r"CrossEntropyLoss: reduce=False is deprecated"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError,
     r"Conv2d: expected in_channels \(3\) and out_channels \(4\) divisible by groups \(2\)"),
    (lambda: nn.Conv2d(1, 4, 3, stride=2, padding="same"), ValueError,
     r"conv2d: padding='same' is not supported for strided convolutions"),
    (lambda: nn.Conv2d(1, 4, 3, padding_mode="mirror"), ValueError,
     r"Conv2d: expected padding_mode in \('zeros', 'reflect', 'replicate', 'circular'\), got 'mirror'"),
])
def test_bad_constructor_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_no_grad_records_nothing_and_restores_the_mode():
    model = SimpleCNN()
    x = np.zeros((2, 1, 28, 28), np.float32)
    with nn.no_grad():
        assert not nn.is_grad_enabled()
        out = model(x)
    assert nn.is_grad_enabled()
    assert out.grad_fn is None and not out.requires_grad
    with pytest.raises(RuntimeError, match=r"element 0 of tensors does not require grad"):
        out.sum().backward()
    np.testing.assert_array_equal(model(x), out)  # the same numbers with grad enabled
