"""One threading strategy for the whole training step.

numba's parallel loops and OpenBLAS's threads fight over the cores when both
are active (OpenBLAS's workers spin after every GEMM, stealing the cycles a
numba worker wants: a step measured 2x slower with both at 2 threads).  So
minicnn gives the cores to one pool: the GEMMs, which are most of the FLOPs,
run on OpenBLAS with every core, and the numba kernels run serially.
"""
import os

_limiter = None


def configure(num_threads=None):
    """Give BLAS ``num_threads`` threads (default: every core, or ``MINICNN_NUM_THREADS``)."""
    global _limiter
    if num_threads is None:
        num_threads = int(os.environ.get("MINICNN_NUM_THREADS", os.cpu_count() or 1))
    if num_threads < 1:
        raise ValueError(f"threads: expected num_threads >= 1, got {num_threads}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl is a dependency; without it BLAS keeps its default
        return None
    _limiter = threadpool_limits(limits=num_threads, user_api="blas")
    return num_threads


def describe():
    """The BLAS libraries and their thread counts, for metrics and benchmark records."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for info in threadpool_info() if info.get("user_api") == "blas"]
