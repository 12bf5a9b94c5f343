"""Threads change nothing but the order of conv's per-chunk parameter-gradient sums.

Every parallel pass splits its work into contiguous chunks, each writing its own slice of the output.
Here each fast kernel runs once on one thread and once split into as many chunks as it allows on 3
threads (``threads.MIN_CHUNK_VALUES`` and ``MIN_CHUNK_MACS`` lowered to 4, so these small shapes really
split), and the two results are compared: bit for bit where every output value is computed by one
chunk alone, and to 1e-12 relative (float64) for the parameter gradients that are summed over the
batch's chunks in chunk order (conv's weight and bias gradients, and so the fused conv's).

``make test-threaded`` runs the kernel, agreement and lockstep suites the same way.
"""
import numpy as np
import pytest

from minicnn import kernels as K
from minicnn import threads


@pytest.fixture
def split(monkeypatch):
    """Run ``fn()`` on one thread with the default chunk sizes, then on 3 threads in chunks of >= 4 values,
    checking that the second run really handed several chunks to the pool."""
    def run(fn):
        before = threads.num_threads()
        widest = []
        parallel = threads.run_parallel

        def counting(work, items):
            items = list(items)
            widest.append(len(items))
            return parallel(work, items)
        try:
            threads.configure(1)
            one = fn()
            threads.configure(3)
            with monkeypatch.context() as m:
                m.setattr(threads, "MIN_CHUNK_VALUES", 4)
                m.setattr(threads, "MIN_CHUNK_MACS", 4)
                m.setattr(threads, "run_parallel", counting)
                three = fn()
        finally:
            threads.configure(before)
        assert max(widest, default=0) > 1, f"nothing was split across threads: chunk counts {widest}"
        return one, three
    return run


_draws = iter(range(10**6))


def _rng():
    return np.random.default_rng([7, next(_draws)])   # a fresh stream per array: weight and bias differ


def _forward_backward(forward, backward, args, dout_shape=None):
    """Forward, then backward with an upstream gradient drawn from its own stream; every array returned."""
    out, cache = forward(*args)
    first = out[0] if isinstance(out, tuple) else out
    dout = np.random.default_rng(11).standard_normal(dout_shape or first.shape).astype(first.dtype)
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    return [np.asarray(a) for a in (out if isinstance(out, tuple) else (out,)) + tuple(grads) if a is not None]


def _x(shape, dtype=np.float64):
    return _rng().standard_normal(shape).astype(dtype)


# ops whose every output value (forward and gradients) is computed by one chunk: bit-identical
EXACT = {
    "relu": lambda: (K.relu_forward, K.relu_backward, (_x((5, 3, 4, 4)),)),
    "tanh": lambda: (K.tanh_forward, K.tanh_backward, (_x((5, 3, 4, 4)),)),
    "sigmoid": lambda: (K.sigmoid_forward, K.sigmoid_backward, (_x((5, 3, 4, 4)),)),
    "max_pool2d": lambda: (K.max_pool2d_forward, K.max_pool2d_backward, (_x((5, 3, 6, 6)), 2, 2, 0)),
    "avg_pool2d": lambda: (K.avg_pool2d_forward, K.avg_pool2d_backward, (_x((5, 3, 6, 6)), 2)),
    "batch_norm": lambda: (K.batch_norm_forward, K.batch_norm_backward,
                           (_x((5, 6, 4, 4)), _x(6), _x(6), None, None, True)),
    "batch_norm_relu": lambda: (K.batch_norm_relu_forward, K.batch_norm_relu_backward,
                                (_x((5, 6, 4, 4)), _x(6), _x(6), None, None, True)),
    "local_response_norm": lambda: (K.local_response_norm_forward, K.local_response_norm_backward, (_x((5, 4, 3, 3)), 3, 1e-2, 0.75, 1.0)),
    # (the weight and bias gradients: each row's per-channel sums, added over the samples after the pass)
    "group_norm": lambda: (K.group_norm_forward, K.group_norm_backward, (_x((5, 6, 3, 3)), 3, _x(6), _x(6))),
    "instance_norm": lambda: (K.instance_norm_forward, K.instance_norm_backward,
                              (_x((5, 3, 3, 3)), _x(3), _x(3), None, None, True)),
}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_split_passes_are_bit_identical_to_one_thread(name, split):
    forward, backward, args = EXACT[name]()
    one, three = split(lambda: _forward_backward(forward, backward, args))
    assert len(one) == len(three)
    for a, b in zip(one, three):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear_split_by_features(dtype, split):
    """Linear splits output and input features between threads: each value is one chunk's GEMM."""
    x, w, b = _x((7, 12), dtype), _x((10, 12), dtype), _x(10, dtype)
    one, three = split(lambda: _forward_backward(K.linear_forward, K.linear_backward, (x, w, b)))
    for a, c in zip(one, three):
        np.testing.assert_allclose(a, c, rtol=1e-12 if dtype == np.float64 else 1e-5, atol=0)


@pytest.mark.parametrize("fused", [False, True])
def test_conv_parameter_gradients_differ_only_by_the_order_of_the_chunk_sums(fused, split):
    x, w, b = _x((6, 2, 8, 8)), _x((3, 2, 3, 3)), _x(3)
    if fused:
        run = lambda: _forward_backward(K.conv2d_relu_max_pool2d_forward, K.conv2d_relu_max_pool2d_backward,  # noqa: E731
                                        (x, w, b, 1))
    else:
        run = lambda: _forward_backward(K.conv2d_forward, K.conv2d_backward, (x, w, b, 1, 1))  # noqa: E731
    one, three = split(run)
    out_one, dx_one, *params_one = one
    out_three, dx_three, *params_three = three
    np.testing.assert_array_equal(out_one, out_three)     # each image's output is one chunk's
    np.testing.assert_array_equal(dx_one, dx_three)
    for a, c in zip(params_one, params_three):             # summed over the chunks, in chunk order
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=0)


def test_importing_and_running_minicnn_changes_nothing_outside_it():
    """Without threads.configure(), OpenBLAS keeps its threads and malloc its settings; kernels run on 1 thread
    (or $MINICNN_NUM_THREADS).  configure() then changes both, as documented."""
    import subprocess
    import sys
    script = """
import numpy as np
from threadpoolctl import threadpool_info
def blas():
    return [i["num_threads"] for i in threadpool_info() if i["internal_api"] == "openblas"]
before = blas()
import minicnn
from minicnn import kernels as K, threads
x = np.random.default_rng(0).standard_normal((4, 2, 6, 6))
out, cache = K.conv2d_forward(x, np.ones((3, 2, 3, 3)), None, 1, 1)
K.conv2d_backward(np.ones_like(out), cache)
K.relu_forward(x)
assert blas() == before, (blas(), before)
assert threads._malloc_tuned is None, "malloc was tuned without configure()"
assert threads.num_threads() == 1, threads.num_threads()
threads.configure(2)
assert blas() == [1] * len(before), blas()
assert threads._malloc_tuned is not None and threads.num_threads() == 2
print("ok", before)
"""
    import os
    env = {k: v for k, v in os.environ.items() if k not in ("MINICNN_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                           "OMP_NUM_THREADS")}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok [")
    assert proc.stdout.strip() != "ok []", "no OpenBLAS found: the test would prove nothing"
    if proc.stdout.strip().endswith("[1]"):
        pytest.skip("OpenBLAS runs 1 thread here anyway: its count cannot show a change")


def test_kernel_and_algorithm_choices_are_per_thread():
    """kernels.use and kernels.conv.algorithm hold for the thread that entered them, like no_grad: the lab
    infers on one thread while it trains on another."""
    import threading

    from minicnn.kernels import conv
    seen = {}

    def other():
        seen["kernels"], seen["algorithm"] = K.current(), conv.current_algorithm()
    with K.use("naive"), conv.algorithm("im2col"):
        assert K.current() is K.IMPLEMENTATIONS["naive"] and conv.current_algorithm() == "im2col"
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen == {"kernels": K.IMPLEMENTATIONS["fast"], "algorithm": "auto"}
    assert K.current() is K.IMPLEMENTATIONS["fast"] and conv.current_algorithm() == "auto"
