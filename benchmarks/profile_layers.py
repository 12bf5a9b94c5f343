"""Where a training step spends its time, per layer, for both backends.

    python -m benchmarks.profile_layers [--steps 30] [--threads 2] [--model simplecnn]

minicnn: each op's forward and backward timed directly (median over steps), and the
engine's own time per step (the step minus the ops and the SGD update).
torch: torch.profiler over the same steps, self CPU time per operator, summed
per step.  Writes benchmarks/results/profile.json (``profile-MODEL.json`` for another
``--model``); benchmarks/README.md quotes it.
"""
import argparse
import os
import statistics
import time
from collections import defaultdict

import numpy as np

from . import common


def _timed_functions(times, counts):
    """Wrap every op's forward and backward (each a Function) with a timer; returns an undo function.

    Keys name the op and its call number within the step (``LinearFunction#1 forward`` is fc1):
    backward runs the calls in reverse order, so backward call k belongs to forward call n-1-k.
    """
    from minicnn import functional as F
    from minicnn.autograd import Function, ops
    classes = {c for mod in (F, ops) for c in vars(mod).values()
               if isinstance(c, type) and issubclass(c, Function) and c is not Function}
    # each class's own entries, or None where it inherits them (KernelFunction's classmethods)
    saved = [(c, c.__dict__.get("forward"), c.__dict__.get("backward")) for c in classes]

    # bound to the class if a classmethod, the plain function if a staticmethod: taken before any class is
    # wrapped, so a subclass never times its base's wrapper
    originals = {(c, part): getattr(c, part) for c in classes for part in ("forward", "backward")}

    def wrap(cls, part):
        fn = originals[cls, part]

        def timed(ctx, *args):
            name = cls.__name__.removesuffix("Function")
            k = counts[name, part]
            counts[name, part] += 1
            if part == "backward":
                k = counts[name, "forward"] - 1 - k
            t = time.perf_counter()
            out = fn(ctx, *args)
            times[f"{name}#{k + 1} {part}"].append(time.perf_counter() - t)
            return out
        return staticmethod(timed)
    for cls, _, _ in saved:
        cls.forward, cls.backward = wrap(cls, "forward"), wrap(cls, "backward")

    def undo():
        for cls, fwd, bwd in saved:
            for part, own in (("forward", fwd), ("backward", bwd)):
                if own is None:
                    delattr(cls, part)
                else:
                    setattr(cls, part, own)
    return undo


def profile_minicnn(x, y, steps, model_name="simplecnn"):
    """Median time per step of each op's forward and backward (the kernels), the SGD step, and the
    engine's own time: the step's total minus all of those (graph recording, topological walk, Python)."""
    from minicnn import nn, optim
    from minicnn.models import build_model
    model, crit = build_model(model_name), nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    times, counts = defaultdict(list), defaultdict(int)
    undo = _timed_functions(times, counts)
    try:
        for step in range(steps + 2):
            counts.clear()
            start = time.perf_counter()
            loss = crit(model(x), y)
            opt.zero_grad()
            loss.backward()
            t = time.perf_counter()
            opt.step()
            end = time.perf_counter()
            times["SGD step"].append(end - t)
            step_ops = sum(v[-1] for k, v in times.items() if k not in ("SGD step", "total", "engine"))
            times["engine"].append(end - start - step_ops - (end - t))
            times["total"].append(end - start)
            if step < 2:  # warm-up
                times.clear()
    finally:
        undo()
    return {k: statistics.median(v) for k, v in times.items()}


def profile_torch(x, y, steps, model_name="simplecnn"):
    import torch
    from torch.profiler import ProfilerActivity, profile

    from reference.models import build_model
    model, crit = build_model(model_name), torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        loss = crit(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    per_op = {}
    for ev in prof.key_averages():
        if ev.self_cpu_time_total > 0:
            per_op[ev.key] = ev.self_cpu_time_total / 1e6 / steps
    return dict(sorted(per_op.items(), key=lambda kv: -kv[1])[:20])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--model", default="simplecnn", help="a name of minicnn.models.MODELS")
    args = p.parse_args(argv)
    threads = args.threads or os.cpu_count()
    common.setup_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    m = profile_minicnn(x, y, args.steps, args.model)
    t = profile_torch(x, y, args.steps, args.model)
    print(f"minicnn, per step (median of {args.steps}), total {m['total'] * 1e3:.2f} ms")
    for k, v in m.items():
        print(f"  {k:28s} {v * 1e3:8.3f} ms")
    print(f"torch, self CPU time per step (top operators), total {sum(t.values()) * 1e3:.2f} ms")
    for k, v in t.items():
        print(f"  {k:40s} {v * 1e3:8.3f} ms")
    name = "profile" if args.model == "simplecnn" else f"profile-{args.model}"
    common.write_result(name, {"model": args.model, "threads": threads, "steps": args.steps, "minicnn_s": m, "torch_self_cpu_s": t})


if __name__ == "__main__":
    main()
