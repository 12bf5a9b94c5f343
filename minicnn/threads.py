"""One threading strategy for the whole training step: split the batch, not the GEMM.

numba's parallel loops and OpenBLAS's threads fight over the cores when both
are active (OpenBLAS's workers spin after every GEMM, stealing the cycles a
numba worker wants: a step measured 2x slower with both at 2 threads).  So
minicnn runs ONE pool of its own and keeps every library inside it
single-threaded:

* OpenBLAS is limited to 1 thread (through threadpoolctl), numba kernels are
  compiled without ``parallel=True``;
* a kernel splits its batch into ``num_threads()`` contiguous chunks and runs
  the whole chain for each chunk (im2col -> GEMM -> fused bias/ReLU/pool, and
  back) on its own thread, each writing a disjoint slice of the output.
  numba kernels are compiled with ``nogil=True`` and numpy's GEMM releases the
  GIL, so the chunks really run side by side; the memory-bound passes are
  parallel too, not only the GEMMs.

Parameter gradients are computed per chunk and summed in a fixed order, so a
run is deterministic for a given thread count.  The first kernel call
configures this with every core unless :func:`configure` was called;
``MINICNN_NUM_THREADS`` overrides the default.
"""
import os
from concurrent.futures import ThreadPoolExecutor

_num_threads = None
_pool = None
_limiter = None


def configure(num_threads=None):
    """Use ``num_threads`` workers (default: ``$MINICNN_NUM_THREADS`` or every core); BLAS gets 1.

    Returns the number of threads.
    """
    global _num_threads, _pool, _limiter
    if num_threads is None:
        num_threads = int(os.environ.get("MINICNN_NUM_THREADS", os.cpu_count() or 1))
    if not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"threads.configure: expected num_threads >= 1, got {num_threads!r}")
    try:
        from threadpoolctl import ThreadpoolController
        # numpy's OpenBLAS only: torch's MKL/OpenMP pools, if loaded, are torch's business
        _limiter = ThreadpoolController().select(internal_api="openblas").limit(limits=1)
    except ImportError:  # a dependency; without it BLAS keeps its own threads
        _limiter = None
    if _pool is not None:
        _pool.shutdown(wait=True)
    _pool = ThreadPoolExecutor(max_workers=num_threads - 1, thread_name_prefix="minicnn") \
        if num_threads > 1 else None
    _num_threads = num_threads
    return num_threads


def num_threads():
    """The number of batch chunks kernels run in parallel (configures on first use)."""
    if _num_threads is None:
        configure()
    return _num_threads


def chunks(n, min_size=1):
    """Split ``range(n)`` into at most ``num_threads()`` contiguous, near-equal slices of ``>= min_size``.

    ``min_size`` keeps small jobs on one thread, where handing work to the pool would cost more
    than it saves.
    """
    parts = max(1, min(num_threads(), n // max(1, min_size)))
    bounds = [n * k // parts for k in range(parts + 1)]
    return [slice(bounds[k], bounds[k + 1]) for k in range(parts)]


def run_parallel(fn, items):
    """Call ``fn(item)`` for every item on the pool; results in order.

    The first item runs on the calling thread.  ``fn`` must write only its
    own part of any shared output.
    """
    items = list(items)
    if len(items) <= 1 or _pool is None:
        return [fn(item) for item in items]
    futures = [_pool.submit(fn, item) for item in items[1:]]
    first = fn(items[0])
    return [first] + [f.result() for f in futures]


def map_chunks(fn, n, min_size=1):
    """``fn(slice)`` for each of :func:`chunks` ``(n, min_size)``, in parallel; results in chunk order."""
    return run_parallel(fn, chunks(n, min_size))


def sum_parts(parts):
    """Per-chunk tuples of gradients summed elementwise, always in chunk order (deterministic)."""
    total = list(parts[0])
    for part in parts[1:]:
        total = [t + p for t, p in zip(total, part)]
    return total


def describe():
    """The strategy and the BLAS libraries' thread counts, for metrics and benchmark records."""
    blas = []
    try:
        from threadpoolctl import threadpool_info
        blas = [{k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
                for info in threadpool_info() if info.get("user_api") == "blas"]
    except ImportError:
        pass
    return {"minicnn_threads": _num_threads, "blas": blas}
