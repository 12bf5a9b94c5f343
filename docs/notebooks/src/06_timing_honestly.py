# %% [markdown]
# # Timing a numba kernel against PyTorch, honestly
#
# One time, measured once, says little: the same code on the same machine runs faster or slower from
# one second to the next (other processes, the CPU's clock, caches, memory placement), and in one
# process the backend that runs second pays for what the first left behind (torch's OpenMP workers keep
# spinning after each call and steal the cores). So minicnn's benchmarks follow a few rules, and this
# notebook follows them at a small size:
#
# 1. **check first** that both compute the same thing: a fast wrong answer is not a result;
# 2. **each backend in its own process**, started the same way, warmed up before any timing;
# 3. **alternate**: A, B, A, B, … round after round, swapping who goes first, so a slow moment of the
#    machine hits both;
# 4. **medians of several rounds** (at least 5), with the spread, of the **ratio** within each round;
# 5. **a control**: the same backend in a second process, timed against itself the same way. Its ratio
#    should be 1; how far its rounds stray from 1 is the noise floor, and a difference smaller than that
#    is not a difference.
#
# **The numbers below differ every time this runs**, and on another CPU they differ more: what carries
# over is the method. `python -m benchmarks.bench_kernels` is the full version for every layer of the
# tutorial's network ([docs/performance.md](../performance.md)).

# %%
import json
import os
import statistics
import subprocess
import sys
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import torch

from minicnn import kernels as K
from minicnn.testing import relative_error

# SimpleCNN's second convolution (32 -> 64 channels, 3x3, padding 1, 14x14) on a batch of 16: quick
SHAPE = {"n": 16, "c": 32, "h": 14, "f": 64}
ROUNDS, CALLS = 7, 20                                     # rounds of alternation; calls timed per turn

# %% [markdown]
# ## 1. The same answer
#
# The inputs come from a generator seeded the same way in every process. In float32 the two sum in
# different orders (minicnn's Winograd transform, torch's oneDNN), so they agree to about 1e-6 of the
# largest value, not to the bit.

# %%
def inputs(n, c, h, f):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, h)).astype(np.float32)
    w = (0.1 * rng.standard_normal((f, c, 3, 3))).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32)
    dout = rng.standard_normal((n, f, h, h)).astype(np.float32)
    return x, w, b, dout


x, w, b, dout = inputs(**SHAPE)
out, cache = K.conv2d_forward(x, w, b, 1, 1)
ours = (out, *K.conv2d_backward(dout, cache))
xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
out_t = torch.nn.functional.conv2d(xt, wt, bt, padding=1)
theirs = (out_t, *torch.autograd.grad(out_t, (xt, wt, bt), torch.from_numpy(dout)))
agreement = {name: relative_error(a, t.detach().numpy()) for name, a, t in zip(("out", "dx", "dw", "db"), ours, theirs)}
print({name: f"{err:.1e}" for name, err in agreement.items()})
assert max(agreement.values()) < 1e-4

# %% [markdown]
# ## 2. A worker per process
#
# Each worker builds the same inputs, defines one *step* (forward and backward of the convolution),
# warms up, says `ready`, and then, each time it reads a number $k$, runs $k$ steps and answers with the
# seconds per step. One thread each (`MINICNN_NUM_THREADS=1`, `torch.set_num_threads(1)`), so neither
# backend's thread pool competes with the other's, or with the machine's other work, for the cores.

# %%
WORKER = textwrap.dedent('''
    import json, sys, time
    import numpy as np
    backend, shape = sys.argv[1], json.loads(sys.argv[2])
    rng = np.random.default_rng(0)   # the same inputs as the notebook's inputs()
    x = rng.standard_normal((shape["n"], shape["c"], shape["h"], shape["h"])).astype(np.float32)
    w = (0.1 * rng.standard_normal((shape["f"], shape["c"], 3, 3))).astype(np.float32)
    b = rng.standard_normal(shape["f"]).astype(np.float32)
    dout = rng.standard_normal((shape["n"], shape["f"], shape["h"], shape["h"])).astype(np.float32)
    if backend == "minicnn":
        import minicnn
        from minicnn import kernels as K
        minicnn.threads.configure(1)
        def step():
            out, cache = K.conv2d_forward(x, w, b, 1, 1)
            K.conv2d_backward(dout, cache)
    else:
        import torch
        torch.set_num_threads(1)
        xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
        dt = torch.from_numpy(dout)
        def step():
            out = torch.nn.functional.conv2d(xt, wt, bt, padding=1)
            torch.autograd.grad(out, (xt, wt, bt), dt)
    start = time.perf_counter()
    step()                                          # the first call: numba loads (or compiles) its code
    first = time.perf_counter() - start
    for _ in range(5):
        step()
    print("ready", first, flush=True)
    for line in sys.stdin:
        calls = int(line)
        start = time.perf_counter()
        for _ in range(calls):
            step()
        print((time.perf_counter() - start) / calls, flush=True)
''')


class Worker:
    """One backend in its own Python process; ``time(k)`` runs k steps there and returns seconds per step."""

    def __init__(self, backend):
        env = dict(os.environ, MINICNN_NUM_THREADS="1")
        self.process = subprocess.Popen([sys.executable, "-c", WORKER, backend, json.dumps(SHAPE)], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        word, first = self.process.stdout.readline().split()
        assert word == "ready"
        self.first = float(first)

    def time(self, calls):
        self.process.stdin.write(f"{calls}\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)


workers = {"minicnn": Worker("minicnn"), "torch": Worker("torch"), "minicnn (control)": Worker("minicnn")}

# %% [markdown]
# ## 3. Alternate, round after round
#
# In each round every worker takes one turn; the order flips every round, so no process is always the
# one that runs right after another.

# %%
names = list(workers)
times = {name: [] for name in names}
for round_ in range(ROUNDS):
    for name in (names if round_ % 2 == 0 else names[::-1]):
        times[name].append(workers[name].time(CALLS))
first_calls = {name: worker.first for name, worker in workers.items()}
for worker in workers.values():
    worker.close()

# %% [markdown]
# ## 4. Ratios within each round, their median and spread; 5. the control
#
# Within one round the machine was in about the same state for every turn, so the ratio of two turns
# means more than either time. The control is minicnn in its second process against minicnn in its first.

# %%
def ratios(a, b):
    return [x / y for x, y in zip(times[a], times[b])]


vs_torch, control = ratios("minicnn", "torch"), ratios("minicnn", "minicnn (control)")
for label, r in (("minicnn / torch", vs_torch), ("minicnn / minicnn (the control)", control)):
    print(f"{label:>32}: median {statistics.median(r):.2f}x over {len(r)} rounds (rounds from {min(r):.2f}x to {max(r):.2f}x)")
noise = max(abs(r - 1) for r in control)
print(f"the control strays up to {noise:.0%} from 1: a difference smaller than that is noise on this machine, now")
print("a fresh process's first call, in steady calls (why each worker warms up before timing):",
      {name: f"{first_calls[name] / statistics.median(times[name]):.0f}x" for name in names})
assert len(vs_torch) >= 5 and all(r > 0 for r in vs_torch + control)

# %% [markdown]
# The picture shows why one time is not enough: every turn of every worker (left; the same code differs
# from round to round), and each round's ratios (right), with their medians.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8))
for name, marker in zip(names, "os^"):
    left.plot(range(1, ROUNDS + 1), np.array(times[name]) * 1e3, marker, label=name)
left.set_xlabel("round"), left.set_ylabel("ms per step (forward + backward)"), left.set_ylim(bottom=0)
left.set_title("every turn: this run's times, not a result"), left.legend(fontsize=8)
for r, label, color in ((vs_torch, "minicnn / torch", "tab:blue"), (control, "minicnn / minicnn (control)", "tab:grey")):
    right.plot(range(1, ROUNDS + 1), r, "o", color=color, label=label)
    right.axhline(statistics.median(r), color=color, lw=1)
right.axhline(1, color="k", lw=0.5, ls=":")
right.set_xlabel("round"), right.set_ylabel("ratio within the round"), right.set_ylim(bottom=0)
right.set_title("the ratios, with their medians"), right.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# What to say from this, and what not: "on this CPU, with one thread each, minicnn's 3×3 convolution
# takes about *median* × PyTorch's time at this shape, give or take the spread, and the control says the
# noise is about that large". Not "it takes 2.1 ms": that is one machine at one moment. For a claim,
# run `python -m benchmarks.bench_kernels` on a quiet machine, with more rounds and every layer.
