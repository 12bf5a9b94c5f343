"""Checkpoints and metrics on disk: written atomically, read without pickle.

A checkpoint is an ``.npz`` file holding the model's arrays under their
``state_dict`` names (``conv1.weight`` …) and the model's name and arguments
as a JSON string, readable by ``numpy.load(path, allow_pickle=False)`` and by
either backend.
"""
import dataclasses
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np


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
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(path):
    # Makes the rename itself durable; not every platform can open a folder.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


MODEL_KEY = "__model__"  # a 0-d string array: JSON {"name": ..., "kwargs": {...}}
DEFAULT_MODEL = {"name": "simplecnn", "kwargs": {}}  # what a checkpoint without a record holds


@dataclasses.dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns: the arrays and the model that holds them."""
    state_dict: dict
    model: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_MODEL))


def save_checkpoint(path, state_dict, model=None):
    """Write ``state_dict`` (name -> numeric array) to ``path`` as ``.npz``, atomically.

    ``model`` (``{"name": ..., "kwargs": {...}}``, JSON-serialisable) is stored beside
    the arrays as a JSON string, so ``minicnn evaluate`` can rebuild the network.
    """
    arrays = {}
    for name, value in state_dict.items():
        value = np.asarray(value)
        if value.dtype.kind not in "fiu":
            raise TypeError(f"save_checkpoint: {name} expected a numeric array, got dtype {value.dtype}")
        arrays[name] = value
    if model is not None:
        arrays[MODEL_KEY] = np.array(json.dumps({"name": model["name"], "kwargs": model.get("kwargs", {})}))
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


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint` (or ``numpy.savez``), without unpickling.

    Returns
    -------
    Checkpoint: ``state_dict`` (name -> ndarray) and ``model`` (``{"name", "kwargs"}``; SimpleCNN
    when the file has no record).  Raises CheckpointError naming what the file is instead: missing,
    text, a pickle, a zip of other things (a ``torch.save`` file), truncated, object arrays, or
    non-finite weights (naming the tensors).
    """
    path = Path(path)
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
    bad_dtype = [f"{n} ({v.dtype})" for n, v in state.items() if v.dtype.kind not in "fiu"]
    if bad_dtype:
        raise CheckpointError(f"checkpoint {path}: expected numeric arrays, got {', '.join(bad_dtype)}")
    bad = [n for n, v in state.items() if v.dtype.kind == "f" and not np.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"checkpoint {path}: NaN or Inf in {', '.join(bad)}")
    return Checkpoint(state, model)


def _model_record(path, record):
    if record is None:
        return dict(DEFAULT_MODEL)
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
