"""The toolbox's layers and losses against ``torch.nn.functional``, on shapes hypothesis draws.

The same contract as ``tests/test_agreement.py``: forward and every gradient
agree to 1e-10 relative in float64 and 1e-4 in float32 (``minicnn.testing``),
and where torch refuses an argument minicnn raises ValueError.  Run with ``-s``
to print the worst relative error seen for each layer and dtype.
"""
import os
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from minicnn import nn
from minicnn.random import get_rng, manual_seed

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from minicnn.testing import RTOL  # noqa: E402
from minicnn.testing import compare_with_torch as compare  # noqa: E402

DTYPES = [np.float64, np.float32]
SEEDS = st.integers(0, 2**32 - 1)
SETTINGS = settings(max_examples=int(os.environ.get("MINICNN_AGREEMENT_EXAMPLES", 30)), deadline=None)
WORST = defaultdict(float)


@pytest.fixture(scope="module", autouse=True)
def report_worst_errors():
    yield
    print("\nworst relative error vs torch (forward and all gradients):")
    for (layer, dtype), err in sorted(WORST.items()):
        print(f"  {layer:<18} {dtype:<8} {err:.2e}   (tolerance {RTOL[np.dtype(dtype)]:g})")


def compare_and_record(layer, module, torch_fn, x, seed, floor=None):
    # the upstream gradient from its own stream: drawn from ``seed`` like the input, a shape-preserving
    # op's dout would equal x, and a ReLU backward returning its forward output would pass
    errors = compare(module, torch_fn, x, np.random.default_rng([seed, 2]), floor=floor)
    key = (layer, np.dtype(x.dtype).name)
    WORST[key] = max(WORST[key], *errors.values())
    return errors


def standard_normal(seed, shape, dtype, scale=1.0):
    """Inputs from ``[seed, 1]``, another stream than the upstream gradient's (``[seed, 2]``): with one stream
    the gradient would equal the input, which batch norm's backward maps to 0 and ReLU's cannot tell from
    the forward output."""
    return (scale * np.random.default_rng([seed, 1]).standard_normal(shape)).astype(dtype)


def both_refuse(ours, theirs):
    with pytest.raises(ValueError):
        ours()
    with pytest.raises((RuntimeError, IndexError, ValueError)):
        theirs()


# --------------------------------------------------------------------------- batch norm
@st.composite
def bn_shapes(draw, dims):
    n, c = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    rest = tuple(draw(st.integers(1, 10)) for _ in range(dims - 2))
    shape = (n, c) + rest
    assume(np.prod(shape) // c > 1)  # torch refuses one value per channel in training
    return shape


def _bn_case(layer_cls, dtype, shape, affine, training, momentum, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    layer = layer_cls(c, momentum=momentum, affine=affine).to(dtype)
    if affine:  # not the ones/zeros they start at, so that a swapped weight and bias would show
        layer.weight.data = rng.uniform(0.5, 2, c).astype(dtype)
        layer.bias.data = rng.standard_normal(c).astype(dtype)
    layer.running_mean[...] = rng.standard_normal(c)
    layer.running_var[...] = rng.uniform(0.5, 2, c)
    layer.train(training)
    running = torch.from_numpy(layer.running_mean.copy()), torch.from_numpy(layer.running_var.copy())
    x = standard_normal(seed, shape, dtype, scale=3.0) + dtype(1.5)  # an offset: the mean matters
    return layer, running, x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer_cls, dims", [(nn.BatchNorm2d, 4), (nn.BatchNorm1d, 2), (nn.BatchNorm1d, 3)])
@SETTINGS
@given(data=st.data(), affine=st.booleans(), training=st.booleans(), seed=SEEDS)
def test_batch_norm_matches_torch(dtype, layer_cls, dims, data, affine, training, seed):
    shape = data.draw(bn_shapes(dims))
    momentum = data.draw(st.sampled_from([0.1, 0.5]))
    layer, (mean_t, var_t), x = _bn_case(layer_cls, dtype, shape, affine, training, momentum, seed)
    before = mean_t.numpy().copy(), var_t.numpy().copy()
    # dx's own scale is weight * invstd * |dy| (dy ~ N(0, 1)); in training it can cancel to far below that
    # (to exactly 0 with two values per channel), leaving only rounding, so it is measured on that scale
    var = x.astype(np.float64).var(axis=tuple(i for i in range(x.ndim) if i != 1)) if training else layer.running_var
    gain = float(np.max((layer.weight.data if affine else 1) / np.sqrt(var + 1e-5)))
    errors = compare_and_record(
        layer_cls.__name__, layer,
        lambda x, **p: F.batch_norm(x, mean_t, var_t, p.get("weight"), p.get("bias"), training, momentum, 1e-5),
        x, seed, floor={"input": gain})
    assert set(errors) == {"forward", "input"} | ({"weight", "bias"} if affine else set())
    # the running estimates moved exactly as torch's (unbiased variance), or not at all in eval mode;
    # each is a blend (1 - momentum) * old + momentum * batch's, which can cancel to near 0 (float32: one
    # example blends to 1.4e-4 from terms near 1), so the tolerance is relative to the blended terms
    rtol = RTOL[np.dtype(dtype)]
    batch_axes = tuple(i for i in range(x.ndim) if i != 1)
    for got, want, old, batch in ((layer.running_mean, mean_t, before[0], x.astype(np.float64).mean(batch_axes)),
                                  (layer.running_var, var_t, before[1], x.astype(np.float64).var(batch_axes))):
        scale = (1 - momentum) * np.abs(old) + momentum * np.abs(batch) if training else np.abs(old)
        np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=rtol * scale.max() + 1e-12)
    assert int(layer.num_batches_tracked) == (1 if training else 0)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(data=st.data(), training=st.booleans(), seed=SEEDS)
def test_batch_norm_relu_matches_torch_relu_of_batch_norm(dtype, data, training, seed):
    """The fused layer against torch's two ops one after the other (its running estimates as batch norm's)."""
    shape = data.draw(bn_shapes(4))
    layer, (mean_t, var_t), x = _bn_case(nn.BatchNormReLU2d, dtype, shape, True, training, 0.1, seed)
    var = x.astype(np.float64).var(axis=(0, 2, 3)) if training else layer.running_var
    gain = float(np.max(layer.weight.data / np.sqrt(var + 1e-5)))
    errors = compare_and_record(
        "BatchNormReLU2d", layer,
        lambda x, **p: F.relu(F.batch_norm(x, mean_t, var_t, p.get("weight"), p.get("bias"), training, 0.1, 1e-5)),
        x, seed, floor={"input": gain})
    assert set(errors) == {"forward", "input", "weight", "bias"}
    np.testing.assert_allclose(layer.running_mean, mean_t.numpy(), rtol=RTOL[np.dtype(dtype)], atol=1e-6)


def test_batch_norm_refuses_one_value_per_channel_like_torch():
    x = np.zeros((1, 3, 1, 1))
    both_refuse(lambda: nn.BatchNorm2d(3).double()(x),
                lambda: torch.nn.BatchNorm2d(3).double()(torch.from_numpy(x)))


def test_batch_norm_refuses_wrong_channels_like_torch():
    x = np.zeros((2, 4, 3, 3))
    both_refuse(lambda: nn.BatchNorm2d(3).double()(x),
                lambda: torch.nn.BatchNorm2d(3).double()(torch.from_numpy(x)))


# --------------------------------------------------------------------------- average pooling
@st.composite
def avgpool_cases(draw):
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 16))
    w = draw(st.integers(max(1, kw - 2 * pw), 16))
    stride = draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    options = dict(ceil_mode=draw(st.booleans()), count_include_pad=draw(st.booleans()),
                   divisor_override=draw(st.none() | st.integers(1, 7)))
    return (draw(st.integers(1, 4)), draw(st.integers(1, 4)), h, w), (kh, kw), stride, (ph, pw), options


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(case=avgpool_cases(), seed=SEEDS)
def test_avg_pool2d_matches_torch(dtype, case, seed):
    shape, kernel, stride, padding, options = case
    layer = nn.AvgPool2d(kernel, stride, padding, **options)
    compare_and_record("AvgPool2d", layer, lambda x: F.avg_pool2d(x, kernel, stride, padding, **options),
                       standard_normal(seed, shape, dtype), seed)


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("count_include_pad", [False, True])
def test_avg_pool2d_ceil_mode_windows_into_the_padding(ceil_mode, count_include_pad):
    """The rules that differ by a cell: H=5, k=3, s=2, p=1 under ceil_mode keeps a last window that runs
    past the padding; its divisor counts only the padded input with count_include_pad."""
    for h, k, s, p in [(5, 3, 2, 1), (6, 3, 2, 1), (5, 2, 2, 0), (7, 4, 3, 2), (4, 3, 3, 1)]:
        x = np.random.default_rng(h * k).standard_normal((1, 2, h, h + 1))
        ours = nn.AvgPool2d(k, s, p, ceil_mode, count_include_pad)(x).data
        theirs = F.avg_pool2d(torch.from_numpy(x), k, s, p, ceil_mode, count_include_pad).numpy()
        assert ours.shape == theirs.shape, (h, k, s, p)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


@SETTINGS
@given(kernel=st.integers(1, 5), padding=st.integers(0, 3), size=st.integers(1, 8), stride=st.integers(1, 3),
       ceil=st.booleans())
def test_avg_pool2d_refuses_exactly_what_torch_refuses(kernel, padding, size, stride, ceil):
    """Including what only ceil_mode allows: a window that overhangs a too-small input (torch keeps it)."""
    x = np.random.default_rng(size).standard_normal((1, 1, size, size + 1))
    try:
        theirs = F.avg_pool2d(torch.from_numpy(x), kernel, stride, padding, ceil_mode=ceil).numpy()
    except RuntimeError:
        with pytest.raises(ValueError):
            nn.AvgPool2d(kernel, stride, padding=padding, ceil_mode=ceil)(x)
        return
    ours = nn.AvgPool2d(kernel, stride, padding=padding, ceil_mode=ceil)(x).data
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_avg_pool2d_refuses_a_zero_divisor_like_torch():
    x = np.zeros((1, 1, 4, 4))
    both_refuse(lambda: nn.AvgPool2d(2, divisor_override=0)(x),
                lambda: F.avg_pool2d(torch.from_numpy(x), 2, divisor_override=0))


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 12), st.integers(1, 12)),
       out=st.tuples(st.none() | st.integers(1, 9), st.none() | st.integers(1, 9)) | st.integers(1, 9), seed=SEEDS)
def test_adaptive_avg_pool2d_matches_torch(dtype, shape, out, seed):
    # A mean of random values can cancel to near 0, where float32 has no relative precision left (torch's
    # own float32 mean was 1.3e-4 off float64 on one drawn 8x8 window; minicnn's exact): measure the forward
    # in units of the input's magnitude, the scale of every term of the mean.
    x = standard_normal(seed, shape, dtype)
    compare_and_record("AdaptiveAvgPool2d", nn.AdaptiveAvgPool2d(out), lambda x: F.adaptive_avg_pool2d(x, out),
                       x, seed, floor={"forward": float(np.abs(x).max())})


# --------------------------------------------------------------------------- local response norm
@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(shape=st.lists(st.integers(1, 7), min_size=3, max_size=5).map(tuple), size=st.integers(1, 6),
       alpha=st.sampled_from([1e-4, 0.01, 1.0]), beta=st.sampled_from([0.5, 0.75, 2.0]),
       k=st.sampled_from([1.0, 2.0]), seed=SEEDS)
def test_local_response_norm_matches_torch(dtype, shape, size, alpha, beta, k, seed):
    compare_and_record("LocalResponseNorm", nn.LocalResponseNorm(size, alpha, beta, k),
                       lambda x: F.local_response_norm(x, size, alpha, beta, k),
                       standard_normal(seed, shape, dtype, scale=2.0), seed)


# --------------------------------------------------------------------------- activations
SHAPES = st.lists(st.integers(1, 8), min_size=1, max_size=4).map(tuple)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, layer, torch_fn", [
    ("Sigmoid", nn.Sigmoid(), torch.sigmoid),
    ("Tanh", nn.Tanh(), torch.tanh),
    ("LeakyReLU", nn.LeakyReLU(), F.leaky_relu),
    ("LeakyReLU(0.3)", nn.LeakyReLU(0.3), lambda x: F.leaky_relu(x, 0.3)),
])
@SETTINGS
@given(shape=SHAPES, scale=st.sampled_from([1.0, 10.0, 100.0]), seed=SEEDS)
def test_elementwise_activation_matches_torch(dtype, name, layer, torch_fn, shape, scale, seed):
    x = standard_normal(seed, shape, dtype, scale)
    x.reshape(-1)[::5] = 0  # the kink of LeakyReLU: torch gives the slope there
    compare_and_record(name, layer, torch_fn, x, seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, cls, torch_fn", [("Softmax", nn.Softmax, F.softmax),
                                                 ("LogSoftmax", nn.LogSoftmax, F.log_softmax)])
@SETTINGS
@given(data=st.data(), shape=SHAPES, scale=st.sampled_from([1.0, 30.0]), seed=SEEDS)
def test_softmax_matches_torch(dtype, name, cls, torch_fn, data, shape, scale, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    # measured on the natural scales: log-probabilities in nats (a confident row's log p has no relative
    # precision to spare in float32), and dx on the scale of dout ~ N(0, 1) (a saturated softmax's dx is
    # ~1e-10 of it, where either library's rounding is all there is)
    floor = {"forward": 1.0 if name == "LogSoftmax" else 0.0, "input": 1.0}
    compare_and_record(name, cls(dim), lambda x: torch_fn(x, dim), standard_normal(seed, shape, dtype, scale), seed,
                       floor)


# --------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls, channelwise", [(nn.Dropout, False), (nn.Dropout2d, True)])
@SETTINGS
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 6), st.integers(1, 6)),
       p=st.sampled_from([0.0, 0.2, 0.5, 0.9, 1.0]), seed=SEEDS)
def test_dropout_is_torch_formula_with_minicnn_mask(dtype, cls, channelwise, shape, p, seed):
    """torch draws its own masks, so the mask is minicnn's (drawn again from the same seed) and the
    comparison is of what is done with it: ``x * keep / (1 - p)`` forward and backward, as torch's kernel."""
    mask_shape = shape[:2] + (1, 1) if channelwise else shape
    manual_seed(seed % 2**31)
    keep = torch.from_numpy(get_rng().random(mask_shape) >= p)
    manual_seed(seed % 2**31)
    theirs = (lambda x: torch.zeros_like(x) * x) if p == 1 else (lambda x: x * keep / (1 - p))
    compare_and_record(cls.__name__, cls(p), theirs, standard_normal(seed, shape, dtype), seed)


# --------------------------------------------------------------------------- losses
class LossAsLayer(nn.Module):
    """A loss with a fixed target, shaped as a layer for :func:`compare`: input -> loss."""

    def __init__(self, criterion, target):
        super().__init__()
        self.criterion, self.target = criterion, target

    def forward(self, x):
        return self.criterion(x, self.target)


REDUCTION = st.sampled_from(["mean", "sum", "none"])


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(shape=SHAPES, reduction=REDUCTION, seed=SEEDS)
def test_mse_loss_matches_torch(dtype, shape, reduction, seed):
    target = standard_normal(seed + 1, shape, dtype)
    compare_and_record("MSELoss", LossAsLayer(nn.MSELoss(reduction), target),
                       lambda x: F.mse_loss(x, torch.from_numpy(target), reduction=reduction),
                       standard_normal(seed, shape, dtype), seed)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mse_loss_target_gradient_matches_torch(dtype):
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype)
    import minicnn
    xm, tm = minicnn.tensor(x, requires_grad=True), minicnn.tensor(t, requires_grad=True)
    xt, tt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(t).requires_grad_()
    nn.MSELoss()(xm, tm).backward()
    F.mse_loss(xt, tt).backward()
    np.testing.assert_allclose(tm.grad, tt.grad.numpy(), rtol=RTOL[np.dtype(dtype)])
    np.testing.assert_allclose(xm.grad, xt.grad.numpy(), rtol=RTOL[np.dtype(dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(n=st.integers(1, 8), classes=st.integers(1, 10), extra=st.sampled_from([(), (3,), (2, 3)]),
       reduction=REDUCTION, weighted=st.booleans(), ignore=st.booleans(), seed=SEEDS)
def test_nll_loss_matches_torch(dtype, n, classes, extra, reduction, weighted, ignore, seed):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, classes, size=(n,) + extra)
    ignore_index = -100
    if ignore:
        ignore_index = int(target.reshape(-1)[0])  # some targets are ignored, and maybe all
        assume(reduction != "mean" or (target != ignore_index).any())  # 0/0: nan in both
    weight = rng.uniform(0.5, 2, classes).astype(dtype) if weighted else None
    weight_t = None if weight is None else torch.from_numpy(weight)
    logp = np.log(rng.dirichlet(np.ones(classes), size=(n,) + extra)).astype(dtype)
    logp = np.moveaxis(logp, -1, 1)
    compare_and_record("NLLLoss", LossAsLayer(nn.NLLLoss(weight, ignore_index, reduction), target),
                       lambda x: F.nll_loss(x, torch.from_numpy(target), weight_t, ignore_index=ignore_index,
                                            reduction=reduction), np.ascontiguousarray(logp), seed)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(n=st.integers(1, 6), classes=st.integers(1, 5), reduction=REDUCTION, weighted=st.booleans(),
       pos=st.booleans(), scale=st.sampled_from([1.0, 10.0, 1000.0]), seed=SEEDS)
def test_bce_with_logits_matches_torch(dtype, n, classes, reduction, weighted, pos, scale, seed):
    rng = np.random.default_rng(seed)
    target = rng.uniform(0, 1, (n, classes)).astype(dtype)
    target[rng.random(target.shape) < 0.5] = 1  # hard and soft targets
    weight = rng.uniform(0.5, 2, (1, classes)).astype(dtype) if weighted else None
    pos_weight = rng.uniform(0.5, 3, classes).astype(dtype) if pos else None
    to_t = (lambda a: None if a is None else torch.from_numpy(a))
    criterion = nn.BCEWithLogitsLoss(weight, reduction, pos_weight)
    # as cross-entropy's: errors in nats and in units of one probability (the gradient is w (sigmoid(x) - t) / n
    # for soft t: at x = 50, t = 1 it is -2e-22, which torch's float32 rounds to 0 and minicnn does not)
    floor = {"forward": 1.0, "input": 1.0 / (n * classes) if reduction == "mean" else 1.0}
    compare_and_record("BCEWithLogitsLoss", LossAsLayer(criterion, target),
                       lambda x: F.binary_cross_entropy_with_logits(x, torch.from_numpy(target), to_t(weight),
                                                                    reduction=reduction, pos_weight=to_t(pos_weight)),
                       standard_normal(seed, (n, classes), dtype, scale), seed, floor=floor)


def test_bce_with_logits_is_finite_at_huge_logits():
    x = np.array([[1e4, -1e4, 0.0]])
    t = np.array([[0.0, 1.0, 1.0]])
    ours = nn.BCEWithLogitsLoss(reduction="none")(x, t).data
    theirs = F.binary_cross_entropy_with_logits(torch.from_numpy(x), torch.from_numpy(t), reduction="none").numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-15)
    assert np.isfinite(ours).all()


# --------------------------------------------------------------------------- state_dict keys as torch's
@pytest.mark.parametrize("ours, theirs", [
    (lambda: nn.BatchNorm2d(5), lambda: torch.nn.BatchNorm2d(5)),
    (lambda: nn.BatchNorm1d(5, affine=False), lambda: torch.nn.BatchNorm1d(5, affine=False)),
    (lambda: nn.BatchNorm1d(5, track_running_stats=False), lambda: torch.nn.BatchNorm1d(5, track_running_stats=False)),
    (lambda: nn.NLLLoss(np.ones(3, np.float32)), lambda: torch.nn.NLLLoss(torch.ones(3))),
    (lambda: nn.BCEWithLogitsLoss(pos_weight=np.ones(3, np.float32)),
     lambda: torch.nn.BCEWithLogitsLoss(pos_weight=torch.ones(3))),
])
def test_state_dict_keys_shapes_and_dtypes_are_torch_s(ours, theirs):
    a, b = ours().state_dict(), theirs().state_dict()
    assert list(a) == list(b)
    for key in a:
        assert a[key].shape == tuple(b[key].shape), key
        assert str(a[key].dtype) == str(b[key].dtype).removeprefix("torch."), key
        np.testing.assert_array_equal(a[key], b[key].numpy())
