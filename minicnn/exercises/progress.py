"""``DIR/.progress.json``: the last result of each exercise, kept with the SHA-256 of the files it was graded
on, so ``minicnn exercises status`` re-runs only the checks whose files changed.  JSON, written atomically,
read back as plain data (a file that does not parse is ignored and rebuilt)."""
import json
from pathlib import Path

from .catalog import BY_NAME
from .workbook import digest

FILE = ".progress.json"
FORMAT = 1
GRADER = "1"   # bump when the checks change: every cached result is graded again


def _files(folder, exercise):
    names = [exercise.file] + [BY_NAME[n].file for n in exercise.needs]
    return {name: digest(Path(folder) / name) for name in names if (Path(folder) / name).is_file()}


def read(folder):
    """The cached entries by exercise name ({} when there is no valid file)."""
    try:
        tree = json.loads((Path(folder) / FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(tree, dict) or tree.get("format") != FORMAT or tree.get("grader") != GRADER \
            or not isinstance(tree.get("exercises"), dict):
        return {}
    return {name: entry for name, entry in tree["exercises"].items() if isinstance(entry, dict) and name in BY_NAME}


def cached(folder, exercise, entries):
    """The cached entry of ``exercise`` if its files are the ones it was graded on, else None."""
    entry = entries.get(exercise.name)
    if entry is None or entry.get("files") != _files(folder, exercise):
        return None
    return entry


def entry(folder, result):
    return {"status": result.status, "stage": result.stage, "summary": result.summary(),
            "message": (result.message or "").splitlines()[0] if result.message else None,
            "files": _files(folder, result.exercise)}


def record(folder, results):
    """Store ``results`` (a list of :class:`~minicnn.exercises.checks.Result`) over the cached ones."""
    from ..checkpoint import write_json
    entries = read(folder)
    entries.update({r.exercise.name: entry(folder, r) for r in results if r.status != "missing"})
    write_json(Path(folder) / FILE, {"format": FORMAT, "grader": GRADER, "exercises": entries})
