"""docs/notebooks/: every notebook runs top to bottom, is stored as its source makes it, and computes what
it says it computes.

- **Stored as built.** Each ``docs/notebooks/NN_name.ipynb`` has exactly the cells (ids, types, sources)
  that ``docs/notebooks/build.py`` makes from ``src/NN_name.py``, so a source edited without a rebuild
  fails here; and it was stored executed: every code cell ran, in order, none raised, and it has its
  pictures.
- **Runs.** Each source's notebook is executed afresh with nbclient (a cell may take 5 minutes); a cell
  that raises, a failed ``assert`` in the notebook included, fails the test.
- **Computes.** After the last cell, one more cell reads the notebook's own results back as JSON, and each
  is held to what the notebook claims: the hand gradients equal the engine's, the planted col2im shows an
  error exactly where windows overlap, the broken engine gets a wrong gradient, the planted bugs fail the
  gradient check, the timing has its rounds and its control.
- The notebooks use only minicnn's public names (the rule ``tests/test_layout.py`` holds the code to).

``make test-notebooks`` runs this file (marker ``notebooks``; about a minute on 2 cores); ``make test``
leaves it out.
"""
import importlib.util
import json
import math
import re
import statistics
from pathlib import Path

import pytest

from test_layout import private_imports

nbformat = pytest.importorskip("nbformat", reason="the notebooks extra: pip install -e '.[notebooks]'")
nbclient = pytest.importorskip("nbclient", reason="the notebooks extra: pip install -e '.[notebooks]'")

pytestmark = pytest.mark.notebooks

REPO = Path(__file__).resolve().parents[1]
HERE = REPO / "docs" / "notebooks"
_spec = importlib.util.spec_from_file_location("notebooks_build", HERE / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)
SOURCES = build.sources()
ids = [source.stem for source in SOURCES]


def images(nb):
    return sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))


# --------------------------------------------------------------------------- what each notebook must show
# The expression the probe cell prints (evaluated in the notebook's namespace after its last cell), and
# the checks on its value.

def check_tutorial(v):
    assert len(v["losses"]) == len(v["torch_losses"]) == v["steps"] >= 100
    assert abs(v["losses"][0] - math.log(10)) < 0.2       # an untrained 10-class network: about ln 10
    assert abs(v["losses"][0] - v["torch_losses"][0]) < 1e-5, "the same weights and batch must give the same loss"
    for curve in (v["losses"], v["torch_losses"]):
        assert statistics.mean(curve[-50:]) < 0.5 * statistics.mean(curve[:10]), "the loss did not fall"
    assert v["acc"] > 90 and v["torch_acc"] > 90 and abs(v["acc"] - v["torch_acc"]) < 2


def check_backprop(v):
    assert set(v["engine"]) == set(v["torch"]) == set(v["numeric"]) == {"x", "W1", "b1", "W2", "b2"}
    assert max(v["engine"].values()) < 1e-12 and max(v["torch"].values()) < 1e-12
    assert max(v["numeric"].values()) < 1e-7
    assert v["largest_dW1"] > 0 and v["dead"] > 0, "a gradient of zeros, or no ReLU mask to see"
    assert v["no_mask"] > 1e-3


def check_im2col(v):
    assert v["gap_add"] < 1e-12 and v["gap_assign"] > 1e-3
    assert v["dx_add"] < 1e-12 and v["dx_minicnn"] < 1e-12 and v["dx_assign"] > 1e-3
    assert sorted(set(v["coverage"])) == [1, 2, 4]             # a 3x3 kernel at stride 2 on 7x7
    assert v["assign_single"] < 1e-12 and v["assign_overlap"] > 0


def check_engine(v):
    # d = a*b + a, L = sum(d^2): dL/da = 2d(b + 1), dL/db = 2da, at a = (1.5, -2), b = (0.5, 3)
    assert v["a_grad"] == [6.75, -64.0] and v["b_grad"] == [6.75, 32.0]
    assert v["hand_vs_engine"] == 0 and v["broken_error"] > 1e-3
    assert v["first"] == [2.0, 4.0, 6.0] and v["after_two"] == [4.0, 8.0, 12.0]   # sum(x*x) at (1, 2, 3), twice


def check_gradcheck(v):
    assert len(v["rows"]) == 2 and max(v["rows"]) < 1e-7
    assert max(v["torch"]) < 1e-12
    assert sorted(v["caught"]) == ["FirstImageOnly", "NoProductRule"]


def check_timing(v):
    assert v["rounds"] >= 5 and len(v["vs_torch"]) == len(v["control"]) == v["rounds"]
    assert all(0 < r < math.inf for r in v["vs_torch"] + v["control"])
    assert 0.5 < statistics.median(v["control"]) < 2, "the control, minicnn against itself, should be near 1"


PROBES = {
    "01_tutorial_side_by_side": ('{"losses": losses, "torch_losses": torch_losses, "steps": STEPS, "acc": acc, '
                                 '"torch_acc": torch_acc}', check_tutorial),
    "02_backprop_by_hand": ('{"engine": errors_engine, "torch": errors_torch, "numeric": errors_numeric, '
                            '"largest_dW1": float(np.abs(dW1).max()), "dead": int((z1 <= 0).sum()), '
                            '"no_mask": relative_error(dW1_no_mask, ours["W1"].grad)}', check_backprop),
    "03_im2col": ('{"gap_add": gap_add, "gap_assign": gap_assign, "dx_add": relative_error(dx_add, dx_torch), '
                  '"dx_assign": relative_error(dx_assign, dx_torch), "dx_minicnn": relative_error(dx_minicnn, dx_torch), '
                  '"coverage": coverage.ravel().tolist(), "assign_single": float(error_assign[~overlap].max()), '
                  '"assign_overlap": float(error_assign[overlap].min())}', check_im2col),
    "04_engine": ('{"a_grad": a.grad.tolist(), "b_grad": b.grad.tolist(), "hand_vs_engine": float(hand_vs_engine), '
                  '"broken_error": broken_error, "first": first.tolist(), "after_two": after_two.tolist()}', check_engine),
    "05_gradcheck_your_layer": ('{"rows": [row["error"] for row in rows], "torch": list(errors.values()), '
                                '"caught": list(caught)}', check_gradcheck),
    "06_timing_honestly": ('{"rounds": ROUNDS, "vs_torch": vs_torch, "control": control}', check_timing),
}


def test_every_notebook_has_its_checks():
    assert sorted(PROBES) == ids and len(ids) == 6


# --------------------------------------------------------------------------- stored as built


@pytest.mark.parametrize("source", SOURCES, ids=ids)
def test_stored_notebook_is_its_source_executed(source):
    stored_path = build.target(source)
    assert stored_path.exists(), f"{stored_path.name} missing: run python docs/notebooks/build.py {source.stem}"
    stored = nbformat.read(stored_path, as_version=4)
    assert build.cells(stored) == build.cells(build.notebook(source)), \
        f"{stored_path.name} is stale: run python docs/notebooks/build.py {source.stem}"
    code = [cell for cell in stored.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), "stored without running it"
    assert not [out for cell in code for out in cell.outputs if out.output_type == "error"]
    assert images(stored) >= 1, "no picture"
    nbformat.validate(stored)


def test_the_readme_names_every_notebook():
    readme = (HERE / "README.md").read_text()
    linked = set(re.findall(r"\]\(([^)#\s]+)", readme))
    for target in linked:
        assert (HERE / target).exists(), f"docs/notebooks/README.md links to a missing {target}"
    assert {build.target(source).name for source in SOURCES} <= linked
    assert f"src/{SOURCES[0].name}" in linked


@pytest.mark.parametrize("path", [HERE / "build.py", *SOURCES], ids=lambda p: p.name)
def test_notebooks_use_only_public_names(path):
    assert not private_imports(path), f"{path.name} uses private names: {private_imports(path)}"


def test_a_source_that_would_lose_text_is_refused():
    with pytest.raises(ValueError, match="before the first"):
        build.parse("x = 1\n# %%\ny = 2\n")
    with pytest.raises(ValueError, match="must be comments"):
        build.parse("# %% [markdown]\n# a title\nnot a comment\n")
    assert build.parse("# %% [markdown]\n# # Title\n#\n# text\n\n# %%\nx = 1\n\n\n# %%\ny = 2\n") == [
        ("markdown", "# Title\n\ntext"), ("code", "x = 1"), ("code", "y = 2")]


# --------------------------------------------------------------------------- runs and computes


@pytest.fixture
def kernel_env(monkeypatch, mnist_root):
    """The kernel inherits the environment: the verified MNIST root for notebook 01."""
    monkeypatch.setenv("MINICNN_DATA", str(Path(mnist_root).resolve()))


@pytest.mark.parametrize("source", SOURCES, ids=ids)
def test_notebook_runs_and_computes_what_it_says(source, kernel_env):
    expression, check = PROBES[source.stem]
    nb = build.notebook(source)
    nb.cells.append(nbformat.v4.new_code_cell(f'import json as _json\nprint("PROBE", _json.dumps({expression}))'))
    build.execute(nb)
    assert images(nb) >= 1, "no picture"
    printed = "".join(out.get("text", "") for out in nb.cells[-1].outputs if out.output_type == "stream")
    line = next(line for line in printed.splitlines() if line.startswith("PROBE "))
    check(json.loads(line.removeprefix("PROBE ")))


def test_a_failing_cell_fails_the_run():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell("assert x == 2, 'planted'")])
    nb.metadata["kernelspec"] = dict(build.KERNELSPEC)
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="planted"):
        build.execute(nb)
