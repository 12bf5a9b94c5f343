"""``minicnn lab --kernels DIR``: the learner's kernels beside minicnn's in the Backprop view.

Each backprop request reads the learner's workbook afresh (an edit shows at the next Run): every
exercise file that is no longer its template supplies its kernels (the names of
:data:`~minicnn.exercises.catalog.KERNELS`), passing or not, since a wrong kernel is what this view
is for.  The same forward and backward is run a second time under ``kernels.use(theirs)`` on its own
copy of the model, and every step's values, gradients and parameter gradients are compared with
minicnn's: the first step whose relative difference is over :data:`TOLERANCE` is where the learner's
computation leaves minicnn's (and torch's: minicnn's own kernels are held to torch by the test suite).
"""
import numpy as np

from ..exercises.catalog import BY_NAME, KERNELS
from ..exercises.workbook import LoadError, load_file, require, untouched
from .arrays import LabError, decode

TOLERANCE = 1e-4   #: relative difference (float32 arithmetic in both) above which a step is marked as different


def learner_kernels(folder):
    """``{kernel name: function}`` from the workbook in ``folder``; LabError 400 for a file that does not
    import or a folder without a workbook (the message says which and where)."""
    try:
        folder = require(folder, "lab --kernels")
        overrides = {}
        for name, kernel_names in KERNELS.items():
            exercise = BY_NAME[name]
            if not (folder / exercise.file).is_file() or untouched(folder, exercise):
                continue
            module = load_file(folder / exercise.file)
            overrides.update({k: getattr(module, k) for k in kernel_names if callable(getattr(module, k, None))})
        return overrides
    except (ValueError, LoadError) as exc:
        raise LabError(400, f"your kernels: {exc}") from None


def _difference(ours, theirs):
    """max |theirs − ours| / max |ours| (an absolute difference where ours is all zero); inf on a shape change."""
    if ours is None or theirs is None:
        return 0.0 if ours is theirs else float("inf")
    a, b = decode(ours).astype(np.float64), decode(theirs).astype(np.float64)
    if a.shape != b.shape:
        return float("inf")
    if not np.isfinite(b).all():
        return float("inf")
    scale = np.abs(a).max() if a.size else 0.0
    diff = np.abs(b - a).max() if a.size else 0.0
    return float(diff / scale) if scale > 0 else float(diff)


def compare(ours, theirs):
    """The learner's run beside minicnn's: per step the learner's array and its relative difference.

    Returns ``{"steps": [{"difference", "own", "values" | "grad", "params": [{"name", "difference"}]}],
    "first_different": index or None, "culprit": str or None}`` (``own``: the difference of the step's
    array alone, ``difference`` with its parameters' gradients and the loss): ``culprit`` names the op that computed the
    first different array: the step's own op going forward; going backward, the op(s) that took this
    stage as input (their backward made the gradient arriving here), or the step's own for its parameters.
    """
    steps, first = [], None
    for i, (o, t) in enumerate(zip(ours, theirs)):
        key = "values" if o["phase"] == "forward" else "grad"
        diffs = [_difference(o.get(key), t.get(key))] if key in o else []
        params = [{"name": po["name"], "difference": _difference(po["values"], pt["values"])
                   if po["values"] is not None else abs(pt["norm"] - po["norm"]) / max(po["norm"], 1e-30)}
                  for po, pt in zip(o.get("params", []), t.get("params", []))]
        if o["op"] == "loss" and o["phase"] == "forward":
            diffs.append(abs(t["loss"] - o["loss"]) / max(abs(o["loss"]), 1e-30))
        difference = max(diffs + [p["difference"] for p in params], default=0.0)
        if first is None and difference > TOLERANCE:
            first = i
        steps.append({"difference": difference, "own": max(diffs, default=0.0), key: t.get(key), "params": params})
    return {"steps": steps, "first_different": first, "culprit": None if first is None else _culprit(ours, first, steps)}


def _culprit(ours, i, steps):
    step = ours[i]
    arriving = steps[i]["own"] > TOLERANCE   # else only its parameters' gradients differ: its own backward
    if step["phase"] == "forward" or not arriving:
        return f"{step['name']} ({step['op']}), {step['phase']}"
    users = [o["name"] for o in ours if o["phase"] == "backward" and step["name"] in o.get("inputs", [])]
    return f"{' and '.join(users) or step['name']}, backward (the gradient it passes to {step['name']})"


def error_result(exc):
    """What the page shows when the learner's kernel raised: the exception in one line."""
    text = " ".join(str(exc).split())
    return {"error": f"{type(exc).__name__}{f': {text}' if text else ''}", "steps": [], "first_different": None,
            "culprit": None}
