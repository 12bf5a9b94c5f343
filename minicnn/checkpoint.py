"""Checkpoints and metrics on disk: written atomically, read without pickle.

A checkpoint is an ``.npz`` file holding the model's arrays under their
``state_dict`` names (``conv1.weight`` …) and the model's name and arguments
as a JSON string, readable by ``numpy.load(path, allow_pickle=False)`` and by
either backend.

A training checkpoint (``minicnn train`` writes one) holds, besides, the state
to resume the run: a tree of dicts, lists, numbers and arrays (the optimiser's
and scheduler's ``state_dict``, the RNG states, the data order …) packed by
:mod:`minicnn.serialize` into a JSON string under ``__training__`` and its
arrays under ``__training__.array_0``, ``__training__.array_1`` …; the tree's
``"format"`` entry is :data:`TRAINING_FORMAT`.
"""
import dataclasses
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from . import serialize
from .faults import crash_point


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or does not fit the model."""


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """Call ``write(fileobj)`` on a temp file beside ``path``, fsync, then rename over ``path``.

    If ``write`` raises, the temp file is removed and ``path`` is untouched: a check that
    fails inside ``write`` (a digest, say) leaves nothing behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would survive the rename
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        crash_point("write")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def _fsync_folder(folder):
    """Make the rename itself durable (a power cut after it keeps the new file); best effort."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_temp_files(path):
    """Delete the temp files :func:`atomic_write` left beside ``path`` when its process was killed.

    Returns the names removed.  Only call this when no other process is writing ``path``.
    """
    path = Path(path)
    stale = sorted(path.parent.glob(f".{path.name}.*.tmp"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return [tmp.name for tmp in stale]


MODEL_KEY = "__model__"  # a 0-d string array: JSON {"name": ..., "kwargs": {...}}
TRAINING_KEY = "__training__"  # a 0-d string array: serialize.pack's JSON; its arrays are TRAINING_KEY + ".array_N"
TRAINING_FORMAT = 1  # the "format" of the training tree this minicnn writes and reads


@dataclasses.dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns: the arrays, the model that holds them (``{"name", "kwargs"}``,
    or None for a plain state_dict that does not say), and the training state (a dict with ``"format"``)
    or None for a weights-only checkpoint."""
    state_dict: dict
    model: dict | None = None
    training: dict | None = None


def save_checkpoint(path, state_dict, model=None, training=None):
    """Write ``state_dict`` (name -> numeric array) to ``path`` as ``.npz``, atomically.

    ``model`` (``{"name": ..., "kwargs": {...}}``, JSON-serialisable) is stored beside
    the arrays as a JSON string, so ``minicnn evaluate`` can rebuild the network.
    ``training`` (a tree :func:`minicnn.serialize.pack` accepts) is stored with
    ``"format": TRAINING_FORMAT`` added, for :func:`load_checkpoint` to return.
    """
    arrays = {}
    for name, value in state_dict.items():
        value = np.asarray(value)
        if value.dtype.kind not in "fiu":
            raise TypeError(f"save_checkpoint: {name} expected a numeric array, got dtype {value.dtype}")
        if name == MODEL_KEY or name.startswith(TRAINING_KEY):
            raise ValueError(f"save_checkpoint: {name} is a name minicnn keeps for itself")
        arrays[name] = value
    if model is not None:
        arrays[MODEL_KEY] = np.array(json.dumps({"name": model["name"], "kwargs": model.get("kwargs", {})}))
    if training is not None:
        text, tree_arrays = serialize.pack({"format": TRAINING_FORMAT, **training}, prefix=f"{TRAINING_KEY}.array_")
        arrays[TRAINING_KEY] = np.array(text)
        arrays.update(tree_arrays)
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def _what_it_is(path):
    """A short description of a file that is not a minicnn checkpoint, from its first bytes."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"PK"):
        return None  # a zip: np.load will open it and its members are checked
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array, not an .npz archive"
    if head[:1] == b"\x80":
        return "a Python pickle (minicnn never unpickles files)"
    if not head:
        return "an empty file"
    try:
        if b"\x00" not in head:
            head.decode("utf-8")
            return "a text file, not an .npz archive"
    except UnicodeDecodeError:
        pass
    return "not an .npz archive (neither a zip nor a numpy file)"


def load_checkpoint(path, model=None, require_model=False):
    """Read a checkpoint written by :func:`save_checkpoint` (or ``numpy.savez``), without unpickling.

    Parameters
    ----------
    path : the ``.npz`` file
    model : str or dict, optional
        The model the arrays belong to (a name of ``minicnn.MODELS``, or ``{"name", "kwargs"}``), for a
        plain state_dict, which does not say (as a ``torch.save(model.state_dict())`` file does not).  A
        file that does say must say the same name.
    require_model : bool
        Refuse a file that does not say which model it holds when ``model`` is not given either (what
        a caller that rebuilds the network asks for).

    Returns
    -------
    Checkpoint: ``state_dict`` (name -> ndarray), ``model`` (``{"name", "kwargs"}``: the file's record,
    else ``model``, else None) and ``training`` (the unpacked training tree, or None).  Raises
    CheckpointError naming what the file is instead: missing, text, a pickle, a zip of other things
    (a ``torch.save`` file), truncated, object arrays, a training state of another format, non-finite
    weights or optimiser state (naming the tensors), another model than ``model``, or no model at all
    with ``require_model``.
    """
    path = Path(path)
    given = _given_model(model)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    what = _what_it_is(path)
    if what is not None:
        raise CheckpointError(f"checkpoint {path}: {what}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            others = [m for m in archive.zip.namelist() if not m.endswith(".npy")]
            if others:
                torch_hint = " (a torch.save file?)" if any(m.endswith("data.pkl") for m in others) else ""
                raise CheckpointError(f"checkpoint {path}: a zip archive but not a minicnn checkpoint{torch_hint}: "
                                      f"it holds {', '.join(others[:3])}" + (" …" if len(others) > 3 else ""))
            state = {name: archive[name] for name in archive.files}
    except CheckpointError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        # not a zip, a bad CRC, truncated, or object arrays that would need pickle
        raise CheckpointError(f"checkpoint {path}: cannot be read as an .npz of arrays ({exc})") from None
    model = _model_record(path, state.pop(MODEL_KEY, None))
    tree_arrays = {n: state.pop(n) for n in list(state) if n.startswith(f"{TRAINING_KEY}.")}
    training = _training_record(path, state.pop(TRAINING_KEY, None), tree_arrays)
    bad_dtype = [f"{n} ({v.dtype})" for n, v in state.items() if v.dtype.kind not in "fiu"]
    if bad_dtype:
        raise CheckpointError(f"checkpoint {path}: expected numeric arrays, got {', '.join(bad_dtype)}")
    bad = [n for n, v in state.items() if v.dtype.kind == "f" and not np.isfinite(v).all()]
    bad += _nonfinite_in_tree(training, "training state")
    if bad:
        raise CheckpointError(f"checkpoint {path}: NaN or Inf in {', '.join(bad)}")
    if model is not None and given is not None and model["name"] != given["name"]:
        raise CheckpointError(f"checkpoint {path}: holds model {model['name']}, not {given['name']}")
    if model is None:
        model = given
    if model is None and require_model:
        raise CheckpointError(f"checkpoint {path}: a plain state_dict, with no record of its model; say which "
                              f"model it is (load_checkpoint(path, model=NAME); on the command line --model NAME)")
    return Checkpoint(state, model, training)


def _training_record(path, record, arrays):
    """The unpacked training tree (a dict with a known ``"format"``), or None when the file has none."""
    if record is None:
        if arrays:
            raise CheckpointError(f"checkpoint {path}: training arrays without their {TRAINING_KEY} record")
        return None
    try:
        tree = serialize.unpack(str(record), arrays)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: unreadable training state ({exc})") from None
    if not isinstance(tree, dict) or not isinstance(tree.get("format"), int):
        raise CheckpointError(f"checkpoint {path}: unreadable training state (no format number)")
    if tree["format"] != TRAINING_FORMAT:
        raise CheckpointError(f"checkpoint {path}: training state of format {tree['format']}; this minicnn "
                              f"reads format {TRAINING_FORMAT}")
    bad = [n for n, v in arrays.items() if v.dtype.hasobject]
    if bad:  # np.load refuses these already; kept for a mapping built otherwise
        raise CheckpointError(f"checkpoint {path}: object arrays in the training state")
    return tree


def _nonfinite_in_tree(node, where):
    """Paths of the float arrays and floats holding NaN or Inf in a training tree."""
    if isinstance(node, np.ndarray):
        return [where] if node.dtype.kind in "fc" and not np.isfinite(node).all() else []
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _nonfinite_in_tree(v, f"{where}[{k!r}]")]
    if isinstance(node, (list, tuple)):
        return [p for i, v in enumerate(node) for p in _nonfinite_in_tree(v, f"{where}[{i}]")]
    return []


def _given_model(model):
    """``model`` as ``{"name", "kwargs"}``, or None."""
    if model is None:
        return None
    if isinstance(model, str):
        return {"name": model, "kwargs": {}}
    if isinstance(model, dict) and isinstance(model.get("name"), str) and isinstance(model.get("kwargs", {}), dict):
        return {"name": model["name"], "kwargs": dict(model.get("kwargs", {}))}
    raise TypeError(f"load_checkpoint model: expected a model name or {{'name': str, 'kwargs': dict}}, got {model!r}")


def _model_record(path, record):
    if record is None:
        return None
    try:
        model = json.loads(str(record))
        if not isinstance(model.get("name"), str) or not isinstance(model.get("kwargs", {}), dict):
            raise ValueError("expected {'name': str, 'kwargs': dict}")
    except (ValueError, AttributeError) as exc:
        raise CheckpointError(f"checkpoint {path}: unreadable model record ({exc})") from None
    return {"name": model["name"], "kwargs": model.get("kwargs", {})}


def write_json(path, obj):
    """Write ``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode()))
