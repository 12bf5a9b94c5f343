"""``Parameter`` and ``Module``: the bookkeeping around the kernels, shaped like torch.nn.

Gradients accumulate.  ``backward`` *adds* into every ``Parameter.grad``, as
``loss.backward()`` does in torch; nothing resets them but ``zero_grad()``
(which, like torch's default ``set_to_none=True``, sets them to None).  Two
backward passes without ``zero_grad`` in between give the sum of both gradients.
"""
import contextlib
import threading
from collections import OrderedDict

import numpy as np

from ..kernels._check import FLOAT_DTYPES


_grad_mode = threading.local()


def is_grad_enabled():
    """False inside :func:`no_grad` (on this thread)."""
    return getattr(_grad_mode, "enabled", True)


@contextlib.contextmanager
def no_grad():
    """Like ``torch.no_grad()``: layers keep no cache for backward, so inference holds no
    im2col buffers and activations beyond the current layer."""
    previous = is_grad_enabled()
    _grad_mode.enabled = False
    try:
        yield
    finally:
        _grad_mode.enabled = previous


class Parameter:
    """A trainable array.

    Attributes
    ----------
    data : ndarray, float32 or float64; its dtype decides the dtype a layer computes in
    grad : ndarray of ``data``'s shape, or None before the first backward / after ``zero_grad``
    """

    def __init__(self, data):
        if not isinstance(data, np.ndarray) or data.dtype not in FLOAT_DTYPES:
            raise TypeError(f"Parameter: expected a float32/float64 numpy.ndarray, got "
                            f"{getattr(data, 'dtype', type(data).__name__)}")
        self.data = data
        self.grad = None

    @property
    def shape(self):
        return self.data.shape

    def accumulate_grad(self, g):
        """Add ``g`` to ``.grad`` (``g`` is a freshly computed array that the parameter may keep)."""
        if g.shape != self.data.shape:
            raise ValueError(f"Parameter: gradient of shape {g.shape} for data of shape {self.data.shape}")
        if self.grad is None:
            self.grad = g
        else:
            self.grad += g

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class: registers Parameters and sub-Modules in assignment order.

    Subclasses implement ``forward(x)`` (caching what backward needs) and
    ``backward(grad_out)`` (returning the gradient with respect to the input
    and accumulating parameter gradients).
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call Module.__init__() before assigning {name}")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} has no forward")

    def backward(self, grad_out):
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix=""):
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self, prefix=""):
        """Yield ``(name, Parameter)`` with torch's dotted names, e.g. ``conv1.weight``."""
        for mod_name, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    # ------------------------------------------------------------------ state
    def zero_grad(self, set_to_none=True):
        """Reset every parameter's gradient (to None, as torch's default, or to zeros)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = np.zeros_like(p.data)

    def train(self, mode=True):
        for _, m in self.named_modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def to(self, dtype):
        """Cast every parameter (and gradient) to ``dtype`` (float32 or float64), in place; returns self."""
        dtype = np.dtype(dtype)
        if dtype not in FLOAT_DTYPES:
            raise TypeError(f"{type(self).__name__}.to: expected float32 or float64, got {dtype}")
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            if p.grad is not None:
                p.grad = p.grad.astype(dtype)
        return self

    def state_dict(self):
        """``OrderedDict`` name -> copy of the parameter array, with torch's key names."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters, cast to each parameter's current dtype.

        Shapes must match.  With ``strict`` the keys must match exactly (missing
        and unexpected keys are listed in the error).  Returns ``(missing, unexpected)``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict: expected a mapping of name -> array, got "
                            f"{type(state_dict).__name__}")
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state_dict]
        unexpected = [k for k in state_dict if k not in params]
        if strict and (missing or unexpected):
            raise ValueError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        for name, p in params.items():
            if name not in state_dict:
                continue
            value = np.asarray(state_dict[name])
            if value.shape != p.data.shape:
                raise ValueError(f"load_state_dict: {name} expected shape {p.data.shape}, got {value.shape}")
            if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
                raise TypeError(f"load_state_dict: {name} expected a numeric array, got dtype {value.dtype}")
            p.data = np.array(value, dtype=p.data.dtype, copy=True)
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
