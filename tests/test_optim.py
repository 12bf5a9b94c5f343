"""minicnn.optim.SGD against trajectories worked out by hand (torch's momentum rule)."""
import numpy as np
import pytest

from minicnn import nn
from minicnn.optim import SGD


def run(p0, grads, **kwargs):
    """Parameters after each ``step()``, feeding ``grads[k]`` as the gradient of step ``k``."""
    p = nn.Parameter(np.array(p0, dtype=np.float64))
    opt = SGD([p], **kwargs)
    trajectory = []
    for g in grads:
        p.grad = np.array(g, dtype=np.float64)
        before = p.grad.copy()
        opt.step()
        np.testing.assert_array_equal(p.grad, before)  # step never writes to the gradient
        trajectory.append(p.data.copy())
    return trajectory


def test_momentum_constant_gradient_by_hand():
    # lr 0.1, momentum 0.9, g = [0.5, -1] every step
    #   step 1: v = g                      = [0.5,   -1.0 ]   p = [1, -2]     - 0.1 v = [0.95,   -1.9  ]
    #   step 2: v = 0.9 [0.5, -1]   + g    = [0.95,  -1.9 ]   p = [0.95, -1.9] - 0.1 v = [0.855,  -1.71 ]
    #   step 3: v = 0.9 [0.95, -1.9] + g   = [1.355, -2.71]   p = ...          - 0.1 v = [0.7195, -1.439]
    got = run([1.0, -2.0], [[0.5, -1.0]] * 3, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(got, [[0.95, -1.9], [0.855, -1.71], [0.7195, -1.439]], rtol=1e-14)


def test_momentum_changing_gradient_by_hand():
    # g1 = [1, 0], g2 = [0, 1], g3 = [-1, -1]
    #   step 1: v = [1, 0]                                p = [-0.1,  0   ]
    #   step 2: v = [0.9, 0]   + [0, 1]   = [0.9, 1]      p = [-0.19, -0.1 ]
    #   step 3: v = [0.81, 0.9] + [-1, -1] = [-0.19, -0.1] p = [-0.171, -0.09]
    got = run([0.0, 0.0], [[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]], lr=0.1, momentum=0.9)
    np.testing.assert_allclose(got, [[-0.1, 0.0], [-0.19, -0.1], [-0.171, -0.09]], rtol=1e-14, atol=1e-16)


def test_momentum_with_weight_decay_by_hand():
    # weight_decay 0.5 adds 0.5 p to g = [1, 1]; the second entry, -2, has g + 0.5 p = 0 and never moves.
    #   step 1: g' = [1.5, 0]      v = [1.5, 0]                      p = [0.85,     -2]
    #   step 2: g' = [1.425, 0]    v = 0.9*1.5 + 1.425   = 2.775     p = [0.5725,   -2]
    #   step 3: g' = [1.28625, 0]  v = 0.9*2.775 + 1.28625 = 3.78375 p = [0.194125, -2]
    got = run([1.0, -2.0], [[1.0, 1.0]] * 3, lr=0.1, momentum=0.9, weight_decay=0.5)
    np.testing.assert_allclose(got, [[0.85, -2.0], [0.5725, -2.0], [0.194125, -2.0]], rtol=1e-14)


def test_plain_sgd_and_weight_decay_without_momentum():
    # p -= lr (g + wd p): [1, -2] -> [1 - 0.1 (0.5 + 0.1), -2 - 0.1 (-1 - 0.2)] = [0.94, -1.88]
    got = run([1.0, -2.0], [[0.5, -1.0]], lr=0.1, weight_decay=0.1)
    np.testing.assert_allclose(got, [[0.94, -1.88]], rtol=1e-15)
    got = run([1.0, -2.0], [[0.5, -1.0]] * 2, lr=0.1)
    np.testing.assert_allclose(got, [[0.95, -1.9], [0.9, -1.8]], rtol=1e-15)


def test_parameters_without_gradient_are_skipped():
    a, b = nn.Parameter(np.array([1.0, 2.0])), nn.Parameter(np.array([3.0, 4.0]))
    opt = SGD([a, b], lr=0.1, momentum=0.9)
    a.grad = np.array([1.0, 1.0])
    opt.step()
    np.testing.assert_array_equal(b.data, [3.0, 4.0])
    assert b.grad is None and 1 not in opt.state_dict()["state"]  # no momentum buffer for b yet
    # b's first gradient starts its velocity fresh (v = g), as torch's momentum buffer
    a.grad, b.grad = None, np.array([1.0, -1.0])
    opt.step()
    np.testing.assert_allclose(a.data, [0.9, 1.9], rtol=1e-15)
    np.testing.assert_allclose(b.data, [2.9, 4.1], rtol=1e-15)


def test_float32_parameters_stay_float32():
    p = nn.Parameter(np.ones(3, np.float32))
    opt = SGD([p], lr=0.1, momentum=0.9, weight_decay=1e-4)
    for _ in range(2):
        p.grad = np.ones(3, np.float32)
        opt.step()
    assert p.data.dtype == np.float32


def test_step_updates_the_parameter_array_in_place():
    layer = nn.Linear(2, 2)
    weight = layer.weight.data
    opt = SGD(layer.parameters(), lr=0.5)
    out = layer(np.ones((1, 2), np.float32))
    layer.backward(np.ones_like(out))
    before, grad = weight.copy(), layer.weight.grad.copy()
    opt.step()
    assert layer.weight.data is weight  # the model keeps seeing its own array
    np.testing.assert_array_equal(weight, before - 0.5 * grad)


def test_zero_grad_of_the_optimizer():
    layer = nn.Linear(2, 2)
    opt = SGD(layer.parameters(), lr=0.1)
    out = layer(np.ones((1, 2), np.float32))
    layer.backward(np.ones_like(out))
    opt.zero_grad(set_to_none=False)
    for p in layer.parameters():
        np.testing.assert_array_equal(p.grad, 0)
    opt.zero_grad()
    assert all(p.grad is None for p in layer.parameters())


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(lr=-1.0), ValueError, r"SGD: expected a finite lr >= 0, got -1.0"),
    (dict(lr=float("nan")), ValueError, r"SGD: expected a finite lr >= 0, got nan"),
    (dict(lr=float("inf")), ValueError, r"SGD: expected a finite lr >= 0, got inf"),
    (dict(lr="0.1"), TypeError, r"SGD: expected lr as a number, got str"),
    (dict(lr=True), TypeError, r"SGD: expected lr as a number, got bool"),
    (dict(lr=0.1, momentum=-0.9), ValueError, r"SGD: expected a finite momentum >= 0, got -0.9"),
    (dict(lr=0.1, momentum=None), TypeError, r"SGD: expected momentum as a number, got NoneType"),
    (dict(lr=0.1, weight_decay=-1e-4), ValueError, r"SGD: expected a finite weight_decay >= 0, got -0.0001"),
])
def test_bad_hyperparameters_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        SGD([nn.Parameter(np.zeros(2))], **kwargs)


def test_bad_parameter_lists_raise():
    with pytest.raises(ValueError, match=r"SGD: expected a non-empty list of parameters, got an empty one"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"SGD: expected Parameter objects, got ndarray at position 1"):
        SGD([nn.Parameter(np.zeros(2)), np.zeros(2)], lr=0.1)
