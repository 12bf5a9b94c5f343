"""Every minicnn layer against ``torch.nn.functional``, on shapes hypothesis draws.

Batch 1-8, channels 1-8, height and width 1-32 (independently, so non-square),
kernel 1-5, stride 1-3, padding 0-2.  Forward and every gradient must agree to
1e-10 relative in float64 and 1e-4 in float32 (see ``minicnn.testing`` for what
"relative" means); where torch refuses a combination, minicnn must raise ValueError.

Run with ``-s`` to print the worst relative error seen for each layer and dtype.
"""
import os
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn import nn

torch = pytest.importorskip("torch")  # the reference is optional: pip install 'minicnn[torch]'
import torch.nn.functional as F  # noqa: E402
from minicnn.testing import RTOL  # noqa: E402
from minicnn.testing import compare_with_torch as compare  # noqa: E402

DTYPES = [np.float64, np.float32]
SIZE = st.integers(1, 32)
BATCH = CHANNELS = st.integers(1, 8)
KERNEL = st.integers(1, 5)
STRIDE = st.integers(1, 3)
PADDING = st.integers(0, 2)
# 30 draws per test keep the suite fast; MINICNN_AGREEMENT_EXAMPLES=300 is the longer run quoted in reference/README.md
SETTINGS = settings(max_examples=int(os.environ.get("MINICNN_AGREEMENT_EXAMPLES", 30)), deadline=None)

WORST = defaultdict(float)  # (layer, dtype) -> worst relative error over every tensor checked


@pytest.fixture(scope="module", autouse=True)
def report_worst_errors():
    yield
    print("\nworst relative error vs torch (forward and all gradients):")
    for (layer, dtype), err in sorted(WORST.items()):
        print(f"  {layer:<16} {dtype:<8} {err:.2e}   (tolerance {RTOL[np.dtype(dtype)]:g})")


def compare_and_record(layer, module, torch_fn, x, seed, floor=None):
    errors = compare(module, torch_fn, x, np.random.default_rng(seed), floor=floor)
    key = (layer, np.dtype(x.dtype).name)
    WORST[key] = max(WORST[key], *errors.values())
    return errors


def standard_normal(seed, shape, dtype):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def both_refuse(ours, theirs):
    """minicnn raises ValueError and torch raises too (RuntimeError, IndexError or ValueError)."""
    with pytest.raises(ValueError):
        ours()
    with pytest.raises((RuntimeError, IndexError, ValueError)):
        theirs()


# --------------------------------------------------------------------------- Conv2d


@st.composite
def conv_cases(draw, fits=True):
    """(N, C, O, H, W, (KH, KW), (SH, SW), (PH, PW)); with ``fits=False`` the kernel overhangs H."""
    kh, kw, ph, pw = draw(KERNEL), draw(KERNEL), draw(PADDING), draw(PADDING)
    if fits:
        h = draw(st.integers(max(1, kh - 2 * ph), 32))
    else:  # the padded input must be shorter than the kernel: only possible when kh - 2*ph >= 2
        kh = draw(st.integers(2, 5))
        ph = draw(st.integers(0, (kh - 2) // 2))
        h = draw(st.integers(1, kh - 2 * ph - 1))
    w = draw(st.integers(max(1, kw - 2 * pw), 32))
    return (draw(BATCH), draw(CHANNELS), draw(CHANNELS), h, w, (kh, kw), (draw(STRIDE), draw(STRIDE)), (ph, pw))


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(case=conv_cases(), bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_matches_torch(dtype, case, bias, seed):
    n, c, o, h, w, kernel, stride, padding = case
    layer = nn.Conv2d(c, o, kernel, stride=stride, padding=padding, bias=bias).to(dtype)
    x = standard_normal(seed, (n, c, h, w), dtype)
    errors = compare_and_record("Conv2d", layer, lambda x, **p: F.conv2d(x, stride=stride, padding=padding, **p),
                                x, seed)
    assert set(errors) == {"forward", "input", "weight"} | ({"bias"} if bias else set())


@SETTINGS
@given(case=conv_cases(fits=False))
def test_conv2d_refuses_what_torch_refuses(case):
    n, c, o, h, w, kernel, stride, padding = case
    x, weight = np.zeros((n, c, h, w)), np.zeros((o, c, *kernel))
    layer = nn.Conv2d(c, o, kernel, stride=stride, padding=padding).to(np.float64)
    both_refuse(lambda: layer(x),
                lambda: F.conv2d(torch.from_numpy(x), torch.from_numpy(weight), stride=stride, padding=padding))


def test_conv2d_refuses_wrong_channels_like_torch():
    layer = nn.Conv2d(3, 2, 3).to(np.float64)
    x = np.zeros((1, 4, 5, 5))
    both_refuse(lambda: layer(x), lambda: F.conv2d(torch.from_numpy(x), torch.zeros(2, 3, 3, 3, dtype=torch.float64)))


# --------------------------------------------------------------------------- MaxPool2d


def distinct_values(seed, shape, dtype):
    """A scaled random permutation: every window has one clear maximum, so argmax (and the gradient) is unique."""
    size = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(size) / size - 0.5).reshape(shape).astype(dtype)


@st.composite
def pool_cases(draw):
    """(N, C, H, W, kernel, stride or None, padding) with padding <= kernel/2 and the window fitting."""
    kh, kw = draw(KERNEL), draw(KERNEL)
    ph, pw = draw(st.integers(0, min(2, kh // 2))), draw(st.integers(0, min(2, kw // 2)))
    h = draw(st.integers(max(1, kh - 2 * ph), 32))
    w = draw(st.integers(max(1, kw - 2 * pw), 32))
    stride = draw(st.none() | st.tuples(STRIDE, STRIDE))
    return draw(BATCH), draw(CHANNELS), h, w, (kh, kw), stride, (ph, pw)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(case=pool_cases(), seed=st.integers(0, 2**32 - 1))
def test_maxpool2d_matches_torch(dtype, case, seed):
    n, c, h, w, kernel, stride, padding = case
    layer = nn.MaxPool2d(kernel, stride=stride, padding=padding)
    x = distinct_values(seed, (n, c, h, w), dtype)
    compare_and_record("MaxPool2d", layer,
                       lambda x: F.max_pool2d(x, kernel, stride=stride, padding=padding), x, seed)


@SETTINGS
@given(kernel=KERNEL, padding=PADDING, size=st.integers(1, 8))
def test_maxpool2d_refuses_what_torch_refuses(kernel, padding, size):
    x = np.zeros((1, 1, size, size))
    torch_refuses = 2 * padding > kernel or size + 2 * padding < kernel

    def ours():
        return nn.MaxPool2d(kernel, padding=padding)(x)

    def theirs():
        return F.max_pool2d(torch.from_numpy(x), kernel, padding=padding)

    if torch_refuses:
        both_refuse(ours, theirs)
    else:
        assert ours().shape == tuple(theirs().shape)


# --------------------------------------------------------------------------- Linear, ReLU, Flatten


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(n=BATCH, fan_in=SIZE, fan_out=SIZE, bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_linear_matches_torch(dtype, n, fan_in, fan_out, bias, seed):
    layer = nn.Linear(fan_in, fan_out, bias=bias).to(dtype)
    compare_and_record("Linear", layer, F.linear, standard_normal(seed, (n, fan_in), dtype), seed)


def test_linear_refuses_wrong_features_like_torch():
    layer = nn.Linear(5, 4).to(np.float64)
    x = np.zeros((2, 3))
    both_refuse(lambda: layer(x), lambda: F.linear(torch.from_numpy(x), torch.zeros(4, 5, dtype=torch.float64)))


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(shape=st.tuples(BATCH, CHANNELS, SIZE, SIZE), seed=st.integers(0, 2**32 - 1))
def test_relu_matches_torch(dtype, shape, seed):
    x = standard_normal(seed, shape, dtype)
    x.reshape(-1)[::7] = 0  # exact zeros: both must pass no gradient there (torch's rule at the kink)
    compare_and_record("ReLU", nn.ReLU(), F.relu, x, seed)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(shape=st.tuples(BATCH, CHANNELS, SIZE, SIZE), seed=st.integers(0, 2**32 - 1))
def test_flatten_matches_torch(dtype, shape, seed):
    compare_and_record("Flatten", nn.Flatten(), lambda x: torch.flatten(x, 1), standard_normal(seed, shape, dtype),
                       seed)


# --------------------------------------------------------------------------- CrossEntropyLoss


class LossAsLayer(nn.Module):
    """``CrossEntropyLoss`` with fixed ``labels``, shaped as a layer for :func:`compare`: logits -> 0-d loss."""

    def __init__(self, labels, reduction):
        super().__init__()
        self.crit, self.labels = nn.CrossEntropyLoss(reduction=reduction), labels

    def forward(self, logits):
        return self.crit(logits, self.labels)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(n=BATCH, classes=st.integers(1, 10), reduction=st.sampled_from(["mean", "sum"]),
       scale=st.sampled_from([1.0, 10.0, 100.0]), seed=st.integers(0, 2**32 - 1))
def test_cross_entropy_matches_torch(dtype, n, classes, reduction, scale, seed):
    rng = np.random.default_rng(seed)
    logits = (scale * rng.standard_normal((n, classes))).astype(dtype)
    labels = rng.integers(0, classes, size=n)
    loss = LossAsLayer(labels, reduction)
    # errors in nats and in units of one probability (each row's gradient is (p - onehot) / N for "mean"):
    # a confident row's -log p and p - 1 have no relative precision to spare in float32 (minicnn.testing)
    floor = {"forward": 1.0, "input": 1.0 / n if reduction == "mean" else 1.0}
    compare_and_record("CrossEntropyLoss", loss,
                       lambda z: F.cross_entropy(z, torch.from_numpy(labels), reduction=reduction), logits, seed,
                       floor)


def test_cross_entropy_refuses_out_of_range_labels_like_torch():
    logits, labels = np.zeros((2, 3)), np.array([0, 3])
    both_refuse(lambda: nn.CrossEntropyLoss()(logits, labels),
                lambda: F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels)))


# --------------------------------------------------------------------------- the helper itself can fail


def test_compare_catches_a_wrong_gradient():
    """A layer whose backward is off by 1e-6 relative must fail the float64 comparison."""
    from minicnn import functional as mF

    class SlightlyWrongReLUFunction(mF.ReLUFunction):
        @staticmethod
        def backward(ctx, grad_out):
            return mF.ReLUFunction.backward(ctx, grad_out) * (1 + 1e-6)

    class SlightlyWrongReLU(nn.ReLU):
        def forward(self, x):
            return SlightlyWrongReLUFunction.apply(x)

    x = standard_normal(0, (2, 3, 4, 4), np.float64)
    with pytest.raises(AssertionError, match="d input"):
        compare(SlightlyWrongReLU(), F.relu, x, np.random.default_rng(0))


def test_compare_catches_a_wrong_dtype():
    class UpcastingFlatten(nn.Flatten):
        def forward(self, x):
            return super().forward(x).to(np.float64)

    with pytest.raises(AssertionError, match="dtype"):
        compare(UpcastingFlatten(), lambda x: torch.flatten(x, 1), standard_normal(0, (2, 3, 4, 4), np.float32),
                np.random.default_rng(0))
