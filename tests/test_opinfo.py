"""PyTorch's own sample inputs for every op, run through minicnn in float64.

``torch.testing._internal.common_methods_invocations.op_db`` is the list of
OpInfos PyTorch tests itself with; each OpInfo's ``sample_inputs`` are the
argument combinations its authors thought worth testing (strides, dilations,
groups, 'same' padding, unbatched inputs, ceil_mode, return_indices, class
weights, probability targets, empty batches, broadcasting, 0-d tensors...).
Every op of ``minicnn.functional``, every top-level function of ``minicnn`` and
every Tensor method that has an OpInfo is tested (``OPS``); each sample goes
through the minicnn op of the same name, its tensors as minicnn Tensors and
torch's dtypes as minicnn's (``minicnn.testing.from_torch_sample``), and:

* the output and the gradient of every input torch differentiates (input,
  weight, bias, probability targets) must agree with torch to 1e-10 relative
  (``minicnn.testing.relative_error``), integer outputs (max pool indices) exactly;
* a sample minicnn does not accept must raise ValueError or TypeError naming the
  op; it counts against the coverage (and only the refusals listed in ``REFUSED`` are
  allowed), a wrong answer fails the test.

Run with ``-s`` for the coverage table; ``python -m pytest -p benchmarks.record tests/test_opinfo.py``
writes it to ``benchmarks/results/opinfo.json`` (README's OpInfo table).  The number of samples of
each op is asserted (``SAMPLES``, for the torch pinned in constraints.txt), and so is the recorded
file's.  Importing ``op_db`` needs the small ``expecttest`` package (in the ``dev`` extra).
"""
import inspect

import numpy as np
import pytest

import minicnn
from minicnn import Tensor
from minicnn import functional as F
from minicnn.testing import from_torch_sample, relative_error

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")
from torch.testing._internal.common_methods_invocations import op_db  # noqa: E402

RTOL = 1e-10
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel lengths")
# Every public op of minicnn.functional that torch's op_db has an OpInfo for (``nn.functional.<name>``, or
# ``<name>`` for torch's own sigmoid, tanh, softmax...) and every tensor function and method (``OPS`` below), so a
# new op is tested here as soon as it exists; except where the two libraries cannot agree number for number, and why:
_RANDOM = "the values come from two different generators"
EXCLUDED = {"nn.functional.dropout": "the masks come from two different generators",
            "nn.functional.dropout2d": "the masks come from two different generators",
            "randn": _RANDOM, "randn_like": _RANDOM, "rand_like": _RANDOM, "randint": _RANDOM,
            "empty": "uninitialised memory: its values are whatever was there",
            "empty_like": "uninitialised memory: its values are whatever was there",
            "zero_": "torch's sample zeroes a clone inside the graph; minicnn records no in-place op on a graph "
                     "tensor (RuntimeError, docs/porting.md), and zero_ elsewhere is tests/test_torch_api.py's"}
# minicnn's refusals of samples torch accepts (each must name the op, as every refusal): op -> (count, why)
REFUSED = {"half": (5, "float16 for a tensor that requires grad (minicnn computes gradients in float32 and float64)")}


# where an op's exact gradient cancels and both libraries round differently, its looser bound: op -> (rtol, why)
GRAD_RTOL = {"nn.functional.layer_norm": (
    1e-8, "rows of 1 and 2 values: with one, xhat is exactly 0 here and torch's round-off times 1/sqrt(eps) "
          "(its weight gradient 2.8e-9 of the sample's largest gradient); with two, dx = invstd (g - mean g)"
          "(1 - xhat^2) and 1 - xhat^2 = eps/(var + eps) cancels (3.9e-10 apart)"),
    "nn.functional.group_norm": (
        1e-8, "a group of 2 values (the (1, 2) sample in one group) cancels as layer norm's rows of two: dx = "
              "invstd (g - mean g)(1 - xhat^2), 1 - xhat^2 = eps/(var + eps); minicnn's dx is 8.3e-12 from the "
              "exact gradient (50-digit mpmath), torch's 2.7e-10")}


def _opinfo_names(name):
    """torch's OpInfo names for minicnn's op ``name``: ``nn.functional.<name>`` or ``<name>``, and each variant
    (``nn.functional.pad``: one per mode; ``softmax``'s ``with_dtype``) as ``"<OpInfo name> (<variant>)"``."""
    for n in (f"nn.functional.{name}", name):
        variants = sorted(op.variant_test_name for op in op_db if op.name == n)
        if variants:
            return [n if not v else f"{n} ({v})" for v in variants]
    return []


def _info(key):
    """The OpInfo of a key of :data:`OPS`."""
    name, _, variant = key.partition(" (")
    (info,) = [op for op in op_db if op.name == name and op.variant_test_name == variant.rstrip(")")]
    return info


def _method(name):
    """``input.<name>(*args, **kwargs)``: the Tensor method, for an op minicnn has as a method only."""
    def call(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    call.__name__ = f"Tensor.{name}"
    return call


# the OpInfos whose ``op`` is not ``torch.<name>(input, *args)`` nor ``input.<name>(*args)``: the same call in minicnn
ADAPTERS = {"where": lambda self, condition, other, **kwargs: minicnn.where(condition, self, other, **kwargs),
            "zero_": lambda x: x.clone().zero_()}
OPS = {}  # torch's OpInfo name -> the minicnn op that answers it
for _name, _fn in sorted(vars(F).items()):
    if inspect.isfunction(_fn) and _fn.__module__ == F.__name__ and not _name.startswith("_"):
        for _key in _opinfo_names(_name):
            if _key not in EXCLUDED:
                OPS[_key] = _fn
# ... and every tensor op: minicnn's top-level function of torch's name (``minicnn.sum``), else the Tensor method
_TENSOR_OPS = {n for n in dir(minicnn) if inspect.isfunction(getattr(minicnn, n)) and not n.startswith("_")}
_TENSOR_OPS |= {n for n, v in vars(Tensor).items() if callable(v) and not n.startswith("_")}
for _name in sorted(_TENSOR_OPS):
    _fn = ADAPTERS.get(_name) or (getattr(minicnn, _name) if inspect.isfunction(getattr(minicnn, _name, None))
                                  else _method(_name))
    for _key in _opinfo_names(_name):
        if _key not in EXCLUDED and _key not in OPS and not _key.startswith("nn.functional."):
            OPS[_key] = _fn
COVERAGE = {}  # op name -> (accepted, total, refusals); benchmarks.record writes it
# OpInfo samples per op in torch's op_db (torch as pinned in constraints.txt); the docs' table says these
SAMPLES = {"abs": 1, "add": 11, "all": 20, "allclose": 24, "amax": 20, "amin": 20, "any": 20, "arange": 27,
           "argmax": 13, "argmin": 13, "bool": 5, "byte": 5, "cat": 9, "chunk": 3, "clamp": 7, "clone": 2,
           "contiguous": 2, "div (floor_rounding)": 9, "div (no_rounding_mode)": 9, "div (trunc_rounding)": 9,
           "double": 5, "eq": 10, "equal": 8, "exp": 3, "expand": 9, "expand_as": 3, "eye": 90, "flatten": 6,
           "float": 5, "full": 4, "full_like": 7, "ge": 9, "gt": 9, "half": 5, "int": 5, "item": 4, "le": 9,
           "linspace": 62, "linspace (tensor_overload)": 182, "log": 3, "log_softmax": 7,
           "log_softmax (with_dtype)": 7, "logical_not": 3, "long": 5, "lt": 9, "matmul": 15, "max (binary)": 9,
           "max (reduction_no_dim)": 2, "max (reduction_with_dim)": 4, "maximum": 9, "mean": 20, "min (binary)": 9,
           "min (reduction_no_dim)": 2, "min (reduction_with_dim)": 4, "minimum": 9, "mm": 3, "mul": 9, "ne": 9,
           "neg": 1, "nn.functional.adaptive_avg_pool2d": 10, "nn.functional.adaptive_max_pool2d": 34,
           "nn.functional.avg_pool2d": 7, "nn.functional.batch_norm": 12,
           "nn.functional.batch_norm (without_cudnn)": 12, "nn.functional.binary_cross_entropy": 11,
           "nn.functional.binary_cross_entropy_with_logits": 26, "nn.functional.conv2d": 30,
           "nn.functional.conv_transpose2d": 12, "nn.functional.cross_entropy": 21, "nn.functional.elu": 3,
           "nn.functional.gelu": 8, "nn.functional.group_norm": 25, "nn.functional.hardsigmoid": 3,
           "nn.functional.hardswish": 4, "nn.functional.hardtanh": 5, "nn.functional.instance_norm": 9,
           "nn.functional.interpolate (area)": 22, "nn.functional.interpolate (bicubic)": 24,
           "nn.functional.interpolate (bilinear)": 24, "nn.functional.interpolate (linear)": 18,
           "nn.functional.interpolate (nearest)": 23, "nn.functional.interpolate (nearest-exact)": 23,
           "nn.functional.interpolate (trilinear)": 24, "nn.functional.layer_norm": 6, "nn.functional.leaky_relu": 9,
           "nn.functional.linear": 20, "nn.functional.local_response_norm": 11, "nn.functional.max_pool2d": 1440,
           "nn.functional.max_unpool2d": 288, "nn.functional.max_unpool2d (grad)": 35, "nn.functional.mse_loss": 6,
           "nn.functional.nll_loss": 61, "nn.functional.pad (circular)": 8, "nn.functional.pad (constant)": 51,
           "nn.functional.pad (reflect)": 12, "nn.functional.pad (replicate)": 12,
           "nn.functional.pad (replicate_negative)": 6, "nn.functional.pixel_shuffle": 5,
           "nn.functional.pixel_unshuffle": 5, "nn.functional.prelu": 25, "nn.functional.relu": 4,
           "nn.functional.relu6": 3, "nn.functional.silu": 3, "nn.functional.silu (complex)": 3,
           "nn.functional.softplus": 3, "nn.functional.upsample_bilinear": 4, "nn.functional.upsample_nearest": 12,
           "ones": 2, "ones_like": 7, "permute": 4, "pow": 9, "repeat": 24, "reshape": 7, "reshape_as": 4,
           "sigmoid": 3, "softmax": 7, "softmax (with_dtype)": 7, "split": 2, "split (list_args)": 3, "sqrt": 1,
           "squeeze": 8, "squeeze (multiple)": 6, "stack": 9, "std": 14, "std (unbiased)": 2, "sub": 11, "sum": 20,
           "t": 3, "tanh": 1, "to": 24, "transpose": 8, "unsqueeze": 9, "var": 14, "var (unbiased)": 2, "view": 7,
           "view_as": 4, "where": 6, "zeros": 2, "zeros_like": 7}


@pytest.fixture(scope="module", autouse=True)
def print_coverage():
    yield
    print("\nOpInfo samples (float64) through minicnn: forward and every gradient within 1e-10 of torch")
    print(f"  {'op':<30} {'accepted':>9} {'total':>6} {'coverage':>9}")
    for name, (accepted, total, refusals) in sorted(COVERAGE.items()):
        print(f"  {name:<30} {accepted:>9} {total:>6} {accepted / max(total, 1):>9.0%}")
        for message in sorted(set(refusals))[:5]:
            print(f"      refused: {message}")


def describe(sample):
    def short(v):
        return f"T{tuple(v.shape)}" if isinstance(v, torch.Tensor) else repr(v)
    args = ", ".join([short(sample.input)] + [short(a) for a in sample.args]
                     + [f"{k}={short(v)}" for k, v in sample.kwargs.items()])
    return f"({args})"


def check_sample(name, fn, torch_fn, sample, rng):
    """None if minicnn agrees with torch, a refusal message if it refused, else raise AssertionError."""
    leaves = []
    args = from_torch_sample((sample.input,) + tuple(sample.args), leaves)
    kwargs = {k: from_torch_sample(v, leaves) for k, v in sample.kwargs.items()}
    inputs_before = [leaf.array.copy() for _, leaf in leaves]
    try:
        ours = fn(*args, **kwargs)
    except (ValueError, TypeError) as e:
        op = name.split(" (")[0].rsplit(".", 1)[-1]
        assert op in str(e).lower(), f"{op} {describe(sample)}: refusal " \
            f"does not name the op: {e}"
        return f"{type(e).__name__}: {e}"
    theirs = torch_fn(sample.input, *sample.args, **sample.kwargs)
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    where = f"{name} {describe(sample)}"
    assert len(ours) == len(theirs), f"{where}: {len(ours)} outputs, torch {len(theirs)}"
    grads_out, float_outs = [], []
    for k, (o, t) in enumerate(zip(ours, theirs)):
        if not isinstance(t, torch.Tensor):  # item(), equal(), allclose(): a Python number or bool
            assert type(o) is type(t) and o == t, f"{where}: output {k} is {o!r}, torch {t!r}"
            continue
        ref = t.detach().numpy()
        assert isinstance(o, Tensor), f"{where}: output {k} is a {type(o).__name__}"
        assert o.shape == ref.shape, f"{where}: output {k} shape {o.shape}, torch {ref.shape}"
        assert o.dtype == ref.dtype, f"{where}: output {k} dtype {o.dtype}, torch {ref.dtype}"
        if ref.dtype.kind != "f":
            np.testing.assert_array_equal(o.data, ref, err_msg=f"{where}: output {k}")
            continue
        err = relative_error(o.data, ref)
        assert err <= RTOL, f"{where}: output {k} relative error {err:.2e}"
        if t.requires_grad:
            grads_out.append(rng.standard_normal(ref.shape))
            float_outs.append((o, t))
    if not float_outs or not leaves:
        return None
    for (o, _), g in zip(float_outs, grads_out):
        o.backward(g, retain_graph=True)
    torch_grads = torch.autograd.grad([t for _, t in float_outs], [t for t, _ in leaves],
                                      [torch.from_numpy(g) for g in grads_out], allow_unused=True)
    # A gradient whose exact value is 0 is round-off in torch (layer_norm's weight on a one-value row:
    # 2.7e-15 where xhat is exactly 0 here): each gradient is measured against its own largest entry, but
    # never against less than 1e-4 of the sample's largest gradient entry (as tests/test_from_torch.py does).
    floor = 1e-4 * max((float(np.abs(r.numpy()).max(initial=0.0)) for r in torch_grads if r is not None), default=0.0)
    for (t, leaf), ref, before in zip(leaves, torch_grads, inputs_before):
        np.testing.assert_array_equal(leaf.data, before, err_msg=f"{where}: minicnn modified an input")
        if ref is None:
            assert leaf.grad is None or not leaf.grad.any(), f"{where}: a gradient where torch has none"
            continue
        assert leaf.grad is not None, f"{where}: no gradient for an input of shape {tuple(t.shape)}"
        err = relative_error(leaf.grad, ref.numpy(), floor)
        assert err <= GRAD_RTOL.get(name, (RTOL,))[0], f"{where}: gradient of the input of shape {tuple(t.shape)}: relative error {err:.2e}"
    return None


@pytest.mark.parametrize("name", sorted(OPS))
def test_opinfo_samples_agree_with_torch(name):
    fn, info = OPS[name], _info(name)
    samples = list(info.sample_inputs("cpu", torch.float64, requires_grad=True))
    rng = np.random.default_rng(0)
    refusals = [r for r in (check_sample(name, fn, info.op, s, rng) for s in samples) if r is not None]
    COVERAGE[name] = (len(samples) - len(refusals), len(samples), refusals)
    assert len(samples) == SAMPLES[name], f"{name}: op_db has {len(samples)} samples, SAMPLES says {SAMPLES[name]}"
    allowed, why = REFUSED.get(name, (0, ""))
    assert len(refusals) == allowed, f"{name}: {len(refusals)} of {len(samples)} samples refused " \
        f"(expected {allowed}: {why or 'none'}), e.g. {refusals[:1]}"


def test_every_op_with_an_opinfo_is_tested():
    assert set(OPS) == set(SAMPLES), "SAMPLES must list the sample count of every op in OPS"
    assert {"nn.functional.hardtanh", "nn.functional.conv2d", "nn.functional.max_pool2d"} <= set(OPS)


def test_the_recorded_coverage_is_the_asserted_one(request):
    """benchmarks/results/opinfo.json (the docs' table) counts what this file asserts: every sample, and only
    the refusals listed."""
    if request.config.pluginmanager.has_plugin("benchmarks.record"):
        pytest.skip("benchmarks.record writes results/opinfo.json at the end of this run")
    import json
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "opinfo.json"
    assert path.exists(), "benchmarks/results/opinfo.json (committed) is missing: make evidence"
    recorded = {name: tuple(v[:2]) for name, v in json.loads(path.read_text())["data"].items()}
    assert recorded == {name: (n - REFUSED.get(name, (0,))[0], n) for name, n in SAMPLES.items()}, \
        "results/opinfo.json is stale: python -m pytest -p benchmarks.record tests/test_opinfo.py"


@pytest.mark.parametrize("name, what", [("nn.functional.conv2d", 1), ("nn.functional.cross_entropy", 1),
                                        ("nn.functional.max_pool2d", 0), ("pow", 1), ("clamp", 2), ("amax", 0)])
def test_the_harness_catches_a_gradient_off_by_1e_8(name, what, monkeypatch):
    """Scale one gradient of the op's Function by 1 + 1e-8: some sample must fail (the harness can fail)."""
    from minicnn.autograd import ops
    function = {"nn.functional.conv2d": F.Conv2dFunction, "nn.functional.cross_entropy": F.CrossEntropyFunction,
                "nn.functional.max_pool2d": F.MaxPool2dFunction, "pow": ops.Pow, "clamp": ops.ClampTensor,
                "amax": ops.Extreme}[name]
    backward = function.backward

    def slightly_wrong(ctx, grad_out):
        grads = list(backward(ctx, grad_out))
        grads[what] = None if grads[what] is None else grads[what] * (1 + 1e-8)
        return tuple(grads)
    monkeypatch.setattr(function, "backward", staticmethod(slightly_wrong))
    (info,) = [op for op in op_db if op.name == name and op.variant_test_name == ""]
    rng = np.random.default_rng(0)
    with pytest.raises(AssertionError, match="relative error"):
        for sample in info.sample_inputs("cpu", torch.float64, requires_grad=True):
            check_sample(name, OPS[name], info.op, sample, rng)
