"""See backprop checked: one Conv2d's hand-written gradient against central differences.

    python examples/gradient_check.py

For a random upstream gradient g, the scalar L = sum(conv(x) * g) has
dL/dweight equal to what ``conv(x).backward(g)`` accumulates into weight.grad.
We nudge single weights by ±h and compare (float64: float32 differences are noise).
"""
import argparse

import numpy as np

import minicnn
from minicnn import gradcheck, nn


def main(argv=None):
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    rng = np.random.default_rng(0)
    minicnn.manual_seed(0)
    conv = nn.Conv2d(2, 3, kernel_size=3, stride=2, padding=1).to(np.float64)
    x = rng.standard_normal((2, 2, 7, 6))
    rows = gradcheck.check_module(conv, x, rng, samples=5)
    for row in rows:
        print(f"{row['param']:7s} max relative error {row['error']:.1e}")
        for i, a, n in zip(row["index"][:3], row["analytic"], row["numeric"]):
            print(f"    entry {int(i):3d}: backward {a:+.10f}   central difference {n:+.10f}")
    return rows


if __name__ == "__main__":
    main()
