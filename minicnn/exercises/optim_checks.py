"""The checks of the optimiser exercises: one step of SGD with momentum (``sgd_step``) and of Adam
(``adam_step``), each a pure function of arrays.

Stages: the contract (new arrays of the parameter's shape and dtype, nothing modified); a few steps worked
by hand; then runs of several steps against ``torch.optim.SGD`` / ``torch.optim.Adam`` on hypothesis-drawn
hyperparameters, with the learning rate changed between steps (which tells torch's momentum from the
``v = mu*v - lr*g`` form).  A trajectory that is one of the known wrong rules' is named after it.
"""
import numpy as np

from .grading import (RTOL, Failure, Mistake, Probe, check_array, drawn, first_wrong, index_text, value_text,
                      values_text)


# --------------------------------------------------------------------------- the rules, right and wrong
def sgd_rule(p, grads, lrs, momentum, dampening, weight_decay, nesterov, variant=None):
    """The parameter after each step, by torch's rule (``variant`` None) or a known wrong one."""
    p, buf, path = np.array(p, dtype=np.float64), None, []
    for g, lr in zip(grads, lrs):
        g = np.asarray(g, dtype=np.float64)
        if weight_decay and variant != "decay_outside":
            g = g - weight_decay * p if variant == "decay_sign" else g + weight_decay * p
        step = g
        if momentum:
            if variant == "v_form":
                buf = -lr * g if buf is None else momentum * buf - (1 - dampening) * lr * g
                p = p + buf
                path.append(p.copy())
                continue
            if buf is None and variant == "no_first_step":
                buf = np.zeros_like(g)
            elif buf is None:
                buf = (1 - dampening) * g if variant == "zero_start" else g.copy()
            else:
                keep = 1.0 if variant == "no_dampening" else 1 - dampening
                buf = (buf if variant == "not_decayed" else momentum * buf) + keep * g
            step = g + momentum * buf if nesterov and variant != "nesterov_ignored" else buf
        if variant == "decay_outside" and weight_decay:
            step = step + weight_decay * p
        p = p - lr * step
        path.append(p.copy())
    return np.array(path)


def adam_rule(p, grads, lrs, betas, eps, weight_decay, variant=None):
    p = np.array(p, dtype=np.float64)
    m, v, path = np.zeros_like(p), np.zeros_like(p), []
    b1, b2 = betas[::-1] if variant == "betas_swapped" else betas
    for t, (g, lr) in enumerate(zip(grads, lrs), start=2 if variant == "step_ahead" else 1):
        g = np.asarray(g, dtype=np.float64)
        if weight_decay and variant != "no_decay":
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        c1 = 1.0 if variant in ("no_bias", "no_first") else 1 - b1 ** t
        c2 = 1.0 if variant in ("no_bias", "no_second") else 1 - b2 ** t
        if variant == "eps_inside":
            denom = np.sqrt(v / c2 + eps)
        elif variant == "eps_before_correction":
            denom = (np.sqrt(v) + eps) / np.sqrt(c2)
        else:
            denom = np.sqrt(v) / np.sqrt(c2) + eps
        p = p - lr / c1 * m / denom
        path.append(p.copy())
    return np.array(path)


def _sgd_mistakes():
    def variant(name):
        return lambda probe: sgd_rule(**probe.params, variant=name)
    return [
        # before the v form: with a constant lr that form is torch's rule without nesterov
        Mistake("param", "nesterov ignored: with nesterov=True the step is g + mu * b", variant("nesterov_ignored")),
        Mistake("param", "the v = mu*v - lr*g form: torch's buffer holds gradients only (b = mu*b + (1 - "
                         "dampening)*g; p -= lr*b), so the two part as soon as lr changes", variant("v_form")),
        Mistake("param", "the buffer started at zeros: torch's first buffer is g itself, undampened (b = g on "
                         "the first step, b = mu*b + (1 - dampening)*g after)", variant("zero_start")),
        Mistake("param", "no first step: the buffer was 0 on the first step; torch's first buffer is g itself",
                variant("no_first_step")),
        Mistake("param", "dampening ignored: the new gradient enters the buffer as (1 - dampening) * g",
                variant("no_dampening")),
        Mistake("param", "the buffer not decayed: b = mu * b + (1 - dampening) * g", variant("not_decayed")),
        Mistake("param", "weight decay's sign: g + weight_decay * p pulls the parameter towards 0",
                variant("decay_sign")),
        Mistake("param", "weight decay added to the step: it goes into g first, so the buffer sees it",
                variant("decay_outside")),
        Mistake("param", "the parameter did not move: p = p - lr * step", lambda probe: np.broadcast_to(
            probe.params["p"], (len(probe.params["grads"]),) + np.shape(probe.params["p"]))),
    ]


def _adam_mistakes():
    def variant(name):
        return lambda probe: adam_rule(**probe.params, variant=name)
    return [
        Mistake("param", "Adam without its bias corrections: divide m by 1 - beta1**t and v by 1 - beta2**t",
                variant("no_bias")),
        Mistake("param", "only the second moment bias-corrected: the step size is lr / (1 - beta1**t)",
                variant("no_first")),
        Mistake("param", "only the first moment bias-corrected: sqrt(v) is divided by sqrt(1 - beta2**t)",
                variant("no_second")),
        Mistake("param", "eps under the square root: torch adds it to sqrt(v) / sqrt(1 - beta2**t)",
                variant("eps_inside")),
        Mistake("param", "eps added before the bias correction: torch adds it to the corrected sqrt(v)",
                variant("eps_before_correction")),
        Mistake("param", "beta1 and beta2 swapped: beta1 (0.9) averages the gradient, beta2 (0.999) its square",
                variant("betas_swapped")),
        Mistake("param", "the bias corrections one step ahead: t is 1 on the first step", variant("step_ahead")),
        Mistake("param", "weight decay left out: Adam adds weight_decay * p to the gradient", variant("no_decay")),
    ]


# --------------------------------------------------------------------------- the exercises' settings
class SGDExercise:
    function = "sgd_step"
    rule = staticmethod(sgd_rule)
    mistakes = staticmethod(_sgd_mistakes)
    states = ("momentum_buffer",)

    @staticmethod
    def settings(momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, lr=0.1):
        nesterov = bool(nesterov and momentum > 0 and dampening == 0)
        return dict(momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov), lr

    @staticmethod
    def strategies():
        from hypothesis import strategies as st
        return dict(dims=st.lists(st.integers(1, 4), min_size=1, max_size=3), steps=st.integers(1, 6),
                    lr=st.sampled_from([0.1, 0.01]), decay=st.sampled_from([1.0, 0.5]),
                    momentum=st.sampled_from([0.0, 0.5, 0.9]), dampening=st.sampled_from([0.0, 0.3]),
                    weight_decay=st.sampled_from([0.0, 0.1]), nesterov=st.booleans(), seed=st.integers(0, 2 ** 16))

    hard = [dict(dims=[3], steps=4, lr=0.1, decay=0.5, momentum=0.9, dampening=0.0, weight_decay=0.0,
                 nesterov=False, seed=1),
            dict(dims=[2, 3], steps=3, lr=0.1, decay=1.0, momentum=0.9, dampening=0.3, weight_decay=0.1,
                 nesterov=False, seed=2),
            dict(dims=[4], steps=3, lr=0.01, decay=1.0, momentum=0.5, dampening=0.0, weight_decay=0.0,
                 nesterov=True, seed=3)]

    @staticmethod
    def call(fn, p, g, state, lr, settings):
        buf = state.get("momentum_buffer")
        result = fn(p, g, buf, lr, **settings)
        if not isinstance(result, tuple) or len(result) != 2:
            got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
            raise Failure(f"sgd_step must return a tuple (param, momentum_buffer), got {got}")
        new, buf = result
        if settings["momentum"] == 0:
            if buf is not None:
                raise Failure(f"sgd_step: with momentum 0 there is no buffer: return None for it, got "
                              f"{type(buf).__name__}")
            return new, {}
        return new, {"momentum_buffer": buf}

    @staticmethod
    def torch_optimizer(param, lr, settings):
        import torch
        return torch.optim.SGD([param], lr=lr, **settings)

    @staticmethod
    def by_hand():
        """p = 1, a constant gradient 1, lr 0.1, momentum 0.9: buffers 1, 1.9, 2.71, so p = 0.9, 0.71, 0.439."""
        return dict(momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False), 0.1, [0.9, 0.71, 0.439]


class AdamExercise:
    function = "adam_step"
    rule = staticmethod(adam_rule)
    mistakes = staticmethod(_adam_mistakes)
    states = ("exp_avg", "exp_avg_sq")

    @staticmethod
    def settings(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, lr=0.01):
        return dict(betas=tuple(betas), eps=eps, weight_decay=weight_decay), lr

    @staticmethod
    def strategies():
        from hypothesis import strategies as st
        return dict(dims=st.lists(st.integers(1, 4), min_size=1, max_size=3), steps=st.integers(1, 6),
                    lr=st.sampled_from([0.01, 0.001]), decay=st.sampled_from([1.0, 0.5]),
                    betas=st.sampled_from([(0.9, 0.999), (0.8, 0.9)]), eps=st.sampled_from([1e-8, 1e-3]),
                    weight_decay=st.sampled_from([0.0, 0.1]), seed=st.integers(0, 2 ** 16))

    hard = [dict(dims=[3], steps=4, lr=0.01, decay=1.0, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, seed=1),
            dict(dims=[2, 2], steps=3, lr=0.01, decay=0.5, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.1, seed=2)]

    @staticmethod
    def call(fn, p, g, state, lr, settings):
        if not state:
            state = {"exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p), "step": 0}
        step = state["step"] + 1
        result = fn(p, g, state["exp_avg"], state["exp_avg_sq"], step, lr, **settings)
        if not isinstance(result, tuple) or len(result) != 3:
            got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
            raise Failure(f"adam_step must return a tuple (param, exp_avg, exp_avg_sq), got {got}")
        new, m, v = result
        return new, {"exp_avg": m, "exp_avg_sq": v, "step": step}

    @staticmethod
    def torch_optimizer(param, lr, settings):
        import torch
        return torch.optim.Adam([param], lr=lr, **settings)

    @staticmethod
    def by_hand():
        """p = 1, a constant gradient 1, lr 0.1, eps 0: every bias-corrected step is exactly lr."""
        return dict(betas=(0.9, 0.999), eps=0.0, weight_decay=0.0), 0.1, [0.9, 0.8, 0.7]


EXERCISES = {"sgd": SGDExercise, "adam": AdamExercise}


# --------------------------------------------------------------------------- the stages
def _run(ex, fn, p, grads, lrs, settings, check_each=None):
    """The learner's parameter after each step (and, with ``check_each``, the contract at every step)."""
    state, path = {}, []
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        before = [np.array(a, copy=True) for a in (p, g, *(state.get(k) for k in ex.states if k in state))]
        inputs = [p, g, *(state[k] for k in ex.states if k in state)]
        new, state = ex.call(fn, p, g, state, lr, settings)
        if check_each is not None:
            check_each(t, new, state, inputs, before)
        p = new
        path.append(np.array(p, copy=True))
    return np.array(path)


def contract(ex, fn):
    def check_each(t, new, state, inputs, before):
        check_array(f"{ex.function} (step {t}) param", new, inputs[0].shape, inputs[0].dtype)
        for name in ex.states:
            if name in state:
                check_array(f"{ex.function} (step {t}) {name}", state[name], inputs[0].shape, inputs[0].dtype)
        for k, (a, b) in enumerate(zip(inputs, before)):
            if not np.array_equal(a, b):
                raise Failure(f"{ex.function} (step {t}) modified its argument {k + 1} in place: return new arrays "
                              f"and modify nothing you are given")
        for result in [new, *(state[n] for n in ex.states if n in state)]:
            if any(isinstance(result, np.ndarray) and np.shares_memory(result, a) for a in inputs):
                raise Failure(f"{ex.function} (step {t}) returned (a view of) an array it was given: return new "
                              f"arrays (the caller keeps the old ones)")
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        settings, lr = ex.settings()
        p = rng.standard_normal((3, 4)).astype(dtype)
        grads = [rng.standard_normal((3, 4)).astype(dtype) for _ in range(3)]
        _run(ex, fn, p, grads, [lr] * 3, settings, check_each)
        if ex is SGDExercise:
            _run(ex, fn, p, grads[:2], [lr] * 2, dict(settings, momentum=0.0), check_each)
    return "contract: new arrays of the parameter's shape and dtype (float32, float64), inputs untouched"


def by_hand(ex, fn):
    settings, lr, expected = ex.by_hand()
    grads, lrs = [np.ones(1)] * len(expected), [lr] * len(expected)
    path = _run(ex, fn, np.ones(1), grads, lrs, settings)
    probe = Probe("by hand", {}, dict(p=np.ones(1), grads=grads, lrs=lrs, **settings),
                  ref={"param": np.array(expected)[:, None]}, got={"param": path})
    for t, (got, want) in enumerate(zip(path[:, 0], expected), start=1):
        if not abs(got - want) <= 1e-12:
            raise Failure(f"{ex.function}: p = 1, gradient 1 at every step, lr {lr:g}, "
                          + ", ".join(f"{k}={v}" for k, v in settings.items())
                          + f": after step {t} expected p = {want:g}, got {value_text(got)}", probe, "param")
    return f"by hand: {len(expected)} steps from p = 1 with a constant gradient"


def _torch_path(ex, p, grads, lrs, settings):
    import torch
    param = torch.nn.Parameter(torch.from_numpy(np.array(p, copy=True)))
    optimizer = ex.torch_optimizer(param, lrs[0], settings)
    path = []
    for g, lr in zip(grads, lrs):
        for group in optimizer.param_groups:
            group["lr"] = lr
        param.grad = torch.from_numpy(np.array(g, copy=True))
        optimizer.step()
        path.append(param.detach().numpy().copy())
    return np.array(path)


def agreement(ex, fn, examples=50):
    def check_one(dims, steps, lr, decay, seed, **hyper):
        settings, lr = ex.settings(lr=lr, **hyper)
        rng = np.random.default_rng(seed)
        p = rng.standard_normal(dims)
        grads = [rng.standard_normal(dims) for _ in range(steps)]
        lrs = [lr * decay ** t for t in range(steps)]
        got = _run(ex, fn, p, grads, lrs, settings)
        ref = _torch_path(ex, p, grads, lrs, settings)
        params = dict(p=p, grads=grads, lrs=lrs, **settings)
        probe = Probe(f"{steps} steps", {}, params, ref={"param": ref}, got={"param": got})
        for t in range(steps):
            index = first_wrong(got[t], ref[t], RTOL)
            if index is not None:
                shown = ", ".join(f"{k}={v}" for k, v in settings.items())
                expected, obtained = values_text(ref[t][index], got[t][index])
                raise Failure(f"{ex.function} after step {t + 1}: param{index_text(index)}: expected {expected} "
                              f"(torch.optim), got {obtained}\n"
                              f"    on a parameter of shape {tuple(dims)}, lr {', '.join(f'{v:g}' for v in lrs)} "
                              f"(one per step), {shown}", probe, "param")
    ran = drawn(ex.strategies(), check_one, examples, ex.hard)
    return f"torch.optim: every step within {RTOL:g} on {len(ex.hard)} hard runs and {ran - len(ex.hard)} drawn ones"
