"""Charts and README table from benchmarks/results/*.json.

    python -m benchmarks.report

Draws results/kernels.png (per-layer forward+backward time, both backends)
and results/train.png (epoch time, inference time, peak RSS), and rewrites the
performance table and the threading table in the top-level README.md, between
the markers ``<!-- perf-table:begin/end -->`` and ``<!-- threads-table:begin/end -->``
(atomically); likewise the roofline table (``bench_roofline``) between
``<!-- roofline-table:begin/end -->`` and the float32 accuracy table
(``accuracy_fp32``) between ``<!-- fp32-table:begin/end -->``, where README has
those markers.  Each row states the issue's target for it.  The accuracy runs of
``accuracy_seeds`` (every results/accuracy*.json that records its commit) fill
``<!-- models-table:begin/end -->`` (MNIST) and ``<!-- fashion-table:begin/end -->``.
"""
import sys
from pathlib import Path

from . import common

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN, END = "<!-- perf-table:begin -->", "<!-- perf-table:end -->"
THREADS_BEGIN, THREADS_END = "<!-- threads-table:begin -->", "<!-- threads-table:end -->"
OPTIONAL_BLOCKS = {"roofline": ("<!-- roofline-table:begin -->", "<!-- roofline-table:end -->"),
                   "accuracy_fp32": ("<!-- fp32-table:begin -->", "<!-- fp32-table:end -->")}
ACCURACY_BLOCKS = {"mnist": ("<!-- models-table:begin -->", "<!-- models-table:end -->"),
                   "fashion-mnist": ("<!-- fashion-table:begin -->", "<!-- fashion-table:end -->")}
# The targets of the performance issue: minicnn's time (or memory) as a multiple of PyTorch's.
TARGETS = {"epoch": 0.6, "inference": 0.5, "rss": 1.0, "conv": 1.0, "conv_relu_pool": 0.8}
STRATEGIES = {
    "batch-split": "minicnn's pool, one thread per core; OpenBLAS 1 thread (the default)",
    "blas-only": "minicnn 1 thread; OpenBLAS on both cores (only the GEMMs parallel)",
    "both": "minicnn's pool and OpenBLAS both on both cores",
    "serial": "1 thread everywhere",
}


def _fmt_ratio(r, target):
    return f"{r:.2f}× ({'meets' if r <= target else 'misses'} ≤ {target}×)"


def table(kernels, train, jit):
    lines = ["| measure | minicnn | PyTorch | minicnn / PyTorch |", "|---|---:|---:|---:|"]
    if train:
        s = train["summary"]
        lines.append(f"| training epoch (938 steps, batch 64) | {s['train_s']['minicnn_median']:.1f} s | "
                     f"{s['train_s']['torch_median']:.1f} s | {_fmt_ratio(s['train_s']['ratio'], TARGETS['epoch'])} |")
        lines.append(f"| inference, 10 000 test images | {s['infer_s']['minicnn_median']:.2f} s | "
                     f"{s['infer_s']['torch_median']:.2f} s | {_fmt_ratio(s['infer_s']['ratio'], TARGETS['inference'])} |")
        lines.append(f"| peak RSS while training | {s['peak_rss_mb']['minicnn_median']:.0f} MB | "
                     f"{s['peak_rss_mb']['torch_median']:.0f} MB | {_fmt_ratio(s['peak_rss_mb']['ratio'], TARGETS['rss'])} |")
    if kernels:
        for row in kernels["rows"]:
            if row["group"] == "simplecnn" and row["kind"] in ("conv", "conv_relu_pool"):
                f, b = row["forward"], row["backward"]
                m = (f["minicnn_median_s"] + b["minicnn_median_s"]) * 1e3
                t = (f["torch_median_s"] + b["torch_median_s"]) * 1e3
                lines.append(f"| {row['name']}: forward+backward | {m:.2f} ms | {t:.2f} ms | "
                             f"{_fmt_ratio(row['fwd_bwd_ratio'], TARGETS[row['kind']])} |")
    if jit:
        c = jit["median"]["warmup_s"]
        lines.append(f"| numba JIT warm-up in a new process | {c['cached']:.2f} s cached, {c['cold']:.1f} s cold | "
                     f"– | {'meets' if c['cached'] < 3 else 'misses'} < 3 s cached |")
    machine = (train or kernels or jit or {}).get("machine", {})
    dates = sorted({r["date"] for r in (kernels, train, jit) if r})
    lines.append("")
    lines.append(f"Measured {', '.join(dates)} on {machine.get('cpu', '?')} ({machine.get('cores', '?')} cores), "
                 f"torch {machine.get('torch', '?')}, numpy {machine.get('numpy', '?')}, "
                 f"numba {machine.get('numba', '?')}, {train['threads'] if train else '?'} threads per backend; "
                 f"medians of alternating runs (`python -m benchmarks.bench_train`, `bench_kernels`, `bench_jit`).")
    return "\n".join(lines)


def threads_table(result):
    m = result["median_step_ms"]
    lines = ["| strategy | ms per training step | vs. the default |", "|---|---:|---:|"]
    lines += [f"| {label} | {m[key]:.1f} | {m[key] / m['batch-split']:.2f}× |" for key, label in STRATEGIES.items()]
    lines += ["", f"(`python -m benchmarks.bench_threads --steps {result['steps']} --repeats {result['repeats']}`, "
                  f"medians of alternating rounds, {result['date']}.)"]
    return "\n".join(lines)


def charts(kernels, train):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    paths = []
    if kernels:
        rows = [r for r in kernels["rows"] if r["group"] == "simplecnn"]
        names = [r["name"] for r in rows]
        m = [(r["forward"]["minicnn_median_s"] + r["backward"]["minicnn_median_s"]) * 1e3 for r in rows]
        t = [(r["forward"]["torch_median_s"] + r["backward"]["torch_median_s"]) * 1e3 for r in rows]
        fig, ax = plt.subplots(figsize=(9, 4.5))
        ys = range(len(rows))
        ax.barh([y + 0.2 for y in ys], m, height=0.4, label="minicnn")
        ax.barh([y - 0.2 for y in ys], t, height=0.4, label="PyTorch")
        ax.set_yticks(list(ys), names)
        ax.invert_yaxis()
        ax.set_xlabel("forward + backward, ms (median)")
        ax.set_title(f"SimpleCNN layers, batch 64, {kernels['threads']} threads")
        ax.legend()
        fig.tight_layout()
        paths.append(_save(fig, "kernels.png"))
    if train:
        s = train["summary"]
        fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
        for ax, (key, label) in zip(axes, (("train_s", "epoch, s"), ("infer_s", "test inference, s"),
                                           ("peak_rss_mb", "peak RSS, MB"))):
            ax.bar(["minicnn", "PyTorch"], [s[key]["minicnn_median"], s[key]["torch_median"]],
                   color=["tab:blue", "tab:orange"])
            ax.set_title(f"{label}\nratio {s[key]['ratio']:.2f}")
        fig.tight_layout()
        paths.append(_save(fig, "train.png"))
    return paths


def _save(fig, name):
    import matplotlib.pyplot as plt

    from minicnn.io import atomic_write
    path = common.RESULTS / name
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
    return path


def accuracy_groups():
    """Every accuracy_seeds result that records its commit, grouped by (model, dataset, epochs, flags):
    the runs of all files of a group (a later file's run replaces an earlier one's for the same
    backend and seed), the commits and the dates."""
    groups = {}
    for path in sorted(common.RESULTS.glob("accuracy*.json")):
        result = common.read_result(path.stem)
        if not result or not result.get("commit") or "runs" not in result or "model" not in result:
            continue
        key = (result["model"], result["dataset"], result["epochs"], tuple(result.get("train_flags", [])))
        g = groups.setdefault(key, {"runs": {}, "commits": set(), "dates": []})
        for run in result["runs"]:
            g["runs"][run["backend"], run["seed"]] = run
        g["commits"].add(result["commit"])
        g["dates"].append(result["date"][:10])
    return groups


def _epoch_cell(model):
    """An epoch's time on both backends from ``bench_train`` (a full epoch for simplecnn, else
    ``--steps N --model M`` scaled to 938 steps), with its ratio; None when not measured."""
    for name in ((["train"] if model == "simplecnn" else []) + [f"train_steps-{model}"]
                 + (["train_steps"] if model == "simplecnn" else [])):
        result = common.read_result(name)
        if result and result.get("model", "simplecnn") == model:
            s = result["summary"]["step_ms"]
            return (f"{s['minicnn_median'] * 0.938:.1f} s / {s['torch_median'] * 0.938:.1f} s = "
                    f"**{s['ratio']:.2f}×**")
    return None


def accuracy_table(groups, dataset):
    """One row per (model, epochs, flags) on ``dataset``: each backend's accuracies and mean, the
    difference of the means and the command; on MNIST, also an epoch's time (``bench_train``)."""
    import statistics
    timed = dataset == "mnist"
    lines = ["| `--model` | settings | minicnn: test accuracy per seed (mean) | PyTorch (mean) | difference |"
             + (" epoch, minicnn / PyTorch |" if timed else "") + " command |",
             "|---|---|---|---|---:|" + ("---:|" if timed else "") + "---|"]
    order = ["simplecnn", "simplecnn-bn", "lenet5", "resnet-mini"]
    keys = sorted((k for k in groups if k[1] == dataset),
                  key=lambda k: (order.index(k[0]) if k[0] in order else len(order), k[2], k[3]))
    commits, seen = set(), set()
    for model, _, epochs, flags in keys:
        g = groups[model, dataset, epochs, flags]
        commits |= g["commits"]
        cells, means = [], {}
        for backend in ("minicnn", "torch"):
            runs = sorted((r for (b, _), r in g["runs"].items() if b == backend), key=lambda r: r["seed"])
            if not runs:
                cells.append("not run")
                continue
            accs = [r["test_accuracy"] for r in runs]
            means[backend] = statistics.mean(accs)
            per_seed = ", ".join(f"{a:.2f}" for a in accs)
            cells.append(f"{per_seed} (**{means[backend]:.2f} %**)" if len(accs) > 1 else f"**{accs[0]:.2f} %**")
        diff = f"{means['minicnn'] - means['torch']:+.2f}" if len(means) == 2 else "–"
        seeds = sorted({seed for _, seed in g["runs"]})
        backends = sorted({b for b, _ in g["runs"]})
        cmd = (f"`python -m benchmarks.accuracy_seeds --model {model}"
               + ("" if dataset == "mnist" else f" --dataset {dataset}") + f" --epochs {epochs}"
               + f" --seeds {' '.join(map(str, seeds))}"
               + ("" if len(backends) == 2 else f" --backends {' '.join(backends)}")
               + (f" -- {' '.join(flags)}" if flags else "") + "`")
        settings = f"{epochs} epochs" + (f", `{' '.join(flags)}`" if flags else "")
        first = model not in seen
        seen.add(model)
        epoch = (f" {(_epoch_cell(model) or 'not measured') if first else '(as above)'} |" if timed else "")
        lines.append(f"| `{model}` | {settings} | {cells[0]} | {cells[1]} | {diff} |{epoch} {cmd} |")
    lines.append("")
    lines.append(f"Accuracies from the committed code ({', '.join(sorted(commits))}).")
    if timed:
        lines.append("Epoch times: `python -m benchmarks.bench_train --model M --steps 200` (simplecnn: a full "
                     "epoch), medians of alternating runs in fresh processes on both cores, scaled to 938 steps.")
    return "\n".join(lines)


def update_readme(blocks):
    """Replace each ``(begin, end, text)`` block of README.md; one atomic write."""
    from minicnn.io import atomic_write
    readme = README.read_text()
    for begin, end, text in blocks:
        if begin not in readme or end not in readme:
            raise SystemExit(f"report: README.md has no {begin} … {end} block")
        head, rest = readme.split(begin, 1)
        _, tail = rest.split(end, 1)
        readme = f"{head}{begin}\n{text}\n{end}{tail}"
    atomic_write(README, lambda f: f.write(readme.encode()))


def main(argv=None):
    kernels, train, jit = (common.read_result(n) for n in ("kernels", "train", "jit"))
    if not (kernels or train or jit):
        raise SystemExit("report: no results yet; run the benchmarks first")
    text = table(kernels, train, jit)
    print(text)
    for path in charts(kernels, train):
        print(f"wrote {path}", file=sys.stderr)
    blocks = [(BEGIN, END, text)]
    threads = common.read_result("threads")
    if threads:
        blocks.append((THREADS_BEGIN, THREADS_END, threads_table(threads)))
    readme = README.read_text()
    for name, (begin, end) in OPTIONAL_BLOCKS.items():
        result = common.read_result(name)
        if result and begin in readme:
            from importlib import import_module
            module = import_module(f"benchmarks.{'bench_roofline' if name == 'roofline' else name}")
            if name == "roofline":
                result["machine"] = result.get("machine", {})
            blocks.append((begin, end, module.table(result)))
    groups = accuracy_groups()
    for dataset, (begin, end) in ACCURACY_BLOCKS.items():
        if begin in readme and any(k[1] == dataset for k in groups):
            blocks.append((begin, end, accuracy_table(groups, dataset)))
    update_readme(blocks)


if __name__ == "__main__":
    main()
