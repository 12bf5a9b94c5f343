"""Write each notebook of docs/notebooks/ from its source in src/, run it, and save it with its outputs.

    python docs/notebooks/build.py                       # every notebook (a few minutes on 2 cores)
    python docs/notebooks/build.py 03_im2col 04_engine   # some of them, by the name of their source
    python docs/notebooks/build.py --check               # only say which stored notebooks are stale (no run)

A source is a plain Python file in the "percent" format that Jupyter's jupytext, VS Code and Spyder read:
a line ``# %%`` starts a code cell, a line ``# %% [markdown]`` a text cell whose lines are comments
(``# `` is taken off each; blank lines at a cell's end are dropped). The source is what to edit and review; the ``.ipynb`` beside this file is
what it makes: the same cells, executed top to bottom by nbclient in a fresh kernel whose working folder
is this one (as Jupyter's would be), with their printed text and pictures kept so that GitHub shows them.

A rebuild changes only what the code prints or draws: the cell ids are the cells' positions, no
execution times are recorded, and every notebook seeds its random numbers (the timing notebook's times
differ from run to run, and it says so). The notebook is written to a temporary file and renamed, so an
interrupted build leaves the old one. ``tests/test_notebooks.py`` runs every notebook and fails when a
stored one no longer matches its source.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
MARKER = "# %%"
MARKDOWN = "# %% [markdown]"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
TIMEOUT = 300  # seconds a cell may run


def sources():
    """The notebooks' sources, in their order: ``src/NN_name.py``."""
    return sorted(SRC.glob("[0-9][0-9]_*.py"))


def target(source):
    """Where the notebook of ``source`` is stored: ``docs/notebooks/NN_name.ipynb``."""
    return HERE / f"{Path(source).stem}.ipynb"


def parse(text, name="source"):
    """The cells of a percent-format source: a list of ``(cell_type, source)``, cell_type "code" or "markdown".

    Raises ValueError for text before the first ``# %%`` line, a text cell line that is not a comment, or an
    empty cell (each would be lost or changed on the way into the notebook).
    """
    cells, kind, lines = [], None, []

    def close():
        if kind is None:
            if any(line.strip() for line in lines):
                raise ValueError(f"{name}: text before the first '{MARKER}' line")
            return
        body = "\n".join(lines).strip("\n")
        if not body.strip():
            raise ValueError(f"{name}: an empty {kind} cell before line {number}")
        cells.append((kind, body))

    number = 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.rstrip() in (MARKER, MARKDOWN):
            close()
            kind, lines = ("markdown" if line.rstrip() == MARKDOWN else "code"), []
        elif kind == "markdown":
            if line.strip() and line.rstrip() != "#" and not line.startswith("# "):
                raise ValueError(f"{name}:{number}: a text cell's lines must be comments ('# ...'), got {line!r}")
            lines.append(line[2:])  # a blank line too: blank lines at a cell's end are dropped
        else:
            lines.append(line)
    number += 1
    close()
    return cells


def notebook(source):
    """The notebook of ``source``, not yet executed (an ``nbformat.NotebookNode``, version 4)."""
    import nbformat
    source = Path(source)
    cells = []
    for i, (kind, body) in enumerate(parse(source.read_text(encoding="utf-8"), source.name)):
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        cells.append(make(body, id=f"cell-{i:02d}"))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def cells(nb):
    """What a notebook's source decides: ``(id, cell_type, source)`` of every cell."""
    return [(cell.get("id"), cell.cell_type, cell.source) for cell in nb.cells]


def execute(nb, timeout=TIMEOUT, path=HERE):
    """Run every cell of ``nb`` in a fresh kernel in folder ``path``, in place; raises nbclient's
    ``CellExecutionError`` at the first cell that raises (a failed ``assert`` included)."""
    import nbclient
    # pictures inline (a MPLBACKEND=Agg from the caller's shell would leave the notebook without them)
    env = dict(os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline", PYDEVD_DISABLE_FILE_VALIDATION="1")
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name=KERNELSPEC["name"], record_timing=False,
                                     resources={"metadata": {"path": str(path)}},
                                     extra_arguments=["--IPKernelApp.log_level=ERROR"])
    client.execute(env=env)
    nb.metadata.get("language_info", {}).pop("version", None)  # the kernel's Python patch release: noise in a diff
    return nb


def write(nb, path):
    """Validate ``nb`` and write it to ``path`` atomically (a temporary file in the same folder, then a rename)."""
    import nbformat
    nbformat.validate(nb)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".ipynb", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary file (mkstemp makes it private)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def stale(source):
    """True when the stored notebook of ``source`` is missing or its cells differ from the source's."""
    import nbformat
    path = target(source)
    return not path.exists() or cells(nbformat.read(path, as_version=4)) != cells(notebook(source))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="sources to build, by name (default: all of src/)")
    parser.add_argument("--check", action="store_true", help="only list stale notebooks; exit 1 if any")
    args = parser.parse_args(argv)
    known = {path.stem: path for path in sources()}
    unknown = [name for name in args.names if name.removesuffix(".py") not in known]
    if unknown:
        parser.error(f"no source named {', '.join(unknown)} in {SRC} (there are: {', '.join(known)})")
    chosen = [known[name.removesuffix(".py")] for name in args.names] or list(known.values())
    if args.check:
        old = [path.stem for path in chosen if stale(path)]
        print("stale: " + ", ".join(old) if old else f"all {len(chosen)} notebooks match their sources")
        return 1 if old else 0
    for source in chosen:
        start = time.perf_counter()
        nb = execute(notebook(source))
        write(nb, target(source))
        print(f"{target(source).relative_to(HERE.parents[1])}: ran in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
