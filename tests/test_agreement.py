"""Every minicnn layer against ``torch.nn.functional``, on shapes hypothesis draws.

Batch 1-8, channels 1-8, height and width 1-32 (independently, so non-square),
kernel 1-5, stride 1-3, padding 0-2; and torch's other arguments: dilation 1-3,
groups 1-3 (depthwise included), 'same'/'valid' padding, every padding mode,
ceil_mode, return_indices with max unpooling, leading dims of Linear, and
cross-entropy's weights, ignore_index, label smoothing, probability targets and
extra dims.  Forward and every gradient must agree to
1e-10 relative in float64 and 1e-4 in float32 (see ``minicnn.testing`` for what
"relative" means); where torch refuses a combination, minicnn must raise ValueError.

Run with ``-s`` to print the worst relative error seen for each layer and dtype.
"""
import os
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import assume, given, settings
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
    # the upstream gradient from its own stream: drawn from ``seed`` like the input, a shape-preserving
    # op's dout would equal x, and a ReLU backward returning its forward output would pass
    errors = compare(module, torch_fn, x, np.random.default_rng([seed, 2]), floor=floor)
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


def bias_floor(n, h, w, kernel, stride, padding):
    """The bias gradient is one sum of the N*OH*OW upstream values of its channel, ~sqrt(N*OH*OW) in size:
    measured against its own value, a sum that happens to cancel near 0 leaves float32 no relative
    precision (300 draws found 1.2e-4 in float32 where float64 agreed to 1e-13), so measure it against
    that scale."""
    oh = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    ow = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
    return {"bias": float(np.sqrt(n * oh * ow))}


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(case=conv_cases(), bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_matches_torch(dtype, case, bias, seed):
    n, c, o, h, w, kernel, stride, padding = case
    layer = nn.Conv2d(c, o, kernel, stride=stride, padding=padding, bias=bias).to(dtype)
    x = standard_normal(seed, (n, c, h, w), dtype)
    errors = compare_and_record("Conv2d", layer, lambda x, **p: F.conv2d(x, stride=stride, padding=padding, **p),
                                x, seed, floor=bias_floor(n, h, w, kernel, stride, padding))
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



@st.composite
def general_conv_cases(draw):
    """Conv2d keyword arguments beyond the plain case, with an input they fit: (N, C, H, W), kwargs."""
    groups = draw(st.sampled_from([1, 2, 3]))
    c, o = groups * draw(st.integers(1, 3)), groups * draw(st.sampled_from([1, 2]))
    kernel, dilation = (draw(KERNEL), draw(KERNEL)), (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    padding = draw(st.sampled_from(["same", "valid"]) | st.tuples(PADDING, PADDING))
    stride = (1, 1) if padding == "same" else (draw(STRIDE), draw(STRIDE))
    sizes = []
    for a in (0, 1):
        span = dilation[a] * (kernel[a] - 1) + 1
        if padding == "same":
            lo, hi = (span - 1) // 2, span - 1 - (span - 1) // 2
        else:
            lo = hi = 0 if padding == "valid" else padding[a]
        low = max(1, span - lo - hi)           # one window fits
        if mode == "reflect":
            low = max(low, hi + 1)             # torch: reflect padding < size
        elif mode == "circular":
            low = max(low, hi)                 # torch: circular padding <= size
        sizes.append(draw(st.integers(low, max(low, 16))))
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, padding_mode=mode)
    return (draw(st.integers(1, 3)), c, *sizes), o, kernel, kwargs


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel lengths")  # torch's, about its speed
@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(case=general_conv_cases(), bias=st.booleans(), unbatched=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_full_signature_matches_torch(dtype, case, bias, unbatched, seed):
    shape, o, kernel, kwargs = case
    layer = nn.Conv2d(shape[1], o, kernel, bias=bias, **kwargs).to(dtype)
    reference = torch.nn.Conv2d(shape[1], o, kernel, bias=bias, **kwargs).to(torch.float64 if dtype == np.float64
                                                                             else torch.float32)
    x = standard_normal(seed, shape[1:] if unbatched else shape, dtype)
    out_shape = reference(torch.zeros(x.shape, dtype=reference.weight.dtype)).shape
    per_channel = int(np.prod(out_shape)) // o
    compare_and_record("Conv2d (all args)", layer,
                       lambda x, weight, bias=None: reference._conv_forward(x, weight, bias), x, seed,
                       floor={"bias": float(np.sqrt(per_channel))})

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
def test_max_pool2d_matches_torch(dtype, case, seed):
    n, c, h, w, kernel, stride, padding = case
    layer = nn.MaxPool2d(kernel, stride=stride, padding=padding)
    x = distinct_values(seed, (n, c, h, w), dtype)
    compare_and_record("MaxPool2d", layer,
                       lambda x: F.max_pool2d(x, kernel, stride=stride, padding=padding), x, seed)



@st.composite
def general_pool_cases(draw):
    """(shape, kwargs) for max_pool2d with dilation and ceil_mode, where torch gets at least one window."""
    kernel = (draw(KERNEL), draw(KERNEL))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride, ceil_mode = draw(st.none() | st.tuples(STRIDE, STRIDE)), draw(st.booleans())
    spans = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    shape = (draw(BATCH), draw(CHANNELS), *(draw(st.integers(max(1, span - 2 * p), 16)) for span, p in
                                            zip(spans, padding)))
    return shape, dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(case=general_pool_cases(), unbatched=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_max_pool2d_dilation_ceil_mode_and_indices_match_torch(dtype, case, unbatched, seed):
    shape, kwargs = case
    x = distinct_values(seed, shape[1:] if unbatched else shape, dtype)
    out_t = F.max_pool2d(torch.from_numpy(x), **kwargs)
    if np.isneginf(out_t.numpy()).any():  # a dilated window with every tap in the padding: refused by name
        with pytest.raises(ValueError, match=r"max_pool2d: along the (height|width), window \d+ .* every tap in "
                                             r"the padding"):
            nn.MaxPool2d(**kwargs)(x)
        return
    compare_and_record("MaxPool2d (all args)", nn.MaxPool2d(**kwargs), lambda x: F.max_pool2d(x, **kwargs), x, seed)
    out, indices = nn.MaxPool2d(**kwargs, return_indices=True)(x)
    out_t, indices_t = F.max_pool2d(torch.from_numpy(x), **kwargs, return_indices=True)
    assert indices.dtype == np.int64 and not indices.requires_grad
    np.testing.assert_array_equal(indices.data, indices_t.numpy())
    # and back: max_unpool2d puts each maximum where it came from (torch's output_size rule, from the input)
    if not kwargs["ceil_mode"] and kwargs["dilation"] == (1, 1):
        unpool = {k: kwargs[k] for k in ("kernel_size", "stride", "padding")}
        size = x.shape[-2:]
        compare_and_record("MaxUnpool2d", UnpoolAsLayer(nn.MaxUnpool2d(**unpool), indices.data, size),
                           lambda p: F.max_unpool2d(p, indices_t, **unpool, output_size=size), out.data, seed)


class UnpoolAsLayer(nn.Module):
    def __init__(self, unpool, indices, size):
        super().__init__()
        self.unpool, self.indices, self.size = unpool, indices, size

    def forward(self, x):
        return self.unpool(x, self.indices, output_size=self.size)

@SETTINGS
@given(kernel=KERNEL, padding=PADDING, size=st.integers(1, 8))
def test_max_pool2d_refuses_what_torch_refuses(kernel, padding, size):
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



@SETTINGS
@given(lead=st.lists(st.integers(0, 3), max_size=3), fan_in=st.integers(1, 8), fan_out=st.integers(1, 8),
       bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_linear_on_any_leading_dims_matches_torch(lead, fan_in, fan_out, bias, seed):
    layer = nn.Linear(fan_in, fan_out, bias=bias).to(np.float64)
    compare_and_record("Linear (*, in)", layer, F.linear, standard_normal(seed, (*lead, fan_in), np.float64), seed)

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



class FullLossAsLayer(nn.Module):
    def __init__(self, target, **kwargs):
        super().__init__()
        self.crit, self.target = nn.CrossEntropyLoss(**kwargs), target

    def forward(self, logits):
        return self.crit(logits, self.target)


@SETTINGS
@given(n=BATCH, classes=st.integers(1, 6), extra=st.lists(st.integers(1, 3), max_size=2), unbatched=st.booleans(),
       reduction=st.sampled_from(["mean", "sum", "none"]), weighted=st.booleans(), probabilities=st.booleans(),
       ignore=st.booleans(), smoothing=st.sampled_from([0.0, 0.1, 0.5, 1.0]), seed=st.integers(0, 2**32 - 1))
def test_cross_entropy_full_signature_matches_torch(n, classes, extra, unbatched, reduction, weighted, probabilities,
                                                    ignore, smoothing, seed):
    rng = np.random.default_rng(seed)
    shape = (classes,) if unbatched else (n, classes, *extra)
    logits = 3 * rng.standard_normal(shape)
    weight = rng.uniform(0.1, 2.0, classes) if weighted else None
    if probabilities:
        target = rng.dirichlet(np.ones(classes), size=int(np.prod(shape)) // classes)
        target = np.moveaxis(target.reshape(shape[:1] + shape[2:] + (classes,)), -1, 1) if not unbatched \
            else target.reshape(shape)
    else:
        target = rng.integers(0, classes, size=shape[:1] + shape[2:] if not unbatched else ())
    ignore_index = int(rng.integers(0, classes)) if ignore and not probabilities else -100
    kwargs = dict(weight=weight, ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    torch_kwargs = dict(kwargs, weight=None if weight is None else torch.from_numpy(weight))
    target_t = torch.from_numpy(np.asarray(target))
    with np.errstate(all="ignore"):
        loss_t = F.cross_entropy(torch.from_numpy(logits), target_t, **torch_kwargs)
    # every sample ignored gives nan for "mean", as torch; elsewhere the values must agree
    assume(np.isfinite(loss_t.detach().numpy()).all())
    compare_and_record("CrossEntropyLoss (all args)", FullLossAsLayer(target, **kwargs),
                       lambda z: F.cross_entropy(z, target_t, **torch_kwargs), logits, seed)

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
        compare(SlightlyWrongReLU(), F.relu, x, np.random.default_rng([0, 2]))


def test_compare_catches_a_wrong_dtype():
    class UpcastingFlatten(nn.Flatten):
        def forward(self, x):
            return super().forward(x).to(np.float64)

    with pytest.raises(AssertionError, match="dtype"):
        compare(UpcastingFlatten(), lambda x: torch.flatten(x, 1), standard_normal(0, (2, 3, 4, 4), np.float32),
                np.random.default_rng([0, 2]))



@pytest.mark.parametrize("dtype", DTYPES)
def test_agreement_catches_a_relu_backward_that_returns_its_forward_output(dtype):
    """The planted mistake that passed while dout was drawn from the input's seed (dout == x for ReLU)."""
    from minicnn import functional as mF

    class ForwardOutputReLUFunction(mF.ReLUFunction):
        @staticmethod
        def backward(ctx, grad_out):
            return ctx.cache.copy()   # the kernel's cache is the forward output, max(x, 0)

    class WrongReLU(nn.ReLU):
        def forward(self, x):
            return ForwardOutputReLUFunction.apply(x)

    with pytest.raises(AssertionError, match="d input"):
        compare_and_record("planted", WrongReLU(), F.relu, standard_normal(0, (2, 3, 4, 4), dtype), 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_agreement_catches_a_flatten_backward_that_returns_the_input(dtype, monkeypatch):
    """Flatten is a recorded reshape: its backward planted to return the forward input must fail."""
    from minicnn.autograd import ops
    x = standard_normal(0, (2, 3, 4, 4), dtype)
    monkeypatch.setattr(ops.Reshape, "backward", staticmethod(lambda ctx, grad_out: (x.copy(), None)))
    with pytest.raises(AssertionError, match="d input"):
        compare_and_record("planted", nn.Flatten(), lambda t: torch.flatten(t, 1), x, 0)


def test_compare_refuses_an_upstream_gradient_equal_to_the_input():
    x = standard_normal(0, (2, 3), np.float64)
    with pytest.raises(ValueError, match="independent"):
        compare(nn.ReLU(), F.relu, x, np.random.default_rng(0))
