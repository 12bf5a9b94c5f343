"""Nested Python state as JSON plus named arrays: an ``.npz`` that loads without pickle.

An optimiser's or a scheduler's ``state_dict()`` is a tree of dicts (some with
int keys), lists, tuples, numbers, strings and arrays.  :func:`pack` splits it
into a JSON string with every array replaced by a reference, and the arrays
by name; :func:`unpack` puts it back together::

    text, arrays = pack(optimizer.state_dict())
    np.savez(path, tree=np.array(text), **arrays)
    with np.load(path, allow_pickle=False) as f:
        optimizer.load_state_dict(unpack(str(f["tree"]), f))

The JSON keeps every type that JSON alone would lose, so that
``unpack(*pack(tree))`` equals ``tree`` exactly:

===================  ==========================================  ===============
Python               JSON                                        note
===================  ==========================================  ===============
None, bool, int, str themselves
float                a number; ``{"float": "nan"}`` for nan/inf  repr round-trips
list                 a JSON list
tuple                ``{"tuple": [...]}``
dict                 ``{"dict": [[key, value], ...]}``           keys: str or int
ndarray              ``{"ndarray": name}``                       name in ``arrays``
===================  ==========================================  ===============

Anything else (a numpy scalar, a set, an object array) is refused with a
TypeError naming where it sits in the tree.
"""
import json
import math

import numpy as np

_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def pack(tree, prefix="array_"):
    """Split ``tree`` into ``(json_str, {name: ndarray})``.

    Parameters
    ----------
    tree : nested dict / list / tuple of None, bool, int, float, str, ndarray
    prefix : str
        Array names are ``prefix + "0"``, ``prefix + "1"`` … (choose one that
        does not clash with other arrays stored in the same file).

    Returns
    -------
    json_str : str
    arrays : dict name -> ndarray (the tree's own arrays, not copies)
    """
    arrays = {}

    def encode(node, path):
        if node is None or isinstance(node, (bool, str)):
            return node
        if type(node) is int:
            return node
        if isinstance(node, float):  # np.float64 is a float too
            value = float(node)
            return value if math.isfinite(value) else {"float": repr(value)}
        if isinstance(node, np.ndarray):
            if node.dtype.hasobject:
                raise TypeError(f"pack: {path} is an object array, which needs pickle")
            name = f"{prefix}{len(arrays)}"
            arrays[name] = node
            return {"ndarray": name}
        if isinstance(node, list):
            return [encode(v, f"{path}[{i}]") for i, v in enumerate(node)]
        if isinstance(node, tuple):
            return {"tuple": [encode(v, f"{path}[{i}]") for i, v in enumerate(node)]}
        if isinstance(node, dict):
            items = []
            for key, value in node.items():
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise TypeError(f"pack: {path} has a key {key!r} of type {type(key).__name__}; "
                                    f"expected str or int keys")
                items.append([key, encode(value, f"{path}[{key!r}]")])
            return {"dict": items}
        raise TypeError(f"pack: cannot encode {path}, a {type(node).__module__}.{type(node).__name__} "
                        f"(expected None, bool, int, float, str, list, tuple, dict or ndarray)")

    return json.dumps(encode(tree, "tree"), allow_nan=False), arrays


def unpack(json_str, arrays):
    """Rebuild the tree that :func:`pack` split into ``json_str`` and ``arrays``.

    Parameters
    ----------
    json_str : str
    arrays : mapping name -> ndarray (a dict, or the ``NpzFile`` of ``np.load``); extra names are ignored

    Raises
    ------
    TypeError
        ``json_str`` is not a str.
    ValueError
        Malformed JSON, an unknown tag, or an array name missing from ``arrays``.
    """
    if not isinstance(json_str, str):
        raise TypeError(f"unpack: expected the JSON as a str, got {type(json_str).__name__}")
    try:
        encoded = json.loads(json_str)
    except json.JSONDecodeError as exc:
        raise ValueError(f"unpack: malformed JSON ({exc})") from None

    def decode(node, path):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [decode(v, f"{path}[{i}]") for i, v in enumerate(node)]
        if not (isinstance(node, dict) and len(node) == 1):
            raise ValueError(f"unpack: {path} expected a value, a list or a one-key tag object, got {node!r}")
        (tag, body), = node.items()
        if tag == "tuple" and isinstance(body, list):
            return tuple(decode(v, f"{path}[{i}]") for i, v in enumerate(body))
        if tag == "dict" and isinstance(body, list):
            result = {}
            for item in body:
                if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))):
                    raise ValueError(f"unpack: {path} expected [key, value] pairs, got {item!r}")
                result[item[0]] = decode(item[1], f"{path}[{item[0]!r}]")
            return result
        if tag == "float" and body in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[body]
        if tag == "ndarray" and isinstance(body, str):
            if body not in arrays:
                raise ValueError(f"unpack: {path} refers to array {body!r}, which is missing")
            return np.asarray(arrays[body])
        raise ValueError(f"unpack: {path} has an unknown tag {tag!r} with {body!r}")

    return decode(encoded, "tree")


# --------------------------------------------------------------------------- torch.save / torch.load
FORMAT = "minicnn.save 1"   #: the marker save() writes beside the tree, so load() knows its own files


def _plain(node):
    """``node`` with every Tensor (a Parameter too) as its ndarray, for :func:`pack`."""
    from .autograd import Tensor
    if isinstance(node, Tensor):
        return node.array
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return type(node)(_plain(v) for v in node)
    return node


def save(obj, f):
    """torch's ``save`` for what a training program saves: a state_dict, an optimiser's, or a dict of them
    with numbers and strings (``{"epoch": 3, "model": model.state_dict(), ...}``), as an ``.npz`` that loads
    without pickle (:func:`pack`).  Tensors are stored as their arrays.  ``f``: a path (written atomically)
    or a binary file object.  Anything else (a Module, a function) is refused with a TypeError saying where."""
    text, arrays = pack(_plain(obj))

    def write(fileobj):
        np.savez(fileobj, **{"minicnn format": np.array(FORMAT), "tree": np.array(text)}, **arrays)

    if hasattr(f, "write"):
        write(f)
    else:
        from .checkpoint import atomic_write
        atomic_write(f, write)


def load(f, map_location=None, weights_only=True):
    """torch's ``load``: what :func:`save` wrote (arrays where it saved tensors), or a ``torch.save`` file
    read with torch's own ``weights_only=True`` loader where torch is installed (tensors as arrays).
    Nothing is unpickled by minicnn; ``map_location`` may only say the CPU, and ``weights_only=False``
    is refused (it would run the file's code)."""
    if weights_only is not True:
        raise ValueError("load: minicnn never unpickles a file; expected weights_only=True (torch's default)")
    if map_location not in (None, "cpu") and str(map_location) != "cpu":
        raise ValueError(f"load: minicnn runs on the CPU only; expected map_location None or 'cpu', got "
                         f"{map_location!r}")
    import zipfile
    try:
        with np.load(f, allow_pickle=False) as z:
            if isinstance(z, np.lib.npyio.NpzFile) and "minicnn format" in z.files:
                if str(z["minicnn format"]) != FORMAT:
                    raise ValueError(f"load: {f}: written by another minicnn format ({z['minicnn format']})")
                return unpack(str(z["tree"]), z)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError):
        pass   # not an npz of ours: perhaps torch's
    if hasattr(f, "seek"):
        f.seek(0)
    try:
        import torch
    except ImportError:
        raise ValueError(f"load: {f}: not a file minicnn.save wrote, and reading a torch.save file needs torch "
                         f"(pip install 'minicnn[torch]')") from None
    import pickle
    try:
        tree = torch.load(f, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError) as exc:
        raise ValueError(f"load: {f}: neither a minicnn.save file nor a torch.save file torch's weights_only "
                         f"loader reads ({' '.join(str(exc).split())[:160]})") from None

    def arrays(node):
        if isinstance(node, torch.Tensor):
            return node.detach().cpu().numpy()
        if isinstance(node, dict):
            return {k: arrays(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return type(node)(arrays(v) for v in node)
        return node
    return arrays(tree)
