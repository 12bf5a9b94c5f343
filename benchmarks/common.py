"""Shared by the benchmarks: timing, thread setup, machine description, result files.

Timings on a shared 2-core machine are noisy, so every comparison here is
made *within one run*: minicnn and torch are timed alternately (A, B, A, B …)
so that drift in the machine's speed hits both, and we report medians and the
median of the per-round ratios, never a single absolute time.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def setup_threads(num_threads):
    """Same thread count for both backends: OpenBLAS (minicnn's GEMMs) and torch's intra-op pool."""
    from minicnn import threads
    threads.configure(num_threads)
    try:
        import torch
        torch.set_num_threads(num_threads)
    except ImportError:
        pass


def alternate(fns, repeats, warmup=2, inner=1):
    """Time each callable in ``fns`` (dict name -> fn) alternately.

    Returns dict name -> list of seconds per call (each sample the mean of
    ``inner`` back-to-back calls); warm-up calls are not recorded.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            samples[name].append((time.perf_counter() - start) / inner)
    return samples


def summarize(samples, a="minicnn", b="torch"):
    """Medians, and the median of per-round ratios a/b (robust to drift across rounds)."""
    out = {f"{name}_median_s": statistics.median(v) for name, v in samples.items()}
    out.update({f"{name}_min_s": min(v) for name, v in samples.items()})
    if a in samples and b in samples:
        out["ratio"] = statistics.median(x / y for x, y in zip(samples[a], samples[b]))
    out["repeats"] = len(next(iter(samples.values())))
    return out


def machine_info():
    """CPU, cores, versions and BLAS, recorded with every result file."""
    import numba
    import numpy
    info = {"python": sys.version.split()[0], "platform": platform.platform(),
            "cpu": _cpu_name(), "cores": os.cpu_count(), "numpy": numpy.__version__,
            "numba": numba.__version__}  # numba runs no parallel loops here: minicnn's own pool splits the batch
    try:
        import torch
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    from minicnn import threads
    info["blas"] = threads.describe()
    return info


def _cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def code_revision():
    """The checked-out commit (with ``+dirty`` when the tree has changes), or None outside git."""
    root = Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "minicnn",
                                "reference", "tests"], cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev + ("+dirty" if dirty.strip() else "")


def write_result(name, payload):
    """``benchmarks/results/<name>.json`` with the machine info, the date and the code's commit
    (``+dirty`` when minicnn/, reference/ or tests/ had uncommitted changes), written atomically."""
    from minicnn.checkpoint import write_json
    payload = {"benchmark": name, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "commit": code_revision(),
               "machine": machine_info(), **payload}
    path = write_json(RESULTS / f"{name}.json", payload)
    print(f"wrote {path}", file=sys.stderr)
    return path


def read_result(name):
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None
