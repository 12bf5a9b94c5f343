"""Where a SimpleCNN training step spends its time, per layer, for both backends.

    python -m benchmarks.profile_layers [--steps 30] [--threads 2]

minicnn: each layer's forward and backward timed directly (median over steps).
torch: torch.profiler over the same steps, self CPU time per operator, summed
per step.  Writes benchmarks/results/profile.json; benchmarks/README.md quotes it.
"""
import argparse
import os
import statistics
import time
from collections import defaultdict

import numpy as np

from . import common


def profile_minicnn(x, y, steps):
    from minicnn import SimpleCNN, nn, optim
    model, crit = SimpleCNN(), nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    order = [("conv1+relu+pool", model.conv1), ("conv2+relu+pool", model.conv2), ("flatten", model.flatten),
             ("fc1", model.fc1), ("relu3", model.relu3), ("fc2", model.fc2)]
    times = defaultdict(list)

    def timed(key, fn, *args, **kw):
        t = time.perf_counter()
        out = fn(*args, **kw)
        times[key].append(time.perf_counter() - t)
        return out

    for step in range(steps + 2):
        h = x
        for name, m in order:
            h = timed(f"{name} forward", m, h)
        timed("cross-entropy forward", crit, h, y)
        g = timed("cross-entropy backward", crit.backward)
        opt.zero_grad()
        for name, m in reversed(order):
            if m is model.conv1:
                g = timed(f"{name} backward", m.backward, g, need_input_grad=False)
            else:
                g = timed(f"{name} backward", m.backward, g)
        timed("SGD step", opt.step)
        if step < 2:  # warm-up
            times.clear()
    return {k: statistics.median(v) for k, v in times.items()}


def profile_torch(x, y, steps):
    import torch
    from torch.profiler import ProfilerActivity, profile

    from reference.models import SimpleCNN
    model, crit = SimpleCNN(), torch.nn.CrossEntropyLoss()
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
    args = p.parse_args(argv)
    threads = args.threads or os.cpu_count()
    common.setup_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    m = profile_minicnn(x, y, args.steps)
    t = profile_torch(x, y, args.steps)
    print(f"minicnn, per step (median of {args.steps}), total {sum(m.values()) * 1e3:.2f} ms")
    for k, v in m.items():
        print(f"  {k:28s} {v * 1e3:8.3f} ms")
    print(f"torch, self CPU time per step (top operators), total {sum(t.values()) * 1e3:.2f} ms")
    for k, v in t.items():
        print(f"  {k:40s} {v * 1e3:8.3f} ms")
    common.write_result("profile", {"threads": threads, "steps": args.steps, "minicnn_s": m, "torch_self_cpu_s": t})


if __name__ == "__main__":
    main()
