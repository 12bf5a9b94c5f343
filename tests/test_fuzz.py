"""Bad input everywhere: every public layer, loss, functional op, optimiser and the data loader, fuzzed.

Hypothesis draws shapes (0 to 5 dims, sizes 0 to 5), dtypes (bool, int, uint8, float16/32/64,
complex), layouts (strided views, transposes, Fortran order, read-only) and values (NaN, ±Inf),
plus odd constructor arguments and labels.  Each call must give a correct result or raise a
ValueError/TypeError with a message: never another exception, a crash or a hang.  Under
``NUMBA_BOUNDSCHECK=1`` (:func:`test_the_fuzz_again_with_numba_boundscheck`, ``make test-slow``) a
kernel reading out of bounds raises IndexError, which fails the test too.

The surface is found by introspection (``minicnn.nn``'s Module classes, ``minicnn.functional``'s
functions, ``minicnn.optim.OPTIMIZERS``/``SCHEDULERS``), so what others add is fuzzed as well:
a class with no row in :data:`LAYERS` is skipped with a message saying to add one, and a function
with no row in :data:`FUNCTIONS` is called with one array if it takes one.
"""
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from minicnn import data, nn, optim
from minicnn import functional as F
from minicnn.autograd import Tensor

DTYPES = [np.bool_, np.int32, np.int64, np.uint8, np.float16, np.float32, np.float64, np.complex64]
# (not 10**12: a layer of that size fails in numpy's allocation with MemoryError, an honest answer)
ODD_INTS = st.sampled_from([0, -1, 1, 2, 3, True, 2.5, "2", None, np.int64(2), 2**64])
FUZZ = settings(max_examples=int(os.environ.get("MINICNN_FUZZ_EXAMPLES", 40)), deadline=None,
                suppress_health_check=list(HealthCheck))


FLOATS = [np.float32, np.float64]


@st.composite
def arrays(draw, shape=None, dtypes=DTYPES, max_dims=5, ndim=None):
    """An array of any dtype and layout, finite or with NaN/Inf, of ``shape`` or a drawn one
    (of ``ndim`` dims of sizes 1..5 if given, else 0..``max_dims`` dims of sizes 0..5)."""
    if shape is None and ndim is not None:
        shape = tuple(draw(st.lists(st.integers(1, 5), min_size=ndim, max_size=ndim)))
    elif shape is None:
        shape = tuple(draw(st.lists(st.integers(0, 5), max_size=max_dims)))
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


def refused_or(call):
    """``call()``'s result, or None if it raised ValueError/TypeError with a message (anything else fails)."""
    try:
        with np.errstate(all="ignore"):
            return call()
    except (ValueError, TypeError) as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return None


def backward_checked(out, params):
    """Backward from a float output; each parameter's gradient has its shape and dtype."""
    if isinstance(out, Tensor) and out.requires_grad and out.dtype.kind == "f":
        if refused_or(lambda: out.sum().backward()) is None:
            return
        for p in params:
            if p.grad is not None:
                assert p.grad.shape == p.shape and p.grad.dtype == p.dtype


# --------------------------------------------------------------------------- layers and the loss
def _channels(draw, x):
    """Mostly the input's channel count (so the call can succeed), sometimes another or an odd value."""
    fits = x.shape[1] if x.ndim >= 2 and x.shape[1] > 0 else 1
    return draw(st.one_of(st.just(fits), st.just(fits), ODD_INTS))


LAYERS = {  # class name -> draw(draw, x) -> (layer, args): the constructor arguments for that input
    "Conv2d": lambda d, x: (nn.Conv2d(_channels(d, x), d(st.integers(1, 3)), d(st.one_of(st.integers(1, 3), ODD_INTS)),
                                      stride=d(st.integers(1, 2)), padding=d(st.integers(0, 1))), (x,)),
    "Conv2dReLUMaxPool2d": lambda d, x: (nn.Conv2dReLUMaxPool2d(_channels(d, x), 2, d(st.integers(1, 3)),
                                                                padding=d(st.one_of(st.integers(0, 1), ODD_INTS))), (x,)),
    "Linear": lambda d, x: (nn.Linear(x.shape[-1] if x.ndim and d(st.booleans()) else d(ODD_INTS), 3), (x,)),
    "ReLU": lambda d, x: (nn.ReLU(), (x,)),
    "Identity": lambda d, x: (nn.Identity(), (x,)),
    "Flatten": lambda d, x: (nn.Flatten(d(st.sampled_from([0, 1, 2, -1, "1"]))), (x,)),
    "MaxPool2d": lambda d, x: (nn.MaxPool2d(d(st.one_of(st.integers(1, 3), ODD_INTS)),
                                            d(st.sampled_from([None, 1, 2, 0])), d(st.sampled_from([0, 1, -1]))), (x,)),
    "Sequential": lambda d, x: (nn.Sequential(nn.ReLU(), nn.Flatten()), (x,)),
    "CrossEntropyLoss": lambda d, x: (nn.CrossEntropyLoss(reduction=d(st.sampled_from(["mean", "sum", "none", "avg"]))),
                                      (x, _labels(d, x))),
    "MaxUnpool2d": lambda d, x: (nn.MaxUnpool2d(d(st.one_of(st.integers(1, 2), ODD_INTS))),
                                 (x, d(arrays(shape=x.shape, dtypes=[np.int64, np.int32, np.float32])))),
    "BatchNorm1d": lambda d, x: (nn.BatchNorm1d(_channels(d, x), momentum=d(st.sampled_from([0.1, None, -1.0]))),
                                 (x,)),
    "BatchNorm2d": lambda d, x: (nn.BatchNorm2d(_channels(d, x), eps=d(st.sampled_from([1e-5, 0.0, -1.0])),
                                                affine=d(st.booleans())), (x,)),
    "LocalResponseNorm": lambda d, x: (nn.LocalResponseNorm(d(st.one_of(st.integers(1, 4), ODD_INTS))), (x,)),
    "AvgPool2d": lambda d, x: (nn.AvgPool2d(d(st.one_of(st.integers(1, 3), ODD_INTS)), d(st.sampled_from([None, 1, 2, 0])),
                                            d(st.sampled_from([0, 1, -1])), ceil_mode=d(st.booleans()),
                                            count_include_pad=d(st.booleans())), (x,)),
    "AdaptiveAvgPool2d": lambda d, x: (nn.AdaptiveAvgPool2d(d(st.one_of(st.integers(1, 3), ODD_INTS))), (x,)),
    "Dropout": lambda d, x: (nn.Dropout(d(st.sampled_from([0.0, 0.5, 1.0, -0.1, 2.0]))), (x,)),
    "Dropout2d": lambda d, x: (nn.Dropout2d(d(st.sampled_from([0.0, 0.5, 1.0, 1.5]))), (x,)),
    "LeakyReLU": lambda d, x: (nn.LeakyReLU(d(st.sampled_from([0.01, 0.0, -2.0]))), (x,)),
    "Sigmoid": lambda d, x: (nn.Sigmoid(), (x,)),
    "Tanh": lambda d, x: (nn.Tanh(), (x,)),
    "Softmax": lambda d, x: (nn.Softmax(d(st.integers(-3, 3))), (x,)),
    "LogSoftmax": lambda d, x: (nn.LogSoftmax(d(st.integers(-3, 3))), (x,)),
    "MSELoss": lambda d, x: (nn.MSELoss(reduction=d(st.sampled_from(["mean", "sum", "none", "avg"]))),
                             (x, d(st.one_of(arrays(shape=x.shape, dtypes=[x.dtype.type]), arrays(max_dims=4))))),
    "NLLLoss": lambda d, x: (nn.NLLLoss(reduction=d(st.sampled_from(["mean", "sum", "none"]))), (x, _labels(d, x))),
    "BCEWithLogitsLoss": lambda d, x: (nn.BCEWithLogitsLoss(), (x, d(st.one_of(
        arrays(shape=x.shape, dtypes=[x.dtype.type]), arrays(max_dims=4))))),
}
NOT_CALLABLE = {"Module": "the base class", "ModuleList": "a container without forward", "Parameter": "a tensor"}
LAYER_CLASSES = sorted(name for name, obj in vars(nn).items()
                       if isinstance(obj, type) and issubclass(obj, (nn.Module, Tensor)))


def _check_layer_result(name, layer, args, out):
    x = args[0]
    floats = [p for p in layer.parameters()]
    if floats:
        assert out.dtype == floats[0].dtype
    if name == "ReLU":
        np.testing.assert_array_equal(out.data, np.maximum(x, 0))
    if name == "Identity":
        np.testing.assert_array_equal(out.data, x)
    if name == "Linear":
        w, b = layer.weight.data, layer.bias.data
        np.testing.assert_allclose(out.data, x.astype(w.dtype) @ w.T + b, rtol=1e-4, atol=1e-5, equal_nan=True)
    if name == "Flatten":
        assert out.data.size == x.size


INPUTS = st.one_of(arrays(), arrays(dtypes=FLOATS, ndim=4), arrays(dtypes=FLOATS, ndim=2))  # half well-formed


@pytest.mark.parametrize("name", LAYER_CLASSES)
@FUZZ
@given(draw=st.data(), x=INPUTS)
def test_every_layer_returns_a_result_or_refuses(name, draw, x):
    if name in NOT_CALLABLE:
        pytest.skip(f"nn.{name}: {NOT_CALLABLE[name]}, nothing to call")
    if name not in LAYERS:
        pytest.skip(f"nn.{name}: no constructor arguments in tests/test_fuzz.py LAYERS; add a row to fuzz it")
    made = refused_or(lambda: LAYERS[name](draw.draw, x))
    if made is None:
        return
    layer, args = made
    if draw.draw(st.integers(0, 3)):  # mostly in the input's dtype, so the call can succeed
        layer.to(x.dtype if x.dtype in FLOATS else np.float64)
    out = refused_or(lambda: layer(*args))
    event("refused" if out is None else "computed")  # --hypothesis-show-statistics: both happen
    if out is None:
        return
    assert isinstance(out, Tensor)
    _check_layer_result(name, layer, args, out)
    backward_checked(out, layer.parameters())


# --------------------------------------------------------------------------- functional ops
def _weight(d, shape, like):
    """Mostly a weight of ``shape`` in the input's dtype; sometimes anything."""
    dtype = like.dtype.type if like.dtype in (np.float32, np.float64) else np.float32
    return d(st.one_of(arrays(shape=shape, dtypes=[dtype]), arrays(shape=shape, dtypes=[dtype]), arrays(max_dims=4)))


def _labels(d, logits):
    n, c = (logits.shape + (1, 1))[:2] if logits.ndim else (1, 1)
    good = st.integers(0, max(0, c - 1)).map(lambda k: np.full(n, k, np.int64))
    return d(st.one_of(good, good, arrays(shape=(n,), dtypes=[np.int64, np.int32, np.uint8, np.float32]),
                       arrays(max_dims=2)))


FUNCTIONS = {  # name -> draw(draw, x) -> positional arguments
    "conv2d": lambda d, x: (x, _weight(d, (2, x.shape[1] if x.ndim > 1 else 1, 2, 2), x),
                            d(st.one_of(st.none(), arrays(shape=(2,), dtypes=[x.dtype.type]), arrays(max_dims=1))),
                            d(st.one_of(st.integers(1, 2), ODD_INTS)), d(st.sampled_from([0, 1, -1]))),
    "conv2d_relu_max_pool2d": lambda d, x: (x, _weight(d, (2, x.shape[1] if x.ndim > 1 else 1, 1, 1), x),
                                            d(st.one_of(arrays(shape=(2,), dtypes=[x.dtype.type]), arrays(max_dims=1))),
                                            d(st.sampled_from([0, 1, -1, 2.5]))),
    "linear": lambda d, x: (x, _weight(d, (3, x.shape[-1] if x.ndim else 1), x),
                            d(st.one_of(st.none(), arrays(shape=(3,), dtypes=[x.dtype.type]), arrays(max_dims=1)))),
    "relu": lambda d, x: (x,),
    "max_pool2d": lambda d, x: (x, d(st.one_of(st.integers(1, 2), ODD_INTS)), d(st.one_of(st.none(), ODD_INTS)),
                                d(st.sampled_from([0, 1, -1]))),
    "cross_entropy": lambda d, x: (x, _labels(d, x), None, -100, d(st.sampled_from(["mean", "sum", "x"]))),
    "flatten": lambda d, x: (x, d(st.integers(-3, 3)), d(st.integers(-3, 3))),
    "avg_pool2d": lambda d, x: (x, d(st.one_of(st.integers(1, 2), ODD_INTS)), d(st.one_of(st.none(), ODD_INTS)),
                                d(st.sampled_from([0, 1, -1]))),
    "adaptive_avg_pool2d": lambda d, x: (x, d(st.one_of(st.integers(1, 3), ODD_INTS))),
    "max_unpool2d": lambda d, x: (x, d(arrays(shape=x.shape, dtypes=[np.int64, np.float32])),
                                  d(st.one_of(st.integers(1, 2), ODD_INTS))),
    "batch_norm": lambda d, x: (x, None, None, None, None, True),
    "batch_norm_relu": lambda d, x: (x, None, None, None, None, True),
    "local_response_norm": lambda d, x: (x, d(st.one_of(st.integers(1, 3), ODD_INTS))),
    "leaky_relu": lambda d, x: (x, d(st.sampled_from([0.01, -1.0]))),
    "softmax": lambda d, x: (x, d(st.integers(-3, 3))),
    "log_softmax": lambda d, x: (x, d(st.integers(-3, 3))),
    "mse_loss": lambda d, x: (x, d(st.one_of(arrays(shape=x.shape, dtypes=[x.dtype.type]), arrays(max_dims=4)))),
    "nll_loss": lambda d, x: (x, _labels(d, x)),
    "binary_cross_entropy_with_logits": lambda d, x: (x, d(st.one_of(arrays(shape=x.shape, dtypes=[x.dtype.type]),
                                                                     arrays(max_dims=4)))),
}
FUNCTION_NAMES = sorted(name for name, fn in vars(F).items()
                        if inspect.isfunction(fn) and fn.__module__ == F.__name__ and not name.startswith("_"))


def _one_array_call(fn):
    required = [p for p in inspect.signature(fn).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(required) == 1


@pytest.mark.parametrize("name", FUNCTION_NAMES)
@FUZZ
@given(draw=st.data(), x=INPUTS)
def test_every_functional_op_returns_a_result_or_refuses(name, draw, x):
    fn = getattr(F, name)
    if name in FUNCTIONS:
        args = FUNCTIONS[name](draw.draw, x)
    elif _one_array_call(fn):
        args = (x,)
    else:
        pytest.skip(f"F.{name}: no arguments in tests/test_fuzz.py FUNCTIONS; add a row to fuzz it")
    tensors = [Tensor(a, requires_grad=True) if isinstance(a, np.ndarray) and a.dtype in FLOATS
               and draw.draw(st.booleans()) else a for a in args]
    out = refused_or(lambda: fn(*tensors))
    event("refused" if out is None else "computed")
    if out is None:
        return
    assert isinstance(out, Tensor)
    if name == "relu":
        np.testing.assert_array_equal(out.data, np.maximum(np.asarray(tensors[0]), 0))
    backward_checked(out, [t for t in tensors if isinstance(t, Tensor) and t.requires_grad])


# --------------------------------------------------------------------------- optimisers and schedules
ODD_NUMBERS = st.sampled_from([0.01, 0.0, -1.0, float("nan"), float("inf"), True, "0.1", None, 1e308, 3])


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
@FUZZ
@given(draw=st.data(), x=arrays(max_dims=3))
def test_every_optimizer_steps_or_refuses(name, draw, x):
    cls = optim.OPTIMIZERS[name]
    p = refused_or(lambda: nn.Parameter(x))
    if p is None:
        return
    kwargs = {"lr": draw.draw(ODD_NUMBERS)}
    if draw.draw(st.booleans()):
        kwargs["weight_decay"] = draw.draw(ODD_NUMBERS)
    if name in ("sgd", "rmsprop") and draw.draw(st.booleans()):
        kwargs["momentum"] = draw.draw(ODD_NUMBERS)
    opt = refused_or(lambda: cls([p], **kwargs))
    if opt is None:
        return
    p.grad = draw.draw(st.one_of(arrays(shape=x.shape, dtypes=[x.dtype.type]), arrays(max_dims=3), st.none()))
    before = p.data.copy()
    for _ in range(2):
        if refused_or(lambda: opt.step()) is None:
            return
    assert p.data.shape == before.shape and p.data.dtype == before.dtype
    if p.grad is None:
        np.testing.assert_array_equal(p.data, before)  # no gradient, no update
    state = opt.state_dict()
    refused_or(lambda: opt.load_state_dict(state))


SCHEDULE_ARGS = {"step": {"step_size": ODD_INTS}, "multistep": {"milestones": st.sampled_from([[1, 2], [], [2.5], "12"])},
                 "cosine": {"T_max": ODD_INTS, "eta_min": ODD_NUMBERS}}


@pytest.mark.parametrize("name", sorted(n for n, c in optim.SCHEDULERS.items() if c is not None))
@FUZZ
@given(draw=st.data())
def test_every_scheduler_steps_or_refuses(name, draw):
    if name not in SCHEDULE_ARGS:
        pytest.skip(f"scheduler {name}: no arguments in tests/test_fuzz.py SCHEDULE_ARGS; add a row to fuzz it")
    opt = optim.SGD([nn.Parameter(np.zeros(2, np.float32))], lr=0.1)
    kwargs = {k: draw.draw(v) for k, v in SCHEDULE_ARGS[name].items()}
    sched = refused_or(lambda: optim.SCHEDULERS[name](opt, **kwargs))
    if sched is not None:  # the values are torch's (tests/test_optim.py), even an eta_min of 1e308's
        for _ in range(3):
            sched.step()
        assert len(sched.get_last_lr()) == 1


# --------------------------------------------------------------------------- the data loader
@FUZZ
@given(draw=st.data(), images=arrays(max_dims=5), labels=arrays(max_dims=2))
def test_the_data_loader_batches_or_refuses(draw, images, labels):
    batch_size = draw.draw(ODD_INTS)
    seed = draw.draw(st.sampled_from([0, None, -1, 2**70, "x", 1.5]))
    loader = refused_or(lambda: data.DataLoader(images, labels, batch_size=batch_size,
                                                shuffle=draw.draw(st.booleans()), seed=seed))
    if loader is None:
        return
    batches = list(loader)
    assert len(batches) == len(loader)
    assert all(len(x) == len(y) <= loader.batch_size for x, y in batches)
    seen = np.concatenate([y for _, y in batches]) if batches else np.empty(0, np.int64)
    assert sorted(seen.tolist()) == sorted(labels.astype(np.int64).tolist())
    state = loader.state_dict()
    refused_or(lambda: loader.load_state_dict({**state, "position": draw.draw(ODD_INTS)}))


# --------------------------------------------------------------------------- the same under boundscheck
@pytest.mark.extended
def test_the_fuzz_again_with_numba_boundscheck(tmp_path):
    """Every kernel recompiled with bounds checks (a fresh numba cache), more examples: no IndexError."""
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"),
           "MINICNN_FUZZ_EXAMPLES": os.environ.get("MINICNN_FUZZ_EXAMPLES_BOUNDSCHECK", "100")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-m", "not extended",
                           os.path.abspath(__file__)], capture_output=True, text=True, timeout=900, env=env,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "test_boundscheck_is_really_on PASSED" in proc.stdout


@pytest.mark.skipif(os.environ.get("NUMBA_BOUNDSCHECK") != "1", reason="runs inside the boundscheck fuzz")
def test_boundscheck_is_really_on():
    """Proof that the run above checked bounds: an out-of-bounds read raises instead of reading garbage."""
    from numba import njit

    @njit
    def fifth(a):
        return a[5]
    with pytest.raises(IndexError):
        fifth(np.zeros(1))
