"""What glibc's malloc costs a training step: minicnn's setting (``minicnn.threads.tune_malloc``) against glibc's
default, for both backends.

    python -m benchmarks.bench_malloc [--model lenet5] [--steps 100] [--repeats 3] [--threads 2]

glibc serves large arrays as fresh mappings and trims freed heap, adapting its
thresholds to the sizes freed so far, so whether a step faults its working set
in page by page depends on what the process did before.  Each worker here does
what a short training script does (load the training set, build the model, take
steps) in a fresh process, with ``MINICNN_MALLOC=default`` or minicnn's setting,
and reports ms per step and page faults per step (``ru_minflt``).  Rounds
alternate the four configurations.  Writes benchmarks/results/malloc-MODEL.json.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from . import common
from .bench_train import WARMUP_STEPS, minicnn_backend, torch_backend

CONFIGS = [(backend, malloc) for malloc in ("tuned", "default") for backend in ("minicnn", "torch")]


def worker(backend, steps, threads, model):
    common.setup_threads(threads)
    from minicnn import data
    x_train, y_train = data.load_mnist(data.resolve_root(None), train=True)
    step, _ = (minicnn_backend if backend == "minicnn" else torch_backend)(model)
    batches = iter(data.DataLoader(x_train, y_train, batch_size=64, shuffle=True, seed=0))
    for _ in range(WARMUP_STEPS):
        step(*next(batches))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    for _, (x, y) in zip(range(steps), batches):
        step(x, y)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"backend": backend, "malloc": os.environ.get("MINICNN_MALLOC", "tuned"),
                      "step_ms": 1e3 * elapsed / steps, "page_faults_per_step": (after.ru_minflt - usage.ru_minflt) / steps,
                      "system_ms_per_step": 1e3 * (after.ru_stime - usage.ru_stime) / steps}))


def _run(backend, malloc, steps, threads, model):
    cmd = [sys.executable, "-m", "benchmarks.bench_malloc", "--worker", backend, "--steps", str(steps),
           "--threads", str(threads), "--model", model]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=dict(os.environ, MINICNN_MALLOC=malloc))
    if proc.returncode != 0:
        raise SystemExit(f"bench_malloc: {backend} worker failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="lenet5", help="a name of minicnn.models.MODELS")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--worker", choices=["minicnn", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    threads = args.threads or os.cpu_count()
    if args.worker:
        return worker(args.worker, args.steps, threads, args.model)
    runs = {f"{b} {m}": [] for b, m in CONFIGS}
    for r in range(args.repeats):
        for backend, malloc in (CONFIGS if r % 2 == 0 else CONFIGS[::-1]):
            res = _run(backend, malloc, args.steps, threads, args.model)
            runs[f"{backend} {malloc}"].append(res)
            print(f"round {r + 1}/{args.repeats} {backend:8s} malloc {malloc:8s} {res['step_ms']:7.2f} ms/step  "
                  f"{res['page_faults_per_step']:6.0f} page faults/step  {res['system_ms_per_step']:.2f} ms system/step",
                  flush=True)
    summary = {name: {key: statistics.median(x[key] for x in rs)
                      for key in ("step_ms", "page_faults_per_step", "system_ms_per_step")} for name, rs in runs.items()}
    for name, s in summary.items():
        print(f"{name:18s} {s['step_ms']:7.2f} ms/step  {s['page_faults_per_step']:6.0f} page faults/step  "
              f"{s['system_ms_per_step']:.2f} ms system/step")
    common.write_result(f"malloc-{args.model}", {"model": args.model, "threads": threads, "steps": args.steps,
                                                 "repeats": args.repeats, "summary": summary, "runs": runs})


if __name__ == "__main__":
    main()
