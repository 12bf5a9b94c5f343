"""``minicnn.from_torch``: a ``torch.nn.Module`` as a minicnn Module that computes the same thing on
minicnn's hand-written kernels; ``minicnn.load_state_dict_from_torch``: a ``torch.save``d state_dict as
numpy arrays.

How a model converts, module by module, keeping torch's structure and so its ``state_dict`` keys:

* a layer of ``torch.nn`` (``Conv2d``, ``BatchNorm2d``, ``ReLU6`` …) becomes minicnn's layer of the
  same name, built from the torch layer's own attributes (``in_channels``, ``stride``, ``eps`` …:
  torch keeps every constructor argument under its name) with its parameters and buffers copied;
* a plain ``nn.Sequential`` (or a subclass that keeps its ``forward``, as torchvision's
  ``Conv2dNormActivation``), ``ModuleList`` and ``ModuleDict`` become minicnn's;
* any other module (a user's model, torchvision's ``BasicBlock`` or ``InvertedResidual``) is traced
  with ``torch.fx``, and its graph is replayed by a :class:`Traced` module: each ``call_module`` calls
  the converted child, each ``call_function`` and ``call_method`` the minicnn function or Tensor method
  of the same name (``torch.flatten`` -> ``minicnn.flatten``, ``F.relu`` -> ``minicnn.nn.functional.relu``,
  ``x + y``, ``x.mean((2, 3))``).  Its own parameters and buffers (those not in a child) are copied too.

What cannot be mapped — a layer minicnn does not have, a function or method it lacks, a forward fx
cannot trace — is refused with one :class:`ConversionError` naming it and where it sits, before
anything is computed: a converted model is never silently a different one.  The converted model does
not need torch to run.

One limit of tracing, as with any ``torch.fx`` graph: Python control flow is fixed at trace time.  In a
traced module's forward, ``if self.training:`` and ``F.dropout(x, training=self.training)`` keep the
mode the module was in when it was converted; the layers (``nn.Dropout``, ``nn.BatchNorm2d``) follow
``train()``/``eval()`` as usual.
"""
import builtins
import operator

import numpy as np

from . import nn
from .autograd import Tensor
from .nn import functional as F
from .structure import StructureError, constructor_kwargs


class ConversionError(ValueError):
    """A torch module or op minicnn cannot map; the message names it and where it sits."""


# --------------------------------------------------------------------------- the ops a traced graph may call
def operators():
    names = ("add", "sub", "mul", "truediv", "floordiv", "neg", "pow", "matmul", "getitem", "iadd", "imul")
    return {getattr(operator, n): getattr(operator, n) for n in names}


def _functions(torch):
    """torch callable -> minicnn callable, for every name both have (functional, top level, operators)."""
    import minicnn
    table = operators()
    table.update({builtins.getattr: builtins.getattr, torch.add: operator.add, torch.mul: operator.mul,
                  torch.sub: operator.sub})
    for name in dir(torch.nn.functional):
        if not name.startswith("_") and hasattr(F, name) and callable(getattr(torch.nn.functional, name)):
            table[getattr(torch.nn.functional, name)] = getattr(F, name)
    for fn in WITH_INDICES:  # what F.max_pool2d(..., return_indices=True) traces to
        table[getattr(torch.nn.functional, fn.__name__)] = fn
    try:
        import torchvision.ops
    except ImportError:
        pass
    else:
        table[torchvision.ops.stochastic_depth] = stochastic_depth
    for name in minicnn.__all__:
        value = getattr(torch, name, None)
        if callable(value) and callable(getattr(minicnn, name)) and not isinstance(value, type):
            table.setdefault(value, getattr(minicnn, name))
    return table


def max_pool2d_with_indices(*args, return_indices=True, **kwargs):
    """torch's ``F.max_pool2d_with_indices``, where ``return_indices=True`` dispatches: the pool and its indices."""
    return F.max_pool2d(*args, return_indices=True, **kwargs)


def adaptive_max_pool2d_with_indices(*args, return_indices=True, **kwargs):
    """torch's ``F.adaptive_max_pool2d_with_indices``: the pool and its indices."""
    return F.adaptive_max_pool2d(*args, return_indices=True, **kwargs)


WITH_INDICES = (max_pool2d_with_indices, adaptive_max_pool2d_with_indices)


def stochastic_depth(input, p, mode, training=True):
    """torchvision's ``ops.stochastic_depth``: in training, each sample (``mode='row'``) or the whole batch
    (``'batch'``) is zeroed with probability ``p`` and the rest scaled by ``1/(1 − p)``; else ``input``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"stochastic_depth: expected p in [0, 1], got {p}")
    if mode not in ("batch", "row"):
        raise ValueError(f"stochastic_depth: expected mode 'batch' or 'row', got {mode!r}")
    if not training or p == 0.0:
        return input
    from .rng import get_rng
    shape = (input.shape[0],) + (1,) * (input.ndim - 1) if mode == "row" else (1,) * input.ndim
    keep = (get_rng().random(shape) >= p).astype(input.dtype)
    return input * (keep / (1.0 - p) if p < 1.0 else keep)


def tensor_methods():
    """The Tensor methods a graph may call: minicnn's, by torch's name."""
    return {name for name in dir(Tensor) if not name.startswith("_")}


# --------------------------------------------------------------------------- the replay of a traced graph
class Ref:
    """An input of an instruction: the value the instruction ``index`` computed."""
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


def _resolve(template, values):
    if isinstance(template, Ref):
        return values[template.index]
    if isinstance(template, (tuple, list)):
        return type(template)(_resolve(t, values) for t in template)
    if isinstance(template, dict):
        return {k: _resolve(v, values) for k, v in template.items()}
    if isinstance(template, slice):
        return slice(_resolve(template.start, values), _resolve(template.stop, values),
                     _resolve(template.step, values))
    return template


class Traced(nn.Module):
    """A converted module whose forward is a recorded ``torch.fx`` graph, replayed on minicnn's ops.

    ``code`` is the forward as fx printed it (torch's own Python), for reading; ``program`` the
    instructions: ``(kind, target, args, kwargs)`` with ``kind`` one of ``input``, ``attr``,
    ``module``, ``function``, ``method``, ``output``.
    """

    def __init__(self, program, code, name):
        super().__init__()
        self.program, self.code, self.torch_name = program, code, name

    def forward(self, *inputs, **kw_inputs):
        values, inputs = [], list(inputs)
        for kind, target, args, kwargs in self.program:
            if kind == "input":
                name, default, has_default = target
                if inputs:
                    value = inputs.pop(0)
                elif name in kw_inputs:
                    value = kw_inputs.pop(name)
                elif has_default:
                    value = default
                else:
                    raise TypeError(f"{self.torch_name}.forward: missing the input {name!r}")
            elif kind == "attr":
                value = self._attribute(target)
            elif kind == "output":
                return _resolve(args, values)
            else:
                a, k = _resolve(args, values), _resolve(kwargs, values)
                if kind == "module":
                    value = _submodule(self, target)(*a, **k)
                elif kind == "function":
                    value = target(*a, **k)
                else:
                    value = getattr(a[0], target)(*a[1:], **k)
            values.append(value)
        raise RuntimeError(f"{self.torch_name}: the traced graph has no output")

    def _attribute(self, path):
        owner, _, name = path.rpartition(".")
        return getattr(_submodule(self, owner), name)

    def extra_repr(self):
        return f"traced from {self.torch_name}"


# --------------------------------------------------------------------------- conversion
def from_torch(module, example_input=None):
    """The minicnn Module that computes what ``module`` (a ``torch.nn.Module``) computes.

    Parameters
    ----------
    module : torch.nn.Module; its parameters and buffers are copied (in their dtype: call ``.double()``
        on it first for a float64 model), its train/eval mode kept
    example_input : optional array or torch tensor; when given, the converted model is run on it and
        compared with ``module`` (float64 or float32 tolerance), and ConversionError is raised if they
        differ: a check a user can ask for on their own model

    Returns
    -------
    minicnn.nn.Module with the same ``state_dict`` keys as ``module``.

    Raises
    ------
    TypeError for something that is not a torch Module; ConversionError naming the first module or op that
    cannot be mapped, and where it sits.
    """
    try:
        import torch
    except ImportError:
        raise ImportError("from_torch: needs torch (pip install 'minicnn[torch]')") from None
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    converter = _Converter(torch)
    converted = converter.convert(module, "")
    for name, m in module.named_modules():   # each module's own mode, as torch's
        _submodule(converted, name).training = m.training
    if example_input is not None:
        _check(torch, module, converted, example_input)
    return converted


class _Converter:
    def __init__(self, torch):
        self.torch = torch
        self.functions = _functions(torch)
        self.methods = tensor_methods()

    def convert(self, m, path):
        torch = self.torch
        where = path or "the model"
        if type(m) is torch.nn.ModuleList or type(m) is torch.nn.ModuleDict:
            kind = nn.ModuleList if isinstance(m, torch.nn.ModuleList) else nn.ModuleDict
            out = kind()
            for name, child in m.named_children():
                out.add_module(name, self.convert(child, _join(path, name)))
            return out
        if isinstance(m, torch.nn.Sequential) and type(m).forward is torch.nn.Sequential.forward:
            out = nn.Sequential()
            for name, child in m.named_children():
                out.add_module(name, self.convert(child, _join(path, name)))
            self._copy_own(m, out, where)
            return out
        if type(m).__module__.startswith("torch.nn.modules"):
            return self.layer(m, where)
        return self.traced(m, path, where)

    def layer(self, m, where):
        """A torch.nn layer as minicnn's layer of the same name, from the torch layer's attributes."""
        name = type(m).__name__
        cls = getattr(nn, name, None)
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise ConversionError(f"from_torch: {where} is torch.nn.{name}, which minicnn does not have "
                                  f"(docs/api.md lists its layers)")
        try:
            kwargs = constructor_kwargs(cls, m, where)
        except StructureError as exc:
            raise ConversionError(f"from_torch: {exc}") from None
        try:
            out = cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ConversionError(f"from_torch: {where} ({name}): minicnn's {name} refuses its arguments "
                                  f"({exc})") from None
        self._copy_state(m, out, where)
        return out

    def traced(self, m, path, where):
        import torch.fx
        # the children first, so that a refusal inside one names its own path
        children = [(name, self.convert(child, _join(path, name))) for name, child in m.named_children()]
        try:
            graph = torch.fx.Tracer().trace(m)
        except Exception as exc:
            raise ConversionError(f"from_torch: {where} ({type(m).__qualname__}): torch.fx cannot trace its forward "
                                  f"({type(exc).__name__}: {' '.join(str(exc).split())[:300]})") from None
        program, index = [], {}

        def ref(a):
            return torch.fx.node.map_arg(a, lambda n: Ref(index[n]))

        for node in graph.nodes:
            at = f"{where}: {node.format_node()}"
            if node.op == "placeholder":
                has_default = bool(node.args)
                program.append(("input", (node.target, node.args[0] if has_default else None, has_default), (), {}))
            elif node.op == "get_attr":
                program.append(("attr", node.target, (), {}))
            elif node.op == "call_module":
                program.append(("module", node.target, ref(node.args), ref(node.kwargs)))
            elif node.op == "call_function":
                fn = self.functions.get(node.target)
                if fn is None:
                    raise ConversionError(f"from_torch: {at}: minicnn has no {_name(node.target)}")
                program.append(("function", fn, ref(node.args), ref(node.kwargs)))
            elif node.op == "call_method":
                if node.target not in self.methods:
                    raise ConversionError(f"from_torch: {at}: minicnn's Tensor has no method {node.target}")
                program.append(("method", node.target, ref(node.args), ref(node.kwargs)))
            elif node.op == "output":
                program.append(("output", None, ref(node.args[0]), {}))
                break
            index[node] = len(program) - 1
        out = Traced(program, torch.fx.GraphModule(m, graph).code.strip(), type(m).__qualname__)
        for name, child in children:
            out.add_module(name, child)
        self._copy_own(m, out, where)
        return out

    def _copy_own(self, m, out, where):
        """The parameters and buffers ``m`` holds itself (not in a child), as ``out``'s own."""
        for name, p in m._parameters.items():
            if p is not None:
                out.register_parameter(name, nn.Parameter(p.detach().numpy().copy()))
        for name, b in m._buffers.items():
            if b is not None:
                out.register_buffer(name, b.detach().numpy().copy(), name not in m._non_persistent_buffers_set)

    def _copy_state(self, m, out, where):
        theirs = {k: v.detach().numpy() for k, v in m.state_dict().items()}
        ours = out.state_dict()
        if set(theirs) != set(ours):
            raise ConversionError(f"from_torch: {where} ({type(m).__name__}): state_dict keys {sorted(theirs)} "
                                  f"against minicnn's {sorted(ours)}")
        dtype = next((v.dtype for v in theirs.values() if v.dtype.kind == "f"), None)
        if dtype is not None:
            out.to(dtype)
        out.load_state_dict(theirs)


def _submodule(root, path):
    for part in filter(None, path.split(".")):
        root = root._modules[part]
    return root


def _join(path, name):
    return f"{path}.{name}" if path else name


def _name(target):
    module = getattr(target, "__module__", None) or ""
    return f"{module}.{getattr(target, '__name__', repr(target))}".lstrip(".")


def _check(torch, module, converted, example_input):
    x = example_input.detach().numpy() if isinstance(example_input, torch.Tensor) else np.asarray(example_input)
    with torch.no_grad():
        expected = module(torch.from_numpy(np.array(x))).numpy()
    from .autograd import no_grad
    with no_grad():
        got = converted(Tensor(x)).array
    tol = 1e-10 if got.dtype == np.float64 else 1e-4
    scale = max(float(np.abs(expected).max()), 1e-30)
    if got.shape != expected.shape or not float(np.abs(got - expected).max()) <= tol * scale:
        raise ConversionError(f"from_torch: the converted model's output differs from torch's on example_input "
                              f"(shape {got.shape} against {expected.shape})")


def load_state_dict_from_torch(path):
    """A ``torch.save``d state_dict as ``{key: ndarray}``, read with torch's ``weights_only=True`` loader
    (no code is unpickled; :func:`minicnn.load`); load it into the matching minicnn model with
    ``model.load_state_dict``."""
    from .serialize import load
    try:
        state = load(path)
    except ValueError as exc:
        raise ValueError(f"load_state_dict_from_torch: {str(exc).removeprefix('load: ')}") from None
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise ValueError(f"load_state_dict_from_torch: {path}: expected a state_dict (a dict of tensors), got "
                         f"{type(state).__name__}")
    return dict(state)


def save_converted(module, path):
    """Write a converted model (:func:`from_torch`) as a checkpoint: its ``state_dict`` and its module tree
    (:func:`minicnn.structure.describe`), atomically and without pickle.  ``minicnn evaluate``,
    ``predict`` and ``lab`` read it as any checkpoint, and so does :func:`minicnn.classify.load_model`,
    without torch.  Returns the path written."""
    from .checkpoint import save_checkpoint
    from .structure import describe
    record = describe(module)
    return save_checkpoint(path, {k: np.asarray(v) for k, v in module.state_dict().items()}, model=record)
