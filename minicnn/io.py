"""Checkpoints and metrics on disk: written atomically, read without pickle.

A checkpoint is an ``.npz`` file holding the model's arrays under their
``state_dict`` names (``conv1.weight`` …), readable by
``numpy.load(path, allow_pickle=False)`` and by either backend.
"""
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


def save_checkpoint(path, state_dict):
    """Write ``state_dict`` (name -> float array) to ``path`` as ``.npz``, atomically."""
    arrays = {}
    for name, value in state_dict.items():
        value = np.asarray(value)
        if value.dtype.kind != "f":
            raise TypeError(f"save_checkpoint: {name} expected a float array, got dtype {value.dtype}")
        arrays[name] = value
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint` (or ``numpy.savez``).

    Returns
    -------
    dict name -> ndarray.  Raises CheckpointError for a missing, non-npz or
    object-array file (nothing is unpickled).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise CheckpointError(f"checkpoint {path}: expected an .npz archive, got a single .npy array")
        with archive:
            state = {name: archive[name] for name in archive.files}
    except CheckpointError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        # not a zip, a bad CRC, truncated, or object arrays that would need pickle
        raise CheckpointError(f"checkpoint {path}: cannot be read as an .npz of arrays ({exc})") from None
    for name, value in state.items():
        if value.dtype.kind != "f":
            raise CheckpointError(f"checkpoint {path}: {name} expected a float array, got dtype {value.dtype}")
    return state


def write_json(path, obj):
    """Write ``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode()))
