"""The house rules a reader relies on, checked on the source: no module reaches into another's private
names, and no file or name is left from the phase it was written in ("toolbox")."""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("minicnn", "reference", "benchmarks", "examples")


def python_files(*roots):
    return sorted(p for root in roots for p in (REPO / root).rglob("*.py"))


def private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(path):
    """``from x import _y`` and ``module._y`` where ``module`` was imported: (line, what) pairs."""
    tree = ast.parse(path.read_text(), str(path))
    found, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found += [(node.lineno, f"from {'.' * node.level}{node.module or ''} import {a.name}")
                      for a in node.names if private(a.name)]
            modules |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            modules |= {(a.asname or a.name).split(".")[0] for a in node.names}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr) and isinstance(node.value, ast.Name) \
                and node.value.id in modules and node.value.id not in ("self", "cls"):
            found.append((node.lineno, f"{node.value.id}.{node.attr}"))
    return found


@pytest.mark.parametrize("path", python_files(*PACKAGES), ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_uses_another_modules_private_names(path):
    found = private_imports(path)
    assert not found, f"{path.relative_to(REPO)} uses private names of other modules: {found}"


def test_the_check_sees_a_private_import(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("from minicnn.functional import _kernel_call\nimport numpy as np\nnp._private\n")
    assert [what for _, what in private_imports(planted)] == ["from minicnn.functional import _kernel_call",
                                                              "np._private"]


def test_no_toolbox_left():
    for path in python_files("minicnn", "tests", *PACKAGES[1:]) + sorted((REPO / "docs").glob("*.md")):
        if path == Path(__file__):
            continue
        assert "toolbox" not in path.read_text().lower(), f"{path.relative_to(REPO)} still says toolbox"
    for path in (REPO / "minicnn").rglob("*"):
        assert "toolbox" not in path.name
