"""minicnn.optim against torch.optim, and SGD against trajectories worked out by hand.

* By hand: SGD's momentum rule on two-entry parameters, step by step.
* Lockstep: every optimiser and each of its options, 50 float64 steps on the
  same seeded random gradients as ``torch.optim`` (``foreach=False``): every
  weight after every step, and every state array, within 1e-9 relative.
* Schedulers: the lr sequence of 100 epochs equal to torch's to 1e-12, and in
  lockstep with an optimiser.
* state_dict: torch's layout; a round trip through ``.npz`` (no pickle) into a
  fresh optimiser continues bit-identically; bad state dicts are refused.
* Validation: messages name the optimiser, the argument and the value.
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
from minicnn.optim import OPTIMIZERS, SCHEDULERS, SGD, Adam, AdamW, Optimizer, RMSprop, lr_scheduler
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
], ids=["SGD", "Adam", "AdamW", "RMSprop"])
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
    assert OPTIMIZERS == {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}
    assert all(issubclass(cls, Optimizer) for cls in OPTIMIZERS.values())
    assert SCHEDULERS == {"none": None, "step": lr_scheduler.StepLR, "multistep": lr_scheduler.MultiStepLR,
                          "cosine": lr_scheduler.CosineAnnealingLR}
    assert optim.lr_scheduler is lr_scheduler


# ---------------------------------------------------------------------------------------------- schedulers
SCHEDULES = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("StepLR", dict(step_size=1, gamma=0.97)),
    ("MultiStepLR", dict(milestones=[60, 10, 25, 25], gamma=0.3)),
    ("CosineAnnealingLR", dict(T_max=100)),
    ("CosineAnnealingLR", dict(T_max=20, eta_min=1e-4)),  # 100 epochs: past T_max, through two troughs
    ("CosineAnnealingLR", dict(T_max=1)),
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


@pytest.mark.parametrize("cls, kwargs", [(SGD, dict(lr=0.05, momentum=0.9)), (Adam, dict(lr=0.01))])
@pytest.mark.parametrize("name, skw", [SCHEDULES[0], SCHEDULES[2], SCHEDULES[4]], ids=lambda v: str(v))
def test_scheduler_in_lockstep_with_an_optimizer(torch, cls, kwargs, name, skw):
    lockstep(torch, cls, kwargs, scheduler=(name, skw))


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
])
def test_bad_scheduler_arguments_raise(call, error, match):
    with pytest.raises(error, match=match):
        call(SGD([nn.Parameter(np.zeros(2))], lr=0.1))


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


@pytest.mark.parametrize("cls, kwargs", [CONFIGS[6], CONFIGS[3], CONFIGS[12], CONFIGS[14], CONFIGS[21]],
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
])
def test_bad_hyperparameters_raise(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls([nn.Parameter(np.zeros(2))], **kwargs)


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
