"""A model's forward pass as a list of named stages: every intermediate Tensor the lab shows.

SimpleCNN is run op by op with its own parameters (:func:`simplecnn_stages`), so
the fused ``conv -> ReLU -> pool`` blocks show their three parts: conv1's 32
maps, their ReLU, pool1, and so on.  Any other model is run as it is, and the
output of each leaf module (a module without submodules: a ``Conv2d``, a
``ReLU``, a ``Linear`` …) is recorded as it comes out (:func:`record_modules`).

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
from ..models import SimpleCNN

# the op of a leaf module, by class name (unknown classes keep their own name and a generic formula)
MODULE_OPS = {"Conv2d": "conv", "Linear": "linear", "ReLU": "relu", "MaxPool2d": "pool", "Flatten": "flatten",
              "Conv2dReLUMaxPool2d": "fused", "Identity": "identity"}


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
    """
    name: str
    op: str
    tensor: Tensor
    filter: str | None = None
    params: tuple = ()
    summary: bool = True


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
        out.append(Stage(name, op, tensor, filter, params, summary))
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
# Held while hooks are put on or taken off a model, and by whoever copies a model another thread may be
# recording (``copy.deepcopy`` walks the hook dicts; a copy made meanwhile keeps hooks that record nothing).
HOOKS_LOCK = threading.Lock()


@contextlib.contextmanager
def record_modules(model):
    """Inside the block, every call of one of ``model``'s leaf modules on this thread appends
    ``(path, module, output)`` to the yielded list.

    A forward hook on each leaf module (``Module.register_forward_hook``), removed when the block
    ends; only the thread that opened the block records, so a training run beside it on the same
    model is not disturbed.
    """
    calls, me = [], threading.get_ident()

    def hook(name):
        def record(module, args, output):
            if threading.get_ident() == me and isinstance(output, Tensor):
                calls.append((name, module, output))
        return record

    leaves = {}
    for name, m in model.named_modules():
        if name and not m._modules:
            leaves.setdefault(id(m), (name, m))   # a module reachable by two paths: recorded once, by its first
    with HOOKS_LOCK:
        handles = [m.register_forward_hook(hook(name)) for name, m in leaves.values()]
    try:
        yield calls
    finally:
        with HOOKS_LOCK:
            for handle in handles:
                handle.remove()


def module_stages(model, x):
    """``model(x)`` with each leaf module's output as a stage (a module called twice gives two, ``relu#2``)."""
    with record_modules(model) as calls:
        output = model(x)
    out, seen, last_conv = [], {}, None
    for name, module, tensor in calls:
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name}#{seen[name]}"
        op = MODULE_OPS.get(type(module).__name__, type(module).__name__)
        params = tuple(f"{name}.{p}" for p, v in module._parameters.items() if v is not None)
        weight = module._parameters.get("weight")
        if weight is not None and weight.ndim == 4:
            last_conv = (f"{name}.weight", weight.shape[0])
        # a map whose channel count matches the last conv's came from that conv's filters
        filt = last_conv[0] if last_conv and tensor.ndim == 4 and tensor.shape[1] == last_conv[1] else None
        out.append(Stage(label, op, tensor, filt, params))
    if not out or out[-1].tensor is not output:
        out.append(Stage("output", "output", output))
    return out
