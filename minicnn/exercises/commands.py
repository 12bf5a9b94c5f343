"""What ``minicnn exercises init|check|status`` and ``minicnn train --kernels`` do, printing through ``out``."""
from pathlib import Path

from . import progress
from .catalog import BY_NAME, EXERCISES, KERNELS, TRAINING, find
from .checks import EXAMPLES, Result, check_exercise, report
from .workbook import init, load_file, require, untouched


class ExercisesFailed(Exception):
    """At least one checked exercise fails (the report above says where and why)."""


def init_command(folder, force=False, out=print):
    paths = init(folder, force)
    out(f"wrote {len(paths)} exercises into {folder}: {paths[0].name} ... {paths[-1].name}")
    out(f"start with {paths[0]}, then: minicnn exercises check {folder} {EXERCISES[0].name}")
    return paths


def _graded(folder, exercise, known, examples):
    if untouched(folder, exercise):
        return Result(exercise, "not started")
    return check_exercise(folder, exercise, examples, known)


def check_command(folder, name=None, train=False, examples=EXAMPLES, out=print, data_dir=None):
    """Grade one exercise (``name``) or every one that is started, print the report, cache the results.

    Raises ExercisesFailed when one fails (after printing it), ValueError for a folder without a workbook."""
    folder = require(folder, "check")
    chosen = [find(name)] if name is not None else EXERCISES
    known, failed = {}, []
    for exercise in chosen:
        result = check_exercise(folder, exercise, examples, known) if name is not None else \
            _graded(folder, exercise, known, examples)
        known[exercise.name] = result
        for line in report(result):
            out(line)
        if result.status in ("failing", "waiting", "missing") or (name is not None and not result.ok):
            failed.append(result)
    progress.record(folder, list(known.values()))
    if train:
        from .training import compare_training
        compare_training(kernels_for_training(folder, known, examples), out=out, data_dir=data_dir)
    if failed:
        first = failed[0]
        raise ExercisesFailed(f"exercise {first.exercise.label}: {first.summary()}"
                              + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""))
    return known


def _status(folder, exercise, known, entries, examples):
    """The status line of ``exercise``: this run's result, else the cached one while its files are unchanged,
    else a fresh check (added to ``known``)."""
    if exercise.name in known:
        return known[exercise.name].summary()
    if not (Path(folder) / exercise.file).is_file():
        return "missing"
    if untouched(folder, exercise):
        return "not started"
    entry = progress.cached(folder, exercise, entries)
    if entry is not None:
        return entry["summary"]
    known[exercise.name] = check_exercise(folder, exercise, examples, known)
    return known[exercise.name].summary()


def status_rows(folder, examples=EXAMPLES):
    """(exercise, status line) for every exercise; checks run again only where a file changed."""
    folder = require(folder, "status")
    entries, fresh = progress.read(folder), {}
    rows = [(exercise, _status(folder, exercise, fresh, entries, examples)) for exercise in EXERCISES]
    if fresh:
        progress.record(folder, list(fresh.values()))
    return rows


def status_command(folder, examples=EXAMPLES, out=print):
    rows = status_rows(folder, examples)
    width = max(len(e.label) for e, _ in rows)
    out(f"{'exercise':<{width}}  status")
    for exercise, status in rows:
        out(f"{exercise.label:<{width}}  {status}")
    done = sum(status == "passed" for _, status in rows)
    out(f"{done} of {len(rows)} passed" + ("" if done < len(rows) else ": every exercise done"))
    return rows


def kernels_for_training(folder, known=None, examples=EXAMPLES):
    """The learner's kernels for ``kernels.use``: every kernel exercise that passes; a ValueError naming the
    first of :data:`~minicnn.exercises.catalog.TRAINING` that does not (SimpleCNN runs on them all)."""
    folder = require(folder, "train --kernels")
    known, entries, overrides = dict(known or {}), progress.read(folder), {}
    for name, kernel_names in KERNELS.items():
        exercise = BY_NAME[name]
        status = _status(folder, exercise, known, entries, examples)
        if status != "passed":
            if name in TRAINING:
                raise ValueError(f"--kernels {folder}: exercise {exercise.label} is unfinished ({status}); SimpleCNN "
                                 f"runs on {', '.join(TRAINING)}: minicnn exercises check {folder} {name}")
            continue
        module = load_file(Path(folder) / exercise.file)
        overrides.update({k: getattr(module, k) for k in kernel_names})
    if known:
        progress.record(folder, list(known.values()))
    return overrides
