"""Learning-rate schedules, torch's ``torch/optim/lr_scheduler.py`` for three of its classes.

A scheduler rewrites ``group["lr"]`` of its optimiser's param groups.  Call
``scheduler.step()`` once per epoch, *after* ``optimizer.step()``::

    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(...)          # optimizer.step() inside
        scheduler.step()

``last_epoch`` counts the ``step()`` calls (construction is step 0, with the
group's starting lr, which is kept as ``group["initial_lr"]`` and in
``base_lrs``).  With η_0 = base lr and e = ``last_epoch``, the closed forms are:

``StepLR``
    η_e = η_0 · γ^⌊e / step_size⌋
``MultiStepLR``
    η_e = η_0 · γ^(number of milestones <= e)
``CosineAnnealingLR``
    η_e = η_min + (η_0 − η_min)·(1 + cos(π·e / T_max)) / 2

Like torch, ``step()`` applies them *chainably*: each new lr is computed from
the current ``group["lr"]`` (StepLR multiplies by γ at each multiple of
step_size; the cosine uses torch's recursion
``η_e = η_min + (η_{e−1} − η_min)·(1 + cos(π e/T)) / (1 + cos(π (e−1)/T))``),
so a change another scheduler or the user makes to ``lr`` carries forward, and
the values equal torch's bit for bit.  Beyond e = T_max the cosine climbs back
up, as torch's does.

Not ported: torch's ``step(epoch)`` (deprecated there) and its warning when
``scheduler.step()`` comes before ``optimizer.step()``.
"""
import math
from bisect import bisect_right
from collections import Counter

from .optimizer import Optimizer, check_number


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
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: expected an Optimizer, got {type(optimizer).__name__}")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"{name}: expected last_epoch as an int >= -1, got {last_epoch!r}")
        self.optimizer = optimizer
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

    def state_dict(self):
        """Every attribute but the optimizer (torch's layout): numbers, lists and dicts only."""
        return {key: (dict(value) if isinstance(value, Counter) else
                      list(value) if isinstance(value, list) else value)
                for key, value in self.__dict__.items() if key != "optimizer"}

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
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: expected step_size as an int >= 1, got {step_size!r}")
        self.step_size = step_size
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
        if isinstance(T_max, bool) or not isinstance(T_max, int) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: expected T_max as an int >= 1, got {T_max!r}")
        self.T_max = T_max
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


SCHEDULERS = {"none": None, "step": StepLR, "multistep": MultiStepLR, "cosine": CosineAnnealingLR}
"""Name -> scheduler class (``"none"``: keep the lr constant), for a CLI's ``--lr-schedule`` choices."""
