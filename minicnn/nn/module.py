"""``Parameter`` and ``Module``: the bookkeeping around the ops, shaped like torch.nn.

A Module registers, in assignment order, its Parameters (trainable tensors),
its buffers (arrays that are state but not trained, like batch norm's running
mean) and its sub-Modules.  It defines ``forward`` only: calling it records
the ops on the graph, and ``loss.backward()`` fills every ``Parameter.grad``.

Gradients accumulate.  ``backward`` *adds* into every ``Parameter.grad``, as
``loss.backward()`` does in torch; nothing resets them but ``zero_grad()``
(which, like torch's default ``set_to_none=True``, sets them to None).  Two
backward passes without ``zero_grad`` in between give the sum of both gradients.
"""
from collections import OrderedDict

import numpy as np

from ..autograd import Tensor, is_grad_enabled, no_grad  # noqa: F401  (re-exported by minicnn.nn)
from ..kernels.checks import FLOAT_DTYPES
from . import hooks as hooks_


class Parameter(Tensor):
    """A trainable tensor: a leaf with ``requires_grad=True``.

    Parameters
    ----------
    data : ndarray (float32 or float64; not copied) or Tensor (its array)
    requires_grad : bool, default True

    Attributes
    ----------
    data : ndarray; its dtype decides the dtype a layer computes in
    grad : ndarray of ``data``'s shape, or None before the first backward / after ``zero_grad``
    """

    def __init__(self, data, requires_grad=True):
        data = data.data if isinstance(data, Tensor) else data
        if not isinstance(data, np.ndarray) or data.dtype not in FLOAT_DTYPES:
            raise TypeError(f"Parameter: expected a float32/float64 numpy.ndarray, got "
                            f"{getattr(data, 'dtype', type(data).__name__)}")
        self._init(data, requires_grad)

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


def _state_value(name, value):
    value = value.data if isinstance(value, Tensor) else value
    if not isinstance(value, np.ndarray):
        raise TypeError(f"load_state_dict: {name} expected an ndarray, got {type(value).__name__}")
    if value.dtype.kind not in "fiub":
        raise TypeError(f"load_state_dict: {name} expected a numeric array, got dtype {value.dtype}")
    return value


class Module:
    """Base class of layers and models: subclasses assign Parameters and Modules in
    ``__init__`` and define ``forward``; the backward pass comes from the graph."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        for name, hooks in hooks_.new_hook_dicts().items():
            object.__setattr__(self, name, hooks)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call Module.__init__() before assigning {name}")
        if name in self._buffers and not isinstance(value, (Parameter, Module)):
            if value is not None and not isinstance(value, np.ndarray):
                raise TypeError(f"{type(self).__name__}: buffer {name} expected an ndarray or None, got "
                                f"{type(value).__name__}")
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name, array, persistent=True):
        """A named array that is state but not trained (in ``state_dict`` unless ``persistent=False``)."""
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"register_buffer: expected a non-empty name without '.', got {name!r}")
        if array is not None and not isinstance(array, np.ndarray):
            raise TypeError(f"register_buffer: {name} expected an ndarray or None, got {type(array).__name__}")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers[name] = array
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)
        object.__setattr__(self, name, array)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name} expected a Parameter or None, got {type(param).__name__}")
        setattr(self, name, param)

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks or self._forward_hooks or self._backward_hooks:
            return hooks_.call_with_hooks(self, args, kwargs)
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ hooks (see minicnn.nn.hooks)
    def register_forward_pre_hook(self, hook):
        """``hook(module, args)`` before each forward; it may return replacement args. Returns a handle
        whose ``remove()`` takes the hook off."""
        return hooks_.add_hook(self._forward_pre_hooks, hook, "register_forward_pre_hook")

    def register_forward_hook(self, hook):
        """``hook(module, args, output)`` after each forward; it may return a replacement output. Returns a
        handle whose ``remove()`` takes the hook off."""
        return hooks_.add_hook(self._forward_hooks, hook, "register_forward_hook")

    def register_full_backward_hook(self, hook):
        """``hook(module, grad_input, grad_output)`` once the gradients with respect to the module's inputs
        are computed (tuples: one entry per positional argument, None where there is none; one per Tensor
        output); it may return a replacement ``grad_input``. Returns a handle whose ``remove()`` takes the
        hook off."""
        return hooks_.add_hook(self._backward_hooks, hook, "register_full_backward_hook")

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} has no forward")

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix=""):
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        return iter(self._modules.items())

    def children(self):
        return iter(self._modules.values())

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule, then on self (torch's order); returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def named_parameters(self, prefix=""):
        """Yield ``(name, Parameter)`` with torch's dotted names, e.g. ``conv1.weight``; a shared one once."""
        seen = set()
        for mod_name, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        for mod_name, m in self.named_modules(prefix):
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self):
        return [b for _, b in self.named_buffers()]

    # ------------------------------------------------------------------ modes and dtype
    def zero_grad(self, set_to_none=True):
        """Reset every parameter's gradient (to None, as torch's default, or to zeros)."""
        for p in self.parameters():
            p.grad = None if set_to_none or p.grad is None else np.zeros_like(p.data)

    def train(self, mode=True):
        """Training mode for this module and every submodule (read by Dropout, BatchNorm …); returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def to(self, dtype):
        """Cast every float parameter, gradient and buffer to ``dtype`` in place; returns self.

        ``dtype`` is float32 or float64 (``"cpu"`` is accepted and changes nothing, as there is no other device).
        """
        if isinstance(dtype, str) and dtype == "cpu":
            return self
        dtype = np.dtype(dtype)
        if dtype not in FLOAT_DTYPES:
            raise TypeError(f"{type(self).__name__}.to: expected float32 or float64, got {dtype}")
        for p in self.parameters():
            p.data = p.data.astype(dtype, copy=False)
            if p.grad is not None:
                p.grad = p.grad.astype(dtype, copy=False)
        for m in self.modules():
            for name, b in m._buffers.items():
                if b is not None and b.dtype.kind == "f":
                    setattr(m, name, b.astype(dtype, copy=False))
        return self

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    # ------------------------------------------------------------------ state
    def _state_items(self):
        for mod_name, m in self.named_modules():
            prefix = f"{mod_name}." if mod_name else ""
            for name, p in m._parameters.items():
                if p is not None:
                    yield prefix + name, m, name, p.data
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    yield prefix + name, m, name, b

    def state_dict(self):
        """``OrderedDict`` name -> copy of each parameter and persistent buffer, with torch's key names."""
        return OrderedDict((key, value.copy()) for key, _, _, value in self._state_items())

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters and buffers, cast to each one's current dtype.

        With ``strict`` the keys must match exactly; shapes must match always.
        The error lists every missing key, unexpected key and shape mismatch at
        once, as torch's does.  Returns ``(missing, unexpected)``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict: expected a mapping of name -> array, got "
                            f"{type(state_dict).__name__}")
        items = {key: (m, name, value) for key, m, name, value in self._state_items()}
        missing = [k for k in items if k not in state_dict]
        unexpected = [k for k in state_dict if k not in items]
        values = {k: _state_value(k, state_dict[k]) for k in items if k in state_dict}
        mismatched = [f"{k}: expected shape {items[k][2].shape}, got {v.shape}" for k, v in values.items()
                      if v.shape != items[k][2].shape]
        problems = ([f"missing keys {missing}"] if strict and missing else []) + (
            [f"unexpected keys {unexpected}"] if strict and unexpected else []) + mismatched
        if problems:
            raise ValueError(f"load_state_dict for {type(self).__name__}: " + "; ".join(problems))
        for key, value in values.items():
            m, name, current = items[key]
            new = np.array(value, dtype=current.dtype, copy=True)
            if name in m._parameters:
                m._parameters[name].data = new
            else:
                setattr(m, name, new)
        return missing, unexpected

    # ------------------------------------------------------------------ display
    def extra_repr(self):
        return ""

    def __repr__(self):
        # torch's layout: extra_repr alone on one line, or as the first of the indented lines
        children = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        extra = self.extra_repr()
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = ([extra] if extra else []) + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"
