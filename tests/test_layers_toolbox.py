"""The toolbox's layers as Modules: dropout's masks, batch norm's running estimates over several steps,
state, modes and dtypes, ``l1_penalty`` against torch, and the gradient check catching a wrong backward."""
import numpy as np
import pytest

import minicnn
from minicnn import functional as F
from minicnn import nn
from minicnn.random import manual_seed

torch = pytest.importorskip("torch")


# --------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_mask_distribution_and_scaling(p):
    manual_seed(0)
    x = np.ones((200, 500))
    out = nn.Dropout(p)(x).data
    dropped = float(np.mean(out == 0))
    sigma = np.sqrt(p * (1 - p) / x.size)
    assert abs(dropped - p) < 5 * sigma, (dropped, p)          # Bernoulli(p) per element
    np.testing.assert_allclose(out[out != 0], 1 / (1 - p), rtol=1e-15)  # kept ones scaled by 1/(1-p)
    assert abs(out.mean() - 1) < 5 * np.sqrt(p / (1 - p) / x.size)  # so the expectation is kept


def test_dropout_masks_are_independent_across_elements_and_calls():
    manual_seed(1)
    layer = nn.Dropout(0.5)
    a, b = layer(np.ones((100, 100))).data != 0, layer(np.ones((100, 100))).data != 0
    assert abs(np.mean(a == b) - 0.5) < 0.03  # a second call draws a new mask
    assert abs(np.corrcoef(a[:, :-1].ravel(), a[:, 1:].ravel())[0, 1]) < 0.05  # neighbours independent


def test_dropout_same_seed_same_mask_and_eval_is_the_identity():
    x = np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32)
    layer = nn.Dropout(0.3)
    manual_seed(42)
    first = layer(x).data
    manual_seed(42)
    np.testing.assert_array_equal(layer(x).data, first)
    manual_seed(43)
    assert not np.array_equal(layer(x).data, first)
    layer.eval()
    t = minicnn.tensor(x, requires_grad=True)
    out = layer(t)
    assert out is t  # nothing recorded, nothing copied
    assert first.dtype == np.float32


def test_dropout_backward_uses_the_forward_mask():
    manual_seed(3)
    t = minicnn.tensor(np.random.default_rng(0).standard_normal((4, 50)), requires_grad=True)
    out = nn.Dropout(0.4)(t)
    out.sum().backward()
    np.testing.assert_array_equal(t.grad, (out.data != 0) / 0.6)


def test_dropout2d_zeroes_whole_channels():
    manual_seed(5)
    x = np.random.default_rng(0).standard_normal((16, 8, 3, 3)) + 10  # no zeros of its own
    out = nn.Dropout2d(0.5)(x).data
    zero = (out == 0).reshape(16, 8, -1)
    assert (zero.all(axis=2) | ~zero.any(axis=2)).all()   # a channel is dropped whole or not at all
    assert 0.3 < zero.all(axis=2).mean() < 0.7
    kept = ~zero.all(axis=2)
    np.testing.assert_allclose(out[kept], 2 * x[kept])


def test_dropout_p_edges_and_refusals():
    x = np.ones((3, 4))
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).data, x)
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).data, 0)  # torch: zeros, not nan
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            nn.Dropout(bad)
    with pytest.raises(ValueError, match="inplace=True is not supported"):
        nn.Dropout(0.5, inplace=True)
    with pytest.raises(ValueError, match=r"dropout2d: expected a 3-D \(N, C, L\) or 4-D"):
        F.dropout2d(np.ones((2, 3)))


# --------------------------------------------------------------------------- batch norm over several steps
@pytest.mark.parametrize("momentum", [0.1, 0.7, None])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_batch_norm_running_stats_after_train_steps_and_eval_output_match_torch(momentum, dtype, rtol):
    rng = np.random.default_rng(0)
    ours = nn.BatchNorm2d(4, momentum=momentum).to(dtype)
    theirs = torch.nn.BatchNorm2d(4, momentum=momentum).to(getattr(torch, np.dtype(dtype).name))
    for step in range(5):  # batches of different sizes, means and spreads
        x = (rng.uniform(0.5, 3) * rng.standard_normal((2 + step, 4, 3, 5)) + rng.normal(0, 5, (1, 4, 1, 1)))
        x = x.astype(dtype)
        y = ours(x)
        y_t = theirs(torch.from_numpy(x))
        np.testing.assert_allclose(y.data, y_t.detach().numpy(), rtol=rtol, atol=rtol)
    state, state_t = ours.state_dict(), theirs.state_dict()
    assert list(state) == list(state_t)
    for key in state:
        assert state[key].dtype == state_t[key].numpy().dtype, key
        np.testing.assert_allclose(state[key], state_t[key].numpy(), rtol=rtol, err_msg=key)
    assert int(ours.num_batches_tracked) == 5
    x = rng.standard_normal((3, 4, 3, 5)).astype(dtype)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).detach().numpy(), rtol=rtol, atol=rtol)
    assert int(ours.num_batches_tracked) == 5  # evaluation does not count


def test_batch_norm_without_running_stats_uses_batch_stats_in_eval():
    x = np.random.default_rng(0).standard_normal((4, 3, 2, 2))
    ours = nn.BatchNorm2d(3, track_running_stats=False).double().eval()
    theirs = torch.nn.BatchNorm2d(3, track_running_stats=False).double().eval()
    assert ours.state_dict().keys() == theirs.state_dict().keys() == {"weight", "bias"}
    np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


def test_batch_norm_state_dict_round_trips_through_torch_and_dtype():
    rng = np.random.default_rng(1)
    ours = nn.BatchNorm1d(3)
    ours(rng.standard_normal((5, 3)).astype(np.float32))
    theirs = torch.nn.BatchNorm1d(3)
    theirs.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in ours.state_dict().items()})
    again = nn.BatchNorm1d(3)
    again.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for key, value in ours.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[key], value)
    ours.double()
    assert ours.running_mean.dtype == np.float64 and ours.num_batches_tracked.dtype == np.int64


def test_batch_norm_refuses_bad_arguments():
    with pytest.raises(ValueError, match="BatchNorm2d: expected eps > 0"):
        nn.BatchNorm2d(3, eps=0)
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected momentum in \[0, 1\] or None"):
        nn.BatchNorm2d(3, momentum=2)
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected a 4-D input, got shape \(2, 3\)"):
        nn.BatchNorm2d(3)(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"batch_norm: expected input of dtype float32 \(the weight's\), got float64"):
        nn.BatchNorm1d(3)(np.ones((2, 3)))


def test_batch_norm_backward_through_the_engine_matches_torch_in_train_mode():
    """Through a conv and a sum that weights each output (a non-trivial upstream gradient)."""
    rng = np.random.default_rng(2)
    manual_seed(0)
    conv, bn = nn.Conv2d(2, 3, 3).double(), nn.BatchNorm2d(3).double()
    conv_t, bn_t = torch.nn.Conv2d(2, 3, 3).double(), torch.nn.BatchNorm2d(3).double()
    conv_t.load_state_dict({k: torch.from_numpy(v) for k, v in conv.state_dict().items()})
    x, g = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((2, 3, 4, 4))
    (bn(conv(x)) * g).sum().backward()
    (bn_t(conv_t(torch.from_numpy(x))) * torch.from_numpy(g)).sum().backward()
    for ours, theirs in ((conv.weight, conv_t.weight), (conv.bias, conv_t.bias), (bn.weight, bn_t.weight),
                         (bn.bias, bn_t.bias)):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-13)


# --------------------------------------------------------------------------- softmax's implicit dim
def test_softmax_without_dim_warns_and_chooses_like_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        ours = nn.Softmax()(x).data
    with pytest.warns(UserWarning):
        theirs = torch.nn.Softmax()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


# --------------------------------------------------------------------------- L1
def test_l1_penalty_matches_torch_value_and_gradient():
    from minicnn.models import SimpleCNNBN
    from reference import models as ref_models
    manual_seed(0)
    model = SimpleCNNBN().double()
    model_t = ref_models.load_numpy_state_dict(ref_models.SimpleCNNBN().double(), model.state_dict())
    model.fc1.weight.data[0, :3] = 0  # |w| at 0: both give the gradient 0 there
    model_t.fc1.weight.data[0, :3] = 0
    penalty = minicnn.l1_penalty(model)
    weights_t = [p for name, p in model_t.named_parameters() if name.endswith("weight") and p.ndim >= 2]
    penalty_t = sum(p.abs().sum() for p in weights_t)
    assert penalty.shape == () and penalty.dtype == np.float64
    assert penalty.item() == pytest.approx(penalty_t.item(), rel=1e-12)
    (2.5 * penalty).backward()
    (2.5 * penalty_t).backward()
    for (name, p), (_, p_t) in zip(model.named_parameters(), model_t.named_parameters()):
        if p_t.grad is None:  # biases and batch norm's 1-D weight/bias are not penalised
            assert p.grad is None, name
            assert name.endswith("bias") or name.startswith("bn"), name
        else:
            np.testing.assert_array_equal(p.grad, p_t.grad.numpy(), err_msg=name)
    assert {n for n, p in model.named_parameters() if p.grad is not None} == {
        "conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"}
    assert (model.fc1.weight.grad[0, :3] == 0).all()


def test_l1_penalty_of_given_parameters_includes_everything_given_and_trains():
    manual_seed(0)
    layer = nn.Linear(3, 2).double()
    assert minicnn.l1_penalty(layer.parameters()).item() == pytest.approx(
        np.abs(layer.weight.data).sum() + np.abs(layer.bias.data).sum())
    x, y = np.random.default_rng(0).standard_normal((4, 3)), np.array([0, 1, 1, 0])
    opt = minicnn.optim.SGD(layer.parameters(), lr=0.1)
    before = np.abs(layer.weight.data).sum()
    for _ in range(20):  # a strong L1 term alone shrinks the weights towards 0
        loss = 0 * nn.CrossEntropyLoss()(layer(x), y) + 1.0 * minicnn.l1_penalty(layer)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert np.abs(layer.weight.data).sum() < before - 1
    with pytest.raises(TypeError, match="l1_penalty: expected a Module or an iterable of Parameters, got int"):
        minicnn.l1_penalty([layer.weight, 3])


# --------------------------------------------------------------------------- the gradient check can fail
def test_gradcheck_catches_a_batch_norm_backward_that_ignores_the_batch_statistics(monkeypatch, capsys):
    """The eval-mode formula in training (dx = weight * invstd * dy, no mean/variance terms) must fail."""
    from minicnn import cli
    from minicnn.kernels import norm
    real = norm.batch_norm_backward

    def eval_formula(dout, cache, need_input_grad=True):
        return real(dout, cache._replace(training=False), need_input_grad)
    monkeypatch.setattr(minicnn.kernels.IMPLEMENTATIONS["fast"], "batch_norm_backward", eval_formula)
    assert cli.main(["gradcheck"]) == 1
    out = capsys.readouterr().out
    failed = [line for line in out.splitlines() if line.endswith("FAIL")]
    assert any(line.startswith("BatchNorm2d(3), train, batch 2") and " input " in line for line in failed)
    assert not any(line.startswith("BatchNorm2d(3), eval") for line in failed)


def test_gradcheck_table_has_every_toolbox_layer_and_passes(capsys):
    from minicnn import cli
    assert cli.main(["gradcheck"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.endswith(("pass", "FAIL"))]
    for layer in ("BatchNorm2d(3), train, batch 2", "BatchNorm2d(2), train, batch 3", "BatchNorm1d", "BatchNormReLU2d",
                  "BatchNorm2d(3), eval", "LocalResponseNorm", "Sigmoid", "Tanh", "LeakyReLU", "Softmax", "LogSoftmax", "AvgPool2d",
                  "AdaptiveAvgPool2d", "Dropout(", "Dropout2d", "MSELoss", "NLLLoss", "BCEWithLogitsLoss", "LeNet5",
                  "BasicBlock"):
        assert any(r.startswith(layer) for r in rows), layer
    assert all(r.endswith("pass") for r in rows)
    assert max(float(r.split()[-4]) for r in rows) < 1e-7  # far below the threshold, not just under it
