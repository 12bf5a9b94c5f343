"""A/B: minicnn's training step at two git revisions, alternating worker processes.

    python -m benchmarks.bench_ab --base REV [--head HEAD] [--steps 100] [--rounds 5]

Checks both revisions out into temporary worktrees and times a SimpleCNN
training step (batch 64, SGD 0.01/0.9, the same seeded random batches) in a
fresh process per revision per round, A, B, A, B …; reports the medians and
the median of the per-round ratios head/base.  The step is whatever each
revision calls its training step (``minicnn.train.train_step`` where it
exists, else the forward / ``model.backward`` / step of earlier revisions), so
it measures what a user's loop costs at each revision.  Writes
``results/ab.json``.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from . import common

REPO = Path(__file__).resolve().parents[1]

WORKER = """
import json, statistics, time, numpy as np
import minicnn
from minicnn import nn, optim, threads
threads.configure({threads})
minicnn.manual_seed(0)
rng = np.random.default_rng(0)
batches = [(rng.uniform(-1, 1, (64, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 64)) for _ in range(8)]
model, crit = minicnn.SimpleCNN(fused=True), nn.CrossEntropyLoss()  # the fused blocks, as minicnn train
opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
try:
    from minicnn.train import train_step
    step = lambda x, y: train_step(model, x, y, crit, opt)
except ImportError:  # revisions before the engine
    def step(x, y):
        crit(model(x), y); opt.zero_grad(); model.backward(crit.backward(), need_input_grad=False); opt.step()
for i in range(5):
    step(*batches[i % 8])
times = []
for i in range({steps}):
    t = time.perf_counter(); step(*batches[i % 8]); times.append(time.perf_counter() - t)
print(json.dumps({{"step_s": statistics.median(times)}}))
"""


def worker(path, steps, threads):
    code = WORKER.format(steps=steps, threads=threads)
    out = subprocess.run([sys.executable, "-c", code], cwd=path, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["step_s"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="the revision to compare against (e.g. the commit before a change)")
    p.add_argument("--head", default="HEAD")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    revs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("base", "head"):
            rev = subprocess.run(["git", "rev-parse", getattr(args, name)], cwd=REPO, capture_output=True,
                                 text=True, check=True).stdout.strip()
            path = Path(tmp) / name
            subprocess.run(["git", "worktree", "add", "-q", "--detach", str(path), rev], cwd=REPO, check=True)
            revs[name] = (rev, path)
        try:
            samples = {"base": [], "head": []}
            for r in range(args.rounds):
                for name in ("base", "head"):
                    samples[name].append(worker(revs[name][1], args.steps, args.threads))
                print(f"round {r + 1}: base {1e3 * samples['base'][-1]:.2f} ms, head {1e3 * samples['head'][-1]:.2f} ms",
                      file=sys.stderr)
        finally:
            for _, path in revs.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, check=False)
    ratio = statistics.median(h / b for h, b in zip(samples["head"], samples["base"]))
    result = {"base": revs["base"][0], "head": revs["head"][0], "steps": args.steps, "threads": args.threads,
              "base_median_ms": 1e3 * statistics.median(samples["base"]),
              "head_median_ms": 1e3 * statistics.median(samples["head"]), "ratio_head_over_base": ratio,
              "samples_s": samples}
    print(f"step: base {result['base_median_ms']:.2f} ms, head {result['head_median_ms']:.2f} ms, "
          f"head/base {ratio:.3f} (median of {args.rounds} alternating rounds)")
    common.write_result("ab", result)


if __name__ == "__main__":
    main()
