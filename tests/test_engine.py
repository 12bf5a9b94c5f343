"""The engine: any forward, one ``loss.backward()``, torch's semantics, checked against torch in float64.

Shapes are drawn by hypothesis; forward values and every gradient must agree with
torch to 1e-10 relative (``minicnn.testing.relative_error``).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn import SimpleCNN, Tensor, kernels, manual_seed, nn
from minicnn import functional as F
from minicnn.testing import relative_error

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = 1e-10
SETTINGS = settings(max_examples=15, deadline=None)


def to_torch(module):
    """The torch tensors of a minicnn module's parameters, by name, requiring grad."""
    return {name: torch.from_numpy(p.array.copy()).requires_grad_(True) for name, p in module.named_parameters()}


def assert_matches(ours, theirs, what):
    ours, theirs = np.asarray(ours), theirs.detach().numpy()
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs {theirs.shape}"
    err = relative_error(ours, theirs)
    assert err <= TOL, f"{what}: relative error {err:.2e}"


def assert_grads_match(module, params_t, x, x_t):
    assert_matches(x.grad, x_t.grad, "d input")
    for name, p in module.named_parameters():
        assert_matches(p.grad, params_t[name].grad, f"d {name}")


def distinct(rng, shape):
    """Values far apart: no max-pool tie and no ReLU input near 0 flips between the two libraries."""
    size = int(np.prod(shape))
    return ((rng.permutation(size) + 0.5) / size * 2 - 1).reshape(shape)


# --------------------------------------------------------------------------- one instance, many calls
class ReusedLayers(nn.Module):
    """The usual ``self.relu`` / ``self.pool`` called twice in forward (the case that went wrong before)."""

    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.relu, self.pool = nn.ReLU(), nn.MaxPool2d(2)

    def forward(self, x):
        return self.pool(self.relu(self.conv2(self.pool(self.relu(self.conv1(x))))))

    def torch_forward(self, x, p):
        x = TF.max_pool2d(TF.relu(TF.conv2d(x, p["conv1.weight"], p["conv1.bias"], padding=1)), 2)
        return TF.max_pool2d(TF.relu(TF.conv2d(x, p["conv2.weight"], p["conv2.bias"], padding=1)), 2)


@SETTINGS
@given(n=st.integers(1, 3), c=st.integers(1, 3), size=st.sampled_from([4, 8, 12]), seed=st.integers(0, 2**31))
def test_one_relu_and_one_maxpool_used_twice_per_forward(n, c, size, seed):
    rng = np.random.default_rng(seed)
    model = ReusedLayers(c).double()
    x = Tensor(distinct(rng, (n, c, size, size)), requires_grad=True)
    x_t, p_t = torch.from_numpy(x.array.copy()).requires_grad_(True), to_torch(model)
    out, out_t = model(x), model.torch_forward(x_t, p_t)
    assert_matches(out, out_t, "forward")
    g = rng.standard_normal(out.shape)
    out.backward(g)
    out_t.backward(torch.from_numpy(g))
    assert_grads_match(model, p_t, x, x_t)


def test_one_maxpool_at_two_shapes():
    pool = nn.MaxPool2d(2)
    a, b = Tensor(distinct(np.random.default_rng(0), (2, 3, 8, 8)), requires_grad=True), \
        Tensor(distinct(np.random.default_rng(1), (2, 3, 4, 4)), requires_grad=True)
    loss = pool(a).sum() + pool(b).sum() * 2
    loss.backward()
    a_t, b_t = (torch.from_numpy(t.array.copy()).requires_grad_(True) for t in (a, b))
    (TF.max_pool2d(a_t, 2).sum() + TF.max_pool2d(b_t, 2).sum() * 2).backward()
    assert_matches(a.grad, a_t.grad, "d a")
    assert_matches(b.grad, b_t.grad, "d b")


@SETTINGS
@given(n=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_two_forwards_summed_into_one_loss(n, seed):
    rng = np.random.default_rng(seed)
    manual_seed(seed % 1000)
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3)).double()
    x1, x2 = (Tensor(rng.standard_normal((n, 5)), requires_grad=True) for _ in range(2))
    y1, y2 = rng.integers(0, 3, n), rng.integers(0, 3, n)
    criterion = nn.CrossEntropyLoss()
    loss = criterion(model(x1), y1) + 0.5 * criterion(model(x2), y2)
    loss.backward()
    p_t = to_torch(model)

    def fwd(x):
        return TF.linear(TF.relu(TF.linear(x, p_t["0.weight"], p_t["0.bias"])), p_t["2.weight"], p_t["2.bias"])
    x1_t, x2_t = (torch.from_numpy(x.array.copy()).requires_grad_(True) for x in (x1, x2))
    loss_t = TF.cross_entropy(fwd(x1_t), torch.from_numpy(y1)) + 0.5 * TF.cross_entropy(fwd(x2_t), torch.from_numpy(y2))
    loss_t.backward()
    assert abs(loss.item() - loss_t.item()) <= TOL * abs(loss_t.item())
    assert_grads_match(model, p_t, x1, x1_t)
    assert_matches(x2.grad, x2_t.grad, "d x2")


# --------------------------------------------------------------------------- graphs a Sequential cannot express
class Residual(nn.Module):
    """``x + conv2(relu(conv1(x)))``: the input's gradient arrives along two paths and adds up."""

    def __init__(self, c):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(x)))


class TwoBranches(nn.Module):
    """``cat([conv_a(x), conv_b(x)], dim=1)`` then a linear head: the custom Module has no backward."""

    def __init__(self, c, size):
        super().__init__()
        self.a, self.b = nn.Conv2d(c, 2, 3, padding=1), nn.Conv2d(c, 3, 1)
        self.head = nn.Linear(5 * size * size, 4)

    def forward(self, x):
        return self.head(minicnn.cat([self.a(x), F.relu(self.b(x))], dim=1).flatten(1))


@SETTINGS
@given(n=st.integers(1, 3), c=st.integers(1, 4), size=st.integers(3, 9), seed=st.integers(0, 2**31))
def test_residual_block(n, c, size, seed):
    rng = np.random.default_rng(seed)
    manual_seed(seed % 1000)
    block = Residual(c).double()
    x = Tensor(rng.standard_normal((n, c, size, size)), requires_grad=True)
    out = block(x)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    p_t = to_torch(block)
    x_t = torch.from_numpy(x.array.copy()).requires_grad_(True)
    h = TF.relu(TF.conv2d(x_t, p_t["conv1.weight"], p_t["conv1.bias"], padding=1))
    out_t = x_t + TF.conv2d(h, p_t["conv2.weight"], p_t["conv2.bias"], padding=1)
    out_t.backward(torch.from_numpy(g))
    assert_matches(out, out_t, "forward")
    assert_grads_match(block, p_t, x, x_t)


@SETTINGS
@given(n=st.integers(1, 3), c=st.integers(1, 3), size=st.integers(2, 6), seed=st.integers(0, 2**31))
def test_two_branch_concatenation(n, c, size, seed):
    rng = np.random.default_rng(seed)
    manual_seed(seed % 1000)
    net = TwoBranches(c, size).double()
    x = Tensor(rng.standard_normal((n, c, size, size)), requires_grad=True)
    labels = rng.integers(0, 4, n)
    loss = nn.CrossEntropyLoss()(net(x), labels)
    loss.backward()
    p_t = to_torch(net)
    x_t = torch.from_numpy(x.array.copy()).requires_grad_(True)
    branches = torch.cat([TF.conv2d(x_t, p_t["a.weight"], p_t["a.bias"], padding=1),
                          TF.relu(TF.conv2d(x_t, p_t["b.weight"], p_t["b.bias"]))], dim=1)
    loss_t = TF.cross_entropy(TF.linear(branches.flatten(1), p_t["head.weight"], p_t["head.bias"]),
                              torch.from_numpy(labels))
    loss_t.backward()
    assert abs(loss.item() - loss_t.item()) <= TOL * abs(loss_t.item())
    assert_grads_match(net, p_t, x, x_t)


def test_tensor_arithmetic_matches_torch():
    """Broadcasting ops, reductions, indexing, stack and matmul: each gradient summed back to its input's shape."""
    rng = np.random.default_rng(3)
    a, b, c = 0.3 * rng.standard_normal((3, 4)), rng.standard_normal((4,)), rng.uniform(1, 2, (3, 1))

    def f(a, b, c, stack, flip):  # the same lines for both libraries
        y = (a * b - b / c + 2.0) ** 2 - (a @ a.T) @ a / 3
        z = stack([y[0], flip(y[1]), y[2] * 0.5], 1)
        return z.exp().sum(0).mean() + (-z).abs().mean(dim=1, keepdim=True).sum() + (y[[0, 0, 2], 1] ** 2 + 1).log().sum()

    ours = [Tensor(v, requires_grad=True) for v in (a, b, c)]
    theirs = [torch.from_numpy(v.copy()).requires_grad_(True) for v in (a, b, c)]
    loss = f(*ours, minicnn.stack, lambda t: t[::-1])
    loss_t = f(*theirs, torch.stack, lambda t: t.flip(0))
    loss.backward()
    loss_t.backward()
    assert abs(loss.item() - loss_t.item()) <= TOL * abs(loss_t.item())
    for name, o, t in zip("abc", ours, theirs):
        assert_matches(o.grad, t.grad, f"d {name}")


def test_a_cast_hands_the_gradient_back_in_the_input_dtype():
    """``Tensor.to(dtype)`` is recorded: its backward returns the upstream gradient, the same numbers (no
    sign, no factor) in the input's dtype; a round trip float64 -> float32 -> float64 likewise."""
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    y = x.to(np.float32)
    assert y.dtype == np.float32 and y.grad_fn is not None
    g = rng.standard_normal((3, 4)).astype(np.float32)
    y.backward(g)
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, g.astype(np.float64))
    x.grad = None
    (x.to(np.float32).to(np.float64) * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((3, 4), 3.0))


# --------------------------------------------------------------------------- torch's semantics
def test_backward_twice_raises_and_retain_graph_sums():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1)).double()
    x = np.ones((4, 3))
    loss = model(x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"backward through the graph a second time.*retain_graph=True"):
        loss.backward()
    model.zero_grad()
    loss = model(x).sum()
    loss.backward(retain_graph=True)
    once = {n: p.grad.copy() for n, p in model.named_parameters()}
    loss.backward()
    for n, p in model.named_parameters():
        np.testing.assert_array_equal(p.grad, 2 * once[n], err_msg=n)


def test_backward_frees_every_cache():
    model = SimpleCNN().double()
    out = model(np.zeros((2, 1, 28, 28)))
    loss = out.sum()
    nodes = minicnn.autograd.engine.topological_order(loss.grad_fn)
    assert all(node.ctx is not None for node in nodes)
    loss.backward()
    assert all(node.ctx is None for node in nodes)


def test_the_graph_holds_no_activation_that_no_backward_needs():
    """A computed input is reached through its node, not its tensor: dropping ``out`` frees its array."""
    import weakref
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    hidden = x * 2.0
    ref = weakref.ref(hidden)
    loss = (hidden + 1.0).sum()  # Add keeps no input array
    del hidden
    assert ref() is None
    loss.backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))


def test_non_leaf_grad_is_not_kept_unless_retained():
    x = Tensor(np.arange(3.0), requires_grad=True)
    h = x * 3.0
    k = (x * 2.0).retain_grad()
    (h * h + k).sum().backward()
    assert h.grad is None and x.grad is not None
    np.testing.assert_array_equal(k.grad, np.ones(3))
    np.testing.assert_array_equal(x.grad, 18 * np.arange(3.0) + 2)
    assert x.is_leaf and not h.is_leaf


def test_no_grad_records_nothing_and_keeps_no_cache():
    model = SimpleCNN()
    with minicnn.no_grad():
        out = model(np.zeros((1, 1, 28, 28), np.float32))
    assert out.grad_fn is None and not out.requires_grad
    with minicnn.no_grad(), minicnn.enable_grad():
        assert minicnn.is_grad_enabled()


@pytest.mark.parametrize("name", ["simplecnn", "lenet5", "resnet-mini"])
def test_inference_without_a_cache_computes_the_same_logits(name):
    """With nothing recorded the conv kernels keep no cache (one workspace per chunk instead of every
    block's transformed input or im2col panel): the logits are the recorded forward's, bit for bit."""
    from minicnn.models import build_model
    minicnn.manual_seed(0)
    model = build_model(name)
    model.eval()
    x = np.random.default_rng(0).standard_normal((40, 1, 28, 28)).astype(np.float32)
    recorded = model(x)
    assert recorded.grad_fn is not None
    kept = []
    forward = kernels.conv.conv_forward_chunks

    def spy(*args):
        kept.append(kernels.conv._keep_cache())
        return forward(*args)
    for module in (kernels.conv, kernels.fused):
        module.conv_forward_chunks = spy
    try:
        with minicnn.no_grad():
            inferred = model(x)
    finally:
        for module in (kernels.conv, kernels.fused):
            module.conv_forward_chunks = forward
    np.testing.assert_array_equal(inferred.data, recorded.data)
    assert kept and not any(kept)  # every conv that went through the chunked path kept nothing


def test_no_cache_is_per_thread_like_no_grad():
    """The lab infers on one thread while it trains on another: one thread's no_cache() must not reach the other."""
    import threading
    inside, outside = threading.Event(), threading.Event()
    seen = []

    def other():
        inside.wait(5)
        seen.append(kernels.conv._keep_cache())
        outside.set()
    worker = threading.Thread(target=other)
    worker.start()
    with kernels.conv.no_cache():
        inside.set()
        outside.wait(5)
        assert not kernels.conv._keep_cache()
    worker.join()
    assert seen == [True] and kernels.conv._keep_cache()


def test_a_conv_cache_built_without_caching_refuses_a_backward():
    from minicnn import kernels as K
    x, w = np.ones((2, 4, 6, 6), np.float32), np.ones((3, 4, 3, 3), np.float32)
    for algorithm in ("winograd", "im2col"):
        with K.conv.algorithm(algorithm), K.conv.no_cache():
            out, cache = K.conv2d_forward(x, w, None, 1, 1)
        np.testing.assert_array_equal(out, K.conv2d_forward(x, w, None, 1, 1)[0])
        with pytest.raises(RuntimeError, match="no_cache"):
            K.conv2d_backward(np.ones_like(out), cache)


def test_a_custom_function_with_a_hand_written_backward():
    """How a learner adds an op: forward and backward on arrays; the engine does the rest."""
    class Cube(minicnn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

    x = Tensor([1.0, -2.0, 0.5], requires_grad=True, dtype=np.float64)
    Cube.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 12.0, 0.75])

    class Wrong(Cube):
        @staticmethod
        def backward(ctx, g):
            return g[:2]
    with pytest.raises(RuntimeError, match=r"WrongBackward: returned a gradient of shape \(2,\) for an input of "
                                           r"shape \(3,\)"):
        Wrong.apply(x).sum().backward()


def test_backward_refuses_what_it_cannot_use():
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"grad can be implicitly created only for scalar outputs"):
        y.backward()
    with pytest.raises(ValueError, match=r"backward: expected gradient of shape \(2, 2\), got \(2,\)"):
        y.backward(np.ones(2))
    with pytest.raises(TypeError, match=r"backward: expected gradient as a float ndarray or Tensor, got int64"):
        y.backward(np.ones((2, 2), np.int64))
    with pytest.raises(RuntimeError, match=r"does not require grad"):
        Tensor(np.ones(2)).sum().backward()
    with pytest.raises(TypeError, match=r"only float32/float64 tensors can require grad, got dtype int64"):
        Tensor(np.ones(2, np.int64), requires_grad=True)
    with pytest.raises(TypeError, match=r"linear input: expected a minicnn.Tensor or numpy.ndarray, got list"):
        F.linear([[1.0]], np.ones((1, 1)))


def test_tensor_basics_as_torch_users_expect():
    t = minicnn.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.dtype == np.float32 and t.shape == (2, 2) and t.ndim == 2 and len(t) == 2 and t.numel() == 4
    assert (t.argmax(dim=1) == np.array([1, 1])).data.all()
    assert (t.argmax(1) == minicnn.tensor([1, 1])).sum().item() == 2
    assert float(t.sum()) == 10.0 and t[1, 0].item() == 3.0
    assert np.asarray(t).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    p = nn.Parameter(np.zeros((3, 4), np.float32))
    assert p.numel() == 12 and p.size() == (3, 4) and p.size(1) == 4 and p.requires_grad
    with pytest.raises(RuntimeError, match=r"Use tensor.detach\(\).numpy\(\) instead"):
        p.numpy()
    assert p.detach().numpy() is p.array and p.data.numpy() is p.array


# --------------------------------------------------------------------------- fast and naive behind one op
def test_a_simplecnn_step_under_the_naive_kernels_equals_the_fast_path():
    rng = np.random.default_rng(5)
    x, y = rng.uniform(-1, 1, (3, 1, 28, 28)), rng.integers(0, 10, 3)
    grads = {}
    for impl, fused in (("fast", True), ("fast", False), ("naive", True), ("naive", False)):
        manual_seed(5)
        model = SimpleCNN(fused=fused).double()
        with kernels.use(impl):
            loss = nn.CrossEntropyLoss()(model(x), y)
            loss.backward()
        grads[impl, fused] = loss.item(), {n: p.grad for n, p in model.named_parameters()}
    reference_loss, reference = grads["fast", True]
    for key, (loss, g) in grads.items():
        assert abs(loss - reference_loss) <= TOL * abs(reference_loss), key
        for name in reference:
            assert relative_error(g[name], reference[name]) <= TOL, (key, name)


def test_kernels_use_refuses_an_unknown_implementation():
    with pytest.raises(ValueError, match=r"kernels.use: expected one of \['fast', 'naive'\], got 'slow'"):
        with kernels.use("slow"):
            pass


# --------------------------------------------------------------------------- Module: buffers, modes, dtype
class WithBuffers(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.register_buffer("running", np.zeros(2, np.float32))
        self.register_buffer("count", np.array(0, np.int64))
        self.register_buffer("scratch", np.ones(1, np.float32), persistent=False)

    def forward(self, x):
        return self.fc(x)


def test_buffers_in_state_dict_to_and_load_state_dict():
    m = nn.Sequential(WithBuffers())
    # torch's keys and order: a module's own parameters and buffers, then its children's
    assert list(m.state_dict()) == ["0.running", "0.count", "0.fc.weight", "0.fc.bias"]
    m.double()
    assert m[0].running.dtype == np.float64 and m[0].count.dtype == np.int64 and m[0].scratch.dtype == np.float64
    sd = m.state_dict()
    sd["0.running"] = np.array([1.0, 2.0])
    sd["0.count"] = np.array(7)
    m2 = nn.Sequential(WithBuffers()).double()
    m2.load_state_dict(sd)
    np.testing.assert_array_equal(m2[0].running, [1.0, 2.0])
    assert m2[0].count == 7 and m2[0].count.dtype == np.int64
    assert [n for n, _ in m.named_buffers()] == ["0.running", "0.count", "0.scratch"]


def test_train_eval_reach_every_submodule_and_helpers_walk_the_tree():
    model = SimpleCNN(fused=False)
    assert model.eval() is model and not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Conv2d", "Conv2d", "Linear", "Linear", "SimpleCNN"]  # children first, as torch
    assert model.to("cpu") is model and model.float() is model


def test_models_are_looked_up_by_name():
    assert isinstance(minicnn.build_model("simplecnn"), SimpleCNN)
    assert minicnn.build_model("simplecnn", fused=False).fused is False
    with pytest.raises(ValueError, match=r"model: expected one of \[.*'simplecnn'.*\], got 'vgg'"):
        minicnn.build_model("vgg")


def test_observe_ops_sees_every_op_of_its_own_thread_and_changes_nothing():
    import threading

    from minicnn.autograd.engine import _observers, observe_ops
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    seen, inner, other = [], [], []
    with observe_ops(lambda fn, args, out: seen.append((fn.__name__, out))):
        y = F.relu(x - 2.0)
        with observe_ops(lambda fn, args, out: inner.append(fn.__name__)):
            z = (y * y).sum()
        thread = threading.Thread(target=lambda: other.append(F.relu(x)))
        thread.start()
        thread.join()
    assert [name for name, _ in seen] == ["Sub", "ReLUFunction", "Mul", "Sum"] and inner == ["Mul", "Sum"]
    assert seen[1][1] is y and seen[-1][1] is z                  # the very tensors the ops returned
    assert len(other) == 1 and getattr(_observers, "stack", []) == []   # the other thread was not seen
    z.backward()
    np.testing.assert_array_equal(x.grad, 2 * np.maximum(x.array - 2, 0))
    with pytest.raises(ZeroDivisionError):
        with observe_ops(lambda fn, args, out: 1 / 0):
            F.relu(x)
    assert _observers.stack == []                                 # gone even when the callback raised
