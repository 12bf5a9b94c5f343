"""``import minicnn as torch``: torch's module paths, dtypes, devices, factories, tensor functions and
methods, each held to real torch (forward in float64 to 1e-10, and every gradient through the engine's
backward, with an upstream gradient drawn from its own stream), and what minicnn refuses, refused.

The import map and the rules are docs/porting.md's.
"""
import types

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
import minicnn.functional
import minicnn.nn.functional
from minicnn import nn
from minicnn.testing import relative_error

torch = pytest.importorskip("torch")
TOL = 1e-10
SETTINGS = settings(max_examples=25, deadline=None)


def torch_dtype(dtype):
    """The numpy dtype of a torch dtype."""
    return torch.zeros(0, dtype=dtype).numpy().dtype


def leaves(*arrays):
    """The same values as a minicnn leaf and a torch leaf (float arrays require grad)."""
    ours = [minicnn.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    theirs = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    return ours, theirs


def assert_same(ours, theirs, what, tol=TOL):
    """Shape, dtype, then values of one result against torch's (exactly for integers and bools)."""
    ref = theirs.detach().numpy()
    assert isinstance(ours, minicnn.Tensor), f"{what}: got {type(ours).__name__}"
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape}, torch {ref.shape}"
    assert ours.dtype == ref.dtype, f"{what}: dtype {ours.dtype}, torch {ref.dtype}"
    if ref.dtype.kind in "biu":
        np.testing.assert_array_equal(ours.numpy(force=True), ref, err_msg=what)
    else:
        assert relative_error(ours.numpy(force=True), ref) <= tol, what


def check(fn, *arrays, seed=0, tol=TOL):
    """``fn(lib, *tensors)`` under minicnn and torch: each output the same, then the gradient of every
    float input the same after backward with one random upstream gradient per float output."""
    ours_in, theirs_in = leaves(*arrays)
    ours, theirs = fn(minicnn, *ours_in), fn(torch, *theirs_in)
    ours, theirs = (ours, theirs) if isinstance(theirs, tuple) else ((ours,), (theirs,))
    assert len(ours) == len(theirs)
    upstream = np.random.default_rng(1000 + seed)  # its own stream, never the inputs'
    grads, grads_t = [], []
    for k, (o, t) in enumerate(zip(ours, theirs)):
        assert_same(o, t, f"output {k}", tol if o.dtype != np.float32 else 1e-6)  # float32: numpy's, torch's ulps
        if t.requires_grad:
            assert o.requires_grad, f"output {k} is not recorded"
            g = upstream.standard_normal(t.shape)
            grads.append((o, g))
            grads_t.append((t, torch.from_numpy(g)))
    if not grads:
        return ours
    sum(((o * g).sum() for o, g in grads[1:]), (grads[0][0] * grads[0][1]).sum()).backward()
    sum(((t * g).sum() for t, g in grads_t[1:]), (grads_t[0][0] * grads_t[0][1]).sum()).backward()
    for i, (o, t) in enumerate(zip(ours_in, theirs_in)):
        if t.grad is None:
            assert o.grad is None or not np.any(o.grad), f"input {i}: a gradient where torch has none"
            continue
        assert o.grad is not None, f"input {i}: no gradient"
        assert o.grad.shape == tuple(t.shape) and o.grad.dtype == torch_dtype(t.dtype), f"input {i}"
        assert relative_error(o.grad, t.grad.numpy()) <= tol, f"input {i}: gradient"
    return ours


def normal(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


# --------------------------------------------------------------------------- the module paths
def test_nn_functional_is_minicnn_functional_by_name_and_object():
    F, G = minicnn.nn.functional, minicnn.functional
    public = {n for n, v in vars(G).items() if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    assert set(F.__all__) == public and len(public) > 40
    assert all(getattr(F, n) is getattr(G, n) for n in public)  # one object each, no wrapper
    assert {"relu", "conv2d", "max_pool2d", "cross_entropy", "log_softmax"} <= public
    assert not {n for n in vars(F) if not n.startswith("_")} - public - {"types"}


def test_the_packages_torch_programs_reach():
    assert minicnn.data.DataLoader is __import__("minicnn.data", fromlist=["DataLoader"]).DataLoader
    import minicnn.backends.cudnn as cudnn
    cudnn.benchmark = True  # a flag training scripts set: accepted, unused
    assert minicnn.backends.cudnn is cudnn and not cudnn.is_available()
    assert minicnn.return_types.max(1, 2).indices == 2


# --------------------------------------------------------------------------- dtypes
def test_dtype_names_are_torchs():
    pairs = {"float32": "float32", "float64": "float64", "float": "float32", "double": "float64", "half": "float16",
             "int64": "int64", "long": "int64", "int32": "int32", "int": "int32", "int16": "int16", "short": "int16",
             "int8": "int8", "uint8": "uint8", "bool": "bool"}
    for name, numpy_name in pairs.items():
        assert getattr(minicnn, name) == np.dtype(numpy_name) == torch_dtype(getattr(torch, name)), name
    x = minicnn.randn(2)
    assert x.dtype == minicnn.float32 and x.double().dtype == minicnn.float64 and x.dtype != minicnn.float64
    assert np.zeros(2, dtype=minicnn.long).dtype == np.int64


@pytest.mark.parametrize("method", ["float", "double", "half", "long", "int", "bool", "byte"])
def test_cast_methods_match_torch(method):
    x = np.array([[-1.5, 0.0, 2.7], [3.2, -0.4, 1.0]])
    ours, theirs = getattr(minicnn.tensor(x), method)(), getattr(torch.tensor(x), method)()
    assert_same(ours, theirs, method)
    assert ours.type() == theirs.type()


def test_item_tolist_numpy_type_and_to_dtype():
    t, t_t = minicnn.tensor([[1.5, 2.0]]), torch.tensor([[1.5, 2.0]])
    assert t.tolist() == t_t.tolist() and t[0, 1].item() == t_t[0, 1].item() and type(t[0, 1].item()) is float
    assert minicnn.tensor([3]).sum().item() == 3 and type(minicnn.tensor([3]).sum().item()) is int
    assert t.numpy() is t.array and t.type() == "torch.FloatTensor"
    assert t.type(minicnn.float64).dtype == np.float64 and t.type("torch.LongTensor").dtype == np.int64
    assert t.to(minicnn.float32) is t and t.float() is t  # nothing changes: the same tensor, as torch
    assert t.to(minicnn.float32, copy=True) is not t
    assert t.to(minicnn.int64).dtype == torch_dtype(t_t.to(torch.int64).dtype)
    with pytest.raises(TypeError, match=r"Tensor.to: expected a dtype such as minicnn.float32, got the string"):
        t.to(dtype="float64")
    with pytest.raises(ValueError, match=r"Tensor.type: expected one of"):
        t.type("torch.cuda.FloatTensor")
    with pytest.raises(RuntimeError, match=r"Use tensor.detach\(\).numpy\(\) instead"):
        minicnn.tensor([1.0], requires_grad=True).numpy()


def test_a_cast_is_recorded_and_an_integer_cast_is_not():
    x = minicnn.tensor([1.25, -2.5], dtype=minicnn.float64, requires_grad=True)
    y = x.float()
    assert y.dtype == np.float32 and y.requires_grad
    (y * minicnn.tensor([2.0, 3.0])).sum().backward()
    assert x.grad.dtype == np.float64 and x.grad.tolist() == [2.0, 3.0]
    assert not x.long().requires_grad and x.long().tolist() == [1, -2]
    with pytest.raises(TypeError, match=r"Tensor.half: minicnn computes gradients in float32 and float64 only, got "
                                        r"float16"):
        x.half()
    with pytest.raises(TypeError, match=r"Tensor.to: minicnn computes gradients in float32 and float64 only"):
        x.to(minicnn.float16)
    with minicnn.no_grad():
        assert x.half().dtype == np.float16 and not x.half().requires_grad


# --------------------------------------------------------------------------- devices
def test_device_objects_are_torchs():
    for spec in ("cpu", "cuda", "cuda:1", "mps"):
        ours, theirs = minicnn.device(spec), torch.device(spec)
        assert (repr(ours), str(ours), ours.type, ours.index) == (repr(theirs), str(theirs), theirs.type, theirs.index)
    assert minicnn.device("cpu") == minicnn.device("cpu") != minicnn.device("cuda")
    assert (minicnn.device("cpu") == "cpu") is (torch.device("cpu") == "cpu") is False  # compare .type instead
    assert minicnn.device(minicnn.device("cuda:0")) == minicnn.device("cuda", 0)
    assert len({minicnn.device("cpu"), minicnn.device("cpu")}) == 1
    with pytest.raises(ValueError, match=r"device: expected one of \['cpu', 'cuda'.*got 'gpu'"):
        minicnn.device("gpu")
    with pytest.raises(TypeError, match=r"device: expected a string"):
        minicnn.device(1.5)


def test_there_is_no_accelerator():
    assert minicnn.cuda.is_available() is False and minicnn.cuda.device_count() == 0
    assert minicnn.backends.mps.is_available() is False and minicnn.accelerator.is_available() is False
    assert minicnn.accelerator.current_accelerator() is None
    minicnn.cuda.manual_seed(0), minicnn.cuda.manual_seed_all(0)  # accepted, as torch's without a GPU
    device = minicnn.device("cuda" if minicnn.cuda.is_available() else "cpu")  # the usual idiom picks the CPU
    assert device.type == "cpu"


def test_tensors_stay_on_the_cpu():
    x = minicnn.ones(2, 3)
    assert x.device == minicnn.device("cpu") and x.device.type == "cpu" and x.is_cuda is False
    cpu = minicnn.device("cpu")
    assert x.cpu() is x and x.to("cpu") is x and x.to(cpu) is x and x.to(device="cpu") is x
    assert x.to(cpu, non_blocking=True) is x
    assert x.to(cpu, minicnn.float64).dtype == np.float64 and x.to("cpu", dtype=minicnn.float64).dtype == np.float64
    assert x.to(minicnn.zeros(1, dtype=minicnn.float64)).dtype == np.float64  # to(other): its dtype and device
    for call in (lambda: x.cuda(), lambda: x.to("cuda"), lambda: x.to("mps"), lambda: x.to(minicnn.device("cuda")),
                 lambda: x.to(0), lambda: x.to("cuda:0", minicnn.float64), lambda: minicnn.zeros(2, device="cuda"),
                 lambda: minicnn.tensor([1.0], device=minicnn.device("mps"))):
        with pytest.raises(RuntimeError, match=r"minicnn runs on the CPU only; got device '(cuda|mps)(:0)?'"):
            call()
    with pytest.raises(TypeError, match=r"Tensor.to: expected non_blocking as a bool"):
        x.to("cpu", non_blocking="yes")


def test_modules_stay_on_the_cpu():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    weight = model[0].weight
    assert model.to("cpu") is model and model.to(minicnn.device("cpu")) is model and model.cpu() is model
    assert model.to("cpu", minicnn.float64) is model and weight.dtype == np.float64 and model[0].weight is weight
    assert model.float() is model and weight.dtype == np.float32 and model[1].running_mean.dtype == np.float32
    assert model.to(minicnn.zeros(1, dtype=minicnn.float64)) is model and weight.dtype == np.float64
    assert model.to(dtype=minicnn.float32, non_blocking=True) is model and weight.dtype == np.float32
    for call in (model.cuda, lambda: model.to("cuda"), lambda: model.to(minicnn.device("mps"))):
        with pytest.raises(RuntimeError, match=r"minicnn runs on the CPU only; got device '(cuda|mps)'"):
            call()
    with pytest.raises(TypeError, match=r"Sequential.to: expected float32 or float64, got int64"):
        model.to(minicnn.int64)


# --------------------------------------------------------------------------- creation
@pytest.mark.parametrize("name", ["rand", "randn", "zeros", "ones", "empty"])
def test_size_forms_and_dtypes_of_the_factories(name):
    ours, theirs = getattr(minicnn, name), getattr(torch, name)
    for size in ((2, 3), ((2, 3),), ([4],), ((),)):
        assert ours(*size).shape == tuple(theirs(*size).shape) and ours(*size).dtype == np.float32, size
    with pytest.raises(TypeError):
        theirs()
    with pytest.raises(TypeError, match=rf"{name}: expected sizes \(ints, or one tuple of ints\), got none"):
        ours()
    assert ours(2, dtype=minicnn.float64).dtype == np.float64
    leaf = ours(3, requires_grad=True)
    assert leaf.requires_grad and leaf.is_leaf
    with pytest.raises(ValueError, match=rf"{name}: expected sizes as ints >= 0"):
        ours(2, -1)


def test_random_factories_follow_manual_seed():
    for name, args in (("rand", (5,)), ("randn", (5,)), ("randint", (0, 9, (5,)))):
        minicnn.manual_seed(3)
        first = getattr(minicnn, name)(*args)
        minicnn.manual_seed(3)
        assert first.equal(getattr(minicnn, name)(*args)), name
        assert not first.equal(getattr(minicnn, name)(*args)), name
    minicnn.manual_seed(0)
    u, z = minicnn.rand(20000, dtype=minicnn.float64), minicnn.randn(20000, dtype=minicnn.float64)
    assert 0 <= u.min().item() and u.max().item() < 1 and abs(u.mean().item() - 0.5) < 0.01
    assert abs(z.mean().item()) < 0.03 and abs(z.std().item() - 1) < 0.03
    x = minicnn.randn(2, 3, dtype=minicnn.float64)
    assert minicnn.rand_like(x).dtype == np.float64 and minicnn.randn_like(x).shape == (2, 3)
    assert minicnn.randn_like(x, dtype=minicnn.float32).dtype == np.float32
    with pytest.raises(TypeError, match=r"randn: expected a float32 or float64 dtype, got int64"):
        minicnn.randn(2, dtype=minicnn.int64)


def test_randint_has_torchs_signatures():
    minicnn.manual_seed(1)
    for args, kwargs, low, high in (((10, (3, 4)), {}, 0, 10), ((5, 9, (50,)), {}, 5, 9),
                                    ((), dict(low=2, high=4, size=(6,)), 2, 4), ((3,), dict(size=(2,)), 0, 3)):
        ours, theirs = minicnn.randint(*args, **kwargs), torch.randint(*args, **kwargs)
        assert ours.shape == tuple(theirs.shape) and ours.dtype == torch_dtype(theirs.dtype) == np.int64
        assert low <= ours.min().item() and ours.max().item() < high
    assert minicnn.randint(3, (2,), dtype=minicnn.float32).dtype == np.float32
    with pytest.raises(ValueError, match=r"randint: expected low < high, got low=4, high=4"):
        minicnn.randint(4, 4, (2,))
    with pytest.raises(TypeError, match=r"randint: expected \(high, size\) or \(low, high, size\)"):
        minicnn.randint(10)


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(2, 3), lambda lib: lib.ones((2,), dtype=lib.int64), lambda lib: lib.full((2, 2), 1.5),
    lambda lib: lib.full((2,), 7), lambda lib: lib.full((2,), True), lambda lib: lib.full((3,), 2, dtype=lib.float64),
    lambda lib: lib.zeros_like(lib.ones(2, dtype=lib.int32)), lambda lib: lib.ones_like(lib.ones(2, 2)),
    lambda lib: lib.full_like(lib.ones(3, dtype=lib.float64), 0.25), lambda lib: lib.full_like(lib.ones(2), 3),
    lambda lib: lib.arange(5), lambda lib: lib.arange(1, 7, 2), lambda lib: lib.arange(0, 1, 0.1),
    lambda lib: lib.arange(2.0, -1.0, -0.5, dtype=lib.float64), lambda lib: lib.arange(5, dtype=lib.float32),
    lambda lib: lib.linspace(0, 1, 5), lambda lib: lib.linspace(-3, 7, 11, dtype=lib.float64),
    lambda lib: lib.linspace(2, 2, 1), lambda lib: lib.linspace(0, 1, 0), lambda lib: lib.linspace(0.1, 0.9, 7),
    lambda lib: lib.eye(3), lambda lib: lib.eye(2, 4, dtype=lib.float64),
    lambda lib: lib.empty_like(lib.ones(2)).zero_(),
], ids=lambda f: "")
def test_deterministic_factories_equal_torchs(call):
    ours, theirs = call(minicnn), call(torch)
    assert_same(ours, theirs, "factory", tol=1e-6 if ours.dtype == np.float32 else 1e-15)


def test_factories_refuse_what_torch_refuses():
    with pytest.raises(ValueError, match=r"arange: step must be nonzero"):
        minicnn.arange(0, 3, 0)
    with pytest.raises(ValueError, match=r"arange: upper bound and larger bound inconsistent with step sign"):
        minicnn.arange(0, 3, -1)
    with pytest.raises(TypeError, match=r"full: expected fill_value as a number, got str"):
        minicnn.full((2,), "x")
    with pytest.raises(ValueError, match=r"linspace: expected steps as an int >= 0"):
        minicnn.linspace(0, 1, -1)
    with pytest.raises(TypeError, match=r"zeros_like: expected a minicnn.Tensor or numpy.ndarray, got list"):
        minicnn.zeros_like([1, 2])


def test_from_numpy_and_as_tensor_share_memory_as_torch():
    a = np.arange(4.0)
    t = minicnn.from_numpy(a)
    assert t.dtype == np.float64 and np.shares_memory(t.numpy(), a)
    a[0] = 9
    assert t[0].item() == 9.0
    assert np.shares_memory(minicnn.as_tensor(a).numpy(), a)
    assert not np.shares_memory(minicnn.as_tensor(a, dtype=minicnn.float32).numpy(), a)
    assert minicnn.as_tensor(t) is t and minicnn.as_tensor([1, 2]).dtype == np.int64
    assert minicnn.as_tensor([1.0]).dtype == torch_dtype(torch.as_tensor([1.0]).dtype)
    with pytest.raises(TypeError, match=r"from_numpy: expected a numpy.ndarray, got list"):
        minicnn.from_numpy([1.0])


# --------------------------------------------------------------------------- .data, as torch
def test_data_is_a_detached_tensor_sharing_memory():
    p = nn.Parameter(np.arange(6, dtype=np.float32).reshape(2, 3))
    d = p.data
    assert isinstance(d, minicnn.Tensor) and not isinstance(d, nn.Parameter) and not d.requires_grad
    assert np.shares_memory(d.numpy(), p.array)
    out = minicnn.tensor([[0.1, 0.9, 0.0], [0.7, 0.2, 0.1]], requires_grad=True) * 2
    _, pred = out.data.max(1)  # the classic line: indices, not numpy's values
    assert pred.tolist() == [1, 0] and pred.dtype == np.int64
    p.data.fill_(0)  # writes into the parameter, as torch
    assert not p.array.any()
    p.data = minicnn.ones(2, 3, dtype=minicnn.float64)  # and assigning .data swaps the array, as torch
    assert p.dtype == np.float64 and p.requires_grad
    with pytest.raises(TypeError, match=r"Tensor.data: a tensor that requires grad needs float32/float64 data"):
        p.data = minicnn.ones(2, dtype=minicnn.int64)


# --------------------------------------------------------------------------- arithmetic dtypes
@pytest.mark.parametrize("left", ["f32", "f64", "i64", "i32", "u8", "b", "f64_0d", "i64_0d"])
@pytest.mark.parametrize("right", ["f32", "f64", "i64", "i32", "u8", "b", "f64_0d", "f32_0d", 1.5, 2, True])
def test_arithmetic_result_dtypes_are_torchs(left, right):
    def make(lib, spec):
        if not isinstance(spec, str):
            return spec
        kind, _, zero = spec.partition("_")
        dtype = {"f32": "float32", "f64": "float64", "i64": "int64", "i32": "int32", "u8": "uint8", "b": "bool"}[kind]
        values = np.array(1 if zero else [1, 0, 3], dtype=dtype)
        return lib.tensor(values)
    for op in ("add", "mul", "truediv", "sub"):
        a, b = make(torch, left), make(torch, right)
        try:
            expected = getattr(a, f"__{op}__")(b)
        except (NotImplementedError, RuntimeError):  # torch refuses subtraction with a bool
            with pytest.raises(TypeError, match=r"sub: subtraction, the `-` operator, with a bool tensor"):
                getattr(make(minicnn, left), f"__{op}__")(make(minicnn, right))
            continue
        ours = getattr(make(minicnn, left), f"__{op}__")(make(minicnn, right))
        assert ours.dtype == torch_dtype(expected.dtype), (left, op, right)
        np.testing.assert_allclose(ours.numpy(), expected.numpy(), rtol=1e-6)


def test_reductions_of_bools_and_integers_count_as_torch():
    pred, target = minicnn.tensor([1, 2, 3, 4]), minicnn.tensor([1, 0, 3, 0])
    correct = pred.eq(target.view_as(pred))
    assert correct.dtype == np.bool_ and correct.sum().dtype == np.int64 and correct.sum().item() == 2
    assert (pred == target).sum().item() == 2 and type((pred == target).sum().item()) is int
    assert pred.ne(target).sum().item() == 2 and (pred > 2).sum().item() == 2 and pred.le(1).sum().item() == 1
    assert minicnn.sum(pred.lt(3) & pred.ge(2)).item() == 1 and (~correct).sum().item() == 2
    assert correct.sum(dtype=minicnn.float32).dtype == np.float32
    mask, mask_t = correct | pred.gt(3), torch.tensor([True, False, True, False]) | torch.tensor([1, 2, 3, 4]).gt(3)
    assert mask.tolist() == mask_t.tolist()
    with pytest.raises(TypeError, match=r"invert: expected bool or integer tensors, got float32"):
        ~pred.float()
    with pytest.raises(TypeError, match=r"mean\(\): could not infer output dtype.*Got: int64"):
        pred.mean()
    assert pred.float().mean().item() == 2.5 and pred.mean(dtype=minicnn.float64).item() == 2.5


# --------------------------------------------------------------------------- functions and methods, with gradients
X = normal(1, 3, 4)
UNARY = {  # name: (minicnn and torch call, input)
    "exp": (lambda lib, x: lib.exp(x), X), "log": (lambda lib, x: lib.log(x), np.abs(X) + 0.1),
    "sqrt": (lambda lib, x: lib.sqrt(x), np.abs(X) + 0.1), "abs": (lambda lib, x: lib.abs(x), X),
    "sigmoid": (lambda lib, x: lib.sigmoid(x), X), "tanh": (lambda lib, x: lib.tanh(x), X),
    "relu": (lambda lib, x: lib.relu(x), X), "neg": (lambda lib, x: -x, X),
    "pow": (lambda lib, x: lib.pow(x, 3), X), "pow method": (lambda lib, x: x.pow(2) + x ** 0.5, np.abs(X) + 0.1),
    "clamp": (lambda lib, x: lib.clamp(x, -0.5, 0.5), X), "clamp min": (lambda lib, x: x.clamp(min=0.1), X),
    "clamp max": (lambda lib, x: x.clamp(max=0.0), X), "clip": (lambda lib, x: x.clip(-1, 1), X),
    "clamp at the bounds": (lambda lib, x: x.clamp(-1.0, 1.0), np.array([-1.0, -0.5, 1.0, 2.0])),
    "sum": (lambda lib, x: lib.sum(x), X), "sum dim": (lambda lib, x: x.sum(1), X),
    "sum dims keepdim": (lambda lib, x: lib.sum(x, (0, 1), keepdim=True), X),
    "mean": (lambda lib, x: lib.mean(x, 0), X), "mean keepdim": (lambda lib, x: x.mean(-1, keepdim=True), X),
    "var": (lambda lib, x: x.var(), X), "var dim": (lambda lib, x: lib.var(x, 1), X),
    "var biased": (lambda lib, x: x.var(0, unbiased=False, keepdim=True), X),
    "var correction": (lambda lib, x: x.var(dim=1, correction=0), X), "var(False)": (lambda lib, x: x.var(False), X),
    "std": (lambda lib, x: lib.std(x), X), "std dim": (lambda lib, x: x.std(0), X),
    "std keepdim": (lambda lib, x: x.std(1, keepdim=True, unbiased=False), X),
    "std of equal entries": (lambda lib, x: x.std(1), np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])),
    "max": (lambda lib, x: lib.max(x), X), "min": (lambda lib, x: x.min(), X),
    "max tied": (lambda lib, x: x.max(), np.array([[1.0, 3.0], [3.0, -2.0]])),
    "max dim": (lambda lib, x: tuple(lib.max(x, 1)), X), "min dim": (lambda lib, x: tuple(x.min(dim=0)), X),
    "max dim keepdim": (lambda lib, x: tuple(x.max(-1, keepdim=True)), X),
    "max dim tied": (lambda lib, x: tuple(x.max(1)), np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])),
    "max of a 0-d tensor": (lambda lib, x: tuple(x.sum().max(0)), X),
    "argmax": (lambda lib, x: lib.argmax(x), X), "argmax dim": (lambda lib, x: x.argmax(1), X),
    "argmin keepdim": (lambda lib, x: lib.argmin(x, 0, keepdim=True), X),
    "flatten": (lambda lib, x: lib.flatten(x), X), "flatten 1": (lambda lib, x: lib.flatten(x.reshape(3, 2, 2), 1), X),
    "squeeze": (lambda lib, x: lib.squeeze(x.reshape(3, 1, 4, 1)), X),
    "squeeze dim": (lambda lib, x: x.reshape(1, 3, 1, 4).squeeze(2), X),
    "squeeze a dim not of size 1": (lambda lib, x: x.squeeze(0), X),
    "squeeze dims": (lambda lib, x: x.reshape(1, 3, 1, 4).squeeze((0, 2)), X),
    "unsqueeze": (lambda lib, x: lib.unsqueeze(x, 0), X), "unsqueeze -1": (lambda lib, x: x.unsqueeze(-1), X),
    "view": (lambda lib, x: x.view(-1, 6), X), "view_as": (lambda lib, x: x.view_as(x.reshape(2, 6)), X),
    "permute": (lambda lib, x: x.reshape(3, 2, 2).permute(2, 0, 1), X),
    "permute tuple": (lambda lib, x: lib.permute(x.reshape(3, 2, 2), (1, 2, 0)), X),
    "transpose": (lambda lib, x: lib.transpose(x.reshape(3, 2, 2), 0, 2), X), "t": (lambda lib, x: x.t(), X),
    "t of 1-D": (lambda lib, x: lib.t(x[0]), X),
    "chunk": (lambda lib, x: lib.chunk(x, 3, 1), X), "chunk fewer than asked": (lambda lib, x: x.chunk(3, -1), X[..., :2]),
    "chunk dim 0": (lambda lib, x: x.chunk(2, dim=0), X),
    "split": (lambda lib, x: x.split(3, 1), X), "split sections": (lambda lib, x: lib.split(x, [1, 0, 3], dim=1), X),
    "split whole": (lambda lib, x: x.split(5, 1), X),
    "expand": (lambda lib, x: x[:, :1].expand(3, 5), X), "expand new dims": (lambda lib, x: x.expand(2, -1, -1), X),
    "expand_as": (lambda lib, x: x[0].expand_as(x), X),
    "repeat": (lambda lib, x: x.repeat(2, 3), X), "repeat new dims": (lambda lib, x: x.repeat(2, 1, 2), X),
    "clone": (lambda lib, x: lib.clone(x) * 2, X), "contiguous": (lambda lib, x: x.t().contiguous().view(-1), X),
    "detach": (lambda lib, x: x.detach() * x, X),
    "eq": (lambda lib, x: lib.eq(x, x.detach().clamp(min=0)), X),
    "where": (lambda lib, x: lib.where(x > 0, x, 0.5 * x), X),
    "where number": (lambda lib, x: lib.where(x > 0, x, 0.0), X),
    "softmax method": (lambda lib, x: x.softmax(1), X), "log_softmax method": (lambda lib, x: x.log_softmax(dim=0), X),
    "int exp": (lambda lib, x: lib.exp(x.long()), X), "int sqrt": (lambda lib, x: (x.abs() * 3).int().sqrt(), X),
    "int sigmoid": (lambda lib, x: (x * 2).long().sigmoid(), X),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_function_or_method_matches_torch(name):
    fn, x = UNARY[name]
    check(fn, x)


BINARY = {
    "matmul 2-D": (lambda lib, a, b: lib.matmul(a, b), normal(2, 3, 4), normal(3, 4, 2)),
    "@": (lambda lib, a, b: a @ b, normal(2, 3, 4), normal(3, 4, 2)),
    "mm": (lambda lib, a, b: a.mm(b), normal(2, 3, 4), normal(3, 4, 2)),
    "vector @ vector": (lambda lib, a, b: a @ b, normal(2, 4), normal(3, 4)),
    "matrix @ vector": (lambda lib, a, b: a.matmul(b), normal(2, 3, 4), normal(3, 4)),
    "vector @ matrix": (lambda lib, a, b: a @ b, normal(2, 4), normal(3, 4, 2)),
    "vector @ batch": (lambda lib, a, b: a @ b, normal(2, 4), normal(3, 5, 4, 2)),
    "batch @ matrix": (lambda lib, a, b: a @ b, normal(2, 5, 3, 4), normal(3, 4, 2)),
    "broadcast batches": (lambda lib, a, b: a @ b, normal(2, 2, 1, 3, 4), normal(3, 5, 4, 2)),
    "maximum": (lambda lib, a, b: lib.maximum(a, b), normal(2, 3, 4), normal(3, 4)),
    "max of two": (lambda lib, a, b: lib.max(a, b), normal(2, 3, 4), normal(3, 3, 4)),
    "minimum tied": (lambda lib, a, b: a.minimum(b), np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 4.0])),
    "where broadcast": (lambda lib, a, b: lib.where(a > b, a, b), normal(2, 3, 1), normal(3, 4)),
    "cat": (lambda lib, a, b: lib.cat([a, b.t()], dim=1), normal(2, 3, 4), normal(3, 2, 3)),
    "stack": (lambda lib, a, b: lib.stack((a, b), 1), normal(2, 3, 4), normal(3, 3, 4)),
    "mixed arithmetic": (lambda lib, a, b: (a.add(b, alpha=2) - b.mul(a).div(3) + 1).sub(a, alpha=0.5),
                         normal(2, 3, 4), normal(3, 4)),
    "comparisons": (lambda lib, a, b: tuple(op(a, b) for op in (lib.eq, lib.ne, lib.lt, lib.le, lib.gt, lib.ge)),
                    np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0])),
    "pow of tensors": (lambda lib, a, b: lib.pow(a, b), np.abs(normal(2, 3, 4)) + 0.1, normal(3, 4)),
    "pow at 0 and 0 ** 0": (lambda lib, a, b: a ** b, np.array([0.0, 0.0, 0.0, 2.0, 1.5]),
                             np.array([0.0, 2.0, 3.0, 0.0, -1.0])),
    "number ** tensor": (lambda lib, a, b: 2.0 ** a + b.pow(2), normal(2, 3), normal(3, 3)),
    "div trunc and floor": (lambda lib, a, b: (a.div(b, rounding_mode="trunc"), lib.div(a, b, rounding_mode="floor")),
                            np.array([-7.0, 7.0, -7.5, 7.5, 1.0]), np.array([2.0, -2.0, 2.0, 2.0, 3.0])),
    "cat skips a 1-D empty tensor": (lambda lib, a, b: lib.cat([a, b, a], dim=1), normal(2, 2, 3), np.zeros(0)),
}


@pytest.mark.parametrize("name", list(BINARY))
def test_two_input_function_matches_torch(name):
    fn, a, b = BINARY[name]
    check(fn, a, b)


def test_clamp_with_tensor_bounds_splits_the_gradient_at_ties_as_torch():
    """Every order of x, min and max among 1, 2, 3 (ties, min above max): the output and the three gradients
    are torch's, whose rule is neither clamp's with numbers (0 at a bound) nor max-then-min's."""
    grid = np.array(list(itertools.product([1.0, 2.0, 3.0], repeat=3))).T
    check(lambda lib, x, low, high: lib.clamp(x, low, high), *grid)
    check(lambda lib, x, low: x.clamp(min=low), grid[0], grid[1])
    check(lambda lib, x, high: x.clamp(max=high), grid[0], grid[2])
    check(lambda lib, x, low, high: x.clamp(low, high), normal(5, 2, 3, 4), normal(6, 3, 1), normal(7, 4) + 1)
    with pytest.raises(TypeError, match="clamp: expected min and max as numbers or as Tensors"):
        minicnn.ones(3).clamp(minicnn.zeros(3), 2.0)


@SETTINGS
@given(lead_a=st.lists(st.integers(1, 3), max_size=2), lead_b=st.lists(st.integers(1, 3), max_size=2),
       n=st.integers(1, 3), k=st.integers(1, 3), m=st.integers(1, 3),
       vector=st.sampled_from([None, "a", "b", "both"]), seed=st.integers(0, 2**16))
def test_matmul_of_any_shapes_matches_torch(lead_a, lead_b, n, k, m, vector, seed):
    rng = np.random.default_rng(seed)
    if len(lead_a) == len(lead_b):
        lead_b = [x if x == y or 1 in (x, y) else 1 for x, y in zip(lead_a, lead_b)]
    elif lead_a and lead_b:
        lead_b = []
    shape_a = (k,) if vector in ("a", "both") else (*lead_a, n, k)
    shape_b = (k,) if vector in ("b", "both") else (*lead_b, k, m)
    check(lambda lib, a, b: a @ b, rng.standard_normal(shape_a), rng.standard_normal(shape_b), seed=seed)


@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), seed=st.integers(0, 2**16), data=st.data())
def test_chunk_and_split_of_any_shapes_match_torch(shape, seed, data):
    x = np.random.default_rng(seed).standard_normal(shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    chunks, size = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    check(lambda lib, t: t.chunk(chunks, dim), x, seed=seed)
    check(lambda lib, t: lib.split(t, size, dim), x, seed=seed)
    cut = sorted(data.draw(st.lists(st.integers(0, shape[dim]), max_size=3)))
    sections = [b - a for a, b in zip([0, *cut], [*cut, shape[dim]])]
    check(lambda lib, t: t.split(sections, dim=dim), x, seed=seed)


@SETTINGS
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3), extra=st.lists(st.integers(1, 3), max_size=2),
       seed=st.integers(0, 2**16), data=st.data())
def test_expand_and_repeat_of_any_shapes_match_torch(shape, extra, seed, data):
    x = np.random.default_rng(seed).standard_normal([1 if data.draw(st.booleans()) else n for n in shape])
    target = [*extra, *(data.draw(st.integers(1, 3)) if n == 1 else n for n in x.shape)]
    check(lambda lib, t: t.expand(*target), x, seed=seed)
    repeats = [data.draw(st.integers(1, 3)) for _ in range(len(extra) + x.ndim)]
    check(lambda lib, t: t.repeat(repeats), x, seed=seed)


@SETTINGS
@given(shape=st.lists(st.integers(1, 4), max_size=3), keepdim=st.booleans(), seed=st.integers(0, 2**16),
       data=st.data())
def test_amax_and_amin_over_several_dims_match_torch(shape, keepdim, seed, data):
    # values on a grid of halves, so most slices hold tied extremes: torch shares the gradient among them
    x = np.asarray(np.round(np.random.default_rng(seed).standard_normal(shape) * 2) / 2)
    dims = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), unique_by=lambda d: d % max(len(shape), 1),
                              max_size=len(shape))) if shape else []
    dim = tuple(dims) if len(dims) != 1 or data.draw(st.booleans()) else dims[0]
    check(lambda lib, t: t.amax(dim, keepdim), x, seed=seed)
    check(lambda lib, t: lib.amin(t, dim=dim, keepdim=keepdim), x, seed=seed)


def test_amax_shares_the_gradient_among_ties_where_max_with_a_dim_picks_the_first():
    x = minicnn.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    x.amax(1).sum().backward()
    assert np.asarray(x.grad).tolist() == [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]]
    y = minicnn.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    y.max(1).values.sum().backward()
    assert np.asarray(y.grad).tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    with pytest.raises(ValueError, match=r"amax: expected a non-empty dim to reduce, got shape \(3, 0\)"):
        minicnn.zeros(3, 0).amax(1)
    assert minicnn.zeros(0, 3).amax(1).shape == (0,)


def test_max_with_a_dim_is_a_named_pair():
    x = minicnn.tensor([[1.0, 5.0], [7.0, 2.0]])
    result = minicnn.max(x, 1)
    assert type(result).__name__ == type(torch.max(torch.ones(2, 2), 1)).__name__ == "max"
    values, indices = result
    assert result.values is values and result.indices is indices and indices.tolist() == [1, 0]
    assert minicnn.min(x, dim=0).values.tolist() == [1.0, 2.0] and x.max(0, True).values.shape == (1, 2)
    assert isinstance(result, tuple) and minicnn.return_types.max is type(result)


def test_size_dim_numel_shape():
    t, t_t = minicnn.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    assert t.size() == tuple(t_t.size()) and t.size(-1) == t_t.size(-1) == 4 and t.shape == tuple(t_t.shape)
    assert t.dim() == t.ndim == 3 and t.numel() == minicnn.numel(t) == 24 and len(t) == 2
    assert t.is_floating_point() and not t.long().is_floating_point() and minicnn.is_tensor(t)
    with pytest.raises(IndexError, match=r"size: Dimension out of range \(expected to be in range of \[-3, 2\]"):
        t.size(3)


def test_shape_methods_refuse_what_torch_refuses():
    x = minicnn.zeros(2, 3)
    for call, error, message in (
            (lambda: x.permute(0, 0), ValueError, r"permute: expected a permutation of the 2 dims, got \(0, 0\)"),
            (lambda: x.transpose(0, 2), IndexError, r"transpose: Dimension out of range"),
            (lambda: x.expand(4, 3), ValueError, r"expand: the size 2 of dim 0 \(shape \(2, 3\)\) must match 4"),
            (lambda: x.expand(3), ValueError, r"expand: expected at least 2 sizes"),
            (lambda: x.expand(-1, 2, 3), ValueError, r"expand: -1 is not allowed in a new leading dim"),
            (lambda: x.repeat(2), ValueError, r"repeat: expected at least 2 sizes"),
            (lambda: x.unsqueeze(3), IndexError, r"unsqueeze: Dimension out of range"),
            (lambda: x.reshape(2, 3, 0.5), ValueError, r"reshape: expected sizes as ints >= -1"),
            (lambda: minicnn.zeros(2, 2, 2).t(), ValueError, r"t\(\): expected a tensor of at most 2 dims"),
            (lambda: x.clamp(), ValueError, r"clamp: at least one of 'min' or 'max' must not be None"),
            (lambda: x.clamp(min=x, max=1.0), TypeError, r"clamp: expected min and max as numbers or as Tensors"),
            (lambda: x.clamp(min=minicnn.zeros(4)), ValueError, r"clamp: expected shapes that broadcast"),
            (lambda: x.sum(2), IndexError, r"sum: Dimension out of range"),
            (lambda: x.var((0, 0)), ValueError, r"var: dim \(0, 0\) names a dim twice"),
            (lambda: minicnn.zeros(0).max(), ValueError, r"max: expected a non-empty tensor, got shape \(0,\)"),
            (lambda: x @ minicnn.zeros(2, 3), ValueError, r"matmul: shapes \(2, 3\) and \(2, 3\) cannot be multiplied"),
            (lambda: x @ minicnn.zeros(3, dtype=minicnn.float64), TypeError,
             r"matmul: expected both operands of one dtype, got float32 and float64"),
            (lambda: minicnn.where(x, x, x), TypeError, r"where: expected condition as a bool tensor, got float32"),
            (lambda: x.pow("2"), TypeError, r"pow: expected an int, float or Tensor exponent, got str"),
            (lambda: x.pow(minicnn.zeros(4)), ValueError, r"pow: expected shapes that broadcast"),
            (lambda: x.div(2, rounding_mode="round"), ValueError, r"div: expected rounding_mode to be one of None"),
            (lambda: minicnn.max([1, 2]), TypeError, r"max input: expected a minicnn.Tensor or numpy.ndarray"),
            (lambda: x.chunk(0), ValueError, r"chunk: expected chunks as an int >= 1, got 0"),
            (lambda: x.split(0, 1), ValueError, r"split: expected split_size as an int >= 1, got 0"),
            (lambda: x.split([1, 1], 1), ValueError, r"split: expected non-negative int sizes adding up to 3 \(dim 1\)"),
            (lambda: x.chunk(2, 2), IndexError, r"chunk: Dimension out of range")):
        with pytest.raises(error, match=message):
            call()


def test_where_with_the_condition_alone_gives_indices():
    cond = np.array([[True, False], [False, True]])
    ours, theirs = minicnn.where(minicnn.tensor(cond)), torch.where(torch.tensor(cond))
    assert len(ours) == len(theirs) and all(o.tolist() == t.tolist() for o, t in zip(ours, theirs))


# --------------------------------------------------------------------------- in place
def test_in_place_on_a_leaf_that_requires_grad_is_refused_as_torch():
    for op in (lambda x: x.add_(1), lambda x: x.fill_(0), lambda x: x.zero_(), lambda x: x.mul_(2),
               lambda x: x.__iadd__(1), lambda x: x.clamp_(0, 1), lambda x: x.__setitem__(0, 1.0),
               lambda x: x.normal_(), lambda x: x.copy_(x.detach() * 0)):
        ours, theirs = minicnn.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            op(theirs)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            op(ours)


def test_in_place_under_no_grad_updates_the_array_every_view_shares():
    w = nn.Parameter(np.ones(3, np.float32))
    alias = w.data
    with minicnn.no_grad():
        w -= 0.5 * np.arange(3, dtype=np.float32)  # the manual SGD step
        w.mul_(2)
    assert w.tolist() == alias.tolist() == [2.0, 1.0, 0.0] and w.is_leaf and w.requires_grad
    v = minicnn.zeros(2, 3)
    row = v[0]
    row += 1  # a basic index is a view, as torch's
    v[1, 1:] = minicnn.tensor([5.0, 6.0])
    v.t()[0].fill_(9)
    assert v.tolist() == [[9.0, 1.0, 1.0], [9.0, 5.0, 6.0]]
    assert v.zero_().sum().item() == 0 and v.copy_(minicnn.tensor([1.0, 2.0, 3.0])).tolist()[1] == [1.0, 2.0, 3.0]
    with pytest.raises(TypeError, match=r"add_: result type float32 can't be cast to the desired output type int64"):
        minicnn.tensor([1, 2]).add_(0.5)
    with pytest.raises(ValueError, match=r"add_: output with shape \(3,\) doesn't match the broadcast shape \(2, 3\)"):
        minicnn.zeros(3).add_(minicnn.zeros(2, 3))


def test_in_place_arithmetic_inside_a_graph_is_recorded_as_torch():
    def block(lib, x, w):
        out = x * w
        identity = x
        out += identity  # torchvision's residual block
        out *= w
        out.sub_(x, alpha=0.5)
        out /= 2
        acc = lib.zeros(3, 4, dtype=lib.float64)
        acc += out  # a tensor without grad takes one from the right-hand side
        return acc.clamp_(max=3.0)
    check(block, normal(4, 3, 4), normal(5, 3, 4))


def test_in_place_writes_minicnn_does_not_record_are_refused():
    x = minicnn.ones(3, requires_grad=True) * 2
    for op, name in ((lambda: x.fill_(0), "fill_"), (lambda: x.zero_(), "zero_"),
                     (lambda: x.__setitem__(0, 5.0), r"x\[index\] = value"), (lambda: x.normal_(), "normal_")):
        with pytest.raises(RuntimeError, match=rf"{name}: minicnn does not record"):
            op()
    y = minicnn.zeros(3)
    with pytest.raises(RuntimeError, match=r"minicnn does not record assigning a tensor that requires grad"):
        y[0] = x[0]
    with minicnn.no_grad():
        y[0] = x[0]
    assert y.tolist() == [2.0, 0.0, 0.0]


def test_normal_and_uniform_draw_from_the_seeded_generator():
    w = minicnn.zeros(1000, dtype=minicnn.float64)
    minicnn.manual_seed(4)
    w.data.normal_(0.0, 0.02)
    first = w.clone()
    minicnn.manual_seed(4)
    assert w.normal_(0.0, 0.02).equal(first) and abs(w.std().item() - 0.02) < 0.002
    w.uniform_(-0.1, 0.1)
    assert -0.1 <= w.min().item() and w.max().item() < 0.1 and w.dtype == np.float64
    with pytest.raises(TypeError, match=r"normal_\(\): could not infer output dtype"):
        minicnn.zeros(2, dtype=minicnn.int64).normal_()


# --------------------------------------------------------------------------- a program, twice
def small_program(torch, nn, F, weights, images, labels):
    """The idioms of pytorch/examples' mnist and the CIFAR-10 tutorial, for either library."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, 1)
            self.fc1 = nn.Linear(4 * 3 * 3, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            skip = x
            x = x * 0.5
            x += skip
            x = F.max_pool2d(x, 2)
            x = torch.flatten(x, 1)
            return F.log_softmax(self.fc1(x), dim=1)

    model = Net().to(device).double()
    model.load_state_dict(weights)
    data, target = torch.from_numpy(images).to(device), torch.from_numpy(labels).to(device)
    output = model(data)
    loss = F.nll_loss(output, target)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    pred = output.argmax(dim=1, keepdim=True)
    correct = pred.eq(target.view_as(pred)).sum().item()
    _, predicted = torch.max(output.data, 1)
    return {"loss": loss.item(), "correct": correct, "total": target.size(0),
            "predicted": predicted.tolist(), "matches": (predicted == target).sum().item(),
            "probability": torch.exp(output).sum(1).mean().item(),
            "weights": {k: np.asarray(v, dtype=np.float64) for k, v in model.state_dict().items()}}


def test_a_program_runs_unchanged_under_both_libraries():
    rng = np.random.default_rng(6)
    images, labels = rng.standard_normal((5, 1, 8, 8)), rng.integers(0, 10, 5)
    weights = {"conv1.weight": rng.standard_normal((4, 1, 3, 3)) * 0.3, "conv1.bias": rng.standard_normal(4) * 0.1,
               "fc1.weight": rng.standard_normal((10, 36)) * 0.2, "fc1.bias": rng.standard_normal(10) * 0.1}
    ours = small_program(minicnn, nn, minicnn.nn.functional, weights, images, labels)
    theirs = small_program(torch, torch.nn, torch.nn.functional, {k: torch.from_numpy(v) for k, v in weights.items()},
                           images, labels)
    assert ours.keys() == theirs.keys()
    for key in ("correct", "total", "predicted", "matches"):
        assert ours[key] == theirs[key], key
    for key in ("loss", "probability"):
        assert abs(ours[key] - theirs[key]) <= TOL * abs(theirs[key]), key
    for name, value in theirs["weights"].items():  # the step after the backward: same gradients, same update
        assert relative_error(ours["weights"][name], value) <= TOL, name


def test_a_generator_is_torchs_and_every_random_argument_takes_it():
    from minicnn.utils.data import DataLoader, TensorDataset, random_split
    g = minicnn.Generator()
    assert g.manual_seed(42) is g and g.initial_seed() == 42 and g.device == minicnn.device("cpu")
    assert minicnn.Generator().initial_seed() == 67280421310721            # torch's default seed
    minicnn.manual_seed(0)
    before = minicnn.get_rng_state()

    def draw(gen):
        return (minicnn.rand(2, 3, generator=gen), minicnn.randn(4, generator=gen, dtype=minicnn.float64),
                minicnn.randint(0, 10, (5,), generator=gen))
    first, second, other = (draw(minicnn.Generator().manual_seed(s)) for s in (7, 7, 8))
    for a, b, c in zip(first, second, other):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert not np.array_equal(a.numpy(), c.numpy())
    assert minicnn.get_rng_state() == before            # a generator of its own: minicnn's is not drawn from
    assert first[0].dtype == minicnn.float32 and first[2].dtype == minicnn.int64
    state = g.get_state()
    first = minicnn.rand(3, generator=g)
    g.set_state(state)
    np.testing.assert_array_equal(minicnn.rand(3, generator=g).numpy(), first.numpy())
    data = TensorDataset(minicnn.arange(20.0))
    split = [random_split(data, [0.75, 0.25], generator=minicnn.Generator().manual_seed(42))[1].indices
             for _ in range(2)]
    assert split[0] == split[1] and len(split[0]) == 5
    orders = [[b[0].tolist() for b in DataLoader(data, batch_size=4, shuffle=True,
                                                 generator=minicnn.Generator().manual_seed(s))] for s in (1, 1, 2)]
    assert orders[0] == orders[1] != orders[2]


def test_a_generator_refuses_what_torch_refuses():
    with pytest.raises(RuntimeError, match="Generator: minicnn runs on the CPU only; got device 'cuda'"):
        minicnn.Generator("cuda")
    with pytest.raises(ValueError, match=r"Generator.manual_seed: expected a non-negative int, got -1"):
        minicnn.Generator().manual_seed(-1)
    with pytest.raises(TypeError, match="randn: expected generator as a minicnn.Generator .*got int"):
        minicnn.randn(2, generator=3)
    with pytest.raises(ValueError, match="Generator.set_state: not a PCG64 state"):
        minicnn.Generator().set_state({"bit_generator": "MT19937"})


def test_nn_parallel_on_the_cpu_calls_the_module_and_refuses_a_device():
    import minicnn.nn.parallel as parallel
    net = nn.Sequential(nn.Linear(3, 2))
    x = minicnn.randn(4, 3)
    wrapped = parallel.DataParallel(net)
    assert np.array_equal(wrapped(x).detach().numpy(), net(x).detach().numpy()) and wrapped.device_ids == []
    assert list(wrapped.state_dict()) == ["module.0.weight", "module.0.bias"]   # torch's keys
    assert np.array_equal(parallel.data_parallel(net, x).detach().numpy(), net(x).detach().numpy())
    with pytest.raises(RuntimeError, match="minicnn runs on the CPU only; got device 'cuda:0'"):
        parallel.data_parallel(net, x, range(2))
    assert parallel.DataParallel(net, device_ids=[0, 1]).device_ids == []   # as torch's without GPUs
    with pytest.raises(TypeError, match="DataParallel: expected a minicnn Module, got str"):
        nn.DataParallel("net")
    assert not (x.is_cuda or x.is_xpu or x.is_mps)


def test_memory_formats_are_accepted_and_is_contiguous_answers_as_torch():
    """torch's four memory formats: the casts and copies take them and give torch's values; channels_last needs a
    4-D tensor (channels_last_3d a 5-D one), as torch; ``is_contiguous(memory_format=...)`` answers as torch for
    minicnn's C-ordered arrays of every small shape (True for channels_last only where C or H*W is 1)."""
    from minicnn.testing import from_torch_sample
    for shape in itertools.product([1, 2], [1, 3], [1, 2], [1, 2]):
        for fmt in (torch.channels_last, torch.contiguous_format, torch.preserve_format):
            ours = from_torch_sample(fmt, [])
            assert minicnn.zeros(shape).is_contiguous(memory_format=ours) == \
                torch.zeros(shape).is_contiguous(memory_format=fmt), (shape, fmt)
    for shape in [(2, 3), (2, 3, 4), (2, 1, 3, 1, 2), (2, 3, 4, 5, 6)]:
        for fmt in (torch.channels_last, torch.channels_last_3d):
            assert minicnn.zeros(shape).is_contiguous(memory_format=from_torch_sample(fmt, [])) == \
                torch.zeros(shape).is_contiguous(memory_format=fmt), (shape, fmt)
    x = minicnn.randn(2, 3, 4, 4, requires_grad=True)
    y = x.to(memory_format=minicnn.channels_last).double(memory_format=minicnn.preserve_format).contiguous(
        memory_format=minicnn.channels_last).clone(memory_format=minicnn.contiguous_format)
    y.sum().backward()
    assert y.dtype == np.float64 and np.array_equal(y.detach().numpy(), x.detach().numpy().astype(np.float64)) and (x.grad == 1).all()
    with pytest.raises(ValueError, match=r"Tensor.to: memory_format=channels_last expects a 4-D tensor, got 2-D"):
        minicnn.zeros(2, 3).to(memory_format=minicnn.channels_last)
    with pytest.raises(ValueError, match=r"Tensor.float: memory_format=channels_last_3d expects a 5-D tensor"):
        minicnn.zeros(2, 3, 4, 4).float(memory_format=minicnn.channels_last_3d)
    with pytest.raises(TypeError, match=r"Tensor.clone: expected memory_format as minicnn.contiguous_format"):
        x.clone(memory_format="channels_last")
