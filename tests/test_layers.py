"""minicnn.nn and SimpleCNN: dtypes, float64 gradient checks, gradient accumulation, the Module
API (names, state_dict, dtype casts, initialisation) and input validation."""
import math

import numpy as np
import pytest

import minicnn
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
        (nn.Hardswish(inplace=True), 4 * rng.standard_normal((2, 3, 4))),
        (nn.GELU(approximate="tanh"), rng.standard_normal((2, 3, 4))),
        (nn.ELU(0.5), rng.standard_normal((3, 4))),
        (nn.Softplus(2, 1), rng.standard_normal((3, 4))),
        (nn.MaxPool2d(2), rng.standard_normal((2, 3, 6, 5))),
        (nn.Flatten(), rng.standard_normal((2, 3, 4, 5))),
        (nn.GroupNorm(2, 4), rng.standard_normal((2, 4, 3, 2))),
        (nn.InstanceNorm2d(3, affine=True), rng.standard_normal((2, 3, 4, 3))),
        (small_net(), rng.standard_normal((2, 2, 6, 4))),
        (SimpleCNN(), rng.standard_normal((2, 1, 28, 28))),
        (nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1, groups=2),
         rng.standard_normal((2, 2, 4, 3))),
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
    layer.weight.data = layer.weight.data.double()
    layer.bias.data = layer.bias.data.double()
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


CONV_TRANSPOSE_CASES = [
    dict(in_channels=2, out_channels=3, kernel_size=3),
    dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1, output_padding=1),
    dict(in_channels=4, out_channels=2, kernel_size=(2, 3), stride=(3, 1), padding=(0, 1), groups=2, bias=False),
    dict(in_channels=1, out_channels=2, kernel_size=2, output_padding=1, dilation=(2, 3)),
]


@pytest.mark.parametrize("kwargs", CONV_TRANSPOSE_CASES, ids=lambda k: ",".join(f"{a}={v}" for a, v in k.items()))
def test_conv_transpose2d_gradients(kwargs):
    rng = np.random.default_rng(5)
    layer = nn.ConvTranspose2d(**kwargs).to(np.float64)
    x = rng.standard_normal((2, kwargs["in_channels"], 4, 3))
    names = ["weight", "bias", "input"] if kwargs.get("bias", True) else ["weight", "input"]
    assert_gradcheck(check_module(layer, x, rng), names)


def test_conv_transpose2d_repr_and_shapes_are_torch_s(torch):
    for args, kwargs in [((2, 4, 3), {}), ((2, 4, (3, 2)), dict(stride=2, padding=(1, 0), output_padding=1)),
                         ((4, 6, 3), dict(stride=(2, 1), groups=2, bias=False, dilation=2, output_padding=(1, 0)))]:
        ours, theirs = nn.ConvTranspose2d(*args, **kwargs), torch.nn.ConvTranspose2d(*args, **kwargs)
        assert repr(ours) == repr(theirs)
        assert {k: v.shape for k, v in ours.state_dict().items()} == {
            k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        x = np.zeros((1, args[0], 5, 4), np.float32)
        assert ours(x).shape == tuple(theirs(torch.from_numpy(x)).shape)


def test_conv_transpose2d_output_size_picks_the_output_padding():
    """``output_size`` picks among the sizes stride > 1 leaves open (torch's rule): (9, 9) to (10, 10) here."""
    layer = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2).to(np.float64)
    x = np.random.default_rng(0).standard_normal((1, 4, 5, 5))
    assert layer(x).shape == (1, 6, 9, 9)
    assert layer(x, output_size=(10, 9)).shape == (1, 6, 10, 9)
    assert layer(x, output_size=[1, 6, 10, 10]).shape == (1, 6, 10, 10)   # the leading dims may come too
    assert layer(x[0], output_size=(6, 10, 9)).shape == (6, 10, 9)        # unbatched: one leading dim
    np.testing.assert_array_equal(layer(x, output_size=(10, 10)).data[:, :, :9, :9], layer(x).data)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: requested an output size of \(11, 10\), but valid sizes "
                                         r"range from \[9, 9\] to \[10, 10\] \(for an input of \(5, 5\)\)"):
        layer(x, output_size=(11, 10))
    with pytest.raises(ValueError, match=r"for 4D input, output_size must have 2 or 4 elements \(got 3\)"):
        layer(x, output_size=(6, 10, 10))
    with pytest.raises(TypeError, match=r"ConvTranspose2d: expected output_size as a sequence of ints, got 10"):
        layer(x, output_size=10)


def test_conv_transpose2d_refuses_what_torch_refuses_at_construction():
    with pytest.raises(ValueError, match='ConvTranspose2d: only "zeros" padding mode is supported'):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"divisible by groups \(2\)"):
        nn.ConvTranspose2d(3, 2, 3, groups=2)
    with pytest.raises(TypeError, match=r"ConvTranspose2d padding: expected an int or a pair of ints, got 'same'"):
        nn.ConvTranspose2d(2, 2, 3, padding="same")
    layer = nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)   # torch refuses it in the forward too
    with pytest.raises(ValueError, match=r"conv_transpose2d: expected output_padding smaller than either stride"):
        layer(np.zeros((1, 2, 3, 3), np.float32))


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients(bias):
    rng = np.random.default_rng(2)
    assert_gradcheck(check_module(nn.Linear(6, 4, bias=bias).to(np.float64), rng.standard_normal((3, 6)), rng),
                     ["weight", "bias", "input"] if bias else ["weight", "input"])


def test_relu_gradients():
    rng = np.random.default_rng(3)
    assert_gradcheck(check_module(nn.ReLU(), away_from_zero(rng, (2, 3, 5)), rng), ["input"])


# inputs at least 0.05 from every kink (hardsigmoid's and hardswish's at -3 and 3, ELU's at 0, softplus's where
# beta * x = threshold: x = 0.75 for Softplus(2, 1.5)); the smooth ones are checked at every entry
ACTIVATIONS = [nn.Hardsigmoid(), nn.Hardswish(), nn.SiLU(), nn.GELU(), nn.GELU("tanh"), nn.ELU(0.3), nn.ELU(),
               nn.Softplus(), nn.Softplus(2, 1.5)]


@pytest.mark.parametrize("layer", ACTIVATIONS, ids=repr)
def test_activation_gradients(layer):
    rng = np.random.default_rng(12)
    x = 4 * away_from_zero(rng, (3, 4, 5))
    x[np.abs(np.abs(x) - 3) < 0.05] += 0.1
    x[np.abs(x - 0.75) < 0.05] += 0.1
    assert_gradcheck(check_module(layer, x, rng), ["input"])


def test_activation_reprs_are_torch_s(torch):
    for ours, theirs in [(nn.Hardsigmoid(True), torch.nn.Hardsigmoid(True)), (nn.Hardswish(), torch.nn.Hardswish()),
                         (nn.SiLU(inplace=True), torch.nn.SiLU(inplace=True)), (nn.GELU(), torch.nn.GELU()),
                         (nn.GELU("tanh"), torch.nn.GELU("tanh")), (nn.ELU(2, True), torch.nn.ELU(2, True)),
                         (nn.ELU(), torch.nn.ELU()), (nn.Softplus(0.5, 3), torch.nn.Softplus(0.5, 3))]:
        assert repr(ours) == repr(theirs)


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
    """SimpleCNN(fused=True) fuses conv -> ReLU -> pool; SimpleCNN() runs the three layers."""
    rng = np.random.default_rng(10)
    manual_seed(10)
    fused = SimpleCNN(fused=True).to(dtype)
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
        x_tensor = Tensor.wrap(x, requires_grad=True)
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
    assert len(list(model.parameters())) == 8
    assert next(model.parameters()) is model.conv1.weight  # a generator, as torch's


def test_sequential_keys_are_indices():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(net) == 3 and isinstance(net[1], nn.ReLU)
    with pytest.raises(TypeError, match=r"Sequential: expected Module arguments, got function at 1"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_state_dict_returns_the_live_arrays_as_torch():
    model = SimpleCNN()
    sd = model.state_dict()
    sd["fc2.bias"][:] = 123.0  # in torch too, writing into an entry writes into the model
    assert np.all(model.fc2.bias.array == 123.0)
    assert all(v is p.array for v, p in zip(sd.values(), model.parameters()))
    for p in model.parameters():
        p.grad = np.ones_like(p.array)
    minicnn.optim.SGD(model.parameters(), lr=1.0).step()  # an update shows in the entries taken before it
    assert np.all(sd["fc2.bias"] == 122.0)
    model.load_state_dict({k: np.zeros_like(v) for k, v in sd.items()})  # loading copies in place
    assert all(v is p.array and not v.any() for v, p in zip(sd.values(), model.parameters()))
    assert all(p is q for p, q in zip(model.state_dict(keep_vars=True).values(), model.parameters()))


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
    assert not np.any(target.fc2.bias.array == 7.0)


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
    before = model.fc2.bias.array.copy()
    assert model.load_state_dict({"fc2.weight": np.zeros((10, 128)), "extra": np.zeros(1)}, strict=False) == (
        [k for k in SIMPLE_CNN_KEYS if k != "fc2.weight"], ["extra"])
    np.testing.assert_array_equal(model.fc2.weight.data, 0)
    np.testing.assert_array_equal(model.fc2.bias.data, before)


@pytest.mark.parametrize("make, fan_in", [(lambda: nn.Conv2d(16, 64, 3), 16 * 9),
                                          (lambda: nn.Conv2d(3, 40, (5, 2)), 3 * 10),
                                          (lambda: nn.ConvTranspose2d(40, 48, 3, groups=2), 24 * 9),
                                          (lambda: nn.ConvTranspose2d(64, 3, (2, 5)), 3 * 10),
                                          (lambda: nn.Linear(3136, 128), 3136),
                                          (lambda: nn.Linear(128, 10), 128)])
def test_initialisation_matches_torch_bounds(make, fan_in):
    manual_seed(0)
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        w = p.array.astype(np.float64)
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
    (lambda: nn.GELU(), lambda m: m(np.zeros(3, np.int32)), TypeError,
     r"gelu input: expected dtype float32 or float64, got int32"),
    (lambda: nn.SiLU(), lambda m: F.silu(np.zeros(3), inplace="yes"), TypeError,
     r"silu: expected inplace as a bool, got str"),
    (lambda: nn.ELU(), lambda m: F.elu(np.zeros(3), alpha=None), TypeError,
     r"elu: expected alpha as a number, got NoneType"),
    (lambda: nn.GELU(), lambda m: F.gelu(np.zeros(3), approximate="exact"), ValueError,
     r"gelu: expected approximate 'none' or 'tanh', got 'exact'"),
    (lambda: nn.Softplus(), lambda m: F.softplus(np.zeros(3), 1.0, "20"), TypeError,
     r"softplus: expected threshold as a number, got str"),
    (lambda: nn.Hardswish(), lambda m: m([1.0, 2.0]), TypeError,
     r"hardswish input: expected a minicnn.Tensor or numpy.ndarray, got list"),
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
    (lambda: nn.Linear(-1, 3), ValueError, r"Linear: expected in_features >= 0, got -1"),
    (lambda: nn.Linear(3, -2), ValueError, r"Linear: expected out_features >= 0, got -2"),
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
    (lambda: nn.GELU("erf"), ValueError, r"GELU: expected approximate 'none' or 'tanh', got 'erf'"),
    (lambda: nn.GELU(None), TypeError, r"GELU: expected approximate as a str, 'none' or 'tanh', got NoneType"),
    (lambda: nn.ELU("1.0"), TypeError, r"ELU: expected alpha as a number, got str"),
    (lambda: nn.ELU(1.0, inplace="yes"), TypeError, r"ELU: expected inplace as a bool, got str"),
    (lambda: nn.Softplus(beta=True), TypeError, r"Softplus: expected beta as a number, got bool"),
    (lambda: nn.Softplus(threshold=None), TypeError, r"Softplus: expected threshold as a number, got NoneType"),
    (lambda: nn.SiLU(inplace=1), TypeError, r"SiLU: expected inplace as a bool, got int"),
    (lambda: nn.Hardsigmoid(None), TypeError, r"Hardsigmoid: expected inplace as a bool, got NoneType"),
    (lambda: nn.Hardswish("no"), TypeError, r"Hardswish: expected inplace as a bool, got str"),
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


# --------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_mask_distribution_and_scaling(p):
    manual_seed(0)
    x = np.ones((200, 500))
    out = nn.Dropout(p)(x).array
    dropped = float(np.mean(out == 0))
    sigma = np.sqrt(p * (1 - p) / x.size)
    assert abs(dropped - p) < 5 * sigma, (dropped, p)          # Bernoulli(p) per element
    np.testing.assert_allclose(out[out != 0], 1 / (1 - p), rtol=1e-15)  # kept ones scaled by 1/(1-p)
    assert abs(out.mean() - 1) < 5 * np.sqrt(p / (1 - p) / x.size)  # so the expectation is kept


def test_dropout_masks_are_independent_across_elements_and_calls():
    manual_seed(1)
    layer = nn.Dropout(0.5)
    a, b = layer(np.ones((100, 100))).array != 0, layer(np.ones((100, 100))).array != 0
    assert abs(np.mean(a == b) - 0.5) < 0.03  # a second call draws a new mask
    assert abs(np.corrcoef(a[:, :-1].ravel(), a[:, 1:].ravel())[0, 1]) < 0.05  # neighbours independent


def test_dropout_same_seed_same_mask_and_eval_is_the_identity():
    x = np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32)
    layer = nn.Dropout(0.3)
    manual_seed(42)
    first = layer(x).data
    manual_seed(42)
    np.testing.assert_array_equal(layer(x).data, first)
    manual_seed(43)
    assert not np.array_equal(layer(x).data, first)
    layer.eval()
    t = minicnn.tensor(x, requires_grad=True)
    out = layer(t)
    assert out is t  # nothing recorded, nothing copied
    assert first.dtype == np.float32


def test_dropout_backward_uses_the_forward_mask():
    manual_seed(3)
    t = minicnn.tensor(np.random.default_rng(0).standard_normal((4, 50)), requires_grad=True)
    out = nn.Dropout(0.4)(t)
    out.sum().backward()
    np.testing.assert_array_equal(t.grad, (out.array != 0) / 0.6)


def test_dropout2d_zeroes_whole_channels():
    manual_seed(5)
    x = np.random.default_rng(0).standard_normal((16, 8, 3, 3)) + 10  # no zeros of its own
    out = nn.Dropout2d(0.5)(x).array
    zero = (out == 0).reshape(16, 8, -1)
    assert (zero.all(axis=2) | ~zero.any(axis=2)).all()   # a channel is dropped whole or not at all
    assert 0.3 < zero.all(axis=2).mean() < 0.7
    kept = ~zero.all(axis=2)
    np.testing.assert_allclose(out[kept], 2 * x[kept])


def test_dropout_p_edges_and_refusals():
    x = np.ones((3, 4))
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).data, x)
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).data, 0)  # torch: zeros, not nan
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            nn.Dropout(bad)
    # inplace=True: torch's value, computed out of place (the input stays as it was)
    torch_like = nn.Dropout(0.0, inplace=True)
    assert repr(torch_like) == "Dropout(p=0.0, inplace=True)"
    np.testing.assert_array_equal(torch_like(x).data, x)
    with pytest.raises(TypeError, match="Dropout: expected inplace as a bool, got str"):
        nn.Dropout(0.5, inplace="yes")
    with pytest.raises(ValueError, match=r"dropout2d: expected a 3-D \(N, C, L\) or 4-D"):
        F.dropout2d(np.ones((2, 3)))


# --------------------------------------------------------------------------- batch norm over several steps
@pytest.mark.parametrize("momentum", [0.1, 0.7, None, -0.3, 1.5])  # any number, as torch
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_batch_norm_running_stats_after_train_steps_and_eval_output_match_torch(momentum, dtype, rtol, torch):
    rng = np.random.default_rng(0)
    ours = nn.BatchNorm2d(4, momentum=momentum).to(dtype)
    theirs = torch.nn.BatchNorm2d(4, momentum=momentum).to(getattr(torch, np.dtype(dtype).name))
    for step in range(5):  # batches of different sizes, means and spreads
        x = (rng.uniform(0.5, 3) * rng.standard_normal((2 + step, 4, 3, 5)) + rng.normal(0, 5, (1, 4, 1, 1)))
        x = x.astype(dtype)
        y = ours(x)
        y_t = theirs(torch.from_numpy(x))
        np.testing.assert_allclose(y.data, y_t.detach().numpy(), rtol=rtol, atol=rtol)
    state, state_t = ours.state_dict(), theirs.state_dict()
    assert list(state) == list(state_t)
    for key in state:
        assert state[key].dtype == state_t[key].numpy().dtype, key
        np.testing.assert_allclose(state[key], state_t[key].numpy(), rtol=rtol, err_msg=key)
    assert int(ours.num_batches_tracked) == 5
    x = rng.standard_normal((3, 4, 3, 5)).astype(dtype)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).detach().numpy(), rtol=rtol, atol=rtol)
    assert int(ours.num_batches_tracked) == 5  # evaluation does not count


def test_batch_norm_without_running_stats_uses_batch_stats_in_eval(torch):
    x = np.random.default_rng(0).standard_normal((4, 3, 2, 2))
    ours = nn.BatchNorm2d(3, track_running_stats=False).double().eval()
    theirs = torch.nn.BatchNorm2d(3, track_running_stats=False).double().eval()
    assert ours.state_dict().keys() == theirs.state_dict().keys() == {"weight", "bias"}
    np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


def test_batch_norm_state_dict_round_trips_through_torch_and_dtype(torch):
    rng = np.random.default_rng(1)
    ours = nn.BatchNorm1d(3)
    ours(rng.standard_normal((5, 3)).astype(np.float32))
    theirs = torch.nn.BatchNorm1d(3)
    theirs.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in ours.state_dict().items()})
    again = nn.BatchNorm1d(3)
    again.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for key, value in ours.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[key], value)
    ours.double()
    assert ours.running_mean.dtype == np.float64 and ours.num_batches_tracked.dtype == np.int64


def test_batch_norm_refuses_bad_arguments():
    with pytest.raises(ValueError, match="BatchNorm2d: expected eps > 0"):
        nn.BatchNorm2d(3, eps=0)
    with pytest.raises(TypeError, match=r"BatchNorm2d: expected momentum as a number, got str"):
        nn.BatchNorm2d(3, momentum="0.1")
    with pytest.raises(TypeError, match=r"BatchNorm1d: expected momentum as a number, got bool"):
        nn.BatchNorm1d(3, momentum=True)
    x, mean, var = np.ones((2, 3)), np.zeros(3), np.ones(3)
    with pytest.raises(TypeError, match=r"batch_norm: expected momentum as a number, got NoneType"):
        F.batch_norm(x, mean, var, training=True, momentum=None)  # (torch's functional takes no None either)
    assert nn.BatchNorm2d(3, momentum=-1).momentum == -1 and nn.BatchNorm2d(3, momentum=2.5).momentum == 2.5
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected a 4-D input, got shape \(2, 3\)"):
        nn.BatchNorm2d(3)(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"batch_norm: expected input of dtype float32 \(the weight's\), got float64"):
        nn.BatchNorm1d(3)(np.ones((2, 3)))


# --------------------------------------------------------------------------- instance norm over several steps
@pytest.mark.parametrize("momentum", [0.1, 0.7, None])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_instance_norm_running_stats_after_train_steps_and_eval_output_match_torch(momentum, dtype, rtol, torch):
    """Five training steps (batches of different sizes, means and spreads, one of them unbatched), then
    evaluation with the running statistics: the outputs and the state_dict as torch's (momentum None is
    torch's 0.0 here: the running statistics stay at zeros and ones; num_batches_tracked stays 0)."""
    rng = np.random.default_rng(0)
    ours = nn.InstanceNorm2d(4, momentum=momentum, affine=True, track_running_stats=True).to(dtype)
    theirs = torch.nn.InstanceNorm2d(4, momentum=momentum, affine=True, track_running_stats=True)
    theirs.to(getattr(torch, np.dtype(dtype).name))
    for step in range(5):
        shape = (4, 3, 5) if step == 2 else (1 + step, 4, 3, 5)
        x = rng.uniform(0.5, 3) * rng.standard_normal(shape) + rng.normal(0, 5, shape[:-2] + (1, 1))
        x = x.astype(dtype)
        np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).detach().numpy(), rtol=rtol, atol=rtol)
    state, state_t = ours.state_dict(), theirs.state_dict()
    assert list(state) == list(state_t) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    for key in state:
        assert state[key].dtype == state_t[key].numpy().dtype, key
        np.testing.assert_allclose(state[key], state_t[key].numpy(), rtol=rtol, err_msg=key)
    assert int(ours.num_batches_tracked) == 0
    if momentum is None:
        assert not ours.running_mean.any() and (ours.running_var == 1).all()
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((3, 4, 3, 5)).astype(dtype)
    np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).detach().numpy(), rtol=rtol, atol=rtol)


def test_instance_norm_running_stats_average_each_instances_unbiased_variance():
    """Channel 0 holds (1, 3) in sample 0 and (0, 4) in sample 1: instance means 2 and 2, unbiased variances
    2 and 8 (biased: 1 and 4); with momentum 0.5 from zeros and ones the running mean becomes 0.5 * 2 = 1
    and the running variance 0.5 * 1 + 0.5 * (2 + 8) / 2 = 3."""
    x = np.array([[[[1.0, 3.0]], [[5.0, 5.0]]], [[[0.0, 4.0]], [[1.0, 7.0]]]])   # (2, 2, 1, 2)
    for impl in ("fast", "naive"):
        layer = nn.InstanceNorm2d(2, momentum=0.5, track_running_stats=True).double()
        with minicnn.kernels.use(impl):
            layer(x)
        np.testing.assert_allclose(layer.running_mean, [1.0, 0.5 * (5.0 + 4.0) / 2], rtol=1e-15)
        np.testing.assert_allclose(layer.running_var, [3.0, 0.5 + 0.5 * (0.0 + 18.0) / 2], rtol=1e-15)
        rm, rv = np.zeros(2), np.ones(2)
        F.instance_norm(x, rm, rv, momentum=0.5, use_input_stats=False)    # evaluation moves nothing
        assert not rm.any() and (rv == 1).all()


def test_instance_norm_and_group_norm_refuse_bad_arguments():
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected a 3-D \(unbatched\) or 4-D \(batched\) input"):
        nn.InstanceNorm2d(3)(np.ones((2, 3)))
    with pytest.raises(TypeError, match="InstanceNorm2d: expected eps as a number, got str"):
        nn.InstanceNorm2d(3, eps="1e-5")
    with pytest.raises(TypeError, match="InstanceNorm2d: expected momentum as a number, got str"):
        nn.InstanceNorm2d(3, momentum="0.1")
    with pytest.raises(ValueError, match="InstanceNorm2d: expected num_features >= 1, got 0"):
        nn.InstanceNorm2d(0)
    with pytest.raises(ValueError, match="GroupNorm: expected num_groups >= 1, got 0"):
        nn.GroupNorm(0, 4)
    with pytest.raises(TypeError, match="GroupNorm: expected num_channels as an int, got float"):
        nn.GroupNorm(2, 4.0)
    with pytest.raises(TypeError, match=r"instance_norm: expected momentum as a number, got NoneType"):
        F.instance_norm(np.ones((2, 3, 4)), np.zeros(3), np.ones(3), momentum=None)
    with pytest.raises(ValueError, match="instance_norm: expected running_mean and running_var both None or neither"):
        F.instance_norm(np.ones((2, 3, 4)), np.zeros(3))
    with pytest.raises(ValueError, match="instance_norm: expected more than 1 spatial element when training"):
        F.instance_norm(np.ones((2, 3, 1)))
    with pytest.raises(ValueError, match="group_norm: expected more than 1 value per channel when training"):
        F.group_norm(np.ones((1, 4)), 4)
    with pytest.raises(TypeError, match=r"group_norm: expected input of dtype float32 \(the weight's\), got float64"):
        nn.GroupNorm(2, 4)(np.ones((2, 4, 3)))


def test_instance_norm_of_an_empty_batch_makes_the_running_statistics_nan_as_torch(torch):
    """torch averages the instances' statistics over the batch: over no instances, NaN; empty instances of a
    non-empty batch leave the running statistics as they were."""
    for shape in ((0, 3, 4, 4), (2, 3, 0, 4)):
        ours = nn.InstanceNorm2d(3, track_running_stats=True).double()
        theirs = torch.nn.InstanceNorm2d(3, track_running_stats=True).double()
        x = np.zeros(shape)
        assert ours(x).shape == tuple(theirs(torch.from_numpy(x)).shape) == shape
        np.testing.assert_array_equal(ours.running_mean, theirs.running_mean.numpy())
        np.testing.assert_array_equal(ours.running_var, theirs.running_var.numpy())


def test_batch_norm_backward_through_the_engine_matches_torch_in_train_mode(torch):
    """Through a conv and a sum that weights each output (a non-trivial upstream gradient)."""
    rng = np.random.default_rng(2)
    manual_seed(0)
    conv, bn = nn.Conv2d(2, 3, 3).double(), nn.BatchNorm2d(3).double()
    conv_t, bn_t = torch.nn.Conv2d(2, 3, 3).double(), torch.nn.BatchNorm2d(3).double()
    conv_t.load_state_dict({k: torch.from_numpy(v) for k, v in conv.state_dict().items()})
    x, g = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((2, 3, 4, 4))
    (bn(conv(x)) * g).sum().backward()
    (bn_t(conv_t(torch.from_numpy(x))) * torch.from_numpy(g)).sum().backward()
    for ours, theirs in ((conv.weight, conv_t.weight), (conv.bias, conv_t.bias), (bn.weight, bn_t.weight),
                         (bn.bias, bn_t.bias)):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-13)


# --------------------------------------------------------------------------- softmax's implicit dim
def test_softmax_without_dim_warns_and_chooses_like_torch(torch):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        ours = nn.Softmax()(x).data
    with pytest.warns(UserWarning):
        theirs = torch.nn.Softmax()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


# --------------------------------------------------------------------------- L1
def test_l1_penalty_matches_torch_value_and_gradient():
    from minicnn.models import SimpleCNNBN
    from reference import models as ref_models
    manual_seed(0)
    model = SimpleCNNBN().double()
    model_t = ref_models.load_numpy_state_dict(ref_models.SimpleCNNBN().double(), model.state_dict())
    model.fc1.weight.data[0, :3] = 0  # |w| at 0: both give the gradient 0 there
    model_t.fc1.weight.data[0, :3] = 0
    penalty = minicnn.l1_penalty(model)
    weights_t = [p for name, p in model_t.named_parameters() if name.endswith("weight") and p.ndim >= 2]
    penalty_t = sum(p.abs().sum() for p in weights_t)
    assert penalty.shape == () and penalty.dtype == np.float64
    assert penalty.item() == pytest.approx(penalty_t.item(), rel=1e-12)
    (2.5 * penalty).backward()
    (2.5 * penalty_t).backward()
    for (name, p), (_, p_t) in zip(model.named_parameters(), model_t.named_parameters()):
        if p_t.grad is None:  # biases and batch norm's 1-D weight/bias are not penalised
            assert p.grad is None, name
            assert name.endswith("bias") or name.startswith("bn"), name
        else:
            np.testing.assert_array_equal(p.grad, p_t.grad.numpy(), err_msg=name)
    assert {n for n, p in model.named_parameters() if p.grad is not None} == {
        "conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"}
    assert (model.fc1.weight.grad[0, :3] == 0).all()


def test_l1_penalty_of_given_parameters_includes_everything_given_and_trains():
    manual_seed(0)
    layer = nn.Linear(3, 2).double()
    assert minicnn.l1_penalty(layer.parameters()).item() == pytest.approx(
        np.abs(layer.weight.data).sum() + np.abs(layer.bias.data).sum())
    x, y = np.random.default_rng(0).standard_normal((4, 3)), np.array([0, 1, 1, 0])
    opt = minicnn.optim.SGD(layer.parameters(), lr=0.1)
    before = np.abs(layer.weight.data).sum()
    for _ in range(20):  # a strong L1 term alone shrinks the weights towards 0
        loss = 0 * nn.CrossEntropyLoss()(layer(x), y) + 1.0 * minicnn.l1_penalty(layer)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert np.abs(layer.weight.data).sum() < before - 1
    with pytest.raises(TypeError, match="l1_penalty: expected a Module or an iterable of Parameters, got int"):
        minicnn.l1_penalty([layer.weight, 3])


# --------------------------------------------------------------------------- the gradient check can fail
def test_gradcheck_catches_a_batch_norm_backward_that_ignores_the_batch_statistics(monkeypatch, capsys):
    """The eval-mode formula in training (dx = weight * invstd * dy, no mean/variance terms) must fail."""
    from minicnn import cli
    from minicnn.kernels import norm
    real = norm.batch_norm_backward

    def eval_formula(dout, cache, need_input_grad=True):
        return real(dout, cache._replace(training=False), need_input_grad)
    monkeypatch.setattr(minicnn.kernels.IMPLEMENTATIONS["fast"], "batch_norm_backward", eval_formula)
    assert cli.main(["gradcheck"]) == 1
    out = capsys.readouterr().out
    failed = [line for line in out.splitlines() if line.endswith("FAIL")]
    assert any(line.startswith("BatchNorm2d(3), train, batch 2") and " input " in line for line in failed)
    assert not any(line.startswith("BatchNorm2d(3), eval") for line in failed)


def test_gradcheck_table_has_every_layer_and_passes(capsys):
    from minicnn import cli
    assert cli.main(["gradcheck"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.endswith(("pass", "FAIL"))]
    for layer in ("BatchNorm2d(3), train, batch 2", "BatchNorm2d(2), train, batch 3", "BatchNorm1d", "BatchNormReLU2d",
                  "BatchNorm2d(3), eval", "LocalResponseNorm", "Sigmoid", "Tanh", "LeakyReLU", "Softmax", "LogSoftmax", "AvgPool2d",
                  "Hardsigmoid", "Hardswish", "SiLU", "GELU()", "GELU(approximate='tanh')", "ELU", "Softplus",
                  "ZeroPad2d", "ConstantPad2d", "ReflectionPad2d", "ReplicationPad2d", "CircularPad2d", "ZeroPad3d",
                  "ConstantPad3d", "ReflectionPad3d", "ReplicationPad3d", "CircularPad3d",
                  "PixelShuffle", "PixelUnshuffle", "PReLU(3", "PReLU()",
                  "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Dropout(", "Dropout2d", "MSELoss", "NLLLoss",
                  "BCEWithLogitsLoss", "BCELoss(", "LeNet5", "BasicBlock", "ConvTranspose2d(4, 6, 3",
                  "ConvTranspose2d(2, 3, 3", "LayerNorm", "GroupNorm(2, 6), weight", "GroupNorm(2, 6, affine=False)",
                  "InstanceNorm2d(3, affine=True), train", "InstanceNorm2d(2), unbatched",
                  "InstanceNorm2d(3, affine=True, track_running_stats=True), eval",
                  "Upsample(scale_factor=1.7), nearest", "Upsample(size=(5, 3), mode='nearest-exact')",
                  "Upsample(scale_factor=(1.5, 0.6), mode='bilinear')", "UpsamplingBilinear2d",
                  "Upsample(scale_factor=(1.7, 0.6), mode='bicubic')",
                  "Upsample(size=(7, 3), mode='bicubic', align_corners=True)"):
        assert any(r.startswith(layer) for r in rows), layer
    assert all(r.endswith("pass") for r in rows)
    assert max(float(r.split()[-4]) for r in rows) < 1e-7  # far below the threshold, not just under it


@pytest.mark.parametrize("features", [(0, 3), (3, 0), (0, 0)])
def test_linear_with_no_features_is_torchs_empty_layer(features):
    """torch accepts Linear(0, n) and Linear(n, 0): the output is the bias (drawn from U(-0, 0): zeros),
    or has no columns; the gradients have the parameters' shapes."""
    import torch
    ours, theirs = nn.Linear(*features), torch.nn.Linear(*features)
    assert repr(ours) == repr(theirs) and ours.weight.shape == tuple(theirs.weight.shape)
    assert np.array_equal(ours.bias.detach().numpy(), np.zeros(features[1], np.float32))
    x = minicnn.randn(2, features[0], requires_grad=True)
    out = ours(x)
    out.sum().backward()
    assert out.shape == (2, features[1]) and np.array_equal(out.detach().numpy(), np.zeros((2, features[1])))
    assert ours.weight.grad.shape == ours.weight.shape and np.asarray(x.grad).shape == x.shape
    assert np.array_equal(np.asarray(ours.bias.grad), np.full(features[1], 2.0))


@pytest.mark.parametrize("layer", ["MaxPool2d", "AvgPool2d"])
@pytest.mark.parametrize("stride", [(), []])
def test_pooling_with_an_empty_stride_uses_the_kernel_size_as_torch(layer, stride):
    import torch
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6)).astype(np.float32)
    ours = getattr(nn, layer)((2, 3), stride=stride)(minicnn.tensor(x))
    theirs = getattr(torch.nn, layer)((2, 3), stride=stride)(torch.from_numpy(x))
    assert ours.shape == tuple(theirs.shape) == (1, 2, 3, 2)
    assert np.allclose(ours.numpy(), theirs.numpy(), atol=1e-6)


@pytest.mark.parametrize("kwargs", [{}, {"affine": False}, {"bias": False}, {"momentum": None, "bias": False}])
def test_batch_norm_has_torchs_keyword_only_bias(kwargs):
    """torch's BatchNorm takes bias=False (a scale without a shift) and prints bias= in its repr."""
    import torch
    ours, theirs = nn.BatchNorm2d(3, **kwargs).double(), torch.nn.BatchNorm2d(3, **kwargs).double()
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 3, 2, 2))
    out = ours(minicnn.tensor(x))
    assert np.allclose(out.detach().numpy(), theirs(torch.from_numpy(x)).detach().numpy(), atol=1e-12)
    with pytest.raises(TypeError):
        nn.BatchNorm2d(3, 1e-5, 0.1, True, True, False)   # keyword-only, as torch's


@pytest.mark.parametrize("args, kwargs", [((1, 32, 3), {}), ((1, 32, 3, 1, 1), {}), ((2, 4, 3, 2, 1, 2, 2, False), {}),
                                          ((3, 3, 3), {"padding_mode": "reflect", "padding": 1}),
                                          ((1, 2, 3), {"padding": "same"})])
def test_conv2d_repr_is_torchs(args, kwargs):
    """torch leaves out each argument at its default (padding 0, bias=True …): programs print their models."""
    import torch
    assert repr(nn.Conv2d(*args, **kwargs)) == repr(torch.nn.Conv2d(*args, **kwargs))
