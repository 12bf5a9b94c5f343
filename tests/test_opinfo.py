"""PyTorch's own sample inputs for every op, run through minicnn in float64.

``torch.testing._internal.common_methods_invocations.op_db`` is the list of
OpInfos PyTorch tests itself with; each OpInfo's ``sample_inputs`` are the
argument combinations its authors thought worth testing (strides, dilations,
groups, 'same' padding, unbatched inputs, ceil_mode, return_indices, class
weights, probability targets, empty batches...).  Every sample goes through
the minicnn op of the same name, and:

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

from minicnn import Tensor
from minicnn import functional as F
from minicnn.testing import from_torch_sample, relative_error

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")
from torch.testing._internal.common_methods_invocations import op_db  # noqa: E402

RTOL = 1e-10
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel lengths")
# Every public op of minicnn.functional that torch's op_db has an OpInfo for (``nn.functional.<name>``, or
# ``<name>`` for torch's own sigmoid, tanh, softmax...), so a new op is tested here as soon as it exists;
# except where the two libraries cannot agree number for number, and why:
EXCLUDED = {"nn.functional.dropout": "the masks come from two different generators",
            "nn.functional.dropout2d": "the masks come from two different generators"}
# minicnn's refusals of samples torch accepts (each must name the op, as every refusal): op -> (count, why)
_PAD_3D, _PAD_NEGATIVE = "a 6-int pad (3-D padding)", "negative pads outside mode='constant' (minicnn crops there only)"
REFUSED = {"nn.functional.batch_norm": (5, "momentum outside [0, 1] (torch takes any number)"),
           "nn.functional.pad (constant)": (10, _PAD_3D),
           "nn.functional.pad (circular)": (2, f"{_PAD_3D}; {_PAD_NEGATIVE}"),
           "nn.functional.pad (reflect)": (3, f"{_PAD_3D}; {_PAD_NEGATIVE}"),
           "nn.functional.pad (replicate)": (3, f"{_PAD_3D}; {_PAD_NEGATIVE}"),
           "nn.functional.pad (replicate_negative)": (6, _PAD_NEGATIVE),
           "nn.functional.interpolate (bicubic)": (24, "mode='bicubic' (minicnn computes nearest, nearest-exact and "
                                                       "bilinear)")}


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
    """torch's OpInfo names for minicnn's op ``name``: ``nn.functional.<name>`` or ``<name>``, and for an op whose
    OpInfos are all variants (``nn.functional.pad``: one per mode) each variant as ``"<OpInfo name> (<variant>)"``."""
    for n in (f"nn.functional.{name}", name):
        variants = sorted(op.variant_test_name for op in op_db if op.name == n)
        if "" in variants:
            return [n]
        if variants:
            return [f"{n} ({v})" for v in variants]
    return []


def _info(key):
    """The OpInfo of a key of :data:`OPS`."""
    name, _, variant = key.partition(" (")
    (info,) = [op for op in op_db if op.name == name and op.variant_test_name == variant.rstrip(")")]
    return info


OPS = {}  # torch's OpInfo name -> the minicnn op that answers it
for _name, _fn in sorted(vars(F).items()):
    if inspect.isfunction(_fn) and _fn.__module__ == F.__name__ and not _name.startswith("_"):
        for _key in _opinfo_names(_name):
            if _key not in EXCLUDED:
                OPS[_key] = _fn
COVERAGE = {}  # op name -> (accepted, total, refusals); benchmarks.record writes it
# OpInfo samples per op in torch's op_db (torch as pinned in constraints.txt); the docs' table says these
SAMPLES = {"flatten": 6, "log_softmax": 7, "nn.functional.adaptive_avg_pool2d": 10,
           "nn.functional.adaptive_max_pool2d": 34, "nn.functional.avg_pool2d": 7, "nn.functional.batch_norm": 12,
           "nn.functional.binary_cross_entropy": 11, "nn.functional.binary_cross_entropy_with_logits": 26,
           "nn.functional.conv2d": 30, "nn.functional.conv_transpose2d": 12, "nn.functional.cross_entropy": 21,
           "nn.functional.elu": 3, "nn.functional.gelu": 8, "nn.functional.group_norm": 25,
           "nn.functional.hardsigmoid": 3, "nn.functional.hardswish": 4, "nn.functional.hardtanh": 5,
           "nn.functional.instance_norm": 9, "nn.functional.interpolate (area)": 22,
           "nn.functional.interpolate (bicubic)": 24, "nn.functional.interpolate (bilinear)": 24,
           "nn.functional.interpolate (linear)": 18, "nn.functional.interpolate (nearest)": 23,
           "nn.functional.interpolate (nearest-exact)": 23, "nn.functional.interpolate (trilinear)": 24,
           "nn.functional.layer_norm": 6, "nn.functional.leaky_relu": 9, "nn.functional.linear": 20,
           "nn.functional.local_response_norm": 11, "nn.functional.max_pool2d": 1440,
           "nn.functional.max_unpool2d": 288, "nn.functional.mse_loss": 6, "nn.functional.nll_loss": 61,
           "nn.functional.pad (circular)": 8, "nn.functional.pad (constant)": 51, "nn.functional.pad (reflect)": 12,
           "nn.functional.pad (replicate)": 12, "nn.functional.pad (replicate_negative)": 6,
           "nn.functional.pixel_shuffle": 5, "nn.functional.pixel_unshuffle": 5, "nn.functional.prelu": 25,
           "nn.functional.relu": 4, "nn.functional.relu6": 3, "nn.functional.silu": 3, "nn.functional.softplus": 3,
           "nn.functional.upsample_bilinear": 4, "nn.functional.upsample_nearest": 12, "sigmoid": 3, "softmax": 7,
           "tanh": 1}


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
                                        ("nn.functional.max_pool2d", 0)])
def test_the_harness_catches_a_gradient_off_by_1e_8(name, what, monkeypatch):
    """Scale one gradient of the op's Function by 1 + 1e-8: some sample must fail (the harness can fail)."""
    function = {"nn.functional.conv2d": F.Conv2dFunction, "nn.functional.cross_entropy": F.CrossEntropyFunction,
                "nn.functional.max_pool2d": F.MaxPool2dFunction}[name]
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
