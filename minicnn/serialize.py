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
