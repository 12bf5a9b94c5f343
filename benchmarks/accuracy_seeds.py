"""Both backends, the tutorial's settings, several seeds: loss lines and test accuracy.

    python -m benchmarks.accuracy_seeds [--seeds 0 1 2] [--epochs 5] [--model simplecnn] [--dataset mnist]
                                        [--name NAME] [-- more minicnn train flags, e.g. --augment]

Runs ``minicnn train --backend B --seed S`` for each seed and backend (in
alternating order, one process each) and records every epoch's loss, the test
accuracy and the epoch times from each run's metrics.json.  The seed picks the
initial weights (each backend's own generator) and the shuffle order (the same
for both backends).  Writes benchmarks/results/accuracy.json (``accuracy-MODEL.json`` for another
``--model``, ``accuracy-MODEL-DATASET.json`` for another ``--dataset``, ``--name`` to choose).
Flags after ``--`` go to every ``minicnn train`` run (both backends take the same flags).
"""
import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from . import common


def run(backend, seed, epochs, out, model="simplecnn", dataset="mnist", extra=()):
    cmd = [sys.executable, "-m", "minicnn", "train", "--backend", backend, "--seed", str(seed),
           "--epochs", str(epochs), "--out", str(out), "--no-progress", "--model", model, "--dataset", dataset,
           *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"accuracy_seeds: {' '.join(cmd)} failed: {proc.stderr.strip()[-300:]}")
    print(f"$ minicnn train --model {model} --dataset {dataset} --backend {backend} --seed {seed} "
          f"--epochs {epochs} {' '.join(extra)}\n"
          f"{proc.stdout.rstrip()}", flush=True)
    metrics = json.loads((Path(out) / "metrics.json").read_text())
    return {"backend": backend, "seed": seed, "stdout": proc.stdout.splitlines(),
            "losses": [e["loss"] for e in metrics["epochs"]],
            "epoch_seconds": [e["seconds"] for e in metrics["epochs"]],
            "test_accuracy": metrics["test_accuracy"]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--out", default="runs/seeds")
    p.add_argument("--model", default="simplecnn", help="a name of minicnn.models.MODELS")
    p.add_argument("--dataset", default="mnist", help="a name of minicnn.data.DATASETS")
    p.add_argument("--backends", nargs="+", default=["minicnn", "torch"], choices=["minicnn", "torch"])
    p.add_argument("--name", help="the result file's name (default: accuracy[-MODEL][-DATASET])")
    argv = sys.argv[1:] if argv is None else list(argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = p.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    own = {"--backend", "--seed", "--epochs", "--out", "--no-progress", "--model", "--dataset"}
    clash = sorted(f for f in extra if f.split("=")[0] in own)
    if clash:
        p.error(f"after --: expected flags accuracy_seeds does not set itself, got {', '.join(clash)} "
                f"(give --epochs/--out/--model/--dataset before --)")
    name = args.name or "accuracy" + ("" if args.model == "simplecnn" else f"-{args.model}") + (
        "" if args.dataset == "mnist" else f"-{args.dataset}")
    runs = []
    for i, seed in enumerate(args.seeds):
        for backend in (args.backends if i % 2 == 0 else args.backends[::-1]):
            out = Path(args.out) / f"{name}-{backend}-seed{seed}"
            runs.append(run(backend, seed, args.epochs, out, args.model, args.dataset, extra))
    summary = {}
    for backend in args.backends:
        acc = [r["test_accuracy"] for r in runs if r["backend"] == backend]
        summary[backend] = {"accuracies": acc, "mean": statistics.mean(acc), "min": min(acc), "max": max(acc)}
        print(f"{backend:8s} test accuracy {', '.join(f'{a:.2f}' for a in acc)}  mean {statistics.mean(acc):.3f}%")
    diff = summary["minicnn"]["mean"] - summary["torch"]["mean"] if len(summary) == 2 else None
    if diff is not None:
        print(f"mean difference minicnn - torch: {diff:+.3f} points")
    common.write_result(name, {"model": args.model, "dataset": args.dataset, "epochs": args.epochs,
                               "train_flags": extra,
                               "seeds": args.seeds,
                               "summary": summary, "mean_difference": diff, "runs": runs})


if __name__ == "__main__":
    main()
