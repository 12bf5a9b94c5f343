"""``Optimizer``: the bookkeeping every optimiser shares, shaped like ``torch.optim.Optimizer``.

The whole design is two containers (torch's ``torch/optim/optimizer.py``):

``param_groups``
    A list of dicts.  Each holds ``"params"`` (a list of :class:`~minicnn.nn.Parameter`)
    and that group's hyperparameters (``"lr"``, ``"momentum"`` …), so layers can
    train with different learning rates::

        SGD([{"params": model.conv1.parameters(), "lr": 1e-3},
             {"params": model.fc.parameters()}], lr=1e-2, momentum=0.9)

    A key a group leaves out takes the optimiser's default.  A learning-rate
    scheduler changes ``group["lr"]`` between steps.
``state``
    A dict from Parameter to a dict of that parameter's running quantities
    (``"momentum_buffer"``, ``"exp_avg"``, ``"step"`` …), created on its first step.

A subclass is then only its update rule: ``step()`` walks the groups and
updates, in place, every parameter whose ``.grad`` is not None.  Gradients are
read, never written (they may be arrays shared with something else), and the
arithmetic stays in the parameter's dtype: hyperparameters are Python floats,
which NumPy >= 2 (NEP 50) casts to a float32 array's dtype instead of
upcasting it.

``state_dict()`` has torch's layout, with parameters replaced by their
position across the groups (0, 1, 2 … in group order)::

    {"state": {0: {"momentum_buffer": ndarray}, 2: {...}},
     "param_groups": [{"lr": 0.01, "momentum": 0.9, ..., "params": [0, 1, 2]}]}

and :mod:`minicnn.serialize` turns it into arrays plus JSON for an ``.npz``.
"""
import copy
import math
from collections import defaultdict
from numbers import Real

import numpy as np

from ..nn import Parameter


# ---------------------------------------------------------------------- hyperparameter checks
def check_number(owner, name, value, minimum=0.0, below=None, maximum=None, above=None):
    """``float(value)`` if ``value`` is a finite real number within the bounds.

    The lower bound is ``minimum <= value``, or ``above < value`` where ``above``
    is given; the upper one ``value < below`` or ``value <= maximum`` (none by
    default).  ``owner`` starts the message (the optimiser's class name), so a
    user sees which optimiser refused which argument:
    ``Adam: expected a finite lr >= 0, got -1``, ``Adadelta: expected a finite rho in [0, 1], got 2``.
    """
    if not isinstance(value, (Real, np.integer, np.floating)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: expected {name} as a number, got {type(value).__name__}")
    low, low_ok = (f"({above:g}", value > above) if above is not None else (f"[{minimum:g}", value >= minimum)
    high, high_ok = ((f"{below:g})", value < below) if below is not None else
                     (f"{maximum:g}]", value <= maximum) if maximum is not None else (None, True))
    bounds = f"in {low}, {high}" if high else f"{'>' if above is not None else '>='} {low[1:]}"
    if not math.isfinite(value) or not (low_ok and high_ok):
        raise ValueError(f"{owner}: expected a finite {name} {bounds}, got {value}")
    return float(value)


def check_bool(owner, name, value):
    """``bool(value)`` if ``value`` is a bool (a truthy string like ``"no"`` must not pass)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: expected {name} as a bool, got {type(value).__name__}")
    return bool(value)


def _copy_tree(value):
    """Deep copy of the nested dicts/lists/tuples/arrays a state or param group holds."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copy_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_tree(v) for v in value)
    return copy.deepcopy(value)


class Optimizer:
    """Base class of every optimiser: ``torch.optim.Optimizer(params, defaults)``.

    Parameters
    ----------
    params : iterable of Parameter, or iterable of dict
        The parameters to train (e.g. ``model.parameters()``), or param groups:
        dicts with a ``"params"`` entry and optional per-group hyperparameters.
    defaults : dict
        Hyperparameter name -> default value, for keys a group leaves out.

    Attributes
    ----------
    param_groups : list of dict
    state : defaultdict Parameter -> dict
    defaults : dict

    Subclasses implement ``step(closure=None)`` and ``_check_group(group, owner)``,
    which checks (and normalises, in place) one group's hyperparameters;
    ``state_names`` lists the per-parameter state keys the subclass may create.
    """

    state_names = ()

    def __init__(self, params, defaults):
        name = type(self).__name__
        self.defaults = dict(defaults)
        self._check_group(self.defaults, name)
        if isinstance(params, (Parameter, dict, np.ndarray)):
            raise TypeError(f"{name}: expected an iterable of Parameters or of dicts, got "
                            f"{type(params).__name__} (wrap it in a list)")
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: expected a non-empty list of parameters, got an empty one")
        self.state = defaultdict(dict)
        self.param_groups = []
        self._named_groups = isinstance(groups[0], dict)
        if not self._named_groups:
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _owner(self, index):
        """Start of an error message: the class name, and the group once there are groups."""
        name = type(self).__name__
        return f"{name} param group {index}" if self._named_groups else name

    def _check_group(self, group, owner):
        """Check and normalise ``group``'s hyperparameters in place (subclasses)."""

    def add_param_group(self, param_group):
        """Append a param group (``{"params": [...], "lr": ...}``); missing keys take the defaults.

        Raises TypeError for a non-dict or a non-Parameter entry, ValueError for
        a missing ``"params"`` or a parameter already in this optimiser.
        """
        owner = self._owner(len(self.param_groups))
        if not isinstance(param_group, dict):
            raise TypeError(f"{owner}: expected a param group as a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{owner}: expected a 'params' entry in the param group, got keys "
                             f"{sorted(param_group)}")
        params = param_group["params"]
        if isinstance(params, set):
            raise TypeError(f"{owner}: expected the params in an ordered collection, got a set "
                            f"(its order changes between runs)")
        group = dict(param_group)
        group["params"] = [params] if isinstance(params, Parameter) else list(params)
        earlier = {p: i for i, g in enumerate(self.param_groups) for p in g["params"]}
        positions = {}
        for j, p in enumerate(group["params"]):
            if not isinstance(p, Parameter):
                raise TypeError(f"{owner}: expected Parameter objects, got {type(p).__name__} at position {j}")
            if p in earlier:
                raise ValueError(f"{owner}: the parameter at position {j} is already in param group {earlier[p]}")
            if p in positions:
                raise ValueError(f"{owner}: the parameter at position {j} appears twice in the group "
                                 f"(also at position {positions[p]})")
            positions[p] = j
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._check_group(group, owner)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Reset every parameter's gradient: to None (torch's default) or to a fresh zero array.

        A fresh array rather than zeroing in place: the old gradient may be shared.
        """
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None if set_to_none or p.grad is None else np.zeros_like(p.array)

    def step(self, closure=None):
        """One update of every parameter with a gradient; returns ``closure()``'s loss (or None)."""
        raise NotImplementedError(f"{type(self).__name__} has no step")

    def _gradient(self, p, maximize):
        """``p.grad`` checked against ``p.array`` (negated, as a new array, when maximising)."""
        g = p.grad
        if not isinstance(g, np.ndarray) or g.shape != p.array.shape:
            raise ValueError(f"{type(self).__name__}: expected a gradient of shape {p.array.shape}, got "
                             f"{getattr(g, 'shape', type(g).__name__)}")
        if g.dtype != p.array.dtype:
            raise TypeError(f"{type(self).__name__}: expected a {p.array.dtype} gradient for a "
                            f"{p.array.dtype} parameter, got {g.dtype}")
        if not p.array.flags.writeable:  # the update is in place: numpy would say "output array is read-only"
            raise ValueError(f"{type(self).__name__}: expected a writeable parameter array to update in place, "
                             f"got a read-only one of shape {p.array.shape} (pass a copy to Parameter)")
        return -g if maximize else g

    # ------------------------------------------------------------------ state_dict
    def state_dict(self):
        """torch's layout: ``{"state": {index: {name: value}}, "param_groups": [{..., "params": [indices]}]}``.

        Parameters are numbered in the order of the groups; arrays are copies.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: _copy_tree(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(p, len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[p]: _copy_tree(s) for p, s in self.state.items() if p in index}
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Replace hyperparameters and state by those of ``state_dict`` (from :meth:`state_dict`).

        The groups must have the same number of parameters as this optimiser's,
        and every state array the shape of its parameter; arrays are copied and
        cast to the parameter's dtype.  Nothing changes unless everything fits.

        Raises
        ------
        TypeError
            ``state_dict`` or one of its parts has the wrong type.
        ValueError
            Group count, parameter count, indices, state names or shapes differ.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            got = sorted(map(str, state_dict)) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise TypeError(f"{where}: expected a dict with 'state' and 'param_groups', got {got}")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(saved_groups, (list, tuple)) or not isinstance(saved_state, dict):
            raise TypeError(f"{where}: expected 'param_groups' as a list and 'state' as a dict, got "
                            f"{type(saved_groups).__name__} and {type(saved_state).__name__}")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{where}: expected {len(self.param_groups)} param groups, got {len(saved_groups)}")

        by_index, groups = {}, []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if not isinstance(saved, dict) or not isinstance(saved.get("params"), (list, tuple)):
                raise TypeError(f"{where}: expected param group {i} as a dict with a 'params' list, got "
                                f"{type(saved).__name__}")
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{where}: param group {i} expected {len(group['params'])} parameters, "
                                 f"got {len(saved['params'])}")
            for k, p in zip(saved["params"], group["params"]):
                if k in by_index:
                    raise ValueError(f"{where}: parameter index {k} appears twice in 'param_groups'")
                by_index[k] = p
            new = {k: _copy_tree(v) for k, v in saved.items() if k != "params"}
            new["params"] = group["params"]
            for key, default in self.defaults.items():
                new.setdefault(key, default)
            self._check_group(new, f"{where}: param group {i}")
            groups.append(new)

        state = defaultdict(dict)
        for k, entries in saved_state.items():
            if k not in by_index:
                raise ValueError(f"{where}: state for parameter index {k!r}, which no param group lists "
                                 f"(indices {sorted(by_index, key=str)})")
            if not isinstance(entries, dict):
                raise TypeError(f"{where}: expected state[{k!r}] as a dict, got {type(entries).__name__}")
            state[by_index[k]] = {name: self._load_entry(where, k, name, value, by_index[k])
                                  for name, value in entries.items()}
        self.param_groups, self.state = groups, state

    def _load_entry(self, where, index, name, value, p):
        """One state value, checked against its parameter: arrays copied in ``p``'s dtype."""
        what = f"state[{index!r}][{name!r}]"
        if name not in self.state_names:
            raise ValueError(f"{where}: {what} is not state of {type(self).__name__}, "
                             f"expected one of {list(self.state_names)}")
        if name == "step":
            if not isinstance(value, (Real, np.integer, np.floating)) or isinstance(value, bool):
                raise TypeError(f"{where}: expected {what} as a number, got {type(value).__name__}")
            return float(value)
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{where}: expected {what} as an ndarray, got {type(value).__name__}")
        if value.shape != p.array.shape:
            raise ValueError(f"{where}: {what} expected shape {p.array.shape}, got {value.shape}")
        if value.dtype.kind != "f":
            raise TypeError(f"{where}: {what} expected a float array, got dtype {value.dtype}")
        return np.array(value, dtype=p.array.dtype, copy=True)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])
