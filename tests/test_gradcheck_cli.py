"""``minicnn gradcheck``: the table, its exit status, and the kink test behind it."""
import subprocess
import sys

import numpy as np
import pytest

from minicnn import functional as F
from minicnn import cli, nn
from minicnn.gradcheck import THRESHOLD, check_module, numeric_gradient_kinks, run_gradchecks

MEASURED = {}  # the default run's table (benchmarks.record writes it to benchmarks/results/gradcheck.json)
LAYERS = ["Conv2d", "MaxPool2d", "Linear", "ReLU", "Flatten", "CrossEntropyLoss", "SimpleCNN"]


def table_rows(stdout):
    """(layer, parameter, error, checked, kinks, result) for each row of the printed table."""
    rows = []
    for line in stdout.splitlines():
        parts = line.rsplit(maxsplit=4)
        if len(parts) == 5 and parts[4] in ("pass", "FAIL"):
            layer, param = parts[0].rsplit(maxsplit=1)
            rows.append((layer, param, float(parts[1]), int(parts[2]), int(parts[3]), parts[4]))
    return rows


def test_gradcheck_passes_for_every_layer_type_and_simplecnn(capsys):
    assert cli.main(["gradcheck"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    rows = table_rows(out)
    for layer in LAYERS:
        assert any(r[0].startswith(layer) for r in rows), f"no row for {layer}"
    params = {r[1] for r in rows if r[0] == "SimpleCNN()"}
    assert params == {f"{m}.{p}" for m in ("conv1", "conv2", "fc1", "fc2") for p in ("weight", "bias")} | {"input"}
    assert all(r[5] == "pass" and r[2] <= THRESHOLD for r in rows)
    assert all(r[3] == 30 for r in rows if r[1] in ("conv1.weight", "fc1.weight", "input") and r[0] == "SimpleCNN()")
    # honest float64 central differences land far below the threshold, not just under it
    assert max(r[2] for r in rows) < 1e-7
    assert out.rstrip().splitlines()[-2 if "kinks:" in out else -1].endswith("all passed")
    MEASURED.update(command="minicnn gradcheck", output=out.rstrip(), threshold=THRESHOLD,
                    rows=[dict(zip(("layer", "param", "error", "checked", "kinks", "result"), r)) for r in rows])


def test_verbose_shows_analytic_and_numeric_values(capsys):
    assert cli.main(["gradcheck", "--verbose", "--samples", "4"]) == 0
    out = capsys.readouterr().out
    detail = [line for line in out.splitlines() if "analytic" in line and "numeric" in line]
    assert len(detail) >= 3 * len(table_rows(out)) - 10  # up to 3 entries per row (bias of size 1 etc. fewer)
    analytic, numeric = (float(v) for v in detail[0].split("analytic")[1].split("numeric"))
    assert abs(analytic - numeric) <= 1e-6 * max(abs(analytic), 1e-12)


def test_a_wrong_backward_fails_and_exits_non_zero(monkeypatch, capsys):
    backward = F.ReLUFunction.backward
    monkeypatch.setattr(F.ReLUFunction, "backward", staticmethod(lambda ctx, g: 1.001 * backward(ctx, g)))
    assert cli.main(["gradcheck"]) == 1
    out, err = capsys.readouterr()
    failed = {(r[0], r[1]) for r in table_rows(out) if r[5] == "FAIL"}
    assert ("ReLU()", "input") in failed
    assert ("SimpleCNN()", "conv1.weight") in failed  # every gradient below a ReLU is off
    assert ("Linear(5, 4)", "weight") not in failed
    assert err.count("\n") == 1 and err.startswith("minicnn: error:") and "gradient checks failed" in err


@pytest.mark.parametrize("argv", [["--samples", "0"], ["--seed", "-1"]])
def test_bad_arguments_give_one_line(argv, capsys):
    assert cli.main(["gradcheck", *argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("minicnn: error: --")


def test_same_seed_same_table():
    first, second = run_gradchecks(seed=3, samples=5), run_gradchecks(seed=3, samples=5)
    assert [r["error"] for r in first] == [r["error"] for r in second]


# --------------------------------------------------------------------------- kinks


def test_kink_gap_is_zero_for_a_linear_function_and_large_across_a_kink():
    a = np.array([2e-7, 1.0])
    numeric, gap = numeric_gradient_kinks(lambda: abs(a[0]) + 3 * a[1], a, np.array([0, 1]), h=1e-6)
    assert gap[1] < 1e-9 and numeric[1] == pytest.approx(3)
    assert gap[0] > 0.1              # |x| bends within h of 2e-7
    assert abs(numeric[0] - 1) > 0.1  # so the central difference is neither slope


def test_kinks_are_left_out_and_counted_not_hidden():
    """A ReLU input within h of 0: the plain check fails there, the kink-aware one skips exactly that entry."""
    x = np.linspace(-1, 1, 16).reshape(2, 8)
    x[0, 3] = 1e-7
    plain = check_module(nn.ReLU(), x, np.random.default_rng(0), samples=16)
    aware = check_module(nn.ReLU(), x, np.random.default_rng(0), samples=16, skip_kinks=True)
    assert plain[0]["error"] > THRESHOLD
    assert aware[0]["kinks"] == 1 and aware[0]["error"] < 1e-8
    assert 3 not in aware[0]["index"]


def test_skipping_kinks_does_not_hide_a_wrong_gradient(monkeypatch):
    backward = F.LinearFunction.backward
    monkeypatch.setattr(F.LinearFunction, "backward", staticmethod(lambda ctx, g: backward(ctx, 1.001 * g)))
    layer = nn.Linear(4, 3).to(np.float64)
    rows = check_module(layer, np.random.default_rng(1).standard_normal((2, 4)), np.random.default_rng(0),
                        skip_kinks=True)
    assert all(r["kinks"] == 0 and r["error"] > THRESHOLD for r in rows)


# --------------------------------------------------------------------------- minicnn never imports torch


def test_gradcheck_command_runs_without_importing_torch():
    code = ("import sys; from minicnn import cli; rc = cli.main(['gradcheck', '--samples', '2']); "
            "assert 'torch' not in sys.modules, 'minicnn imported torch'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "all passed" in proc.stdout
