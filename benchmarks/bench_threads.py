"""Why minicnn splits the batch across its own threads and keeps OpenBLAS at 1 thread.

    python -m benchmarks.bench_threads [--steps 100] [--repeats 3]

Times SimpleCNN training steps (batch 64) under four strategies, each in a
fresh worker process, rounds alternating the order:

  batch-split   minicnn's pool with one thread per core, OpenBLAS 1 thread (the default)
  blas-only     minicnn 1 thread, OpenBLAS with every core (only the GEMMs are parallel)
  both          minicnn's pool AND OpenBLAS with every core (the two pools compete)
  serial        1 thread everywhere

Writes benchmarks/results/threads.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

STRATEGIES = ("batch-split", "blas-only", "both", "serial")


def worker(strategy, steps):
    import numpy as np
    from threadpoolctl import ThreadpoolController

    from minicnn import SimpleCNN, data, nn, optim, threads
    from minicnn.train import train_step
    cores = os.cpu_count()
    threads.configure(1 if strategy in ("blas-only", "serial") else cores)
    blas = cores if strategy in ("blas-only", "both") else 1
    ThreadpoolController().select(internal_api="openblas").limit(limits=blas)
    x, y = data.load_mnist(train=True)
    loader = iter(data.DataLoader(x, y, batch_size=64, shuffle=True, seed=0))
    model, crit = SimpleCNN(fused=True), nn.CrossEntropyLoss()  # the fused blocks, as minicnn train
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(xb, yb):
        train_step(model, xb, yb, crit, opt)
    for _ in range(3):
        step(*next(loader))
    start = time.perf_counter()
    for _ in range(steps):
        step(*next(loader))
    print(json.dumps({"strategy": strategy, "step_ms": 1e3 * (time.perf_counter() - start) / steps,
                      "minicnn_threads": threads.num_threads(), "blas_threads": blas,
                      "check": float(np.sum(model.fc2.weight.detach().numpy()))}))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--worker", choices=STRATEGIES, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.steps)
    from . import common
    runs = {s: [] for s in STRATEGIES}
    for r in range(args.repeats):
        order = STRATEGIES if r % 2 == 0 else tuple(reversed(STRATEGIES))
        for s in order:
            proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_threads", "--worker", s,
                                   "--steps", str(args.steps)], capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SystemExit(f"bench_threads: {s} failed: {proc.stderr.strip().splitlines()[-1:]}")
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            runs[s].append(res)
            print(f"round {r + 1} {s:12s} {res['step_ms']:7.2f} ms/step", flush=True)
    summary = {s: statistics.median(x["step_ms"] for x in v) for s, v in runs.items()}
    base = summary["batch-split"]
    for s, v in summary.items():
        print(f"{s:12s} {v:7.2f} ms/step  ({v / base:.2f}x batch-split)")
    common.write_result("threads", {"steps": args.steps, "repeats": args.repeats,
                                    "median_step_ms": summary, "runs": runs})


if __name__ == "__main__":
    main()
