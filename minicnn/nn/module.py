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
from ..device import device as torch_device
from ..device import on_cpu, to_arguments
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
        data = data.array if isinstance(data, Tensor) else data
        if not isinstance(data, np.ndarray) or data.dtype not in FLOAT_DTYPES:
            raise TypeError(f"Parameter: expected a float32/float64 numpy.ndarray, got "
                            f"{getattr(data, 'dtype', type(data).__name__)}")
        self._init(data, requires_grad)

    def __repr__(self):
        return f"Parameter(shape={self.array.shape}, dtype={self.array.dtype})"


def _state_value(name, value):
    value = value.array if isinstance(value, Tensor) else value
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
        # a Parameter or Module replacing one of its kind keeps its place in the order (state_dict's too)
        kind = self._parameters if isinstance(value, Parameter) else self._modules if isinstance(value, Module) else None
        for registry in (self._parameters, self._modules, self._buffers):
            if registry is not kind:
                registry.pop(name, None)
        if kind is not None:
            kind[name] = value
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

    def add_module(self, name, module):
        """Register ``module`` as the submodule ``name`` (``self.name = module``, for names chosen at run
        time), with torch's checks: a non-empty str without ``.``, not an attribute already."""
        if not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} expected a Module, got {type(module).__name__}")
        if not isinstance(name, str):
            raise TypeError(f"add_module: expected a str name, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"add_module: expected a non-empty name without '.', got {name!r}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"add_module: attribute {name!r} already exists")
        setattr(self, name, module)

    register_module = add_module

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

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(name, Parameter)`` with torch's dotted names, e.g. ``conv1.weight``; a shared one once
        (unless ``remove_duplicate=False``); only this module's own with ``recurse=False``."""
        seen = set()
        for mod_name, m in self.named_modules(prefix) if recurse else [(prefix, self)]:
            for name, p in m._parameters.items():
                if p is not None and (not remove_duplicate or id(p) not in seen):
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self, recurse=True):
        """A generator of the Parameters, as torch's (``list(model.parameters())`` for a list)."""
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True):
        for mod_name, m in self.named_modules(prefix) if recurse else [(prefix, self)]:
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self, recurse=True):
        """A generator of the buffers (ndarrays), as torch's."""
        return (b for _, b in self.named_buffers(recurse=recurse))

    # ------------------------------------------------------------------ modes and dtype
    def zero_grad(self, set_to_none=True):
        """Reset every parameter's gradient (to None, as torch's default, or to zeros)."""
        for p in self.parameters():
            p.grad = None if set_to_none or p.grad is None else np.zeros_like(p.array)

    def train(self, mode=True):
        """Training mode for this module and every submodule (read by Dropout, BatchNorm …); returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def to(self, *args, **kwargs):
        """torch's ``Module.to``: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``,
        ``non_blocking=``.  A dtype (float32 or float64) casts every float parameter, gradient and buffer
        in place (the Parameters stay the same objects); the CPU changes nothing; another device raises
        RuntimeError (minicnn runs on the CPU only).  Returns self."""
        _, dtype, _ = to_arguments(f"{type(self).__name__}.to", args, kwargs)
        if dtype is None:
            return self
        if dtype not in FLOAT_DTYPES:
            raise TypeError(f"{type(self).__name__}.to: expected float32 or float64, got {dtype}")
        for p in self.parameters():
            p.array = p.array.astype(dtype, copy=False)
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

    def cpu(self):
        return self

    def cuda(self, device=None):
        """Refused: minicnn runs on the CPU only (RuntimeError)."""
        on_cpu(f"{type(self).__name__}.cuda", torch_device("cuda" if device is None else device))

    # ------------------------------------------------------------------ state
    def _state_items(self):
        for mod_name, m in self.named_modules():
            prefix = f"{mod_name}." if mod_name else ""
            for name, p in m._parameters.items():
                if p is not None:
                    yield prefix + name, m, name, p.array
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    yield prefix + name, m, name, b

    def state_dict(self, *, keep_vars=False):
        """``OrderedDict`` name -> each parameter's and persistent buffer's array, with torch's key names.

        The arrays themselves, not copies, as torch's (whose entries share the parameters' memory): writing
        into an entry writes into the model, and an optimiser step shows in it.  Take a snapshot with
        ``{k: v.copy() for k, v in model.state_dict().items()}``.  ``keep_vars=True`` gives the Parameters.
        """
        if keep_vars:
            return OrderedDict((key, m._parameters.get(name, value)) for key, m, name, value in self._state_items())
        return OrderedDict((key, value) for key, _, _, value in self._state_items())

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters' and buffers' own arrays, in place (as torch's ``copy_``),
        cast to each one's dtype.

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
            if current.flags.writeable:
                current[...] = value  # in place: state_dict() entries and views keep tracking the model
            elif name in m._parameters:
                m._parameters[name].array = np.array(value, dtype=current.dtype, copy=True)
            else:
                setattr(m, name, np.array(value, dtype=current.dtype, copy=True))
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
