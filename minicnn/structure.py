"""A converted model's structure as JSON, and the model rebuilt from it: checkpoints of ``from_torch`` models.

A model of :data:`minicnn.MODELS` is rebuilt from its name; a model that :func:`minicnn.from_torch` made has
no name, so its checkpoint carries its module tree instead (``{"name": "converted", "kwargs": {"structure":
...}}``, the record :func:`minicnn.checkpoint.save_checkpoint` stores), and ``minicnn evaluate``, ``predict``
and ``lab`` rebuild it with :func:`minicnn.models.build_model` as any other::

    converted = minicnn.from_torch(torch_model)
    minicnn.save_converted(converted, "runs/mine.npz")     # structure + weights, no pickle
    model = minicnn.load_converted("runs/mine.npz")          # or: minicnn evaluate runs/mine.npz

The tree holds, per module: a layer of ``minicnn.nn`` by class name with its constructor arguments (read
from the layer's attributes, which carry torch's argument names); ``Sequential``, ``ModuleList`` and
``ModuleDict`` with their children; a traced module (:class:`minicnn.convert.Traced`) with its recorded
program, each function named (``F.relu``, ``minicnn.flatten``, ``operator.add``) and looked up again only
among minicnn's own functions — reading a structure never imports or runs anything else.
"""
import builtins
import inspect
import json
import operator

import numpy as np

from . import nn
from .nn import functional as F

NAME = "converted"
FORMAT = "minicnn-structure-1"


class StructureError(ValueError):
    """A module tree that cannot be written (a module that is not minicnn's) or read back."""


# --------------------------------------------------------------------------- the functions a program may call
def functions():
    """``{name: callable}``: every function a traced program may call, by the name a structure stores — the
    operators and functions :func:`minicnn.from_torch` maps torch's to, and nothing that reads, writes or
    seeds (``minicnn.save``, ``manual_seed`` are not among them)."""
    import minicnn
    from .convert import WITH_INDICES, operators, stochastic_depth
    table = {f"operator.{fn.__name__}": fn for fn in operators()}
    table["builtins.getattr"] = builtins.getattr
    table.update({f"F.{n}": getattr(F, n) for n in dir(F) if not n.startswith("_") and callable(getattr(F, n))})
    table.update({f"minicnn.{n}": fn for n in minicnn.__all__ if callable(fn := getattr(minicnn, n))
                  and not isinstance(fn, type) and getattr(fn, "__module__", "").startswith("minicnn.autograd")})
    table["convert.stochastic_depth"] = stochastic_depth
    table.update({f"convert.{fn.__name__}": fn for fn in WITH_INDICES})
    return table


def _public(name, where):
    """A module path or attribute name a program may use: no part private or special (``__class__`` …)."""
    if not isinstance(name, str) or any(part.startswith("_") for part in name.split(".")):
        raise StructureError(f"{where}: refused name {name!r} (a structure names public attributes only)")
    return name


def constructor_kwargs(cls, layer, where):
    """The keyword arguments that build ``cls`` as ``layer`` is (a torch or a minicnn layer): each of
    ``cls.__init__``'s parameters read from the layer's attribute of that name (``bias`` as whether it has
    one); a required argument the layer does not hold raises StructureError."""
    kwargs = {}
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in ("device", "dtype"):
            continue
        if p.name == "bias" and "bias" in layer._parameters:
            kwargs["bias"] = layer.bias is not None
        elif p.name == "init" and cls.__name__ == "PReLU":
            continue   # only the initial value of the weight, which is copied
        elif hasattr(layer, p.name):
            value = getattr(layer, p.name)
            if type(value).__name__ == "Size":
                value = list(value)
            elif type(value).__module__.startswith("torch") and hasattr(value, "detach"):  # a torch tensor (a
                value = value.detach().cpu().numpy().copy()  # loss's class weights): its values, as minicnn's
            kwargs[p.name] = value
        elif p.default is inspect.Parameter.empty:
            raise StructureError(f"{where} ({cls.__name__}): minicnn's {cls.__name__} needs {p.name}, which the "
                                 f"layer does not hold")
    return kwargs


# --------------------------------------------------------------------------- writing
def describe(module):
    """The checkpoint record of ``module`` (a converted model): ``{"name": "converted", "kwargs":
    {"structure": json_text}}``.  StructureError for a module that is not built of minicnn's layers,
    containers and traced modules (a model class of your own is rebuilt from your code, not from a file)."""
    return {"name": NAME, "kwargs": {"structure": json.dumps({"format": FORMAT, "root": _node(module, "")})}}


def _node(m, path):
    from .convert import Traced
    where = path or "the model"
    kind = type(m)
    children = [[name, _node(child, f"{path}.{name}".lstrip("."))] for name, child in m._modules.items()]
    if kind in (nn.Sequential, nn.ModuleList, nn.ModuleDict):
        return {"container": kind.__name__, "children": children, "own": _own(m, where), "training": m.training}
    if kind is Traced:
        names = {id(fn): name for name, fn in functions().items()}
        program = [[k, _value(names[id(t)] if k == "function" else t, where), _value(a, where), _value(kw, where)]
                   for k, t, a, kw in m.program]
        return {"traced": m.torch_name, "code": m.code, "program": program, "children": children,
                "own": _own(m, where), "training": m.training}
    if getattr(nn, kind.__name__, None) is kind:
        floats = [np.asarray(v).dtype.name for v in m.state_dict().values() if np.asarray(v).dtype.kind == "f"]
        return {"layer": kind.__name__, "kwargs": _value(constructor_kwargs(kind, m, where), where),
                "training": m.training, "dtype": floats[0] if floats else None}
    raise StructureError(f"describe: {where} is a {kind.__qualname__}, not one of minicnn's layers, containers "
                         f"or a traced module: only a model from_torch made (or built of minicnn.nn) is described")


def _own(m, where):
    """The parameters and buffers ``m`` holds itself, with shapes and dtypes (their values are the
    checkpoint's arrays)."""
    out = [["parameter", n, list(p.shape), str(p.dtype)] for n, p in m._parameters.items() if p is not None]
    out += [["buffer", n, list(np.shape(b)), str(np.asarray(b).dtype), n not in m._non_persistent]
            for n, b in m._buffers.items() if b is not None]
    return out


def _value(v, where):
    """A program constant or argument as JSON: tagged lists for what JSON lacks."""
    from .convert import Ref
    if v is None or isinstance(v, (bool, str)) or type(v) in (int, float):
        return v
    if isinstance(v, Ref):
        return {"ref": v.index}
    if isinstance(v, (tuple, list)):
        return {"tuple" if isinstance(v, tuple) else "list": [_value(x, where) for x in v]}
    if isinstance(v, dict):
        return {"dict": [[k, _value(x, where)] for k, x in v.items()]}
    if isinstance(v, slice):
        return {"slice": [_value(v.start, where), _value(v.stop, where), _value(v.step, where)]}
    if v is Ellipsis:
        return {"ellipsis": True}
    if isinstance(v, np.dtype) or (isinstance(v, type) and issubclass(v, np.generic)):
        return {"dtype": np.dtype(v).name}
    raise StructureError(f"describe: {where}: a constant {type(v).__name__} {v!r:.60} cannot be written")


# --------------------------------------------------------------------------- reading
def rebuild(structure):
    """The model :func:`describe` wrote (``structure``: its JSON text), with fresh parameters of the stored
    shapes and dtypes; load the checkpoint's arrays into it."""
    try:
        tree = json.loads(structure)
        if tree.get("format") != FORMAT:
            raise StructureError(f"expected format {FORMAT!r}, got {tree.get('format')!r}")
        return _build(tree["root"], functions(), "the model")
    except StructureError as exc:
        raise StructureError(f"rebuild: {exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise StructureError(f"rebuild: unreadable structure ({type(exc).__name__}: {exc})") from None


def _build(node, table, where):
    from .convert import Traced, Ref
    if "layer" in node:
        cls = getattr(nn, node["layer"], None)
        if node["layer"] not in nn.__all__ or not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise StructureError(f"{where}: minicnn has no layer {node['layer']!r}")
        out = cls(**_decode(node["kwargs"], Ref, where))
        if node.get("dtype"):
            out.to(np.dtype(node["dtype"]))
        out.training = bool(node.get("training", True))
        return out
    if "container" in node:
        if node["container"] not in ("Sequential", "ModuleList", "ModuleDict"):
            raise StructureError(f"{where}: unknown container {node['container']!r}")
        out = getattr(nn, node["container"])()
    elif "traced" in node:
        from .convert import tensor_methods
        program, methods = [], tensor_methods()
        for kind, target, args, kwargs in node["program"]:
            if kind not in ("input", "attr", "module", "function", "method", "output"):
                raise StructureError(f"{where}: unknown instruction {kind!r}")
            args, kwargs = _decode(args, Ref, where), _decode(kwargs, Ref, where)
            if kind == "function":
                if target not in table:
                    raise StructureError(f"{where}: minicnn has no function {target!r}")
                if target == "builtins.getattr":
                    _public(args[1] if len(args) > 1 else None, where)
                target = table[target]
            elif kind == "method" and target not in methods:
                raise StructureError(f"{where}: minicnn's Tensor has no method {target!r}")
            elif kind in ("attr", "module"):
                target = _public(target, where)
            else:
                target = _decode(target, Ref, where)
            program.append((kind, target, args, kwargs))
        out = Traced(program, str(node["code"]), str(node["traced"]))
    else:
        raise StructureError(f"{where}: expected a layer, a container or a traced module")
    for name, child in node["children"]:
        out.add_module(_public(str(name), where), _build(child, table, f"{where}.{name}" if where != "the model" else name))
    for entry in node["own"]:
        kind, name, shape, dtype = entry[:4]
        name = _public(name, where)
        value = np.zeros(tuple(shape), np.dtype(dtype))
        if kind == "parameter":
            out.register_parameter(name, nn.Parameter(value))
        else:
            out.register_buffer(name, value, bool(entry[4]))
    out.training = bool(node.get("training", True))
    return out


def _decode(v, ref, where):
    if v is None or isinstance(v, (bool, str, int, float)):
        return v
    if isinstance(v, list):
        return [_decode(x, ref, where) for x in v]
    if isinstance(v, dict) and len(v) == 1:
        (tag, body), = v.items()
        if tag == "ref":
            return ref(int(body))
        if tag in ("tuple", "list"):
            items = [_decode(x, ref, where) for x in body]
            return tuple(items) if tag == "tuple" else items
        if tag == "dict":
            return {k: _decode(x, ref, where) for k, x in body}
        if tag == "slice":
            return slice(*(_decode(x, ref, where) for x in body))
        if tag == "ellipsis":
            return Ellipsis
        if tag == "dtype":
            return np.dtype(body).type
    raise StructureError(f"{where}: unreadable value {v!r:.60}")
