"""Claims that must hold on any x86-64 CPU, checked against numba code compiled for other CPUs.

numba compiles for the host CPU, so a sum whose order the compiler picks (fastmath reassociation,
FMA contraction, the vector width) can give other bits on another machine.  Batch norm's sums are
in an order its source fixes, so its results must not change when numba compiles for a baseline
x86-64 (``NUMBA_CPU_NAME=generic``: SSE2, no FMA) or for Haswell (AVX2 + FMA, no AVX-512) instead
of this CPU.
Here the same inputs go through batch norm (training and evaluation, float32 and float64, alone
and fused with ReLU) in this process and in a subprocess for each target, and every array must
be bit-identical.  ``make test-portable`` runs the kernel, agreement, engine and model suites
under both targets as well.
"""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import hashlib, sys
import numpy as np
from minicnn import kernels as K
digest = hashlib.sha256()
for dtype in (np.float32, np.float64):
    for shape in ((4, 3, 37), (2, 5, 6, 7), (1, 2, 9)):
        rng = np.random.default_rng([len(shape), shape[1]])
        x = (3 * rng.standard_normal(shape) + 0.5).astype(dtype)
        c = shape[1]
        w, b = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
        rm, rv = rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
        dout = np.random.default_rng(99).standard_normal(shape).astype(dtype)
        for training in (True, False):
            for fwd, bwd in ((K.batch_norm_forward, K.batch_norm_backward),
                             (K.batch_norm_relu_forward, K.batch_norm_relu_backward)):
                out, cache = fwd(x, w, b, rm, rv, training)
                for a in (out, *bwd(dout, cache)):
                    digest.update(np.ascontiguousarray(a).tobytes())
print(digest.hexdigest())
"""


def _digest(env_extra):
    env = {**os.environ, **env_extra}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


@pytest.mark.portable
@pytest.mark.parametrize("cpu", ["generic", "haswell"])
def test_batch_norm_gives_the_same_bits_when_compiled_for_another_cpu(cpu):
    cache = REPO / ".numba-cache" / cpu   # shared with `make test-portable`: compiled once per target
    here = _digest({})
    # an empty feature list: the named CPU's own features (unset, numba would add this machine's AVX-512)
    there = _digest({"NUMBA_CPU_NAME": cpu, "NUMBA_CPU_FEATURES": "", "NUMBA_CACHE_DIR": str(cache)})
    assert len(here) == len(hashlib.sha256().hexdigest())
    assert here == there, f"batch norm's results differ between this CPU and numba's {cpu!r} target"
