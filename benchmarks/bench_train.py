"""End-to-end benchmark: training steps, a whole epoch, and test-set inference, minicnn vs torch.

    python -m benchmarks.bench_train [--repeats 3] [--steps N | --epoch] [--threads 2] [--model simplecnn]
                                     [--malloc tuned|default]

Each measurement runs in a fresh worker process (so peak RSS is that
backend's own), both backends on identical batches (minicnn's DataLoader,
same seed; torch gets them through ``torch.from_numpy``), with the same
thread count.  Rounds alternate the order (A B, B A, …) so drift cancels.
A worker first takes 3 untimed steps (JIT and allocator warm-up), then times
the training steps, then inference on the 10 000 test images.
Both workers run with minicnn's malloc setting (``minicnn.threads.tune_malloc``) unless
``--malloc default`` (``MINICNN_MALLOC=default``), and count the page faults of the timed steps.
Writes benchmarks/results/train.json (or train_steps.json with --steps; ``-MODEL`` is
added to the name for another ``--model``, ``-malloc-default`` for ``--malloc default``), with the
step's conv and linear FLOPs (``bench_kernels.model_step_flops``) for its distance from the FMA floor.
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

WARMUP_STEPS = 3


def minicnn_backend(model_name):
    from minicnn import manual_seed, nn, optim
    from minicnn.models import build_model
    from minicnn.train import predict, train_step
    manual_seed(0)
    model = build_model(model_name)
    crit = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return (lambda x, y: train_step(model, x, y, crit, opt)), (lambda x: predict(model, x))


def torch_backend(model_name):
    import torch

    from reference.models import build_model
    from reference.train import predict, train_step
    torch.manual_seed(0)
    model = build_model(model_name)
    crit = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return (lambda x, y: train_step(model, x, y, crit, opt)), (lambda x: predict(model, x))


def worker(backend, steps, threads, model="simplecnn"):
    """Run in a fresh process; print one JSON line."""
    common.setup_threads(threads)
    from minicnn import data
    root = data.resolve_root(None)
    x_train, y_train = data.load_mnist(root, train=True)
    x_test, _ = data.load_mnist(root, train=False)
    step, infer = (minicnn_backend if backend == "minicnn" else torch_backend)(model)
    loader = data.DataLoader(x_train, y_train, batch_size=64, shuffle=True, seed=0)
    batches = iter(loader)
    for _ in range(WARMUP_STEPS):
        step(*next(batches))
    batches = iter(loader)  # a fresh epoch order for the timed part
    n = len(loader) if steps is None else min(steps, len(loader))
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    for _, (x, y) in zip(range(n), batches):
        loss = step(x, y)
    train_s = time.perf_counter() - start
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    infer(x_test[:512])  # warm-up of the inference batch shape
    start = time.perf_counter()
    infer(x_test)
    infer_s = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"backend": backend, "steps": n, "train_s": train_s, "step_ms": 1e3 * train_s / n,
                      "samples_per_s": 64 * n / train_s, "infer_s": infer_s, "last_loss": float(loss),
                      "peak_rss_mb": rss_mb, "page_faults_per_step": faults / n}))


def _run_worker(backend, steps, threads, model, malloc="tuned"):
    cmd = [sys.executable, "-m", "benchmarks.bench_train", "--worker", backend, "--threads", str(threads),
           "--model", model]
    if steps is not None:
        cmd += ["--steps", str(steps)]
    env = dict(os.environ, MINICNN_MALLOC=malloc)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"bench_train: {backend} worker failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def drive(repeats, steps, threads, model="simplecnn", malloc="tuned"):
    runs = {"minicnn": [], "torch": []}
    for r in range(repeats):
        order = ("minicnn", "torch") if r % 2 == 0 else ("torch", "minicnn")
        for backend in order:
            res = _run_worker(backend, steps, threads, model, malloc)
            runs[backend].append(res)
            print(f"round {r + 1}/{repeats} {backend:8s} {res['step_ms']:7.2f} ms/step  "
                  f"{res['samples_per_s']:8.0f} samples/s  infer {res['infer_s']:.2f} s  "
                  f"RSS {res['peak_rss_mb']:.0f} MB  {res['page_faults_per_step']:.0f} page faults/step", flush=True)
    summary = {}
    for key in ("train_s", "step_ms", "samples_per_s", "infer_s", "peak_rss_mb", "page_faults_per_step"):
        m = [x[key] for x in runs["minicnn"]]
        t = [x[key] for x in runs["torch"]]
        pairs = [a / b if b else float("nan") for a, b in zip(m, t)]
        # the control: minicnn against itself, each round's run over the next round's (same code, same
        # machine): how far a ratio moves by noise alone
        control = [a / b if b else float("nan") for a, b in zip(m, m[1:])]
        summary[key] = {"minicnn_median": statistics.median(m), "torch_median": statistics.median(t),
                        "ratio": statistics.median(pairs), "ratio_range": [min(pairs), max(pairs)],
                        "control_range": [min(control), max(control)] if control else None}
    return runs, summary


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    span = p.add_mutually_exclusive_group()
    span.add_argument("--steps", type=int, default=None, help="time N training steps instead of a full epoch")
    span.add_argument("--epoch", action="store_true", help="a full epoch (the default; excludes --steps)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--model", default="simplecnn", help="a name of minicnn.models.MODELS")
    p.add_argument("--malloc", choices=["tuned", "default"], default="tuned",
                   help="default: leave glibc's malloc as it is in both workers (MINICNN_MALLOC=default)")
    p.add_argument("--worker", choices=["minicnn", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    threads = args.threads or os.cpu_count()
    if args.worker:
        return worker(args.worker, args.steps, threads, args.model)
    common.setup_threads(threads)
    runs, summary = drive(args.repeats, args.steps, threads, args.model, args.malloc)
    for key, s in summary.items():
        control = "" if s["control_range"] is None else \
            f"  control minicnn/minicnn {s['control_range'][0]:.3f}-{s['control_range'][1]:.3f}"
        print(f"{key:14s} minicnn {s['minicnn_median']:10.3f}  torch {s['torch_median']:10.3f}  "
              f"ratio {s['ratio']:.3f} ({s['ratio_range'][0]:.3f}-{s['ratio_range'][1]:.3f}){control}")
    name = ("train" if args.steps is None else "train_steps") + (
        "" if args.model == "simplecnn" else f"-{args.model}") + ("" if args.malloc == "tuned" else "-malloc-default")
    from .bench_kernels import model_step_flops
    common.write_result(name, {"model": args.model, "threads": threads, "repeats": args.repeats, "steps": args.steps,
                               "malloc": args.malloc, "step_flops": model_step_flops(args.model),
                               "summary": summary, "runs": runs})


if __name__ == "__main__":
    main()
