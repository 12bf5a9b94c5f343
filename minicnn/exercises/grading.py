"""What every check shares: a failure a learner can act on, calling the learner's code, comparing arrays
element by element, recognising known mistakes, and running hypothesis inside the grader.

A check is a list of *stages* (the contract, central differences, torch on drawn shapes, torch's OpInfo
samples); each stage either returns a line saying what it covered or raises :class:`Failure`.  A failure
names the first wrong element (its index, the expected and the obtained value) and, where the wrong
numbers are those of a known mistake (:class:`Mistake`), says which.
"""
import contextlib
import dataclasses
import traceback
from pathlib import Path
from typing import Callable

import numpy as np

RTOL = 1e-10            # float64 agreement with torch, as minicnn's own tests
MATCH = 1e-7            # how close the learner's numbers must be to a known mistake's to be named after it


class Failure(Exception):
    """A check failed.  ``message``: what is wrong (first wrong element, expected, obtained); ``probe``: the
    case it failed on, for :func:`diagnose`; ``tensor``: which result was wrong (``"out"``, ``"x"``, ...)."""

    def __init__(self, message, probe=None, tensor=None):
        super().__init__(message)
        self.message, self.probe, self.tensor = message, probe, tensor


@dataclasses.dataclass
class Probe:
    """One case a check ran: the arrays and settings it gave, the upstream gradient, the reference results
    (torch's) and the learner's, each by name: ``"out"`` for the forward's output, the forward's array
    arguments' names (``"x"``, ``"weight"``, ``"bias"``...) for their gradients."""
    label: str
    arrays: dict
    params: dict
    dout: object = None
    ref: dict = dataclasses.field(default_factory=dict)
    got: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Mistake:
    """A known wrong version: ``wrong(probe)`` is the result it gives for ``tensor`` on that probe (None where
    it does not apply), or ``test(probe)`` says whether the learner's result fits the mistake's pattern."""
    tensor: str
    message: str
    wrong: Callable = None
    test: Callable = None


# --------------------------------------------------------------------------- the learner's code
class Learner:
    """The learner's files: where their frames are, so an exception is reported at their line."""

    def __init__(self, files=()):
        self.files = {str(Path(f).resolve()) for f in files}

    def where(self, exc):
        """``file.py:line`` of the deepest frame of ``exc``'s traceback in the learner's files (or '')."""
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if str(Path(f.filename).resolve()) in self.files]
        return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""

    @contextlib.contextmanager
    def running(self, what):
        """Turn an exception of the learner's code inside the block into a Failure naming ``what`` and the line."""
        try:
            yield
        except Failure:
            raise
        except NotImplementedError as exc:
            where = self.where(exc)
            raise Failure(f"not implemented: {what} raises NotImplementedError{f' ({where})' if where else ''}"
                          f"{f': {exc}' if str(exc) else ''}") from None
        except RecursionError as exc:
            raise Failure(f"{what} raised RecursionError ({self.where(exc) or 'deep recursion'}): the graph is "
                          f"deeper than Python's recursion limit; walk it with an explicit stack") from None
        except Exception as exc:
            where = self.where(exc)
            text = " ".join(str(exc).split())[:300]
            raise Failure(f"{what} raised {type(exc).__name__}{f' at {where}' if where else ''}: {text}") from None

    def wrap(self, fn, name=None):
        """``fn`` with its exceptions turned into Failures naming ``name`` (its own name by default)."""
        name = name or getattr(fn, "__name__", "your function")

        def wrapped(*args, **kwargs):
            with self.running(name):
                return fn(*args, **kwargs)
        wrapped.__name__ = name
        return wrapped


# --------------------------------------------------------------------------- comparing arrays
def index_text(index):
    return "[" + ", ".join(str(int(i)) for i in index) + "]" if len(index) else ""


def value_text(v, digits=6):
    v = float(v)
    return f"{v:.{digits}g}" if np.isfinite(v) else str(v)


def values_text(expected, got):
    """Both values with enough digits to show where they part (six at least)."""
    expected, got = float(expected), float(got)
    digits = 6
    if np.isfinite(expected) and np.isfinite(got) and expected != got and expected != 0:
        digits = int(min(17, max(6, np.ceil(-np.log10(abs(got - expected) / abs(expected))) + 2)))
    return value_text(expected, digits), value_text(got, digits)


def check_array(what, got, expected_shape, expected_dtype, probe=None, tensor=None):
    """Refuse anything but an ndarray of ``expected_shape`` and ``expected_dtype``."""
    if not isinstance(got, np.ndarray):
        raise Failure(f"{what}: expected an ndarray of shape {tuple(expected_shape)}, got "
                      f"{'None' if got is None else type(got).__name__}", probe, tensor)
    if got.shape != tuple(expected_shape):
        raise Failure(f"{what}: shape {got.shape}, expected {tuple(expected_shape)}", probe, tensor)
    if got.dtype != np.dtype(expected_dtype):
        why = " (a numpy float64 scalar, such as np.sqrt or np.float64 of a Python number, makes a float32 array " \
              "float64: keep Python floats, or use x.dtype.type(...))" if got.dtype == np.float64 else ""
        raise Failure(f"{what}: dtype {got.dtype}, expected {np.dtype(expected_dtype)}: compute in the dtype you "
                      f"were given{why}", probe, tensor)


def first_wrong(got, ref, rtol, floor=0.0):
    """The index of the first element (row-major) off by more than ``rtol`` times ``ref``'s largest
    magnitude (or ``floor``, if larger), or None."""
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        scale = max(float(np.nan_to_num(np.abs(ref), posinf=0.0).max(initial=0.0)), floor, np.finfo(np.float64).tiny)
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(got - ref) <= rtol * scale) & ~(np.isnan(got) & np.isnan(ref))
    hits = np.argwhere(bad)
    return tuple(hits[0]) if len(hits) else None


def compare(what, got, ref, rtol=RTOL, source="torch", probe=None, tensor=None, floor=0.0):
    """Shape, dtype, then values of ``got`` against ``ref``; Failure naming the first wrong element."""
    ref = np.asarray(ref)
    check_array(what, got, ref.shape, ref.dtype, probe, tensor)
    index = first_wrong(got, ref, rtol, floor)
    if index is None:
        return
    from ..testing import relative_error
    error = relative_error(got, ref, floor)
    expected, obtained = values_text(ref[index], got[index])
    raise Failure(f"{what}{index_text(index)}: expected {expected} ({source}), got {obtained} (relative error "
                  f"{error:.1e} > {rtol:g})", probe, tensor)


def distance(a, b):
    """``max|a - b|`` relative to ``b``'s largest magnitude; inf for another shape, a NaN or inf on one side only."""
    try:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        return np.inf
    if a.shape != b.shape:
        return np.inf
    both = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & (a == b))
    if (~np.isfinite(a) & ~both).any() or (~np.isfinite(b) & ~both).any():
        return np.inf
    a, b = np.where(both, 0.0, a), np.where(both, 0.0, b)
    scale = max(float(np.abs(b).max(initial=0.0)), np.finfo(np.float64).tiny)
    return float(np.abs(a - b).max(initial=0.0)) / scale


def close(a, b, rtol=MATCH):
    """``a`` equals ``b`` up to ``rtol`` of ``b``'s scale (shape first; NaNs and infinities where both have them)."""
    return distance(a, b) <= rtol


def _fits(mistake, probe, tensor):
    """True if ``probe``'s result for ``tensor`` is the one ``mistake`` gives: much closer to the mistake's
    numbers than to the right ones (within rounding of them), and the mistake's numbers are not right here."""
    got, ref = probe.got[tensor], probe.ref.get(tensor)
    try:
        if mistake.test is not None:
            return bool(mistake.test(probe))
        wrong = mistake.wrong(probe)
    except Exception:   # a mistake's formula that does not apply to this case (shapes, None inputs)
        return False
    if wrong is None or (ref is not None and distance(wrong, ref) <= 1e-12):
        return False    # this mistake gives the right answer here: it cannot be what went wrong
    rounding = 1e-5 if np.asarray(got).dtype == np.float32 else MATCH
    return distance(got, wrong) <= min(rounding, 1e-3 * (distance(got, ref) if ref is not None else np.inf))


def diagnose(mistakes, failure):
    """The message of the first mistake whose numbers the failing result has, or None.  The result that failed
    is tried first, then the forward's output (a backward checked against a wrong forward fails too)."""
    probe, tensor = failure.probe, failure.tensor
    if probe is None or tensor is None or tensor not in probe.got:
        return None
    for name in dict.fromkeys([tensor, "out"]):
        if name not in probe.got or (name != tensor and distance(probe.got[name], probe.ref.get(name, 0)) <= MATCH):
            continue
        for mistake in mistakes:
            if mistake.tensor == name and _fits(mistake, probe, name):
                return mistake.message
    return None


# --------------------------------------------------------------------------- hypothesis, inside the grader
def drawn(strategies, check_one, examples, explicit=()):
    """Run ``check_one(**params)`` on up to ``examples`` draws of ``strategies`` (a dict name -> strategy), after
    the ``explicit`` parameter dicts (the hard cases, always run first).  Returns how many cases passed, or
    raises the Failure of the smallest failing case hypothesis shrank to.

    Derandomised (the same draws every run), no example database written, no deadline, no output."""
    from hypothesis import HealthCheck, Phase, Verbosity, example, given, settings
    from hypothesis.errors import Flaky

    failures, passed = [], []

    def prop(**params):
        try:
            check_one(**params)
        except Failure as failure:
            failures.append(failure)
            raise
        passed.append(1)

    test = given(**strategies)(prop)
    for params in reversed(list(explicit)):   # the outermost example() runs first: apply the first one last
        test = example(**params)(test)
    test = settings(settings.get_profile("default"), max_examples=examples, derandomize=True, database=None,
                    deadline=None, verbosity=Verbosity.quiet, print_blob=False, report_multiple_bugs=False,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.generate, Phase.shrink])(test)
    try:
        test()
    except Flaky:
        last = failures[-1] if failures else None
        raise Failure("your functions gave different answers for the same input (do they keep state between "
                      "calls, or draw random numbers?)" + (f"; one of them: {last.message}" if last else "")) from None
    return len(passed)
