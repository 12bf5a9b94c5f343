"""numba JIT cost: compile from cold, and load from numba's on-disk cache, each in a new process.

    python -m benchmarks.bench_jit [--repeats 3]

A worker process imports minicnn and times its first SimpleCNN training step
(forward, backward, SGD step on one batch of 64) and then a steady-state step;
the difference is the JIT warm-up.  "cold" runs with an empty NUMBA_CACHE_DIR
(every kernel compiles), "cached" runs again with the cache that run left.
Writes benchmarks/results/jit.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def worker():
    t0 = time.perf_counter()
    import numpy as np

    from minicnn import SimpleCNN, nn, optim, threads
    from minicnn.train import train_step
    import_s = time.perf_counter() - t0
    threads.configure()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    model, crit = SimpleCNN(fused=True), nn.CrossEntropyLoss()  # the fused blocks, as minicnn train
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        train_step(model, x, y, crit, opt)
    t = time.perf_counter()
    step()
    first = time.perf_counter() - t
    steady = []
    for _ in range(5):
        t = time.perf_counter()
        step()
        steady.append(time.perf_counter() - t)
    steady_s = statistics.median(steady)
    print(json.dumps({"import_s": import_s, "first_step_s": first, "steady_step_s": steady_s,
                      "warmup_s": first - steady_s}))


def _run(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_jit", "--worker"], env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench_jit: worker failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker()
    from . import common
    cold, cached = [], []
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="minicnn-jit-") as cache_dir:
            cold.append(_run(cache_dir))
            cached.append(_run(cache_dir))
        print(f"round {r + 1}: cold warm-up {cold[-1]['warmup_s']:.2f} s, cached {cached[-1]['warmup_s']:.2f} s "
              f"(import {cached[-1]['import_s']:.2f} s)", flush=True)
    med = {k: {"cold": statistics.median(x[k] for x in cold), "cached": statistics.median(x[k] for x in cached)}
           for k in cold[0]}
    for k, v in med.items():
        print(f"{k:14s} cold {v['cold']:7.3f} s   cached {v['cached']:7.3f} s")
    common.write_result("jit", {"repeats": args.repeats, "median": med, "cold": cold, "cached": cached})


if __name__ == "__main__":
    main()
