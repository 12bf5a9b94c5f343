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

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpers import WORST  # noqa: F401 (benchmarks.record reads test_agreement.WORST)
from helpers import DTYPES, both_refuse, compare_and_record, print_worst_errors, standard_normal, torch_pad
from minicnn import functional as MF  # minicnn's functional ops (F is torch's)
from minicnn import nn
from minicnn.rng import get_rng, manual_seed

torch = pytest.importorskip("torch")  # the reference is optional: pip install 'minicnn[torch]'
import torch.nn.functional as F  # noqa: E402
from minicnn.testing import RTOL  # noqa: E402
from minicnn.testing import compare_with_torch as compare  # noqa: E402

SIZE = st.integers(1, 32)
BATCH = CHANNELS = st.integers(1, 8)
KERNEL = st.integers(1, 5)
STRIDE = st.integers(1, 3)
PADDING = st.integers(0, 2)
# 30 draws per test keep the suite fast; MINICNN_AGREEMENT_EXAMPLES=300 is the longer run quoted in reference/README.md
SETTINGS = settings(max_examples=int(os.environ.get("MINICNN_AGREEMENT_EXAMPLES", 30)), deadline=None)

@pytest.fixture(scope="module", autouse=True)
def report_worst_errors():
    yield
    print_worst_errors()


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



@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(n=BATCH, c=CHANNELS, o=CHANNELS, h=st.integers(2, 20), w=st.integers(2, 20), k=st.integers(1, 5),
       padding=PADDING, seed=st.integers(0, 2**32 - 1))
def test_conv2d_relu_max_pool2d_matches_torch_pool_of_relu_of_conv(dtype, n, c, o, h, w, k, padding, seed):
    """The fused layer (minicnn's, no torch counterpart) against torch's three ops one after the other."""
    assume(h + 2 * padding - k + 1 >= 2 and w + 2 * padding - k + 1 >= 2)  # a 2x2 pool needs a 2x2 conv output
    layer = nn.Conv2dReLUMaxPool2d(c, o, k, padding=padding).to(dtype)
    x = standard_normal(seed, (n, c, h, w), dtype)
    errors = compare_and_record(
        "Conv2dReLUMaxPool2d", layer,
        lambda x, **p: F.max_pool2d(F.relu(F.conv2d(x, padding=padding, **p)), 2), x, seed,
        floor=bias_floor(n, h, w, (k, k), (1, 1), (padding, padding)))
    assert set(errors) == {"forward", "input", "weight", "bias"}

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

# --------------------------------------------------------------------------- ConvTranspose2d
def transposed_hw(hw, kernel, stride, padding, output_padding, dilation):
    """torch's ``(H - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1``."""
    return tuple((hw[a] - 1) * stride[a] - 2 * padding[a] + dilation[a] * (kernel[a] - 1) + output_padding[a] + 1
                 for a in (0, 1))


@st.composite
def conv_transpose_cases(draw, fits=True):
    """ConvTranspose2d's arguments and an input: (N, C, H, W), out_channels, kernel, kwargs.  output_padding below
    the stride or the dilation (at times at least the stride: dilation > stride); with ``fits=False`` one thing
    torch refuses instead: an output_padding at least both, or a padding that leaves no output."""
    groups = draw(st.sampled_from([1, 2, 3]))
    c, o = groups * draw(st.integers(1, 3)), groups * draw(st.sampled_from([1, 2]))
    kernel = (draw(KERNEL), draw(KERNEL))
    stride, dilation = (draw(STRIDE), draw(STRIDE)), (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(PADDING), draw(PADDING))
    output_padding = [draw(st.integers(0, max(stride[a], dilation[a]) - 1)) for a in (0, 1)]
    hw = (draw(st.integers(1, 12)), draw(st.integers(1, 12)))
    if not fits:
        if draw(st.booleans()):
            axis = draw(st.sampled_from([0, 1]))
            output_padding[axis] = draw(st.integers(max(stride[axis], dilation[axis]), 4))
        else:
            hw, padding = (1, 1), (draw(st.integers(3, 5)), draw(st.integers(3, 5)))   # (K - 1)*D + 1 <= 2P: none left
            kernel, dilation = (1, 1), (1, 1)
            output_padding = [0, 0]
    output_padding = tuple(output_padding)
    if fits:
        assume(min(transposed_hw(hw, kernel, stride, padding, output_padding, dilation)) >= 1)
    kwargs = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    return (draw(st.integers(1, 3)), c, *hw), o, kernel, kwargs


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(case=conv_transpose_cases(), bias=st.booleans(), unbatched=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_conv_transpose2d_matches_torch(dtype, case, bias, unbatched, seed):
    shape, o, kernel, kwargs = case
    layer = nn.ConvTranspose2d(shape[1], o, kernel, bias=bias, **kwargs).to(dtype)
    x = standard_normal(seed, shape[1:] if unbatched else shape, dtype)
    out_hw = transposed_hw(shape[2:], kernel, kwargs["stride"], kwargs["padding"], kwargs["output_padding"],
                           kwargs["dilation"])
    errors = compare_and_record("ConvTranspose2d", layer,
                                lambda x, weight, bias=None: F.conv_transpose2d(x, weight, bias, **kwargs), x, seed,
                                floor={"bias": float(np.sqrt((1 if unbatched else shape[0]) * np.prod(out_hw)))})
    assert set(errors) == {"forward", "input", "weight"} | ({"bias"} if bias else set())


class _Sized(nn.Module):
    """``conv(x, output_size=size)`` as a module of one argument (for compare_with_torch)."""

    def __init__(self, conv, size):
        super().__init__()
        self.conv, self.size = conv, size

    def forward(self, x):
        return self.conv(x, output_size=self.size)


@SETTINGS
@given(case=conv_transpose_cases(), extra=st.tuples(st.integers(0, 2), st.integers(0, 2)), leading=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_conv_transpose2d_output_size_matches_torch(case, extra, leading, seed):
    """``forward(x, output_size)``: a size up to ``stride - 1`` above the smallest output picks the output
    padding as torch does (then the numbers agree); one beyond it is refused by both."""
    shape, o, kernel, kwargs = case
    kwargs = {**kwargs, "output_padding": (0, 0)}
    layer = nn.ConvTranspose2d(shape[1], o, kernel, **kwargs).to(np.float64)
    reference = torch.nn.ConvTranspose2d(shape[1], o, kernel, **kwargs).double()
    smallest = transposed_hw(shape[2:], kernel, kwargs["stride"], kwargs["padding"], (0, 0), kwargs["dilation"])
    assume(min(smallest) >= 1)
    size = tuple(smallest[a] + extra[a] for a in (0, 1))
    size = (shape[0], o) + size if leading else size
    x = standard_normal(seed, shape, np.float64)
    if any(extra[a] >= kwargs["stride"][a] for a in (0, 1)):
        both_refuse(lambda: layer(x, output_size=size),
                    lambda: reference(torch.from_numpy(x), output_size=size))
        return

    def torch_fn(x, weight, bias):   # the torch module's own forward, on the tensors compare_with_torch made
        return torch.func.functional_call(reference, {"weight": weight, "bias": bias}, (x,), {"output_size": size})
    compare_and_record("ConvTranspose2d (output_size)", _Sized(layer, size), torch_fn, x, seed,
                       floor={"bias": float(np.sqrt(shape[0] * np.prod(size[-2:])))})


@SETTINGS
@given(case=conv_transpose_cases(fits=False))
def test_conv_transpose2d_refuses_what_torch_refuses(case):
    shape, o, kernel, kwargs = case
    x, weight = np.zeros(shape), np.zeros((shape[1], o // kwargs["groups"], *kernel))
    layer = nn.ConvTranspose2d(shape[1], o, kernel, **kwargs).to(np.float64)
    both_refuse(lambda: layer(x),
                lambda: F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(weight), **kwargs))
    both_refuse(lambda: MF.conv_transpose2d(x, weight, **kwargs),
                lambda: F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(weight), **kwargs))

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
                           lambda p: F.max_unpool2d(p, indices_t, **unpool, output_size=size), out.array, seed)


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
    x = np.random.default_rng(0).standard_normal((2, 3))  # the stream the upstream gradient is drawn from
    with pytest.raises(ValueError, match="independent"):
        compare(nn.ReLU(), F.relu, x, np.random.default_rng(0))


SEEDS = st.integers(0, 2**32 - 1)


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
    momentum = data.draw(st.sampled_from([0.1, 0.5, -0.5, 1.5]))  # any number, as torch: negative, above 1
    layer, (mean_t, var_t), x = _bn_case(layer_cls, dtype, shape, affine, training, momentum, seed)
    before = mean_t.numpy().copy(), var_t.numpy().copy()
    # dx's own scale is weight * invstd * |dy| (dy ~ N(0, 1)); in training it can cancel to far below that
    # (to exactly 0 with two values per channel), leaving only rounding, so it is measured on that scale
    var = x.astype(np.float64).var(axis=tuple(i for i in range(x.ndim) if i != 1)) if training else layer.running_var
    gain = float(np.max((layer.weight.array if affine else 1) / np.sqrt(var + 1e-5)))
    # the forward's (x - mean) * invstd cancels terms of size |x| * invstd: two nearly equal values of a
    # channel (1.15e-4 relative in float32 for a drawn (2, 1) input) leave only rounding of that size
    errors = compare_and_record(
        layer_cls.__name__, layer,
        lambda x, **p: F.batch_norm(x, mean_t, var_t, p.get("weight"), p.get("bias"), training, momentum, 1e-5),
        x, seed, floor={"input": gain, "forward": gain * float(np.abs(x).max(initial=0.0))})
    assert set(errors) == {"forward", "input"} | ({"weight", "bias"} if affine else set())
    # the running estimates moved exactly as torch's (unbiased variance), or not at all in eval mode;
    # each is a blend (1 - momentum) * old + momentum * batch's, which can cancel to near 0 (float32: one
    # example blends to 1.4e-4 from terms near 1), so the tolerance is relative to the blended terms
    rtol = RTOL[np.dtype(dtype)]
    batch_axes = tuple(i for i in range(x.ndim) if i != 1)
    for got, want, old, batch in ((layer.running_mean, mean_t, before[0], x.astype(np.float64).mean(batch_axes)),
                                  (layer.running_var, var_t, before[1], x.astype(np.float64).var(batch_axes))):
        scale = abs(1 - momentum) * np.abs(old) + abs(momentum) * np.abs(batch) if training else np.abs(old)
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
    gain = float(np.max(layer.weight.array / np.sqrt(var + 1e-5)))
    errors = compare_and_record(
        "BatchNormReLU2d", layer,
        lambda x, **p: F.relu(F.batch_norm(x, mean_t, var_t, p.get("weight"), p.get("bias"), training, 0.1, 1e-5)),
        x, seed, floor={"input": gain, "forward": gain * float(np.abs(x).max(initial=0.0))})
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


# --------------------------------------------------------------------------- group norm, instance norm
def _group_ramped(seed, shape, groups, dtype):
    """An offset input with a ramp across each group's values: a group of nearly equal values has
    1/sqrt(var + eps) up to 316, and its float32 dx is then rounding times that, in torch as here."""
    n, c = shape[:2]
    d = int(np.prod(shape)) // max(n * groups, 1)
    ramp = np.linspace(-1, 1, d) if d > 1 else np.zeros(d)
    base = standard_normal(seed, shape, np.float64, 0.5).reshape(n, groups, d) + ramp + 1.5
    return base.reshape(shape).astype(dtype)


def _norm_floors(x, groups, weight, stats=None):
    """The output on the scale of |weight| * xhat, xhat of order 1 (a group of one value normalises to exactly
    0 here, to torch's float32 rounding of x - mean times 1/sqrt(eps) there); dx on its scale |weight| /
    sqrt(var + eps) (it cancels, to exactly 0 for a group of two values); the parameter gradients on the
    scale of their sums over the samples and positions."""
    n, c = x.shape[:2]
    var = x.astype(np.float64).reshape(n, groups, -1).var(axis=2) if stats is None else stats
    w = float(np.max(np.abs(1 if weight is None else weight)))
    rows = 3 * float(np.sqrt(x.size / c))
    return {"forward": max(w, 1.0), "input": w / np.sqrt(np.min(var) + 1e-5), "weight": rows, "bias": rows}


@st.composite
def group_norm_cases(draw):
    groups, per = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 4)), groups * per) + tuple(draw(st.lists(st.integers(1, 5), max_size=3)))
    assume(shape[0] * per * int(np.prod(shape[2:])) > 1)   # torch refuses one value per channel "when training"
    return shape, groups


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(case=group_norm_cases(), affine=st.sampled_from(["both", "weight only", "none"]), seed=SEEDS)
def test_group_norm_matches_torch(dtype, case, affine, seed):
    """nn.GroupNorm against F.group_norm on (N, C, *) inputs of 0-3 dims after C, its weight and bias drawn."""
    shape, groups = case
    layer = nn.GroupNorm(groups, shape[1], affine=affine != "none", bias=affine == "both").to(dtype)
    rng = np.random.default_rng([seed, 3])
    for p in layer.parameters():
        p.array[...] = rng.uniform(-2, 2, p.shape).astype(dtype)
    x = _group_ramped(seed, shape, groups, dtype)
    errors = compare_and_record(
        "GroupNorm", layer, lambda x, **p: F.group_norm(x, groups, p.get("weight"), p.get("bias"), 1e-5), x, seed,
        floor=_norm_floors(x, groups, None if layer.weight is None else layer.weight.array))
    assert set(errors) == {"forward", "input"} | {name for name, _ in layer.named_parameters()}
    theirs = torch.nn.GroupNorm(groups, shape[1], affine=affine != "none", bias=affine == "both")
    assert repr(layer) == repr(theirs)


def test_group_norm_refuses_what_torch_refuses():
    for x, groups in ((np.zeros((2, 6, 3)), 4), (np.zeros((1, 3)), 3), (np.zeros((1, 4, 1, 1)), 4),
                      (np.zeros(4), 1), (np.zeros((2, 4, 0)), 2), (np.zeros((2, 4, 3)), -2)):
        both_refuse(lambda: MF.group_norm(x, groups), lambda: F.group_norm(torch.from_numpy(x), groups))
    for weight in (np.ones(4), np.ones((6, 1))):
        x = np.zeros((2, 6, 3))
        both_refuse(lambda: MF.group_norm(x, 2, weight), lambda: F.group_norm(torch.from_numpy(x), 2,
                                                                          torch.from_numpy(weight)))
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(4\) must be divisible by num_groups \(3\)"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match="must be divisible"):
        torch.nn.GroupNorm(3, 4)


@st.composite
def instance_norm_cases(draw):
    """(shape, affine, track_running_stats, training, momentum): (N, C, H, W) or unbatched (C, H, W)."""
    hw = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    lead = (draw(st.integers(1, 4)),) if draw(st.booleans()) else ()
    shape = lead + (draw(st.integers(1, 4)),) + hw
    track, training = draw(st.booleans()), draw(st.booleans())
    assume(hw != (1, 1) or (track and not training))   # torch refuses one value per instance with its statistics
    return shape, draw(st.booleans()), track, training, draw(st.sampled_from([0.1, 0.5, None, -1.2]))


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(case=instance_norm_cases(), seed=SEEDS)
def test_instance_norm_matches_torch(dtype, case, seed):
    """nn.InstanceNorm2d against F.instance_norm (batched and unbatched, with and without running statistics, in
    training and evaluation, any momentum as torch), its weight and bias drawn; then the same steps through
    torch's own nn.InstanceNorm2d: the same output and running statistics (momentum None is 0 there), and
    num_batches_tracked left at 0."""
    shape, affine, track, training, momentum = case
    c, batched = shape[-3], len(shape) == 4
    layer = nn.InstanceNorm2d(c, momentum=momentum, affine=affine, track_running_stats=track).to(dtype)
    theirs = torch.nn.InstanceNorm2d(c, momentum=momentum, affine=affine, track_running_stats=track)
    theirs.to(getattr(torch, np.dtype(dtype).name))
    rng = np.random.default_rng([seed, 3])
    for p in layer.parameters():
        p.array[...] = rng.uniform(-2, 2, p.shape).astype(dtype)
    if track:
        layer.running_mean[...], layer.running_var[...] = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    layer.train(training)
    theirs.train(training)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in layer.state_dict().items()})
    running = (torch.from_numpy(layer.running_mean.copy()), torch.from_numpy(layer.running_var.copy())) if track \
        else (None, None)
    before = [None if r is None else r.numpy().copy() for r in running]
    x = _group_ramped(seed, shape if batched else (1,) + shape, c, dtype).reshape(shape)
    use_input_stats = training or not track

    def torch_fn(x, **p):
        x4 = x if batched else x.unsqueeze(0)
        out = F.instance_norm(x4, *running, p.get("weight"), p.get("bias"), use_input_stats,
                              0.0 if momentum is None else momentum, 1e-5)
        return out if batched else out.squeeze(0)
    x4 = x if batched else x[None]
    stats = None if use_input_stats else layer.running_var
    errors = compare_and_record("InstanceNorm2d", layer, torch_fn, x, seed,
                                floor=_norm_floors(x4, c, None if layer.weight is None else layer.weight.array, stats))
    assert set(errors) == {"forward", "input"} | ({"weight", "bias"} if affine else set())
    rtol = RTOL[np.dtype(dtype)]
    if track:   # moved as torch's (the batch's average instance mean and unbiased variance), or not in eval
        m = 0.0 if momentum is None or not training else momentum
        x64 = x4.astype(np.float64)
        batch = (x64.mean(axis=(2, 3)).mean(axis=0), x64.var(axis=(2, 3), ddof=1).mean(axis=0)) if training \
            else (0.0, 0.0)   # (evaluation: no batch statistics, and a 1 x 1 image has no unbiased variance)
        for got, want, old, new in zip((layer.running_mean, layer.running_var), running, before, batch):
            scale = abs(1 - m) * np.abs(old) + abs(m) * np.abs(new)   # the blend's two terms
            np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=rtol * scale.max() + 1e-12)
        assert int(layer.num_batches_tracked) == 0
    # torch's own layer, from the same state (it has not run): its choice of statistics, momentum, unbatched input
    layer.load_state_dict({k: v.numpy().copy() for k, v in theirs.state_dict().items()})
    ours = layer(x).data
    with torch.no_grad():
        want = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, want, rtol=0, atol=rtol * max(np.abs(want).max(initial=0), 1.0))
    for key, value in layer.state_dict().items():
        np.testing.assert_allclose(np.asarray(value, np.float64), theirs.state_dict()[key].double().numpy(),
                                   rtol=0, atol=rtol * 10 + 1e-12, err_msg=key)
    assert repr(layer) == repr(theirs)


def test_instance_norm_refuses_what_torch_refuses():
    for x in (np.zeros((2, 3, 1, 1)), np.zeros((3, 1, 1)), np.zeros((2, 3)), np.zeros((2, 3, 4, 4, 1))):
        both_refuse(lambda: nn.InstanceNorm2d(3).double()(x), lambda: torch.nn.InstanceNorm2d(3)(torch.from_numpy(x)))
    x = np.zeros((2, 4, 3, 3))
    both_refuse(lambda: nn.InstanceNorm2d(3, affine=True).double()(x),
                lambda: torch.nn.InstanceNorm2d(3, affine=True).double()(torch.from_numpy(x)))
    both_refuse(lambda: MF.instance_norm(x, use_input_stats=False),
                lambda: F.instance_norm(torch.from_numpy(x), use_input_stats=False))
    both_refuse(lambda: MF.instance_norm(x, np.zeros(4)), lambda: F.instance_norm(torch.from_numpy(x), torch.zeros(4)))


def test_instance_norm_warns_of_other_channels_without_affine_and_computes_as_torch():
    x = np.random.default_rng(0).standard_normal((2, 5, 3, 3))
    with pytest.warns(UserWarning, match="input's size at dim=1 does not match num_features"):
        ours = nn.InstanceNorm2d(3).double()(x).data
    with pytest.warns(UserWarning, match="input's size at dim=1 does not match num_features"):
        theirs = torch.nn.InstanceNorm2d(3)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-14)


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


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 12), st.integers(1, 12)),
       unbatched=st.booleans(),
       out=st.tuples(st.none() | st.integers(1, 14), st.none() | st.integers(1, 14)) | st.integers(1, 14), seed=SEEDS)
def test_adaptive_max_pool2d_matches_torch(dtype, shape, unbatched, out, seed):
    """Output sizes below, at and above the input's (windows that overlap), None entries, unbatched input; the
    indices equal torch's, and max_unpool2d takes them back where the windows have one size and stride."""
    x = distinct_values(seed, shape[1:] if unbatched else shape, dtype)
    compare_and_record("AdaptiveMaxPool2d", nn.AdaptiveMaxPool2d(out), lambda x: F.adaptive_max_pool2d(x, out),
                       x, seed)
    pooled, indices = nn.AdaptiveMaxPool2d(out, return_indices=True)(x)
    pooled_t, indices_t = F.adaptive_max_pool2d(torch.from_numpy(x), out, return_indices=True)
    assert indices.dtype == np.int64 and not indices.requires_grad
    np.testing.assert_array_equal(indices.data, indices_t.numpy())
    np.testing.assert_array_equal(MF.adaptive_max_pool2d(x, out, True)[1].data, indices_t.numpy())
    (h, w), (oh, ow) = x.shape[-2:], pooled.shape[-2:]
    if h % oh == 0 and w % ow == 0:   # windows of kh x kw at stride (kh, kw): max_pool2d's, so unpooling's
        kernel = (h // oh, w // ow)
        compare_and_record("MaxUnpool2d", UnpoolAsLayer(nn.MaxUnpool2d(kernel), indices.data, (h, w)),
                           lambda p: F.max_unpool2d(p, indices_t, kernel, output_size=(h, w)), pooled.array, seed)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adaptive_max_pool2d_ties_nan_and_inf_match_torch(dtype):
    """Windows full of ties (a few integer levels), -inf, and NaN: the same winners as torch (the first
    maximum in row-major order; the last NaN), the same values and gradients."""
    rng = np.random.default_rng(0)
    x = rng.integers(-1, 2, (2, 3, 7, 9)).astype(dtype)
    x[0, 0] = -np.inf
    x[0, 1, 2:5, 1:4] = np.nan
    x[1, 2, ::2, ::3] = np.nan
    for out in [(3, 4), (7, 9), (10, 12), 1, (None, 2)]:
        xm, xt = MF.Tensor(x.copy(), requires_grad=True), torch.from_numpy(x.copy()).requires_grad_()
        (ours, idx), (theirs, idx_t) = MF.adaptive_max_pool2d(xm, out, True), F.adaptive_max_pool2d(xt, out, True)
        np.testing.assert_array_equal(ours.data, theirs.detach().numpy())
        np.testing.assert_array_equal(idx.data, idx_t.numpy())
        g = rng.standard_normal(ours.shape).astype(dtype)
        ours.backward(g)
        theirs.backward(torch.from_numpy(g))
        np.testing.assert_allclose(xm.grad, xt.grad.numpy(), rtol=RTOL[np.dtype(dtype)], atol=0)


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


# --------------------------------------------------------------------------- padding
@st.composite
def pad_cases(draw):
    """(input shape, pad, mode, value) as torch's F.pad takes them: 2, 4 or 6 ints, the non-constant modes on a
    (k+1)- or (k+2)-D input for a pad of 2k ints, negative pads (crops) in every mode (``helpers.torch_pad``:
    where each mode's crop applies), on any dims."""
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    k = draw(st.sampled_from([1, 2, 3]))
    if mode == "constant":
        shape = tuple(draw(st.lists(st.integers(1, 5), min_size=k, max_size=5)))
    else:
        shape = tuple(draw(st.lists(st.integers(1, 5), min_size=k + 1, max_size=k + 2)))
    value = draw(st.sampled_from([None, 0.0, -2.5, 3])) if mode == "constant" else None
    return shape, torch_pad(draw, mode, shape, 2 * k), mode, value


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(case=pad_cases(), by_keyword=st.booleans(), seed=SEEDS)
def test_pad_matches_torch(dtype, case, by_keyword, seed):
    shape, pad, mode, value = case
    if by_keyword:
        ours = _Call(lambda x: MF.pad(x, pad=pad, mode=mode, value=value))
    else:
        ours = _Call(lambda x: MF.pad(x, pad, mode, value))
    compare_and_record("F.pad", ours, lambda x: F.pad(x, pad, mode, value), standard_normal(seed, shape, dtype), seed)


PAD_LAYERS = [("ZeroPad2d", nn.ZeroPad2d, torch.nn.ZeroPad2d), ("ReflectionPad2d", nn.ReflectionPad2d,
                                                                 torch.nn.ReflectionPad2d),
              ("ReplicationPad2d", nn.ReplicationPad2d, torch.nn.ReplicationPad2d),
              ("CircularPad2d", nn.CircularPad2d, torch.nn.CircularPad2d),
              ("ConstantPad2d(value=-1.5)", lambda p: nn.ConstantPad2d(p, -1.5),
               lambda p: torch.nn.ConstantPad2d(p, -1.5)),
              ("ZeroPad3d", nn.ZeroPad3d, torch.nn.ZeroPad3d), ("ReflectionPad3d", nn.ReflectionPad3d,
                                                                 torch.nn.ReflectionPad3d),
              ("ReplicationPad3d", nn.ReplicationPad3d, torch.nn.ReplicationPad3d),
              ("CircularPad3d", nn.CircularPad3d, torch.nn.CircularPad3d),
              ("ConstantPad3d(value=2)", lambda p: nn.ConstantPad3d(p, 2), lambda p: torch.nn.ConstantPad3d(p, 2))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, make, theirs", PAD_LAYERS)
@SETTINGS
@given(batched=st.booleans(), data=st.data(), seed=SEEDS)
def test_padding_layers_match_torch(dtype, name, make, theirs, batched, data, seed):
    """Each padding layer against torch's, on (C, H, W) / (N, C, H, W) (2d) or (C, D, H, W) / (N, C, D, H, W)
    (3d): an int padding (every side; negative: a crop wherever torch computes one) or a tuple of torch's
    pads, negative ones among them."""
    k = 3 if "3d" in name else 2
    mode = next(m for key, m in (("Zero", "constant"), ("Constant", "constant"), ("Reflection", "reflect"),
                                 ("Replication", "replicate"), ("Circular", "circular")) if name.startswith(key))
    shape = (data.draw(st.integers(1, 3)),) + tuple(data.draw(st.integers(2, 5)) for _ in range(k))
    if data.draw(st.booleans()):
        padding = data.draw(st.integers(-1 if mode in ("constant", "circular") else 0, min(shape[1:]) // 2))
    else:
        padding = torch_pad(data.draw, mode, shape, 2 * k)
    layer, reference = make(padding), theirs(padding)
    assert repr(layer) == repr(reference)
    shape = ((2,) if batched else ()) + shape
    compare_and_record(name, layer, reference, standard_normal(seed, shape, dtype), seed)


def _circular_reads_unwritten_cells(shape, pad):
    """torch's circular pad wraps the cells its crop keeps without checking that they are enough: where a pad
    is more than what the crop leaves its answer is memory it never wrote (or an overlap error), and minicnn
    refuses (also where that leaves the output empty, and torch returns the empty tensor)."""
    for i, n in enumerate(shape[::-1][:len(pad) // 2]):
        lo, hi = pad[2 * i:2 * i + 2]
        kept = n - max(-lo, 0) - max(-hi, 0)
        if kept < 0 or max(lo, hi) > kept:
            return True
    return False


@SETTINGS
@given(shape=st.lists(st.integers(0, 4), max_size=6).map(tuple), mode=st.sampled_from(["reflect", "replicate",
                                                                                        "circular"]),
       pad=st.lists(st.integers(-5, 5), min_size=2, max_size=6).filter(lambda p: len(p) % 2 == 0).map(tuple))
def test_pad_refuses_what_torch_refuses(shape, mode, pad):
    """minicnn computes (to torch's shape) exactly where torch does: ranks, 2, 4 or 6 ints, pads at the limits,
    crops (negative pads) that leave nothing or reach into the padding."""
    x = np.zeros(shape)
    try:
        expected = F.pad(torch.from_numpy(x), pad, mode)
    except (RuntimeError, IndexError, ValueError, NotImplementedError):
        expected = None
    if mode == "circular" and expected is not None and _circular_reads_unwritten_cells(shape, pad):
        expected = None
    if expected is None:
        with pytest.raises(ValueError, match="pad"):
            MF.pad(x, pad, mode)
    else:
        assert MF.pad(x, pad, mode).shape == tuple(expected.shape)


# --------------------------------------------------------------------------- resizing
# the modes minicnn computes -> the input ranks each takes (torch's)
RESIZE_RANKS = {"nearest": (3, 4, 5), "nearest-exact": (3, 4, 5), "linear": (3,), "bilinear": (4,), "trilinear": (5,),
                "bicubic": (4,), "area": (3, 4, 5)}
RESIZE_MODES = list(RESIZE_RANKS)
# round factors (2, 0.5: torch's shortcuts), factors that keep or double a size without being 1 or 2, any
FACTORS = st.sampled_from([1.0, 2.0, 0.5, 3.0, 1.1, 2.05, 0.999, 1.5]) | st.floats(0.2, 4.0)


def torch_interpolate(x, **kwargs):
    """torch's ``F.interpolate`` of ``x``, computed in float64 (a float32 ``x`` is compared with it rounded to
    float32).  The nearest modes on 3-D and 5-D input go through torch's channels-last 3-D kernel (the channels
    repeated to 4 or more, the length of a 3-D input as the width of a 1 x 1 x L volume): that forward takes its
    index from the rule of torch's backward, as minicnn does; torch's NCL and NCDHW forward kernels do not (see
    test_torchs_ncl_and_ncdhw_nearest_forward_differ_from_their_own_backward_where_minicnn_follows_the_backward)."""
    x64 = x.double()
    if x.ndim == 4 or not kwargs["mode"].startswith("nearest"):
        return F.interpolate(x64, **kwargs).to(x.dtype)
    if x.ndim == 3:
        x64, kwargs = x64[:, :, None, None], dict(kwargs)
        for name, one in (("size", 1), ("scale_factor", 1.0)):
            if kwargs.get(name) is not None:
                value = kwargs[name]
                kwargs[name] = (one, one) + (tuple(value) if isinstance(value, (tuple, list)) else (value,))
    repeated = x64.repeat(1, 4, 1, 1, 1).contiguous(memory_format=torch.channels_last_3d)
    out = F.interpolate(repeated, **kwargs)[:, :x.shape[1]]
    return (out[:, :, 0, 0] if x.ndim == 3 else out).to(x.dtype)


@st.composite
def interpolate_cases(draw, mode, rank):
    """(input shape, F.interpolate's keyword arguments) for ``mode`` on a ``rank``-D input: a size (an int or one
    per spatial dim) or a scale factor (a number or one per dim, recomputed or not), align_corners where the mode
    takes it; 4-D outputs of at most 48 x 48 (OH + OW <= 128: where torch's NCHW forward kernels share its
    backward's index rule, see kernels/upsample.py)."""
    dims = rank - 2
    longest, largest = {1: (16, 30), 2: (12, 20), 3: (5, 8)}[dims]   # the input's sizes, a given output size
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 4))) + tuple(draw(st.integers(1, longest))
                                                                      for _ in range(dims))
    kwargs = {"mode": mode}
    if draw(st.booleans()):
        kwargs["size"] = draw(st.integers(1, largest) | st.tuples(*[st.integers(1, largest)] * dims)
                              | st.lists(st.integers(1, largest), min_size=dims, max_size=dims))
    else:
        factor = draw(FACTORS | st.tuples(*[FACTORS] * dims))
        factors = factor if isinstance(factor, tuple) else (factor,) * dims
        assume(all(int(n * f) >= 1 for n, f in zip(shape[2:], factors)))
        kwargs["scale_factor"] = factor
        kwargs["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    if mode in ("linear", "bilinear", "bicubic", "trilinear"):
        kwargs["align_corners"] = draw(st.sampled_from([None, False, True]))
    assume(not torch_bicubic_backward_copies(shape, kwargs))
    return shape, kwargs


def torch_bicubic_backward_copies(shape, kwargs):
    """Whether torch's bicubic backward copies the gradient (both sizes kept) where its forward interpolated (a
    scale factor other than 1 passed on as the step): its backward is not its forward's adjoint there, minicnn's is
    (:func:`test_torchs_bicubic_backward_at_a_kept_size_is_not_its_forwards_adjoint`)."""
    factor = kwargs.get("scale_factor")
    if kwargs.get("mode") != "bicubic" or factor is None or kwargs.get("recompute_scale_factor") \
            or kwargs.get("align_corners"):
        return False
    pair = factor if isinstance(factor, tuple) else (factor, factor)
    return all(int(n * float(f)) == n for n, f in zip(shape[2:], pair)) and any(float(f) != 1 for f in pair)


def in_float64(torch_fn, mode):
    """``torch_fn`` computed in float64 and rounded to the input's dtype, for bicubic (torch's float32 kernel
    computes its weights and sums in float32, minicnn's in float64: float32 is held against the float64 result);
    ``torch_fn`` itself for the other modes."""
    return (lambda x: torch_fn(x.double()).to(x.dtype)) if mode == "bicubic" else torch_fn


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode, rank", [(mode, rank) for mode, ranks in RESIZE_RANKS.items() for rank in ranks])
@SETTINGS
@given(data=st.data(), positional=st.booleans(), seed=SEEDS)
def test_interpolate_matches_torch(dtype, mode, rank, data, positional, seed):
    """Every mode on every rank it takes: forward and input gradient, against torch in float64."""
    shape, kwargs = data.draw(interpolate_cases(mode, rank))
    if positional:  # torch's order: size, scale_factor, mode, align_corners, recompute_scale_factor
        args = tuple(kwargs.get(k) for k in ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor"))
        ours = _Call(lambda x: MF.interpolate(x, *args))
    else:
        ours = _Call(lambda x: MF.interpolate(x, **kwargs))
    compare_and_record(f"F.interpolate {mode} {rank}-D", ours, lambda x: torch_interpolate(x, **kwargs),
                       standard_normal(seed, shape, dtype), seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("by", ["size", "scale_factor"])
@pytest.mark.parametrize("direction", ["up", "down"])
@SETTINGS
@given(data=st.data(), seed=SEEDS)
def test_bicubic_matches_torch(dtype, align_corners, by, direction, data, seed):
    """mode='bicubic' by a size or a scale factor (recomputed or not), both align_corners, enlarging (each size
    kept or grown, one grown) and shrinking (each kept or shrunk, one shrunk), against torch in float64: the
    taps beyond both borders, torch's float32 floor of the source, the step 1/scale_factor."""
    low = 2 if direction == "down" else 1
    shape = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3)), data.draw(st.integers(low, 10)),
             data.draw(st.integers(low, 10)))
    kwargs = {"mode": "bicubic", "align_corners": align_corners}
    if by == "size":
        if direction == "up":
            size = tuple(data.draw(st.integers(n, 2 * n + 3)) for n in shape[2:])
        else:
            size = tuple(data.draw(st.integers(1, n)) for n in shape[2:])
        kwargs["size"] = size
    else:
        factors = st.floats(1.0, 4.0) if direction == "up" else st.floats(0.2, 1.0)
        kwargs["scale_factor"] = (data.draw(factors), data.draw(factors))
        kwargs["recompute_scale_factor"] = data.draw(st.sampled_from([None, False, True]))
        size = tuple(int(n * f) for n, f in zip(shape[2:], kwargs["scale_factor"]))
        assume(min(size) >= 1)
    assume(size != shape[2:] and (max(o - n for o, n in zip(size, shape[2:])) > 0) == (direction == "up"))
    assume(not torch_bicubic_backward_copies(shape, kwargs))
    compare_and_record("F.interpolate bicubic", _Call(lambda x: MF.interpolate(x, **kwargs)),
                       in_float64(lambda x: F.interpolate(x, **kwargs), "bicubic"), standard_normal(seed, shape, dtype),
                       seed)


def test_torchs_bicubic_backward_at_a_kept_size_is_not_its_forwards_adjoint():
    """5 x 5 pixels by scale_factor 1.1 stay 5 x 5: torch's forward steps by 1/1.1 (it interpolates), its backward
    copies the gradient (upsample_bicubic2d_backward_out_frame's kept-size shortcut), so <R x, g> != <x, dx> for
    torch.  minicnn's forward is torch's and its backward the forward's adjoint.  Shown so that a torch that
    changes either rule fails here, not silently elsewhere."""
    from minicnn import Tensor
    x, g = standard_normal(0, (1, 2, 5, 5), np.float64), standard_normal(1, (1, 2, 5, 5), np.float64)
    kwargs = {"scale_factor": 1.1, "mode": "bicubic"}
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out_t = F.interpolate(xt, **kwargs)
    out_t.backward(torch.from_numpy(g.copy()))
    ours = Tensor.wrap(x.copy(), requires_grad=True)
    result = MF.interpolate(ours, **kwargs)
    result.backward(g)
    out = result.array
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert np.abs(out - x).max() > 0.1                      # the forward interpolates
    np.testing.assert_array_equal(xt.grad.numpy(), g)         # torch's backward copies
    assert abs(np.sum(out * g) - np.sum(x * g)) > 0.1        # which is not the adjoint
    assert abs(np.sum(out * g) - np.sum(x * ours.grad)) < 1e-12 * np.sum(np.abs(out * g))


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(data=st.data(), seed=SEEDS)
def test_5d_nearest_exact_of_wide_planes_matches_torch(dtype, data, seed):
    """5-D nearest-exact resizes D as the width of 1-pixel-high images when OH * OW exceeds
    NEAREST_EXACT_KEEPS (there the (N, C, D, OH * OW) pass would move some of the kept OH * OW outputs,
    next test): that route, taken here at every size, against torch."""
    from minicnn.kernels import upsample
    shape, kwargs = data.draw(interpolate_cases("nearest-exact", 5))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(upsample, "NEAREST_EXACT_KEEPS", 0)
        compare_and_record("F.interpolate nearest-exact 5-D, wide", _Call(lambda x: MF.interpolate(x, **kwargs)),
                           lambda x: torch_interpolate(x, **kwargs), standard_normal(seed, shape, dtype), seed)


def test_nearest_exact_keeps_an_axis_of_up_to_2_to_the_23():
    """nearest-exact's source of output o at a kept size is floor(o + 0.5) in float32: o up to NEAREST_EXACT_KEEPS
    (2**23), beyond it the tie rounds to even (2**23 + 1.5 -> 2**23 + 2), so a longer kept axis is not kept."""
    from minicnn.kernels import upsample
    source, m = upsample._nearest_exact_source_naive, upsample.NEAREST_EXACT_KEEPS
    assert [source(o, m, m, None) for o in (0, 1, m - 2, m - 1)] == [0, 1, m - 2, m - 1]
    assert source(m + 1, m + 3, m + 3, None) == m + 2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@SETTINGS
@given(size=st.integers(2, 90), factor=FACTORS | st.floats(1.9, 2.1), seed=SEEDS)
def test_nearest_on_large_outputs_is_torchs_backward_rule(dtype, mode, size, factor, seed):
    """Outputs beyond OH + OW = 128: torch's channels-last forward kernel (4 channels) computes the index as its
    backward does at any size, and so does minicnn; torch's NCHW forward differs there (next test)."""
    width = max(1, int(size * factor))
    assume(1 + width > 128 or 2 * width > 128)
    shape, kwargs = (2, 4, 2, size), {"scale_factor": (1.0, factor), "mode": mode}
    compare_and_record(f"F.interpolate {mode}, large", _Call(lambda x: MF.interpolate(x, **kwargs)),
                       lambda x: F.interpolate(x.contiguous(memory_format=torch.channels_last), **kwargs),
                       standard_normal(seed, shape, dtype), seed)


@pytest.mark.parametrize("dtype", DTYPES)
def test_torchs_nchw_nearest_forward_differs_from_its_own_backward_where_minicnn_follows_the_backward(dtype):
    """64 -> 128 pixels with scale_factor 2.005 (the width doubled, the factor not 2): torch's generic NCHW forward
    steps by 1/2.005; its backward, its channels-last forward and minicnn halve the index (nearest_idx's shortcut).
    Shown so that a torch that changes either rule fails here, not silently elsewhere."""
    x = np.arange(64, dtype=dtype).reshape(1, 1, 1, 64)
    kwargs = {"scale_factor": (1.0, 2.005), "mode": "nearest"}
    nchw = F.interpolate(torch.from_numpy(x), **kwargs)[0, 0, 0].numpy()
    channels_last = F.interpolate(torch.from_numpy(np.repeat(x, 4, 1)).contiguous(memory_format=torch.channels_last),
                                  **kwargs)[0, 0, 0].numpy()
    ours = MF.interpolate(x, **kwargs).data[0, 0, 0]
    np.testing.assert_array_equal(ours, np.arange(128) // 2)
    np.testing.assert_array_equal(channels_last, ours)
    assert nchw[2] == 0 and ours[2] == 1                       # floor(2 / 2.005) = 0 in torch's NCHW forward
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    F.interpolate(xt, **kwargs).backward(torch.from_numpy(np.arange(128, dtype=dtype).reshape(1, 1, 1, 128)))
    np.testing.assert_array_equal(xt.grad[0, 0, 0].numpy(), 4 * np.arange(64) + 1)  # outputs 2i and 2i + 1 to input i


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rank", [3, 5])
def test_torchs_ncl_and_ncdhw_nearest_forward_differs_from_its_own_backward_where_minicnn_follows_the_backward(
        dtype, rank):
    """2 -> 2 pixels with scale_factor 1.1 (the size kept, the factor not 1): torch's NCL and NCDHW forward steps by
    1/1.1 (output 1 reads input 0), at any output size (torch's 3-D and 5-D forward have no small-output path as its
    4-D one has); its backward, its channels-last 3-D forward and minicnn copy (nearest_idx's shortcut)."""
    x = np.arange(2, dtype=dtype).reshape((1, 1) + (1,) * (rank - 3) + (2,))
    kwargs = {"scale_factor": (1.0,) * (rank - 3) + (1.1,), "mode": "nearest"}
    ours = MF.interpolate(x, **kwargs).array.ravel()
    np.testing.assert_array_equal(ours, [0, 1])
    np.testing.assert_array_equal(torch_interpolate(torch.from_numpy(x), **kwargs).numpy().ravel(), ours)
    assert F.interpolate(torch.from_numpy(x), **kwargs).numpy().ravel().tolist() == [0, 0]
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    F.interpolate(xt, **kwargs).backward(torch.from_numpy(np.array([1, 10], dtype=dtype).reshape(x.shape)))
    assert xt.grad.numpy().ravel().tolist() == [1, 10]   # output 1's gradient to input 1


@st.composite
def upsampling_layers(draw):
    """(minicnn layer, torch layer, the input's rank) of one of the three classes, with torch's arguments for a
    mode and a rank it takes."""
    cls = draw(st.sampled_from(["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]))
    mode = {"UpsamplingNearest2d": "nearest", "UpsamplingBilinear2d": "bilinear"}.get(cls)
    mode = mode or draw(st.sampled_from(RESIZE_MODES))
    rank = draw(st.sampled_from(RESIZE_RANKS[mode]))
    if draw(st.booleans()):
        kwargs = {"size": draw(st.integers(1, 9) | st.tuples(*[st.integers(1, 9)] * (rank - 2)))}
    else:
        kwargs = {"scale_factor": draw(st.sampled_from([2, 0.5, 1.7, 3]) | st.tuples(*[FACTORS] * (rank - 2))
                                       | st.floats(0.6, 3.0))}
    if cls == "Upsample":
        kwargs["mode"] = mode
        if mode in ("linear", "bilinear", "bicubic", "trilinear"):
            kwargs["align_corners"] = draw(st.sampled_from([None, False, True]))
        if "scale_factor" in kwargs:
            kwargs["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    return getattr(nn, cls)(**kwargs), getattr(torch.nn, cls)(**kwargs), rank


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(layers=upsampling_layers(), shape=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(2, 8),
                                                   st.integers(2, 8), st.integers(2, 5)), seed=SEEDS)
def test_upsampling_layers_match_torch(dtype, layers, shape, seed):
    """The layers' attributes and reprs are torch's, and their output and input gradient torch's forward of them:
    ``F.interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor)``."""
    layer, reference, rank = layers
    shape = shape[:rank]
    factor = reference.scale_factor or 1
    assume(all(int(n * f) >= 1 for n, f in zip(shape[2:], factor if isinstance(factor, tuple) else (factor,) * 3)))
    assume(not torch_bicubic_backward_copies(shape, {"mode": reference.mode, "scale_factor": reference.scale_factor,
                                                     "recompute_scale_factor": reference.recompute_scale_factor,
                                                     "align_corners": reference.align_corners}))
    assert repr(layer) == repr(reference)
    arguments = {name: getattr(reference, name)
                 for name in ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor")}
    for name, value in arguments.items():
        assert getattr(layer, name) == value, name
    compare_and_record(f"{type(layer).__name__} {rank}-D", layer, lambda x: torch_interpolate(x, **arguments),
                       standard_normal(seed, shape, dtype), seed)


@pytest.mark.parametrize("name", ["upsample", "upsample_nearest", "upsample_bilinear"])
def test_the_deprecated_aliases_warn_and_match_torch(name):
    """F.upsample (any mode), F.upsample_nearest and F.upsample_bilinear (align_corners=True): interpolate, with
    torch's deprecation warning; the first two on 3-D and 5-D input too."""
    import warnings
    image, length, volume = (2, 3, 4, 5), (2, 3, 5), (2, 3, 4, 3, 5)
    calls = [(image, {"size": (3, 7)}), (image, {"scale_factor": 1.7}), (image, {"scale_factor": (0.6, 2)})]
    if name != "upsample_bilinear":
        calls += [(length, {"size": 7}), (volume, {"scale_factor": (0.5, 1.7, 2)})]
    if name == "upsample":
        calls += [(image, {"size": 5, "mode": "bilinear", "align_corners": True}),
                  (image, {"scale_factor": 1.5, "mode": "nearest-exact"}),
                  (length, {"size": 8, "mode": "linear", "align_corners": True}),
                  (volume, {"scale_factor": 1.5, "mode": "trilinear"}), (volume, {"size": (2, 3, 2), "mode": "area"})]
    for k, (shape, kwargs) in enumerate(calls):
        x = standard_normal(k, shape, np.float64)
        with pytest.warns(UserWarning, match=f"`nn.functional.{name}` is deprecated. Use `nn.functional.interpolate`"):
            getattr(MF, name)(x, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compare_and_record(f"F.{name}", _Call(lambda x: getattr(MF, name)(x, **kwargs)),
                               lambda x: getattr(F, name)(x, **kwargs), x, k)


@SETTINGS
@given(shape=st.lists(st.integers(0, 4), min_size=2, max_size=5).map(tuple),
       size=st.none() | st.integers(-1, 5) | st.lists(st.integers(-1, 5), min_size=1, max_size=3).map(tuple)
       | st.sampled_from([(2,), (2, 2, 2), (2.0, 3), (2, 2.0, 2)]),
       scale_factor=st.none() | st.floats(-1.0, 3.0) | st.lists(st.floats(0.0, 3.0), min_size=1, max_size=3).map(tuple)
       | st.sampled_from([(2.0,), (1.5, 1.5, 1.5)]),
       mode=st.sampled_from(["nearest", "nearest-exact", "bilinear", "linear", "bicubic", "trilinear", "area",
                             "lanczos", "nearest_exact", "cubic"]),
       align_corners=st.sampled_from([None, False, True]), recompute=st.sampled_from([None, False, True]),
       antialias=st.booleans())
def test_interpolate_refuses_what_torch_refuses(shape, size, scale_factor, mode, align_corners, recompute, antialias):
    """Where torch raises, minicnn refuses too (ValueError or TypeError, naming interpolate); where torch computes,
    minicnn gives the same shape or, for the modes minicnn does not compute, antialias, and torch's empty outputs
    and channels of mode='area' (whose backward torch refuses), refuses by name."""
    x = np.zeros(shape)
    kwargs = dict(size=size, scale_factor=scale_factor, mode=mode, align_corners=align_corners,
                  recompute_scale_factor=recompute, antialias=antialias)
    try:
        expected = F.interpolate(torch.from_numpy(x), **kwargs)
    except (RuntimeError, ValueError, TypeError, NotImplementedError):
        expected = None
    if expected is None or mode not in RESIZE_MODES or antialias or (mode == "area" and 0 in expected.shape[1:]):
        with pytest.raises((ValueError, TypeError), match="interpolate"):
            MF.interpolate(x, **kwargs)
    else:
        assert MF.interpolate(x, **kwargs).shape == tuple(expected.shape)


# --------------------------------------------------------------------------- pixel shuffle
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, layer, ours, theirs", [
    ("PixelShuffle", nn.PixelShuffle, MF.pixel_shuffle, F.pixel_shuffle),
    ("PixelUnshuffle", nn.PixelUnshuffle, MF.pixel_unshuffle, F.pixel_unshuffle),
])
@SETTINGS
@given(lead=st.lists(st.integers(1, 3), max_size=2), r=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 5),
       w=st.integers(1, 5), functional=st.booleans(), seed=SEEDS)
def test_pixel_shuffle_and_unshuffle_match_torch(dtype, name, layer, ours, theirs, lead, r, c, h, w, functional,
                                                 seed):
    shape = tuple(lead) + ((c * r * r, h, w) if name == "PixelShuffle" else (c, h * r, w * r))
    module = _Call(lambda x: ours(x, r)) if functional else layer(r)
    if not functional:
        assert repr(module) == repr(getattr(torch.nn, name)(r))
    compare_and_record(name, module, lambda x: theirs(x, r), standard_normal(seed, shape, dtype), seed)


# --------------------------------------------------------------------------- Unflatten
@st.composite
def unflatten_cases(draw):
    """(input shape, dim, unflattened_size): the dim's size split into factors, one of them maybe -1."""
    shape = tuple(draw(st.lists(st.integers(1, 12), min_size=1, max_size=4)))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    size, sizes = shape[dim], []
    while size > 1 and len(sizes) < 3:
        factor = draw(st.sampled_from([f for f in range(1, size + 1) if size % f == 0]))
        sizes.append(factor)
        size //= factor
    sizes = [size] + sizes + [1] * draw(st.integers(0, 1))
    sizes = draw(st.permutations(sizes))
    if draw(st.booleans()):
        sizes[draw(st.integers(0, len(sizes) - 1))] = -1
    return shape, dim, draw(st.sampled_from([tuple, list]))(sizes)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(case=unflatten_cases(), seed=SEEDS)
def test_unflatten_matches_torch(dtype, case, seed):
    shape, dim, sizes = case
    layer, theirs = nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes)
    assert repr(layer) == repr(theirs)
    compare_and_record("Unflatten", layer, theirs, standard_normal(seed, shape, dtype), seed)


@SETTINGS
@given(shape=st.lists(st.integers(0, 6), max_size=3).map(tuple), dim=st.integers(-4, 3),
       sizes=st.lists(st.integers(-2, 6), max_size=3).map(tuple))
def test_unflatten_refuses_what_torch_refuses(shape, dim, sizes):
    x = np.zeros(shape)
    try:
        expected = torch.nn.Unflatten(dim, sizes)(torch.from_numpy(x)).shape
    except (RuntimeError, IndexError):
        expected = None
    if expected is None:
        both_refuse(lambda: nn.Unflatten(dim, sizes)(x), lambda: torch.nn.Unflatten(dim, sizes)(torch.from_numpy(x)))
    else:
        assert nn.Unflatten(dim, sizes)(x).shape == tuple(expected)


def test_unflatten_refuses_sizes_that_are_no_tuple_of_ints_like_torch():
    for sizes in (6, (2, 3.0), "23", None):
        with pytest.raises(TypeError):
            torch.nn.Unflatten(1, sizes)
        with pytest.raises(TypeError, match="Unflatten: expected unflattened_size as a tuple of ints"):
            nn.Unflatten(1, sizes)


# --------------------------------------------------------------------------- activations
SHAPES = st.lists(st.integers(1, 8), min_size=1, max_size=4).map(tuple)


# A few entries all deep in a tail (GELU's 1 + erf, ELU's exp, 1 + tanh far below 0) make an output and a
# gradient of ~1e-4 to 1e-8, which torch itself rounds at float32's (or float64's) precision of 1 + erf: the
# error is measured against at least 0.01, the inputs' and upstream gradients' scale being 1 or more.
TAIL_FLOOR = {"forward": 0.01, "input": 0.01}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, layer, torch_fn", [
    ("Sigmoid", nn.Sigmoid(), torch.sigmoid),
    ("Tanh", nn.Tanh(), torch.tanh),
    ("LeakyReLU", nn.LeakyReLU(), F.leaky_relu),
    ("LeakyReLU(0.3)", nn.LeakyReLU(0.3), lambda x: F.leaky_relu(x, 0.3)),
    ("Hardtanh(-0.5, 0.8)", nn.Hardtanh(-0.5, 0.8), lambda x: F.hardtanh(x, -0.5, 0.8)),
    ("ReLU6", nn.ReLU6(), F.relu6),
    ("Hardsigmoid", nn.Hardsigmoid(), F.hardsigmoid),
    ("Hardswish", nn.Hardswish(), F.hardswish),
    ("SiLU", nn.SiLU(), F.silu),
    ("GELU", nn.GELU(), F.gelu),
    ("GELU(approximate='tanh')", nn.GELU(approximate="tanh"), lambda x: F.gelu(x, approximate="tanh")),
    ("ELU", nn.ELU(), F.elu),
    ("ELU(0.4)", nn.ELU(0.4), lambda x: F.elu(x, 0.4)),
    ("ELU(-1.5)", nn.ELU(-1.5), lambda x: F.elu(x, -1.5)),
    ("Softplus", nn.Softplus(), F.softplus),
    ("Softplus(2, 3)", nn.Softplus(2, 3), lambda x: F.softplus(x, 2, 3)),
    ("Softplus(-1, 0.5)", nn.Softplus(-1, 0.5), lambda x: F.softplus(x, -1, 0.5)),
    # inplace=True: torch's value, computed out of place (compare_with_torch checks the input is untouched)
    ("Hardsigmoid(inplace=True)", nn.Hardsigmoid(inplace=True), F.hardsigmoid),
    ("Hardswish(inplace=True)", nn.Hardswish(inplace=True), F.hardswish),
    ("SiLU(inplace=True)", nn.SiLU(inplace=True), F.silu),
    ("ELU(0.4, inplace=True)", nn.ELU(0.4, inplace=True), lambda x: F.elu(x, 0.4)),
    ("ReLU(inplace=True)", nn.ReLU(inplace=True), F.relu),
    ("LeakyReLU(0.3, inplace=True)", nn.LeakyReLU(0.3, inplace=True), lambda x: F.leaky_relu(x, 0.3)),
    ("Hardtanh(-0.5, 0.8, inplace=True)", nn.Hardtanh(-0.5, 0.8, inplace=True), lambda x: F.hardtanh(x, -0.5, 0.8)),
    ("ReLU6(inplace=True)", nn.ReLU6(inplace=True), F.relu6),
])
@SETTINGS
@given(shape=SHAPES, scale=st.sampled_from([1.0, 10.0, 100.0]), seed=SEEDS)
def test_elementwise_activation_matches_torch(dtype, name, layer, torch_fn, shape, scale, seed):
    x = standard_normal(seed, shape, dtype, scale)
    x.reshape(-1)[::5] = 0  # the kink of LeakyReLU, ReLU6 and ELU: torch gives the slope there
    if isinstance(layer, nn.Hardtanh):  # and the bounds themselves, where the slope is 0
        x.reshape(-1)[1::5], x.reshape(-1)[2::5] = layer.min_val, layer.max_val
    if isinstance(layer, (nn.Hardsigmoid, nn.Hardswish)):  # their kinks at -3 and 3
        x.reshape(-1)[1::5], x.reshape(-1)[2::5] = -3, 3
    if isinstance(layer, nn.Softplus):  # where beta * x meets the threshold, and just beyond it
        x.reshape(-1)[1::5] = layer.threshold / layer.beta
        x.reshape(-1)[2::5] = layer.threshold / layer.beta * 1.01
    compare_and_record(name, layer, torch_fn, x, seed, floor=TAIL_FLOOR)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple), k=st.integers(1, 3),
       affine=st.sampled_from(["both", "weight only", "none"]), scale=st.sampled_from([1.0, 10.0]), seed=SEEDS)
def test_layer_norm_matches_torch(dtype, shape, k, affine, scale, seed):
    """nn.LayerNorm against F.layer_norm over the last 1-3 dims, its weight and bias drawn (not ones and zeros)."""
    normalized = shape[len(shape) - min(k, len(shape)):]
    layer = nn.LayerNorm(normalized, eps=1e-5, elementwise_affine=affine != "none", bias=affine == "both").to(dtype)
    rng = np.random.default_rng([seed, 3])
    for p in layer.parameters():
        p.array[...] = rng.uniform(-2, 2, p.shape).astype(dtype)
    # a ramp across each row keeps its variance away from 0: a row of nearly equal values has
    # 1/sqrt(var + eps) up to 316, and its float32 dx is then rounding times that, in torch as here
    d = int(np.prod(normalized))
    ramp = np.linspace(-1, 1, d).reshape(normalized) if d > 1 else np.zeros(normalized)
    x = (standard_normal(seed, shape, dtype, 0.3) + ramp).astype(dtype) * dtype(scale)
    # dweight and dbias sum over the rows, which may cancel: measured on the scale of those terms
    rows = float(np.sqrt(x.size / d))
    # a row of one value: dx is exactly 0, torch's float32 its rounding times 1/sqrt(eps) = 316
    floor = {"input": 1.0 if d > 1 else 1 / np.sqrt(1e-5), "weight": 3 * rows, "bias": 3 * rows}
    if affine == "both":
        fn = lambda x, weight, bias: F.layer_norm(x, normalized, weight, bias, 1e-5)  # noqa: E731
    elif affine == "weight only":
        fn = lambda x, weight: F.layer_norm(x, normalized, weight, None, 1e-5)  # noqa: E731
    else:
        fn = lambda x: F.layer_norm(x, normalized, None, None, 1e-5)  # noqa: E731
    compare_and_record("LayerNorm", layer, fn, x, seed, floor=floor)
    assert repr(layer) == repr(torch.nn.LayerNorm(normalized, eps=1e-5, elementwise_affine=affine != "none",
                                                  bias=affine == "both"))


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(shape=SHAPES, per_channel=st.booleans(), init=st.sampled_from([0.25, -0.5, 1.5, 0.0]),
       scale=st.sampled_from([1.0, 10.0]), seed=SEEDS)
def test_prelu_matches_torch(dtype, shape, per_channel, init, scale, seed):
    """nn.PReLU against F.prelu (the gradient of the slopes included), with exact zeros where the slope applies."""
    num = shape[1] if per_channel and len(shape) >= 2 else 1
    layer = nn.PReLU(num, init).to(dtype)
    layer.weight.array[...] += np.random.default_rng([seed, 3]).uniform(-0.5, 0.5, num).astype(dtype)
    x = standard_normal(seed, shape, dtype, scale)
    x.reshape(-1)[::5] = 0
    # dweight is a sum of x * dout over size / num entries, which may cancel: measured on the scale of those terms
    floor = {"weight": float(np.sqrt(x.size / num)) * scale}
    compare_and_record("PReLU", layer, lambda x, weight: F.prelu(x, weight), x, seed, floor=floor)
    assert repr(layer) == repr(torch.nn.PReLU(num, init))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, ours, theirs", [
    ("F.silu(inplace=True)", lambda x: MF.silu(x, inplace=True), lambda x: F.silu(x)),
    ("F.hardswish(x, True)", lambda x: MF.hardswish(x, True), lambda x: F.hardswish(x)),
    ("F.hardsigmoid(inplace=False)", lambda x: MF.hardsigmoid(x, inplace=False),
     lambda x: F.hardsigmoid(x, inplace=False)),
    ("F.gelu(approximate='tanh')", lambda x: MF.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh")),
    ("F.elu(alpha=2.5, inplace=True)", lambda x: MF.elu(x, alpha=2.5, inplace=True), lambda x: F.elu(x, alpha=2.5)),
    ("F.relu(inplace=True)", lambda x: MF.relu(x, inplace=True), lambda x: F.relu(x)),
    ("F.leaky_relu(negative_slope=0.2, inplace=True)", lambda x: MF.leaky_relu(x, negative_slope=0.2, inplace=True),
     lambda x: F.leaky_relu(x, negative_slope=0.2)),
    ("F.relu6(inplace=True)", lambda x: MF.relu6(x, inplace=True), lambda x: F.relu6(x)),
    ("F.softplus(beta=0.5, threshold=2)", lambda x: MF.softplus(x, beta=0.5, threshold=2),
     lambda x: F.softplus(x, beta=0.5, threshold=2)),
])
@SETTINGS
@given(shape=SHAPES, seed=SEEDS)
def test_activation_functions_by_keyword_match_torch(dtype, name, ours, theirs, shape, seed):
    """The functional forms, every argument by keyword (inplace=True computed out of place, as its value)."""
    compare_and_record(name, _Call(ours), theirs, standard_normal(seed, shape, dtype, 4.0), seed, floor=TAIL_FLOOR)


class _Call(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


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
class LossWithTarget(nn.Module):
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
    compare_and_record("MSELoss", LossWithTarget(nn.MSELoss(reduction), target),
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
    compare_and_record("NLLLoss", LossWithTarget(nn.NLLLoss(weight, ignore_index, reduction), target),
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
    compare_and_record("BCEWithLogitsLoss", LossWithTarget(criterion, target),
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


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(shape=st.lists(st.integers(1, 6), max_size=3).map(tuple), reduction=REDUCTION,
       weighted=st.sampled_from(["none", "full", "last axis", "leading ones"]), seed=SEEDS)
def test_bce_loss_matches_torch(dtype, shape, reduction, weighted, seed):
    """BCELoss against F.binary_cross_entropy: any shape (0-d included), hard and soft targets, a weight of
    the input's shape or broadcast to it, probabilities from 0.001 to 0.999 (the gradient x (1 - x) ** -1
    stays within 1e3 of its scale)."""
    rng = np.random.default_rng([seed, 3])
    x = rng.uniform(0.001, 0.999, shape).astype(dtype)
    target = rng.uniform(0, 1, shape).astype(dtype)
    target[rng.random(shape) < 0.4] = 1
    target[rng.random(shape) < 0.2] = 0
    weight = {"none": None, "full": rng.uniform(0.5, 2, shape), "last axis": rng.uniform(0.5, 2, shape[-1:]),
              "leading ones": rng.uniform(0.5, 2, (1,) * len(shape))}[weighted]
    weight = None if weight is None else weight.astype(dtype)
    criterion = nn.BCELoss(weight, reduction=reduction)
    compare_and_record("BCELoss", LossWithTarget(criterion, target),
                       lambda x: F.binary_cross_entropy(x, torch.from_numpy(target),
                                                        None if weight is None else torch.from_numpy(weight),
                                                        reduction=reduction), x, seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_loss_target_gradient_matches_torch(dtype, reduction):
    """torch's binary_cross_entropy differentiates its target too: -weight * log(x / (1 - x)) (over the count
    for "mean"); so does minicnn's, the weight broadcast over the rows."""
    rng = np.random.default_rng(1)
    x, t = rng.uniform(0.01, 0.99, (4, 5)).astype(dtype), rng.uniform(0, 1, (4, 5)).astype(dtype)
    w = rng.uniform(0.5, 2, 5).astype(dtype)
    import minicnn
    xm, tm = minicnn.tensor(x, requires_grad=True), minicnn.tensor(t, requires_grad=True)
    xt, tt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(t).requires_grad_()
    ours, theirs = nn.BCELoss(w, reduction=reduction)(xm, tm), F.binary_cross_entropy(xt, tt, torch.from_numpy(w),
                                                                                       reduction=reduction)
    g = rng.standard_normal(ours.shape).astype(dtype)
    ours.backward(g)
    theirs.backward(torch.from_numpy(g))
    for a, b in ((ours.data, theirs.detach().numpy()), (xm.grad, xt.grad.numpy()), (tm.grad, tt.grad.numpy())):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=RTOL[np.dtype(dtype)], atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_loss_at_probabilities_0_and_1_is_torch_s(dtype):
    """Where a log would be -inf: torch clamps each at -100 (a sure miss costs 100), its input gradient's
    denominator at 1e-12, and its target gradient is infinite; minicnn gives the same numbers, inf for inf."""
    x = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1e-30, 0.5], dtype)
    t = np.array([0.0, 0.3, 1.0, 0.0, 0.7, 1.0, 1.0, 0.5], dtype)
    import minicnn
    xm, tm = minicnn.tensor(x, requires_grad=True), minicnn.tensor(t, requires_grad=True)
    xt, tt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(t).requires_grad_()
    ours, theirs = MF.binary_cross_entropy(xm, tm, reduction="none"), F.binary_cross_entropy(xt, tt, reduction="none")
    ours.backward(np.ones(8, dtype))
    theirs.backward(torch.ones(8, dtype=theirs.dtype))
    for a, b in ((ours.data, theirs.detach().numpy()), (xm.grad, xt.grad.numpy()), (tm.grad, tt.grad.numpy())):
        np.testing.assert_allclose(a, b, rtol=RTOL[np.dtype(dtype)], atol=0)   # (inf equals inf, NaN none)
    assert ours.data.max() == 100 and np.isinf(tm.grad).sum() == 6
    for reduction in ("mean", "sum"):
        np.testing.assert_allclose(MF.binary_cross_entropy(x, t, reduction=reduction).data,
                                   F.binary_cross_entropy(torch.from_numpy(x), torch.from_numpy(t),
                                                          reduction=reduction).numpy(), rtol=RTOL[np.dtype(dtype)])


@pytest.mark.parametrize("x, t, weight", [
    ([1.5, 0.5], [0.5, 0.5], None), ([-0.1], [0.5], None), ([np.nan], [0.5], None),   # input outside [0, 1]
    ([0.5], [2.0], None), ([0.5], [np.nan], None),                                  # the target too, as torch
    ([[0.5, 0.5]], [0.5, 0.5], None), ([0.5, 0.5, 0.5], [[0.5, 0.5, 0.5]], None),   # shapes differ
    ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [1.0, 2.0]),                                  # weight not broadcastable
    ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]),          # weight grows the shape
])
def test_bce_loss_refuses_what_torch_refuses(x, t, weight):
    x, t = np.array(x), np.array(t)
    w = None if weight is None else np.array(weight)
    both_refuse(lambda: nn.BCELoss(w)(x, t),
                lambda: F.binary_cross_entropy(torch.from_numpy(x), torch.from_numpy(t),
                                               None if w is None else torch.from_numpy(w)))


# --------------------------------------------------------------------------- state_dict keys as torch's
@pytest.mark.parametrize("ours, theirs", [
    (lambda: nn.BatchNorm2d(5), lambda: torch.nn.BatchNorm2d(5)),
    (lambda: nn.PReLU(), lambda: torch.nn.PReLU()),
    (lambda: nn.PReLU(4, init=-0.5), lambda: torch.nn.PReLU(4, init=-0.5)),
    (lambda: nn.BatchNorm1d(5, affine=False), lambda: torch.nn.BatchNorm1d(5, affine=False)),
    (lambda: nn.BatchNorm1d(5, track_running_stats=False), lambda: torch.nn.BatchNorm1d(5, track_running_stats=False)),
    (lambda: nn.GroupNorm(2, 4), lambda: torch.nn.GroupNorm(2, 4)),
    (lambda: nn.GroupNorm(2, 4, affine=False), lambda: torch.nn.GroupNorm(2, 4, affine=False)),
    (lambda: nn.GroupNorm(2, 4, bias=False), lambda: torch.nn.GroupNorm(2, 4, bias=False)),
    (lambda: nn.InstanceNorm2d(3), lambda: torch.nn.InstanceNorm2d(3)),
    (lambda: nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
     lambda: torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True)),
    (lambda: nn.InstanceNorm2d(3, track_running_stats=True), lambda: torch.nn.InstanceNorm2d(3, track_running_stats=True)),
    (lambda: nn.NLLLoss(np.ones(3, np.float32)), lambda: torch.nn.NLLLoss(torch.ones(3))),
    (lambda: nn.BCEWithLogitsLoss(pos_weight=np.ones(3, np.float32)),
     lambda: torch.nn.BCEWithLogitsLoss(pos_weight=torch.ones(3))),
    (lambda: nn.BCELoss(np.ones(3, np.float32)), lambda: torch.nn.BCELoss(torch.ones(3))),
])
def test_state_dict_keys_shapes_and_dtypes_are_torch_s(ours, theirs):
    a, b = ours().state_dict(), theirs().state_dict()
    assert list(a) == list(b)
    for key in a:
        assert a[key].shape == tuple(b[key].shape), key
        assert str(a[key].dtype) == str(b[key].dtype).removeprefix("torch."), key
        np.testing.assert_array_equal(a[key], b[key].numpy())
