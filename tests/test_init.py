"""``minicnn.nn.init`` against ``torch.nn.init``: the same gains and fans, the same refusals, draws whose
statistics are torch's formulas (and match torch's own draws), in place and from minicnn's seeded generator."""
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn import Tensor, nn
from minicnn.nn import init

SHAPES = [(64, 32), (32, 16, 3, 3), (16, 8, 5, 5), (8, 4, 3), (6, 3, 2, 2, 2), (10, 1), (1, 10)]
BIG = (512, 64, 3, 3)  # 294,912 draws: a standard deviation estimated to about 0.13 %


def param(shape, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype))


# --------------------------------------------------------------------------- gains and fans
@pytest.mark.parametrize("nonlinearity, p", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None), ("conv_transpose2d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
    ("leaky_relu", 1), ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_is_torch_s(nonlinearity, p):
    assert init.calculate_gain(nonlinearity, p) == torch.nn.init.calculate_gain(nonlinearity, p)


@pytest.mark.parametrize("nonlinearity, p, match", [("softplus", None, "unsupported nonlinearity 'softplus'"),
                                                     ("leaky_relu", True, "negative_slope True not a valid number"),
                                                     ("leaky_relu", "0.1", "not a valid number")])
def test_calculate_gain_refuses_what_torch_refuses(nonlinearity, p, match):
    with pytest.raises(ValueError, match=match):
        init.calculate_gain(nonlinearity, p)
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain(nonlinearity, p)


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(0, 6), min_size=2, max_size=5))
def test_fans_are_torch_s_for_every_shape(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.calculate_fan_in_and_fan_out(param(shape)) == expected
    assert init._calculate_fan_in_and_fan_out(param(shape)) == expected  # the name torch model code calls


@pytest.mark.parametrize("layer, theirs", [(lambda: nn.Conv2d(3, 8, 5), lambda: torch.nn.Conv2d(3, 8, 5)),
                                           (lambda: nn.Linear(20, 7), lambda: torch.nn.Linear(20, 7))])
def test_fans_of_conv_and_linear_weights_are_torch_s(layer, theirs):
    w, w_t = layer().weight, theirs().weight
    assert init.calculate_fan_in_and_fan_out(w) == torch.nn.init._calculate_fan_in_and_fan_out(w_t)


@pytest.mark.parametrize("fn", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
                                "orthogonal_"])
@pytest.mark.parametrize("shape", [(5,), ()])
def test_fewer_than_two_dimensions_are_refused_as_torch_refuses(fn, shape):
    with pytest.raises(ValueError, match="fewer than 2 dimensions|2 or more dimensions"):
        getattr(init, fn)(param(shape))
    with pytest.raises(ValueError):
        getattr(torch.nn.init, fn)(torch.empty(shape))


# --------------------------------------------------------------------------- the distributions
def torch_std(fn, shape, **kwargs):
    """torch's formula's standard deviation, measured on torch's own draw (same shape)."""
    t = torch.empty(shape, dtype=torch.float64)
    getattr(torch.nn.init, fn)(t, **kwargs)
    return float(t.std()), float(t.abs().max())


@pytest.mark.parametrize("fn, kwargs, std, bound", [
    ("uniform_", dict(a=-0.5, b=1.5), 2 / math.sqrt(12), None),
    ("normal_", dict(mean=0.0, std=0.02), 0.02, None),
    ("xavier_uniform_", dict(gain=1.0), math.sqrt(2 / (64 * 9 + 512 * 9)), math.sqrt(6 / (64 * 9 + 512 * 9))),
    ("xavier_normal_", dict(gain=init.calculate_gain("tanh")), 5 / 3 * math.sqrt(2 / (64 * 9 + 512 * 9)), None),
    ("kaiming_uniform_", dict(a=math.sqrt(5)), 1 / math.sqrt(3 * 64 * 9), 1 / math.sqrt(64 * 9)),
    ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu"), math.sqrt(2 / (512 * 9)),
     math.sqrt(6 / (512 * 9))),
    ("kaiming_normal_", dict(), math.sqrt(2 / 1.0001) / math.sqrt(64 * 9), None),
    ("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu"), math.sqrt(2 / (512 * 9)), None),
    ("kaiming_normal_", dict(a=0.2, nonlinearity="leaky_relu"), math.sqrt(2 / 1.04) / math.sqrt(64 * 9), None),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_draws_have_torch_s_statistics(fn, kwargs, std, bound, dtype):
    minicnn.manual_seed(0)
    w = param(BIG, dtype)
    assert getattr(init, fn)(w, **kwargs) is w and w.dtype == dtype
    values = w.detach().numpy().astype(np.float64)
    mean = {"uniform_": 0.5}.get(fn, kwargs.get("mean", 0.0))
    assert abs(values.mean() - mean) < 5 * std / math.sqrt(values.size)
    assert values.std() == pytest.approx(std, rel=0.01)
    theirs_std, theirs_max = torch_std(fn, BIG, **kwargs)
    assert values.std() == pytest.approx(theirs_std, rel=0.015)  # torch's own draw agrees with the formula too
    if bound is not None:  # uniform: inside the bound, and reaching close to it, as torch's
        assert np.abs(values).max() <= bound * (1 + 1e-6)
        assert np.abs(values).max() > 0.999 * bound and theirs_max <= bound * (1 + 1e-6)


def test_trunc_normal_stays_inside_and_has_the_truncated_normal_s_spread():
    minicnn.manual_seed(1)
    w = init.trunc_normal_(param(BIG), mean=0.1, std=1.0, a=-1.0, b=1.5)
    values = w.detach().numpy().astype(np.float64)
    t = torch.empty(BIG, dtype=torch.float64)
    torch.nn.init.trunc_normal_(t, mean=0.1, std=1.0, a=-1.0, b=1.5)
    assert values.min() >= -1.0 and values.max() <= 1.5 and float(t.min()) >= -1.0 and float(t.max()) <= 1.5
    assert values.mean() == pytest.approx(float(t.mean()), abs=0.01)
    assert values.std() == pytest.approx(float(t.std()), rel=0.01)
    with pytest.raises(ValueError, match="std > 0 and a < b"):
        init.trunc_normal_(param((3, 3)), a=1.0, b=0.0)


@pytest.mark.parametrize("shape", [(6, 6), (8, 3), (3, 8), (16, 4, 3, 3), (2, 4, 3, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape, dtype):
    minicnn.manual_seed(2)
    w = init.orthogonal_(param(shape, dtype), gain=2.0)
    flat = w.detach().numpy().reshape(shape[0], -1).astype(np.float64) / 2.0
    gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(gram, np.eye(len(gram)), atol=1e-5 if dtype == np.float32 else 1e-12)
    assert not np.allclose(np.abs(flat), np.eye(*flat.shape))  # a random one, not the identity


@pytest.mark.parametrize("shape, groups", [((4, 4, 3, 3), 1), ((6, 2, 3), 2), ((4, 6, 3, 3), 1), ((8, 2, 3, 3, 3), 4),
                                           ((6, 3, 2, 4), 3)])
def test_dirac_is_torch_s(shape, groups):
    t = torch.empty(shape)
    torch.nn.init.dirac_(t, groups)
    np.testing.assert_array_equal(init.dirac_(param(shape), groups).detach().numpy(), t.numpy())


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4)])
def test_eye_constant_ones_zeros_are_torch_s(shape):
    for fn, args in (("eye_", ()), ("constant_", (0.25,)), ("ones_", ()), ("zeros_", ())):
        t = torch.full(shape, 7.0)
        getattr(torch.nn.init, fn)(t, *args)
        w = nn.Parameter(np.full(shape, 7.0, np.float32))
        np.testing.assert_array_equal(getattr(init, fn)(w, *args).detach().numpy(), t.numpy(), err_msg=fn)


def test_eye_and_dirac_refuse_other_dimensions_as_torch():
    for fn, shape in (("eye_", (2, 2, 2)), ("dirac_", (3, 3))):
        with pytest.raises(ValueError, match="dimensions are supported"):
            getattr(init, fn)(param(shape))
        with pytest.raises(ValueError):
            getattr(torch.nn.init, fn)(torch.empty(shape))
    with pytest.raises(ValueError, match=r"dim 0 \(3\) must be divisible by groups \(2\)"):
        init.dirac_(param((3, 3, 3)), groups=2)


# --------------------------------------------------------------------------- in place, seeded, refused
def test_init_writes_in_place_from_minicnn_s_seeded_generator():
    model = nn.Linear(30, 20)
    entry = model.state_dict()["weight"]
    minicnn.manual_seed(5)
    init.kaiming_normal_(model.weight, nonlinearity="relu")
    assert entry is model.weight.detach().numpy()  # the same array, written in place
    first = entry.copy()
    minicnn.manual_seed(5)
    init.kaiming_normal_(model.weight, nonlinearity="relu")
    assert np.array_equal(model.weight.detach().numpy(), first)  # manual_seed fixes the draw
    init.kaiming_normal_(model.weight, nonlinearity="relu")
    assert not np.array_equal(model.weight.detach().numpy(), first)
    a = init.normal_(param((4, 4)), generator=np.random.default_rng(3)).detach().numpy()
    b = init.normal_(param((4, 4)), generator=np.random.default_rng(3)).detach().numpy()
    assert np.array_equal(a, b)


def test_a_model_initialised_as_torch_code_does():
    """The idiom of torchvision's models: a loop over modules, by type."""
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 26 * 26, 10))
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            init.constant_(m.weight, 1)
            init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            init.normal_(m.weight, 0, 0.01)
            init.zeros_(m.bias)
    assert not model[0].bias.detach().numpy().any() and np.all(model[1].weight.detach().numpy() == 1)
    assert model[4].weight.detach().numpy().std() == pytest.approx(0.01, rel=0.05)


@pytest.mark.parametrize("call, error, match", [
    (lambda: init.normal_(np.zeros((3, 3))), TypeError, "expected a Tensor .* got ndarray .* minicnn.from_numpy"),
    (lambda: init.uniform_(Tensor(np.zeros((3, 3), np.int64))), TypeError,
     "floating tensor to draw into, got dtype int64"),
    (lambda: init.kaiming_uniform_(param((3, 3)), mode="fan_avg"), ValueError, "mode expected 'fan_in' or 'fan_out'"),
    (lambda: init.normal_(param((3, 3)), generator=3), TypeError, "a minicnn.Generator \\(or a numpy.random.Generator\\), got int"),
    (lambda: init.dirac_(param((3, 3, 3)), groups=0), ValueError, "groups expected a positive int"),
])
def test_bad_calls_are_refused_by_name(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_kaiming_leaves_a_zero_element_tensor_and_warns_as_torch():
    w = param((0, 3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert init.kaiming_uniform_(w) is w
    assert any("zero-element" in str(c.message) for c in caught)
    assert init.zeros_(Tensor(np.ones(3, np.int64))).tolist() == [0, 0, 0]  # constant fills take any dtype
