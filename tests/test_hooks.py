"""Module hooks against torch's: the same calls, arguments, gradients and replacements."""
import numpy as np
import pytest

import minicnn
from minicnn import nn

torch = pytest.importorskip("torch")


def _pair():
    """A small minicnn net and its torch twin with the same weights (float64)."""
    ours = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3)).double()
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.Linear(8, 3)).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def _x(requires_grad=True):
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4))
    return minicnn.Tensor(x, requires_grad=requires_grad), torch.from_numpy(x.copy()).requires_grad_(requires_grad)


def _numpy(t):
    return None if t is None else (t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t))


def test_forward_hooks_see_what_torch_hooks_see_and_can_replace_the_output():
    ours, theirs = _pair()
    seen = {"ours": [], "theirs": []}
    for key, net in (("ours", ours), ("theirs", theirs)):
        net[0].register_forward_pre_hook(lambda m, args, key=key: seen[key].append(("pre", _numpy(args[0]))))
        net[1].register_forward_hook(lambda m, args, out, key=key: seen[key].append(("post", _numpy(out))))
        net[3].register_forward_hook(lambda m, args, out: out * 2)   # a replacement output
    x, xt = _x()
    out, out_t = ours(x), theirs(xt)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-12)
    assert [k for k, _ in seen["ours"]] == [k for k, _ in seen["theirs"]] == ["pre", "post"]
    for (_, a), (_, b) in zip(seen["ours"], seen["theirs"]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_removed_hook_is_not_called_and_a_handle_is_a_context_manager():
    ours, _ = _pair()
    calls = []
    handle = ours[1].register_forward_hook(lambda *a: calls.append(1))
    x, _ = _x()
    ours(x)
    handle.remove()
    ours(x)
    with ours[1].register_forward_hook(lambda *a: calls.append(2)):
        ours(x)
    ours(x)
    assert calls == [1, 2]
    with pytest.raises(TypeError, match="callable"):
        ours.register_forward_hook("not a function")


@pytest.mark.parametrize("input_grad", [True, False])
@pytest.mark.filterwarnings("ignore:Full backward hook is firing")  # torch says it fires at the outputs, as minicnn
def test_full_backward_hooks_get_torch_s_gradients(input_grad):
    ours, theirs = _pair()
    got, calls = {"ours": {}, "theirs": {}}, {"ours": {}, "theirs": {}}

    def record(key, i, gi, go):
        got[key][i] = ([_numpy(g) for g in gi], [_numpy(g) for g in go])
        calls[key][i] = calls[key].get(i, 0) + 1
    for key, net in (("ours", ours), ("theirs", theirs)):
        for i in (0, 1, 3):
            net[i].register_full_backward_hook(lambda m, gi, go, key=key, i=i: record(key, i, gi, go))
    x, xt = _x(input_grad)
    dout = np.random.default_rng([0, 1]).standard_normal((2, 3))
    ours(x).backward(dout)
    theirs(xt).backward(torch.from_numpy(dout))
    assert sorted(got["ours"]) == sorted(got["theirs"]) == [0, 1, 3]
    assert calls == {"ours": {0: 1, 1: 1, 3: 1}, "theirs": {0: 1, 1: 1, 3: 1}}   # once per backward
    for i in (0, 1, 3):
        for a_list, b_list in zip(got["ours"][i], got["theirs"][i]):
            assert len(a_list) == len(b_list)
            for a, b in zip(a_list, b_list):
                assert (a is None) == (b is None), (i, a, b)
                if a is not None:
                    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_a_backward_hook_can_replace_grad_input_as_torch():
    ours, theirs = _pair()
    for net in (ours, theirs):
        net[3].register_full_backward_hook(lambda m, gi, go: tuple(None if g is None else g * 3 for g in gi))
    x, xt = _x()
    dout = np.random.default_rng([0, 1]).standard_normal((2, 3))
    ours(x).backward(dout)
    theirs(xt).backward(torch.from_numpy(dout))
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours[0].weight.grad, theirs[0].weight.grad.numpy(), rtol=1e-12)
    # the hook's own module's parameters keep their gradient; what flows on is tripled
    np.testing.assert_allclose(ours[3].weight.grad, theirs[3].weight.grad.numpy(), rtol=1e-12)


def test_no_hooks_no_extra_nodes():
    """Without a backward hook the graph is what it was: the output's node is the layer's own op."""
    ours, _ = _pair()
    x, _ = _x()
    assert "BackwardHook" not in ours(x).grad_fn.name()
    ours[3].register_full_backward_hook(lambda *a: None)
    assert ours(x).grad_fn.name() == "BackwardHookOutputBackward"


def test_a_backward_hook_fires_on_every_backward_through_a_retained_graph():
    ours, theirs = _pair()
    fired = {"ours": 0, "theirs": 0}
    for key, net in (("ours", ours), ("theirs", theirs)):
        net[3].register_full_backward_hook(lambda m, gi, go, key=key: fired.__setitem__(key, fired[key] + 1))
    x, xt = _x()
    out, out_t = ours(x).sum(), theirs(xt).sum()
    for _ in range(2):
        out.backward(retain_graph=True)
        out_t.backward(retain_graph=True)
    assert fired == {"ours": 2, "theirs": 2}
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-12)
