"""minicnn.optim against torch.optim, and SGD against trajectories worked out by hand.

* By hand: SGD's momentum rule on two-entry parameters, step by step; Adagrad's and
  Adadelta's first steps; OneCycleLR's and ReduceLROnPlateau's lrs.
* Lockstep: every optimiser and each of its options, 50 float64 steps on the
  same seeded random gradients as ``torch.optim`` (``foreach=False``): every
  weight after every step, and every state array, within 1e-9 relative.
* Schedulers: the lr sequence of 100 epochs equal to torch's to 1e-12 (OneCycleLR's
  momentum too), and in lockstep with an optimiser; a state_dict round trip mid-run
  continues as torch's uninterrupted run.
* state_dict: torch's layout; a round trip through ``.npz`` (no pickle) into a
  fresh optimiser continues bit-identically; bad state dicts are refused.
* Validation: messages name the optimiser, the argument and the value; what torch
  refuses is refused.
* Numerics: float32 stays float32 (state too), ``p.grad`` is never written.

Run with ``-s`` to print the worst relative weight difference each optimiser (and
optimiser + schedule) reached in the float64 lockstep runs.
"""
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn import nn, optim
from minicnn.optim import (OPTIMIZERS, SCHEDULERS, SGD, Adadelta, Adagrad, Adam, AdamW, Optimizer, RMSprop,
                           lr_scheduler)
from minicnn.serialize import pack, unpack


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")  # the reference is optional: pip install 'minicnn[torch]'


WORST = defaultdict(float)  # (optimiser [+ schedule]) -> worst relative weight difference, float64 lockstep


@pytest.fixture(scope="module", autouse=True)
def report_worst_lockstep():
    yield
    if WORST:
        print("\nworst relative weight difference vs torch.optim, float64 lockstep (bound 1e-9):")
        for name, err in sorted(WORST.items()):
            print(f"  {name:<28} {err:.2e}")


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
        trajectory.append(p.array.copy())
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
    np.testing.assert_array_equal(b.array, [3.0, 4.0])
    assert b.grad is None and 1 not in opt.state_dict()["state"]  # no momentum buffer for b yet
    # b's first gradient starts its momentum buffer fresh (v = g), as torch's
    a.grad, b.grad = None, np.array([1.0, -1.0])
    opt.step()
    np.testing.assert_allclose(a.array, [0.9, 1.9], rtol=1e-15)
    np.testing.assert_allclose(b.array, [2.9, 4.1], rtol=1e-15)


def test_float32_parameters_stay_float32():
    p = nn.Parameter(np.ones(3, np.float32))
    opt = SGD([p], lr=0.1, momentum=0.9, weight_decay=1e-4)
    for _ in range(2):
        p.grad = np.ones(3, np.float32)
        opt.step()
    assert p.array.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [dict(momentum=0.9), dict(momentum=0.8, dampening=0.3),
                                    dict(momentum=0.9, weight_decay=0.01, maximize=True)])
def test_fused_momentum_step_is_numpys_bit_for_bit(dtype, kwargs, monkeypatch):
    """SGD's momentum update runs as one numba pass where it can; it must give numpy's numbers exactly
    (the same float operations in the same order and dtype), on a parameter big enough for two threads."""
    from minicnn.optim import sgd
    rng = np.random.default_rng(0)
    start = rng.standard_normal((700, 1000)).astype(dtype)
    grads = [rng.standard_normal(start.shape).astype(dtype) for _ in range(4)]
    results = []
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(sgd, "_momentum_step", lambda *args: False)
        p = nn.Parameter(start.copy())
        opt = SGD([p], lr=0.05, **kwargs)
        for g in grads:
            p.grad = g.copy()
            opt.step()
        results.append((p.array.copy(), opt.state[p]["momentum_buffer"].copy()))
    for fused_array, numpy_array in zip(*results):
        np.testing.assert_array_equal(fused_array, numpy_array)
    assert results[0][0].dtype == dtype


def test_step_updates_the_parameter_array_in_place():
    layer = nn.Linear(2, 2)
    weight = layer.weight.array
    opt = SGD(layer.parameters(), lr=0.5)
    out = layer(np.ones((1, 2), np.float32))
    out.backward(np.ones_like(out))
    before, grad = weight.copy(), layer.weight.grad.copy()
    opt.step()
    assert layer.weight.array is weight  # the model keeps seeing its own array
    np.testing.assert_array_equal(weight, before - 0.5 * grad)


def test_zero_grad_of_the_optimizer():
    layer = nn.Linear(2, 2)
    opt = SGD(layer.parameters(), lr=0.1)
    out = layer(np.ones((1, 2), np.float32))
    out.backward(np.ones_like(out))
    opt.zero_grad(set_to_none=False)
    for p in layer.parameters():
        np.testing.assert_array_equal(p.grad, 0)
    opt.zero_grad()
    assert all(p.grad is None for p in layer.parameters())


def _steps(cls, p0, grads, **kwargs):
    """``cls``'s parameters after each step on ``grads`` (float64), checking the gradient is left alone."""
    p = nn.Parameter(np.array(p0, dtype=np.float64))
    opt = cls([p], **kwargs)
    trajectory = []
    for g in grads:
        p.grad = np.array(g, dtype=np.float64)
        opt.step()
        np.testing.assert_array_equal(p.grad, g)
        trajectory.append(p.array.copy())
    return opt, p, trajectory


def test_adagrad_by_hand():
    # lr 0.1, lr_decay 1, eps 0, g = [0.5, -1] twice:
    #   step 1: lr_t = 0.1,                s = [0.25, 1]   p = [1, -2] - 0.1 [0.5/0.5, -1/1] = [0.9, -1.9]
    #   step 2: lr_t = 0.1/(1+1) = 0.05,   s = [0.5, 2]    p = ... - 0.05 [0.5/√0.5, -1/√2]
    #                                                        = [0.9 - 0.05/√2, -1.9 + 0.05/√2]
    opt, p, got = _steps(Adagrad, [1.0, -2.0], [[0.5, -1.0]] * 2, lr=0.1, lr_decay=1.0, eps=0.0)
    r = 0.05 / np.sqrt(2)
    np.testing.assert_allclose(got, [[0.9, -1.9], [0.9 - r, -1.9 + r]], rtol=1e-14)
    np.testing.assert_allclose(opt.state[p]["sum"], [0.5, 2.0], rtol=1e-15)
    assert opt.state[p]["step"] == 2.0


def test_adagrad_state_exists_before_the_first_step():
    # as torch's: step 0 and the sum filled with initial_accumulator_value, for every parameter given
    a, b = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros((2, 2), np.float32))
    opt = Adagrad([a, b], initial_accumulator_value=0.25)
    sd = opt.state_dict()["state"]
    assert sorted(sd) == [0, 1] and sd[0]["step"] == sd[1]["step"] == 0.0
    np.testing.assert_array_equal(sd[1]["sum"], np.full((2, 2), 0.25, np.float32))
    assert sd[1]["sum"].dtype == np.float32


def test_adadelta_by_hand():
    # lr 1, rho 0.5, eps 0.25, g = [1] twice (u: acc_delta, v: square_avg, both from 0):
    #   step 1: v = 0.5               Δ = √(0 + .25)/√(0.5 + .25) = 1/√3      u = 0.5/3 = 1/6
    #           p = 1 - 1/√3
    #   step 2: v = 0.25 + 0.5 = .75  Δ = √(1/6 + .25)/√(.75 + .25) = √(5/12)  u = 1/12 + 5/24 = 7/24
    #           p -= √(5/12)
    opt, p, got = _steps(Adadelta, [1.0], [[1.0]] * 2, lr=1.0, rho=0.5, eps=0.25)
    np.testing.assert_allclose(got, [[1 - 1 / np.sqrt(3)], [1 - 1 / np.sqrt(3) - np.sqrt(5 / 12)]], rtol=1e-14)
    np.testing.assert_allclose(opt.state[p]["square_avg"], [0.75], rtol=1e-15)
    np.testing.assert_allclose(opt.state[p]["acc_delta"], [7 / 24], rtol=1e-14)
    # lr scales the step Δ only: lr 0.5 moves half as far, with the same state
    opt_half, _, half = _steps(Adadelta, [1.0], [[1.0]] * 2, lr=0.5, rho=0.5, eps=0.25)
    np.testing.assert_allclose(half[-1], [1 - 0.5 * (1 / np.sqrt(3) + np.sqrt(5 / 12))], rtol=1e-14)
    np.testing.assert_allclose(opt_half.state_dict()["state"][0]["acc_delta"], [7 / 24], rtol=1e-14)


# ---------------------------------------------------------------------------------------------- lockstep
SHAPES = [(3,), (4, 5), (2, 3, 3, 3)]
CONFIGS = [
    (SGD, dict(lr=0.1)),
    (SGD, dict(lr=0.05, momentum=0.9)),
    (SGD, dict(lr=0.05, momentum=0.9, dampening=0.3)),
    (SGD, dict(lr=0.05, momentum=0.8, nesterov=True)),
    (SGD, dict(lr=0.05, weight_decay=0.1)),
    (SGD, dict(lr=0.05, momentum=0.9, weight_decay=0.01, maximize=True)),
    (SGD, dict(lr=0.05, momentum=0.7, dampening=0.1, weight_decay=0.05, maximize=True)),
    (Adam, dict()),
    (Adam, dict(lr=0.01, betas=(0.8, 0.95))),
    (Adam, dict(lr=0.01, eps=1e-3)),
    (Adam, dict(lr=0.01, weight_decay=0.1)),
    (Adam, dict(lr=0.01, amsgrad=True)),
    (Adam, dict(lr=0.01, maximize=True, amsgrad=True, weight_decay=0.05)),
    (AdamW, dict()),
    (AdamW, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    (AdamW, dict(lr=0.01, betas=(0.5, 0.9), maximize=True)),
    (AdamW, dict(lr=0.01, weight_decay=0.0)),
    (RMSprop, dict()),
    (RMSprop, dict(lr=0.001, alpha=0.9)),
    (RMSprop, dict(lr=0.001, momentum=0.9)),
    (RMSprop, dict(lr=0.001, centered=True)),
    (RMSprop, dict(lr=0.001, centered=True, momentum=0.5, eps=1e-4)),
    (RMSprop, dict(lr=0.001, weight_decay=0.1, maximize=True)),
    (Adadelta, dict()),
    (Adadelta, dict(lr=0.5, rho=0.8)),
    (Adadelta, dict(lr=0.5, rho=0.0)),
    (Adadelta, dict(lr=0.1, rho=1.0)),  # the running means never move: Δ = g, plain SGD
    (Adadelta, dict(eps=1e-3)),
    (Adadelta, dict(weight_decay=0.1)),
    (Adadelta, dict(lr=0.5, rho=0.95, eps=1e-4, weight_decay=0.05, maximize=True)),
    (Adagrad, dict()),
    (Adagrad, dict(lr=0.1, lr_decay=0.05)),
    (Adagrad, dict(lr=0.1, initial_accumulator_value=0.5)),
    (Adagrad, dict(lr=0.1, eps=1e-3)),
    (Adagrad, dict(lr=0.1, weight_decay=0.1, maximize=True)),
    (Adagrad, dict(lr=0.05, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1)),
]
CONFIG_IDS = [f"{cls.__name__}-" + "-".join(f"{k}={v}" for k, v in kw.items()) for cls, kw in CONFIGS]


def _group_args(params, groups):
    """Our or torch's ``params`` argument: a plain list, or ``[(indices, extra kwargs), ...]`` as dicts."""
    if groups is None:
        return list(params)
    return [{"params": [params[i] for i in idx], **extra} for idx, extra in groups]


def lockstep(torch, cls, kwargs, steps=50, shapes=SHAPES, dtype=np.float64, groups=None, seed=0,
             scheduler=None, tol=1e-9):
    """Run ``cls`` and ``torch.optim``'s namesake side by side on the same gradients; assert they agree.

    Every 5th step the second parameter has no gradient (both skip it).  ``scheduler``:
    ``(name, kwargs)`` of an lr scheduler stepped after every optimiser step on both sides.
    Returns our optimiser, its parameters, and torch's.
    """
    from minicnn.testing import relative_error
    rng = np.random.default_rng(seed)
    ours = [nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in shapes]
    theirs = [torch.from_numpy(p.array.copy()).requires_grad_(True) for p in ours]
    opt = cls(_group_args(ours, groups), **kwargs)
    opt_t = getattr(torch.optim, cls.__name__)(_group_args(theirs, groups), foreach=False, **kwargs)
    if scheduler is not None:
        name, skw = scheduler
        sched, sched_t = getattr(lr_scheduler, name)(opt, **skw), getattr(torch.optim.lr_scheduler, name)(opt_t, **skw)
    for k in range(steps):
        for i, (p, t) in enumerate(zip(ours, theirs)):
            g = None if (i == 1 and k % 5 == 4) else rng.standard_normal(p.shape).astype(dtype)
            p.grad, t.grad = g, None if g is None else torch.from_numpy(g.copy())
        grads = [None if p.grad is None else p.grad.copy() for p in ours]
        opt.step()
        opt_t.step()
        for i, (p, t, g) in enumerate(zip(ours, theirs, grads)):
            assert p.array.dtype == dtype and p.array.shape == t.shape
            err = relative_error(p.array, t.detach().numpy())
            assert err <= tol, f"step {k + 1}, parameter {i}: relative error {err:.2e}"
            if dtype == np.float64:
                key = cls.__name__ + (f" + {scheduler[0]}" if scheduler is not None else "")
                WORST[key] = max(WORST[key], err)
            if g is not None:
                np.testing.assert_array_equal(p.grad, g, err_msg="step() wrote to p.grad")
        if scheduler is not None:
            sched.step()
            sched_t.step()
            assert sched.get_last_lr() == pytest.approx(sched_t.get_last_lr(), rel=1e-12, abs=0)
    for i, (p, t) in enumerate(zip(ours, theirs)):  # the state: torch's names, torch's values
        state, state_t = opt.state.get(p, {}), opt_t.state.get(t, {})
        assert sorted(state) == sorted(state_t), f"parameter {i}: state {sorted(state)}, torch {sorted(state_t)}"
        for name, value in state.items():
            ref = state_t[name]
            if name == "step":
                assert isinstance(value, float) and value == float(ref)
            else:
                assert value.dtype == dtype and relative_error(value, ref.numpy()) <= tol, f"{i} {name}"
    return opt, ours, theirs


@pytest.mark.parametrize("cls, kwargs", CONFIGS, ids=CONFIG_IDS)
def test_lockstep_with_torch(torch, cls, kwargs):
    lockstep(torch, cls, kwargs)


@pytest.mark.parametrize("cls, kwargs, extra", [
    (SGD, dict(lr=0.05, momentum=0.9), dict(lr=0.5, momentum=0.5, nesterov=True)),
    (Adam, dict(lr=0.01), dict(lr=0.001, betas=(0.5, 0.6), amsgrad=True)),
    (AdamW, dict(lr=0.01), dict(lr=0.1, weight_decay=0.5)),
    (RMSprop, dict(lr=0.001), dict(lr=0.01, centered=True, momentum=0.9)),
    (Adadelta, dict(lr=1.0), dict(lr=0.5, rho=0.5, weight_decay=0.1)),
    # the group's own initial_accumulator_value is stored and, as in torch, unused: the sums start at 0.3
    (Adagrad, dict(lr=0.1, initial_accumulator_value=0.3), dict(lr=0.01, lr_decay=0.1, initial_accumulator_value=2.0)),
], ids=["SGD", "Adam", "AdamW", "RMSprop", "Adadelta", "Adagrad"])
def test_param_groups_with_their_own_hyperparameters(torch, cls, kwargs, extra):
    opt, ours, _ = lockstep(torch, cls, kwargs, groups=[([0, 2], {}), ([1], extra)])
    assert [g["lr"] for g in opt.param_groups] == [kwargs["lr"], extra["lr"]]
    assert [len(g["params"]) for g in opt.param_groups] == [2, 1]


@given(shapes=st.lists(st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple), min_size=2, max_size=4),
       config=st.sampled_from(CONFIGS), seed=st.integers(0, 2**16))
@settings(max_examples=15)
def test_lockstep_any_shapes(torch, shapes, config, seed):
    lockstep(torch, *config, steps=10, shapes=shapes, seed=seed)


@pytest.mark.parametrize("cls, kwargs", CONFIGS, ids=CONFIG_IDS)
def test_float32_stays_float32_and_follows_torch(torch, cls, kwargs):
    opt, ours, _ = lockstep(torch, cls, kwargs, steps=5, dtype=np.float32, tol=1e-4)
    for p in ours:
        assert p.array.dtype == np.float32
        assert all(v.dtype == np.float32 for v in opt.state[p].values() if isinstance(v, np.ndarray))


def test_step_leaves_a_shared_gradient_alone():
    # two parameters reading one gradient array: neither update may write to it
    a, b = nn.Parameter(np.ones(3)), nn.Parameter(np.ones(3))
    g = np.array([1.0, -2.0, 3.0])
    for cls, kwargs in CONFIGS:
        opt = cls([a, b], **kwargs)
        for _ in range(3):
            a.grad = b.grad = g
            opt.step()
        np.testing.assert_array_equal(g, [1.0, -2.0, 3.0], err_msg=cls.__name__)
        assert a.grad is g


def test_step_calls_the_closure_once_and_returns_its_loss():
    p = nn.Parameter(np.ones(2))
    for cls in OPTIMIZERS.values():
        calls = []
        opt = cls([p], lr=0.1)
        assert opt.step(lambda: calls.append(1) or 2.5) == 2.5 and calls == [1]
        assert opt.step() is None


def test_registries():
    assert OPTIMIZERS == {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
                          "adadelta": Adadelta}
    assert all(issubclass(cls, Optimizer) for cls in OPTIMIZERS.values())
    assert SCHEDULERS == {"none": None, "step": lr_scheduler.StepLR, "multistep": lr_scheduler.MultiStepLR,
                          "cosine": lr_scheduler.CosineAnnealingLR}
    assert optim.lr_scheduler is lr_scheduler


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_the_command_line_and_both_backends_build_every_optimizer(torch, name):
    """``minicnn train --optimizer NAME`` parses and validates, and each backend builds its own namesake."""
    from minicnn import cli
    from minicnn.runs import TrainConfig
    from minicnn.train import minicnn_backend
    from reference import train as reference_train
    assert sorted(reference_train.OPTIMIZERS) == sorted(OPTIMIZERS)
    args = cli.build_parser().parse_args(["train", "--optimizer", name, "--lr", "0.05", "--weight-decay", "0.01"])
    momentum = 0.9 if name == "sgd" else 0.0  # as cmd_train: the default momentum is SGD's only
    cfg = TrainConfig(optimizer=args.optimizer, lr=args.lr, momentum=momentum, weight_decay=args.weight_decay,
                      model="lenet5").validate()
    ours, theirs = minicnn_backend(cfg).optimizer, reference_train.torch_backend(cfg).optimizer
    assert type(ours) is OPTIMIZERS[name] and type(theirs) is getattr(torch.optim, type(ours).__name__)
    for key, value in ours.param_groups[0].items():
        if key != "params":
            assert theirs.param_groups[0][key] == value, key


# ---------------------------------------------------------------------------------------------- schedulers
SCHEDULES = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("StepLR", dict(step_size=1, gamma=0.97)),
    ("MultiStepLR", dict(milestones=[60, 10, 25, 25], gamma=0.3)),
    ("CosineAnnealingLR", dict(T_max=100)),
    ("CosineAnnealingLR", dict(T_max=20, eta_min=1e-4)),  # 100 epochs: past T_max, through two troughs
    ("CosineAnnealingLR", dict(T_max=1)),
    ("ExponentialLR", dict(gamma=0.95)),
    ("ExponentialLR", dict(gamma=1.02)),
]
SCHEDULE_IDS = [f"{name}-{kw}" for name, kw in SCHEDULES]


def _two_group_optimizers(torch):
    ours = [nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(3))]
    theirs = [torch.zeros(2, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)]
    groups = lambda ps: [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.003}]  # noqa: E731
    return SGD(groups(ours), lr=0.1, momentum=0.9), torch.optim.SGD(groups(theirs), lr=0.1, momentum=0.9)


@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=SCHEDULE_IDS)
def test_scheduler_lr_sequence_equals_torch(torch, name, kwargs):
    opt, opt_t = _two_group_optimizers(torch)
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    sched_t = getattr(torch.optim.lr_scheduler, name)(opt_t, **kwargs)
    assert sched.base_lrs == sched_t.base_lrs == [0.1, 0.003]
    ours, theirs = [sched.get_last_lr()], [sched_t.get_last_lr()]
    for _ in range(100):
        opt.step()  # no gradients: nothing moves, but torch sees the order it expects
        opt_t.step()
        sched.step()
        sched_t.step()
        ours.append(sched.get_last_lr())
        theirs.append(sched_t.get_last_lr())
        assert [g["lr"] for g in opt.param_groups] == ours[-1]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert sched.last_epoch == sched_t.last_epoch == 100


@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=SCHEDULE_IDS)
def test_scheduler_chainable_form_follows_the_closed_form(name, kwargs):
    opt = SGD([nn.Parameter(np.zeros(2))], lr=0.1)
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    for _ in range(min(kwargs.get("T_max", 100), 100)):  # the cosine's recursion is exact up to T_max
        sched.step()
        np.testing.assert_allclose(sched.get_last_lr(), sched._get_closed_form_lr(), rtol=1e-12, atol=1e-15)


def test_cosine_by_hand():
    # T_max 4, eta_min 0, base 1: (1 + cos(pi e / 4)) / 2 = 1, 0.853553, 0.5, 0.146447, 0
    opt = SGD([nn.Parameter(np.zeros(1))], lr=1.0)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    lrs = [sched.get_last_lr()[0]] + [(sched.step(), sched.get_last_lr()[0])[1] for _ in range(4)]
    np.testing.assert_allclose(lrs, [1.0, 0.8535533905932737, 0.5, 0.14644660940672624, 0.0], atol=1e-15)


def warm_up_then_decay(epoch):
    """A LambdaLR factor: linear warm-up over 5 epochs, then 0.9 per epoch."""
    return (epoch + 1) / 5 if epoch < 5 else 0.9 ** (epoch - 5)


@pytest.mark.parametrize("cls, kwargs", [(SGD, dict(lr=0.05, momentum=0.9)), (Adam, dict(lr=0.01))])
@pytest.mark.parametrize("name, skw", [SCHEDULES[0], SCHEDULES[2], SCHEDULES[4], SCHEDULES[6],
                                       ("LambdaLR", dict(lr_lambda=warm_up_then_decay)),
                                       ("OneCycleLR", dict(max_lr=0.05, total_steps=50)),
                                       ("OneCycleLR", dict(max_lr=0.05, total_steps=60, three_phase=True,
                                                           anneal_strategy="linear", base_momentum=0.6))],
                         ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={getattr(w, '__name__', w)}"
                                                                             for k, w in v.items()))
def test_scheduler_in_lockstep_with_an_optimizer(torch, cls, kwargs, name, skw):
    # OneCycleLR also moves SGD's momentum and Adam's beta1 each step: the weights follow only if it does so as torch
    lockstep(torch, cls, kwargs, scheduler=(name, skw))


# OneCycleLR and LambdaLR: lrs from the base values (not chainable), OneCycleLR's momentum with them
CYCLES = [
    ("LambdaLR", dict(lr_lambda=warm_up_then_decay), SGD, 100),
    ("LambdaLR", dict(lr_lambda=[warm_up_then_decay, lambda e: 1 / (1 + e) ** 0.5]), SGD, 100),
    ("LambdaLR", dict(lr_lambda=lambda e: e // 30), Adagrad, 100),  # an int factor, 0 at first
    ("OneCycleLR", dict(max_lr=0.5, total_steps=100), SGD, 100),
    ("OneCycleLR", dict(max_lr=[0.5, 0.02], epochs=10, steps_per_epoch=9, pct_start=0.25,
                        base_momentum=[0.8, 0.5], max_momentum=[0.9, 0.99]), SGD, 90),
    ("OneCycleLR", dict(max_lr=0.01, total_steps=100, anneal_strategy="linear"), Adam, 100),
    ("OneCycleLR", dict(max_lr=0.01, total_steps=77, three_phase=True, div_factor=10.0,
                        final_div_factor=100.0), Adam, 77),
    ("OneCycleLR", dict(max_lr=0.01, total_steps=40, three_phase=True, anneal_strategy="linear"), RMSprop, 40),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=30, pct_start=0.0), SGD, 30),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=1), SGD, 1),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=50, cycle_momentum=False), Adadelta, 50),
]
CYCLE_IDS = [f"{name}-{cls.__name__}-{i}" for i, (name, _, cls, _) in enumerate(CYCLES)]


def _momenta(opt):
    """Each group's momentum: SGD's and RMSprop's ``momentum``, Adam's ``betas[0]``, else nan."""
    return [g["betas"][0] if "betas" in g else g.get("momentum", np.nan) for g in opt.param_groups]


def _pair(torch, cls):
    """Our ``cls`` and torch's, on two param groups with their own lrs (SGD and RMSprop with momentum)."""
    kwargs = dict(momentum=0.9) if cls in (SGD, RMSprop) else {}
    ours = [nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(3))]
    theirs = [torch.zeros(2, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)]
    groups = lambda ps: [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.003}]  # noqa: E731
    return cls(groups(ours), lr=0.1, **kwargs), getattr(torch.optim, cls.__name__)(groups(theirs), lr=0.1, **kwargs)


def _sequence(opt, sched, steps):
    """lrs and momenta after each of ``steps`` optimiser + scheduler steps (no gradients: only the schedule moves)."""
    lrs, momenta = [], []
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
        momenta.append(_momenta(opt))
        assert [g["lr"] for g in opt.param_groups] == lrs[-1]
    return lrs, momenta


@pytest.mark.parametrize("name, kwargs, cls, steps", CYCLES, ids=CYCLE_IDS)
def test_lr_and_momentum_sequences_equal_torch(torch, name, kwargs, cls, steps, tmp_path):
    opt, opt_t = _pair(torch, cls)
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    sched_t = getattr(torch.optim.lr_scheduler, name)(opt_t, **kwargs)
    assert sched.get_last_lr() == pytest.approx(sched_t.get_last_lr(), rel=1e-12, abs=0)
    np.testing.assert_allclose(_momenta(opt), _momenta(opt_t), rtol=1e-12, atol=0)
    half = steps // 2
    ours, theirs = _sequence(opt, sched, half), _sequence(opt_t, sched_t, steps)
    # the scheduler's state as torch's: the same attributes, the same values
    sd, sd_t = sched.state_dict(), sched_t.state_dict()
    # (torch's is the state after all the steps: compare the keys, and the values at the end below)
    assert set(sd) == set(sd_t) - {"_get_lr_called_within_step"}
    # a round trip mid-run, through the .npz, into a fresh optimiser and scheduler, continues as torch's
    saved = npz_round_trip({"optimizer": opt.state_dict(), "scheduler": sd}, tmp_path)
    opt, _ = _pair(torch, cls)
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    opt.load_state_dict(saved["optimizer"])
    sched.load_state_dict(saved["scheduler"])
    rest = _sequence(opt, sched, steps - half)
    ours = (ours[0] + rest[0], ours[1] + rest[1])
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=0)
    if name == "OneCycleLR" and kwargs.get("cycle_momentum", True):
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12, atol=0)
        assert steps == 1 or len(set(map(tuple, ours[1]))) > 1  # the momentum did move
    else:
        np.testing.assert_array_equal(ours[1], theirs[1])  # untouched
    sd, sd_t = sched.state_dict(), sched_t.state_dict()
    for key in sd:
        assert sd[key] == pytest.approx(sd_t[key], rel=1e-12, abs=0) if key.endswith("lrs") or key == "_last_lr" \
            else sd[key] == sd_t[key], key


def test_one_cycle_by_hand():
    # total 10, pct_start 0.3: the warm-up ends at step 0.3*10 - 1 = 2, the annealing at step 9.
    # max_lr 1, div_factor 25: 0.04 -> 1 along half a cosine, then 1 -> 0.04/1e4 = 4e-6
    opt = SGD([nn.Parameter(np.zeros(1))], lr=0.5, momentum=0.5)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    lrs, momenta = [sched.get_last_lr()[0]], [opt.param_groups[0]["momentum"]]
    for _ in range(10):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
        momenta.append(opt.param_groups[0]["momentum"])
    cos = lambda a, b, x: b + (a - b) * (1 + np.cos(np.pi * x)) / 2  # noqa: E731
    expected = [0.04, cos(0.04, 1, 0.5), 1.0] + [cos(1, 4e-6, k / 7) for k in range(1, 8)] + [cos(1, 4e-6, 8 / 7)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-14)
    np.testing.assert_allclose(lrs[:3] + lrs[9:10], [0.04, 0.52, 1.0, 4e-6], rtol=1e-14)
    np.testing.assert_allclose(momenta[:3] + momenta[9:10], [0.95, 0.9, 0.85, 0.95], rtol=1e-14)
    group = opt.param_groups[0]
    assert (group["initial_lr"], group["max_lr"], group["min_lr"]) == (0.04, 1.0, 0.04 / 1e4)
    with pytest.raises(ValueError, match=r"^OneCycleLR: expected at most total_steps=10 steps, got step 11$"):
        sched.step()
    assert sched.last_epoch == 10 and sched.get_last_lr() == [lrs[-1]]  # the refused step changed nothing


def test_one_cycle_refuses_a_warm_up_without_length(torch):
    # pct_start * total_steps == 1: the warm-up starts and ends at step 0; torch divides by zero
    opt, opt_t = _pair(torch, SGD)
    with pytest.raises(ZeroDivisionError):
        torch.optim.lr_scheduler.OneCycleLR(opt_t, max_lr=1.0, total_steps=10, pct_start=0.1)
    with pytest.raises(ValueError, match=r"^OneCycleLR: step 0 falls in phase 0 of the cycle, which has no length"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.1)
    assert "initial_lr" not in opt.param_groups[0] and opt.param_groups[0]["momentum"] == 0.9  # untouched


def test_lambda_lr_state_dict_keeps_a_callable_objects_attributes(tmp_path):
    class Warmup:
        def __init__(self, epochs):
            self.epochs = epochs

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.epochs)

    def fresh(epochs):
        opt = SGD([{"params": [nn.Parameter(np.zeros(1))]}, {"params": [nn.Parameter(np.zeros(1))]}], lr=0.1)
        return lr_scheduler.LambdaLR(opt, [Warmup(epochs), lambda e: 0.5])

    sched = fresh(10)
    sched.step()
    sd = npz_round_trip(sched.state_dict(), tmp_path)
    assert sd["lr_lambdas"] == [{"epochs": 10}, None] and sd["last_epoch"] == 1
    other = fresh(3)
    other.load_state_dict(sd)
    assert other.lr_lambdas[0].epochs == 10 and callable(other.lr_lambdas[1])
    other.step()
    assert other.get_last_lr() == [0.1 * (3 / 10), 0.1 * 0.5]  # (1 + 2) / 10 epochs, not / 3
    with pytest.raises(ValueError, match=r"^LambdaLR.load_state_dict: expected lr_lambdas as a list of 2 None or "):
        other.load_state_dict({**sd, "lr_lambdas": [None]})


# ReduceLROnPlateau: a metric that falls, stalls, wobbles, rises and falls again
PLATEAU_METRICS = ([5.0, 4.0, 3.0, 2.9999, 3.0, 3.0, 3.0, 2.0, 2.5, 2.5, 2.5, 2.5, 1.0, 1.0]
                   + [1.0 + 0.01 * (k % 3) for k in range(20)] + [2.0 + 0.1 * k for k in range(10)]
                   + [0.5, 0.2, 0.1] + [0.1] * 25)
PLATEAUS = [
    dict(),
    dict(patience=0),
    dict(patience=2, factor=0.5),
    dict(patience=1, cooldown=3, factor=0.5, min_lr=0.01),
    dict(mode="max", patience=2, factor=0.3),
    dict(threshold_mode="abs", threshold=0.05, patience=1, factor=0.5, min_lr=[1e-3, 1e-4]),
    # eps 5e-3: group 0's cuts (0.1 -> 0.09 ...) go through, group 1's (0.003 -> 0.0027) are too small
    dict(mode="max", threshold_mode="abs", threshold=0.2, patience=0, cooldown=1, factor=0.9, eps=5e-3),
    dict(threshold=0.3, patience=1, factor=0.0),
]


@pytest.mark.parametrize("kwargs", PLATEAUS, ids=[str(k) for k in PLATEAUS])
def test_reduce_on_plateau_follows_torch(torch, kwargs, tmp_path):
    opt, opt_t = _pair(torch, SGD)
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    sched_t = torch.optim.lr_scheduler.ReduceLROnPlateau(opt_t, **kwargs)
    lrs, lrs_t = [], []
    for k, metric in enumerate(PLATEAU_METRICS):
        if k == 20:  # a round trip mid-run, into a fresh scheduler over a fresh optimiser
            saved = npz_round_trip({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path)
            opt, _ = _pair(torch, SGD)
            sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
            opt.load_state_dict(saved["optimizer"])
            sched.load_state_dict(saved["scheduler"])
        sched.step(metric)
        sched_t.step(metric)
        lrs.append(sched.get_last_lr())
        lrs_t.append(sched_t.get_last_lr())
        assert [g["lr"] for g in opt.param_groups] == lrs[-1]
        sd, sd_t = sched.state_dict(), sched_t.state_dict()
        assert set(sd) == set(sd_t) and all(sd[key] == sd_t[key] for key in sd), k
    assert lrs == lrs_t
    assert len({tuple(lr) for lr in lrs}) > 1  # the lr was cut at least once


def test_reduce_on_plateau_by_hand():
    # patience 2: the first value sets the best; three in a row that do not beat it cut the lr, at step 4
    opt = SGD([nn.Parameter(np.zeros(1))], lr=0.1)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=2)
    assert sched.get_last_lr() == [0.1] and sched.last_epoch == 0
    lrs = []
    for metric in [1.0, 1.0, 0.99995, 1.0, 0.5, 0.6, 0.6, 0.6]:  # 0.99995 is not below 1 * (1 - 1e-4)
        sched.step(metric)
        lrs.append(sched.get_last_lr()[0])
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01, 0.001], rtol=1e-15)
    assert sched.best == 0.5 and sched.num_bad_epochs == 0
    import minicnn
    sched.step(minicnn.tensor(0.1))  # a 0-d Tensor, as torch takes a 0-d tensor
    sched.step(np.float32(0.05))
    assert sched.best == pytest.approx(0.05) and type(sched.best) is float
    with pytest.raises(TypeError, match=r"^ReduceLROnPlateau.step: expected metrics as a number, got str$"):
        sched.step("low")


@pytest.mark.parametrize("call, error, match", [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, r"StepLR: expected step_size as an int >= 1, got 0"),
    (lambda o: lr_scheduler.StepLR(o, 2, gamma=-1), ValueError, r"StepLR: expected a finite gamma >= 0, got -1"),
    (lambda o: lr_scheduler.MultiStepLR(o, [1, "2"]), TypeError, r"MultiStepLR: expected milestones as ints, got '2'"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError,
     r"CosineAnnealingLR: expected T_max as an int >= 1, got 0"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, 10, eta_min=float("nan")), ValueError,
     r"CosineAnnealingLR: expected a finite eta_min >= 0, got nan"),
    (lambda o: lr_scheduler.StepLR(o.param_groups, 2), TypeError, r"StepLR: expected an Optimizer, got list"),
    (lambda o: lr_scheduler.StepLR(o, 2, last_epoch=5), ValueError,
     r"StepLR: resuming at last_epoch=5 needs param_groups\[0\]\['initial_lr'\]"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=-0.5), ValueError,
     r"^ExponentialLR: expected a finite gamma >= 0, got -0.5$"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma="0.9"), TypeError, r"^ExponentialLR: expected gamma as a number"),
    (lambda o: lr_scheduler.ExponentialLR(o.param_groups, 0.9), TypeError,
     r"^ExponentialLR: expected an Optimizer, got list$"),
    (lambda o: lr_scheduler.LambdaLR(o, 0.5), TypeError,
     r"^LambdaLR: expected lr_lambda as a function of the epoch \(or a list of them\), got float$"),
    (lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1.0, lambda e: 1.0]), ValueError,
     r"^LambdaLR: expected 1 lr_lambdas \(one per param group\), got 2$"),
    (lambda o: lr_scheduler.LambdaLR(o, lambda e: "1"), TypeError,
     r"^LambdaLR: expected lr_lambda\(0\) as a number, got str$"),
    (lambda o: _step_twice(lr_scheduler.LambdaLR(o, lambda e: 1 - e)), ValueError,  # epoch 1's factor 0 passes
     r"^LambdaLR: expected a finite lr_lambda\(2\) >= 0, got -1$"),
    (lambda o: lr_scheduler.LambdaLR(o, lambda e: float("nan")), ValueError,
     r"^LambdaLR: expected a finite lr_lambda\(0\) >= 0, got nan$"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1), ValueError,
     r"^OneCycleLR: expected total_steps, or epochs and steps_per_epoch, got total_steps=None, epochs=None, "),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, epochs=3), ValueError, r"^OneCycleLR: expected total_steps, or epochs"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=0), ValueError,
     r"^OneCycleLR: expected total_steps as an int >= 1, got 0$"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=10.0), ValueError,
     r"^OneCycleLR: expected total_steps as an int >= 1, got 10.0$"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, epochs=2, steps_per_epoch=-3), ValueError,
     r"^OneCycleLR: expected steps_per_epoch as an int >= 1, got -3$"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, 10, pct_start=1), TypeError,
     r"^OneCycleLR: expected pct_start as a float in \[0, 1\], got int$"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, 10, pct_start=1.5), ValueError,
     r"^OneCycleLR: expected a finite pct_start in \[0, 1\], got 1.5$"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, 10, anneal_strategy="exp"), ValueError,
     r"^OneCycleLR: expected anneal_strategy 'cos' or 'linear', got 'exp'$"),
    (lambda o: lr_scheduler.OneCycleLR(o, [0.1, 0.2], 10), ValueError,
     r"^OneCycleLR: expected max_lr as one value or a list of 1 \(one per param group\), got a list of 2$"),
    (lambda o: lr_scheduler.OneCycleLR(o, -0.1, 10), ValueError,
     r"^OneCycleLR: expected a finite max_lr >= 0, got -0.1$"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, 10, div_factor=0), ValueError,
     r"^OneCycleLR: expected a finite div_factor > 0, got 0$"),
    (lambda o: lr_scheduler.OneCycleLR(o, 0.1, 10, three_phase="yes"), TypeError,
     r"^OneCycleLR: expected three_phase as a bool, got str$"),
    (lambda o: lr_scheduler.OneCycleLR(Adagrad(o.param_groups[0]["params"]), 0.1, 10), ValueError,
     r"^OneCycleLR: cycle_momentum=True needs an optimizer with momentum or betas, got Adagrad"),
    (lambda o: lr_scheduler.OneCycleLR(Adam(o.param_groups[0]["params"]), 0.1, 10, max_momentum=1.0), ValueError,
     r"^OneCycleLR: expected a finite max_momentum in \[0, 1\), got 1.0$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError,
     r"^ReduceLROnPlateau: expected a finite factor in \[0, 1\), got 1.0$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="avg"), ValueError,
     r"^ReduceLROnPlateau: expected mode 'min' or 'max', got 'avg'$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError,
     r"^ReduceLROnPlateau: expected threshold_mode 'rel' or 'abs', got 'pct'$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), ValueError,
     r"^ReduceLROnPlateau: expected patience as an int >= 0, got -1$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, cooldown=1.5), ValueError,
     r"^ReduceLROnPlateau: expected cooldown as an int >= 0, got 1.5$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.0, 0.1]), ValueError,
     r"^ReduceLROnPlateau: expected min_lr as one value or a list of 1 \(one per param group\), got a list of 2$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=-1e-3), ValueError,
     r"^ReduceLROnPlateau: expected a finite min_lr >= 0, got -0.001$"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o.param_groups), TypeError,
     r"^ReduceLROnPlateau: expected an Optimizer, got list$"),
])
def test_bad_scheduler_arguments_raise(call, error, match):
    with pytest.raises(error, match=match):
        call(SGD([nn.Parameter(np.zeros(2))], lr=0.1, momentum=0.9))


def _step_twice(sched):
    sched.step()
    assert sched.get_last_lr() == [0.0]
    sched.step()


@pytest.mark.parametrize("call", [
    lambda o, s: s.LambdaLR(o, [lambda e: 1.0, lambda e: 1.0]),
    lambda o, s: s.OneCycleLR(o, 0.1),
    lambda o, s: s.OneCycleLR(o, 0.1, total_steps=0),
    lambda o, s: s.OneCycleLR(o, 0.1, 10, pct_start=1),
    lambda o, s: s.OneCycleLR(o, 0.1, 10, pct_start=1.5),
    lambda o, s: s.OneCycleLR(o, 0.1, 10, anneal_strategy="exp"),
    lambda o, s: s.OneCycleLR(o, [0.1, 0.2], 10),
    lambda o, s: s.ReduceLROnPlateau(o, factor=1.0),
    lambda o, s: s.ReduceLROnPlateau(o, mode="avg"),
    lambda o, s: s.ReduceLROnPlateau(o, threshold_mode="pct"),
    lambda o, s: s.ReduceLROnPlateau(o, min_lr=[0.0, 0.1]),
])
def test_a_schedule_torch_refuses_is_refused(torch, call):
    with pytest.raises(ValueError):
        call(torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9), torch.optim.lr_scheduler)
    with pytest.raises((ValueError, TypeError)):  # (an int pct_start: our TypeError)
        call(SGD([nn.Parameter(np.zeros(2))], lr=0.1, momentum=0.9), lr_scheduler)
    # (and torch's Adagrad, without momentum or betas, refuses cycle_momentum as ours does)
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.OneCycleLR(torch.optim.Adagrad([torch.zeros(2, requires_grad=True)]), 0.1, 10)


# ---------------------------------------------------------------------------------------------- state_dict
def npz_round_trip(tree, tmp_path):
    """``tree`` through ``pack`` -> ``np.savez`` -> ``np.load(allow_pickle=False)`` -> ``unpack``."""
    text, arrays = pack(tree)
    path = tmp_path / "state.npz"
    np.savez(path, tree=np.array(text), **arrays)
    with np.load(path, allow_pickle=False) as f:
        return unpack(str(f["tree"]), f)


def _train(opt, params, sched, rng, steps):
    for _ in range(steps):
        for p in params:
            p.grad = rng.standard_normal(p.shape)
        opt.step()
        if sched is not None:
            sched.step()


@pytest.mark.parametrize("cls, kwargs", [CONFIGS[6], CONFIGS[3], CONFIGS[12], CONFIGS[14], CONFIGS[21], CONFIGS[29],
                                         CONFIGS[35]],
                         ids=lambda v: v.__name__ if isinstance(v, type) else str(v))
def test_state_dict_npz_round_trip_continues_bit_identically(cls, kwargs, tmp_path):
    def fresh():
        params = [nn.Parameter(np.random.default_rng(1).standard_normal(s)) for s in SHAPES]
        opt = cls([{"params": params[:2]}, {"params": params[2:], "lr": 0.5 * kwargs.get("lr", 1e-2)}], **kwargs)
        return params, opt, lr_scheduler.CosineAnnealingLR(opt, T_max=15, eta_min=1e-5)

    params, opt, sched = fresh()
    _train(opt, params, sched, np.random.default_rng(2), 30)  # uninterrupted
    expected = [p.array.copy() for p in params]

    params, opt, sched = fresh()
    rng = np.random.default_rng(2)
    _train(opt, params, sched, rng, 12)
    saved = npz_round_trip({"optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                            "params": [p.array for p in params]}, tmp_path)
    params, opt, sched = fresh()
    for p, data in zip(params, saved["params"]):
        p.array = data.copy()
    opt.load_state_dict(saved["optimizer"])
    sched.load_state_dict(saved["scheduler"])
    _train(opt, params, sched, rng, 18)
    for p, e in zip(params, expected):
        np.testing.assert_array_equal(p.array, e)


def test_state_dict_has_torchs_layout(torch):
    opt, ours, theirs = lockstep(torch, Adam, dict(lr=0.01, amsgrad=True), steps=3,
                                 groups=[([0], {}), ([1, 2], {"lr": 0.1})])
    sd, sd_t = opt.state_dict(), _torch_optimizer_like(torch, opt, theirs).state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert [g["params"] for g in sd["param_groups"]] == [g["params"] for g in sd_t["param_groups"]] == [[0], [1, 2]]
    for g, g_t in zip(sd["param_groups"], sd_t["param_groups"]):
        assert set(g) <= set(g_t) and all(g[k] == g_t[k] for k in g)
    assert list(sd["state"]) == sorted(sd_t["state"]) == [0, 1, 2]
    assert all(sorted(sd["state"][i]) == sorted(sd_t["state"][i]) for i in range(3))
    # copies: changing the state dict changes nothing in the optimiser
    sd["state"][0]["exp_avg"] += 1
    assert not np.array_equal(sd["state"][0]["exp_avg"], opt.state[ours[0]]["exp_avg"])


def _torch_optimizer_like(torch, opt, theirs):
    """A torch Adam whose param groups mirror ``opt``'s, stepped once so that it has state."""
    groups = [{"params": [theirs[0]]}, {"params": theirs[1:], "lr": 0.1}]
    opt_t = torch.optim.Adam(groups, lr=0.01, amsgrad=True, foreach=False)
    for t in theirs:
        t.grad = torch.ones_like(t)
    opt_t.step()
    return opt_t


def test_a_scheduler_state_dict_survives_the_npz(tmp_path):
    opt = SGD([nn.Parameter(np.zeros(2))], lr=0.1)
    sched = lr_scheduler.MultiStepLR(opt, [3, 5, 5], gamma=0.5)
    for _ in range(4):
        sched.step()
    sd = sched.state_dict()
    assert sd["milestones"] == {3: 1, 5: 2} and sd["last_epoch"] == 4
    back = npz_round_trip(sd, tmp_path)
    assert back == sd
    other = lr_scheduler.MultiStepLR(SGD([nn.Parameter(np.zeros(2))], lr=0.1), [1])
    other.load_state_dict(back)
    other.optimizer.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    sched.step()
    other.step()
    assert other.get_last_lr() == sched.get_last_lr() == [0.1 * 0.5 ** 3]
    with pytest.raises(ValueError, match=r"MultiStepLR.load_state_dict: expected keys .*, got .*'surprise'"):
        other.load_state_dict({**sd, "surprise": 1})


def _stepped(cls=Adam, **kwargs):
    params = [nn.Parameter(np.ones((2, 3))), nn.Parameter(np.ones(4))]
    opt = cls([{"params": params[:1]}, {"params": params[1:]}], lr=0.1, **kwargs)
    for p in params:
        p.grad = np.ones(p.shape)
    opt.step()
    return opt


@pytest.mark.parametrize("edit, error, match", [
    (lambda sd: sd["param_groups"].pop(), ValueError,
     r"Adam.load_state_dict: expected 2 param groups, got 1"),
    (lambda sd: sd["param_groups"][1]["params"].append(7), ValueError,
     r"Adam.load_state_dict: param group 1 expected 1 parameters, got 2"),
    (lambda sd: sd["state"][0].update(exp_avg=np.zeros((3, 2))), ValueError,
     r"Adam.load_state_dict: state\[0\]\['exp_avg'\] expected shape \(2, 3\), got \(3, 2\)"),
    (lambda sd: sd["state"][1].update(exp_avg_sq=[0.0] * 4), TypeError,
     r"Adam.load_state_dict: expected state\[1\]\['exp_avg_sq'\] as an ndarray, got list"),
    (lambda sd: sd["state"][1].update(exp_avg=np.zeros(4, np.int64)), TypeError,
     r"state\[1\]\['exp_avg'\] expected a float array, got dtype int64"),
    (lambda sd: sd["state"][0].update(momentum_buffer=np.zeros((2, 3))), ValueError,
     r"state\[0\]\['momentum_buffer'\] is not state of Adam, expected one of \['step', 'exp_avg', "),
    (lambda sd: sd["state"].update({5: {}}), ValueError,
     r"Adam.load_state_dict: state for parameter index 5, which no param group lists \(indices \[0, 1\]\)"),
    (lambda sd: sd["state"][0].update(step="3"), TypeError, r"expected state\[0\]\['step'\] as a number, got str"),
    (lambda sd: sd["param_groups"][0].update(lr=-0.5), ValueError,
     r"Adam.load_state_dict: param group 0: expected a finite lr >= 0, got -0.5"),
    (lambda sd: sd.pop("state"), TypeError,
     r"Adam.load_state_dict: expected a dict with 'state' and 'param_groups', got \['param_groups'\]"),
], ids=["groups", "params", "shape", "not-array", "int-array", "foreign-state", "index", "step", "lr", "keys"])
def test_bad_state_dicts_are_refused_and_change_nothing(edit, error, match):
    opt = _stepped()
    before = opt.state_dict()
    sd = opt.state_dict()
    edit(sd)
    with pytest.raises(error, match=match):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for i in before["state"]:
        for k, v in before["state"][i].items():
            np.testing.assert_array_equal(after["state"][i][k], v)


def test_load_state_dict_casts_to_the_parameter_dtype_and_copies():
    opt = _stepped(SGD, momentum=0.9)
    sd = opt.state_dict()
    p = nn.Parameter(np.ones((2, 3), np.float32))
    other = SGD([{"params": [p]}, {"params": [nn.Parameter(np.ones(4, np.float32))]}], lr=1.0)
    other.load_state_dict(sd)
    buf = other.state[p]["momentum_buffer"]
    assert buf.dtype == np.float32 and other.param_groups[0]["momentum"] == 0.9
    sd["state"][0]["momentum_buffer"] += 1  # the loaded optimiser kept a copy
    np.testing.assert_array_equal(buf, 1.0)


def test_adamw_stays_decoupled_after_loading_an_adam_state():
    opt = AdamW([nn.Parameter(np.ones(2))])
    opt.load_state_dict(Adam([nn.Parameter(np.ones(2))]).state_dict())
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


# ---------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("cls, kwargs, error, match", [
    (SGD, dict(lr=-1.0), ValueError, r"^SGD: expected a finite lr >= 0, got -1.0$"),
    (SGD, dict(lr=float("nan")), ValueError, r"^SGD: expected a finite lr >= 0, got nan$"),
    (SGD, dict(lr=float("inf")), ValueError, r"^SGD: expected a finite lr >= 0, got inf$"),
    (SGD, dict(lr="0.1"), TypeError, r"^SGD: expected lr as a number, got str$"),
    (SGD, dict(lr=True), TypeError, r"^SGD: expected lr as a number, got bool$"),
    (SGD, dict(lr=0.1, momentum=-0.9), ValueError, r"^SGD: expected a finite momentum >= 0, got -0.9$"),
    (SGD, dict(lr=0.1, momentum=None), TypeError, r"^SGD: expected momentum as a number, got NoneType$"),
    (SGD, dict(lr=0.1, weight_decay=-1e-4), ValueError, r"^SGD: expected a finite weight_decay >= 0, got -0.0001$"),
    (SGD, dict(lr=0.1, dampening=float("nan")), ValueError, r"^SGD: expected a finite dampening"),
    (SGD, dict(lr=0.1, nesterov=True), ValueError,
     r"^SGD: nesterov momentum requires momentum > 0 and dampening == 0, got momentum=0.0, dampening=0.0$"),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     r"^SGD: nesterov momentum requires .* got momentum=0.9, dampening=0.1$"),
    (SGD, dict(lr=0.1, nesterov="no"), TypeError, r"^SGD: expected nesterov as a bool, got str$"),
    (SGD, dict(lr=0.1, maximize=1), TypeError, r"^SGD: expected maximize as a bool, got int$"),
    (Adam, dict(lr=-1), ValueError, r"^Adam: expected a finite lr >= 0, got -1$"),
    (Adam, dict(betas=(0.9, 1.0)), ValueError, r"^Adam: expected a finite betas\[1\] in \[0, 1\), got 1.0$"),
    (Adam, dict(betas=(-0.1, 0.9)), ValueError, r"^Adam: expected a finite betas\[0\] in \[0, 1\), got -0.1$"),
    (Adam, dict(betas=0.9), TypeError, r"^Adam: expected betas as a pair of numbers, got 0.9$"),
    (Adam, dict(eps=-1e-8), ValueError, r"^Adam: expected a finite eps >= 0, got -1e-08$"),
    (Adam, dict(weight_decay=-1), ValueError, r"^Adam: expected a finite weight_decay >= 0, got -1$"),
    (Adam, dict(amsgrad="yes"), TypeError, r"^Adam: expected amsgrad as a bool, got str$"),
    (AdamW, dict(lr=-1), ValueError, r"^AdamW: expected a finite lr >= 0, got -1$"),
    (AdamW, dict(weight_decay=float("inf")), ValueError, r"^AdamW: expected a finite weight_decay >= 0, got inf$"),
    (RMSprop, dict(lr=-1), ValueError, r"^RMSprop: expected a finite lr >= 0, got -1$"),
    (RMSprop, dict(alpha=-0.5), ValueError, r"^RMSprop: expected a finite alpha >= 0, got -0.5$"),
    (RMSprop, dict(momentum=float("nan")), ValueError, r"^RMSprop: expected a finite momentum >= 0, got nan$"),
    (RMSprop, dict(centered=1), TypeError, r"^RMSprop: expected centered as a bool, got int$"),
    (Adadelta, dict(lr=-0.5), ValueError, r"^Adadelta: expected a finite lr >= 0, got -0.5$"),
    (Adadelta, dict(rho=1.5), ValueError, r"^Adadelta: expected a finite rho in \[0, 1\], got 1.5$"),
    (Adadelta, dict(rho=-0.1), ValueError, r"^Adadelta: expected a finite rho in \[0, 1\], got -0.1$"),
    (Adadelta, dict(rho="0.9"), TypeError, r"^Adadelta: expected rho as a number, got str$"),
    (Adadelta, dict(eps=-1e-6), ValueError, r"^Adadelta: expected a finite eps >= 0, got -1e-06$"),
    (Adadelta, dict(weight_decay=float("nan")), ValueError,
     r"^Adadelta: expected a finite weight_decay >= 0, got nan$"),
    (Adadelta, dict(maximize="yes"), TypeError, r"^Adadelta: expected maximize as a bool, got str$"),
    (Adagrad, dict(lr=-1), ValueError, r"^Adagrad: expected a finite lr >= 0, got -1$"),
    (Adagrad, dict(lr_decay=-0.1), ValueError, r"^Adagrad: expected a finite lr_decay >= 0, got -0.1$"),
    (Adagrad, dict(initial_accumulator_value=-1.0), ValueError,
     r"^Adagrad: expected a finite initial_accumulator_value >= 0, got -1.0$"),
    (Adagrad, dict(initial_accumulator_value=None), TypeError,
     r"^Adagrad: expected initial_accumulator_value as a number, got NoneType$"),
    (Adagrad, dict(eps=-1e-10), ValueError, r"^Adagrad: expected a finite eps >= 0, got -1e-10$"),
    (Adagrad, dict(weight_decay=-0.01), ValueError, r"^Adagrad: expected a finite weight_decay >= 0, got -0.01$"),
    (Adagrad, dict(maximize=0), TypeError, r"^Adagrad: expected maximize as a bool, got int$"),
])
def test_bad_hyperparameters_raise(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls([nn.Parameter(np.zeros(2))], **kwargs)


# what torch's constructors refuse (each raises ValueError there): ours refuse it too, with a ValueError
TORCH_REFUSES = [(Adadelta, dict(lr=-1e-3)), (Adadelta, dict(rho=1.01)), (Adadelta, dict(rho=-0.01)),
                 (Adadelta, dict(eps=-1e-9)), (Adadelta, dict(weight_decay=-1e-4)),
                 (Adagrad, dict(lr=-1e-3)), (Adagrad, dict(lr_decay=-1e-3)), (Adagrad, dict(weight_decay=-1e-4)),
                 (Adagrad, dict(initial_accumulator_value=-0.1)), (Adagrad, dict(eps=-1e-12))]


@pytest.mark.parametrize("cls, kwargs", TORCH_REFUSES, ids=[f"{c.__name__}-{k}" for c, k in TORCH_REFUSES])
def test_what_torch_refuses_is_refused(torch, cls, kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError):
        getattr(torch.optim, cls.__name__)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: expected a finite {name} "):
        cls([nn.Parameter(np.zeros(2))], **kwargs)
    # and the edge values torch accepts, ours accept: rho 0 and 1, every other argument 0
    edge = {k: (1.0 if k == "rho" else 0.0) for k in kwargs}
    getattr(torch.optim, cls.__name__)([torch.zeros(2, requires_grad=True)], **edge)
    cls([nn.Parameter(np.zeros(2))], **edge)


@pytest.mark.parametrize("cls", list(OPTIMIZERS.values()))
def test_bad_parameter_lists_raise(cls):
    name, a, b = cls.__name__, nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(3))
    cases = [
        (lambda: cls([], lr=0.1), ValueError, rf"^{name}: expected a non-empty list of parameters, got an empty one$"),
        (lambda: cls([a, np.zeros(2)], lr=0.1), TypeError,
         rf"^{name}: expected Parameter objects, got ndarray at position 1$"),
        (lambda: cls(a, lr=0.1), TypeError, rf"^{name}: expected an iterable of Parameters or of dicts, got Parameter"),
        (lambda: cls([a, b, a], lr=0.1), ValueError,
         rf"^{name}: the parameter at position 2 appears twice in the group \(also at position 0\)$"),
        (lambda: cls([{"params": [a]}, {"params": [b, a]}], lr=0.1), ValueError,
         rf"^{name} param group 1: the parameter at position 1 is already in param group 0$"),
        (lambda: cls([{"params": [a]}, {"params": [b], "lr": -1}], lr=0.1), ValueError,
         rf"^{name} param group 1: expected a finite lr >= 0, got -1$"),
        (lambda: cls([{"params": [a]}, {"lr": 0.1}], lr=0.1), ValueError,
         rf"^{name} param group 1: expected a 'params' entry in the param group, got keys \['lr'\]$"),
        (lambda: cls([{"params": {a, b}}], lr=0.1), TypeError,
         rf"^{name} param group 0: expected the params in an ordered collection, got a set"),
        (lambda: cls([{"params": [a]}, [b]], lr=0.1), TypeError,
         rf"^{name} param group 1: expected a param group as a dict, got list$"),
    ]
    for call, error, match in cases:
        with pytest.raises(error, match=match):
            call()


def test_add_param_group_takes_the_defaults():
    a, b = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(3))
    opt = SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["params"] == [b]
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match=r"^SGD: the parameter at position 0 is already in param group 0$"):
        opt.add_param_group({"params": [a]})


def test_a_gradient_of_another_shape_or_dtype_is_refused():
    p = nn.Parameter(np.zeros(3))
    opt = Adam([p])
    p.grad = np.zeros(4)
    with pytest.raises(ValueError, match=r"^Adam: expected a gradient of shape \(3,\), got \(4,\)$"):
        opt.step()
    p.grad = np.zeros(3, np.float32)
    with pytest.raises(TypeError, match=r"^Adam: expected a float64 gradient for a float64 parameter, got float32$"):
        opt.step()


@pytest.mark.parametrize("cls, kwargs", CONFIGS, ids=CONFIG_IDS)
def test_numpy_scalar_hyperparameters_do_not_upcast_float32(cls, kwargs):
    # np.float64(0.1) * float32 array is float64 under NEP 50; a Python float is not.  The groups hold
    # Python floats whatever came in, so the float32 run is bit-identical to one given Python floats.
    def run(convert):
        p = nn.Parameter(np.linspace(-1, 1, 6, dtype=np.float32))
        opt = cls([p], **{k: convert(v) for k, v in kwargs.items()})
        for k in range(3):
            p.grad = np.linspace(0.5, -0.3 * k, 6, dtype=np.float32)
            opt.step()
        return opt, p.array

    def to_numpy(v):
        if isinstance(v, bool):
            return v
        return tuple(map(np.float64, v)) if isinstance(v, tuple) else np.float64(v)

    opt, data = run(to_numpy)
    group = opt.param_groups[0]
    values = [v for k in kwargs if not isinstance(group[k], bool)
              for v in (group[k] if isinstance(group[k], tuple) else [group[k]])]
    assert all(type(v) is float for v in values), values
    np.testing.assert_array_equal(data, run(lambda v: v)[1])
