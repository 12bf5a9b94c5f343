"""What the test files share: the dtypes and their tolerances, closeness, inputs, and the bookkeeping of
the torch agreement tests (``from helpers import ...``; pytest puts ``tests/`` on the path)."""
from collections import defaultdict

import numpy as np
import pytest

DTYPES = [np.float32, np.float64]
# Relative to the largest magnitude of the expected array: float64 agrees to round-off of the
# summation order; float32 sums of up to a few hundred products drift by ~1e-6 of the scale.
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def assert_close(actual, expected, dtype, what="", floor=0.0):
    """Shape, dtype, then ``max|actual - expected| <= tol * max(max|expected|, floor)`` (``floor`` where the
    exact value may cancel to 0)."""
    assert actual.shape == expected.shape, what
    assert actual.dtype == np.dtype(dtype), what
    scale = max(np.abs(expected.astype(np.float64)).max(initial=0.0), floor)
    err = np.abs(actual.astype(np.float64) - expected).max(initial=0.0)
    assert err <= TOL[np.dtype(dtype)] * scale, f"{what}: max error {err:.3g} at scale {scale:.3g}"


def randn(rng, shape, dtype, scale=1.0):
    return np.asarray(scale * rng.standard_normal(shape), dtype=dtype)


def arrays_in(obj):
    """Every ndarray in a (nested) tuple or list."""
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [a for o in obj for a in arrays_in(o)]
    return []


# --------------------------------------------------------------------------- agreement with torch
WORST = defaultdict(float)  # (layer, dtype) -> worst relative error over every tensor checked


def compare_and_record(layer, module, torch_fn, x, seed, floor=None):
    """``minicnn.testing.compare_with_torch`` with the upstream gradient from its own stream (``[seed, 2]``:
    drawn from ``seed`` like the input, a shape-preserving op's dout would equal x, and a ReLU backward
    returning its forward output would pass); the worst error per layer and dtype goes to :data:`WORST`."""
    from minicnn.testing import compare_with_torch
    errors = compare_with_torch(module, torch_fn, x, np.random.default_rng([seed, 2]), floor=floor)
    key = (layer, np.dtype(x.dtype).name)
    WORST[key] = max(WORST[key], *errors.values())
    return errors


def print_worst_errors():
    from minicnn.testing import RTOL
    print("\nworst relative error vs torch (forward and all gradients):")
    for (layer, dtype), err in sorted(WORST.items()):
        print(f"  {layer:<18} {dtype:<8} {err:.2e}   (tolerance {RTOL[np.dtype(dtype)]:g})")


def standard_normal(seed, shape, dtype, scale=1.0):
    """Inputs from ``[seed, 1]``, another stream than the upstream gradient's (``[seed, 2]``): with one stream
    the gradient would equal the input, which batch norm's backward maps to 0 and ReLU's cannot tell from
    the forward output."""
    return (scale * np.random.default_rng([seed, 1]).standard_normal(shape)).astype(dtype)


def both_refuse(ours, theirs):
    """minicnn raises ValueError and torch raises too (RuntimeError, IndexError or ValueError)."""
    with pytest.raises(ValueError):
        ours()
    with pytest.raises((RuntimeError, IndexError, ValueError)):
        theirs()


# --------------------------------------------------------------------------- F.pad's arguments
def pad_pair(draw, mode, n, most=4):
    """One dim's ``(lo, hi)`` of ``F.pad`` that torch computes for ``mode`` on a dim of ``n`` cells (``draw``: a
    hypothesis draw; negative pads crop): constant crops at most the ``n`` cells in all; circular crops as much
    and pads at most what the crop leaves; reflect and replicate pad first, then crop, leaving at least one
    cell, and reflect pads less than ``n``.  ``most``: the largest pad of constant and replicate."""
    from hypothesis import strategies as st
    if mode == "constant":
        first = draw(st.integers(-n, most))
        second = draw(st.integers(-(n + min(first, 0)), most))
    elif mode == "circular":
        first = draw(st.integers(-n, n))
        kept = n + min(first, 0)
        second = draw(st.integers(max(first, 0) - kept, kept))
    else:
        top = n - 1 if mode == "reflect" else most
        first = draw(st.integers(1 - n - top, top))
        second = draw(st.integers(1 - n - first, top))
    return (first, second) if draw(st.booleans()) else (second, first)


def torch_pad(draw, mode, shape, count):
    """``count`` (2, 4 or 6) ints of ``F.pad``, the last dim's pair first, that torch computes on ``shape``."""
    return tuple(p for n in shape[::-1][:count // 2] for p in pad_pair(draw, mode, n))
