"""Grading one exercise: load the learner's file, plug their functions in, run the stages in order and stop
at the first failure (:func:`check_exercise`); and the report a learner reads (:func:`report`)."""
import dataclasses
from pathlib import Path

import numpy as np

from . import engine_checks, optim_checks, specs, stages
from .catalog import BY_NAME, Exercise, find
from .grading import Failure, Learner, diagnose
from .mistakes import MISTAKES
from .workbook import LoadError, load_file

EXAMPLES = 50   # hypothesis draws per agreement stage (after the hard cases): seconds, not minutes


@dataclasses.dataclass
class Result:
    exercise: object
    status: str                 # "passed", "failing", "not started", "missing", "waiting"
    stage: str = None           # where it failed
    passed: list = dataclasses.field(default_factory=list)   # one line per stage passed
    message: str = None
    looks_like: str = None

    @property
    def ok(self):
        return self.status == "passed"

    def summary(self):
        """One line for the progress table."""
        if self.status == "failing":
            return f"failing at {self.stage}"
        if self.status == "waiting":
            return f"waiting for {self.stage}"
        return self.status


def _kernel_spec(name):
    return {"linear": specs.linear_spec, "relu": specs.relu_spec, "cross_entropy": specs.cross_entropy_spec,
            "max_pool2d": specs.max_pool2d_spec, "avg_pool2d": specs.avg_pool2d_spec,
            "batch_norm": specs.batch_norm_spec, "dropout": specs.dropout_spec}[name]()


def _functions(module, exercise, path):
    missing = [f for f in exercise.functions if not callable(getattr(module, f, None))]
    if missing:
        raise Failure(f"{Path(path).name} defines no function {missing[0]}: keep the workbook's signature")
    return {f: getattr(module, f) for f in exercise.functions}


def _kernel_pair(spec, learner, forward, backward):
    fwd, bwd = learner.wrap(forward, spec.forward), backward and learner.wrap(backward, spec.backward)
    overrides = {spec.forward: fwd, **({spec.backward: bwd} if bwd else {})}
    return stages.Pair(fwd, bwd, spec.forward, spec.backward, overrides)


def _im2col_pair(learner, fns):
    im2col, col2im = learner.wrap(fns["im2col"], "im2col"), learner.wrap(fns["col2im"], "col2im")

    def forward(x, kernel_size, stride, padding):
        return im2col(x, kernel_size, stride, padding), (x.shape, kernel_size, stride, padding)

    def backward(dcols, cache):
        x_shape, kernel_size, stride, padding = cache
        return col2im(dcols, x_shape, kernel_size, stride, padding)
    return stages.Pair(forward, backward, "im2col", "col2im")


def plan(exercise, fns, learner, extra):
    """The stages of ``exercise`` as (name, callable) pairs, and its known mistakes."""
    name = exercise.name
    if name in optim_checks.EXERCISES:
        ex = optim_checks.EXERCISES[name]
        fn = learner.wrap(fns[ex.function])
        return [("contract", lambda: optim_checks.contract(ex, fn)),
                ("steps by hand", lambda: optim_checks.by_hand(ex, fn)),
                ("torch agreement", lambda: optim_checks.agreement(ex, fn, extra["examples"]))], ex.mistakes()
    if name == "engine":
        wrapped = {f: learner.wrap(fn) for f, fn in fns.items()}
        return [("contract", lambda: engine_checks.contract(wrapped)),
                ("graphs", lambda: engine_checks.semantics(wrapped)),
                ("torch agreement", lambda: engine_checks.agreement(wrapped, extra["examples"]))], []
    if name == "im2col":
        spec, pair, opinfo = specs.im2col_spec(), _im2col_pair(learner, fns), stages.im2col_opinfo
    elif name == "conv2d_forward":
        spec = specs.conv2d_spec(forward_only=True)
        pair, opinfo = _kernel_pair(spec, learner, fns["conv2d_forward"], None), stages.opinfo
    elif name == "conv2d_backward":
        spec = specs.conv2d_spec(forward_only=False)
        pair, opinfo = _kernel_pair(spec, learner, extra["conv2d_forward"], fns["conv2d_backward"]), stages.opinfo
    else:
        spec = _kernel_spec(name)
        pair, opinfo = _kernel_pair(spec, learner, fns[spec.forward], fns[spec.backward]), stages.opinfo
    steps = [("contract", lambda: stages.contract(spec, pair))]
    if not spec.forward_only:
        steps.append(("central differences", lambda: stages.gradient_check(spec, pair)))
    steps += [("torch agreement", lambda: stages.agreement(spec, pair, extra["examples"])),
              ("OpInfo samples", lambda: opinfo(spec, pair))]
    return steps, MISTAKES[spec.op]()


def check_exercise(folder, exercise, examples=EXAMPLES, known=None):
    """Grade ``exercise`` of the workbook in ``folder``: a :class:`Result` (never raises for the learner's code).

    ``exercise``: an :class:`~minicnn.exercises.catalog.Exercise` or its name (or number); ``known``: results of
    this run by name, for an exercise that runs with another's functions (conv's backward with the learner's
    forward); missing ones are checked first.
    """
    exercise = exercise if isinstance(exercise, Exercise) else find(exercise)
    try:   # the stages compare with torch and draw with hypothesis: say so before any stage, if one is missing
        import hypothesis  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"minicnn exercises: the checks compare with PyTorch and draw cases with hypothesis: "
                          f"pip install 'minicnn[torch,dev]' ({exc})") from None
    from ..testing import torch_threads
    folder = Path(folder)
    path = folder / exercise.file
    if not path.is_file():
        return Result(exercise, "missing", message=f"{path} is missing (a fresh workbook elsewhere has it: "
                                                   f"minicnn exercises init OTHER_FOLDER)")
    extra = {"examples": examples}
    for need in exercise.needs:
        needed = BY_NAME[need]
        result = (known or {}).get(need) or check_exercise(folder, needed, examples, known)
        if not result.ok:
            return Result(exercise, "waiting", needed.label,
                          message=f"needs exercise {needed.label} to pass first (its {', '.join(needed.functions)} "
                                  f"runs with yours): {result.summary()}")
        module = load_file(folder / needed.file)
        extra.update({f: getattr(module, f) for f in needed.functions})
    learner = Learner([folder / e.file for e in (exercise, *(BY_NAME[n] for n in exercise.needs))])
    try:
        fns = _functions(load_file(path), exercise, path)
    except LoadError as exc:
        return Result(exercise, "failing", "loading", message=str(exc))
    except Failure as failure:
        return Result(exercise, "failing", "loading", message=failure.message)
    steps, mistakes = plan(exercise, fns, learner, extra)
    result = Result(exercise, "passed")
    with torch_threads(1), np.errstate(all="ignore"):
        for stage, run in steps:
            try:
                result.passed.append(run())
            except Failure as failure:
                result.status, result.stage, result.message = "failing", stage, failure.message
                result.looks_like = diagnose(mistakes, failure)
                return result
            except Exception as exc:   # what the learner's functions returned broke the check itself
                text = " ".join(str(exc).split())[:300]
                result.status, result.stage = "failing", stage
                result.message = (f"the check raised {type(exc).__name__} on what your functions returned: {text} "
                                  f"(is every result an ndarray of numbers, of the shape the docstring says?)")
                return result
    return result


def report(result):
    """The lines a learner reads for ``result``."""
    head = f"{result.exercise.label}: "
    if result.status == "passed":
        return [head + "passed"] + [f"  ok    {line}" for line in result.passed]
    if result.status == "failing":
        lines = [head + f"FAILED at {result.stage}"]
        lines += [f"  ok    {line}" for line in result.passed]
        body = result.message.splitlines()
        lines += [f"  FAIL  {body[0]}"] + [f"      {line}" for line in body[1:]]
        if result.looks_like:
            lines.append(f"  looks like: {result.looks_like}")
        return lines
    return [head + result.status + (f" ({result.message})" if result.message and result.status != "not started"
                                    else "")]
