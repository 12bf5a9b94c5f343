"""The workbook on disk: writing it (atomically, never over a learner's file unless told to), finding it, and
loading a learner's file by its path, with a syntax or import error reported in one line at its line."""
import hashlib
import importlib.resources
import itertools
import os
import traceback
import types
from pathlib import Path

from .catalog import BY_NAME, EXERCISES

_loaded = itertools.count()


class LoadError(ValueError):
    """A learner's file that cannot be imported: ``file:line: SyntaxError: ...`` in one line."""


def template(exercise):
    """The text ``minicnn exercises init`` writes for ``exercise``."""
    return importlib.resources.files("minicnn.exercises.templates").joinpath(exercise.file).read_text()


def init(folder, force=False):
    """Write one file per exercise into ``folder`` (created if missing); returns their paths.

    Refuses (ValueError, nothing written) when any of them exists, unless ``force``: they hold the learner's
    work.  Each file is written atomically (a temp file renamed into place).
    """
    from ..checkpoint import atomic_write
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"exercises init: {folder} is a file, not a folder")
    existing = [folder / e.file for e in EXERCISES if (folder / e.file).exists()]
    if existing and not force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise ValueError(f"exercises init: {existing[0]} exists{more}; --force overwrites the workbook (and your "
                         f"work in it)")
    paths = []
    for exercise in EXERCISES:
        text = template(exercise).encode()
        paths.append(atomic_write(folder / exercise.file, lambda f, text=text: f.write(text)))
    return paths


def require(folder, command):
    """``folder`` as a Path if it holds a workbook, else a one-line ValueError saying how to start one."""
    folder = Path(folder)
    if not folder.is_dir():
        why = "no such folder" if not folder.exists() else "not a folder"
        raise ValueError(f"exercises {command}: no workbook in {folder} ({why}); start one with `minicnn exercises "
                         f"init {folder}`")
    if not any((folder / e.file).is_file() for e in EXERCISES):
        raise ValueError(f"exercises {command}: no workbook in {folder} (none of its files, such as "
                         f"{EXERCISES[0].file}); start one with `minicnn exercises init {folder}`")
    return folder


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def untouched(folder, exercise):
    """True while the learner's file is still the template."""
    path = Path(folder) / exercise.file
    return path.is_file() and path.read_bytes() == template(exercise).encode()


def load_file(path):
    """The module a learner's file defines, imported by path (a fresh module each call).

    Raises LoadError in one line, ``path:line: SyntaxError: message``, for a file that does not import.
    """
    path = Path(path)
    try:
        source = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(f"{path}: cannot be read ({exc})") from None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise LoadError(f"{path}:{exc.lineno}: {type(exc).__name__}: {exc.msg}") from None
    # not in sys.modules: each load is fresh, and hypothesis (which draws from the constants of the modules
    # there) draws the same cases whatever the learner's file holds
    module = types.ModuleType(f"minicnn_workbook_{path.stem}_{next(_loaded)}")
    module.__file__ = str(path)
    try:
        exec(code, vars(module))
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
        line = frames[-1].lineno if frames else 1
        text = " ".join(str(exc).split())
        raise LoadError(f"{path}:{line}: {type(exc).__name__}{f': {text}' if text else ''}") from None
    return module


def load(where, name):
    """The learner's module for exercise ``name``, from the workbook that holds ``where`` (a file in it, or the
    folder itself): how one exercise uses another's functions (``load(__file__, "im2col").im2col``)."""
    where = Path(where)
    folder = where if where.is_dir() else where.parent
    exercise = BY_NAME.get(name)
    if exercise is None:
        raise ValueError(f"exercises.load: no exercise {name!r}; expected one of {', '.join(BY_NAME)}")
    return load_file(folder / exercise.file)


def hypothesis_home():
    """Where hypothesis keeps its files during a check, unless ``$HYPOTHESIS_STORAGE_DIRECTORY`` says: the user's
    cache (``$XDG_CACHE_HOME/minicnn/hypothesis``), not a ``.hypothesis`` folder in the learner's working folder."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY") or os.path.join(cache, "minicnn", "hypothesis")
