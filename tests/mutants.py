"""The mutation gauntlet: planted wrong backward passes and optimiser steps, each of which a test must catch.

    python tests/mutants.py                 # every mutant; exit status 1 unless every one is caught
    python tests/mutants.py -k relu         # the mutants whose name contains "relu"
    python tests/mutants.py --list          # the table, without running anything

Each entry of the table below is one *wrong version* of one piece of the
differentiation: a kernel's backward (fast and naive twins alike: a broken
naive twin is as bad as a broken fast kernel, and the kernel-vs-naive tests must
see it), a Function of the engine (``minicnn/autograd/ops.py``) or the engine's
own accumulation, or an optimiser's update rule.  The mistakes are the ones
people make: a zero, negated or doubled gradient, the forward output or the
upstream gradient passed back, a dropped term (bias gradient, batch norm's
mean or variance term, one input of a two-input op), an off-by-one window, a
transposed or flipped weight gradient, col2im assigning where it must add, a
forgotten ReLU mask, a gradient sent to every tied maximum, the
``v = mu*v - lr*g`` momentum form, Adam without its bias corrections, and so on.
A "twin" mutant (``<kernel>+naive:<mistake>``) plants the same mistake in a
fast kernel and its naive twin at once: then the kernel-vs-naive tests agree
and only known values, gradient checks or torch can catch it.

For each mutant the runner (one forked child per mutant, so the imports of
numpy, numba, torch and hypothesis are paid once):

1. runs a *probe* on fixed inputs with the original code, swaps the mutant in,
   runs the probe again and refuses a mutant whose answer is the same (an
   equivalent mutant proves nothing);
2. runs the tests mapped to that op (kernel-vs-naive, known values, float64
   gradient checks, torch agreement, torch lockstep for optimisers) with
   ``pytest -x``, under a derandomised hypothesis profile without a database
   or shrinking, and records the first test that fails.  A failure raised
   inside this file (a transform that cannot run), or a TypeError, NameError,
   AttributeError from the mutant, counts as *broken*, not caught: only a
   test that fails on the mutant's numbers is evidence.

The run fails unless every mutant is caught, prints op x mutant x catching
test, and writes ``benchmarks/results/mutants.json``.  A first baseline run of
every selected test on the unmutated code must pass (otherwise a "catch" would
mean nothing); ``--no-baseline`` skips it.

How a mutant gets in.  Functional ops call ``ctx.kernels.<op>_backward`` where
``ctx.kernels`` is ``kernels.IMPLEMENTATIONS["fast"]`` or ``["naive"]``; tests
call ``kernels.<name>``; other kernels import their neighbours by name
(``fused.py`` imports ``conv2d_backward_naive``, ``norm.py`` calls
``relu_backward_naive``).  So a function is replaced by *identity*: in every
loaded ``minicnn`` module's globals and in both namespaces, wherever the
original object is found; the test modules are imported after the swap and
see the mutant through those attributes.  A Function's backward and an
optimiser's ``step`` are class attributes and are set on the class.  A
"source" mutant is the real function's source with one planted edit
(asserted to match exactly, so a refactor that moves the line fails the
harness loudly instead of silently testing nothing), compiled in the module's
namespace; numba kernels called from Python are recompiled the same way.

Why a hand-written table and not mutmut or cosmic-ray (mutmut 3.8 is
installable with pip here): those tools rewrite random operators and constants
across all 27k lines of Python (13k of them in ``minicnn/``) and report survivors by the thousand, most in argument
checks, messages and benchmarks, many equivalent; they have no notion of "a
wrong backward" and cannot plant a mistake that spans lines (an off-by-one
window, a dropped batch-norm term, momentum in the other form).  The review
asked for evidence that the gradient tests fail for the mistakes that matter;
this table names those mistakes, and its runtime fits CI: about 7.5 minutes for
the 1050 mutants on 2 cores (``-j 2``, the default there), baseline included.

One mutant by hand, through pytest (the same plugin, loaded by name)::

    MINICNN_MUTANT='relu_backward:negated' PYTHONPATH=tests python -m pytest -p mutants -x -q \\
        tests/test_kernels.py::test_relu_backward_equals_naive
"""
import argparse
import datetime
import functools
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "mutants.json"
ENV = "MINICNN_MUTANT"


# =========================================================================== swapping code
def _minicnn_modules():
    return [m for name, m in list(sys.modules.items()) if m is not None and
            (name == "minicnn" or name.startswith("minicnn."))]


def replace_everywhere(original, replacement):
    """Point every reference to ``original`` (module globals of minicnn, the kernel namespaces) at
    ``replacement``; returns how many were replaced (0 is an error: nothing would run the mutant)."""
    from minicnn import kernels as K
    count = 0
    for module in _minicnn_modules():
        for name, value in list(vars(module).items()):
            if value is original:
                setattr(module, name, replacement)
                count += 1
    for namespace in K.IMPLEMENTATIONS.values():
        for name, value in list(vars(namespace).items()):
            if value is original:
                setattr(namespace, name, replacement)
                count += 1
    if count == 0:
        raise RuntimeError(f"mutants: no reference to {original!r} found")
    return count


def _resolve(path):
    """``"minicnn.kernels.conv:col2im"`` or ``"minicnn.optim.sgd:SGD.step"`` -> (module, owner, attr, obj)."""
    import importlib
    module_name, qual = path.split(":")
    module = importlib.import_module(module_name)
    owner = module
    *outer, attr = qual.split(".")
    for part in outer:
        owner = getattr(owner, part)
    raw = vars(owner)[attr] if isinstance(owner, type) else getattr(owner, attr)
    return module, owner, attr, raw


def _install(owner, attr, raw, new):
    """Put ``new`` where ``raw`` was: on a class (as a staticmethod where the original was one), or, for
    a module-level function, wherever the function is referenced."""
    if isinstance(owner, type):
        setattr(owner, attr, staticmethod(new) if isinstance(raw, staticmethod) else new)
    else:
        replace_everywhere(raw, new)


def wrap(path, transform):
    """A mutant that calls the original and changes its result: ``transform(result, *args, **kwargs)``."""
    def apply():
        _, owner, attr, raw = _resolve(path)
        original = raw.__func__ if isinstance(raw, staticmethod) else raw

        @functools.wraps(original)
        def mutant(*args, **kwargs):
            result = original(*args, **kwargs)
            return _same_dtypes(transform(result, *args, **kwargs), result)
        mutant.__wrapped_original__ = original
        _install(owner, attr, raw, mutant)
    return apply


def replace(path, make):
    """A mutant written out: ``make(original) -> replacement`` (same signature)."""
    def apply():
        _, owner, attr, raw = _resolve(path)
        original = raw.__func__ if isinstance(raw, staticmethod) else raw
        _install(owner, attr, raw, make(original))
    return apply


def source(path, *edits):
    """A mutant that is the original's source with planted ``(old, new)`` edits, each ``old`` found exactly
    once (``(old, new, count)`` for several); numba kernels are recompiled (without the disk cache).

    The edited text is prepared in the runner's process right after the import (``apply.prepare``), so
    it is the source of the code that was imported, and an edit that no longer matches fails at once."""
    prepared = {}

    def prepare():
        if prepared:
            return prepared
        from numba.core.dispatcher import Dispatcher
        module, owner, attr, raw = _resolve(path)
        function = raw.__func__ if isinstance(raw, staticmethod) else raw
        is_numba = isinstance(function, Dispatcher)
        text = textwrap.dedent(inspect.getsource(function.py_func if is_numba else function))
        lines = text.splitlines(keepends=True)
        while lines[0].lstrip().startswith("@"):  # decorators: staticmethod / njit are re-applied below
            lines.pop(0)
        text = "".join(lines)
        for edit in edits:
            old, new, count = edit if len(edit) == 3 else (*edit, 1)
            found = text.count(old)
            if found != count:
                raise RuntimeError(f"mutants: {path}: expected {count} of {old!r} in the source, found {found}")
            text = text.replace(old, new)
        prepared.update(text=text, is_numba=is_numba)
        return prepared

    def apply():
        module, owner, attr, raw = _resolve(path)
        text, is_numba = prepare()["text"], prepared["is_numba"]
        namespace = {}
        exec(compile(text, f"<mutant of {path}>", "exec"), vars(module), namespace)
        new = namespace[attr]
        if is_numba:
            from numba import njit
            new = njit(nogil=True)(new)
        _install(owner, attr, raw, new)
    apply.prepare = prepare
    return apply


def _same_dtypes(new, old):
    """``new`` with each array in the dtype of ``old``'s at the same place: a mutant must be caught by its
    values, not by a dtype its float64 arithmetic changed."""
    def cast(a, b):
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype != b.dtype:
            return a.astype(b.dtype)
        return a
    if isinstance(new, tuple) and isinstance(old, tuple):
        return tuple(cast(a, b) for a, b in zip(new, old)) + new[len(old):]
    return cast(new, old)


# =========================================================================== result transforms
def _arrays(result):
    return [a for a in (result if isinstance(result, tuple) else (result,))]


def each(f, which=None):
    """Apply ``f`` to the arrays of a result (a tuple's entries ``which``, all by default; None stays None)."""
    def transform(result, *args, **kwargs):
        if not isinstance(result, tuple):
            return f(result)
        return tuple(r if r is None or (which is not None and k not in which) else f(r)
                     for k, r in enumerate(result))
    return transform


ZERO = each(np.zeros_like)
NEGATED = each(lambda a: -a)
DOUBLED = each(lambda a: a + a)


def first_is(f):
    """Replace a result's first entry (dx) by ``f(result, dout, cache, ...)``."""
    def transform(result, *args, **kwargs):
        if isinstance(result, tuple) and result[0] is None:   # no dx was asked for
            return result
        new = f(result, *args, **kwargs)
        return (new,) + result[1:] if isinstance(result, tuple) else new
    return transform


# the upstream gradient passed back unchanged (a copy: caught by its values, not by aliasing dout)
UPSTREAM = first_is(lambda result, dout, *a, **k: np.array(dout, copy=True))


def shifted(a, axis=-1):
    """Every gradient one cell over (an off-by-one window offset): np.roll along the last axis."""
    return np.roll(a, 1, axis=axis)


# =========================================================================== probes: does the mutant differ?
def _flat(result):
    out = []
    for r in _arrays(result):
        out.append(None if r is None else np.array(r, dtype=np.float64, copy=True))
    return out


def differs(before, after):
    if len(before) != len(after):
        return True
    for a, b in zip(before, after):
        if (a is None) != (b is None):
            return True
        if a is None:
            continue
        if a.shape != b.shape:
            return True
        if not np.allclose(a, b, rtol=1e-9, atol=1e-300, equal_nan=True):   # entry by entry
            return True
    return False


def _rng():
    return np.random.default_rng(1234)


def kernel_args(op, rng):
    """Fixed small arguments of kernel ``op``'s forward, geometry with overlaps, ties and exact zeros."""
    r = lambda *shape: rng.standard_normal(shape)  # noqa: E731
    if op == "conv2d":
        return (r(2, 3, 6, 5), r(4, 3, 3, 2), r(4), 1, 1)
    if op == "conv_transpose2d":  # 2 groups of 2 -> 2 channels; output_padding 1 of the height (stride 2)
        return (r(2, 4, 3, 4), r(4, 2, 3, 2), r(4), (2, 1), 1, (1, 0), 2, (1, 2))
    if op == "conv2d_relu_max_pool2d":
        return (r(2, 2, 6, 6), r(3, 2, 3, 3), r(3), 1)
    if op == "linear":
        return (r(3, 5), r(4, 5), r(4))
    if op == "max_pool2d":
        return (rng.integers(0, 3, (2, 2, 6, 6)).astype(np.float64), 3, 2, 1)
    if op == "max_unpool2d":
        from minicnn import kernels as K
        x = r(2, 2, 6, 6)
        pooled, (_, argmax, _) = K.max_pool2d_forward(x, 2)
        return (pooled, argmax, 2)
    if op in ("relu", "sigmoid", "tanh"):
        x = r(3, 4, 5)
        x.reshape(-1)[::7] = 0
        return (x,)
    if op == "leaky_relu":
        return (r(3, 4, 5), 0.1)
    if op == "hardtanh":  # the bounds themselves among the values, where the slope is 0
        x = r(3, 4, 5)
        x.reshape(-1)[::7], x.reshape(-1)[1::7] = -0.5, 0.8
        return (x, -0.5, 0.8)
    if op in ("hardsigmoid", "hardswish"):  # the kinks at -3 and 3 among the values
        x = 2.5 * r(3, 4, 5)
        x.reshape(-1)[::7], x.reshape(-1)[1::7] = -3, 3
        return (x,)
    if op in ("silu", "gelu"):
        return (3 * r(3, 4, 5),) + (("none",) if op == "gelu" else ())
    if op == "elu":  # exact zeros, where the slope is alpha
        x = 2 * r(3, 4, 5)
        x.reshape(-1)[::7] = 0
        return (x, 0.5)
    if op == "softplus":  # beta * x at the threshold, and beyond it (the linear piece)
        x = 2 * r(3, 4, 5)
        x.reshape(-1)[::7] = 1.5
        return (x, 2.0, 3.0)
    if op == "prelu":  # 3 channels with their own slopes, exact zeros (where the slope applies) among the values
        x = r(2, 3, 4, 5)
        x.reshape(-1)[::7] = 0
        return (x, rng.uniform(-0.5, 1.0, 3))
    if op == "pixel_shuffle":  # 2 output channels of 2 x 2 sub-pixels: the channel order and (i, j) both matter
        return (r(2, 8, 3, 2), 2)
    if op == "pixel_unshuffle":
        return (r(2, 2, 4, 6), 2)
    if op == "upsample_nearest2d":  # 5 -> 7 rows, 7 -> 4 columns: no shortcut, rows read twice, columns skipped
        return (r(2, 2, 5, 7), (7, 4))
    if op == "upsample_nearest_exact2d":  # by scale factors: the step 1/1.5 and 1/0.6, not the sizes' ratio
        return (r(2, 2, 5, 7), (7, 4), 1.5, 0.6)
    if op == "upsample_bilinear2d":  # pixel centres, by scale factors: the zero clamp and the last pixel both used
        return (r(2, 2, 5, 7), (7, 4), False, 1.5, 0.6)
    if op == "upsample_bicubic2d":  # up the rows, down the columns: taps beyond both borders, clamped onto them
        return (r(2, 2, 5, 7), (7, 4), False, 1.5, 0.6)
    if op == "pad":  # reflect of a volume: every strip folds back, mirrored, onto the cells it copies; a crop after
        return (r(2, 2, 3, 4, 5), (2, 1, -1, 3, 1, 2), "reflect")
    if op in ("softmax", "log_softmax"):
        return (r(3, 4, 5), 1)
    if op == "dropout":
        return (r(3, 4, 5), 0.3, rng.random((3, 4, 5)) >= 0.3)
    if op == "cross_entropy":
        return (r(4, 5, 2), rng.integers(0, 5, (4, 2)), rng.uniform(0.5, 2, 5), -100, "mean", 0.1)
    if op in ("batch_norm", "batch_norm_relu"):
        return (r(4, 3, 2, 3) + 0.3, r(3), r(3), np.zeros(3), np.ones(3), True)
    if op == "local_response_norm":
        return (r(2, 6, 3, 3), 3, 0.5, 0.75, 1.5)
    if op == "layer_norm":
        return (r(4, 3, 5) + 0.3, (3, 5), r(3, 5), r(3, 5), 1e-5)
    if op == "group_norm":  # 3 groups of 2 channels: which channels share a group matters
        return (r(3, 6, 2, 3) + 0.3, 3, r(6), r(6), 1e-5)
    if op == "instance_norm":
        return (r(3, 4, 2, 3) + 0.3, r(4), r(4), np.zeros(4), np.ones(4), True, 1e-5)
    if op == "avg_pool2d":
        return (r(2, 2, 7, 6), 3, 2, 1)
    if op == "adaptive_avg_pool2d":
        return (r(2, 2, 7, 5), (3, 2))
    if op == "adaptive_max_pool2d":  # ties (three levels) in windows that overlap: 7 -> 3 rows, 5 -> 4 columns
        return (rng.integers(0, 3, (2, 2, 7, 5)).astype(np.float64), (3, 4))
    if op == "mse_loss":
        return (r(3, 4), r(3, 4), "mean")
    if op == "nll_loss":
        return (r(5, 4), np.array([0, 3, 1, -100, 2]), rng.uniform(0.5, 2, 4), -100, "mean")
    if op == "binary_cross_entropy_with_logits":
        return (r(3, 4), rng.uniform(0, 1, (3, 4)), rng.uniform(0.5, 2, (3, 1)), rng.uniform(0.5, 2, 4), "mean")
    if op == "binary_cross_entropy":  # hard and soft targets, and x (1 - x) below the clamp 1e-12 at two entries
        x, t = rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4))
        t[0, :2], t[1, :2] = 0, 1
        x[0, 0], x[1, 0] = 1e-20, 1 - 1e-13
        return (x, t, rng.uniform(0.5, 2, 4), "mean")
    raise KeyError(op)


def kernel_probe(op, impl):
    """forward (of ``impl``) on :func:`kernel_args`, then that impl's backward of a random upstream gradient."""
    suffix = "_naive" if impl == "naive" else ""

    def probe():
        from minicnn import kernels as K
        rng = _rng()
        out, cache = getattr(K, f"{op}_forward{suffix}")(*kernel_args(op, rng))
        dout = np.asarray(rng.standard_normal(np.shape(out)) + 0.5)
        extra = (True,) if op == "cross_entropy" else ()
        return getattr(K, f"{op}_backward{suffix}")(dout, cache, *extra)
    return probe


def _ce_target_probe(impl):
    """Cross-entropy with class-probability targets: the target's gradient too."""
    suffix = "_naive" if impl == "naive" else ""

    def probe():
        from minicnn import kernels as K
        rng = _rng()
        logits = rng.standard_normal((4, 5))
        target = rng.uniform(0, 1, (4, 5))
        loss, cache = getattr(K, f"cross_entropy_forward{suffix}")(logits, target, None, -100, "mean", 0.1)
        return getattr(K, f"cross_entropy_backward{suffix}")(np.asarray(1.3), cache, True)
    return probe


def softmax_ce_probe(impl):
    def probe():
        from minicnn import kernels as K
        rng = _rng()
        fn = K.softmax_cross_entropy_naive if impl == "naive" else K.softmax_cross_entropy
        loss, dlogits = fn(3 * rng.standard_normal((5, 4)), rng.integers(0, 4, 5))
        return (np.asarray(loss), dlogits)
    return probe


def conv_path_probe(algorithm):
    """conv2d's fast backward with the plain path's ``algorithm`` forced ("im2col", "winograd", "direct")."""
    def probe():
        from minicnn import kernels as K
        rng = _rng()
        x, w, b = rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
        with K.conv.algorithm(algorithm):
            out, cache = K.conv2d_forward(x, w, b, 1, 1)
        return K.conv2d_backward(rng.standard_normal(out.shape), cache)
    return probe


def col2im_probe():
    from minicnn import kernels as K
    rng = _rng()
    return K.col2im(rng.standard_normal((2 * 3 * 3, 2 * 5 * 5)), (2, 2, 5, 5), 3, 1, 1)


def engine_probe():
    """Gradients of an expression that runs every Function of the engine once (fan-out and reuse included)."""
    import minicnn
    from minicnn import Tensor
    rng = _rng()
    a = Tensor(rng.uniform(0.5, 1.5, (3, 4)), requires_grad=True)
    b = Tensor(rng.uniform(0.5, 1.5, (4,)), requires_grad=True)
    c = Tensor(rng.uniform(1, 2, (3, 1)), requires_grad=True)
    m = Tensor(rng.standard_normal((4, 2)), requires_grad=True)
    y = (a * b - b / c + a) ** 3
    z = minicnn.stack([y[0], y[2], y[1] * 0.5], 0) * 0.1
    w = minicnn.cat([y, y[[0, 0]] * c[[1, 2]]], 0)
    q = (a @ m).T.reshape(3, 2)
    loss = (z.exp().sum(0).mean() + (-w).abs().mean(dim=1, keepdim=True).sum() + (y + 2.0).log().sum()
            + (q * q).sum() + a.to(np.float32).sum())
    loss.backward()
    twice = Tensor(rng.standard_normal(3), requires_grad=True)
    (twice * 2.0).sum().backward()
    (twice * 3.0).sum().backward()   # accumulation into .grad
    # a tensor exponent (a zero base among them) and tensor bounds with ties, low == high and low > high
    base = Tensor(np.array([0.0, 0.5, 2.0, 1.5]), requires_grad=True)
    power = Tensor(np.array([2.0, -1.5, 0.0, 0.7]), requires_grad=True)
    k = Tensor(np.array([1.0, 2.0, 3.0, 2.0, 1.0, 1.0]), requires_grad=True)
    low = Tensor(np.array([1.0, 2.0, 1.0, 3.0, 2.0, 3.0]), requires_grad=True)
    high = Tensor(np.array([3.0, 2.0, 3.0, 1.0, 2.0, 2.0]), requires_grad=True)
    ((base ** power) * Tensor(np.array([1.0, 2.0, 3.0, 4.0]))).sum().backward()
    (k.clamp(low, high) * Tensor(np.arange(1.0, 7.0))).sum().backward()
    return tuple(t.grad for t in (a, b, c, m, twice, base, power, k, low, high))


def optim_probe(cls_name, kwargs, schedule=True, numpy_path=False):
    """Five steps on fixed gradients (the lr halved after each when ``schedule``); the parameter and the state.
    ``numpy_path``: SGD's fused momentum pass turned off (its numpy lines run instead)."""
    def probe():
        from minicnn import nn, optim
        from minicnn.optim import sgd
        rng = _rng()
        p = nn.Parameter(rng.standard_normal((3, 4)))
        opt = getattr(optim, cls_name)([p], **kwargs)
        fused = sgd._momentum_step
        if numpy_path:
            sgd._momentum_step = lambda *args: False
        try:
            for _ in range(5):
                p.grad = rng.standard_normal((3, 4))
                opt.step()
                if schedule:
                    for g in opt.param_groups:
                        g["lr"] *= 0.5
        finally:
            sgd._momentum_step = fused
        state = opt.state[p]
        return (p.array,) + tuple(np.asarray(state[k]) for k in sorted(state))
    return probe


# =========================================================================== the tests of each op
T_K, T_W = "tests/test_kernels.py::", "tests/test_winograd.py::"
T_L, T_E = "tests/test_layers.py::", "tests/test_engine.py::"
T_A, T_O = "tests/test_agreement.py::", "tests/test_optim.py::"
GRADCHECK_TABLE = T_L + "test_gradcheck_table_has_every_layer_and_passes"
NAIVE_SWITCH = [T_K + "test_the_switch_runs_the_naive_twins",
                T_E + "test_a_simplecnn_step_under_the_naive_kernels_equals_the_fast_path"]


def _ids(prefix, *names):
    return [prefix + n for n in names]


TESTS = {
    "conv2d": _ids(T_K, "test_conv2d_equals_naive", "test_general_conv2d_equals_naive",
                   "test_kernels_accept_non_contiguous_input")
    + _ids(T_W, "test_winograd_conv2d_equals_naive", "test_direct_conv2d_equals_naive")
    + _ids(T_L, "test_conv2d_gradients") + _ids(T_A, "test_conv2d_matches_torch",
                                                 "test_conv2d_full_signature_matches_torch"),
    "conv_transpose2d": _ids(T_K, "test_conv_transpose2d_equals_naive",
                             "test_conv_transpose2d_is_conv2d_backward_run_forward",
                             "test_conv_transpose2d_known_values", "test_conv_transpose2d_accepts_non_contiguous_input")
    + _ids(T_L, "test_conv_transpose2d_gradients")
    + _ids(T_A, "test_conv_transpose2d_matches_torch", "test_conv_transpose2d_output_size_matches_torch")
    + [GRADCHECK_TABLE],
    "col2im": _ids(T_K, "test_col2im_accumulates_overlapping_windows", "test_col2im_is_the_adjoint_of_im2col",
                   "test_dilated_im2col_equals_naive_and_col2im_is_its_adjoint", "test_conv2d_equals_naive"),
    "pad_nd": _ids(T_K, "test_pad_nd_backward_is_the_adjoint_and_equals_naive", "test_general_conv2d_equals_naive")
    + _ids(T_A, "test_conv2d_full_signature_matches_torch"),
    "conv2d_relu_max_pool2d": _ids(T_K, "test_fused_conv_relu_pool_equals_the_three_kernels")
    + _ids(T_W, "test_winograd_fused_conv_relu_pool_equals_naive", "test_one_input_channel_fused_block_equals_naive")
    + _ids(T_L, "test_fused_conv_relu_pool_gradients", "test_simple_cnn_fused_and_unfused_compute_the_same")
    + _ids(T_A, "test_conv2d_relu_max_pool2d_matches_torch_pool_of_relu_of_conv"),
    "linear": _ids(T_K, "test_linear_equals_naive") + _ids(T_L, "test_linear_gradients")
    + _ids(T_A, "test_linear_matches_torch", "test_linear_on_any_leading_dims_matches_torch"),
    "max_pool2d": _ids(T_K, "test_max_pool2d_equals_naive", "test_max_pool2d_known_values_ties_and_padding",
                      "test_max_pool2d_backward_gives_a_tie_to_its_first_maximum_only",
                      "test_max_pool2d_overlapping_winner_gets_the_sum",
                      "test_max_pool2d_dilation_ceil_mode_equals_naive")
    + _ids(T_L, "test_max_pool2d_gradients") + _ids(T_A, "test_max_pool2d_matches_torch",
                                                    "test_max_pool2d_dilation_ceil_mode_and_indices_match_torch"),
    "max_unpool2d": _ids(T_K, "test_max_unpool2d_equals_naive_and_undoes_the_pool")
    + _ids(T_A, "test_max_pool2d_dilation_ceil_mode_and_indices_match_torch"),
    "relu": _ids(T_K, "test_relu_backward_equals_naive", "test_relu_backward_with_non_c_ordered_input")
    + _ids(T_L, "test_relu_gradients") + _ids(T_A, "test_relu_matches_torch"),
    "cross_entropy": _ids(T_K, "test_cross_entropy_forward_equals_naive",
                          "test_cross_entropy_plain_case_is_the_fused_kernel",
                          "test_cross_entropy_probability_target_gradient_is_the_finite_difference")
    + _ids(T_L, "test_cross_entropy_gradients")
    + _ids(T_A, "test_cross_entropy_matches_torch", "test_cross_entropy_full_signature_matches_torch"),
    "softmax_cross_entropy": _ids(T_K, "test_softmax_cross_entropy_equals_naive",
                                  "test_cross_entropy_is_finite_at_huge_logits",
                                  "test_cross_entropy_of_equal_logits_is_log_classes",
                                  "test_cross_entropy_value_rows_and_reductions",
                                  "test_cross_entropy_plain_case_is_the_fused_kernel")
    + _ids(T_L, "test_cross_entropy_gradients") + _ids(T_A, "test_cross_entropy_matches_torch"),
    "batch_norm": _ids(T_K, "test_batch_norm_equals_naive", "test_batch_norm_relu_equals_naive_and_the_two_kernels",
                      "test_batch_norm_of_a_constant_channel_is_finite")
    + _ids(T_L, "test_batch_norm_backward_through_the_engine_matches_torch_in_train_mode")
    + _ids(T_A, "test_batch_norm_matches_torch") + [GRADCHECK_TABLE],
    "batch_norm_relu": _ids(T_K, "test_batch_norm_relu_equals_naive_and_the_two_kernels")
    + _ids(T_A, "test_batch_norm_relu_matches_torch_relu_of_batch_norm") + [GRADCHECK_TABLE],
    "local_response_norm": _ids(T_K, "test_local_response_norm_equals_naive") + _ids(T_A, "test_local_response_norm_matches_torch")
    + [GRADCHECK_TABLE],
    "layer_norm": _ids(T_K, "test_layer_norm_equals_naive", "test_layer_norm_known_values")
    + _ids(T_A, "test_layer_norm_matches_torch") + [GRADCHECK_TABLE],
    "group_norm": _ids(T_K, "test_group_norm_equals_naive", "test_group_norm_known_values")
    + _ids(T_A, "test_group_norm_matches_torch") + [GRADCHECK_TABLE],
    "instance_norm": _ids(T_K, "test_instance_norm_equals_naive", "test_instance_norm_known_values",
                          "test_instance_norm_is_group_norm_with_one_channel_per_group")
    + _ids(T_L, "test_instance_norm_running_stats_average_each_instances_unbiased_variance",
           "test_instance_norm_running_stats_after_train_steps_and_eval_output_match_torch")
    + _ids(T_A, "test_instance_norm_matches_torch") + [GRADCHECK_TABLE],
    "avg_pool2d": _ids(T_K, "test_avg_pool2d_equals_naive", "test_avg_pool2d_known_values_and_divisors",
                      "test_uniform_windows_take_the_row_kernels_with_the_same_results")
    + _ids(T_A, "test_avg_pool2d_matches_torch", "test_avg_pool2d_ceil_mode_windows_into_the_padding")
    + [GRADCHECK_TABLE],
    "adaptive_avg_pool2d": _ids(T_K, "test_adaptive_avg_pool2d_equals_naive")
    + _ids(T_A, "test_adaptive_avg_pool2d_matches_torch") + [GRADCHECK_TABLE],
    # (the known values first: a mistake in the windows both twins share can leave a window empty, where the
    # naive twin's argmax raises before any value is compared)
    "adaptive_max_pool2d": _ids(T_K, "test_adaptive_max_pool2d_known_values_ties_overlaps_and_nan",
                                "test_adaptive_max_pool2d_equals_naive")
    + _ids(T_A, "test_adaptive_max_pool2d_matches_torch", "test_adaptive_max_pool2d_ties_nan_and_inf_match_torch")
    + [GRADCHECK_TABLE],
    "sigmoid": _ids(T_K, "test_elementwise_equals_naive") + _ids(T_A, "test_elementwise_activation_matches_torch")
    + [GRADCHECK_TABLE],
    "softmax": _ids(T_K, "test_softmax_equals_naive") + _ids(T_A, "test_softmax_matches_torch") + [GRADCHECK_TABLE],
    "dropout": _ids(T_K, "test_dropout_equals_naive") + _ids(T_L, "test_dropout_backward_uses_the_forward_mask")
    + _ids(T_A, "test_dropout_is_torch_formula_with_minicnn_mask") + [GRADCHECK_TABLE],
    "mse_loss": _ids(T_K, "test_mse_loss_equals_naive")
    + _ids(T_A, "test_mse_loss_matches_torch", "test_mse_loss_target_gradient_matches_torch") + [GRADCHECK_TABLE],
    "nll_loss": _ids(T_K, "test_nll_loss_equals_naive") + _ids(T_A, "test_nll_loss_matches_torch") + [GRADCHECK_TABLE],
    "binary_cross_entropy_with_logits": _ids(T_K, "test_binary_cross_entropy_with_logits_equals_naive")
    + _ids(T_A, "test_bce_with_logits_matches_torch", "test_bce_with_logits_is_finite_at_huge_logits")
    + [GRADCHECK_TABLE],
    "binary_cross_entropy": _ids(T_K, "test_binary_cross_entropy_equals_naive",
                                 "test_binary_cross_entropy_known_values_the_clamp_and_torch_s_gradients")
    + _ids(T_A, "test_bce_loss_matches_torch", "test_bce_loss_target_gradient_matches_torch",
           "test_bce_loss_at_probabilities_0_and_1_is_torch_s") + [GRADCHECK_TABLE],
    "pad": _ids(T_K, "test_pad_equals_naive_and_its_backward_is_the_adjoint", "test_pad_known_values_in_every_mode")
    + _ids(T_A, "test_pad_matches_torch", "test_padding_layers_match_torch") + [GRADCHECK_TABLE],
    "pixel_shuffle": _ids(T_K, "test_pixel_shuffle_and_unshuffle_equal_naive_and_undo_each_other",
                          "test_pixel_shuffle_known_values")
    + _ids(T_A, "test_pixel_shuffle_and_unshuffle_match_torch") + [GRADCHECK_TABLE],
    "upsample_nearest2d": _ids(T_K, "test_upsample_kernels_equal_naive_and_their_backward_is_the_adjoint",
                               "test_upsample_known_values", "test_upsample_source_indices_follow_torchs_float32_rule")
    + _ids(T_A, "test_interpolate_matches_torch", "test_nearest_on_large_outputs_is_torchs_backward_rule",
           "test_upsampling_layers_match_torch") + [GRADCHECK_TABLE],
    "unflatten": _ids(T_A, "test_unflatten_matches_torch"),
    "prelu": _ids(T_K, "test_prelu_equals_naive", "test_prelu_known_values")
    + _ids(T_A, "test_prelu_matches_torch") + [GRADCHECK_TABLE],
    "threads": ["tests/test_threading.py"] + _ids(T_K, "test_linear_splits_features_between_threads_and_matches_naive"),
    "engine": _ids(T_E, "test_tensor_arithmetic_matches_torch", "test_a_cast_hands_the_gradient_back_in_the_input_dtype",
                   "test_residual_block", "test_two_branch_concatenation",
                   "test_one_relu_and_one_maxpool_used_twice_per_forward", "test_two_forwards_summed_into_one_loss",
                   "test_non_leaf_grad_is_not_kept_unless_retained",
                   "test_the_graph_holds_no_activation_that_no_backward_needs")
    + ["tests/test_torch_api.py::test_two_input_function_matches_torch",
       "tests/test_torch_api.py::test_clamp_with_tensor_bounds_splits_the_gradient_at_ties_as_torch"]
    + _ids(T_L, "test_two_backward_passes_give_exactly_twice_the_gradient", "test_sequential_gradients",
           "test_linear_gradients"),
    "optim": _ids(T_O, "test_momentum_constant_gradient_by_hand", "test_momentum_changing_gradient_by_hand",
                  "test_momentum_with_weight_decay_by_hand", "test_plain_sgd_and_weight_decay_without_momentum",
                  "test_fused_momentum_step_is_numpys_bit_for_bit", "test_lockstep_with_torch",
                  "test_param_groups_with_their_own_hyperparameters", "test_scheduler_in_lockstep_with_an_optimizer"),
}
for _alias, _to in (("tanh", "sigmoid"), ("leaky_relu", "sigmoid"), ("hardtanh", "sigmoid"),
                    ("log_softmax", "softmax")):
    TESTS[_alias] = TESTS[_to]
TESTS["pixel_unshuffle"] = TESTS["pixel_shuffle"]
TESTS["upsample_nearest_exact2d"] = TESTS["upsample_bilinear2d"] = TESTS["upsample_nearest2d"]
TESTS["upsample_bicubic2d"] = (_ids(T_K, "test_bicubic_known_values",
                                    "test_bicubic_source_index_is_floored_in_float32_as_torchs_floorf")
                               + TESTS["upsample_nearest2d"] + _ids(T_A, "test_bicubic_matches_torch"))
for _op in ("hardsigmoid", "hardswish", "silu", "gelu", "elu", "softplus"):
    TESTS[_op] = (_ids(T_K, "test_elementwise_equals_naive", "test_activation_known_values_at_their_kinks")
                  + _ids(T_L, "test_activation_gradients")
                  + _ids(T_A, "test_elementwise_activation_matches_torch",
                         "test_activation_functions_by_keyword_match_torch") + [GRADCHECK_TABLE])


# =========================================================================== the table
@dataclass
class Mutant:
    name: str                 # "<target>:<mistake>", unique
    op: str                   # the op whose tests run (a key of TESTS)
    apply: object             # () -> None: swaps the mutant in
    probe: object = None      # () -> result, compared before/after the swap (None: not feasible)
    tests: list = field(default_factory=list)
    note: str = ""


MUTANTS = []


def add(name, op, apply, probe=None, extra_tests=(), note=""):
    tests = list(TESTS[op]) + [t for t in extra_tests if t not in TESTS[op]]
    MUTANTS.append(Mutant(name, op, apply, probe, tests, note))


def kernel_module(op):
    """The module of ``op``'s kernels, read from the registry: ``"minicnn.kernels.<subject>"``."""
    from minicnn.kernels import REGISTRY
    return REGISTRY[op].backward.__module__


SHAPE_PRESERVING = {"relu", "sigmoid", "tanh", "leaky_relu", "hardtanh", "hardsigmoid", "hardswish", "silu", "gelu",
                    "elu", "softplus", "softmax", "log_softmax", "dropout", "batch_norm", "batch_norm_relu",
                    "local_response_norm", "prelu", "layer_norm", "group_norm", "instance_norm"}


def _ln_dx(dout, cache, weight):
    """Layer norm's dx with ``weight`` (None: as if 1)."""
    dy = dout.reshape(cache.xhat.shape)
    g = dy if weight is None else dy * weight.reshape(1, -1)
    xhat = cache.xhat
    return (cache.invstd * (g - g.mean(1, keepdims=True) - xhat * (g * xhat).mean(1, keepdims=True))).reshape(
        cache.shape)


def _ln_terms(dout, cache):
    """The two terms layer norm's dx subtracts (the row mean's, the row variance's), each x's shape."""
    g = dout.reshape(cache.xhat.shape)
    g = g if cache.weight is None else g * cache.weight.reshape(1, -1)
    xhat = cache.xhat
    return ((cache.invstd * g.mean(1, keepdims=True) + 0 * xhat).reshape(cache.shape),
            (cache.invstd * xhat * (g * xhat).mean(1, keepdims=True)).reshape(cache.shape))


def _bn_terms(dout, cache, relu_out=None):
    """Batch norm's two training terms of dx, per channel: ``a * mean(g)`` and ``a * xhat * mean(g * xhat)``
    (``a = weight * invstd``, ``g`` the gradient at batch norm's output); what a backward that drops one
    of them gets wrong by."""
    xhat = cache.xhat
    g = dout.reshape(xhat.shape)
    if relu_out is not None:
        g = np.where(relu_out.reshape(xhat.shape) > 0, g, 0)
    a = (cache.invstd if cache.weight is None else cache.weight * cache.invstd)[None, :, None]
    mean_term = np.broadcast_to(a * g.mean(axis=(0, 2), keepdims=True), xhat.shape)
    var_term = a * xhat * (g * xhat).mean(axis=(0, 2), keepdims=True)
    return mean_term.reshape(cache.shape), var_term.reshape(cache.shape)


def _relu_output_of(impl, cache):
    """The ReLU output batch_norm_relu's cache holds (fast: the output; naive: ReLU's cache, its input)."""
    bn_cache, second = cache
    return second if impl == "fast" else np.maximum(second, 0)


def _drop_bn_term(term, relu=False, impl="fast"):
    def transform(result, dout, cache, need_input_grad=True, _relu_out=None):
        if result[0] is None:
            return result
        bn_cache = cache[0] if relu else cache
        relu_out = _relu_output_of(impl, cache) if relu else _relu_out   # fused BN+ReLU calls BN with it
        mean_term, var_term = _bn_terms(dout, bn_cache, relu_out)
        return (result[0] + (mean_term if term == "mean" else var_term),) + result[1:]
    return transform


def kernel_mutants(op, impl):
    suffix = "_naive" if impl == "naive" else ""
    module = kernel_module(op)
    target = f"{op}_backward{suffix}"
    path = f"{module}:{target}"
    probe = kernel_probe(op, impl)
    extra = NAIVE_SWITCH if impl == "naive" else ()

    def m(mistake, apply, note="", tests=()):
        add(f"{target}:{mistake}", op, apply, probe, list(extra) + list(tests), note)
    if impl == "naive" and K_same(f"{op}_backward"):   # the naive twin is the fast function itself:
        return path, lambda *args, **kwargs: None       # its mutants are the fast one's

    m("zero", wrap(path, ZERO), "every gradient 0")
    m("negated", wrap(path, NEGATED), "every gradient negated")
    m("doubled", wrap(path, DOUBLED), "every gradient scaled by 2")
    if op in SHAPE_PRESERVING:
        m("upstream", wrap(path, UPSTREAM), "dx = the upstream gradient, unchanged")
    return path, m


def build():
    """Fill MUTANTS (idempotent)."""
    if MUTANTS:
        return MUTANTS
    for impl in ("fast", "naive"):
        naive = impl == "naive"
        sfx = "_naive" if naive else ""

        # ---------------------------------------------------------------- conv2d
        path, m = kernel_mutants("conv2d", impl)
        m("no_bias_grad", wrap(path, each(np.zeros_like, {2})), "the bias gradient dropped (zeros)")
        m("dweight_flipped", wrap(path, each(lambda a: a[:, :, ::-1, ::-1].copy(), {1})),
          "dweight rotated 180 degrees (convolution for correlation)")
        m("dx_off_by_one", wrap(path, each(shifted, {0})), "dx one column over (off-by-one window)")
        m("dx_zero", wrap(path, each(np.zeros_like, {0})), "the input gradient dropped")
        if naive:
            m("dx_assigned", source(path, ("dxp[window] +=", "dxp[window] =")),
              "overlapping windows assign dx instead of adding")
            m("dweight_assigned", source(path, ("dweight[outs] +=", "dweight[outs] =")),
              "dweight keeps only the last output pixel's term")
        else:
            add("winograd.weight_transform_adjoint:transposed", "conv2d",
                source("minicnn.kernels.winograd:weight_transform_adjoint",
                       ("dw.transpose(1, 2, 0, 3)", "dw.transpose(1, 2, 3, 0)")),
                conv_path_probe("winograd"), (), "the Winograd path's dweight transposed (3x3 taps)")
            add("winograd._output_transform_adjoint_kernel:no_bias_grad", "conv2d",
                source("minicnn.kernels.winograd:_output_transform_adjoint_kernel",
                       ("dbias[o] += acc", "dbias[o] += 0.0")),
                conv_path_probe("winograd"), (), "the Winograd path's bias gradient dropped")
            add("conv_direct._direct_dweight_kernel:flipped", "conv2d",
                source("minicnn.kernels.conv_direct:_direct_dweight_kernel",
                       ("dweight[o, c, i, j] +=", "dweight[o, c, kh - 1 - i, kw - 1 - j] +=")),
                conv_path_probe("direct"), (), "the direct path's dweight rotated 180 degrees")
            add("_col2im_kernel:assign", "col2im",
                source("minicnn.kernels.conv:_col2im_kernel", ("] += g[xo]", "] = g[xo]", 3)),
                col2im_probe, TESTS["conv2d"], "col2im assigns instead of adding overlapping windows")

        conv_transpose_mutants(impl)

        # ---------------------------------------------------------------- fused conv + relu + pool
        path, m = kernel_mutants("conv2d_relu_max_pool2d", impl)
        m("no_bias_grad", wrap(path, each(np.zeros_like, {2})), "the bias gradient dropped (zeros)")
        m("dweight_flipped", wrap(path, each(lambda a: a[:, :, ::-1, ::-1].copy(), {1})), "dweight rotated 180")
        if naive:
            m("no_relu_mask", source(path, ("relu_backward_naive(drelu, relu_cache)", "drelu")),
              "the ReLU's mask forgotten")
        else:
            m("no_relu_mask", source("minicnn.kernels.fused:_unpool_relu_kernel",
                                     ("if pooled[n, o, y, x] > 0:", "if True:")), "the ReLU's mask forgotten")

        # ---------------------------------------------------------------- linear
        path, m = kernel_mutants("linear", impl)
        m("no_bias_grad", wrap(path, each(np.zeros_like, {2})), "the bias gradient dropped (zeros)")
        m("dweight_transposed", wrap(path, each(lambda a: a.T.copy(), {1})), "dweight transposed")
        m("dx_zero", wrap(path, each(np.zeros_like, {0})), "the input gradient dropped")

        # ---------------------------------------------------------------- max pooling, unpooling
        path, m = kernel_mutants("max_pool2d", impl)

        def off_by_one_pool(original):
            def backward(dout, cache):
                x_shape, argmax, dtype = cache
                moved = np.minimum(argmax + 1, x_shape[2] * x_shape[3] - 1)
                return original(dout, (x_shape, moved, dtype))
            return backward
        m("winner_off_by_one", replace(path, off_by_one_pool), "the gradient sent one pixel right of the winner")
        m("tied_maxima_all", _tied_maxima(impl), "every tied maximum of a window gets the gradient")
        if naive:
            m("overlaps_assign", source(path, (
                "np.add.at(dx, (nn_[..., None, None], cc[..., None, None], argmax), dout)",
                "dx[nn_[..., None, None], cc[..., None, None], argmax] = dout")),
              "a pixel winning several windows keeps one window's gradient (assigned, not added)")
        else:
            m("overlaps_assign", source("minicnn.kernels.pool:_maxpool_backward_kernel",
                                        ("dx[n, c, at // w, at % w] += dout", "dx[n, c, at // w, at % w] = dout")),
              "a pixel winning several windows keeps one window's gradient (assigned, not added)")
        path, m = kernel_mutants("max_unpool2d", impl)

        def off_by_one_unpool(original):
            def backward(dout, cache):
                index, *rest = cache
                return original(dout, (np.minimum(index + 1, dout.shape[2] * dout.shape[3] - 1), *rest))
            return backward
        m("index_off_by_one", replace(path, off_by_one_unpool), "gathered one pixel right of the index")
        path, m = kernel_mutants("adaptive_max_pool2d", impl)

        def off_by_one_adaptive(original):
            def backward(dout, cache):
                x_shape, argmax, dtype = cache
                return original(dout, (x_shape, np.minimum(argmax + 1, x_shape[-2] * x_shape[-1] - 1), dtype))
            return backward
        m("winner_off_by_one", replace(path, off_by_one_adaptive), "the gradient sent one pixel right of the winner")
        m("tied_maxima_all", _adaptive_tied_maxima(impl), "every tied maximum of a window gets the gradient")
        amp_forward = f"minicnn.kernels.pool:adaptive_max_pool2d_forward{sfx}"
        if naive:
            m("overlaps_assign", source(path, (
                "np.add.at(dx, (np.arange(planes)[:, None], argmax.reshape(planes, cells)), dout.reshape(planes, cells))",
                "dx[np.arange(planes)[:, None], argmax.reshape(planes, cells)] = dout.reshape(planes, cells)")),
              "a pixel winning overlapping windows keeps one window's gradient (assigned, not added)")
            last_max = source(amp_forward, ("np.argmax(win, axis=-1)",
                                            "win.shape[-1] - 1 - np.argmax(win[..., ::-1], axis=-1)"))
        else:
            m("overlaps_assign", source("minicnn.kernels.pool:_adaptive_maxpool_backward_kernel",
                                        ("            dx[p, argmax[p, k]] += dout[p, k]",
                                         "            dx[p, argmax[p, k]] = dout[p, k]")),
              "a pixel winning overlapping windows keeps one window's gradient (assigned, not added)")
            last_max = source("minicnn.kernels.pool:_adaptive_maxpool_forward_kernel",
                              ("if v > best or v != v", "if v >= best or v != v"))
        add(f"adaptive_max_pool2d_forward{sfx}:last_maximum_wins", "adaptive_max_pool2d", last_max,
            kernel_probe("adaptive_max_pool2d", impl), extra_for(impl),
            "a tie goes to the last maximum in row-major order (torch: the first), so does its gradient")

        # ---------------------------------------------------------------- relu
        path, m = kernel_mutants("relu", impl)
        if naive:
            m("forward_output", replace(path, lambda o: lambda dout, cache: np.maximum(cache, 0)),
              "returns the forward output")
            m("mask_at_zero", source(path, ("np.where(x > 0, dout, np.zeros", "np.where(x >= 0, dout, np.zeros")),
              "the gradient passes where x == 0 (torch: 0)")
        else:
            m("forward_output", replace(path, lambda o: lambda dout, cache: cache.copy()), "returns the forward output")
            m("mask_inverted", source("minicnn.kernels.activation:_relu_backward_kernel", ("x[k] > 0", "x[k] <= 0")),
              "the mask inverted")

        # ---------------------------------------------------------------- losses
        if not (naive and K_same("cross_entropy_backward")):   # the naive twin is the fast function itself
            path, m = kernel_mutants("cross_entropy", impl)
            m("upstream_ignored",
              replace(path, lambda o: lambda dloss, cache, *a, **k: o(np.ones_like(dloss), cache, *a, **k)),
              "the upstream gradient ignored (as if 1)")
        # cross-entropy's gradients are computed by its forward (into the cache): mistakes there
        cef = f"minicnn.kernels.loss:cross_entropy_forward{sfx}"
        add(f"cross_entropy_forward{sfx}:cached_dlogits_doubled", "cross_entropy",
            wrap(cef, lambda res, *a, **k: (res[0], (2 * res[1][0],) + res[1][1:])),
            kernel_probe("cross_entropy", impl),
            list(extra_for(impl)), "the gradient it keeps for backward doubled")
        add(f"cross_entropy_forward{sfx}:cached_dtarget_negated", "cross_entropy",
            wrap(cef, lambda res, *a, **k: (res[0], (res[1][0], None if res[1][1] is None else -res[1][1])
                                            + res[1][2:])),
            _ce_target_probe(impl), list(extra_for(impl)), "the probability target's gradient negated")
        sce = f"minicnn.kernels.loss:softmax_cross_entropy{sfx}"
        add(f"softmax_cross_entropy{sfx}:dlogits_negated", "softmax_cross_entropy",
            wrap(sce, each(lambda a: -a, {1})), softmax_ce_probe(impl), list(extra_for(impl)), "dlogits negated")
        add(f"softmax_cross_entropy{sfx}:dlogits_not_averaged", "softmax_cross_entropy",
            wrap(sce, lambda res, logits, labels, reduction="mean":
                 (res[0], res[1] * (len(labels) if reduction == "mean" else 1))),
            softmax_ce_probe(impl), list(extra_for(impl)), "dlogits of 'mean' not divided by N")
        path, m = kernel_mutants("mse_loss", impl)
        m("target_grad_sign", wrap(path, lambda res, *a, **k: (res[0], res[0].copy())), "dtarget = +dx")
        m("halved", wrap(path, each(lambda a: a / 2)), "the factor 2 of the square forgotten")
        path, m = kernel_mutants("nll_loss", impl)

        def unweighted(original):
            def backward(dloss, cache):
                labels, safe, w_taken, *rest = cache
                return original(dloss, (labels, safe, (w_taken != 0).astype(w_taken.dtype), *rest))
            return backward
        m("weights_ignored", replace(path, unweighted), "the class weights left out of the gradient")
        path, m = kernel_mutants("binary_cross_entropy_with_logits", impl)
        m("dx_only_negated", wrap(path, each(lambda a: -a, {0})), "dx negated (sigmoid(x) - t turned around)")
        path, m = kernel_mutants("binary_cross_entropy", impl)
        m("dx_only_negated", wrap(path, each(lambda a: -a, {0})), "dx negated ((t - x) for (x - t))")
        m("target_grad_sign", wrap(path, each(lambda a: -a, {1})), "dtarget = +w log(x / (1 - x))")
        m("no_target_grad", wrap(path, each(np.zeros_like, {1})), "the target's gradient dropped (torch has one)")
        m("weight_ignored", replace(path, lambda o: lambda dloss, cache: o(dloss, cache[:2] + (None,) + cache[3:])),
          "the weight left out of the gradients")
        m("one_minus_t_sign", replace(path, lambda o: _bce_one_minus_t_flipped),
          "the (1 - t) log(1 - x) term's sign flipped: dx = -t/x - (1 - t)/(1 - x)")
        m("mean_over_weight_sum",
          wrap(path, _bce_mean_over(lambda c: np.broadcast_to(1 if c[2] is None else c[2], c[0].shape).sum())),
          "'mean' divided by the weights' sum (nll_loss's rule), not the element count")
        m("mean_over_rows", wrap(path, _bce_mean_over(lambda c: c[0].shape[0] if c[0].ndim else 1)),
          "'mean' divided by the batch size (dim 0), not the element count")
        if naive:
            m("denominator_unclamped", source(path, ("max(x[i] * (1 - x[i]), x.dtype.type(GRAD_EPSILON))",
                                                     "(x[i] * (1 - x[i]))")),
              "dx = (x - t) / (x (1 - x)) without torch's clamp at 1e-12")
            log_edits = (("max(np.log(x[i]), x.dtype.type(LOG_CLAMP))", "np.log(x[i])"),
                         ("max(np.log1p(-x[i]), x.dtype.type(LOG_CLAMP))", "np.log1p(-x[i])"))
        else:
            m("denominator_unclamped", source(path, ("np.maximum((1 - x) * x, eps)", "((1 - x) * x)")),
              "dx = (x - t) / (x (1 - x)) without torch's clamp at 1e-12")
            log_edits = (("np.maximum(np.log(x), LOG_CLAMP), np.maximum(np.log1p(-x), LOG_CLAMP)",
                          "np.log(x), np.log1p(-x)"),)
        add(f"binary_cross_entropy_forward{sfx}:log_unclamped", "binary_cross_entropy",
            source(f"minicnn.kernels.loss:binary_cross_entropy_forward{sfx}", *log_edits), _bce_forward_probe(impl),
            extra_for(impl), "the logs not clamped at -100: a sure miss costs inf (or NaN: 0 * -inf), not 100")

        # ---------------------------------------------------------------- batch norm
        path, m = kernel_mutants("batch_norm", impl)
        m("no_mean_term", wrap(path, _drop_bn_term("mean")), "dx without the batch mean's term")
        m("no_variance_term", wrap(path, _drop_bn_term("var")), "dx without the batch variance's term")
        m("no_bias_grad", wrap(path, each(np.zeros_like, {2})), "the bias gradient dropped (zeros)")
        m("dweight_is_dbias", wrap(path, lambda res, *a, **k: (res[0], res[2], res[2])),
          "dweight = sum(dy) (xhat forgotten)")
        path, m = kernel_mutants("batch_norm_relu", impl)
        m("no_mean_term", wrap(path, _drop_bn_term("mean", relu=True, impl=impl)), "dx without the batch mean's term")
        if naive:
            m("no_relu_mask", source(path, ("relu_backward_naive(dout, relu_cache)", "dout")),
              "the ReLU's mask forgotten")
        else:
            m("no_relu_mask", source(path, ("_relu_out=out", "_relu_out=None")), "the ReLU's mask forgotten")
        path, m = kernel_mutants("layer_norm", impl)
        m("no_mean_term", wrap(path, lambda res, dout, cache: (res[0] + _ln_terms(dout, cache)[0],) + res[1:]),
          "dx without the row mean's term")
        m("no_variance_term", wrap(path, lambda res, dout, cache: (res[0] + _ln_terms(dout, cache)[1],) + res[1:]),
          "dx without the row variance's term")
        m("weight_forgotten_in_dx", wrap(path, lambda res, dout, cache: (_ln_dx(dout, cache, None),) + res[1:]),
          "dx as if the weight were 1 (g = dy, not dy * weight)")
        m("no_bias_grad", wrap(path, each(np.zeros_like, {2})), "the bias gradient dropped (zeros)")
        m("dweight_is_dbias", wrap(path, lambda res, *a, **k: (res[0], res[2], res[2])),
          "dweight = sum(dy) (xhat forgotten)")
        if not naive:
            layer_norm_mapping_mutants()
        group_norm_mutants(impl)
        path, m = kernel_mutants("local_response_norm", impl)

        def lrn_no_cross(original):
            def backward(dout, cache):
                x3, scale, size, alpha, beta, shape = cache
                return (dout.reshape(x3.shape) * scale ** x3.dtype.type(-beta)).reshape(shape)
            return backward
        m("no_window_term", replace(path, lrn_no_cross), "only dout / scale**beta: the window sum's term dropped")

        # ---------------------------------------------------------------- average pooling
        for op in ("avg_pool2d", "adaptive_avg_pool2d"):
            path, m = kernel_mutants(op, impl)
            m("off_by_one", wrap(path, lambda res, *a, **k: shifted(res)), "every window's share one column over")
            m("not_divided", wrap(path, lambda res, dout, cache, *a, **k: res * _window_size(cache)),
              "the window's divisor forgotten")
        overlapping = _avgpool_probe(impl, (3, 2, 0))   # windows of one size: the row kernel
        clipped = _avgpool_probe(impl, (3, 2, 1))       # edge windows clipped by the padding: the general kernel
        if naive:
            add("avg_pool2d_backward_naive:overlaps_assign", "avg_pool2d",
                source("minicnn.kernels.avgpool:avg_pool2d_backward_naive",
                       ("dx[..., h0[y]:h1[y], w0[xo]:w1[xo]] +=", "dx[..., h0[y]:h1[y], w0[xo]:w1[xo]] =")),
                overlapping, NAIVE_SWITCH, "overlapping windows' shares assigned, not added")
        else:
            add("avg_pool2d_backward:overlaps_assign", "avg_pool2d",
                source("minicnn.kernels.avgpool:_uniform_spread_kernel", ("row[xo * sw + j] += g[xo]",
                                                                          "row[xo * sw + j] = g[xo]")),
                overlapping, (), "overlapping windows' shares assigned, not added (windows of one size)")
            add("avgpool._window_spread_kernel:overlaps_assign", "avg_pool2d",
                source("minicnn.kernels.avgpool:_window_spread_kernel",
                       ("dx[n, c, iy, ix] += g", "dx[n, c, iy, ix] = g")),
                clipped, (), "overlapping windows' shares assigned, not added (clipped windows)")

        # ---------------------------------------------------------------- elementwise
        path, m = kernel_mutants("sigmoid", impl)
        m("forward_output", replace(path, lambda o: lambda dout, cache: _sigmoid_of_cache(impl, cache)),
          "returns the forward output")
        m("no_one_minus", replace(path, lambda o: lambda dout, cache: dout * _sigmoid_of_cache(impl, cache)),
          "dout * s, the (1 - s) factor dropped")
        path, m = kernel_mutants("tanh", impl)
        m("one_minus_t", replace(path, lambda o: lambda dout, cache: dout * (1 - _tanh_of_cache(impl, cache))),
          "dout * (1 - t) instead of (1 - t**2)")
        m("forward_output", replace(path, lambda o: lambda dout, cache: _tanh_of_cache(impl, cache)),
          "returns the forward output")
        path, m = kernel_mutants("leaky_relu", impl)
        m("slope_dropped", replace(path, lambda o: lambda dout, cache: np.where(cache[0] > 0, dout, 0 * dout)),
          "the negative side's slope forgotten (ReLU's gradient)")
        m("slope_everywhere", replace(path, lambda o: lambda dout, cache: dout * cache[0].dtype.type(cache[1])),
          "the slope applied on both sides")
        path, m = kernel_mutants("hardtanh", impl)
        m("no_upper_bound", replace(path, lambda o: lambda dout, cache: np.where(cache[0] <= cache[1], 0 * dout, dout)),
          "only the lower bound stops the gradient (ReLU's mask, shifted)")
        m("relu_mask", replace(path, lambda o: lambda dout, cache: np.where(cache[0] > 0, dout, 0 * dout)),
          "ReLU's gradient: the bounds ignored")
        if naive:
            m("edges_pass", source(path, ("(x <= lo) | (x >= hi)", "(x < lo) | (x > hi)")),
              "the gradient passes at the bounds (torch: 0 there)")
        else:
            m("edges_pass", source("minicnn.kernels.activation:_hardtanh_backward_kernel",
                                   ("x[k] <= lo or x[k] >= hi", "x[k] < lo or x[k] > hi")),
              "the gradient passes at the bounds (torch: 0 there)")
        activation_mutants(impl)
        pad_mutants(impl)
        pixel_shuffle_mutants(impl)
        prelu_mutants(impl)
        upsample_mutants(impl)
        bicubic_mutants(impl)
        path, m = kernel_mutants("softmax", impl)
        m("no_sum_term", replace(path, lambda o: lambda dout, cache: cache[0] * dout),
          "y * dout: the -sum(dout*y) dropped")
        m("forward_output", replace(path, lambda o: lambda dout, cache: cache[0].copy()), "returns the forward output")
        path, m = kernel_mutants("log_softmax", impl)
        m("no_exp",
          replace(path, lambda o: lambda dout, cache: dout - cache[0] * dout.sum(axis=cache[1], keepdims=True)),
          "dout - y * sum(dout): exp(y) forgotten")
        path, m = kernel_mutants("dropout", impl)
        m("not_rescaled", replace(path, lambda o: lambda dout, cache: dout * (cache != 0)),
          "the mask without the 1 / (1 - p) scale")

    subtle_kernel_mutants()
    instance_norm_running_mutants()
    twin_mutants()
    engine_mutants()
    unflatten_mutants()
    optim_mutants()
    names = [mu.name for mu in MUTANTS]
    assert len(names) == len(set(names)), "mutant names must be unique"
    return MUTANTS


def extra_for(impl):
    return NAIVE_SWITCH if impl == "naive" else ()


def _slope(f):
    """A backward written as ``dout * f(*cache)``, in dout's dtype (a mutant is caught by its values)."""
    def make(original):
        def backward(dout, cache):
            with np.errstate(all="ignore"):
                return (dout * f(*(cache if isinstance(cache, tuple) else (cache,)))).astype(dout.dtype)
        return backward
    return make


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _normal_cdf_pdf(x):
    """Phi(x) and phi(x) of the standard normal, in float64."""
    import math
    x = np.asarray(x, dtype=np.float64)
    cdf = np.vectorize(math.erfc, otypes=[np.float64])(-x / math.sqrt(2)) / 2
    return cdf, np.exp(-x ** 2 / 2) / math.sqrt(2 * math.pi)


def activation_mutants(impl):
    """The mistakes people make in the backward of hardsigmoid, hardswish, SiLU, GELU, ELU and softplus."""
    naive = impl == "naive"
    fast_kernel = "minicnn.kernels.activation:_{}_backward_kernel".format

    path, m = kernel_mutants("hardsigmoid", impl)
    m("slope_one", replace(path, _slope(lambda x: ((x > -3) & (x < 3)).astype(x.dtype))),
      "the mask alone: the 1/6 forgotten")
    m("no_saturation", replace(path, _slope(lambda x: np.full_like(x, 1 / 6))),
      "slope 1/6 everywhere: the clip forgotten")
    if naive:
        m("edges_pass", source(path, ("(x > -3) & (x < 3)", "(x >= -3) & (x <= 3)")),
          "the gradient passes at -3 and 3 (torch: 0 there)")
    else:
        m("edges_pass", source(fast_kernel("hardsigmoid"), ("-three < x[k] < three", "-three <= x[k] <= three")),
          "the gradient passes at -3 and 3 (torch: 0 there)")

    path, m = kernel_mutants("hardswish", impl)
    m("product_rule_half", replace(path, _slope(lambda x: np.where(x <= -3, 0, np.where(x < 3, (x + 3) / 6, 1)))),
      "(x + 3) / 6, hardsigmoid's value: the x * (1/6) term of the product rule dropped")
    m("hardsigmoid_slope", replace(path, _slope(lambda x: np.where((x > -3) & (x < 3), 1 / 6, 0))),
      "hardsigmoid's slope, 1/6 inside and 0 outside")
    if naive:
        m("boundary_minus_3", source(path, ("np.where(x <= -3, 0,", "np.where(x < -3, 0,")),
          "the middle piece's slope -1/2 at x == -3 (torch: 0)")
        m("boundary_3", source(path, ("np.where(x < 3, x / 3", "np.where(x <= 3, x / 3")),
          "the middle piece's slope 3/2 at x == 3 (torch: 1)")
    else:
        m("boundary_minus_3", source(fast_kernel("hardswish"), ("if x[k] <= -three:", "if x[k] < -three:")),
          "the middle piece's slope -1/2 at x == -3 (torch: 0)")
        m("boundary_3", source(fast_kernel("hardswish"), ("elif x[k] < three:", "elif x[k] <= three:")),
          "the middle piece's slope 3/2 at x == 3 (torch: 1)")

    path, m = kernel_mutants("silu", impl)
    m("sigmoid_only", replace(path, _slope(lambda x: _sig(x))), "s(x): the x * s'(x) term of the product rule dropped")
    m("sigmoid_derivative_only", replace(path, _slope(lambda x: _sig(x) * (1 - _sig(x)))),
      "s'(x) = s (1 - s) alone: sigmoid's gradient")
    m("x_dropped", replace(path, _slope(lambda x: _sig(x) * (2 - _sig(x)))), "s + s (1 - s): the x of x s' dropped")

    path, m = kernel_mutants("gelu", impl)

    def gelu_slope(f):
        return _slope(lambda x, approximate: f(x, *_normal_cdf_pdf(x)))
    m("no_x_pdf", replace(path, gelu_slope(lambda x, cdf, pdf: cdf)), "Phi(x): the x * phi(x) term dropped")
    m("no_cdf", replace(path, gelu_slope(lambda x, cdf, pdf: x * pdf)), "x * phi(x): the Phi(x) term dropped")
    m("pdf_unnormalised", replace(path, gelu_slope(lambda x, cdf, pdf: cdf + x * np.exp(-x ** 2 / 2))),
      "phi without its 1 / sqrt(2 pi)")
    tanh_probe = kernel_probe_with("gelu", impl, lambda rng: (3 * rng.standard_normal((3, 4, 5)), "tanh"))
    extra = list(extra_for(impl))

    def g(mistake, apply, note):
        add(f"gelu_backward{'_naive' if naive else ''}:{mistake}", "gelu", apply, tanh_probe, extra, note)
    g("tanh_form_gets_erf_gradient", replace(path, lambda o: lambda dout, cache: o(dout, (cache[0], "none"))),
      "approximate='tanh' differentiated as the exact GELU (a backward that ignores the flag)")
    if naive:
        g("tanh_no_sech2_term", source("minicnn.kernels.activation:_gelu_naive_parts",
                                       ("return (1 + t) / 2, (1 - t ** 2) / 2", "return (1 + t) / 2, 0 * t / 2")),
          "approximate='tanh': the x * d/dx (1 + tanh u) / 2 term dropped")
        g("tanh_no_cubic_factor", source("minicnn.kernels.activation:_gelu_naive_parts",
                                         (" * (1 + 3 * _KAPPA * x ** 2)", "")),
          "approximate='tanh': du/dx = c (1 + 3 k x**2) taken as c (the chain rule through the cube)")
    else:
        g("tanh_no_sech2_term", source(fast_kernel("gelu_tanh"), (
            "(half * (one + t) + half * v * (one - t * t) * c * (one + three * kappa * (v * v)))",
            "(half * (one + t))")), "approximate='tanh': the x * d/dx (1 + tanh u) / 2 term dropped")
        g("tanh_no_cubic_factor", source(fast_kernel("gelu_tanh"), (" * (one + three * kappa * (v * v))", "")),
          "approximate='tanh': du/dx = c (1 + 3 k x**2) taken as c (the chain rule through the cube)")

    path, m = kernel_mutants("elu", impl)
    m("slope_alpha", replace(path, _slope(lambda x, out, alpha: np.where(x <= 0, alpha, 1))),
      "the negative side's slope alpha, not alpha * exp(x) = out + alpha")
    m("alpha_forgotten", replace(path, _slope(lambda x, out, alpha: np.where(x <= 0, np.exp(np.minimum(x, 0)), 1))),
      "exp(x) on the negative side: the alpha forgotten")
    m("exp_minus_one", replace(path, _slope(lambda x, out, alpha: np.where(x <= 0, out, 1))),
      "alpha (exp(x) - 1), the forward's output, as the slope (out, not out + alpha)")
    add(f"elu_backward{'_naive' if naive else ''}:mask_from_output", "elu",
        replace(path, _slope(lambda x, out, alpha: np.where(out <= 0, out + alpha, 1))),
        kernel_probe_with("elu", impl, lambda rng: (2 * rng.standard_normal((3, 4, 5)), -1.5)), list(extra_for(impl)),
        "the side read from the output: wrong for a negative alpha, where out > 0 on both sides")
    if naive:
        m("slope_one_at_zero", source(path, ("np.where(x <= 0, alpha * np.exp", "np.where(x < 0, alpha * np.exp")),
          "slope 1 at x == 0 (torch: alpha)")
    else:
        m("slope_one_at_zero", source(fast_kernel("elu"), ("if x[k] <= 0:", "if x[k] < 0:")),
          "slope 1 at x == 0 (torch: alpha)")

    path, m = kernel_mutants("softplus", impl)
    m("threshold_ignored", replace(path, _slope(lambda x, beta, threshold: _sig(beta * x))),
      "sigmoid(beta x) everywhere: the linear piece above the threshold ignored")
    m("beta_forgotten", replace(path, _slope(lambda x, beta, threshold: np.where(beta * x > threshold, 1, _sig(x)))),
      "sigmoid(x), not sigmoid(beta x)")
    m("beta_times_slope", replace(path, _slope(
        lambda x, beta, threshold: np.where(beta * x > threshold, 1, beta * _sig(beta * x)))),
      "beta * sigmoid(beta x): the chain rule's beta not cancelled by the 1 / beta")
    if naive:
        m("threshold_inclusive", source(path, ("linear = beta * x > threshold", "linear = beta * x >= threshold")),
          "linear at beta * x == threshold too (torch: only above)")
    else:
        m("threshold_inclusive", source(fast_kernel("softplus"), ("if z > threshold:", "if z >= threshold:")),
          "linear at beta * x == threshold too (torch: only above)")


def _ct_in_out_swapped(dweight, cache):
    """dweight's channels in conv2d's (out, in) order: each group's (C_out/g, C_in/g) numbers read as the
    (C_in/g, C_out/g) block the weight has."""
    g = cache.setup.groups
    cin_g, cout_g = dweight.shape[0] // g, dweight.shape[1]
    return dweight.reshape(g, cout_g, cin_g, *dweight.shape[2:]).transpose(0, 2, 1, 3, 4).reshape(dweight.shape).copy()


def _ct_output_padding_at_the_start(dout, cache):
    """``dout`` read as if output_padding's rows and columns were at the top and left: shifted up by them."""
    oph, opw = cache.setup.output_padding
    moved = np.zeros_like(dout)
    moved[:, :, :dout.shape[2] - oph, :dout.shape[3] - opw] = dout[:, :, oph:, opw:]
    return moved


def _ct_output_padding_dropped(dout, cache):
    """``dout`` without its output_padding rows and columns (as if they held no gradient: zeros)."""
    oph, opw = cache.setup.output_padding
    kept = dout.copy()
    kept[:, :, kept.shape[2] - oph:] = 0
    kept[:, :, :, kept.shape[3] - opw:] = 0
    return kept


def _ct_dx_stride_one(result, dout, cache, *args, **kwargs):
    """conv2d's forward of ``dout`` with stride 1 (the stride forgotten), its first H x W: the wrong dx."""
    from minicnn import kernels as K
    s = cache.setup
    out, _ = K.conv2d_forward_naive(dout, cache.weight, None, 1, s.padding, s.dilation, s.groups)
    return out[:, :, :cache.x.shape[2], :cache.x.shape[3]].copy()


def conv_transpose_mutants(impl):
    """The mistakes of the transposed conv's backward: conv2d's weight gradient not turned back (flipped, or
    its in/out channels transposed), output_padding's rows on the wrong side or dropped, the groups mixed up,
    the bias gradient summed over the wrong axes, dx read with the wrong stride."""
    naive = impl == "naive"
    path, m = kernel_mutants("conv_transpose2d", impl)
    m("no_bias_grad", wrap(path, each(np.zeros_like, {2})), "the bias gradient dropped (zeros)")
    m("dx_zero", wrap(path, each(np.zeros_like, {0})), "the input gradient dropped")
    m("dx_off_by_one", wrap(path, each(shifted, {0})), "dx one column over (off-by-one window)")
    m("dweight_flipped", wrap(path, each(lambda a: a[:, :, ::-1, ::-1].copy(), {1})),
      "dweight rotated 180 degrees (the flipped-kernel view's gradient, not flipped back)")
    m("dweight_in_out_swapped",
      wrap(path, lambda res, dout, cache, *a, **k: (res[0], _ct_in_out_swapped(res[1], cache), res[2])),
      "dweight's channels in conv2d's (out, in) order, not the weight's (in, out)")
    m("dbias_summed_over_channels",
      wrap(path, each(lambda a: np.full_like(a, a.sum(dtype=np.float64)), {2})),
      "the bias gradient summed over the channel axis too: every channel gets the total")
    m("dbias_batch_averaged",
      wrap(path, lambda res, dout, cache, *a, **k: res[:2] + (None if res[2] is None else res[2] / dout.shape[0],)),
      "the bias gradient averaged over the batch instead of summed")
    m("output_padding_at_the_start",
      replace(path, lambda o: lambda dout, cache, *a, **k: o(_ct_output_padding_at_the_start(dout, cache), cache,
                                                             *a, **k)),
      "output_padding's rows and columns taken at the top and left of dout, not the bottom and right")
    m("output_padding_rows_dropped",
      replace(path, lambda o: lambda dout, cache, *a, **k: o(_ct_output_padding_dropped(dout, cache), cache, *a,
                                                             **k)),
      "the output_padding rows' gradient left out (of dbias, and of dx and dweight where the padding reaches them)")
    m("dx_stride_one", wrap(path, first_is(_ct_dx_stride_one)),
      "dx = conv2d's forward of dout with stride 1: the stride forgotten")
    if naive:
        m("groups_mixed", source(path, ("for ins, outs in group_blocks(weight, setup.groups, 1):",
                                        "for ins, outs in zip([b[0] for b in group_blocks(weight, setup.groups, 1)], "
                                        "[b[1] for b in group_blocks(weight, setup.groups, 1)][::-1]):")),
          "group g's inputs paired with another group's outputs")
        m("windows_stride_one", source(path, ("g = doutp[_window(outs, y, xi, weight.shape, setup)]",
                                              "g = doutp[_window(outs, y, xi, weight.shape, "
                                              "setup._replace(stride=(1, 1)))]")),
          "dx and dweight read dout's windows with stride 1")
        m("dweight_assigned", source(path, ("dweight[ins] +=", "dweight[ins] =")),
          "dweight keeps only the last input pixel's term")
    else:
        m("groups_mixed", source(path, ("for ins, rows in group_blocks(weight, setup.groups, kh * kw):",
                                        "for ins, rows in zip([b[0] for b in group_blocks(weight, setup.groups, "
                                        "kh * kw)], [b[1] for b in group_blocks(weight, setup.groups, kh * kw)]"
                                        "[::-1]):")),
          "group g's inputs paired with another group's outputs")
        m("windows_stride_one", source(path, ("kh, kw, sh, sw, dh, dw, h, w, cols)",
                                              "kh, kw, 1, 1, dh, dw, h, w, cols)")),
          "dout's im2col (dx and dweight) with stride 1")


def pad_mutants(impl):
    """The mistakes people make in the backward of F.pad: the strips of a copying mode dropped, one mode's fold
    for another's, the gradient of a crop put back at the corner, circular's crop and padding undone in
    reflect's order."""
    path, m = kernel_mutants("pad", impl)

    def folded_as(mode, only=None):
        return lambda o: lambda dout, cache: o(dout, cache[:4] + (mode if only in (None, cache[4]) else cache[4],)
                                               + cache[5:])
    m("strips_dropped", replace(path, folded_as("zeros")),
      "every mode's backward as the constant mode's: the padded strips' gradients dropped")
    m("reflect_folded_as_circular", replace(path, folded_as("circular", only="reflect")),
      "reflect's strips added to the far end (circular's fold)")
    cropped = kernel_probe_with("pad", impl, lambda rng: (rng.standard_normal((2, 2, 4, 5)), (-1, 2, 1, -2),
                                                            "constant", 0.5))

    def crop_forgotten(original):
        def backward(dout, cache):
            shape, dtype, grow, crop, mode, crop_first = cache
            if not crop_first:  # (reflect's and replicate's crop comes after the padding: _uncrop's mutant below)
                return original(dout, cache)
            k = len(crop) // 2
            kept = shape[:-k] + tuple(n - crop[2 * i] - crop[2 * i + 1] for i, n in enumerate(shape[-k:]))
            dx = np.zeros(shape, dtype)
            dx[tuple(slice(0, n) for n in kept)] = original(dout, (kept, dtype, grow, (0,) * len(crop), mode, True))
            return dx
        return backward
    add(f"pad_backward{'_naive' if impl == 'naive' else ''}:crop_at_the_corner", "pad",
        replace(path, crop_forgotten), cropped, list(extra_for(impl)),
        "a crop's gradient put back at the top-left corner, not where the kept pixels were")
    if impl == "fast":  # (the fast kernel's helper: the naive twin builds its index maps with the crop in place)
        add("padding._uncrop:at_the_corner", "pad",
            source("minicnn.kernels.padding:_uncrop",
                   ("dx[_window(crop, shape)] = dxc", "dx[tuple(slice(0, n) for n in dxc.shape)] = dxc")),
            cropped, (), "the crop's adjoint puts the kept gradient at the corner")

    def circular_padded_then_cropped(original):
        return lambda dout, cache: original(dout, cache[:5] + (False,) if cache[4] == "circular" else cache)
    wrapped = kernel_probe_with("pad", impl, lambda rng: (rng.standard_normal((2, 2, 4, 5)), (2, -1, -1, 1),
                                                            "circular"))
    add(f"pad_backward{'_naive' if impl == 'naive' else ''}:circular_padded_then_cropped", "pad",
        replace(path, circular_padded_then_cropped), wrapped, list(extra_for(impl)),
        "circular's backward in reflect's order (pad, then crop): the wraps' gradients go to cells the crop "
        "removed, as if torch wrapped the whole input and not the kept cells")


def _shuffle_grad(up, swap=False, depth_first=False):
    """A pixel (un)shuffle backward written out: ``dx`` gathered from ``dout`` with the sub-pixel ``(i, j)`` read
    as ``(j, i)`` (``swap``), or channel ``k`` taken as ``(i*r + j)*C + c`` (``depth_first``, TensorFlow's
    depth_to_space order) instead of torch's ``c*r*r + i*r + j``."""
    def make(original):
        def backward(dout, cache):
            shape, dtype, r = cache
            dx = np.zeros(shape, dtype)
            channels = shape[-3] // (r * r) if up else shape[-3]
            for c in range(channels):
                for i in range(r):
                    for j in range(r):
                        k = (i * r + j) * channels + c if depth_first else c * r * r + i * r + j
                        a, b = (j, i) if swap else (i, j)
                        if up:
                            dx[..., k, :, :] = dout[..., c, a::r, b::r]
                        else:
                            dx[..., c, a::r, b::r] = dout[..., k, :, :]
            return dx
        return backward
    return make


def prelu_mutants(impl):
    """The mistakes of PReLU's backward: the slope forgotten in dx, the weight's sum over the wrong entries or
    the wrong dims, the input forgotten in it."""
    path, m = kernel_mutants("prelu", impl)

    def with_dweight(f):
        def make(original):
            def backward(dout, cache):
                dx, dw = original(dout, cache)
                x, weight = cache
                axes = tuple(a for a in range(x.ndim) if a != 1) if x.ndim >= 2 and weight.size > 1 else None
                new = np.asarray(f(x, dout).sum(axis=axes), dtype=dw.dtype)
                return dx, np.broadcast_to(new, dw.shape).copy() if new.ndim == 0 else new.reshape(dw.shape)
            return backward
        return make
    m("dweight_every_entry", replace(path, with_dweight(lambda x, g: x * g)),
      "dweight sums x * dout over every entry, the positive ones too")
    m("dweight_without_x", replace(path, with_dweight(lambda x, g: np.where(x > 0, 0, g))),
      "dweight sums dout where x <= 0: the x of d(w x)/dw forgotten")
    m("dweight_summed_over_channels", replace(path, lambda o: lambda dout, cache: (
        lambda dx, dw: (dx, np.full_like(dw, dw.sum())))(*o(dout, cache))),
      "every slope gets the sum over all the channels (the per-channel reduction forgotten)")
    m("slope_dropped", replace(path, lambda o: lambda dout, cache: (np.where(cache[0] > 0, dout, 0 * dout),
                                                                    o(dout, cache)[1])),
      "dx: the negative side's slope forgotten (ReLU's gradient)")
    m("slope_of_one_channel", replace(path, lambda o: lambda dout, cache: (
        np.where(cache[0] > 0, dout, cache[1].reshape(-1)[0] * dout), o(dout, cache)[1])),
      "dx: channel 0's slope used for every channel")
    m("kink_gets_one", replace(path, lambda o: lambda dout, cache: (
        np.where(cache[0] >= 0, dout, o(dout, cache)[0]), o(dout, cache)[1])),
      "dx: slope 1 at x == 0 (torch: the weight's slope)")


def _gn_view(cache):
    """(N, G, per, L) of group norm's cache: samples, groups, the group's channels, their positions."""
    n, groups, d = cache.xhat.shape
    per = cache.shape[1] // groups if groups else 0
    return n, groups, per, (d // per if per else 0)


def _gn_dx(dout, cache, weight=True, mean_term=True, var_term=True, interleaved=False):
    """Group norm's dx, ``invstd * (g - mean(g) - xhat * mean(g * xhat))`` per group with ``g = dout * weight``,
    from the cache, with the mistakes people make: the weight forgotten, a term dropped, or the groups taken
    across the wrong axis (``interleaved``: channels g, g + G, g + 2G, ... as the reshape (N, C/G, G, L)
    gives them, for the consecutive channels of (N, G, C/G, L))."""
    n, groups, per, length = _gn_view(cache)
    g = dout.reshape(n, groups * per, length)
    if weight and cache.weight is not None:
        g = g * cache.weight.reshape(-1, 1)
    xhat = cache.xhat.reshape(n, groups * per, length)
    if interleaved:
        def grouped(a):
            return a.reshape(n, per, groups, length).transpose(0, 2, 1, 3).reshape(n, groups, per * length)

        def ungrouped(a):
            return a.reshape(n, groups, per, length).transpose(0, 2, 1, 3).reshape(cache.shape)
    else:
        def grouped(a):
            return a.reshape(n, groups, per * length)

        def ungrouped(a):
            return a.reshape(cache.shape)
    g, xhat = grouped(g), grouped(xhat)
    invstd = cache.invstd[:, :, None]
    dx = invstd * g
    if cache.input_stats and mean_term:
        dx = dx - invstd * g.mean(axis=2, keepdims=True)
    if cache.input_stats and var_term:
        dx = dx - invstd * xhat * (g * xhat).mean(axis=2, keepdims=True)
    return ungrouped(dx)


def _gn_param_grads(res, dout, cache, how):
    """The weight and bias gradients summed over the wrong axes: ``"first_sample"``, sample 0's alone (the
    sum over the batch forgotten); ``"per_group"``, every channel given its whole group's sum."""
    n, groups, per, length = _gn_view(cache)
    dy = dout.reshape(n, groups, per, length)
    xhat = cache.xhat.reshape(n, groups, per, length)
    if how == "first_sample":
        dw, db = (dy[:1] * xhat[:1]).sum(axis=(0, 3)), dy[:1].sum(axis=(0, 3))
    else:
        dw = np.broadcast_to((dy * xhat).sum(axis=(0, 2, 3))[:, None], (groups, per))
        db = np.broadcast_to(dy.sum(axis=(0, 2, 3))[:, None], (groups, per))
    return (res[0], None if res[1] is None else dw.reshape(-1).copy(), None if res[2] is None else db.reshape(-1).copy())


def _layer_norm_probe():
    """The fast layer norm's output and gradients on :func:`kernel_args` (normalized_shape (3, 5): not square, so
    an order of flattening shows), the upstream gradient drawn from its own stream."""
    from minicnn import kernels as K
    rng = _rng()
    out, cache = K.layer_norm_forward(*kernel_args("layer_norm", rng))
    return (out,) + K.layer_norm_backward(np.asarray(rng.standard_normal(out.shape) + 0.5), cache)


def layer_norm_mapping_mutants():
    """The mistakes of the fast layer norm's own code, which maps it onto group norm's kernels (the mistakes
    inside those kernels are group norm's mutants): the row taken as one channel of D values instead of D
    channels of one, weight and bias passed in each other's place, the parameters flattened or the parameter
    gradients unflattened in column-major order, the row statistics declared given (constants), dweight and
    dbias unpacked in each other's place."""
    fwd, bwd = "minicnn.kernels.norm:layer_norm_forward", "minicnn.kernels.norm:layer_norm_backward"
    for name, path, edit, note in (
            ("layer_norm_forward:row_as_one_channel", fwd, ("x.reshape(rows, d, 1)", "x.reshape(rows, 1, d)"),
             "the row viewed as one channel of D values: weight[0] and bias[0] for every element"),
            ("layer_norm_forward:weight_bias_swapped", fwd, ("for a in (weight, bias)]", "for a in (bias, weight)]"),
             "weight and bias in each other's place (out = bias * xhat + weight)"),
            ("layer_norm_forward:params_column_major", fwd, ("a.reshape(d)", "a.reshape(d, order='F')"),
             "weight and bias flattened column-major: element i of a row meets another element's parameters"),
            ("layer_norm_backward:param_grads_column_major", bwd,
             ("dweight.reshape(cache.normalized)", "dweight.reshape(cache.normalized, order='F')"),
             "dweight unflattened column-major (normalized_shape of 2+ dims: the values in the wrong places)"),
            ("layer_norm_backward:statistics_as_constants", bwd,
             ("cache.has_bias, True, None, None", "cache.has_bias, False, None, None"),
             "the row's statistics declared given: dx = dy * weight * invstd, the mean and variance terms gone"),
            ("layer_norm_backward:dweight_dbias_swapped", bwd,
             ("dx, dweight, dbias = _group_norm_backward", "dx, dbias, dweight = _group_norm_backward"),
             "group norm's (dx, dweight, dbias) unpacked with dweight and dbias swapped")):
        add(name, "layer_norm", source(path, edit), _layer_norm_probe, (), note)


def group_norm_mutants(impl):
    """The mistakes of group norm's backward (and instance norm's, group norm with one channel per group):
    a statistics term dropped (the mean's, the variance's: the dvar path), the weight forgotten in dx, the
    groups taken across the wrong axis, the parameter gradients summed over the wrong axes; the variance
    that normalises made unbiased; in evaluation, statistics terms for running statistics that are constants."""
    naive = impl == "naive"
    sfx = "_naive" if naive else ""
    made = {}
    for op in ("group_norm", "instance_norm"):
        path, m = made[op] = kernel_mutants(op, impl)
        m("no_mean_term", wrap(path, lambda res, dout, cache: (_gn_dx(dout, cache, mean_term=False),) + res[1:]),
          "dx without the group mean's term (-invstd * mean(g))")
        m("no_variance_term", wrap(path, lambda res, dout, cache: (_gn_dx(dout, cache, var_term=False),) + res[1:]),
          "dx without the variance's term (the dvar path: -invstd * xhat * mean(g * xhat))")
        m("weight_forgotten_in_dx", wrap(path, lambda res, dout, cache: (_gn_dx(dout, cache, weight=False),)
                                         + res[1:]), "dx as if the weight were 1 (g = dy, not dy * weight)")
        m("no_bias_grad", wrap(path, each(np.zeros_like, {2})), "the bias gradient dropped (zeros)")
        m("dweight_is_dbias", wrap(path, lambda res, *a, **k: (res[0], res[2], res[2])),
          "dweight = sum(dy) (xhat forgotten)")
        m("param_grads_first_sample", wrap(path, lambda res, dout, cache: _gn_param_grads(res, dout, cache,
                                                                                          "first_sample")),
          "dweight and dbias of sample 0 alone (the sum over the batch forgotten)")
    path, m = made["group_norm"]
    m("groups_interleaved", wrap(path, lambda res, dout, cache: (_gn_dx(dout, cache, interleaved=True),) + res[1:]),
      "dx's group means over channels g, g + G, ... (reshaped (N, C/G, G, L), not (N, G, C/G, L))")
    m("param_grads_per_group", wrap(path, lambda res, dout, cache: _gn_param_grads(res, dout, cache, "per_group")),
      "dweight and dbias summed over the whole group, not per channel")
    # the forward normalising with the unbiased variance (torch's group and instance norm: the biased one)
    if naive:
        edit = source("minicnn.kernels.norm:_group_norm_naive",
                      ("var[i, g] = ((values - mean[i, g]) ** 2).sum() / values.size",
                       "var[i, g] = ((values - mean[i, g]) ** 2).sum() / max(values.size - 1, 1)"))
    else:
        edit = source("minicnn.kernels.norm:_gn_forward_kernel",
                      ("var64[r] = _total(col) / d", "var64[r] = _total(col) / max(d - 1, 1)"))
    add(f"group_norm_forward{sfx}:unbiased_variance", "group_norm", edit, kernel_probe("group_norm", impl),
        list(extra_for(impl)), "xhat normalised by the unbiased variance (divided by D - 1, not D)")
    # instance norm in evaluation: the running statistics are constants, no statistics terms
    eval_probe = kernel_probe_with("instance_norm", impl, lambda rng: (
        rng.standard_normal((3, 4, 2, 3)), rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(4),
        rng.uniform(0.5, 2, 4), False, 1e-5))
    add(f"instance_norm_backward{sfx}:eval_with_statistics_terms", "instance_norm",
        replace(f"minicnn.kernels.norm:instance_norm_backward{sfx}",
                lambda o: lambda dout, cache: o(dout, cache._replace(input_stats=True))),
        eval_probe, list(extra_for(impl)), "evaluation differentiated as if each instance's statistics had normalised")


def _instance_norm_running_probe():
    from minicnn import functional as F
    rng = _rng()
    running_mean, running_var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    F.instance_norm(2 * rng.standard_normal((4, 3, 2, 3)) + 1, running_mean, running_var, momentum=0.3)
    return (running_mean, running_var)


def instance_norm_running_mutants():
    """The mistakes of instance norm's running statistics: the biased variance averaged in (torch: the
    unbiased one), the momentum on the other side (Keras's ``running = m * running + (1 - m) * batch``)."""
    target = "minicnn.functional:_instance_norm_running"
    add("functional._instance_norm_running:biased_variance", "instance_norm",
        source(target, ("unbiased = cache.var * (count / (count - 1)) if count != 1 else np.full_like(cache.var, np.nan)",
                        "unbiased = cache.var")),
        _instance_norm_running_probe, (), "the running variance moves towards the biased variance")
    add("functional._instance_norm_running:momentum_swapped", "instance_norm",
        source(target, ("running_mean[...] = (1 - momentum) * running_mean + momentum * (",
                        "running_mean[...] = momentum * running_mean + (1 - momentum) * ("),
               ("running_var[...] = (1 - momentum) * running_var + momentum * (",
                "running_var[...] = momentum * running_var + (1 - momentum) * (")),
        _instance_norm_running_probe, (), "running = momentum * running + (1 - momentum) * batch")


def pixel_shuffle_mutants(impl):
    """The mistakes of a sub-pixel permutation's backward: the block's rows and columns swapped, the channels
    split in the other order (depth first), the gradient left where it arrived."""
    for op, up in (("pixel_shuffle", True), ("pixel_unshuffle", False)):
        path, m = kernel_mutants(op, impl)
        m("sub_pixel_transposed", replace(path, _shuffle_grad(up, swap=True)),
          "sub-pixel (i, j) of each block taken from (j, i)")
        m("depth_first_channels", replace(path, _shuffle_grad(up, depth_first=True)),
          "channel (i*r + j)*C + c, TensorFlow's depth_to_space order, for torch's c*r*r + i*r + j")
        m("same_direction", replace(path, lambda o: lambda dout, cache: dout.reshape(cache[0]).copy()),
          "the gradient reshaped to the input's shape, not permuted back")


def _resized_back(op, impl):
    """A resize's backward as the forward of the gradient back to the input's size: one output pixel's gradient
    per input pixel (read where the forward would read), not the sum of every output pixel's that read it."""
    suffix = "_naive" if impl == "naive" else ""

    def make(original):
        def backward(dout, cache):
            from minicnn import kernels as K
            align = () if cache.align_corners is None else (cache.align_corners,)
            return getattr(K, f"{op}_forward{suffix}")(dout, cache.shape[2:], *align)[0]
        return backward
    return make


def upsample_mutants(impl):
    """The mistakes of a resize's backward (kernels/upsample.py): scattering by another rule than the forward
    gathered with (align_corners ignored, the scale factor ignored, nearest for nearest-exact and back), the
    weights (1 - lam, lam) swapped, assigning where sources are shared, the gradient resized back instead of
    summed; and mistakes in the source index itself (the step out/in for in/out, a rounded index, torch's
    kept-size copy dropped, the clamp at 0 dropped, the second neighbour clamped one pixel early), which the
    forward shares."""
    naive = impl == "naive"
    kernels = "minicnn.kernels.upsample"
    # ---------------------------------------------------------------- nearest
    path, m = kernel_mutants("upsample_nearest2d", impl)
    m("resized_back", replace(path, _resized_back("upsample_nearest2d", impl)),
      "dx = the gradient resized back by nearest: one output's gradient per input pixel, not the sum of its copies'")
    m("exact_rule", source(path, ("_nearest_source_naive", "_nearest_exact_source_naive")) if naive else
      source(path, ("nearest_sources", "nearest_exact_sources", 2)),
      "the gradient scattered by nearest-exact's index (the pixel centre's), the forward gathered by nearest's")
    m("assigned", source(f"{kernels}:_scatter_naive", ("source(ox, w, ow, sw)] += dout", "source(ox, w, ow, sw)] = dout"))
      if naive else source(f"{kernels}:_scatter_kernel", ("acc[r, cols[ox]] +=", "acc[r, cols[ox]] =")),
      "an input pixel copied several times keeps one copy's gradient (assigned, not added)")
    step = ("np.float32(in_size) / np.float32(out_size)", "np.float32(out_size) / np.float32(in_size)")
    m("scale_out_over_in", source(f"{kernels}:_nearest_source_naive", step) if naive else
      source(f"{kernels}:nearest_sources", ("_step32(in_size, out_size, scale)", "_step32(out_size, in_size, scale)")),
      "the source step out/in instead of in/out (forward and backward alike)")
    m("rounded", source(f"{kernels}:_nearest_source_naive", ("int(np.floor(", "int(np.round(")) if naive else
      source(f"{kernels}:nearest_sources", ("np.floor(d.astype", "np.round(d.astype")),
      "the source index rounded instead of floored (forward and backward alike)")
    kept = kernel_probe_with("upsample_nearest2d", impl, lambda rng: (rng.standard_normal((2, 2, 5, 7)), (5, 7), 1.1,
                                                                      1.3))
    target = f"upsample_nearest2d_backward{'_naive' if naive else ''}"
    add(f"{target}:no_kept_size_copy", "upsample_nearest2d",
        source(f"{kernels}:_nearest_source_naive", ("if out_size == in_size:\n        return d", "if False:\n        return d"))
        if naive else source(f"{kernels}:nearest_sources", ("if out_size == in_size:", "if False:")), kept,
        NAIVE_SWITCH if naive else (), "a kept size stepped by 1/scale_factor, not copied (torch's shortcut dropped)")
    # 4 -> 6 rows by scale_factor 1.7: the step 1/1.7 reads rows 0 0 1 1 2 2, the sizes' 4/6 rows 0 0 1 2 2 3
    by_scale = kernel_probe_with("upsample_nearest2d", impl, lambda rng: (rng.standard_normal((2, 2, 4, 5)), (6, 3),
                                                                          1.7, 0.7))
    add(f"{target}:scale_factor_ignored", "upsample_nearest2d",
        source(f"{kernels}:_scatter_naive", ("cache.output_size, cache.scales", "cache.output_size, (None, None)"))
        if naive else
        source(path, ("cache.scales[0]", "None"), ("cache.scales[1]", "None")), by_scale,
        NAIVE_SWITCH if naive else (), "the backward steps by in/out where the forward stepped by 1/scale_factor")

    # ---------------------------------------------------------------- nearest-exact
    path, m = kernel_mutants("upsample_nearest_exact2d", impl)
    m("resized_back", replace(path, _resized_back("upsample_nearest_exact2d", impl)),
      "dx = the gradient resized back by nearest-exact, not summed over the copies")
    m("nearest_rule", source(path, ("_nearest_exact_source_naive", "_nearest_source_naive")) if naive else
      source(path, ("nearest_exact_sources", "nearest_sources", 2)),
      "the gradient scattered by nearest's index (floor(d * step)), the forward gathered by the pixel centre's")
    m("no_half_pixel", source(f"{kernels}:_nearest_exact_source_naive", ("(d + 0.5) * float(step)", "d * float(step)"))
      if naive else source(f"{kernels}:nearest_exact_sources", ("(np.arange(out_size) + 0.5)", "np.arange(out_size)")),
      "the centre's half pixel dropped from the source position (forward and backward alike)")

    # ---------------------------------------------------------------- bilinear
    path, m = kernel_mutants("upsample_bilinear2d", impl)
    m("resized_back", replace(path, _resized_back("upsample_bilinear2d", impl)),
      "dx = the gradient resized back bilinearly, not the forward's weights scattered")
    m("weights_swapped", source(path, ("y0, y1, a0, a1 = ", "y0, y1, a1, a0 = "), ("x0, x1, b0, b1 = ", "x0, x1, b1, b0 = "))
      if naive else source(path, ("(h0, h1, hw0, hw1, w0, w1, ww0, ww1)", "(h0, h1, hw1, hw0, w0, w1, ww1, ww0)")),
      "each source pixel gets the other neighbour's weight: lam for i0, 1 - lam for i1")
    m("assigned", source(path, ("dx[:, :, y1, x1] += a1 * b1 * g", "dx[:, :, y1, x1] = a1 * b1 * g")) if naive else
      source(f"{kernels}:_bilinear_adjoint_kernel", ("acc[r1, j] += bottom * ww1[ox]", "acc[r1, j] = bottom * ww1[ox]")),
      "a source pixel shared by several outputs keeps one share (assigned, not added)")
    m("scale_factor_ignored", source(path, ("cache.scales", "(None, None)")) if naive else
      source(path, ("cache.scales[0]", "None"), ("cache.scales[1]", "None")),
      "the backward steps by in/out where the forward stepped by 1/scale_factor")
    m("no_zero_clamp", source(f"{kernels}:_linear_source_naive", ("max(step * (d + 0.5) - 0.5, 0.0)",
                                                                   "step * (d + 0.5) - 0.5")) if naive else
      source(f"{kernels}:linear_sources", ("np.maximum(step * (d + 0.5) - 0.5, 0.0)", "step * (d + 0.5) - 0.5")),
      "the source position not clamped at 0: the first outputs blend in pixel -1 (forward and backward alike)")
    m("neighbour_off_by_one", source(f"{kernels}:_linear_source_naive", ("if i0 < in_size - 1 else", "if i0 < in_size - 2 else"))
      if naive else source(f"{kernels}:linear_sources", ("(i0 < in_size - 1)", "(i0 < in_size - 2)")),
      "the second neighbour clamped one pixel early: the last-but-one pixel never blends with the last")
    aligned = kernel_probe_with("upsample_bilinear2d", impl, lambda rng: (rng.standard_normal((2, 2, 5, 7)), (7, 4),
                                                                          True))
    target = f"upsample_bilinear2d_backward{'_naive' if naive else ''}"
    add(f"{target}:align_corners_ignored", "upsample_bilinear2d", source(path, ("cache.align_corners", "False", 2)),
        aligned, NAIVE_SWITCH if naive else (), "the backward with align_corners=False whatever the forward had")


def _last_of_repeated_taps(taps, weights):
    """``weights`` with every tap that a later tap of the same output repeats set to 0: what numpy's buffered
    ``dx[..., taps] += v`` adds when ``taps`` repeats an index (the last value only)."""
    weights = weights.copy()
    for k in range(3):
        weights[:, k] *= ~(taps[:, k:k + 1] == taps[:, k + 1:]).any(axis=1)
    return weights


def _bicubic_border_once(impl):
    """bicubic's backward with each clamped border pixel given one tap's share (the last one's), not the sum of the
    taps clamped onto it: the fast pair with the repeated taps' weights zeroed, the naive twin scattering the 16
    taps with one fancy-indexed ``+=``."""
    kernels = "minicnn.kernels.upsample"
    if impl == "naive":
        return source(f"{kernels}:upsample_bicubic2d_backward_naive",
                      ("            for j in range(4):\n                for i in range(4):\n"
                       "                    dx[:, :, rows[j], cols[i]] += wy[j] * wx[i] * g",
                       "            dx[:, :, np.array(rows)[:, None], np.array(cols)] += "
                       "np.outer(wy, wx) * g[:, :, None, None]"))

    def make(original):
        def backward(dout, cache):
            from minicnn.kernels import upsample
            geometry = []
            for axis in (0, 1):
                taps, weights = upsample.cubic_sources(cache.shape[2 + axis], cache.output_size[axis],
                                                       cache.align_corners, cache.scales[axis])
                geometry += [taps, _last_of_repeated_taps(taps, weights)]
            return upsample._planes(upsample._bicubic_adjoint_kernel, dout, tuple(geometry), cache.shape[2:])
        return backward
    return replace(f"{kernels}:upsample_bicubic2d_backward", make)


def bicubic_mutants(impl):
    """The mistakes of bicubic's backward: the taps' 4 x 4 weights transposed (the row weight of tap i, the column
    weight of tap j), the border pixel given one clamped tap's share, the scale factor or align_corners dropped,
    the gradient resized back; and in the source rule the forward shares: A = -0.5 for torch's -0.75, the taps
    beyond a border not clamped (read where numpy's negative indices wrap), bilinear's clamp of the source at 0."""
    naive = impl == "naive"
    kernels = "minicnn.kernels.upsample"
    path, m = kernel_mutants("upsample_bicubic2d", impl)
    m("resized_back", replace(path, _resized_back("upsample_bicubic2d", impl)),
      "dx = the gradient resized back bicubically, not the forward's 16 weights scattered")
    m("weights_of_the_other_axis", source(path, ("wy[j] * wx[i] * g", "wy[i] * wx[j] * g")) if naive else
      source(f"{kernels}:_bicubic_adjoint_kernel",
             ("g * row_w[oy, j] * col_w[ox, i]", "g * row_w[oy, i] * col_w[ox, j]")),
      "tap (j, i) weighted by row weight i and column weight j: the 4 x 4 weights transposed")
    m("border_not_accumulated", _bicubic_border_once(impl),
      "a border pixel that several clamped taps read gets one tap's share, not their sum (dx[taps] += v)")
    m("scale_factor_ignored", source(path, ("cache.scales", "(None, None)")) if naive else
      source(path, ("cache.scales[0]", "None"), ("cache.scales[1]", "None")),
      "the backward steps by in/out where the forward stepped by 1/scale_factor")
    m("wrong_A", source(f"{kernels}:_cubic_kernel_naive", ("u, a = abs(u), CUBIC_A", "u, a = abs(u), -0.5")) if naive
      else source(f"{kernels}:cubic_sources", ("a = CUBIC_A", "a = -0.5")),
      "A = -0.5 (Keys', PIL's) for torch's -0.75 (forward and backward alike)")
    m("taps_not_clamped", source(f"{kernels}:_cubic_source_naive", ("min(max(i + k, 0), in_size - 1)",
                                                                     "(i + k) % in_size")) if naive else
      source(f"{kernels}:cubic_sources", ("np.clip(i[:, None] + np.arange(-1, 3), 0, in_size - 1)",
                                          "(i[:, None] + np.arange(-1, 3)) % in_size")),
      "the taps beyond a border not clamped: pixel -1 read as numpy reads x[-1], the far border (forward and "
      "backward alike)")
    m("zero_clamp", source(f"{kernels}:_cubic_source_naive", ("real = step * (d + 0.5) - 0.5",
                                                               "real = max(step * (d + 0.5) - 0.5, 0.0)")) if naive else
      source(f"{kernels}:cubic_sources",
             ("real = step * (d + 0.5) - 0.5", "real = np.maximum(step * (d + 0.5) - 0.5, 0)")),
      "the source clamped at 0 as bilinear's (torch's cubic rule is not): the first outputs read the border "
      "pixel alone (forward and backward alike)")
    aligned = kernel_probe_with("upsample_bicubic2d", impl, lambda rng: (rng.standard_normal((2, 2, 5, 7)), (7, 4),
                                                                         True))
    target = f"upsample_bicubic2d_backward{'_naive' if naive else ''}"
    add(f"{target}:align_corners_ignored", "upsample_bicubic2d", source(path, ("cache.align_corners", "False", 2)),
        aligned, NAIVE_SWITCH if naive else (), "the backward with align_corners=False whatever the forward had")


def kernel_probe_with(op, impl, make_args):
    """:func:`kernel_probe` on other arguments: ``make_args(rng)``."""
    suffix = "_naive" if impl == "naive" else ""

    def probe():
        from minicnn import kernels as K
        rng = _rng()
        out, cache = getattr(K, f"{op}_forward{suffix}")(*make_args(rng))
        return getattr(K, f"{op}_backward{suffix}")(np.asarray(rng.standard_normal(np.shape(out)) + 0.5), cache)
    return probe


def _adaptive_tied_maxima(impl):
    """Adaptive max pool backward that gives each window's gradient to *every* pixel holding its maximum (torch,
    and minicnn, give it to the first only); the forward is wrapped to remember its input and output size by
    the argmax array it returns, as :func:`_tied_maxima` does for max_pool2d."""
    suffix = "_naive" if impl == "naive" else ""
    fwd_path = f"minicnn.kernels.pool:adaptive_max_pool2d_forward{suffix}"
    bwd_path = f"minicnn.kernels.pool:adaptive_max_pool2d_backward{suffix}"

    def apply():
        from minicnn.kernels import avgpool
        seen = {}
        _, _, _, forward = _resolve(fwd_path)
        _, _, _, backward = _resolve(bwd_path)

        @functools.wraps(forward)
        def recording_forward(x, output_size):
            out, cache = forward(x, output_size)
            seen[id(cache[1])] = (cache[1], x, output_size)
            return out, cache

        @functools.wraps(backward)
        def tied_backward(dout, cache):
            dx = backward(dout, cache)
            if id(cache[1]) not in seen:
                return dx
            _, x, output_size = seen[id(cache[1])]
            (h0, h1), (w0, w1), _ = avgpool.adaptive_windows(x.shape, output_size)
            dx = np.zeros(x.shape, dtype=dout.dtype)
            for y in range(len(h0)):
                for xo in range(len(w0)):
                    rows, cols = slice(h0[y], h1[y]), slice(w0[xo], w1[xo])
                    win = x[..., rows, cols]
                    best = win.max(axis=(-2, -1), keepdims=True)
                    hit = (win == best) | (np.isnan(win) & np.isnan(best))
                    dx[..., rows, cols] += np.where(hit, dout[..., y:y + 1, xo:xo + 1], 0)
            return dx
        replace_everywhere(forward, recording_forward)
        replace_everywhere(backward, tied_backward)
    return apply


def _bce_one_minus_t_flipped(dloss, cache):
    """binary_cross_entropy's gradients with the sign of its ``(1 - t) log(1 - x)`` term flipped:
    ``d/dx = -t/x - (1 - t)/(1 - x)`` and ``d/dt = -log x - log(1 - x)``."""
    x, t, weight, reduction = cache
    g = dloss * (1 if weight is None else weight) / (x.size if reduction == "mean" else 1)
    return ((g * (-t / x - (1 - t) / (1 - x))).astype(x.dtype),
            (g * -(np.log(x) + np.log1p(-x))).astype(x.dtype))


def _bce_mean_over(count):
    """A wrap transform: "mean" divided by ``count(cache)`` instead of the element count."""
    def transform(result, dloss, cache):
        x, _, _, reduction = cache
        if reduction != "mean":
            return result
        return tuple(np.asarray(r * (x.size / count(cache)), dtype=r.dtype) for r in result)
    return transform


def _bce_forward_probe(impl):
    """binary_cross_entropy's forward itself ("none") where x is exactly 0 or 1: where the log's clamp shows."""
    suffix = "_naive" if impl == "naive" else ""

    def probe():
        from minicnn import kernels as K
        x, t = np.array([0.0, 1.0, 0.5, 0.0, 1.0]), np.array([1.0, 0.0, 0.25, 0.5, 0.5])
        return getattr(K, f"binary_cross_entropy_forward{suffix}")(x, t, None, "none")[0]
    return probe


def K_same(name):
    from minicnn import kernels as K
    return getattr(K, name) is getattr(K, f"{name}_naive", None)


def _window_size(cache):
    """The windows' (largest) divisor: what a forgotten division multiplies the gradient by (exactly, for windows
    of one size)."""
    divisor = cache[2][2]
    return np.asarray(divisor).max()


def _avgpool_probe(impl, args):
    suffix = "_naive" if impl == "naive" else ""

    def probe():
        from minicnn import kernels as K
        rng = _rng()
        out, cache = getattr(K, f"avg_pool2d_forward{suffix}")(rng.standard_normal((2, 2, 7, 7)), *args)
        return getattr(K, f"avg_pool2d_backward{suffix}")(rng.standard_normal(out.shape), cache)
    return probe


def _sigmoid_of_cache(impl, cache):
    """The forward output from sigmoid's cache (fast: the output; naive: the input)."""
    return cache.copy() if impl == "fast" else 1 / (1 + np.exp(-cache))


def _tanh_of_cache(impl, cache):
    return cache.copy() if impl == "fast" else np.tanh(cache)


def _tied_maxima(impl):
    """Max pool backward that gives each window's gradient to *every* position holding its maximum (torch,
    and minicnn, give it to the first only).  The backward only has the winners' indices, so the forward is
    wrapped too, to remember its input and window geometry by the argmax array it returns."""
    suffix = "_naive" if impl == "naive" else ""
    fwd_path = f"minicnn.kernels.pool:max_pool2d_forward{suffix}"
    bwd_path = f"minicnn.kernels.pool:max_pool2d_backward{suffix}"

    def apply():
        from minicnn.kernels import pool
        seen = {}
        _, _, _, forward = _resolve(fwd_path)
        _, _, _, backward = _resolve(bwd_path)

        @functools.wraps(forward)
        def recording_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
            out, cache = forward(x, kernel_size, stride, padding, dilation, ceil_mode)
            seen[id(cache[1])] = (cache[1], x, pool._pool_geometry(x, kernel_size, stride, padding, dilation,
                                                                    ceil_mode))
            return out, cache

        @functools.wraps(backward)
        def tied_backward(dout, cache):
            dx = backward(dout, cache)
            if id(cache[1]) not in seen:
                return dx
            _, x, ((kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow)) = seen[id(cache[1])]
            n, c, h, w = x.shape
            dx = np.zeros(x.shape, dtype=dout.dtype)
            for y in range(oh):
                for xo in range(ow):
                    rows = [r for r in range(y * sh - ph, y * sh - ph + dh * (kh - 1) + 1, dh) if 0 <= r < h]
                    cols = [q for q in range(xo * sw - pw, xo * sw - pw + dw * (kw - 1) + 1, dw) if 0 <= q < w]
                    if not rows or not cols:
                        continue
                    win = x[:, :, rows][:, :, :, cols]
                    best = win.max(axis=(2, 3), keepdims=True)
                    hit = (win == best) | (np.isnan(win) & np.isnan(best))
                    share = np.where(hit, dout[:, :, y:y + 1, xo:xo + 1], 0)
                    dx[np.ix_(range(n), range(c), rows, cols)] += share
            return dx
        replace_everywhere(forward, recording_forward)
        replace_everywhere(backward, tied_backward)
    return apply


def _first_layer_probe(op, impl):
    """``op``'s backward with ``need_input_grad=False`` (what the first layer of a network runs)."""
    suffix = "_naive" if impl == "naive" else ""

    def probe():
        from minicnn import kernels as K
        rng = _rng()
        out, cache = getattr(K, f"{op}_forward{suffix}")(*kernel_args(op, rng))
        return getattr(K, f"{op}_backward{suffix}")(rng.standard_normal(out.shape), cache, need_input_grad=False)
    return probe


def _threaded_probe():
    """conv2d and linear forward/backward on 3 threads, split into small chunks (restored after)."""
    from minicnn import kernels as K
    from minicnn import threads
    saved = threads.MIN_CHUNK_VALUES, threads.MIN_CHUNK_MACS
    try:
        threads.configure(3)
        threads.MIN_CHUNK_VALUES = threads.MIN_CHUNK_MACS = 4
        rng = _rng()
        out, cache = K.conv2d_forward(rng.standard_normal((6, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)),
                                      rng.standard_normal(3), 1, 1)
        conv = K.conv2d_backward(rng.standard_normal(out.shape), cache)
        out, cache = K.relu_forward(rng.standard_normal((6, 40)))
        return conv + (out, K.relu_backward(rng.standard_normal(out.shape), cache))
    finally:
        threads.MIN_CHUNK_VALUES, threads.MIN_CHUNK_MACS = saved
        threads.configure(1)
        threads._num_threads = None


def subtle_kernel_mutants():
    """Mistakes that show on some arguments only: an even window, a padding mode, a reduction, a class
    weight, a dim that is not the last, the Winograd path of the fused block."""
    from minicnn import kernels as K

    def kernel_case(forward, backward, args, upstream=None):
        def probe():
            rng = _rng()
            out, cache = getattr(K, forward)(*args(rng))
            dout = upstream(rng, out) if upstream else np.asarray(rng.standard_normal(np.shape(out)) + 0.5)
            return getattr(K, backward)(dout, cache)
        return probe

    for impl in ("fast", "naive"):
        sfx = "_naive" if impl == "naive" else ""
        extra = list(extra_for(impl))
        # local response norm with an even window: the backward's window must be the forward's mirrored
        lrn_probe = kernel_case(f"local_response_norm_forward{sfx}", f"local_response_norm_backward{sfx}",
                                lambda rng: (rng.standard_normal((2, 6, 3, 2)), 4, 0.5, 0.75, 1.5))
        if impl == "naive":
            lrn_edit = source("minicnn.kernels.norm:local_response_norm_backward_naive",
                              ("((size - 1) // 2, size // 2), (0, 0)", "(size // 2, (size - 1) // 2), (0, 0)"))
        else:
            lrn_edit = source("minicnn.kernels.norm:_local_response_norm_backward_kernel",
                              ("range(max(0, j - after), min(chans, j + before + 1))",
                               "range(max(0, j - before), min(chans, j + after + 1))"))
        add(f"local_response_norm_backward{sfx}:window_not_mirrored", "local_response_norm", lrn_edit, lrn_probe, extra,
            "the backward's channel window the forward's, not mirrored (wrong for even sizes)")

        # softmax / log-softmax along the last axis whatever dim was
        for op in ("softmax", "log_softmax"):
            path = f"minicnn.kernels.activation:{op}_backward{sfx}"
            add(f"{op}_backward{sfx}:last_dim", op,
                replace(path, lambda o: lambda dout, cache: o(dout, (cache[0], -1))),
                kernel_probe(op, impl), extra, "the backward's sum along the last axis, not along dim")

        # losses: reductions, class weights, ignored targets, pos_weight
        add(f"cross_entropy_backward{sfx}:none_upstream_averaged" if impl == "fast" else
            "cross_entropy_forward_naive:none_dlogits_averaged", "cross_entropy",
            (replace("minicnn.kernels.loss:cross_entropy_backward",
                     lambda o: lambda dloss, cache, *a, **k: o(np.full_like(dloss, dloss.mean()) if np.ndim(dloss)
                                                               else dloss, cache, *a, **k)) if impl == "fast" else
             wrap("minicnn.kernels.loss:cross_entropy_forward_naive",
                  lambda res, *a, **k: (res[0], (res[1][0] if res[1][2] != "none" else
                                                 np.broadcast_to(res[1][0].mean(axis=0, keepdims=True),
                                                                 res[1][0].shape).copy(),) + res[1][1:]))),
            kernel_case(f"cross_entropy_forward{sfx}", f"cross_entropy_backward{sfx}",
                        lambda rng: (rng.standard_normal((4, 5)), rng.integers(0, 5, 4), None, -100, "none", 0.0)),
            extra, "reduction='none': every sample's gradient scaled by the mean upstream gradient")
        nll = f"minicnn.kernels.loss:nll_loss_backward{sfx}"

        def ignored_counted(original):
            def backward(dloss, cache):
                labels, safe, w_taken, *rest = cache
                return original(dloss, (labels, safe, np.where(w_taken == 0, 1, w_taken).astype(w_taken.dtype),
                                        *rest))
            return backward
        add(f"nll_loss_backward{sfx}:ignored_target_gets_gradient", "nll_loss", replace(nll, ignored_counted),
            kernel_probe("nll_loss", impl), extra, "an ignore_index target still gets -dloss")
        if impl == "fast":   # the windows both twins (and adaptive average pooling) share
            add("avgpool.adaptive_windows:end_floored", "adaptive_max_pool2d",
                source("minicnn.kernels.avgpool:adaptive_windows",
                       ("-((-(idx + 1) * size) // o)", "((idx + 1) * size) // o")),
                kernel_probe("adaptive_max_pool2d", impl), extra,
                "a window ends at floor((o + 1) H / O), not ceil: windows that should overlap lose their last row")
        bce = f"minicnn.kernels.loss:binary_cross_entropy_with_logits_backward{sfx}"
        add(f"binary_cross_entropy_with_logits_backward{sfx}:pos_weight_ignored", "binary_cross_entropy_with_logits",
            replace(bce, lambda o: lambda dloss, cache: o(dloss, cache[:3] + (None,) + cache[4:])),
            kernel_probe("binary_cross_entropy_with_logits", impl), extra, "pos_weight left out of the gradients")
        mse = f"minicnn.kernels.loss:mse_loss_backward{sfx}"
        add(f"mse_loss_backward{sfx}:mean_not_averaged", "mse_loss",
            wrap(mse, lambda res, dloss, cache: tuple(r * (cache[0].size if cache[1] == "mean" else 1) for r in res)),
            kernel_probe("mse_loss", impl), extra, "reduction='mean' not divided by the element count")

        # padding modes: the adjoint of a padded copy (general conv path and F.pad), probed on a volume
        pads = (1, 1, 2, 1, 3, 2)

        def pad_probe(mode, impl=impl):
            def probe():
                from minicnn.kernels import padding as P
                rng = _rng()
                fn = P.pad_nd_backward_naive if impl == "naive" else P.pad_nd_backward
                return fn(rng.standard_normal((2, 2, 3 + 2, 5 + 3, 6 + 5)), pads, mode)
            return probe
        if impl == "naive":
            add("padding._scatter:assign", "pad_nd",
                source("minicnn.kernels.padding:_scatter",
                       ("np.add.at(dx, (Ellipsis,) + sources, g[..., keep])",
                        "dx[(Ellipsis,) + sources] = g[..., keep]")),
                pad_probe("replicate"), extra, "the padded copies assign instead of adding to their source cell")
        else:
            fold = "minicnn.kernels.padding:_fold_last_axis"
            add("padding._fold_last_axis:reflect_not_flipped", "pad_nd",
                source(fold, ("out[..., 1:lo + 1] += g_lo[..., ::-1]", "out[..., 1:lo + 1] += g_lo")),
                pad_probe("reflect"), (), "reflect's leading strip folded back without flipping")
            add("padding._fold_last_axis:circular_wrong_end", "pad_nd",
                source(fold, ("out[..., size - lo:] += g_lo", "out[..., :lo] += g_lo")),
                pad_probe("circular"), (), "circular's leading strip added to the wrong end")
            add("padding._fold_last_axis:replicate_strip_dropped", "pad_nd",
                source(fold, ("out[..., -1] += g_hi.sum(axis=-1)", "pass")),
                pad_probe("replicate"), (), "replicate's trailing strip dropped (as for zeros)")

        # the first layer's backward: no input gradient asked for (need_input_grad=False)
        for op, dweight in (("conv2d", 1), ("conv_transpose2d", 1), ("conv2d_relu_max_pool2d", 1), ("linear", 1),
                            ("batch_norm", 1)):
            path = f"{kernel_module(op)}:{op}_backward{sfx}"

            def no_dx_path(res, dout, cache, need_input_grad=True, k=dweight, **kwargs):
                if need_input_grad or res[k] is None:
                    return res
                return res[:k] + (res[k] * 0.5,) + res[k + 1:]
            add(f"{op}_backward{sfx}:first_layer_dweight_halved", op, wrap(path, no_dx_path),
                _first_layer_probe(op, impl), extra, "dweight halved when no input gradient is asked for "
                                                     "(a network's first layer)")
        # batch norm in eval mode: the running statistics are constants, no batch terms
        path = f"minicnn.kernels.norm:batch_norm_backward{sfx}"

        def eval_with_batch_terms(res, dout, cache, need_input_grad=True, _relu_out=None):
            if cache.training or res[0] is None:
                return res
            mean_term, var_term = _bn_terms(dout, cache, _relu_out)
            return (res[0] - mean_term - var_term,) + res[1:]
        add(f"batch_norm_backward{sfx}:eval_with_batch_terms", "batch_norm", wrap(path, eval_with_batch_terms),
            kernel_case(f"batch_norm_forward{sfx}", f"batch_norm_backward{sfx}",
                        lambda rng: (rng.standard_normal((4, 3, 5)), rng.standard_normal(3), rng.standard_normal(3),
                                     rng.standard_normal(3), rng.uniform(0.5, 2, 3), False)),
            extra, "eval mode differentiated as if the batch's statistics had normalised")

    # the thread pool: the per-chunk parameter gradients, the chunks themselves
    add("threads.sum_parts:first_chunk_only", "threads",
        source("minicnn.threads:sum_parts", ("for part in parts[1:]:", "for part in parts[1:1]:")),
        _threaded_probe, (), "the per-chunk gradient sums keep the first chunk's only")
    add("threads.map_chunks:last_chunk_dropped", "threads",
        source("minicnn.threads:map_chunks", ("return run_parallel(fn, chunks(n, min_size))",
                                              "return run_parallel(fn, chunks(n, min_size)[:-1] "
                                              "or chunks(n, min_size))")),
        _threaded_probe, (), "a split pass skips its last chunk")

    # the Winograd path of the fused block: its own unpool-ReLU kernel
    def fused_winograd_probe():
        rng = _rng()
        x, w, b = rng.standard_normal((2, 4, 6, 6)), rng.standard_normal((3, 4, 3, 3)), rng.standard_normal(3)
        with K.conv.algorithm("winograd"):
            out, cache = K.conv2d_relu_max_pool2d_forward(x, w, b, 1)
        return K.conv2d_relu_max_pool2d_backward(rng.standard_normal(out.shape), cache)
    kernel = "minicnn.kernels.fused:_winograd_unpool_relu_kernel"
    add("fused._winograd_unpool_relu_kernel:no_relu_mask", "conv2d_relu_max_pool2d",
        source(kernel, ("d[j] if p[j] > 0 and a[j]", "d[j] if a[j]", 4)), fused_winograd_probe, (),
        "the Winograd fused path's dx and dweight without the ReLU's mask")
    add("fused._winograd_unpool_relu_kernel:bias_no_relu_mask", "conv2d_relu_max_pool2d",
        source(kernel, ("partial[j] += d[j] if p[j] > 0 else zero", "partial[j] += d[j]")), fused_winograd_probe, (),
        "the Winograd fused path's bias gradient without the ReLU's mask")


def twin_mutants():
    """The same mistake planted in a fast kernel *and* its naive twin: the kernel-vs-naive tests agree with
    each other then, and only a test against another reference (known values, float64 gradient checks,
    torch) can catch it."""
    by_name = {mu.name: mu for mu in MUTANTS}
    for mu in list(MUTANTS):
        target, _, mistake = mu.name.partition(":")
        twin = by_name.get(f"{target}_naive:{mistake}")
        if twin is None or target.endswith("_naive"):
            continue

        def apply(fast=mu.apply, naive=twin.apply):
            fast()
            naive()
        add(f"{target}+naive:{mistake}", mu.op, apply, mu.probe, (), f"{mu.note} (fast and naive alike)")


# --------------------------------------------------------------------------- the engine
def engine_mutants():
    ops = "minicnn.autograd.ops"

    def e(name, apply, note):
        add(name, "engine", apply, engine_probe, (), note)

    e("ops.Add.backward:second_input_zero", wrap(f"{ops}:Add.backward", lambda r, *a: (r[0], np.zeros_like(r[1]))),
      "b of a + b gets no gradient")
    e("ops.Add.backward:second_input_negated", wrap(f"{ops}:Add.backward", lambda r, *a: (r[0], -r[1])),
      "a + b differentiated as a - b")
    e("ops.Sub.backward:sign", source(f"{ops}:Sub.backward", ("db = -unbroadcast", "db = unbroadcast")),
      "b of a - b gets +g")
    e("ops.Mul.backward:swapped", source(f"{ops}:Mul.backward", ("unbroadcast(g * b, _shape(a))",
                                                               "unbroadcast(g * a, _shape(a))")),
      "a of a * b gets g * a")
    e("ops.Mul.backward:second_input_zero", wrap(f"{ops}:Mul.backward",
                                                lambda r, *a: (r[0], None if r[1] is None else np.zeros_like(r[1]))),
      "b of a * b gets no gradient")
    e("ops.Div.backward:sign", source(f"{ops}:Div.backward", ("-g * a / (b * b)", "g * a / (b * b)")),
      "b of a / b gets +g a / b**2")
    e("ops.Div.backward:not_squared", source(f"{ops}:Div.backward", ("-g * a / (b * b)", "-g * a / b")),
      "b of a / b gets -g a / b")
    e("ops.Pow.backward:no_factor_p", source(f"{ops}:Pow.backward", ("g * p * np.power(a, np.subtract(p, 1",
                                                                      "g * np.power(a, np.subtract(p, 1")),
      "the exponent's factor p forgotten")
    e("ops.Pow.backward:power_not_lowered", source(f"{ops}:Pow.backward", ("np.power(a, np.subtract(p, 1, dtype=out.dtype))",
                                                                            "np.power(a, p)")),
      "a**p instead of a**(p-1)")
    e("ops.Pow.backward:exponent_log_dropped", source(f"{ops}:Pow.backward", ("g * out * np.log(a)", "g * out")),
      "a tensor exponent's gradient a**p without log(a)")
    e("ops.Pow.backward:exponent_zero_base_kept", source(f"{ops}:Pow.backward", (
        "np.where((np.equal(a, 0)) & (np.greater_equal(p, 0)), 0, g * out * np.log(a))", "g * out * np.log(a)")),
      "the exponent's gradient at a zero base not 0 (0 * -inf = NaN where torch gives 0)")
    e("ops.ClampTensor.backward:no_half_at_ties", source(f"{ops}:ClampTensor.backward", (
        "+ 0.5 * (a == lo) + 0.5 * (a == hi)", "+ 1.0 * (a == lo) + 1.0 * (a == hi)")),
      "the input gets all of the gradient at a tie with a tensor bound (torch splits it)")
    e("ops.ClampTensor.backward:high_not_all_when_low_above", source(f"{ops}:ClampTensor.backward", (
        "1.0 * (~equal | (a > hi))", "1.0 * (a > hi)")),
      "min > max: the output is max, but max gets the gradient only where a > max")
    e("ops.ClampTensor.backward:low_wins_equal_bounds", source(f"{ops}:ClampTensor.backward", (
        "1.0 * (equal & (a == lo)))", "0.0 * (equal & (a == lo)))")),
      "min == max == a: torch gives the gradient to a")
    e("ops.MatMul.backward:da_zero", wrap(f"{ops}:MatMul.backward",
                                          lambda r, *a: (None if r[0] is None else np.zeros_like(r[0]), r[1])),
      "a of a @ b gets no gradient")
    e("ops.MatMul.backward:db_transposed", wrap(f"{ops}:MatMul.backward",
                                                lambda r, *a: (r[0], None if r[1] is None else r[1].T.copy())),
      "db = (a.T @ g).T")
    e("ops.Exp.backward:upstream", source(f"{ops}:Exp.backward", ("return g * ctx.saved_tensors[0]", "return g")),
      "the upstream gradient unchanged")
    e("ops.Exp.backward:forward_output", source(f"{ops}:Exp.backward", ("return g * ctx.saved_tensors[0]",
                                                                       "return ctx.saved_tensors[0].copy()")),
      "returns the forward output")
    e("ops.Log.backward:times", source(f"{ops}:Log.backward", ("g / ctx.saved_tensors[0]", "g * ctx.saved_tensors[0]")),
      "g * a instead of g / a")
    e("ops.Abs.backward:no_sign", source(f"{ops}:Abs.backward", ("g * np.sign(ctx.saved_tensors[0])", "g")),
      "the sign forgotten")
    e("ops.Cast.backward:negated", wrap(f"{ops}:Cast.backward", lambda r, *a: (-r[0], None)), "the gradient negated")
    e("ops.Sum.backward:doubled", wrap(f"{ops}:Sum.backward", lambda r, *a: (2 * r[0], None, None)),
      "the gradient scaled by 2")
    e("ops.Mean.backward:not_divided", source(f"{ops}:Mean.backward", ("Sum.backward(ctx, g / count)",
                                                                      "Sum.backward(ctx, g)")),
      "the mean's 1/count forgotten")
    e("ops.Mean.backward:count_off_by_one", source(f"{ops}:Mean.backward", ("g / count", "g / (count + 1)")),
      "divided by count + 1")
    e("ops.Reshape.backward:fortran_order", source(f"{ops}:Reshape.backward", ("g.reshape(ctx.shape)",
                                                                             "g.reshape(ctx.shape, order='F')")),
      "the gradient reshaped in the other order")
    e("ops.Transpose.backward:not_transposed", source(f"{ops}:Transpose.backward",
                                                      ("g.transpose(np.argsort(ctx.axes))",
                                                       "g.reshape(g.shape[::-1])")),
      "the gradient reshaped back instead of transposed")
    e("ops.Index.backward:assign", source(f"{ops}:Index.backward", ("np.add.at(grad, ctx.index, g)",
                                                                  "grad[ctx.index] = g")),
      "repeated indices assign instead of adding")
    e("ops.Cat.backward:split_off_by_one", source(f"{ops}:Cat.backward", ("np.cumsum(ctx.sizes)[:-1]",
                                                                        "np.cumsum(ctx.sizes)[:-1] + 1")),
      "the split points one row late")
    e("ops.Stack.backward:reversed", source(f"{ops}:Stack.backward", ("for i in range(g.shape[ctx.dim])",
                                                                    "for i in reversed(range(g.shape[ctx.dim]))")),
      "the slices handed back in reverse order")
    e("ops.unbroadcast:no_leading_sum", source(f"{ops}:unbroadcast", (
        "grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))",
        "grad = grad[(0,) * (grad.ndim - len(shape))]")), "the broadcast leading axes take one slice, not the sum")
    e("ops.Mean.backward:count_of_every_axis", source(f"{ops}:Mean.backward", (
        "count = int(np.prod([ctx.shape[i] for i in ctx.axes]))", "count = int(np.prod(ctx.shape))")),
      "mean over some axes divided by the size of all")
    e("ops.unbroadcast:stretched_first_slice", source(f"{ops}:unbroadcast", (
        "return grad.sum(axis=stretched, keepdims=True) if stretched else grad",
        "return grad[tuple(slice(0, 1) if i in stretched else slice(None) for i in range(grad.ndim))] "
        "if stretched else grad")), "a stretched axis of size 1 takes the first slice, not the sum")
    e("engine.backward:fan_out_overwrites", source("minicnn.autograd.engine:backward", (
        "pending[edge] = grad if edge not in pending else pending[edge] + grad", "pending[edge] = grad")),
      "an output used twice keeps only the last gradient")
    e("engine._accumulate:assigns", source("minicnn.autograd.engine:_accumulate", (
        "tensor.grad += grad", "tensor.grad = grad.copy()")), "a leaf's .grad replaced instead of accumulated")


# --------------------------------------------------------------------------- optimisers
def unflatten_probe():
    """``nn.Unflatten(1, (2, 3))`` on a (2, 6, 4) input: the input's gradient of a random upstream gradient."""
    import minicnn
    from minicnn import nn
    rng = _rng()
    x = minicnn.tensor(rng.standard_normal((2, 6, 4)), requires_grad=True)
    nn.Unflatten(1, (2, 3))(x).backward(rng.standard_normal((2, 2, 3, 4)))
    return x.grad


def unflatten_mutants():
    """nn.Unflatten is a view, the engine's Reshape: the mistakes of a reshape's backward, each of which the
    Unflatten agreement test must see (the engine's own tests see them too, under ``engine``)."""
    reshape = "minicnn.autograd.ops:Reshape.backward"

    def u(mistake, apply, note):
        add(f"Unflatten>ops.Reshape.backward:{mistake}", "unflatten", apply, unflatten_probe, (), note)
    u("zero", wrap(reshape, lambda r, *a: (np.zeros_like(r[0]),) + tuple(r[1:])), "the gradient dropped")
    u("negated", wrap(reshape, lambda r, *a: (-r[0],) + tuple(r[1:])), "the gradient negated")
    u("fortran_order", source(reshape, ("g.reshape(ctx.shape)", "g.reshape(ctx.shape, order='F')")),
      "the gradient reshaped back in the other (column-major) order")
    transposed = "np.swapaxes(g, 1, 2).reshape(ctx.shape) if g.ndim > 2 and g.shape[1] != g.shape[2] else g.reshape(ctx.shape)"
    u("split_dims_transposed", source(reshape, ("g.reshape(ctx.shape)", transposed)),
      "the unflattened dims read back in the other order (s2 x s1)")


def optim_mutants():
    sgd, adam, rms, base = "minicnn.optim.sgd", "minicnn.optim.adam", "minicnn.optim.rmsprop", "minicnn.optim.optimizer"

    def o(name, apply, probe, note):
        add(name, "optim", apply, probe, (), note)

    momentum = optim_probe("SGD", dict(lr=0.1, momentum=0.9))
    o("SGD.step:v_form", replace(f"{sgd}:SGD.step", _sgd_v_form), momentum,
      "v = mu*v - lr*g, p += v (lr inside the buffer: wrong once lr changes)")
    o("_momentum_step_kernel:no_dampening", source(f"{sgd}:_momentum_step_kernel", ("g[k] * keep", "g[k]")),
      optim_probe("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)), "the fused step ignores dampening")
    o("_momentum_step_kernel:buffer_not_decayed", source(f"{sgd}:_momentum_step_kernel",
                                                         ("buf[k] * momentum + g[k] * keep", "buf[k] + g[k] * keep")),
      momentum, "the fused step forgets to decay the buffer by mu")
    o("SGD.step:first_buffer_zero", source(f"{sgd}:SGD.step", (
        "buf = state[\"momentum_buffer\"] = np.array(g, copy=True)",
        "buf = state[\"momentum_buffer\"] = np.zeros_like(g)")), momentum,
      "the first step's buffer 0 instead of g (no first step)")
    o("SGD.step:nesterov_ignored", source(f"{sgd}:SGD.step", ("g = g + momentum * buf if group[\"nesterov\"] else buf",
                                                             "g = buf")),
      optim_probe("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)), "nesterov=True steps along the buffer")
    o("SGD.step:python_path_no_dampening", source(f"{sgd}:SGD.step", ("buf += (1 - dampening) * g", "buf += g")),
      optim_probe("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3), numpy_path=True),
      "the numpy path ignores dampening")
    o("SGD.step:weight_decay_sign", source(f"{sgd}:SGD.step", ("g = g + weight_decay * p.array",
                                                              "g = g - weight_decay * p.array")),
      optim_probe("SGD", dict(lr=0.1, weight_decay=0.1)), "weight decay pushes away from 0")
    o("Optimizer._gradient:maximize_ignored", source(f"{base}:Optimizer._gradient", ("return -g if maximize else g",
                                                                                    "return g")),
      optim_probe("SGD", dict(lr=0.1, maximize=True)), "maximize=True descends")
    o("Adam.step:no_bias_correction", source(f"{adam}:Adam.step", (
        "step_size = lr / (1 - beta1 ** t)", "step_size = lr"), (
        "np.sqrt(exp_avg_sq) / (1 - beta2 ** t) ** 0.5 + eps", "np.sqrt(exp_avg_sq) + eps")),
      optim_probe("Adam", dict(lr=0.01)), "Adam without either bias correction")
    o("Adam.step:no_first_bias_correction", source(f"{adam}:Adam.step", ("step_size = lr / (1 - beta1 ** t)",
                                                                        "step_size = lr")),
      optim_probe("Adam", dict(lr=0.01)), "only the second moment bias-corrected")
    o("Adam.step:no_second_bias_correction", source(f"{adam}:Adam.step", (
        "np.sqrt(exp_avg_sq) / (1 - beta2 ** t) ** 0.5 + eps", "np.sqrt(exp_avg_sq) + eps")),
      optim_probe("Adam", dict(lr=0.01)), "only the first moment bias-corrected")
    o("Adam.step:eps_inside_sqrt", source(f"{adam}:Adam.step", (
        "np.sqrt(exp_avg_sq) / (1 - beta2 ** t) ** 0.5 + eps", "np.sqrt(exp_avg_sq / (1 - beta2 ** t) + eps)")),
      optim_probe("Adam", dict(lr=0.01, eps=1e-3)), "eps under the square root")
    o("Adam.step:betas_swapped", source(f"{adam}:Adam.step", ("beta1, beta2 = (float(b) for b in group[\"betas\"])",
                                                             "beta2, beta1 = (float(b) for b in group[\"betas\"])")),
      optim_probe("Adam", dict(lr=0.01)), "beta1 and beta2 swapped")
    o("Adam.step:amsgrad_ignored", source(f"{adam}:Adam.step", ("exp_avg_sq = state[\"max_exp_avg_sq\"]", "pass")),
      optim_probe("Adam", dict(lr=0.01, amsgrad=True)), "amsgrad=True divides by the current v")
    o("Adam.step:adamw_coupled", source(f"{adam}:Adam.step", ("if group[\"decoupled_weight_decay\"]:", "if False:")),
      optim_probe("AdamW", dict(lr=0.01, weight_decay=0.1)), "AdamW's decay added to the gradient (Adam's L2)")
    o("Adam.step:weight_decay_dropped", source(f"{adam}:Adam.step", ("g = g + weight_decay * p.array", "pass")),
      optim_probe("Adam", dict(lr=0.01, weight_decay=0.1)), "Adam's L2 penalty left out")
    o("Adam.step:decoupled_decay_without_lr", source(f"{adam}:Adam.step", ("p.array *= 1 - lr * weight_decay",
                                                                          "p.array *= 1 - weight_decay")),
      optim_probe("AdamW", dict(lr=0.01, weight_decay=0.1)), "AdamW's decay not scaled by lr")
    o("Adam.step:step_count_ahead", source(f"{adam}:Adam.step", ("t = state[\"step\"]", "t = state[\"step\"] + 1")),
      optim_probe("Adam", dict(lr=0.01)), "the bias corrections one step ahead")
    o("SGD.step:decay_outside_momentum", source(f"{sgd}:SGD.step", ("g = g + weight_decay * p.array", "pass"),
                                                ("p.array -= lr * g", "p.array -= lr * (g + weight_decay * p.array)")),
      optim_probe("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
      "weight decay added to the step, not to the gradient the buffer sees")
    o("RMSprop.step:centered_mean_alpha", source(f"{rms}:RMSprop.step", ("grad_avg += (1 - alpha) * (g - grad_avg)",
                                                                        "grad_avg += alpha * (g - grad_avg)")),
      optim_probe("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)), "the mean gradient's weights swapped")
    o("RMSprop.step:eps_inside_sqrt", source(f"{rms}:RMSprop.step", ("avg = np.sqrt(square_avg)\n",
                                                                    "avg = np.sqrt(square_avg + eps)\n")),
      optim_probe("RMSprop", dict(lr=0.01, eps=1e-3)), "eps under the square root")
    o("RMSprop.step:not_centered", source(f"{rms}:RMSprop.step", ("np.sqrt(square_avg - grad_avg * grad_avg)",
                                                                 "np.sqrt(square_avg)")),
      optim_probe("RMSprop", dict(lr=0.01, centered=True)), "centered=True ignores the mean gradient")
    o("RMSprop.step:alpha_swapped", source(f"{rms}:RMSprop.step", ("square_avg *= alpha", "square_avg *= 1 - alpha"),
                                           ("square_avg += (1 - alpha) * g * g", "square_avg += alpha * g * g")),
      optim_probe("RMSprop", dict(lr=0.01)), "alpha weighting the new square")
    o("RMSprop.step:momentum_lr_inside", source(f"{rms}:RMSprop.step", ("buf += g / avg", "buf += lr * g / avg"),
                                                ("p.array -= lr * buf", "p.array -= buf")),
      optim_probe("RMSprop", dict(lr=0.01, momentum=0.9)), "lr inside the momentum buffer")
    o("RMSprop.step:weight_decay_dropped", source(f"{rms}:RMSprop.step", ("g = g + weight_decay * p.array", "pass")),
      optim_probe("RMSprop", dict(lr=0.01, weight_decay=0.1)), "the L2 penalty left out")
    adadelta, adagrad = "minicnn.optim.adadelta", "minicnn.optim.adagrad"
    delta_line = "delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * g"
    o("Adadelta.step:no_delta_sqrt", source(f"{adadelta}:Adadelta.step", (
        delta_line, "delta = (acc_delta + eps) / np.sqrt(square_avg + eps) * g")),
      optim_probe("Adadelta", dict(lr=1.0, rho=0.9)), "the accumulated Δ² without its square root")
    o("Adadelta.step:eps_outside_sqrt", source(f"{adadelta}:Adadelta.step", (
        delta_line, "delta = (np.sqrt(acc_delta) + eps) / (np.sqrt(square_avg) + eps) * g")),
      optim_probe("Adadelta", dict(lr=1.0, eps=1e-3)), "eps added outside the square roots (RMSprop's place)")
    o("Adadelta.step:stale_square_avg", source(f"{adadelta}:Adadelta.step", (
        "            square_avg *= rho\n            square_avg += (1 - rho) * g * g\n", ""), (
        "acc_delta *= rho\n", "acc_delta *= rho\n            square_avg *= rho\n"
                              "            square_avg += (1 - rho) * g * g\n")),
      optim_probe("Adadelta", dict(lr=1.0)), "Δ divided by the previous step's v (v updated after Δ)")
    o("Adadelta.step:acc_delta_of_g", source(f"{adadelta}:Adadelta.step", (
        "acc_delta += (1 - rho) * delta * delta", "acc_delta += (1 - rho) * g * g")),
      optim_probe("Adadelta", dict(lr=1.0)), "the Δ accumulator fed g² instead of Δ²")
    o("Adadelta.step:lr_ignored", source(f"{adadelta}:Adadelta.step", ("p.array -= lr * delta", "p.array -= delta")),
      optim_probe("Adadelta", dict(lr=0.5)), "the paper's rule without torch's lr")
    o("Adadelta.step:weight_decay_dropped", source(f"{adadelta}:Adadelta.step", (
        "g = g + weight_decay * p.array", "pass")),
      optim_probe("Adadelta", dict(lr=1.0, weight_decay=0.1)), "the L2 penalty left out")
    o("Adagrad.step:no_lr_decay", source(f"{adagrad}:Adagrad.step", (
        "lr_t = lr / (1 + (state[\"step\"] - 1) * lr_decay)", "lr_t = lr")),
      optim_probe("Adagrad", dict(lr=0.1, lr_decay=0.1), schedule=False), "lr_decay ignored")
    o("Adagrad.step:lr_decay_one_step_ahead", source(f"{adagrad}:Adagrad.step", (
        "(state[\"step\"] - 1) * lr_decay", "state[\"step\"] * lr_decay")),
      optim_probe("Adagrad", dict(lr=0.1, lr_decay=0.1), schedule=False), "lr decayed from the first step on")
    o("Adagrad.step:eps_inside_sqrt", source(f"{adagrad}:Adagrad.step", (
        "np.sqrt(state_sum) + eps", "np.sqrt(state_sum + eps)")),
      optim_probe("Adagrad", dict(lr=0.1, eps=1e-3)), "eps under the square root")
    o("Adagrad.step:running_mean_not_sum", source(f"{adagrad}:Adagrad.step", (
        "state_sum += g * g", "state_sum[...] = 0.99 * state_sum + 0.01 * g * g")),
      optim_probe("Adagrad", dict(lr=0.1)), "a decaying mean of g² (RMSprop's) instead of the sum")
    o("Adagrad._init_state:initial_value_ignored", source(f"{adagrad}:Adagrad._init_state", (
        "np.full_like(p.array, self.defaults[\"initial_accumulator_value\"])", "np.zeros_like(p.array)")),
      optim_probe("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5)), "the sum starts at 0 whatever was asked")
    o("Adagrad.step:weight_decay_dropped", source(f"{adagrad}:Adagrad.step", (
        "g = g + weight_decay * p.array", "pass")),
      optim_probe("Adagrad", dict(lr=0.1, weight_decay=0.1)), "the L2 penalty left out")

    sched, schedule_tests = "minicnn.optim.lr_scheduler", _ids(
        T_O, "test_lr_and_momentum_sequences_equal_torch", "test_one_cycle_by_hand",
        "test_reduce_on_plateau_follows_torch", "test_reduce_on_plateau_by_hand")

    def s(name, apply, probe, note):
        add(name, "optim", apply, probe, schedule_tests, note)

    s("OneCycleLR.get_lr:momentum_not_cycled", source(f"{sched}:OneCycleLR.get_lr", (
        "if self.cycle_momentum:", "if False:")),
      schedule_probe("OneCycleLR", dict(max_lr=1.0, total_steps=12)), "the lr cycles, the momentum stays")
    s("LambdaLR.get_lr:chained", source(f"{sched}:LambdaLR.get_lr", ("self.base_lrs, strict",
                                                                     "self._current_lrs(), strict")),
      schedule_probe("LambdaLR", dict(lr_lambda=lambda e: 0.9 ** e)), "the factor applied to the current lr")
    s("ReduceLROnPlateau.step:cooldown_counts_bad_epochs", source(f"{sched}:ReduceLROnPlateau.step", (
        "self.num_bad_epochs = 0  # bad epochs in the cooldown do not count", "pass")),
      schedule_probe("ReduceLROnPlateau", dict(patience=0, cooldown=2), metrics=[1.0] * 12),
      "bad epochs in the cooldown still count")


def schedule_probe(name, kwargs, metrics=None):
    """Twelve scheduler steps over an SGD with momentum (``step(metric)`` where ``metrics`` are given): the lr
    and the momentum after each."""
    def probe():
        from minicnn import nn, optim
        opt = optim.SGD([nn.Parameter(np.zeros(2))], lr=0.1, momentum=0.9)
        scheduler = getattr(optim.lr_scheduler, name)(opt, **kwargs)
        seen = []
        for metric in metrics or [None] * 12:
            scheduler.step() if metric is None else scheduler.step(metric)
            seen.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        return np.array(seen)
    return probe


def _sgd_v_form(original):
    """SGD with the textbook ``v = mu*v - lr*g; p += v`` momentum (dampening as ``(1 - tau)*lr*g``)."""
    def step(self, closure=None):
        loss = None if closure is None else closure()
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = self._gradient(p, group["maximize"])
                if group["weight_decay"]:
                    g = g + group["weight_decay"] * p.array
                if momentum == 0:
                    p.array -= lr * g
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = -lr * g
                else:
                    state["momentum_buffer"] = momentum * state["momentum_buffer"] - (1 - dampening) * lr * g
                v = state["momentum_buffer"]
                p.array += momentum * v - lr * g if group["nesterov"] else v
        return loss
    return step


# =========================================================================== the plugin (inside pytest)
def _hypothesis_profile():
    """Derandomised (the same examples every run), no example database written into the tree, no shrinking
    (a mutant's first failing example is all we need)."""
    from hypothesis import Phase, settings
    try:
        base = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "minicnn"))
    except Exception:   # conftest.py not loaded (yet)
        base = settings.default
    settings.register_profile("mutants", settings(base, derandomize=True, database=None,
                                                  phases=[Phase.explicit, Phase.generate], deadline=None))
    settings.load_profile("mutants")


def pytest_configure(config):
    """``-p mutants``: swap in the mutant named by $MINICNN_MUTANT before any test module is imported."""
    name = os.environ.get(ENV)
    if not name:
        return
    _hypothesis_profile()
    by_name = {mu.name: mu for mu in build()}
    if name not in by_name:
        raise SystemExit(f"mutants: no mutant {name!r}")
    by_name[name].apply()
    print(f"mutants: {name} swapped in")


CAUGHT = ("AssertionError", "Failed")
SHAPE_CHECK = "returned a gradient of shape"   # minicnn/autograd/engine.py's _fit
BROKEN = ("raised", "TypeError", "NameError", "AttributeError", "UnboundLocalError", "SyntaxError", "numba.core.errors",
          "TypingError")


class Recorder:
    """Remembers the first failed test (or collection error) and its one-line reason."""

    def __init__(self):
        self.first = None

    def pytest_configure(self, config):
        _hypothesis_profile()   # after conftest.py loaded its profile, before the test modules are imported

    def _note(self, report):
        if self.first is None and report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = crash.message if crash is not None else str(report.longrepr)
            lines = [line.strip() for line in message.splitlines() if line.strip()]
            message = " ".join(lines[:2])[:200]
            if crash is not None and Path(str(crash.path)).resolve() == Path(__file__).resolve():
                message = f"{BROKEN[0]} in the harness (line {crash.lineno}): {message}"
            elif crash is not None:   # where: a bare assert says nothing more under --assert=plain
                where = Path(str(crash.path))
                where = where.relative_to(REPO) if where.is_relative_to(REPO) else where
                message = f"{message} ({where}:{crash.lineno})"
            self.first = (report.nodeid, message)

    def pytest_runtest_logreport(self, report):
        self._note(report)

    def pytest_collectreport(self, report):
        self._note(report)


# =========================================================================== the runner
def _preload():
    """What every child needs, imported once in the parent (no thread pool is started here)."""
    import hypothesis  # noqa: F401
    import numba  # noqa: F401
    import pytest  # noqa: F401

    import minicnn  # noqa: F401
    from minicnn import autograd, functional, gradcheck, kernels, nn, optim, testing  # noqa: F401
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    for mu in MUTANTS:   # the source mutants' edited text, from the files as imported
        if hasattr(mu.apply, "prepare"):
            try:
                mu.apply.prepare()
            except Exception:
                pass   # raised again, and reported, when the mutant runs
    # numba loads each kernel's machine code from its disk cache on the first call: pay that once, here
    for probe in dict.fromkeys(mu.probe for mu in MUTANTS if mu.probe is not None):
        try:
            probe()
        except Exception:
            pass
    # no worker thread may exist at a fork (a child would wait for it forever): stop the pool the warm-up
    # started; each child configures its own on first use, as a fresh process does
    from minicnn import threads
    threads.configure(1)
    # everything imported so far is shared by every child: keep the children's garbage collections (pytest
    # runs one at every session's end) from walking it (about 1 s a child with torch loaded)
    import gc
    gc.collect()
    gc.freeze()


def _child(mutant, out_path, log_path, baseline_tests=None):
    """In the forked child: probe, swap, probe, pytest; write the outcome as JSON; never return."""
    code = 3
    result = {"status": "error", "test": None, "message": ""}
    try:
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(log, 1)
        os.dup2(log, 2)
        import pytest

        from minicnn import threads
        threads._num_threads = None   # configured on first use, as in a fresh process
        if mutant is not None:
            before = _flat(mutant.probe()) if mutant.probe else None
            mutant.apply()
            if mutant.probe:
                try:
                    after = _flat(mutant.probe())
                except Exception as exc:  # a mutant that raises on the probe differs from the original
                    after = None
                    result["probe"] = f"raised {type(exc).__name__}"
                if after is not None and not differs(before, after):
                    result.update(status="equivalent", message="the mutant's probe equals the original's")
                    raise _Done
        tests = baseline_tests if mutant is None else mutant.tests
        recorder = Recorder()
        # --assert=plain: no assertion rewriting of each test module in each child (about 1 s); a failed
        # assert still fails the test, its message says less (the log has the traceback)
        args = ["-x", "-q", "-p", "no:cacheprovider", "--assert=plain", "--no-header", "-rN", *tests]
        exit_code = pytest.main(args, plugins=[recorder])
        if mutant is None:
            result["status"] = "pass" if exit_code == 0 else "fail"
            result["test"], result["message"] = recorder.first or (None, "")
        elif exit_code == 1 and recorder.first:
            result["test"], result["message"] = recorder.first
            # a test that fails because the mutant itself cannot run (a wrong signature, a name it lacks)
            # proves nothing about the tests: the harness is broken.  Caught means a test's own check
            # failed: an assertion (or pytest.fail), or the engine refusing a gradient of the wrong shape;
            # any other exception (numpy's, say, from a transform) is for a person to look at
            message = result["message"]
            if message.startswith(BROKEN):
                result["status"] = "broken"
            elif message.startswith(CAUGHT) or (message.startswith("RuntimeError") and SHAPE_CHECK in message):
                result["status"] = "caught"
            else:
                result["status"] = "review"
        elif exit_code == 0:
            result["status"] = "survived"
        else:
            result.update(status="error", message=f"pytest exit code {int(exit_code)}")
            if recorder.first:
                result["test"], result["message"] = recorder.first
        code = 0
    except _Done:
        code = 0
    except BaseException as exc:
        traceback.print_exc()   # into the log
        result["message"] = f"{type(exc).__name__}: {exc}"[:1000]
    finally:
        with open(out_path, "w") as f:
            json.dump(result, f)
        os._exit(code)


class _Done(Exception):
    pass


def _start(mutant, workdir, baseline_tests=None):
    name = "baseline" if mutant is None else re.sub(r"[^A-Za-z0-9_.-]", "_", mutant.name)
    out_path, log_path = os.path.join(workdir, name + ".json"), os.path.join(workdir, name + ".log")
    pid = os.fork()
    if pid == 0:
        _child(mutant, out_path, log_path, baseline_tests)
    return {"pid": pid, "start": time.monotonic(), "out": out_path, "log": log_path}


def _finish(job, status):
    try:
        with open(job["out"]) as f:
            result = json.load(f)
    except (OSError, ValueError):
        result = {"status": "error", "test": None, "message": f"child exit status {status}"}
    result["seconds"] = round(time.monotonic() - job["start"], 2)
    result["log"] = job["log"]
    return result


def run_all(mutants, workdir, timeout, jobs, report):
    """Run each mutant in a forked child, ``jobs`` at a time; ``report(i, mutant, result)`` as each ends."""
    pending, running, results = list(enumerate(mutants)), {}, [None] * len(mutants)
    while pending or running:
        while pending and len(running) < jobs:
            i, mu = pending.pop(0)
            running[i] = _start(mu, workdir)
        time.sleep(0.05)
        for i, job in list(running.items()):
            done, status = os.waitpid(job["pid"], os.WNOHANG)
            if not done and time.monotonic() - job["start"] > timeout:
                os.kill(job["pid"], 9)
                os.waitpid(job["pid"], 0)
                done, status = True, -9
                with open(job["out"], "w") as f:
                    json.dump({"status": "timeout", "test": None, "message": f"over {timeout:g} s"}, f)
            if done:
                del running[i]
                results[i] = _finish(job, status)
                report(i, mutants[i], results[i])
    return results


def run_baseline(tests, workdir, timeout):
    job = _start(None, workdir, tests)
    while True:
        done, status = os.waitpid(job["pid"], os.WNOHANG)
        if done:
            return _finish(job, status)
        if time.monotonic() - job["start"] > timeout:
            os.kill(job["pid"], 9)
            os.waitpid(job["pid"], 0)
            return {"status": "timeout", "test": None, "message": f"over {timeout:g} s", "seconds": timeout,
                    "log": job["log"]}
        time.sleep(0.1)


def _commit():
    """The checked-out commit, with ``+dirty`` when minicnn/, reference/ or tests/ has uncommitted changes
    (the mutants and the tests that catch them are both part of what the score is about)."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "minicnn",
                                "reference", "tests"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev + ("+dirty" if dirty.strip() else "")


def _short(test):
    return (test or "-").replace("tests/", "")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-k", default=None, help="only the mutants whose name contains this")
    parser.add_argument("--list", action="store_true", help="print the table and exit")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run of the tests on unmutated code")
    parser.add_argument("-j", "--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="mutants run at once (default: 2, or 1 on one core)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per mutant (default 300)")
    parser.add_argument("--json", default=str(RESULTS), help=f"where to write the results (default {RESULTS})")
    args = parser.parse_args(argv)
    os.chdir(REPO)
    sys.path.insert(0, str(REPO / "tests"))   # -p mutants inside the children's pytest
    mutants = [mu for mu in build() if args.k is None or args.k in mu.name]
    if args.list:
        for mu in mutants:
            print(f"{mu.op:<22} {mu.name:<58} {mu.note}")
        print(f"{len(mutants)} mutants")
        return 0
    begun = time.monotonic()
    _preload()
    started = time.monotonic()
    baseline_seconds = None
    workdir = tempfile.mkdtemp(prefix="minicnn-mutants-")
    if not args.no_baseline:
        union = list(dict.fromkeys(t for mu in mutants for t in mu.tests))
        base = run_baseline(union, workdir, timeout=max(args.timeout, 900))
        baseline_seconds = base["seconds"]
        print(f"baseline: {len(union)} tests on the unmutated code: {base['status']} ({base['seconds']:.0f} s)",
              flush=True)
        if base["status"] != "pass":
            print(f"  first failure: {base.get('test')}: {base.get('message')}\n  log: {base['log']}")
            return 2
    width = max(len(mu.name) for mu in mutants)
    finished = []

    def report(i, mu, result):
        finished.append(i)
        print(f"[{len(finished):3d}/{len(mutants)}] {mu.name:<{width}} {result['status']:<10} "
              f"{result['seconds']:6.1f} s  {_short(result.get('test'))}", flush=True)
        if result["status"] != "caught":
            print(f"      {result.get('message', '')[:400]}\n      log: {result['log']}", flush=True)
    results = run_all(mutants, workdir, args.timeout, args.jobs, report)
    rows = list(zip(mutants, results))
    elapsed = time.monotonic() - started
    caught = sum(r["status"] == "caught" for _, r in rows)

    print(f"\n{'op':<22} {'mutant':<{width}} caught by")
    for mu, r in rows:
        verdict = _short(r.get("test")) if r["status"] == "caught" else r["status"].upper()
        print(f"{mu.op:<22} {mu.name:<{width}} {verdict}")
    print(f"\n{caught} of {len(rows)} mutants caught in {elapsed:.0f} s")
    record = {
        "commit": _commit(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(elapsed, 1), "total_seconds": round(time.monotonic() - begun, 1),
        "baseline_seconds": baseline_seconds, "jobs": args.jobs, "mutants": len(rows), "caught": caught,
        "selection": args.k,
        "survived": [mu.name for mu, r in rows if r["status"] != "caught"],
        "results": [{"name": mu.name, "op": mu.op, "mistake": mu.note, "status": r["status"],
                     "caught_by": r.get("test"), "message": r.get("message", "")[:300], "seconds": r["seconds"]}
                    for mu, r in rows],
    }
    if args.k is None or args.json != str(RESULTS):   # a selection writes only where it is told to
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.json}")
    if caught == len(rows):
        import shutil
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"logs: {workdir}")
    return 0 if caught == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
