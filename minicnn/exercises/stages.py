"""The four stages of a kernel exercise's check, in order; each returns a line saying what it covered, or
raises :class:`~minicnn.exercises.grading.Failure`.

1. :func:`contract`: ``(out, cache)`` from the forward, gradients of the inputs' shapes and dtypes from the
   backward, float32 kept float32, no input or upstream gradient modified or returned.
2. :func:`gradient_check`: the backward against float64 central differences of the learner's own forward.
3. :func:`agreement`: the learner's kernels inside minicnn's op (``kernels.use``), forward and every
   gradient against torch in float64 (1e-10 relative) on hypothesis-drawn cases, the hard ones first.
4. :func:`opinfo`: the same on torch's own OpInfo sample inputs for the op, those the exercise covers.

``pair`` below is the learner's two functions with the kernel contract (``forward(*args) -> (out, cache)``,
``backward(dout, cache) -> gradients``) and the names messages call them by.
"""
import dataclasses
import functools
import inspect
from typing import Callable

import numpy as np

from ..testing import from_torch_sample
from .grading import (RTOL, Failure, Probe, check_array, compare, drawn, first_wrong, index_text, value_text,
                      values_text)

OPINFO_SAMPLES = 120    # at most this many of an op's OpInfo samples (evenly spread), so a check takes seconds
GRADCHECK_H = 1e-6


@dataclasses.dataclass
class Pair:
    forward: Callable
    backward: Callable
    forward_name: str
    backward_name: str
    overrides: dict = None   # for kernels.use: name -> function (None: run the pair directly)


# --------------------------------------------------------------------------- running one case
def _dout(spec, case, shape, dtype):
    rng = np.random.default_rng([case.seed, 99])   # its own stream: never the input's values
    if spec.dout is not None:
        return spec.dout(rng, shape, dtype)
    return np.asarray(rng.standard_normal(shape), dtype=dtype)


def torch_results(spec, case, backward=True):
    """torch's output and (with ``backward``) gradients for ``case``, and the upstream gradient it used."""
    import torch
    tensors = {name: torch.from_numpy(np.array(a, copy=True)).requires_grad_(backward)
               for name, a in case.arrays.items() if a is not None}
    out = spec.torch_fn(case, tensors)
    ref = {"out": out.detach().numpy().copy()}
    if backward:
        dout = _dout(spec, case, ref["out"].shape, ref["out"].dtype)
        out.backward(torch.from_numpy(np.array(dout, copy=True)))
        for name, t in tensors.items():
            ref[name] = t.grad.numpy().copy() if t.grad is not None else np.zeros(tuple(t.shape), ref["out"].dtype)
        ref["dout"] = dout
    return ref


def minicnn_results(spec, case, pair, dout, backward=True):
    """The learner's kernels inside minicnn's op (``kernels.use``), or the pair called directly where the
    exercise is no op of minicnn's (im2col)."""
    if pair.overrides is None:
        out, cache = pair.forward(*case.forward_args())
        got = {"out": out}
        if backward:
            got.update(named_gradients(spec, pair, pair.backward(dout, cache), case))
        return got
    import minicnn
    from .. import kernels
    from ..autograd import no_grad
    tensors = {name: minicnn.Tensor(a, requires_grad=backward) for name, a in case.arrays.items() if a is not None}
    try:
        with kernels.use(pair.overrides):
            if backward:
                out = spec.minicnn_fn(case, tensors)
                out.backward(dout)
            else:
                with no_grad():
                    out = spec.minicnn_fn(case, tensors)
    except Failure:
        raise
    except Exception as exc:
        raise Failure(f"minicnn's {spec.op} op on your kernels raised {type(exc).__name__}: "
                      f"{' '.join(str(exc).split())[:300]}") from None
    got = {"out": out.array}
    got.update({name: t.grad for name, t in tensors.items()})
    return got


def named_gradients(spec, pair, result, case):
    """The backward's result by input name; Failure for a wrong count, or a gradient where None is due."""
    names = spec.results()
    if spec.single:
        if isinstance(result, tuple):
            raise Failure(f"{pair.backward_name} must return the gradient itself (an ndarray), got a tuple of "
                          f"{len(result)}")
        return {names[0]: result}
    expected = ", ".join(f"d{n}" if n else "None" for n in names)
    if not isinstance(result, tuple) or len(result) != len(names):
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        raise Failure(f"{pair.backward_name} must return a tuple ({expected}), got {got}")
    grads = {}
    for k, (name, grad) in enumerate(zip(names, result)):
        if name is None or case.arrays.get(name, 0) is None:
            if grad is not None:
                what = f"result {k + 1}" if name is None else f"d{name}"
                why = "" if name is None else f" (the forward had no {name})"
                raise Failure(f"{pair.backward_name}: {what} must be None{why}, got {type(grad).__name__}")
            continue
        grads[name] = grad
    return grads


def _unchanged(what, args, before):
    for k, (a, b) in enumerate(zip(args, before)):
        if b is not None and not np.array_equal(a, b, equal_nan=True):
            index = first_wrong(a, b, 0.0)
            raise Failure(f"{what} modified its argument {k + 1} (of shape {b.shape}) in place"
                          f"{f', first at {index_text(index)}' if index else ''}: never write into what you "
                          f"are given")


def _not_alias(what, result, arrays):
    for a in arrays:
        if isinstance(result, np.ndarray) and isinstance(a, np.ndarray) and np.shares_memory(result, a):
            raise Failure(f"{what} returned (a view of) an array it was given: return a new array (a caller may "
                          f"change either)")


# --------------------------------------------------------------------------- 1. the contract
def _check_output(spec, pair, out, ref, dtype, probe):
    what = f"{pair.forward_name} {spec.out_name}"
    if spec.out_name == "loss":
        if isinstance(out, np.ndarray) and out.ndim == 0:
            out = out[()]
        if not isinstance(out, (float, np.floating)):
            raise Failure(f"{what}: expected a float (or a 0-d array), got {type(out).__name__}", probe, "out")
        return
    check_array(what, out, ref.shape, dtype, probe, "out")


def contract(spec, pair):
    """Stage 1 (see the module docstring); returns the line of what it covered."""
    for dtype, params in spec.contract:
        case = spec.build(dtype, **params)
        try:
            _contract_case(spec, pair, case, dtype)
        except Failure as failure:
            failure.message += f"\n    on {case.label} ({np.dtype(dtype).name})"
            raise
    dtypes = ", ".join(sorted({np.dtype(d).name for d, _ in spec.contract}))
    if pair.overrides is None:
        return (f"contract: {pair.forward_name} and {pair.backward_name} return new arrays, shapes and dtypes "
                f"({dtypes}), inputs untouched")
    what = "(out, cache)" if spec.forward_only else "(out, cache) and the gradients"
    return f"contract: {what}, shapes and dtypes ({dtypes}), inputs untouched"


def _contract_case(spec, pair, case, dtype):
    """One case of stage 1: the forward's and the backward's results, and what they must leave alone."""
    ref = torch_results(spec, case, backward=not spec.forward_only)
    probe = Probe(case.label, case.arrays, case.info, ref.get("dout"), ref, {})
    args = case.forward_args()
    before = [np.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in args]
    result = pair.forward(*args)
    if not isinstance(result, tuple) or len(result) != 2:
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        raise Failure(f"{pair.forward_name} must return a tuple (out, cache), got {got}")
    out, cache = result
    probe.got["out"] = out
    _check_output(spec, pair, out, ref["out"], np.dtype(dtype), probe)
    _unchanged(pair.forward_name, args, before)
    _not_alias(pair.forward_name, out, args)
    if spec.cache_check is not None:
        spec.cache_check(cache, case)
    if spec.forward_only:
        return
    dout = ref["dout"]
    dout_before = np.array(dout, copy=True)
    grads = named_gradients(spec, pair, pair.backward(dout, cache), case)
    probe.got.update(grads)
    for name, grad in grads.items():
        check_array(f"{pair.backward_name} d{name}", grad, case.arrays[name].shape, np.dtype(dtype), probe, name)
        _not_alias(pair.backward_name, grad, [dout, *args])
    _unchanged(pair.backward_name, [dout], [dout_before])
    _unchanged(pair.backward_name, args, before)


# --------------------------------------------------------------------------- 2. central differences
def gradient_check(spec, pair, threshold=1e-6):
    """Stage 2: every entry of every gradient against the central difference of the learner's forward."""
    from ..gradcheck import numeric_gradient
    checked = 0
    for params in spec.smooth:
        case = spec.build(np.float64, smooth=True, **params)
        ref = torch_results(spec, case)
        dout = ref["dout"]
        args = case.forward_args()
        out, cache = pair.forward(*args)
        grads = named_gradients(spec, pair, pair.backward(dout, cache), case)
        probe = Probe(case.label, case.arrays, case.info, dout, ref, dict(grads, out=out))
        for name in spec.arrays:
            array = case.arrays.get(name)
            if array is None:
                continue

            def loss():
                return float(np.sum(np.asarray(pair.forward(*args)[0], dtype=np.float64) * dout))
            numeric = numeric_gradient(loss, array, np.arange(array.size), GRADCHECK_H).reshape(array.shape)
            analytic = np.asarray(grads[name], dtype=np.float64)
            scale = max(float(np.abs(analytic).max(initial=0)), float(np.abs(numeric).max(initial=0)), 1e-300)
            with np.errstate(invalid="ignore"):
                bad = np.argwhere(~(np.abs(analytic - numeric) <= threshold * scale))
            if len(bad):
                index = tuple(bad[0])
                numeric_text, analytic_text = values_text(numeric[index], analytic[index])
                note = _forward_note(spec, pair, out, ref["out"])
                raise Failure(f"{pair.backward_name} d{name}{index_text(index)}: your backward gives {analytic_text}, "
                              f"central differences of your forward give {numeric_text}\n    on {case.label} "
                              f"(float64, h = {GRADCHECK_H:g}){note}", probe, name)
            checked += array.size
    return f"central differences: {checked} gradient entries (float64) match your forward"


def _forward_note(spec, pair, out, ref):
    """Where the learner's forward is not torch's either, say so: central differences test the backward
    against *their* forward."""
    out = np.asarray(out, dtype=np.float64)
    index = first_wrong(out, ref, RTOL) if out.shape == np.shape(ref) else None
    if index is None:
        return ""
    expected, got = values_text(np.asarray(ref)[index], out[index])
    return (f"\n    and your forward is not torch's either: {pair.forward_name} {spec.out_name}{index_text(index)} "
            f"expected {expected}, got {got}")


# --------------------------------------------------------------------------- 3. torch, on drawn cases
def _compare_case(spec, pair, case, backward):
    ref = torch_results(spec, case, backward)
    got = minicnn_results(spec, case, pair, ref.get("dout"), backward)
    probe = Probe(case.label, case.arrays, case.info, ref.get("dout"), ref, got)
    floors = {name: f(case) for name, f in spec.floor.items()}
    names = ["out"] + ([n for n in spec.arrays if case.arrays.get(n) is not None] if backward else [])
    for name in names:
        what = (f"{pair.forward_name} {spec.out_name}" if name == "out" else f"{pair.backward_name} d{name}")
        try:
            compare(what, np.asarray(got[name]) if np.isscalar(got[name]) else got[name], ref[name], RTOL,
                    probe=probe, tensor=name, floor=floors.get(name, 0.0))
        except Failure as failure:
            failure.message += f"\n    on {case.label}{_input_at(case, name, got[name], ref[name])}"
            raise


def _input_at(case, name, got, ref):
    """``, where x[i, j] = v``: the input entry at the first wrong element of its own gradient."""
    array = case.arrays.get(name)
    got = np.asarray(got)
    if name == "out" or array is None or got.shape != array.shape:
        return ""
    index = first_wrong(got, ref, RTOL)
    return "" if index is None else f", where {name}{index_text(index)} = {value_text(array[index])}"


def agreement(spec, pair, examples=50):
    """Stage 3: ``examples`` hypothesis-drawn cases after the hard ones, each against torch in float64."""
    backward = not spec.forward_only

    def check_one(**params):
        _compare_case(spec, pair, spec.build(np.float64, **params), backward)
    strategies = spec.strategies()
    ran = drawn(strategies, check_one, examples, complete(spec.build, strategies, spec.hard))
    what = "forward" if spec.forward_only else "forward and every gradient"
    return f"torch: {what} within {RTOL:g} on {len(spec.hard)} hard cases and {ran - len(spec.hard)} drawn ones " \
           f"(float64)"


def complete(build, strategies, cases):
    """Each hard case with every drawn parameter (hypothesis's explicit examples need them all), the ones it
    leaves out at ``build``'s defaults."""
    defaults = {k: p.default for k, p in inspect.signature(build).parameters.items() if p.default is not p.empty}
    return [{k: case.get(k, defaults.get(k)) for k in strategies} for case in cases]


# --------------------------------------------------------------------------- 4. torch's OpInfo samples
@functools.cache
def op_db():
    """torch's OpInfo table (``torch.testing._internal``; needs the small ``expecttest`` package), or None."""
    try:
        from torch.testing._internal.common_methods_invocations import op_db as db
    except Exception:   # ImportError (expecttest missing), or a torch without the internal module
        return None
    return db


def opinfo_samples(name, requires_grad):
    db = op_db()
    if db is None:
        return None
    import torch
    (info,) = [op for op in db if op.name == name and op.variant_test_name == ""]
    return info, list(info.sample_inputs("cpu", torch.float64, requires_grad=requires_grad))


def spread(items, limit):
    """At most ``limit`` of ``items``, evenly spaced (always the first)."""
    if len(items) <= limit:
        return items
    return [items[round(k * (len(items) - 1) / (limit - 1))] for k in range(limit)]


def describe(sample):
    import torch

    def short(v):
        return f"T{tuple(v.shape)}" if isinstance(v, torch.Tensor) else repr(v)
    return "(" + ", ".join([short(sample.input)] + [short(a) for a in sample.args]
                           + [f"{k}={short(v)}" for k, v in sample.kwargs.items()]) + ")"


def _run_sample(spec, sample, backward, overrides, g):
    """minicnn's op on the sample (on ``overrides`` or minicnn's own kernels): (outputs, leaf gradients)."""
    from .. import kernels
    from ..autograd import no_grad
    leaves = []
    args = from_torch_sample((sample.input,) + tuple(sample.args), leaves)
    kwargs = {k: from_torch_sample(v, leaves) for k, v in sample.kwargs.items()}
    with kernels.use("fast" if overrides is None else overrides):
        if not backward:
            with no_grad():
                return np.asarray(spec.functional(*args, **kwargs).array), []
        out = spec.functional(*args, **kwargs)
        out.backward(g)
    return out.array, [leaf.grad for _, leaf in leaves]


def opinfo(spec, pair):
    """Stage 4 (see the module docstring); the samples minicnn's own op refuses are not counted."""
    backward = not spec.forward_only
    if spec.opinfo is None:
        return f"OpInfo: torch has no sample inputs for {spec.op} that minicnn can match (its masks are its own)"
    found = opinfo_samples(spec.opinfo, backward)
    if found is None:
        return "OpInfo: skipped (torch's sample inputs need the expecttest package: pip install expecttest)"
    info, samples = found
    import torch
    scoped = [s for s in samples if spec.in_scope(s)]
    chosen, ran, refused = spread(scoped, OPINFO_SAMPLES), 0, 0
    rng = np.random.default_rng(0)
    for sample in chosen:
        theirs = info.op(sample.input, *sample.args, **sample.kwargs)
        ref = theirs.detach().numpy()
        g = rng.standard_normal(ref.shape)
        try:
            _run_sample(spec, sample, backward, None, g)
        except (ValueError, TypeError):
            refused += 1   # minicnn's own op refuses it: nothing to hold the learner's kernels to
            continue
        try:
            out, grads = _run_sample(spec, sample, backward, pair.overrides, g)
        except Failure as failure:
            failure.message += f"\n    on torch's OpInfo sample {spec.opinfo}{describe(sample)}"
            raise
        where = f"\n    on torch's OpInfo sample {spec.opinfo}{describe(sample)}"
        index = first_wrong(out, ref, RTOL) if np.shape(out) == ref.shape else ()
        if index is not None:
            raise Failure(_mismatch(f"{pair.forward_name} {spec.out_name}", out, ref, index) + where)
        if backward:
            leaves = [t for t in [sample.input, *sample.args, *sample.kwargs.values()]
                      if isinstance(t, torch.Tensor) and t.requires_grad]
            refs = torch.autograd.grad(theirs, leaves, torch.from_numpy(g), allow_unused=True)
            for t, got, want in zip(leaves, grads, refs):
                want = np.zeros(tuple(t.shape)) if want is None else want.numpy()
                got = np.zeros_like(want) if got is None else got
                index = first_wrong(got, want, RTOL) if np.shape(got) == want.shape else ()
                if index is not None:
                    raise Failure(_mismatch(f"{pair.backward_name}: the gradient of the input of shape "
                                            f"{tuple(t.shape)}", got, want, index) + where)
        ran += 1
    return f"OpInfo: {ran} of torch's samples agree" + _coverage(len(samples), len(scoped), len(chosen), refused)


def _coverage(total, scoped, chosen, refused=0):
    notes = [f"spread over the {scoped} this exercise covers" if chosen < scoped else "",
             f"{total - scoped} outside this exercise" if total > scoped else "",
             f"{refused} refused by minicnn" if refused else ""]
    notes = [n for n in notes if n]
    return f" ({'; '.join(notes)})" if notes else ""


def _mismatch(what, got, ref, index):
    if index == ():
        return f"{what}: shape {np.shape(got)}, expected {ref.shape}"
    return (f"{what}{index_text(index)}: expected {value_text(ref[index])} (torch), got "
            f"{value_text(np.asarray(got)[index])}")


def im2col_opinfo(spec, pair):
    """Stage 4 for im2col/col2im: torch's ``unfold`` samples (its backward is ``fold``, col2im)."""
    found = opinfo_samples("nn.functional.unfold", True)
    if found is None:
        return "OpInfo: skipped (torch's sample inputs need the expecttest package: pip install expecttest)"
    _, samples = found
    import torch

    from .specs import torch_im2col

    def arg(sample, k, name, default):
        return sample.kwargs.get(name, sample.args[k] if len(sample.args) > k else default)
    scoped = [s for s in samples if arg(s, 1, "dilation", 1) in (1, (1, 1)) and s.input.ndim in (3, 4)]
    rng, ran, chosen = np.random.default_rng(0), 0, spread(scoped, OPINFO_SAMPLES)
    for sample in chosen:
        kernel, padding, stride = arg(sample, 0, "kernel_size", 1), arg(sample, 2, "padding", 0), \
            arg(sample, 3, "stride", 1)
        x = sample.input.detach()[None] if sample.input.ndim == 3 else sample.input.detach()
        x = x.clone().requires_grad_(True)
        where = f"\n    on torch's OpInfo sample nn.functional.unfold{describe(sample)}"
        cols_t = torch_im2col(x, kernel, stride, padding)
        cols, cache = pair.forward(x.detach().numpy().copy(), kernel, stride, padding)
        want = cols_t.detach().numpy()
        index = first_wrong(cols, want, RTOL) if np.shape(cols) == want.shape else ()
        if index is not None:
            raise Failure(_mismatch(f"{pair.forward_name}", cols, want, index) + where)
        g = rng.standard_normal(want.shape)
        (dx_t,) = torch.autograd.grad(cols_t, [x], torch.from_numpy(g))
        dx = pair.backward(g, cache)
        index = first_wrong(dx, dx_t.numpy(), RTOL) if np.shape(dx) == tuple(x.shape) else ()
        if index is not None:
            raise Failure(_mismatch(f"{pair.backward_name}", dx, dx_t.numpy(), index) + where)
        ran += 1
    return f"OpInfo: {ran} of torch's unfold samples agree" + _coverage(len(samples), len(scoped), len(chosen))
