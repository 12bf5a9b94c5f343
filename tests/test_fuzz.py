"""Every public layer, loss, functional op, optimiser, scheduler and the data loader, fuzzed: it computes,
or minicnn itself refuses.

Each row (one per ``minicnn.nn`` class, ``minicnn.functional`` function, optimiser, scheduler and the
DataLoader, found by introspection: a class or function without a row FAILS) makes two calls per
hypothesis example, one with arguments from each strategy:

* **well-formed**: every constructor option torch has (Conv2d's padding_mode, dilation, groups,
  ``padding='same'``/``'valid'``; pooling's ceil_mode, dilation, return_indices, count_include_pad,
  divisor_override; ...), inputs of a shape the op takes, float32/float64 in any layout (strided
  views, transposes, Fortran order, read-only) with a NaN/±Inf/1e30 somewhere, unpooling indices
  from a real ``max_pool2d(..., return_indices=True)``, training and eval mode, inputs that require
  grad or not.  These must compute: a refusal fails the row.
* **hostile**: the same with odd values mixed in (any shape 0-5 dims of sizes 0-5, bool/int/uint8/
  float16/complex dtypes, ``-1``, ``2.5``, ``"2"``, ``None``, ``2**64``, ...; unpooling indices out of
  range, of another shape or dtype).  These compute or are refused.

A call gives a result, checked where cheap (the output shape by torch's formula, the dtype, finite
where the input is, the gradient's shape and dtype after backward), or a **minicnn refusal**: a
ValueError/TypeError raised by a ``raise`` statement in a file of the minicnn package whose message
names the op as the user called it (:func:`refusal_problem`).  numpy's reshape error or Python's
``'<=' not supported`` leaking out of minicnn fails, as does any other exception, a crash or a hang.

Each row counts its draws that computed and that were refused (:data:`TALLY`) and asserts that it
ran at least :data:`MIN_DRAWS` draws and computed on at least half of them: a fuzz that only ever
hits the argument checks proves nothing about the kernels.  One call in two being well-formed (not
a drawn choice: hypothesis's draws are far from independent, so a drawn 3-in-4 came out under half
on some seeds) makes the half hold for any seed, derandomized or not.  ``-s`` prints the table
(:func:`test_zz_the_compute_table`).  Under ``NUMBA_BOUNDSCHECK=1``
(:func:`test_the_fuzz_again_with_numba_boundscheck`, ``make test-slow``) every kernel is recompiled
with bounds checks, so a kernel reading out of bounds raises IndexError, which fails the row too;
:func:`test_boundscheck_is_really_on` proves the checks were on with a real minicnn kernel.
"""
import collections
import dis
import inspect
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from helpers import torch_pad
import minicnn
from minicnn import data, nn, optim
from minicnn import functional as F
from minicnn.autograd import Tensor

EXAMPLES = int(os.environ.get("MINICNN_FUZZ_EXAMPLES", 40))
# No shrinking unless MINICNN_FUZZ_SHRINK=1: shrinking a failure of these many-draw rows takes minutes on
# two cores; the unshrunk failure is reported (and reproducible) all the same.
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                phases=list(Phase) if os.environ.get("MINICNN_FUZZ_SHRINK") == "1" else
                [p for p in Phase if p not in (Phase.shrink, Phase.explain)])
# Each example makes one well-formed and one hostile call: 2 * EXAMPLES draws per row when every example
# ran; a row with fewer than EXAMPLES draws (half of that) fails: it proved too little.
MIN_DRAWS = max(5, EXAMPLES)

DTYPES = [np.bool_, np.int32, np.int64, np.uint8, np.float16, np.float32, np.float64, np.complex64]
FLOATS = [np.float32, np.float64]
# (not 10**12: a layer of that size fails in numpy's allocation with MemoryError, an honest answer)
ODD_INTS = st.sampled_from([0, -1, 1, 2, 3, True, 2.5, "2", None, np.int64(2), 2**64])
ODD_NUMBERS = st.sampled_from([0.01, 0.0, -1.0, float("nan"), float("inf"), True, "0.1", None, 1e308, 3])


# --------------------------------------------------------------------------- what counts as a refusal
MINICNN_DIR = os.path.dirname(os.path.realpath(minicnn.__file__))


def _spelling(text):
    return re.sub(r"[^a-z0-9]", "", text.lower())


def refusal_problem(exc, names):
    """Why ``exc`` is not minicnn refusing the op called ``names`` (None: it is).

    It must be raised by a ``raise`` statement (the innermost traceback frame's instruction is
    RAISE_VARARGS, not a call into numpy or Python that failed) in a file of the minicnn package,
    with a message that names the op: one of ``names`` (its name as called, its torch spelling),
    compared ignoring case, underscores and spaces (``max_pool2d`` = ``MaxPool2d``)."""
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    where = f"{code.co_filename}:{tb.tb_lineno} ({code.co_name})"
    if not os.path.realpath(code.co_filename).startswith(MINICNN_DIR + os.sep):
        return f"{type(exc).__name__} from outside minicnn, at {where}: {exc}"
    ops = {ins.offset: ins.opname for ins in dis.get_instructions(code)}
    if ops.get(tb.tb_lasti) != "RAISE_VARARGS":
        return f"{type(exc).__name__} not raised by a raise statement but by {ops.get(tb.tb_lasti)} at {where}: {exc}"
    if not any(_spelling(n) in _spelling(str(exc)) for n in names):
        return f"{type(exc).__name__} at {where} does not name the op (any of {names}): {exc}"
    return None


def refused_or(call, names):
    """``call()``'s result, or None if minicnn refused it (:func:`refusal_problem`); anything else fails."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (softmax's implicit-dim deprecation, as torch's, is no failure)
            return call()
    except (ValueError, TypeError) as exc:
        problem = refusal_problem(exc, names)
        if problem:
            raise AssertionError(problem) from exc
        return None


def test_the_refusal_rule_takes_only_minicnn_refusals():
    """numpy's error (raised in numpy, or by numpy's C code called from a minicnn line), and a minicnn
    refusal that names another op, are not refusals; ``F.relu``'s own is."""
    def caught(call):
        try:
            call()
        except (ValueError, TypeError) as exc:
            return exc
        raise AssertionError("no error")
    reshape = caught(lambda: np.zeros(3).reshape(2))
    assert "outside minicnn" in refusal_problem(reshape, ("reshape",))
    # numpy's C code failing on a minicnn line (Reshape's forward called bare, without Tensor.reshape's check)
    from types import SimpleNamespace

    from minicnn.autograd import ops
    leaked = caught(lambda: ops.Reshape.forward(SimpleNamespace(), np.zeros(3), (2,)))
    assert "not raised by a raise statement" in refusal_problem(leaked, ("reshape",))
    broadcast = caught(lambda: Tensor(np.zeros((2, 3))) * Tensor(np.zeros((4, 5))))  # minicnn's own check now
    assert refusal_problem(broadcast, ("mul",)) is None
    relu = caught(lambda: F.relu(np.zeros(3, np.int64)))
    assert refusal_problem(relu, ("relu",)) is None
    assert "does not name the op" in refusal_problem(relu, ("conv2d",))


# --------------------------------------------------------------------------- the compute tally
TALLY = collections.defaultdict(collections.Counter)  # row -> {"computed": n, "refused": n}


def _count(row, computed, well=None):
    TALLY[row]["computed" if computed else "refused"] += 1
    if well is not None:
        TALLY[row]["well-formed"] += well


def _assert_row_computed(row):
    got = TALLY[row]
    draws = got["computed"] + got["refused"]
    assert draws >= MIN_DRAWS, f"{row}: only {draws} draws ran (at least {MIN_DRAWS} expected)"
    assert got["computed"] * 2 >= draws, (f"{row}: computed on {got['computed']} of {draws} draws, under half: "
                                          f"the fuzz mostly proves the argument checks")


def _run_row(row, fuzz, *args):
    """Run the hypothesis test ``fuzz`` for ``row`` on a fresh count, then assert the row computed."""
    TALLY.pop(row, None)
    fuzz(row, *args)
    _assert_row_computed(row)


# --------------------------------------------------------------------------- inputs
@st.composite
def arrays(draw, shape=None, dtypes=DTYPES, max_dims=5):
    """An array of any dtype and layout, with a NaN/±Inf/0/1e30 somewhere when float, of ``shape`` or
    a drawn one (0..``max_dims`` dims of sizes 0..5)."""
    if shape is None:
        shape = tuple(draw(st.lists(st.integers(0, 5), max_size=max_dims)))
    shape = tuple(shape)
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    layout = draw(st.sampled_from(["contiguous", "strided", "transposed", "fortran", "readonly"]))
    big = shape[:-1] + (2 * shape[-1],) if layout == "strided" and shape else shape
    values = np.array(rng.standard_normal(big[::-1] if layout == "transposed" else big) * 3)
    if values.size and dtype.kind in "fc":
        values.flat[rng.integers(values.size)] = draw(st.sampled_from([0.0, np.nan, np.inf, -np.inf, 1e30]))
    with np.errstate(all="ignore"):
        a = np.array(values.astype(dtype))
    if layout == "strided" and shape:
        a = a[..., ::2]
    elif layout == "transposed":
        a = a.T
    elif layout == "fortran":
        a = np.asfortranarray(a) if a.ndim else a  # (it makes a 0-d array 1-d)
    elif layout == "readonly":
        a.flags.writeable = False
    assert a.shape == shape
    return a


def pick(d, well, good, *odd):
    """A value from ``good``, or (hostile) from ``good`` or one of the ``odd`` strategies."""
    return d(good) if well else d(st.one_of(good, *odd))


def value(d, well, good, odd):
    """``good`` and ``odd`` as lists of plain values."""
    return pick(d, well, st.sampled_from(good), st.sampled_from(odd))


def tensor(d, well, shape, dtype=None):
    """A float array of ``shape`` (of ``dtype`` if given); hostile: also that shape in any dtype, or anything."""
    good = arrays(shape=shape, dtypes=[dtype] if dtype else FLOATS)
    return pick(d, well, good, arrays(shape=shape), arrays())


def image(d, well, c=None, hw=(1, 5), batched=True, n=None):
    """An (N, C, H, W) float input (or unbatched (C, H, W) where ``batched`` is False)."""
    h, w = d(st.integers(*hw)), d(st.integers(*hw))
    c = d(st.integers(1, 3)) if c is None else c
    lead = ((d(st.integers(1, 3)) if n is None else n),) if batched else ()
    return tensor(d, well, lead + (c, h, w))


def maybe_unbatched(d, well):
    return d(st.booleans()) if well else True


def labels_for(d, well, logits, ignore_index=-100):
    """Class indices for ``logits`` (N, C, ...) or (C,): in range, sometimes ``ignore_index``."""
    n_shape = logits.shape[:1] + logits.shape[2:] if logits.ndim >= 2 else ()
    c = logits.shape[1] if logits.ndim >= 2 else (logits.shape[0] if logits.ndim else 1)
    rng = np.random.default_rng(d(st.integers(0, 2**16)))
    good = rng.integers(0, max(c, 1), size=n_shape).astype(d(st.sampled_from([np.int64, np.int32, np.uint8])))
    if good.size and d(st.booleans()) and good.dtype != np.uint8:
        good.flat[0] = ignore_index
    if well:
        return good
    return d(st.one_of(st.just(good), arrays(shape=n_shape, dtypes=[np.int64, np.float32, np.bool_]),
                       arrays(max_dims=3), st.just(good + c)))


def is_float_array(a):
    return isinstance(a, np.ndarray) and a.dtype in FLOATS


def finite(a):
    return is_float_array(a) and bool(np.isfinite(a).all())


# --------------------------------------------------------------------------- torch's output sizes
def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v) * (2 if len(v) == 1 else 1)  # (torch expands a 1-tuple)


def conv_hw(hw, kernel, stride, padding, dilation):
    """torch's ``(H + 2*padding - dilation*(k - 1) - 1) // stride + 1``; 'same' keeps H, 'valid' pads 0."""
    if padding == "same":
        return tuple(hw)
    padding = (0, 0) if padding == "valid" else _pair(padding)
    k, s, dl = _pair(kernel), _pair(stride), _pair(dilation)
    return tuple((hw[i] + 2 * padding[i] - dl[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2))


def pool_hw(hw, kernel, stride, padding, dilation, ceil_mode):
    """torch's ``pooling_output_shape``: as :func:`conv_hw`, rounded up with ceil_mode unless the
    last window would start in the right padding. An empty ``stride`` is the kernel size, as None."""
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    k, s, p, dl = _pair(kernel), _pair(kernel if no_stride else stride), _pair(padding), _pair(dilation)
    out = []
    for i in range(2):
        room = hw[i] + 2 * p[i] - dl[i] * (k[i] - 1) - 1
        o = (-(-room // s[i]) if ceil_mode else room // s[i]) + 1
        if ceil_mode and (o - 1) * s[i] >= hw[i] + p[i]:
            o -= 1
        out.append(o)
    return tuple(out)


# --------------------------------------------------------------------------- results
def backward_checked(out, params, names):
    """Backward from a float output; each parameter's gradient has its shape and dtype."""
    if isinstance(out, Tensor) and out.requires_grad and out.dtype.kind == "f":
        if refused_or(lambda: out.sum().backward() or "done", names) is None:  # (backward returns None)
            return
        for p in params:
            if p.grad is not None:
                assert p.grad.shape == p.shape and p.grad.dtype == p.dtype


def checked_result(out, expect):
    """``out`` a Tensor (or a tuple of them) meeting ``expect``: shape, dtype, bounded (finite)."""
    outs = out if isinstance(out, tuple) else (out,)
    assert all(isinstance(o, Tensor) for o in outs), f"expected Tensors, got {[type(o).__name__ for o in outs]}"
    if "shape" in expect:
        assert outs[0].shape == tuple(expect["shape"]), (f"shape {outs[0].shape}, "
                                                         f"torch's formula gives {expect['shape']}")
    if "dtype" in expect:
        assert outs[0].dtype == expect["dtype"], f"dtype {outs[0].dtype}, expected {expect['dtype']}"
    if expect.get("finite"):
        assert np.isfinite(outs[0].data).all(), "a non-finite output from a finite input"
    if expect.get("equal") is not None:
        np.testing.assert_array_equal(outs[0].data, expect["equal"])
    if len(outs) == 2:  # max pooling's indices
        assert outs[1].dtype == np.int64 and outs[1].shape == outs[0].shape


# =========================================================================== layers
# A row: draw(d, well) -> (layer, args, expect); expect a dict for checked_result (maybe empty).
LAYERS = {}
LAYER_NAMES = {}  # class name -> the names a refusal may use (the class's, and the functional op's)


def _registrar(rows, names):
    """A decorator ``@row(name, *also)`` that puts a row's draw function in ``rows`` and the names its
    refusals may use (``name`` and ``also``) in ``names``."""
    def row(name, *also):
        def register(fn):
            rows[name] = fn
            names[name] = (name,) + also
            return fn
        return register
    return row


layer = _registrar(LAYERS, LAYER_NAMES)


def _conv_options(d, well):
    groups = value(d, well, [1, 1, 2], [0, 3, 1.5, None])
    g = groups if isinstance(groups, int) and groups > 0 else 1
    cin, cout = g * d(st.integers(1, 2)), g * d(st.integers(1, 2))
    k = pick(d, well, st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))), ODD_INTS)
    stride = value(d, well, [1, 1, 2, (1, 2)], [0, -1, (1,), (1, 2, 3), "1"])
    dilation = value(d, well, [1, 1, 2, (2, 1)], [0, (0, 1), 1.0])
    padding = value(d, well, [0, 1, (1, 0), "valid", "same"], [-1, "full", (1, 2, 3), None])
    if padding == "same" and well:
        stride = 1
    mode = value(d, well, ["zeros", "reflect", "replicate", "circular"], ["mirror", None, 0])
    return dict(cin=cin, cout=cout, k=k, stride=stride, dilation=dilation, padding=padding, groups=groups,
                mode=mode)


def _conv_input(d, well, o, batched=True):
    k, dl = _small(o["k"]) or (1, 1), _small(o["dilation"]) or (1, 1)
    span = max(dl[i] * (k[i] - 1) + 1 for i in range(2))
    return image(d, well, c=o["cin"], hw=(span + 1, span + 3), batched=batched)


@layer("Conv2d", "conv2d")
def _conv2d(d, well):
    o = _conv_options(d, well)
    conv = nn.Conv2d(o["cin"], o["cout"], o["k"], stride=o["stride"], padding=o["padding"], dilation=o["dilation"],
                     groups=o["groups"], bias=d(st.booleans()), padding_mode=o["mode"])
    x = _conv_input(d, well, o, batched=maybe_unbatched(d, well))
    hw = conv_hw(x.shape[-2:], o["k"], o["stride"], o["padding"], o["dilation"]) if x.ndim >= 3 else ()
    return conv, (x,), {"shape": x.shape[:-3] + (o["cout"],) + hw}


def conv_transpose_hw(hw, kernel, stride, padding, output_padding, dilation):
    """torch's ``(H - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1``."""
    k, s, p, op, dl = _pair(kernel), _pair(stride), _pair(padding), _pair(output_padding), _pair(dilation)
    return tuple((hw[i] - 1) * s[i] - 2 * p[i] + dl[i] * (k[i] - 1) + op[i] + 1 for i in range(2))


def _conv_transpose_options(d, well):
    groups = value(d, well, [1, 1, 2], [0, 3, 1.5, None])
    g = groups if isinstance(groups, int) and groups > 0 else 1
    cin, cout = g * d(st.integers(1, 2)), g * d(st.integers(1, 2))
    k = pick(d, well, st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))), ODD_INTS)
    stride = value(d, well, [1, 1, 2, (1, 2)], [0, -1, (1,), (1, 2, 3), "1"])
    dilation = value(d, well, [1, 1, 2, (2, 1)], [0, (0, 1), 1.0])
    padding = value(d, well, [0, 1, (1, 0)], [-1, "same", (1, 2, 3), None, 5])
    s, dl = _small(stride) or (1, 1), _small(dilation) or (1, 1)
    room = (max(s[0], dl[0]) - 1, max(s[1], dl[1]) - 1)   # torch: output_padding < stride or dilation
    output_padding = pick(d, well, st.tuples(st.integers(0, room[0]), st.integers(0, room[1])),
                          st.sampled_from([-1, 2, 3, (0, 3), "1", None]))
    return dict(cin=cin, cout=cout, k=k, stride=stride, dilation=dilation, padding=padding,
                output_padding=output_padding, groups=groups)


@layer("ConvTranspose2d", "conv_transpose2d")
def _conv_transpose2d(d, well):
    o = _conv_transpose_options(d, well)
    conv = nn.ConvTranspose2d(o["cin"], o["cout"], o["k"], stride=o["stride"], padding=o["padding"],
                              output_padding=o["output_padding"], groups=o["groups"], bias=d(st.booleans()),
                              dilation=o["dilation"], padding_mode=value(d, well, ["zeros"], ["reflect", None, 0]))
    x = image(d, well, c=o["cin"], hw=(3, 5), batched=maybe_unbatched(d, well))
    if x.ndim < 3:
        return conv, (x,), {}
    hw = conv_transpose_hw(x.shape[-2:], o["k"], o["stride"], o["padding"], o["output_padding"], o["dilation"])
    if d(st.booleans()):   # forward(x, output_size): a size the stride leaves open, with or without leading dims
        smallest = conv_transpose_hw(x.shape[-2:], o["k"], o["stride"], o["padding"], 0, o["dilation"])
        hw = tuple(smallest[a] + d(st.integers(0, conv.stride[a] - 1)) for a in (0, 1))
        size = pick(d, well, st.sampled_from([hw, list(hw), x.shape[:-3] + (o["cout"],) + hw]),
                    st.sampled_from([(hw[0] + 9, hw[1]), hw[:1], 3, (2.5, 3), None]))
        return conv, (x, size), {"shape": x.shape[:-3] + (o["cout"],) + hw}
    return conv, (x,), {"shape": x.shape[:-3] + (o["cout"],) + hw}


@layer("Conv2dReLUMaxPool2d", "conv2d_relu_max_pool2d")
def _conv_relu_pool(d, well):
    k = pick(d, well, st.sampled_from([1, 2, 3, (3, 1)]), ODD_INTS)
    padding = value(d, well, [0, 1, (1, 0), "valid", "same"], [-1, 2.5, "full"])
    if padding == "same" and well and (k in (2,) or k == (2, 2)):
        padding = 0
    cin = d(st.integers(1, 3))
    layer_ = nn.Conv2dReLUMaxPool2d(cin, d(st.integers(1, 3)), k, padding=padding)
    x = image(d, well, c=cin, hw=(4, 7))
    expect = {}
    if x.ndim == 4:
        oh, ow = conv_hw(x.shape[2:], layer_.kernel_size, 1, layer_.padding, 1)
        expect["shape"] = (x.shape[0], layer_.out_channels, oh // 2, ow // 2)
    return layer_, (x,), expect


@layer("Linear", "linear")
def _linear(d, well):
    features = d(st.integers(0, 4))  # Linear(0, n) and Linear(n, 0) are torch's empty layers
    lin = nn.Linear(pick(d, well, st.just(features), ODD_INTS), d(st.integers(0, 3)), bias=d(st.booleans()))
    lead = tuple(d(st.lists(st.integers(1 if well else 0, 3), max_size=3)))
    x = tensor(d, well, lead + (features,))
    return lin, (x,), {"shape": x.shape[:-1] + (lin.out_features,)} if x.ndim else {}


@layer("ReLU", "relu")
def _relu(d, well):
    x = tensor(d, well, d(st.lists(st.integers(0, 4), max_size=4)))
    return nn.ReLU(inplace=value(d, well, *INPLACE)), (x,), {"equal": np.maximum(x, 0) if is_float_array(x) else None}


@layer("Identity")
def _identity(d, well):
    x = tensor(d, well, d(st.lists(st.integers(0, 4), max_size=4)))
    return nn.Identity(d(ODD_INTS), key=d(ODD_INTS)), (x,), {"equal": x}


def flatten_shape(shape, start, end):
    """torch.flatten's result shape, or None where torch raises (the oracle is torch itself in
    :func:`test_flatten_takes_the_dims_torch_takes`)."""
    nd = max(len(shape), 1)
    if not (-nd <= start < nd and -nd <= end < nd):
        return None
    start, end = start % nd, end % nd
    if start > end:
        return None
    if not shape:
        return (1,)
    return shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:]


def _flatten(d, well):
    x = tensor(d, well, d(st.lists(st.integers(0 if not well else 1, 3), min_size=2 if well else 0, max_size=4)))
    if well:
        start = d(st.integers(-x.ndim, x.ndim - 1))
        end = d(st.integers(start % x.ndim - x.ndim, -1) | st.integers(start % x.ndim, x.ndim - 1))
    else:
        start, end = d(st.sampled_from([0, 1, 2, -1, "1", 5, -7, 1.0])), d(st.sampled_from([-1, 0, 3, 9, None]))
    expect = {}
    if isinstance(x, np.ndarray) and all(type(v) is int for v in (start, end)):
        expect["shape"] = flatten_shape(x.shape, start, end)
    return (x,), {"start_dim": start, "end_dim": end}, expect


@layer("Unflatten")
def _unflatten(d, well):
    x = tensor(d, well, d(st.lists(st.integers(1, 6), min_size=1, max_size=4)))
    ndim = x.ndim if isinstance(x, np.ndarray) else 1
    dim = d(st.integers(-max(ndim, 1), max(ndim, 1) - 1)) if well else d(st.sampled_from([0, 1, -1, 5, -9, "1", 1.0]))
    size = x.shape[dim] if isinstance(x, np.ndarray) and well and x.ndim else 1
    factor = d(st.sampled_from([f for f in range(1, size + 1) if size % f == 0]))
    sizes = d(st.sampled_from([(factor, size // factor), (size // factor, -1), (1, size, 1), [size]]))
    if not well:
        sizes = d(st.sampled_from([sizes, (), (-1, -1), (size + 1,), (0, -1), 6, (2, 3.0), None, (True, size)]))
    expect = {}
    if well:
        dim_ = dim % x.ndim
        known = int(np.prod([n for n in sizes if n != -1]))
        shape = tuple(size // known if n == -1 else n for n in sizes)
        expect["shape"] = x.shape[:dim_] + shape + x.shape[dim_ + 1:]
    return nn.Unflatten(dim, sizes), (x,), expect


def _pool_options(d, well, max_pool=True):
    k = pick(d, well, st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))), ODD_INTS)
    stride = value(d, well, [None, 1, 2, (2, 1)], [0, -1, (), "2"])
    kk = _pair(k) if (isinstance(k, int) and not isinstance(k, bool) and k > 0) or isinstance(k, tuple) else (1, 1)
    padding = pick(d, well, st.tuples(st.integers(0, kk[0] // 2), st.integers(0, kk[1] // 2)) | st.just(0),
                   st.sampled_from([-1, kk[0], 2.5]))
    options = dict(kernel_size=k, stride=stride, padding=padding, ceil_mode=value(d, well, [False, True], ["yes", 2]))
    if max_pool:
        options["dilation"] = value(d, well, [1, 1, 2, (1, 2)], [0, -1, 1.5])
    return options


def _small(v):
    """``v`` as an (h, w) pair if it is a small positive int or pair of them (else None: an odd value)."""
    v = (v, v) if type(v) is int else v
    return tuple(v) if type(v) is tuple and len(v) == 2 and all(type(i) is int and 0 < i < 4 for i in v) else None


def _pool_input(d, well, o, batched=True, c=None):
    k, dl = _small(o["kernel_size"]) or (1, 1), _small(o.get("dilation", 1)) or (1, 1)
    span = max(dl[i] * (k[i] - 1) + 1 for i in range(2))
    return image(d, well, c=c, hw=(span, span + 4), batched=batched)


@layer("MaxPool2d", "max_pool2d")
def _max_pool(d, well):
    o = _pool_options(d, well)
    o["return_indices"] = value(d, well, [False, True], [1, "no"])
    pool = nn.MaxPool2d(**o)
    x = _pool_input(d, well, o, batched=maybe_unbatched(d, well))
    expect = {"finite": finite(x)}
    if x.ndim >= 3:
        expect["shape"] = x.shape[:-2] + pool_hw(x.shape[-2:], o["kernel_size"], o["stride"], o["padding"],
                                                 o["dilation"], o["ceil_mode"])
    return pool, (x,), expect


def unpool_case(d, well, batched=True):
    """A max pooling's output and indices, as MaxUnpool2d takes them, with the pooling's (kernel, stride,
    padding); hostile: indices perturbed (out of range, another shape or dtype) or an odd input."""
    k, s = d(st.integers(1, 3)), d(st.sampled_from([None, 1, 2]))
    p = d(st.integers(0, k // 2))
    x = d(arrays(shape=(d(st.integers(1, 2)), d(st.integers(1, 3)), d(st.integers(k, k + 4)),
                        d(st.integers(k, k + 4))), dtypes=FLOATS))
    x = np.nan_to_num(x, nan=0.0)  # (a NaN wins every window it is in; indices stay valid anyway)
    out, idx = F.max_pool2d(x, k, s, p, return_indices=True)
    pooled, indices = out.array, idx.array
    if not batched:
        pooled, indices = pooled[0], indices[0]
    if not well:
        how = d(st.sampled_from(["keep", "too_big", "negative", "float", "shape", "input"]))
        indices = indices.copy()
        if how == "too_big" and indices.size:
            indices.flat[0] = 10**6
        elif how == "negative" and indices.size:
            indices.flat[-1] = -1
        elif how == "float":
            indices = indices.astype(np.float32)
        elif how == "shape":
            indices = indices[..., :-1]
        elif how == "input":
            pooled = d(arrays())
    return pooled, indices, (k, s, p), tuple(x.shape[-2:])


def unpool_size(d, well, pooled, k, s, p, hw):
    """Whether to pass ``output_size`` (the pooled input's size), and the output size torch gives:
    well-formed calls pass it whenever the default ``(H - 1)*stride - 2*padding + kernel`` differs."""
    default = tuple((n - 1) * (k if s is None else s) - 2 * p + k for n in pooled.shape[-2:]) \
        if isinstance(pooled, np.ndarray) and pooled.ndim >= 2 else None
    use_size = d(st.booleans()) or (well and default != hw)
    return use_size, (hw if use_size else default)


@layer("MaxUnpool2d", "max_unpool2d")
def _max_unpool(d, well):
    pooled, indices, (k, s, p), hw = unpool_case(d, well, batched=maybe_unbatched(d, well))
    kernel = pick(d, well, st.just(k), ODD_INTS)
    unpool = nn.MaxUnpool2d(kernel, s, p)
    use_size, size = unpool_size(d, well, pooled, k, s, p, hw)
    args = (pooled, Tensor(indices) if d(st.booleans()) else indices) + ((hw,) if use_size else ())
    expect = {}
    if isinstance(pooled, np.ndarray) and pooled.ndim >= 3 and kernel == k:
        expect["shape"] = pooled.shape[:-2] + size
    return unpool, args, expect


def _batch_norm(cls, dims):
    def row(d, well):
        c = d(st.integers(1, 3))
        layer_ = cls(pick(d, well, st.just(c), ODD_INTS), eps=value(d, well, [1e-5, 1e-3], [0.0, -1.0, "x"]),
                     momentum=value(d, well, [0.1, None, 0.0, 1.0, -1.0, 2, np.float32(0.5)], ["0.1", True]),
                     affine=d(st.booleans()), track_running_stats=d(st.booleans()))
        nd = d(st.sampled_from(dims))
        x = tensor(d, well, (d(st.integers(2, 4)), c) + tuple(d(st.integers(1, 3)) for _ in range(nd - 2)))
        return layer_, (x,), {"shape": x.shape}
    return row


layer("BatchNorm1d", "batch_norm")(_batch_norm(nn.BatchNorm1d, [2, 3]))
layer("BatchNorm2d", "batch_norm")(_batch_norm(nn.BatchNorm2d, [4]))
layer("BatchNormReLU2d", "batch_norm_relu", "batch_norm")(_batch_norm(nn.BatchNormReLU2d, [4]))


def _lrn(d, well):
    options = {"size": pick(d, well, st.integers(1, 4), ODD_INTS), "alpha": d(st.sampled_from([1e-4, 1.0])),
               "beta": d(st.sampled_from([0.75, 0.5])), "k": d(st.sampled_from([1.0, 2.0]))}
    nd = d(st.sampled_from([3, 4, 5]))
    x = tensor(d, well, tuple(d(st.integers(1, 3)) for _ in range(nd)))
    return (x,), options, {"shape": x.shape}


@layer("AvgPool2d", "avg_pool2d")
def _avg_pool(d, well):
    o = _pool_options(d, well, max_pool=False)
    o["count_include_pad"] = d(st.booleans())
    o["divisor_override"] = value(d, well, [None, None, 1, 3], [0, -1, 1.5])
    pool = nn.AvgPool2d(**o)
    x = _pool_input(d, well, o, batched=maybe_unbatched(d, well))
    expect = {"finite": finite(x) and np.abs(x).max(initial=0.0) < 1e30}
    if x.ndim >= 3:
        expect["shape"] = x.shape[:-2] + pool_hw(x.shape[-2:], o["kernel_size"], o["stride"], o["padding"], 1,
                                                 o["ceil_mode"])
    return pool, (x,), expect


def _adaptive_size(d, well):
    return pick(d, well, st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3) | st.none(), st.integers(1, 3))),
                ODD_INTS, st.just((0, 2)))


def _adaptive(d, well):
    size = _adaptive_size(d, well)
    x = image(d, well, batched=maybe_unbatched(d, well))
    expect = {}
    if x.ndim >= 3 and isinstance(size, (int, tuple)) and not isinstance(size, bool):
        s = _pair(size)
        expect["shape"] = x.shape[:-2] + tuple(x.shape[-2 + i] if s[i] is None else s[i] for i in range(2))
    return (x,), {"output_size": size}, expect


def _adaptive_max(d, well):
    (x,), options, expect = _adaptive(d, well)
    options["return_indices"] = value(d, well, [False, True], [1, "no", None])
    if "shape" in expect:
        expect["finite"] = finite(x)
    return (x,), options, expect


@layer("Dropout", "dropout")
def _dropout(d, well):
    x = tensor(d, well, d(st.lists(st.integers(0, 4), max_size=4)))
    return nn.Dropout(value(d, well, [0.0, 0.5, 1.0, 0.2], [-0.1, 2.0, "0.5", None])), (x,), {"shape": x.shape}


@layer("Dropout2d", "dropout2d")
def _dropout2d(d, well):
    x = tensor(d, well, tuple(d(st.integers(1, 3)) for _ in range(d(st.sampled_from([3, 4])))))
    return nn.Dropout2d(value(d, well, [0.0, 0.5, 1.0], [1.5, -1])), (x,), {"shape": x.shape}


@layer("LeakyReLU", "leaky_relu")
def _leaky(d, well):
    x = tensor(d, well, d(st.lists(st.integers(0, 4), max_size=4)))
    return nn.LeakyReLU(value(d, well, [0.01, 0.0, -2.0, 1], ["0.1", None])), (x,), {"shape": x.shape}


@layer("Sigmoid", "sigmoid")
def _sigmoid(d, well):
    x = tensor(d, well, d(st.lists(st.integers(0, 4), max_size=4)))
    return nn.Sigmoid(), (x,), {"shape": x.shape}


@layer("Tanh", "tanh")
def _tanh(d, well):
    x = tensor(d, well, d(st.lists(st.integers(0, 4), max_size=4)))
    return nn.Tanh(), (x,), {"shape": x.shape, "finite": finite(x)}



def _hardtanh_bounds(d, well):
    lo = value(d, well, [-1.0, 0.0, -0.5, -2], [True, "0", None, float("nan")])
    hi = value(d, well, [1.0, 6.0, 0.5, 3], [-3.0, False, "1", float("nan")])
    return lo, hi


@layer("Hardtanh", "hardtanh")
def _hardtanh(d, well):
    x = tensor(d, well, d(st.lists(st.integers(0, 4), max_size=4)))
    lo, hi = _hardtanh_bounds(d, well)
    if well and lo >= hi:
        lo, hi = hi - 1, hi
    return nn.Hardtanh(lo, hi), (x,), {"shape": x.shape}


@layer("ReLU6", "relu6", "hardtanh")
def _relu6(d, well):
    x = tensor(d, well, d(st.lists(st.integers(0, 4), max_size=4)))
    expect = {"shape": x.shape}
    if is_float_array(x):
        expect["equal"] = np.clip(x, 0, 6)
    return nn.ReLU6(inplace=value(d, well, *INPLACE)), (x,), expect

def _pad_sizes(d, well, mode, x, count):
    """``count`` pads for the last dims of ``x`` that torch computes in ``mode``, negative ones (crops) among them
    (``helpers.torch_pad``); hostile: anything odd among them, and pads just past torch's limits."""
    shape = tuple(max(n, 1) for n in (x.shape if isinstance(x, np.ndarray) else ()))
    sizes = (1,) * max(count // 2 - len(shape), 0) + shape[len(shape) - count // 2:]
    good = torch_pad(d, mode, sizes, count)
    n = sizes[-1]  # the last dim's, padded by the first pair
    past = {"reflect": (n, 0), "replicate": (-n, 0), "circular": (n, -1), "constant": (-n - 1, 0)}.get(mode, (0, 0))
    return good if well else d(st.sampled_from([good, past + good[2:], (1, 1, 1), (1,) * 8, (-1, 2), (1, 2.0), 3,
                                                None, (2**40, 1), (True, 1)]))


def _padded_shape(shape, pad):
    """``shape`` after ``F.pad`` by ``pad`` (the last dim's pair first)."""
    k = len(pad) // 2
    return shape[:len(shape) - k] + tuple(n + pad[2 * i] + pad[2 * i + 1] for i, n in enumerate(shape[::-1][:k]))[::-1]


def _pad_layer(cls, mode):
    k = 3 if cls.endswith("3d") else 2

    def row(d, well):
        lead = (d(st.integers(1, 3)),) if maybe_unbatched(d, well) else ()
        x = tensor(d, well, lead + (d(st.integers(1, 3)),) + tuple(d(st.integers(2, 5)) for _ in range(k)))
        padding = _pad_sizes(d, well, mode, x, 2 * k)
        if well and d(st.booleans()):
            padding = d(st.integers(-1 if mode in ("constant", "circular") else 0, 1))
        args = (padding, value(d, well, [0.0, -1.5, 2], ["1", None, float("nan")])) if cls.startswith("ConstantPad") \
            else (padding,)
        expect = {}
        if well:
            expect["shape"] = _padded_shape(x.shape, (padding,) * 2 * k if isinstance(padding, int) else padding)
        return getattr(nn, cls)(*args), (x,), expect
    return row


for _cls, _mode in (("ZeroPad2d", "constant"), ("ConstantPad2d", "constant"), ("ReflectionPad2d", "reflect"),
                    ("ReplicationPad2d", "replicate"), ("CircularPad2d", "circular"), ("ZeroPad3d", "constant"),
                    ("ConstantPad3d", "constant"), ("ReflectionPad3d", "reflect"), ("ReplicationPad3d", "replicate"),
                    ("CircularPad3d", "circular")):
    layer(_cls, "pad")(_pad_layer(_cls, _mode))


# resizing: a size or a scale factor (exactly one, well-formed), the mode and its align_corners
# the modes minicnn computes -> the input ranks each takes (torch's)
RESIZE_RANKS = {"nearest": (3, 4, 5), "nearest-exact": (3, 4, 5), "linear": (3,), "bilinear": (4,), "trilinear": (5,),
                "bicubic": (4,), "area": (3, 4, 5)}
RESIZE_MODES = list(RESIZE_RANKS)
ODD_SIZES = [0, -1, (2, 0), (1, 2, 3), (2,), 2.5, (2, 2.0), "2", True, 2**40, [3, None]]
ODD_FACTORS = [0, 0.0, -1.0, float("nan"), float("inf"), 1e308, "2", True, (2,), (1.5, 1.5, 1.5), [2, None], 0.01]


def _resize_args(d, well, modes=RESIZE_MODES, mode=None, align=True, recompute=True):
    """``(x, kwargs, expect)`` for a resize: an input of a rank the mode takes (``mode`` when the op fixes it,
    else one of ``modes``, passed as ``mode``), ``size`` or ``scale_factor``, ``align_corners`` and
    ``recompute_scale_factor`` where the op takes them; hostile: odd values mixed in, and any of the ranks."""
    kwargs = {}
    if modes:
        kwargs["mode"] = mode = value(d, well, modes, ["lanczos", "foo", None, 1])
    rank = d(st.sampled_from(RESIZE_RANKS[mode] if well else (3, 4, 5)))
    x = tensor(d, well, (d(st.integers(1, 3)), d(st.integers(1, 3)))
               + tuple(d(st.integers(2, 6 if rank < 5 else 4)) for _ in range(rank - 2)))
    dims = rank - 2
    if d(st.booleans()):
        kwargs["size"] = pick(d, well, st.integers(1, 7) | st.tuples(*[st.integers(1, 7)] * dims),
                              st.sampled_from(ODD_SIZES))
    else:
        one_per_dim = st.tuples(*[st.sampled_from([1.0, 0.5, 3, 2, 1.3, 0.6])] * dims)
        kwargs["scale_factor"] = pick(d, well, st.sampled_from([1, 2, 1.5, 2.7, 0.5, 0.75, np.float32(1.25)])
                                      | one_per_dim, st.sampled_from(ODD_FACTORS))
        if recompute:
            kwargs["recompute_scale_factor"] = value(d, well, [None, False, True], [1, "no"])
    if not well and d(st.booleans()):  # both, or neither
        kwargs.pop("size" if "size" in kwargs and d(st.booleans()) else "scale_factor", None)
        if d(st.booleans()):
            kwargs.update(size=2, scale_factor=2)
    if align and kwargs.get("mode") in ("linear", "bilinear", "bicubic", "trilinear"):
        kwargs["align_corners"] = value(d, well, [None, False, True], [1, "yes"])
    elif align and not well and d(st.booleans()):
        kwargs["align_corners"] = d(st.sampled_from([True, False]))   # with a nearest mode or area: torch refuses it
    expect = {}
    if well and is_float_array(x):
        if "size" in kwargs:
            size = kwargs["size"]
            size = (size,) * dims if isinstance(size, int) else tuple(size)
        else:
            factor = kwargs["scale_factor"]
            factor = factor if isinstance(factor, tuple) else (factor,) * dims
            size = tuple(int(n * float(f)) for n, f in zip(x.shape[2:], factor))
        expect["shape"] = x.shape[:2] + size
    return x, kwargs, expect


_FIXED_MODE = {"UpsamplingNearest2d": "nearest", "UpsamplingBilinear2d": "bilinear", "upsample_nearest": "nearest",
               "upsample_bilinear": "bilinear"}   # the resizing layers and aliases whose mode is their name's


def _resize_layer(cls):
    def row(d, well):
        x, kwargs, expect = _resize_args(d, well, RESIZE_MODES if cls == "Upsample" else None, _FIXED_MODE.get(cls),
                                         align=cls == "Upsample", recompute=cls == "Upsample")
        return getattr(nn, cls)(**kwargs), (x,), expect
    return row


for _cls in ("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"):
    layer(_cls, "interpolate")(_resize_layer(_cls))


def _layer_norm_args(d, well):
    shape = tuple(d(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    k = d(st.integers(1, len(shape)))
    normalized = shape[len(shape) - k:]
    good = [normalized, list(normalized)] + ([normalized[0]] if k == 1 else [])
    return shape, value(d, well, good, [(), (0,), -1, "3", None, (2.5,), normalized + (1,)])


@layer("LayerNorm", "layer_norm")
def _layer_norm(d, well):
    shape, normalized = _layer_norm_args(d, well)
    layer_ = nn.LayerNorm(normalized, eps=value(d, well, [1e-5, 1e-3], [None, "x", True]),
                          elementwise_affine=d(st.booleans()), bias=d(st.booleans()))
    x = tensor(d, well, shape)
    return layer_, (x,), {"shape": x.shape}


def _group_norm_input(d, well, c):
    """(N, C, *) with 0-2 dims after C, more than one value per group (torch refuses one "when training")."""
    rest = tuple(d(st.lists(st.integers(1, 3), max_size=2)))
    n = d(st.integers(2, 3))
    return tensor(d, well, (n, c) + rest)


@layer("GroupNorm", "group_norm")
def _group_norm(d, well):
    groups, per = d(st.integers(1, 3)), d(st.integers(1, 2))
    layer_ = nn.GroupNorm(pick(d, well, st.just(groups), ODD_INTS), groups * per if well else d(ODD_INTS),
                          eps=value(d, well, [1e-5, 1e-3, 0.5], [None, "x", True]), affine=d(st.booleans()),
                          bias=d(st.booleans()))
    x = _group_norm_input(d, well, groups * per)
    return layer_, (x,), {"shape": x.shape}


@layer("InstanceNorm2d", "instance_norm")
def _instance_norm(d, well):
    c = d(st.integers(1, 3))
    layer_ = nn.InstanceNorm2d(pick(d, well, st.just(c), ODD_INTS), eps=value(d, well, [1e-5, 1e-3], [None, "x"]),
                               momentum=value(d, well, [0.1, None, 0.0, 1.0, -0.5], ["0.1", True]),
                               affine=d(st.booleans()), track_running_stats=d(st.booleans()),
                               bias=d(st.booleans()))
    hw = (d(st.integers(2, 4)), d(st.integers(1, 3)))
    x = tensor(d, well, ((d(st.integers(1, 3)),) if maybe_unbatched(d, well) else ()) + (c,) + hw)
    return layer_, (x,), {"shape": x.shape}


@layer("PReLU", "prelu")
def _prelu(d, well):
    num = value(d, well, [1, 1, 3], [0, -1, 2.5, None, True])
    x = tensor(d, well, (d(st.integers(1, 3)), 3) + tuple(d(st.lists(st.integers(0, 3), max_size=2)))
               if num == 3 else d(st.lists(st.integers(0, 4), max_size=4)))
    init = value(d, well, [0.25, 0.0, -1.0, 2], ["0.25", None, [0.1]])
    return nn.PReLU(num, init), (x,), {"shape": x.shape} if isinstance(x, np.ndarray) else {}


def _softmax_row(cls):
    def row(d, well):
        shape = d(st.lists(st.integers(1, 4), min_size=1, max_size=4))
        x = tensor(d, well, shape)
        dim = pick(d, well, st.integers(-len(shape), len(shape) - 1), st.sampled_from([None, 5, -9, 1.5, "1"]))
        return cls(dim), (x,), {"shape": x.shape}
    return row


layer("Softmax", "softmax")(_softmax_row(nn.Softmax))
layer("LogSoftmax", "log_softmax")(_softmax_row(nn.LogSoftmax))


def _reduction(d, well, extra=()):
    return value(d, well, ["mean", "sum", "none"], ["avg", None, 1] + list(extra))


def _logits(d, well):
    shape = d(st.sampled_from([(d(st.integers(1, 4)), d(st.integers(1, 4))), (d(st.integers(1, 4)),),
                               (2, d(st.integers(1, 3)), 2, 3)]))
    return tensor(d, well, shape)


def _cross_entropy(d, well):
    x = _logits(d, well)
    c = x.shape[1] if x.ndim >= 2 else (x.shape[0] if x.ndim else 1)
    ignore = value(d, well, [-100, 0], [1.5, "x"])
    weight = d(st.none() | st.just(np.linspace(0.5, 1.5, c).astype(x.dtype if is_float_array(x) else np.float32)))
    options = {"weight": weight, "ignore_index": ignore, "reduction": _reduction(d, well),
               "label_smoothing": value(d, well, [0.0, 0.1], [-0.1, 1.5])}
    target = labels_for(d, well, x, ignore if isinstance(ignore, int) else -100)
    if well and d(st.integers(0, 3)) == 0 and is_float_array(x):  # class probabilities
        target = np.abs(d(arrays(shape=x.shape, dtypes=[x.dtype.type])))
        with np.errstate(all="ignore"):
            total = np.maximum(target.sum(axis=min(1, x.ndim - 1), keepdims=True), 1e-3)
            target = np.nan_to_num(target / total, nan=0.0, posinf=0.0)
    return (x, target), options, {}


def _mse(d, well):
    x = tensor(d, well, d(st.lists(st.integers(0, 4), max_size=4)))
    target = pick(d, well, arrays(shape=x.shape, dtypes=[x.dtype.type if is_float_array(x) else np.float32]),
                  arrays(max_dims=4))
    return (x, target), {"reduction": _reduction(d, well)}, {}


def _nll(d, well):
    x = _logits(d, well)
    c = x.shape[1] if x.ndim >= 2 else (x.shape[0] if x.ndim else 1)
    weight = d(st.none() | st.just(np.ones(c, x.dtype if is_float_array(x) else np.float32)))
    ignore = d(st.sampled_from([-100, 0]))
    return (x, labels_for(d, well, x, ignore)), {"weight": weight, "ignore_index": ignore,
                                                  "reduction": _reduction(d, well)}, {}


def _bce(d, well):
    x = tensor(d, well, (d(st.integers(1, 3)), d(st.integers(1, 3))))
    dtype = x.dtype.type if is_float_array(x) else np.float32
    c = x.shape[-1] if x.ndim else 1
    weight = d(st.none() | st.just(np.full(x.shape[-1:], 0.5, dtype)))
    pos_weight = d(st.none() | st.just(np.linspace(1, 2, c).astype(dtype)))
    target = pick(d, well, st.builds(lambda a: np.clip(np.nan_to_num(a), 0, 1).astype(dtype),
                                     arrays(shape=x.shape, dtypes=[dtype])), arrays(max_dims=3))
    return (x, target), {"weight": weight, "reduction": _reduction(d, well), "pos_weight": pos_weight}, {}


def _probabilities(a, dtype):
    """``a`` as probabilities: NaN to 0, then clipped to [0, 1] (±inf and 1e30 become exactly 0 or 1)."""
    return np.asarray(np.clip(np.nan_to_num(a), 0, 1), dtype=dtype)   # (0-d: an array, not a scalar)


def _bce_probabilities(d, well):
    x = pick(d, well, st.builds(_probabilities, arrays(max_dims=4, dtypes=FLOATS), st.sampled_from(FLOATS)),
             arrays(max_dims=4))
    dtype = x.dtype.type if is_float_array(x) else np.float32
    target = pick(d, well, st.builds(_probabilities, arrays(shape=x.shape, dtypes=[dtype]), st.just(dtype)),
                  arrays(shape=x.shape), arrays(max_dims=3))
    weight = pick(d, well, st.none() | st.just(np.full(x.shape[-1:], 0.5, dtype)) | st.just(np.ones((), dtype)),
                  arrays(max_dims=3), st.sampled_from(["w", 1.0]))
    options = {"weight": weight, "reduction": _reduction(d, well)}
    if not well:
        options["size_average"] = d(st.sampled_from([None, True]))
    expect = {"shape": x.shape if options["reduction"] == "none" else ()} if well else {}
    return (x, target), options, expect


def layer_and_function(cls_name, fn_name, row):
    """One draw ``row(d, well) -> (call args, options, expect)`` for both the class (its constructor takes
    the options) and the functional op (it takes them by keyword)."""
    def layer_row(d, well):
        args, options, expect = row(d, well)
        return getattr(nn, cls_name)(**options), args, expect
    layer(cls_name, fn_name)(layer_row)
    function(fn_name)(row)


@layer("DataParallel", "linear")
def _data_parallel(d, well):
    features = d(st.integers(1, 3))
    x = tensor(d, well, (d(st.integers(1, 3)), features))
    inner = nn.Linear(features, 2) if well or d(st.booleans()) else d(st.sampled_from([F.relu, "Linear", None]))
    ids = None if well else d(st.sampled_from([None, [], [0, 1], "cuda"]))
    return nn.DataParallel(inner, device_ids=ids), (x,), {"shape": (x.shape[0], 2)} if well else {}


@layer("Sequential", "relu", "flatten", "linear", "sequential")
def _sequential(d, well):
    shape = (d(st.integers(1, 3)), d(st.integers(1, 3)), d(st.integers(1, 3)))
    x = tensor(d, well, shape)
    mods = [nn.ReLU(), nn.Flatten(), nn.Linear(shape[1] * shape[2], 2)]
    if not well and d(st.booleans()):
        mods.append(d(st.sampled_from([F.relu, "ReLU", None])))
    # (a hostile x of another shape whose trailing dims still flatten to the Linear's input: its own batch)
    return nn.Sequential(*mods), (x,), {"shape": (x.shape[0], 2)} if getattr(x, "ndim", 0) >= 2 else {}


class _ApplyAll(nn.Module):
    """A ModuleList's members applied one after the other (a ModuleList has no forward of its own)."""

    def __init__(self, modules):
        super().__init__()
        self.members = nn.ModuleList(modules)

    def forward(self, x):
        for m in self.members:
            x = m(x)
        return x


@layer("ModuleList", "ModuleList", "relu", "tanh")
def _module_list(d, well):
    x = tensor(d, well, d(st.lists(st.integers(1, 3), max_size=3)))
    mods = [nn.ReLU(), nn.Tanh()]
    if not well and d(st.booleans()):
        mods.append(d(st.sampled_from([F.tanh, "Tanh", None])))
    return _ApplyAll(mods), (x,), {"shape": x.shape}


class _ApplyDict(nn.Module):
    """A ModuleDict's members applied in insertion order (a ModuleDict has no forward of its own)."""

    def __init__(self, modules):
        super().__init__()
        self.members = nn.ModuleDict({f"m{i}": m for i, m in enumerate(modules)})

    def forward(self, x):
        for m in self.members.values():
            x = m(x)
        return x


@layer("ModuleDict", "ModuleDict", "relu", "tanh")
def _module_dict(d, well):
    x = tensor(d, well, d(st.lists(st.integers(1, 3), max_size=3)))
    mods = [nn.ReLU(), nn.Tanh()]
    if not well and d(st.booleans()):
        mods.append(d(st.sampled_from([F.tanh, "Tanh", None])))
    return _ApplyDict(mods), (x,), {"shape": x.shape}


class _ScaleBy(nn.Module):
    """One Parameter: ``x * weight`` (the row for nn.Parameter)."""

    def __init__(self, weight):
        super().__init__()
        self.weight = weight

    def forward(self, x):
        return x * self.weight


@layer("Parameter", "Parameter")
def _parameter(d, well):
    shape = tuple(d(st.lists(st.integers(1, 3), max_size=3)))
    p = nn.Parameter(tensor(d, well, shape), requires_grad=d(st.booleans()))
    return _ScaleBy(p), (np.ones(p.shape, p.dtype),), {"shape": p.shape, "dtype": p.dtype}


@layer("LazyConv2d", "conv2d", "Conv2d")
def _lazy_conv2d(d, well):
    o = _conv_options(d, well)
    conv = nn.LazyConv2d(o["cout"], o["k"], stride=o["stride"], padding=o["padding"], dilation=o["dilation"],
                         groups=o["groups"], bias=d(st.booleans()), padding_mode=o["mode"])
    x = _conv_input(d, well, o, batched=maybe_unbatched(d, well))
    if not well:   # (nothing is checked until the first forward: the hostile sizes may not even divide)
        return conv, (x,), {}
    hw = conv_hw(x.shape[-2:], o["k"], o["stride"], o["padding"], o["dilation"])
    return conv, (x,), {"shape": x.shape[:-3] + (o["cout"],) + hw}


@layer("LazyLinear", "linear", "Linear")
def _lazy_linear(d, well):
    out = d(st.integers(1, 3))
    lin = nn.LazyLinear(pick(d, well, st.just(out), ODD_INTS), bias=d(st.booleans()))
    lead = tuple(d(st.lists(st.integers(1 if well else 0, 3), max_size=3)))
    x = tensor(d, well, lead + (d(st.integers(1, 4)),))
    return lin, (x,), {"shape": x.shape[:-1] + (out,)} if well and x.ndim else {}   # (hostile: odd out_features)


@layer("LazyBatchNorm2d", "batch_norm", "BatchNorm2d")
def _lazy_batch_norm(d, well):
    layer_ = nn.LazyBatchNorm2d(eps=value(d, well, [1e-5, 1e-3], [0.0, -1.0, "x"]),
                                momentum=value(d, well, [0.1, None, 0.0, 1.0, -1.0, 2], ["0.1", True]),
                                affine=d(st.booleans()), track_running_stats=d(st.booleans()))
    x = tensor(d, well, (d(st.integers(2, 4)), d(st.integers(1, 3)), d(st.integers(1, 3)), d(st.integers(1, 3))))
    return layer_, (x,), {"shape": x.shape}


NOT_CALLABLE = {"Module": "the base class: its forward raises NotImplementedError, as torch's does",
                "UninitializedParameter": "a lazy layer's placeholder, without values until its first forward: "
                                          "the Lazy rows use it"}
LAYER_CLASSES = sorted(name for name, obj in vars(nn).items()
                       if isinstance(obj, type) and issubclass(obj, (nn.Module, Tensor)) and name not in NOT_CALLABLE)


def test_the_base_module_has_no_forward():
    with pytest.raises(NotImplementedError, match="Module has no forward"):
        nn.Module()(np.zeros(2))


@FUZZ
@given(draw=st.data())
def _fuzz_layer(row, name, draw):
    for well in (True, False):
        _layer_call(row, name, draw, well, draw.draw(st.booleans()), draw.draw(st.booleans()))


def _layer_call(row, name, draw, well, evaluate, grad):
    names = LAYER_NAMES[name]
    made = refused_or(lambda: LAYERS[name](draw.draw, well), names)
    if made is None:
        assert not well, f"nn.{name}'s constructor refused well-formed arguments"
        return _count(row, False, well)
    layer_, args, expect = made
    x = args[0]
    dtype = x.dtype if is_float_array(x) else np.float64
    if well or draw.draw(st.integers(0, 3)):  # hostile: sometimes another dtype than the input's
        layer_.to(dtype)
    if evaluate:
        layer_.eval()
    if grad and is_float_array(x):
        args = (Tensor(x, requires_grad=True),) + args[1:]
    out = refused_or(lambda: layer_(*args), names)
    _count(row, out is not None, well)
    if out is None:
        assert not well, f"nn.{name} refused a well-formed call"
        return
    params = list(layer_.parameters())
    if params and "dtype" not in expect:
        expect = {**expect, "dtype": params[0].dtype}
    checked_result(out, expect)
    first = out[0] if isinstance(out, tuple) else out
    backward_checked(first, params + [a for a in args if isinstance(a, Tensor) and a.requires_grad], names)


@pytest.mark.parametrize("name", LAYER_CLASSES)
def test_every_layer_computes_or_refuses(name):
    assert name in LAYERS, f"nn.{name}: no row in tests/test_fuzz.py LAYERS; add one to fuzz it"
    _run_row(f"nn.{name}", _fuzz_layer, name)


# =========================================================================== functional ops
FUNCTIONS = {}  # name -> draw(d, well) -> (args, kwargs, expect)
FUNCTION_NAMES_OK = {}
function = _registrar(FUNCTIONS, FUNCTION_NAMES_OK)


def _conv_call(d, well, padded):
    o = _conv_options(d, well)
    if not padded and well:
        o["mode"] = "zeros"
    x = _conv_input(d, well, o, batched=maybe_unbatched(d, well))
    g = o["groups"] if isinstance(o["groups"], int) and o["groups"] > 0 else 1
    kh, kw = _small(o["k"]) or (1, 1)
    dtype = x.dtype.type if is_float_array(x) else np.float32
    weight = tensor(d, well, (o["cout"], o["cin"] // g, kh, kw), dtype)
    bias = d(st.none() | arrays(shape=(o["cout"],), dtypes=[dtype])) if well else d(
        st.none() | arrays(shape=(o["cout"],), dtypes=[dtype]) | arrays(max_dims=2))
    args = (x, weight, bias, o["stride"], o["padding"], o["dilation"], o["groups"])
    expect = {}
    if well and x.ndim >= 3:
        expect["shape"] = x.shape[:-3] + (o["cout"],) + conv_hw(x.shape[-2:], (kh, kw), o["stride"], o["padding"],
                                                                  o["dilation"])
    return (args + (o["mode"],) if padded else args), {}, expect


function("conv2d")(lambda d, well: _conv_call(d, well, False))
function("conv2d_padded", "conv2d")(lambda d, well: _conv_call(d, well, True))


@function("conv_transpose2d")
def _f_conv_transpose2d(d, well):
    o = _conv_transpose_options(d, well)
    x = image(d, well, c=o["cin"], hw=(3, 5), batched=maybe_unbatched(d, well))
    g = o["groups"] if isinstance(o["groups"], int) and o["groups"] > 0 else 1
    kh, kw = _small(o["k"]) or (1, 1)
    dtype = x.dtype.type if is_float_array(x) else np.float32
    weight = tensor(d, well, (o["cin"], o["cout"] // g, kh, kw), dtype)
    bias = d(st.none() | arrays(shape=(o["cout"],), dtypes=[dtype])) if well else d(
        st.none() | arrays(shape=(o["cout"],), dtypes=[dtype]) | arrays(max_dims=2))
    args = (x, weight, bias, o["stride"], o["padding"], o["output_padding"], o["groups"], o["dilation"])
    expect = {}
    if well and x.ndim >= 3:
        expect["shape"] = x.shape[:-3] + (o["cout"],) + conv_transpose_hw(x.shape[-2:], (kh, kw), o["stride"],
                                                                           o["padding"], o["output_padding"],
                                                                           o["dilation"])
    return args, {}, expect


@function("conv2d_relu_max_pool2d")
def _f_fused(d, well):
    x = image(d, well, hw=(4, 7))
    c = x.shape[1] if x.ndim > 1 else 1
    k = d(st.sampled_from([1, 2, 3]))
    dtype = x.dtype.type if is_float_array(x) else np.float32
    o = d(st.integers(1, 3))
    padding = value(d, well, [0, 1, (1, 0)], [-1, 2.5, "same", None])
    args = (x, tensor(d, well, (o, c, k, k), dtype), tensor(d, well, (o,), dtype), padding)
    expect = {}
    if well and x.ndim == 4:
        oh, ow = conv_hw(x.shape[2:], k, 1, padding, 1)
        expect["shape"] = (x.shape[0], o, oh // 2, ow // 2)
    return args, {}, expect


@function("linear")
def _f_linear(d, well):
    features = d(st.integers(1, 4))
    lead = tuple(d(st.lists(st.integers(1 if well else 0, 3), max_size=3)))
    x = tensor(d, well, lead + (features,))
    dtype = x.dtype.type if is_float_array(x) else np.float32
    out = d(st.integers(1, 3))
    bias = d(st.none() | arrays(shape=(out,), dtypes=[dtype])) if well else d(st.none() | arrays(max_dims=2))
    return (x, tensor(d, well, (out, features), dtype), bias), {}, ({"shape": lead + (out,)} if well else {})


def _elementwise(name, reference=None):
    def row(d, well):
        x = tensor(d, well, d(st.lists(st.integers(0, 4), max_size=4)))
        expect = {"shape": x.shape}
        if reference is not None and is_float_array(x):
            expect["equal"] = reference(x)
        return (x,), {}, expect
    return row


function("relu")(_elementwise("relu", lambda x: np.maximum(x, 0)))
function("sigmoid")(_elementwise("sigmoid"))
function("tanh")(_elementwise("tanh"))


@function("leaky_relu")
def _f_leaky(d, well):
    (x,), _, expect = _elementwise("leaky_relu")(d, well)
    return (x, value(d, well, [0.01, -1.0, 0.0], ["0.1", None, True])), {}, expect



@function("hardtanh")
def _f_hardtanh(d, well):
    (x,), _, expect = _elementwise("hardtanh")(d, well)
    lo, hi = _hardtanh_bounds(d, well)
    if well and lo > hi:
        lo, hi = hi, lo
    return (x, lo, hi), {}, expect


function("relu6", "hardtanh")(_elementwise("relu6", lambda x: np.clip(x, 0, 6)))

@function("layer_norm")
def _f_layer_norm(d, well):
    shape, normalized = _layer_norm_args(d, well)
    x = tensor(d, well, shape)
    dtype = x.dtype.type if is_float_array(x) else np.float32
    ns = tuple(normalized) if isinstance(normalized, (tuple, list)) else (normalized,)
    weight = d(st.none() | arrays(shape=ns, dtypes=[dtype])) if well and all(isinstance(n, int) for n in ns) \
        else d(st.none() | arrays(max_dims=3) | st.sampled_from([1.0, "w"]))
    bias = None if not well else d(st.none() | arrays(shape=ns, dtypes=[dtype]))
    return (x, normalized, weight, bias), {}, ({"shape": x.shape} if well else {})


@function("group_norm")
def _f_group_norm(d, well):
    groups, per = d(st.integers(1, 3)), d(st.integers(1, 2))
    x = _group_norm_input(d, well, groups * per)
    dtype = x.dtype.type if is_float_array(x) else np.float32
    c = groups * per
    weight = d(st.none() | arrays(shape=(c,), dtypes=[dtype])) if well else d(st.none() | arrays(max_dims=2)
                                                                              | st.sampled_from([1.0, "w"]))
    bias = d(st.none() | arrays(shape=(c,), dtypes=[dtype])) if well else None
    num_groups = pick(d, well, st.just(groups), ODD_INTS)
    return (x, num_groups, weight, bias), {"eps": value(d, well, [1e-5, 0.5], [None, "1e-5"])}, \
        ({"shape": x.shape} if well else {})


@function("instance_norm")
def _f_instance_norm(d, well):
    c = d(st.integers(1, 3))
    x = tensor(d, well, (d(st.integers(1, 3)), c) + tuple(d(st.lists(st.integers(2, 3), min_size=1, max_size=2))))
    dtype = x.dtype.type if is_float_array(x) else np.float32
    use_input_stats = d(st.booleans()) if well else d(st.sampled_from([True, False, 1, "yes"]))
    stats = d(st.booleans()) or use_input_stats is not True
    mean, var = (np.zeros(c, dtype), np.ones(c, dtype)) if stats else (None, None)
    weight = d(st.none() | st.just(np.ones(c, dtype)))
    bias = d(st.none() | st.just(np.zeros(c, dtype)))
    kwargs = {"use_input_stats": use_input_stats, "momentum": value(d, well, [0.1, 0.0, 1.0, -1.2], [None, "0.1"]),
              "eps": value(d, well, [1e-5, 0.5], [None, "x"])}
    return (x, mean, var, weight, bias), kwargs, ({"shape": x.shape} if well else {})


@function("prelu")
def _f_prelu(d, well):
    per_channel = d(st.booleans())
    shape = (d(st.integers(1, 3)), d(st.integers(1, 3))) + tuple(d(st.lists(st.integers(0, 3), max_size=2)))
    x = tensor(d, well, shape if per_channel else d(st.lists(st.integers(0, 4), max_size=4)))
    dtype = x.dtype.type if is_float_array(x) else np.float32
    weight_shape = (shape[1],) if per_channel else d(st.sampled_from([(1,), ()]))
    weight = d(arrays(shape=weight_shape, dtypes=[dtype])) if well else d(
        arrays(shape=weight_shape, dtypes=[dtype]) | arrays(max_dims=2) | st.sampled_from([0.25, None]))
    return (x, weight), {}, ({"shape": x.shape} if well else {})


def _resize_function(name):
    modes = RESIZE_MODES if name in ("interpolate", "upsample") else None

    def row(d, well):
        x, kwargs, expect = _resize_args(d, well, modes, _FIXED_MODE.get(name), align=modes is not None,
                                         recompute=name == "interpolate")
        if name == "interpolate":
            kwargs["antialias"] = value(d, well, [False], [True, 1, None])
        return (x,), kwargs, expect
    return row


for _name in ("interpolate", "upsample", "upsample_nearest", "upsample_bilinear"):
    function(_name)(_resize_function(_name))


@function("pad")
def _f_pad(d, well):
    mode = value(d, well, ["constant", "reflect", "replicate", "circular"], ["zeros", None, 1])
    count = d(st.sampled_from([2, 4, 6]))
    k = count // 2
    if mode == "constant":
        shape = d(st.lists(st.integers(1, 4), min_size=k, max_size=5))
    else:
        shape = d(st.lists(st.integers(2, 4), min_size=k + 1, max_size=k + 2))
    x = tensor(d, well, shape)
    pad = _pad_sizes(d, well, mode, x, count)
    fill = value(d, well, [None, 0.0, 2.5, -1], ["0", True, [1.0]]) if mode == "constant" else value(
        d, well, [None, 0.0], [1.0])
    return (x, pad), {"mode": mode, "value": fill}, {"shape": _padded_shape(x.shape, pad)} if well else {}


def _f_softmax(d, well):
    shape = d(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    x = tensor(d, well, shape)
    dim = pick(d, well, st.integers(-len(shape), len(shape) - 1), st.sampled_from([None, 5, -9, 1.5]))
    dtype = value(d, well, [None, None, np.float64, np.float32], ["float16x", np.int64, 1.5])  # cast to it first
    expect = {"shape": x.shape}
    if dtype in (np.float64, np.float32):   # (the result's dtype, whatever the input's)
        expect["dtype"] = np.dtype(dtype)
    return (x, dim), {"dtype": dtype}, expect


function("softmax")(_f_softmax)
function("log_softmax")(_f_softmax)


@function("max_pool2d")
def _f_max_pool(d, well):
    o = _pool_options(d, well)
    o["return_indices"] = value(d, well, [False, True], [1, "no"])
    x = _pool_input(d, well, o, batched=maybe_unbatched(d, well))
    expect = {"finite": finite(x)}
    if well and x.ndim >= 3:
        expect["shape"] = x.shape[:-2] + pool_hw(x.shape[-2:], o["kernel_size"], o["stride"], o["padding"],
                                                 o["dilation"], o["ceil_mode"])
    return (x,), o, expect


@function("avg_pool2d")
def _f_avg_pool(d, well):
    o = _pool_options(d, well, max_pool=False)
    o["count_include_pad"] = d(st.booleans())
    o["divisor_override"] = value(d, well, [None, None, 1, 3], [0, -1, 1.5])
    x = _pool_input(d, well, o, batched=maybe_unbatched(d, well))
    expect = {}
    if well and x.ndim >= 3:
        expect["shape"] = x.shape[:-2] + pool_hw(x.shape[-2:], o["kernel_size"], o["stride"], o["padding"], 1,
                                                 o["ceil_mode"])
    return (x,), o, expect


@function("max_unpool2d")
def _f_unpool(d, well):
    pooled, indices, (k, s, p), hw = unpool_case(d, well, batched=maybe_unbatched(d, well))
    kernel = pick(d, well, st.just(k), ODD_INTS)
    use_size, size = unpool_size(d, well, pooled, k, s, p, hw)
    kwargs = {"stride": s, "padding": p}
    if use_size:
        kwargs["output_size"] = hw if well else d(st.sampled_from([hw, (1, 1), (99, 99), "x", (1, 1) + hw]))
    expect = {}
    if isinstance(pooled, np.ndarray) and pooled.ndim >= 3 and kernel == k and kwargs.get("output_size", hw) == hw:
        expect["shape"] = pooled.shape[:-2] + size
    return (pooled, indices, kernel), kwargs, expect


def _f_batch_norm(d, well):
    x = tensor(d, well, (d(st.integers(2, 4)), d(st.integers(1, 3))) + tuple(
        d(st.lists(st.integers(1, 3), max_size=2))))
    c = x.shape[1] if x.ndim > 1 else 1
    dtype = x.dtype.type if is_float_array(x) else np.float32
    training = d(st.booleans())
    stats = d(st.booleans()) or not training
    mean, var = (np.zeros(c, dtype), np.ones(c, dtype)) if stats else (None, None)
    weight = d(st.none() | st.just(np.ones(c, dtype)))
    bias = d(st.none() | st.just(np.zeros(c, dtype)))
    kwargs = {"training": training, "momentum": value(d, well, [0.1, 0.0, 1.0, -1.0, 2], [None, "0.1", True]),
              "eps": value(d, well, [1e-5], [0.0, -1.0])}
    return (x, mean, var, weight, bias), kwargs, {"shape": x.shape}


function("batch_norm")(_f_batch_norm)
function("batch_norm_relu")(_f_batch_norm)


def _f_dropout(name):
    def row(d, well):
        nd = d(st.sampled_from([3, 4])) if name == "dropout2d" else d(st.integers(0, 4))
        x = tensor(d, well, tuple(d(st.integers(1, 3)) for _ in range(nd)))
        return (x,), {"p": value(d, well, [0.0, 0.5, 1.0], [-0.1, 2.0, "0.5"]), "training": d(st.booleans())}, \
            {"shape": x.shape}
    return row


function("dropout")(_f_dropout("dropout"))
function("dropout2d")(_f_dropout("dropout2d"))

def _pixel_shuffle_row(up):
    def row(d, well):
        r = d(st.integers(1, 3))
        c, h, w = d(st.integers(1, 2)), d(st.integers(1, 3)), d(st.integers(1, 3))
        lead = tuple(d(st.lists(st.integers(1, 2), max_size=2)))
        shape, out = ((c * r * r, h, w), (c, h * r, w * r)) if up else ((c, h * r, w * r), (c * r * r, h, w))
        x = tensor(d, well, lead + shape)
        factor = r if well else d(st.sampled_from([r, r, 0, -1, 2, 2.0, "2", None, True, 2**40]))
        expect = {"shape": lead + out} if well else {}
        return (x,), {"upscale_factor" if up else "downscale_factor": factor}, expect
    return row


for _cls, _fn, _row in (("Flatten", "flatten", _flatten), ("LocalResponseNorm", "local_response_norm", _lrn),
                         ("AdaptiveAvgPool2d", "adaptive_avg_pool2d", _adaptive),
                         ("AdaptiveMaxPool2d", "adaptive_max_pool2d", _adaptive_max),
                         ("CrossEntropyLoss", "cross_entropy", _cross_entropy), ("MSELoss", "mse_loss", _mse),
                         ("NLLLoss", "nll_loss", _nll),
                         ("BCEWithLogitsLoss", "binary_cross_entropy_with_logits", _bce),
                         ("BCELoss", "binary_cross_entropy", _bce_probabilities),
                         ("PixelShuffle", "pixel_shuffle", _pixel_shuffle_row(True)),
                         ("PixelUnshuffle", "pixel_unshuffle", _pixel_shuffle_row(False))):
    layer_and_function(_cls, _fn, _row)


def _activation(name, options, reference=None, finite=False):
    """An elementwise activation's row: any-shape input, each option drawn from ``options``: name ->
    (well-formed values, odd values); the output equal to ``reference(x)`` or finite where x is, if given."""
    def row(d, well):
        x = tensor(d, well, d(st.lists(st.integers(0, 4), max_size=4)))
        kwargs = {k: value(d, well, good, odd) for k, (good, odd) in options.items()}
        expect = {"shape": x.shape}
        if reference is not None and is_float_array(x):
            with np.errstate(all="ignore"):  # (-inf * 0 is NaN, as the op's)
                expect["equal"] = reference(x)
        if finite and well:
            expect["finite"] = finite(x)
        return (x,), kwargs, expect
    return row


INPLACE = ([False, True, np.bool_(True)], [None, "yes", 1, 0.0])
NUMBERS = [1.0, 0.5, -2.0, 0, 3, np.float32(0.25), np.int64(2)]
for _cls, _fn, _options, _reference in (
        ("Hardsigmoid", "hardsigmoid", {"inplace": INPLACE}, lambda x: np.clip(x + 3, 0, 6) / 6),
        ("Hardswish", "hardswish", {"inplace": INPLACE}, lambda x: x * np.clip(x + 3, 0, 6) / 6),
        ("SiLU", "silu", {"inplace": INPLACE}, None),
        ("GELU", "gelu", {"approximate": (["none", "tanh"], ["erf", None, 1, "TANH"])}, None),
        ("ELU", "elu", {"alpha": (NUMBERS, ["1", None, True, [1.0]]), "inplace": INPLACE}, None),
        ("Softplus", "softplus", {"beta": ([1.0, 0.5, 2, -1.0, np.float64(3)], [True, "2", None]),
                                  "threshold": ([20.0, 0.0, 3, -1.0, np.int32(1)], [None, "20", False])}, None)):
    layer_and_function(_cls, _fn, _activation(_fn, _options, _reference, finite if _reference is None else False))

FUNCTION_NAMES = sorted(name for name, fn in vars(F).items()
                        if inspect.isfunction(fn) and fn.__module__ == F.__name__ and not name.startswith("_"))


@FUZZ
@given(draw=st.data())
def _fuzz_function(row, name, draw):
    for well in (True, False):
        _function_call(row, name, draw, well, draw.draw(st.booleans()))


def _function_call(row, name, draw, well, grad):
    names = FUNCTION_NAMES_OK[name]
    args, kwargs, expect = FUNCTIONS[name](draw.draw, well)
    tensors = [Tensor(a, requires_grad=True) if is_float_array(a) and grad and i < 2 else a
               for i, a in enumerate(args)]
    out = refused_or(lambda: getattr(F, name)(*tensors, **kwargs), names)
    _count(row, out is not None, well)
    if out is None:
        assert not well, f"F.{name} refused a well-formed call"
        return
    if "dtype" not in expect and is_float_array(args[0]):
        expect = {**expect, "dtype": args[0].dtype}
    checked_result(out, expect)
    first = out[0] if isinstance(out, tuple) else out
    backward_checked(first, [t for t in tensors if isinstance(t, Tensor) and t.requires_grad], names)


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_every_functional_op_computes_or_refuses(name):
    assert name in FUNCTIONS, f"F.{name}: no row in tests/test_fuzz.py FUNCTIONS; add one to fuzz it"
    _run_row(f"F.{name}", _fuzz_function, name)


# =========================================================================== flatten, dim by dim as torch
def test_flatten_takes_the_dims_torch_takes():
    """Every (ndim, start_dim, end_dim) in a small range: the shape torch.flatten gives, or a refusal
    where torch raises (IndexError out of range, RuntimeError for start after end).  minicnn's refusal
    is a ValueError that is also an IndexError for the out-of-range case (torch users catch either)."""
    torch = pytest.importorskip("torch")
    for ndim in range(0, 4):
        shape = (2, 3, 4)[:ndim]
        x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
        for start in range(-5, 5):
            for end in range(-5, 5):
                try:
                    want = tuple(torch.flatten(torch.from_numpy(x), start, end).shape)
                except (IndexError, RuntimeError) as exc:
                    want = type(exc)
                for call in (lambda: F.flatten(x, start, end), lambda: Tensor(x).flatten(start, end),
                             lambda: nn.Flatten(start, end)(x)):
                    if isinstance(want, tuple):
                        got = call()
                        assert got.shape == want, (shape, start, end)
                        np.testing.assert_array_equal(got.array.ravel(), x.ravel())
                    else:
                        with pytest.raises(ValueError, match="flatten|Flatten") as info:
                            call()
                        assert isinstance(info.value, IndexError) == (want is IndexError), (shape, start, end)
                        assert flatten_shape(shape, start, end) is None


def test_flatten_refuses_odd_dims():
    for start, end in (("1", -1), (1.0, -1), (0, None), (True, 2)):
        with pytest.raises(TypeError, match="flatten"):
            F.flatten(np.zeros((2, 3, 4)), start, end)


# =========================================================================== optimisers and schedules
OPTIMIZER_OPTIONS = {  # name -> {keyword: (good values, odd values)}
    "sgd": {"momentum": ([0.0, 0.9], [-1.0, "0.9", None]), "dampening": ([0.0, 0.1], [-0.5]),
            "nesterov": ([False, True], ["yes"]), "maximize": ([False, True], [1])},
    "adam": {"betas": ([(0.9, 0.999), (0.0, 0.5)], [(1.0, 0.9), 0.9, (0.9,)]), "eps": ([1e-8, 1e-3], [-1.0]),
             "amsgrad": ([False, True], ["no"]), "maximize": ([False, True], [None]),
             "decoupled_weight_decay": ([False, True], [2])},
    "adamw": {"betas": ([(0.9, 0.999)], [(0.9, 1.5)]), "eps": ([1e-8], [float("nan")]),
              "amsgrad": ([False, True], [0]), "maximize": ([False, True], ["x"])},
    "rmsprop": {"alpha": ([0.99, 0.5], [-0.1, 1.5]), "eps": ([1e-8], [0.0 - 1]), "momentum": ([0.0, 0.9], [-1]),
                "centered": ([False, True], ["no"]), "maximize": ([False, True], [1.0])},
    "adagrad": {"lr_decay": ([0.0, 0.1], [-0.1, "0"]), "initial_accumulator_value": ([0.0, 0.5], [-1.0, None]),
                "eps": ([1e-10, 1e-3], [float("nan")]), "maximize": ([False, True], [0])},
    "adadelta": {"rho": ([0.9, 0.0, 1.0], [1.5, -0.1]), "eps": ([1e-6], [-1e-6]), "maximize": ([False, True], ["y"])},
}


@FUZZ
@given(draw=st.data())
def _fuzz_optimizer(row, name, draw):
    for well in (True, False):
        _optimizer_call(row, name, draw, well)


def _optimizer_call(row, name, draw, well):
    d, cls, names = draw.draw, optim.OPTIMIZERS[name], (optim.OPTIMIZERS[name].__name__,)
    x = tensor(d, well, tuple(d(st.lists(st.integers(1, 3), max_size=3))))
    kwargs = {"lr": value(d, well, [0.01, 0.1, 0.0], [-1.0, float("nan"), "0.1", None, True]),
              "weight_decay": value(d, well, [0.0, 0.01], [-1.0, float("inf")])}
    for key, (good, odd) in OPTIMIZER_OPTIONS[name].items():
        if d(st.booleans()):
            kwargs[key] = value(d, well, good, odd)
    if well and kwargs.get("nesterov") and (kwargs.get("momentum", 0) == 0 or kwargs.get("dampening", 0) != 0):
        kwargs["momentum"], kwargs["dampening"] = 0.9, 0.0
    if well and not x.flags.writeable:  # (a read-only parameter is refused at the first step)
        x = x.copy()
    p = refused_or(lambda: nn.Parameter(x), ("Parameter",))
    opt = None if p is None else refused_or(lambda: cls([p], **kwargs), names)
    if opt is None:
        assert not well, f"{cls.__name__} refused well-formed arguments {kwargs}"
        return _count(row, False, well)
    grad_dtype = p.dtype.type
    p.grad = pick(d, well, st.none() | arrays(shape=p.shape, dtypes=[grad_dtype]), arrays(max_dims=3))
    before = p.array.copy()
    for _ in range(2):
        if refused_or(lambda: opt.step() or "stepped", names) is None:  # (step returns None)
            assert not well, f"{cls.__name__}.step refused a well-formed gradient"
            return _count(row, False, well)
    _count(row, True, well)
    assert p.data.shape == before.shape and p.data.dtype == before.dtype
    if p.grad is None:
        np.testing.assert_array_equal(p.data, before)  # no gradient, no update
    state = opt.state_dict()
    assert refused_or(lambda: opt.load_state_dict(state) or "loaded", names) == "loaded"  # its own state loads


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_every_optimizer_steps_or_refuses(name):
    assert name in OPTIMIZER_OPTIONS, f"optimizer {name}: no row in tests/test_fuzz.py OPTIMIZER_OPTIONS"
    _run_row(f"optim.{name}", _fuzz_optimizer, name)


SCHEDULE_ARGS = {  # name -> {keyword: (good strategy, odd strategy)}
    "step": {"step_size": (st.integers(1, 3), ODD_INTS), "gamma": (st.sampled_from([0.1, 0.5, 1.0]), ODD_NUMBERS)},
    "multistep": {"milestones": (st.lists(st.integers(1, 5), max_size=3, unique=True).map(sorted),
                                 st.sampled_from([[2.5], "12", None, [3, 1]])),
                  "gamma": (st.sampled_from([0.1, 0.5]), ODD_NUMBERS)},
    "cosine": {"T_max": (st.integers(1, 5), ODD_INTS), "eta_min": (st.sampled_from([0.0, 1e-4]), ODD_NUMBERS)},
}


@FUZZ
@given(draw=st.data())
def _fuzz_scheduler(row, name, draw):
    for well in (True, False):
        _scheduler_call(row, name, draw, well)


def _scheduler_call(row, name, draw, well):
    cls = optim.SCHEDULERS[name]
    opt = optim.SGD([nn.Parameter(np.zeros(2, np.float32))], lr=0.1)
    kwargs = {k: pick(draw.draw, well, good, odd) for k, (good, odd) in SCHEDULE_ARGS[name].items()}
    sched = refused_or(lambda: cls(opt, **kwargs), (cls.__name__,))
    _count(row, sched is not None, well)
    if sched is None:
        assert not well, f"{cls.__name__} refused {kwargs}"
        return
    for _ in range(3):  # the values are torch's (tests/test_optim.py), even an eta_min of 1e308's
        opt.step()
        sched.step()
    assert len(sched.get_last_lr()) == 1


@pytest.mark.parametrize("name", sorted(n for n, c in optim.SCHEDULERS.items() if c is not None))
def test_every_scheduler_steps_or_refuses(name):
    assert name in SCHEDULE_ARGS, f"scheduler {name}: no row in tests/test_fuzz.py SCHEDULE_ARGS; add one"
    _run_row(f"sched.{name}", _fuzz_scheduler, name)


# =========================================================================== the data loader
@FUZZ
@given(draw=st.data())
def _fuzz_loader(row, draw):
    for well in (True, False):
        _loader_call(row, draw, well)


def _loader_call(row, draw, well):
    d = draw.draw
    n = d(st.integers(0, 7))
    images = pick(d, well, arrays(shape=(n,) + tuple(d(st.integers(1, 3)) for _ in range(3)),
                                  dtypes=[np.float32, np.float64, np.uint8]), arrays(max_dims=5))
    labels = pick(d, well, arrays(shape=(n,), dtypes=[np.int64, np.int32, np.uint8]), arrays(max_dims=2))
    kwargs = {"batch_size": pick(d, well, st.integers(1, 4), ODD_INTS), "shuffle": d(st.booleans()),
              "drop_last": d(st.booleans())}
    if d(st.booleans()):
        kwargs["seed"] = value(d, well, [0, None, 7, 2**70], ["x", 1.5, -1])
    else:
        kwargs["generator"] = pick(d, well, st.integers(0, 9).map(np.random.default_rng), st.just(3))
    names = ("DataLoader",)
    loader = refused_or(lambda: data.DataLoader(images, labels, **kwargs), names)
    _count(row, loader is not None, well)
    if loader is None:
        assert not well, f"DataLoader refused {images.shape} {images.dtype} images, {labels.shape} labels {kwargs}"
        return
    batches = list(loader)
    assert len(batches) == len(loader)
    assert all(len(x) == len(y) <= loader.batch_size for x, y in batches)
    seen = np.concatenate([y for _, y in batches]) if batches else np.empty(0, np.int64)
    if not kwargs["drop_last"]:
        assert sorted(seen.tolist()) == sorted(labels.astype(np.int64).tolist())
    state = loader.state_dict()
    refused_or(lambda: loader.load_state_dict({**state, "position": d(ODD_INTS)}), names)


def test_the_data_loader_batches_or_refuses():
    _run_row("data.DataLoader", _fuzz_loader)


# =========================================================================== the table
ROW_TESTS = {"test_every_layer_computes_or_refuses": "nn.{}", "test_every_functional_op_computes_or_refuses": "F.{}",
             "test_every_optimizer_steps_or_refuses": "optim.{}", "test_every_scheduler_steps_or_refuses": "sched.{}",
             "test_the_data_loader_batches_or_refuses": "data.DataLoader"}


def test_zz_the_compute_table(request):
    """Print each row's computed/refused counts (``-s``); runs last in file order.  Every row asserted
    its own share already; here: every row test selected in this session before this one left a
    count (a row that never ran cannot pass silently)."""
    for item in request.session.items[:request.session.items.index(request.node)]:
        template = ROW_TESTS.get(getattr(item, "originalname", item.name))
        if template is not None and item.module is sys.modules[__name__]:
            row = template.format(item.callspec.params["name"] if hasattr(item, "callspec") else "")
            assert TALLY[row]["computed"] + TALLY[row]["refused"], f"{row}: selected, but no draws were counted"
    width = max((len(r) for r in TALLY), default=10)
    lines = [f"{'row':<{width}}  computed  refused  fraction  (well-formed calls, all computed)"]
    for row, got in sorted(TALLY.items()):
        n = got["computed"] + got["refused"]
        lines.append(f"{row:<{width}}  {got['computed']:8d}  {got['refused']:7d}  {got['computed'] / max(n, 1):8.2f}  "
                     f"({got['well-formed']})")
    print(f"\nfuzz compute table (examples per row: {EXAMPLES}, two calls each)\n" + "\n".join(lines))


# =========================================================================== the same under boundscheck
@pytest.mark.extended
def test_the_fuzz_again_with_numba_boundscheck(tmp_path):
    """Every kernel recompiled with bounds checks (a fresh numba cache), more examples: no IndexError,
    and every row still computes on at least half its draws (each row asserts it in the subprocess)."""
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"),
           "MINICNN_FUZZ_EXAMPLES": os.environ.get("MINICNN_FUZZ_EXAMPLES_BOUNDSCHECK", "60")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-v", "-s", "-p", "no:cacheprovider", "-m", "not extended",
                           os.path.abspath(__file__)], capture_output=True, text=True, timeout=900, env=env,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "test_boundscheck_is_really_on PASSED" in proc.stdout
    assert "fuzz compute table" in proc.stdout
    print(proc.stdout[proc.stdout.index("fuzz compute table"):])


@pytest.mark.skipif(os.environ.get("NUMBA_BOUNDSCHECK") != "1", reason="runs inside the boundscheck fuzz")
def test_boundscheck_is_really_on():
    """Proof that the run above checked bounds: minicnn's own max pooling backward kernel, handed an
    index past the end of its output array, raises IndexError instead of writing past it."""
    from minicnn.kernels import pool
    dout = np.ones((1, 1, 1, 1))
    argmax = np.full((1, 1, 1, 1), 5, np.int64)  # flat index 5 of a 1x1 plane
    with pytest.raises(IndexError):
        pool._maxpool_backward_kernel(dout, argmax, np.zeros((1, 1, 1, 1)))
