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
run is deterministic for a given thread count.

Nothing outside minicnn changes unless you ask: importing minicnn or running a
kernel leaves OpenBLAS's threads and malloc as they were, and a kernel that runs
before :func:`configure` uses a pool of ``$MINICNN_NUM_THREADS`` threads or 1 (one
thread of minicnn's beside OpenBLAS's own, so the two never compete).
``minicnn.threads.configure()`` -- what the CLI, the examples and the benchmarks
call first -- sets up the strategy above for the whole process: a pool of one
thread per core, OpenBLAS at 1 thread, and malloc tuned as below.

Memory: a training step allocates its activations, gradients and workspaces
afresh.  glibc's malloc hands arrays above a size threshold to the kernel as
fresh mappings and gives freed heap back to the kernel, so a step can fault in
its working set page by page again and again (LeNet-5: 1 000 to 2 500 page
faults and 1.3 to 3.8 ms of system time a step here, `python -m benchmarks.bench_malloc`).
:func:`configure` therefore asks glibc to serve arrays of up to 32 MiB from
the heap and to keep up to 256 MiB of freed heap per arena (``mallopt``), which
makes the next step reuse the pages.  ``MINICNN_MALLOC=default`` leaves malloc as it is.
"""
import ctypes
import os
import platform
import threading
from concurrent.futures import ThreadPoolExecutor

_num_threads = None
_pool = None
_limiter = None
_malloc_tuned = None
_lazy_lock = threading.Lock()

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD, TRIM_THRESHOLD = 32 << 20, 256 << 20


def tune_malloc():
    """Keep freed memory for reuse (see the module docstring); returns whether glibc accepted both settings.

    Does nothing (returns False) off glibc, or when ``MINICNN_MALLOC`` is set to anything but ``tuned``
    (``default`` is the documented way to say no); runs once per process.  The trim threshold is per
    malloc arena (the main heap and one per thread that allocates), so a process may keep up to
    TRIM_THRESHOLD of freed memory in each.
    """
    global _malloc_tuned
    if _malloc_tuned is None:
        _malloc_tuned = False
        if os.environ.get("MINICNN_MALLOC", "tuned") in ("", "tuned") and platform.libc_ver()[0] == "glibc":
            try:
                mallopt = ctypes.CDLL(None).mallopt
            except (OSError, AttributeError):
                return False
            mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
            accepted = [mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD), mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)]
            _malloc_tuned = all(accepted)
    return _malloc_tuned


def _env_threads(default):
    value = os.environ.get("MINICNN_NUM_THREADS")
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"MINICNN_NUM_THREADS: expected a whole number >= 1, got {value!r}") from None


def configure(num_threads=None):
    """minicnn's strategy for the whole process: ``num_threads`` workers (default: ``$MINICNN_NUM_THREADS``
    or every core), OpenBLAS at 1 thread, malloc tuned (:func:`tune_malloc`).  Returns the number of threads.

    Call it once at the start of a script (the CLI, the examples and the benchmarks do); without it minicnn
    changes nothing outside itself and runs on ``$MINICNN_NUM_THREADS`` threads or 1 (:func:`num_threads`).
    """
    global _limiter
    if num_threads is None:
        num_threads = _env_threads(os.cpu_count() or 1)
    _check_count(num_threads)
    tune_malloc()
    try:
        from threadpoolctl import ThreadpoolController
        # numpy's OpenBLAS only: torch's MKL/OpenMP pools, if loaded, are torch's business
        _limiter = ThreadpoolController().select(internal_api="openblas").limit(limits=1)
    except ImportError:  # a dependency; without it BLAS keeps its own threads
        _limiter = None
    return _start_pool(num_threads)


def _check_count(num_threads):
    if not isinstance(num_threads, int) or isinstance(num_threads, bool) or num_threads < 1:
        raise ValueError(f"threads.configure: expected num_threads >= 1, got {num_threads!r}")


def _start_pool(num_threads):
    """minicnn's own pool of ``num_threads`` (the calling thread and ``num_threads - 1`` workers)."""
    global _num_threads, _pool
    if _pool is not None:
        _pool.shutdown(wait=True)
    _pool = ThreadPoolExecutor(max_workers=num_threads - 1, thread_name_prefix="minicnn") \
        if num_threads > 1 else None
    _num_threads = num_threads
    return num_threads


def num_threads():
    """The number of batch chunks kernels run in parallel.  Before :func:`configure`: ``$MINICNN_NUM_THREADS``
    or 1, with nothing outside minicnn touched (OpenBLAS keeps its own threads for the GEMMs)."""
    if _num_threads is None:
        with _lazy_lock:   # two threads' first kernels must not start two pools
            if _num_threads is None:
                count = _env_threads(1)
                _check_count(count)
                _start_pool(count)
    return _num_threads


# A chunk touching fewer values than this runs on the calling thread.  Handing a chunk to the pool's
# worker and joining it costs about 0.1 ms here (the worker's idle core must be woken, and then the
# caller's), as long as a memory-bound pass over a few hundred thousand float32 values takes on one
# core; `python -m benchmarks.bench_dispatch` measures where two threads start to win.
MIN_CHUNK_VALUES = 1 << 18
# The same for a GEMM split by features (kernels/linear.py): below this many multiply-adds per chunk
# one thread is faster.
MIN_CHUNK_MACS = 1 << 23


def min_items(values_per_item):
    """``min_size`` for :func:`chunks` when each item touches ``values_per_item`` values (see MIN_CHUNK_VALUES)."""
    return max(1, -(-MIN_CHUNK_VALUES // max(1, int(values_per_item))))


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
    return {"minicnn_threads": _num_threads, "blas": blas, "malloc_tuned": _malloc_tuned}
