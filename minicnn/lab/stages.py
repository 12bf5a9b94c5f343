"""A model's forward pass as a list of named stages: every intermediate Tensor the lab shows.

SimpleCNN is run op by op with its own parameters (:func:`simplecnn_stages`), so
the fused ``conv -> ReLU -> pool`` blocks show their three parts: conv1's 32
maps, their ReLU, pool1, and so on.  Any other model is run as it is, and the
output of each leaf module (a module without submodules: a ``Conv2d``, a
``ReLU``, a ``Linear`` …) and of each op between them (a functional ReLU, a
residual add, a flatten) is recorded as it comes out (:func:`record_modules`),
with the stages its inputs came from: the forward's real graph.

A :class:`Stage` is what one op made: its ``name``, the ``op`` (the key of the
formula in :mod:`minicnn.lab.formulas`), its output ``tensor`` and, for a stage
whose channels came from a convolution, ``filter``: the name of that conv's
weight, so that clicking a feature map can show the filter that made it.
"""
import contextlib
import dataclasses
import threading

from .. import functional as F
from ..autograd import Tensor
from ..autograd.engine import observe_ops
from ..models import SimpleCNN

# the op of a leaf module, by class name (unknown classes keep their own name and a generic formula)
MODULE_OPS = {"Conv2d": "conv", "Linear": "linear", "ReLU": "relu", "MaxPool2d": "pool", "Flatten": "flatten",
              "Conv2dReLUMaxPool2d": "fused", "Identity": "identity", "BatchNorm2d": "batch_norm",
              "BatchNormReLU2d": "batch_norm", "AvgPool2d": "avg_pool", "AdaptiveAvgPool2d": "adaptive_avg_pool",
              "Dropout": "dropout", "Tanh": "tanh", "Sigmoid": "sigmoid"}


@dataclasses.dataclass
class Stage:
    """One op's output in a forward pass.

    Attributes
    ----------
    name : str, e.g. ``"conv1"``, ``"pool1"`` or a module path ``"features.0"``
    op : str, ``"input"``, ``"conv"``, ``"relu"``, ``"pool"``, ``"flatten"``, ``"linear"``, ``"fused"`` …
    tensor : Tensor, shape (N, C, H, W) for maps or (N, F) for vectors
    filter : str or None, the state_dict name of the conv weight whose channels these are
    params : tuple of str, the state_dict names of this op's own parameters
    summary : bool, shown in the Draw view (the others, e.g. a conv before its ReLU, only in Backprop)
    inputs : tuple of str, the names of the stages whose outputs were this op's inputs
    """
    name: str
    op: str
    tensor: Tensor
    filter: str | None = None
    params: tuple = ()
    summary: bool = True
    inputs: tuple = ()


def stages(model, x):
    """The forward pass of ``model`` on ``x`` (N, 1, 28, 28) as a list of :class:`Stage`, input first.

    The last stage's tensor is the model's output (logits, (N, 10)).  Runs with
    whatever grad mode is current: under ``no_grad()`` for pictures, with grad
    (and ``retain_grad()`` on each stage) for the Backprop view.
    """
    first = Stage("input", "input", x if isinstance(x, Tensor) else Tensor.wrap(x))
    if isinstance(model, SimpleCNN):
        return [first] + simplecnn_stages(model, first.tensor)
    return [first] + module_stages(model, first.tensor)


def simplecnn_stages(model, x):
    """SimpleCNN (fused or not) op by op, on its own parameters: the same numbers as ``model(x)``."""
    out = []

    def add(name, op, tensor, filter=None, params=(), summary=True):
        out.append(Stage(name, op, tensor, filter, params, summary, (out[-1].name if out else "input",)))
        return tensor

    for i, conv in ((1, model.conv1), (2, model.conv2)):
        w = f"conv{i}.weight"
        x = add(f"conv{i}", "conv", F.conv2d(x, conv.weight, conv.bias, 1, conv.padding), w,
                (w, f"conv{i}.bias"), summary=False)
        x = add(f"relu{i}", "relu", F.relu(x), w)
        x = add(f"pool{i}", "pool", F.max_pool2d(x, 2), w)
    x = add("flatten", "flatten", x.flatten(1), summary=False)
    x = add("fc1", "linear", F.linear(x, model.fc1.weight, model.fc1.bias), params=("fc1.weight", "fc1.bias"),
            summary=False)
    x = add("relu3", "relu", F.relu(x))
    add("fc2", "linear", F.linear(x, model.fc2.weight, model.fc2.bias), params=("fc2.weight", "fc2.bias"))
    return out


# --------------------------------------------------------------------------- any other model
# the formula key of an op run outside any leaf module, by its Function's kernel name (or class name, lower case)
FUNCTION_OPS = {"conv2d": "conv", "linear": "linear", "relu": "relu", "max_pool2d": "pool", "avg_pool2d": "avg_pool",
                "adaptive_avg_pool2d": "adaptive_avg_pool", "batch_norm": "batch_norm",
                "batch_norm_relu": "batch_norm", "dropout": "dropout", "conv2d_relu_max_pool2d": "fused",
                "add": "add", "flatten": "flatten", "tanh": "tanh", "sigmoid": "sigmoid"}

# Held while hooks are put on or taken off a model, and by whoever copies a model another thread may be
# recording (``copy.deepcopy`` walks the hook dicts; a copy made meanwhile keeps hooks that record nothing).
HOOKS_LOCK = threading.Lock()


@contextlib.contextmanager
def record_modules(model):
    """Inside the block, each op this thread runs appends ``(name, op, module, inputs, output)`` to the
    yielded list, in the order they ran: the forward as a graph of stages.

    A leaf module (a ``Conv2d``, a ``BatchNorm2d`` …) is one entry, recorded by a forward hook
    (``Module.register_forward_hook``); the ops inside it are not.  An op run outside every leaf
    module (``F.relu`` in a forward, a residual ``out + shortcut``, ``x.flatten(1)``) is recorded by
    the engine's :func:`~minicnn.autograd.engine.observe_ops`, named after the module whose forward
    ran it (``layer1.0.add``; ``module`` is then None).  ``inputs`` are the input Tensors.  The hooks
    are removed when the block ends; only the thread that opened it records, so a training run beside
    it on the same model is not disturbed.
    """
    calls, me, path, inside = [], threading.get_ident(), [], [0]

    def enter(name, leaf):
        def pre(module, args):
            if threading.get_ident() == me:
                path.append(name)
                inside[0] += leaf
        return pre

    def leave(name, leaf):
        def post(module, args, output):
            if threading.get_ident() != me:
                return
            path.pop()
            inside[0] -= leaf
            if leaf and not inside[0] and isinstance(output, Tensor):
                calls.append((name, None, module, [a for a in args if isinstance(a, Tensor)], output))
        return post

    def op(function, args, output):
        if inside[0] or threading.get_ident() != me:
            return
        kind = getattr(function, "kernel", None) or function.__name__.lower()
        if kind == "reshape" and output.ndim == 2:
            kind = "flatten"
        where = next((p for p in reversed(path) if p), "")
        calls.append((f"{where}.{kind}" if where else kind, kind, None,
                      [a for a in args if isinstance(a, Tensor)], output))

    modules = {}
    for name, m in model.named_modules():
        modules.setdefault(id(m), (name, m))   # a module reachable by two paths: recorded once, by its first
    with HOOKS_LOCK:
        handles = []
        for name, m in modules.values():
            leaf = bool(name) and not m._modules
            handles += [m.register_forward_pre_hook(enter(name, leaf)), m.register_forward_hook(leave(name, leaf))]
    try:
        with observe_ops(op):
            yield calls
    finally:
        with HOOKS_LOCK:
            for handle in handles:
                handle.remove()


def _op_of(kind, module, output):
    if module is not None:
        return MODULE_OPS.get(type(module).__name__, type(module).__name__)
    return FUNCTION_OPS.get(kind, kind)


def module_stages(model, x):
    """``model(x)`` as stages: each leaf module's output and each op between them, in the order they ran.

    A name seen twice gets ``#2`` (a module called twice, two ``F.relu`` in one forward); each stage's
    ``inputs`` names the stages its input tensors came from ("input" for the image).
    """
    with record_modules(model) as calls:
        output = model(x)
    names = {id(x): "input"}
    out, seen, last_conv = [], {}, None
    for name, kind, module, inputs, tensor in calls:
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name}#{seen[name]}"
        params = () if module is None else tuple(f"{name}.{p}" for p, v in module._parameters.items()
                                                  if v is not None)
        weight = None if module is None else module._parameters.get("weight")
        if weight is not None and weight.ndim == 4:
            last_conv = (f"{name}.weight", weight.shape[0])
        # a map whose channel count matches the last conv's came from that conv's filters
        filt = last_conv[0] if last_conv and tensor.ndim == 4 and tensor.shape[1] == last_conv[1] else None
        sources = tuple(names[id(t)] for t in inputs if id(t) in names)
        names[id(tensor)] = label
        out.append(Stage(label, _op_of(kind, module, tensor), tensor, filt, params, inputs=sources))
    if not out or out[-1].tensor is not output:
        out.append(Stage("output", "output", output, inputs=(names.get(id(output), ""),)))
    return out
