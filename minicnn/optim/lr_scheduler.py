"""Learning-rate schedules, torch's ``torch/optim/lr_scheduler.py`` for seven of its classes.

A scheduler rewrites ``group["lr"]`` of its optimiser's param groups.  Call
``scheduler.step()`` once per epoch, *after* ``optimizer.step()``::

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(...)          # optimizer.step() inside
        scheduler.step()

(``OneCycleLR`` is stepped after every batch instead, and ``ReduceLROnPlateau``
takes the metric it watches: ``scheduler.step(val_loss)``.)

``last_epoch`` counts the ``step()`` calls (construction is step 0, with the
group's starting lr, which is kept as ``group["initial_lr"]`` and in
``base_lrs``).  With η_0 = base lr and e = ``last_epoch``, the closed forms are:

``StepLR``
    η_e = η_0 · γ^⌊e / step_size⌋
``MultiStepLR``
    η_e = η_0 · γ^(number of milestones <= e)
``ExponentialLR``
    η_e = η_0 · γ^e
``CosineAnnealingLR``
    η_e = η_min + (η_0 − η_min)·(1 + cos(π·e / T_max)) / 2
``LambdaLR``
    η_e = η_0 · λ(e), with λ the user's function (one per group, or one for all)
``OneCycleLR``
    η rises from max_lr / div_factor to max_lr over the first ``pct_start`` of
    ``total_steps``, then falls to max_lr / (div_factor · final_div_factor),
    each phase along half a cosine (or a line); momentum (SGD's ``momentum``,
    Adam's ``betas[0]``) moves the other way, between max_momentum and base_momentum
``ReduceLROnPlateau``
    η ← max(η · factor, min_lr) once the metric has not improved for more than
    ``patience`` steps (then ``cooldown`` steps without counting)

Like torch, ``step()`` applies StepLR, MultiStepLR, ExponentialLR and
CosineAnnealingLR *chainably*: each new lr is computed from the current
``group["lr"]`` (StepLR multiplies by γ at each multiple of step_size; the
cosine uses torch's recursion
``η_e = η_min + (η_{e−1} − η_min)·(1 + cos(π e/T)) / (1 + cos(π (e−1)/T))``),
so a change another scheduler or the user makes to ``lr`` carries forward, and
the values equal torch's bit for bit.  Beyond e = T_max the cosine climbs back
up, as torch's does.  LambdaLR and OneCycleLR compute each lr from the base
values, ReduceLROnPlateau from the current one.

Not ported: torch's ``step(epoch)`` (deprecated there) and its warning when
``scheduler.step()`` comes before ``optimizer.step()``.
"""
import copy
import functools
import math
import types
from bisect import bisect_right
from collections import Counter

from .optimizer import Optimizer, check_bool, check_number


def check_optimizer(owner, optimizer):
    """``optimizer`` if it is a minicnn :class:`Optimizer` (a torch one, or its param groups, are not)."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: expected an Optimizer, got {type(optimizer).__name__}")
    return optimizer


def check_int(owner, name, value, minimum):
    """``value`` if it is an int (not a bool) ``>= minimum``; ValueError otherwise, as torch's checks raise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{owner}: expected {name} as an int >= {minimum}, got {value!r}")
    return value


def per_group(owner, name, value, optimizer, check):
    """``value`` for each param group: a list of one per group, or one value for all; each ``check(owner,
    name, v)``-ed."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{owner}: expected {name} as one value or a list of {n} (one per param group), "
                             f"got a list of {len(value)}")
        return [check(owner, f"{name}[{i}]", v) for i, v in enumerate(value)]
    return [check(owner, name, value)] * n


class LRScheduler:
    """Base class: ``torch.optim.lr_scheduler.LRScheduler(optimizer, last_epoch=-1)``.

    Subclasses implement ``get_lr()``, the chainable rule: the list of new lrs
    (one per param group) for ``self.last_epoch``, from the groups' current lrs.

    Attributes
    ----------
    optimizer : Optimizer
    base_lrs : list of float, each group's ``initial_lr``
    last_epoch : int, the number of ``step()`` calls since construction
    """

    def __init__(self, optimizer, last_epoch=-1):
        name = type(self).__name__
        self.optimizer = check_optimizer(name, optimizer)
        last_epoch = check_int(name, "last_epoch", last_epoch, -1)
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise ValueError(f"{name}: resuming at last_epoch={last_epoch} needs param_groups[{i}]"
                                 f"['initial_lr'] (load the optimizer's state_dict first), got none")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True  # the constructor's step keeps the lrs as they are
        self.step()
        self._is_initial = False

    def get_lr(self):
        """New lrs, one per param group, for ``self.last_epoch`` (subclasses)."""
        raise NotImplementedError(f"{type(self).__name__} has no get_lr")

    def step(self):
        """Advance one epoch: ``last_epoch += 1`` and write the new lrs into the param groups."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The lrs the last ``step()`` (or the constructor) set, one per param group."""
        return list(self._last_lr)

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    _not_state = ("optimizer",)  # the attributes state_dict() leaves out

    def state_dict(self):
        """Every attribute but the optimizer (torch's layout): numbers, lists and dicts only."""
        return {key: (dict(value) if isinstance(value, Counter) else copy.deepcopy(value))
                for key, value in self.__dict__.items() if key not in self._not_state}

    def load_state_dict(self, state_dict):
        """Restore what :meth:`state_dict` returned (keys this class does not have are refused)."""
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{name}: expected a dict, got {type(state_dict).__name__}")
        expected = set(self.__dict__) - {"optimizer"}
        if set(state_dict) != expected:
            raise ValueError(f"{name}: expected keys {sorted(expected)}, got {sorted(map(str, state_dict))}")
        for key, value in state_dict.items():
            setattr(self, key, Counter(value) if isinstance(getattr(self, key), Counter) else
                    list(value) if isinstance(value, (list, tuple)) else value)

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr})"


class StepLR(LRScheduler):
    """Multiply each group's lr by ``gamma`` every ``step_size`` epochs.

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int >= 1
    gamma : float >= 0
    last_epoch : int, -1 to start afresh
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = check_int("StepLR", "step_size", step_size, 1)
        self.gamma = check_number("StepLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply each group's lr by ``gamma`` at each epoch listed in ``milestones``.

    Parameters
    ----------
    optimizer : Optimizer
    milestones : iterable of int (a milestone listed twice multiplies by γ² there, as in torch)
    gamma : float >= 0
    last_epoch : int, -1 to start afresh
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
            raise TypeError(f"MultiStepLR: expected milestones as an iterable of ints, got {milestones!r}")
        milestones = list(milestones)
        for m in milestones:
            if isinstance(m, bool) or not isinstance(m, int):
                raise TypeError(f"MultiStepLR: expected milestones as ints, got {m!r}")
        self.milestones = Counter(milestones)
        self.gamma = check_number("MultiStepLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        milestones = sorted(self.milestones.elements())
        return [base * self.gamma ** bisect_right(milestones, self.last_epoch) for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Anneal each group's lr from its base value to ``eta_min`` along half a cosine over ``T_max`` epochs.

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int >= 1
        Epochs from the base lr down to ``eta_min``.
    eta_min : float >= 0
    last_epoch : int, -1 to start afresh
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = check_int("CosineAnnealingLR", "T_max", T_max, 1)
        self.eta_min = check_number("CosineAnnealingLR", "eta_min", eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and e > 0:  # resumed at last_epoch > 0: no previous lr to chain from
            return [eta_min + (base - eta_min) * (1 + math.cos(e * math.pi / T)) / 2 for base in self.base_lrs]
        if (e - 1 - T) % (2 * T) == 0:  # at the trough the ratio below would be 0/0
            return [lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, self._current_lrs())]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - eta_min) + eta_min
                for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        return [self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply each group's lr by ``gamma`` every epoch.

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float >= 0
    last_epoch : int, -1 to start afresh
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = check_number("ExponentialLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:  # the constructor's step keeps the lrs (resumed, they are already that epoch's)
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class LambdaLR(LRScheduler):
    """Set each group's lr to its base lr times ``lr_lambda(epoch)``.

    Parameters
    ----------
    optimizer : Optimizer
    lr_lambda : callable int -> float, or a list of them, one per param group
        The factor of epoch ``e`` (``lr_lambda(0)`` applies from construction on).
        A factor that is not a finite number >= 0 is refused when it comes.
    last_epoch : int, -1 to start afresh

    ``state_dict()`` keeps, as torch's, ``None`` for a plain function or lambda
    and the ``__dict__`` of a callable object (its attributes are its state).
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        n = len(check_optimizer("LambdaLR", optimizer).param_groups)
        lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(lambdas) != n:
            raise ValueError(f"LambdaLR: expected {n} lr_lambdas (one per param group), got {len(lambdas)}")
        for i, fn in enumerate(lambdas):
            if not callable(fn):
                raise TypeError(f"LambdaLR: expected lr_lambda as a function of the epoch (or a list of them), "
                                f"got {type(fn).__name__}" + (f" at position {i}" if n > 1 else ""))
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        e = self.last_epoch
        return [base * check_number("LambdaLR", f"lr_lambda({e})", fn(e))
                for fn, base in zip(self.lr_lambdas, self.base_lrs, strict=True)]

    _not_state = ("optimizer", "lr_lambdas")

    def state_dict(self):
        """Every attribute but the optimizer; ``lr_lambdas`` as ``None`` or a callable object's ``__dict__``."""
        state = super().state_dict()
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else copy.deepcopy(fn.__dict__)
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        """Restore :meth:`state_dict`'s numbers; a callable object's saved attributes go back into it."""
        saved = state_dict.get("lr_lambdas") if isinstance(state_dict, dict) else None
        if isinstance(state_dict, dict) and "lr_lambdas" in state_dict and (
                not isinstance(saved, (list, tuple)) or len(saved) != len(self.lr_lambdas)
                or not all(s is None or isinstance(s, dict) for s in saved)):
            raise ValueError(f"LambdaLR.load_state_dict: expected lr_lambdas as a list of {len(self.lr_lambdas)} "
                             f"None or dicts, got {saved!r}")
        lambdas = self.lr_lambdas
        super().load_state_dict(state_dict)
        self.lr_lambdas = lambdas
        for fn, attributes in zip(lambdas, saved):
            if attributes is not None:
                fn.__dict__.update(copy.deepcopy(attributes))


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin; fastai's two phases by default): stepped after every *batch*.

    With ``η_max = max_lr``, ``η_0 = η_max / div_factor`` and ``η_min = η_0 / final_div_factor``, and
    ``anneal(a, b, x)`` going from ``a`` (x = 0) to ``b`` (x = 1) along half a cosine (``(b − a)·x + a``
    for ``anneal_strategy="linear"``), step ``s`` of ``T = total_steps`` falls in one of the phases

    ========================  ==========================  ==================  ============================
    three_phase=False          steps                       lr                  momentum
    ========================  ==========================  ==================  ============================
    warm-up                    0 … pct_start·T − 1         η_0 → η_max         max_momentum → base_momentum
    annealing                  … T − 1                     η_max → η_min       base_momentum → max_momentum
    ========================  ==========================  ==================  ============================

    and with ``three_phase=True``: η_0 → η_max, η_max → η_0 (ending at step 2·pct_start·T − 2), then
    η_0 → η_min with the momentum held at max_momentum; ``x`` is the fraction of its phase done.  As in
    torch, a phase runs from the previous phase's (fractional) end step, and step T itself is allowed:
    it continues the last phase's curve one step past its end.

    Parameters
    ----------
    optimizer : Optimizer
    max_lr : float >= 0, or a list of them (one per param group)
    total_steps : int >= 1, optional
        The length of the cycle; or else ``epochs * steps_per_epoch``.
    epochs, steps_per_epoch : int >= 1, optional
    pct_start : float in [0, 1]
        The fraction of the cycle spent raising the lr (a float, as torch asks).
    anneal_strategy : "cos" or "linear"
    cycle_momentum : bool
        Move the optimiser's momentum (``group["momentum"]``, or ``group["betas"][0]`` for Adam's kind)
        against the lr; the optimiser must have one.
    base_momentum, max_momentum : float >= 0 (in [0, 1) for betas), or lists (one per param group)
    div_factor, final_div_factor : float > 0
    three_phase : bool
    last_epoch : int, the number of batches already done (-1 to start afresh)

    The group's ``initial_lr``, ``max_lr``, ``min_lr`` (and ``max_momentum``, ``base_momentum``) are
    written into the param group, as torch does, so the optimiser's ``state_dict`` carries them.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        name = "OneCycleLR"
        check_optimizer(name, optimizer)
        if total_steps is not None:
            self.total_steps = check_int(name, "total_steps", total_steps, 1)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (check_int(name, "epochs", epochs, 1)
                                * check_int(name, "steps_per_epoch", steps_per_epoch, 1))
        else:
            raise ValueError(f"{name}: expected total_steps, or epochs and steps_per_epoch, got total_steps=None, "
                             f"epochs={epochs!r}, steps_per_epoch={steps_per_epoch!r}")
        if not isinstance(pct_start, float):
            raise TypeError(f"{name}: expected pct_start as a float in [0, 1], got {type(pct_start).__name__}")
        pct_start = check_number(name, "pct_start", pct_start, maximum=1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: expected anneal_strategy 'cos' or 'linear', got {anneal_strategy!r}")
        self._anneal_func_type = anneal_strategy
        three_phase = check_bool(name, "three_phase", three_phase)
        self._schedule_phases = self._phases(pct_start, three_phase)
        self._locate(0)  # before the groups change: a warm-up of no length is refused here
        max_lrs = per_group(name, "max_lr", max_lr, optimizer, check_number)
        div_factor = check_number(name, "div_factor", div_factor, above=0.0)
        final_div_factor = check_number(name, "final_div_factor", final_div_factor, above=0.0)
        self.cycle_momentum = check_bool(name, "cycle_momentum", cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"{name}: cycle_momentum=True needs an optimizer with momentum or betas, got "
                                 f"{type(optimizer).__name__} (pass cycle_momentum=False)")
            self.use_beta1 = "betas" in optimizer.defaults
            check = functools.partial(check_number, below=1.0) if self.use_beta1 else check_number  # betas: < 1
            max_momentums = per_group(name, "max_momentum", max_momentum, optimizer, check)
            base_momentums = per_group(name, "base_momentum", base_momentum, optimizer, check)
        if last_epoch == -1:
            for i, group in enumerate(optimizer.param_groups):
                group["initial_lr"] = max_lrs[i] / div_factor
                group["max_lr"] = max_lrs[i]
                group["min_lr"] = group["initial_lr"] / final_div_factor
                if self.cycle_momentum:
                    self._set_momentum(group, max_momentums[i])
                    group["max_momentum"], group["base_momentum"] = max_momentums[i], base_momentums[i]
        super().__init__(optimizer, last_epoch)

    def _phases(self, pct_start, three_phase):
        """torch's table: each phase's last step and the group keys it goes from and to."""
        T = self.total_steps
        if three_phase:
            return [dict(end_step=float(pct_start * T) - 1, start_lr="initial_lr", end_lr="max_lr",
                         start_momentum="max_momentum", end_momentum="base_momentum"),
                    dict(end_step=float(2 * pct_start * T) - 2, start_lr="max_lr", end_lr="initial_lr",
                         start_momentum="base_momentum", end_momentum="max_momentum"),
                    dict(end_step=T - 1, start_lr="initial_lr", end_lr="min_lr",
                         start_momentum="max_momentum", end_momentum="max_momentum")]
        return [dict(end_step=float(pct_start * T) - 1, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=T - 1, start_lr="max_lr", end_lr="min_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum")]

    def _locate(self, step):
        """``(phase, x)``: the phase ``step`` falls in and the fraction of it done."""
        start = 0.0
        for i, phase in enumerate(self._schedule_phases):
            end = phase["end_step"]
            if step <= end or i == len(self._schedule_phases) - 1:
                if end == start:  # torch divides by zero here
                    raise ValueError(f"OneCycleLR: step {step} falls in phase {i} of the cycle, which has no "
                                     f"length (it starts and ends at step {end:g}); change pct_start or "
                                     f"total_steps={self.total_steps}")
                return phase, (step - start) / (end - start)
            start = end

    def _anneal(self, start, end, x):
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * x) + 1)
        return (end - start) * x + start

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def step(self):
        """Advance one batch; the cycle has ``total_steps`` of them (and step ``total_steps`` itself, as torch)."""
        if self.last_epoch + 1 > self.total_steps:
            raise ValueError(f"OneCycleLR: expected at most total_steps={self.total_steps} steps, got step "
                             f"{self.last_epoch + 1}")
        super().step()

    def get_lr(self):
        phase, x = self._locate(self.last_epoch)
        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], x))
            if self.cycle_momentum:
                self._set_momentum(group, self._anneal(group[phase["start_momentum"]],
                                                       group[phase["end_momentum"]], x))
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Multiply each group's lr by ``factor`` once the watched metric stops improving: ``step(metrics)``.

    A metric ``a`` improves on the best so far, ``best``, when (``mode``, ``threshold_mode``)

    ===========  ===========================  ========================
    mode         rel                          abs
    ===========  ===========================  ========================
    "min"        a < best · (1 − threshold)    a < best − threshold
    "max"        a > best · (1 + threshold)    a > best + threshold
    ===========  ===========================  ========================

    A step that does not improve is a bad epoch; after more than ``patience`` bad epochs in a row,
    each group's lr becomes ``max(lr · factor, min_lr)`` (unless that changes it by ``eps`` or less),
    and the next ``cooldown`` steps count no bad epochs.

    Parameters
    ----------
    optimizer : Optimizer
    mode : "min" or "max"
    factor : float in [0, 1)
    patience : int >= 0
    threshold : float >= 0
    threshold_mode : "rel" or "abs"
    cooldown : int >= 0
    min_lr : float >= 0, or a list of them (one per param group)
    eps : float >= 0

    Unlike the other schedules it does not touch the lrs at construction, keeps no ``base_lrs``, and
    ``last_epoch`` starts at 0 (torch's class does the same).
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        name = "ReduceLROnPlateau"
        self.factor = check_number(name, "factor", factor, below=1.0)
        self.optimizer = check_optimizer(name, optimizer)
        self.min_lrs = per_group(name, "min_lr", min_lr, optimizer, check_number)
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else self.min_lrs[0]
        self.patience = check_int(name, "patience", patience, 0)
        self.cooldown = check_int(name, "cooldown", cooldown, 0)
        self.eps = check_number(name, "eps", eps)
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: expected mode 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: expected threshold_mode 'rel' or 'abs', got {threshold_mode!r}")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode, self.threshold_mode = mode, threshold_mode
        self.threshold = check_number(name, "threshold", threshold)
        self._reset()

    def _reset(self):
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _is_better(self, a, best):
        """Whether metric ``a`` improves on ``best`` (the table above)."""
        if self.mode == "min":
            return a < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return a > (best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metrics):
        """Count one epoch with this value of the watched metric (a number, or a 0-d array or Tensor)."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(f"ReduceLROnPlateau.step: expected metrics as a number, got "
                            f"{type(metrics).__name__}") from None
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ValueError(f"ReduceLROnPlateau: the optimizer has {len(groups)} param groups, min_lrs "
                                 f"{len(self.min_lrs)} (a group was added since): set min_lrs to one per group")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new


SCHEDULERS = {"none": None, "step": StepLR, "multistep": MultiStepLR, "cosine": CosineAnnealingLR}
"""Name -> scheduler class (``"none"``: keep the lr constant), for a CLI's ``--lr-schedule`` choices."""
