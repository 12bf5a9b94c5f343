"""What README.md and docs/*.md (and the READMEs of reference/ and benchmarks/) show a reader stays true:
their code runs, their commands exist, their links land.

- **Python blocks run.** The ```python blocks of a page run in order in one namespace, as a reader pastes
  them into one session, in a fresh temporary folder; where a page's blocks read MNIST, ``$MINICNN_DATA``
  is the verified root of the ``mnist_root`` fixture. A block followed directly by a ```text block must
  print exactly that text.
  Skipped, each for a reason the test states: blocks of docs/backprop.md whose paragraph links them to
  source lines (``#La-Lb``: ``tests/test_backprop_doc.py`` holds those to the source), README's example
  (``tests/test_readme.py`` runs it with the thread count README names), and a block marked
  ``<!-- not-run: why -->`` on the line before it (keep those rare: a fragment of a larger function).
- **Commands exist.** Every command of a ```bash/```sh block, and every ``$ `` line of a ```console block,
  is parsed by the program's own parser, without running it: ``minicnn ...`` by ``minicnn.cli``'s
  argparse parser; ``python -m MODULE ...`` and ``python script.py ...`` by the parser the module's
  ``main`` builds (captured at its ``parse_args`` call); ``python -m pytest`` by checking that each
  test file, ``::test`` and ``-p`` plugin exists; ``make TARGET`` by ``make -n``. A stale subcommand,
  module, script, target, flag or flag value fails.
- **Inline commands exist.** Every `` `minicnn ...` ``, `` `python -m ...` ``, `` `python examples/...` `` and
  `` `make ...` `` in the prose names a real subcommand, module, script or target, and each ``--flag`` in
  it is one that program takes (values are not checked: prose may write ``--model M``).
- **Links land.** Every relative link and image points to an existing file; an ``#anchor`` to a heading
  of the page it names (GitHub's slugs), a ``#L12`` or ``#L12-L20`` to lines the file has.
- **Every fenced block says its language**, so that none escapes the checks above by accident.
"""
import argparse
import contextlib
import functools
import importlib.util
import io
import re
import runpy
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from minicnn.lab.docpage import slug  # GitHub's anchors, as the lab's doc links use them

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "reference" / "README.md",
         REPO / "benchmarks" / "README.md"]
LANGUAGES = {"python", "bash", "sh", "console", "text"}
FENCE = re.compile(r"^( *)```(\S*)[^\n]*\n(.*?)^\1```[ \t]*$", re.M | re.S)
LINE_RANGE = re.compile(r"\]\([^)\s]*#L\d+-L\d+\)")
NOT_RUN = re.compile(r"<!-- not-run: (.+?) -->")
NEEDS_MNIST = re.compile(r"load_mnist|\bMNIST\(|minicnn\.train\b")  # blocks that read the dataset files
PYTHONS = {"python", "python3", ".venv/bin/python", ".venv/bin/python3"}
MINICNNS = {"minicnn", ".venv/bin/minicnn"}


def _rel(page):
    return page.relative_to(REPO).as_posix()


class Block:
    def __init__(self, page, match, text):
        self.page, self.language = page, match.group(2)
        self.code = "\n".join(line[len(match.group(1)):] for line in match.group(3).splitlines()) + "\n"
        self.line = text.count("\n", 0, match.start()) + 1
        self.before = text[:match.start()]
        self.after = text[match.end():]

    @property
    def where(self):
        return f"{_rel(self.page)}:{self.line}"

    def paragraph_before(self):
        """The prose right above the block (back to the previous blank line after any text)."""
        lines = self.before.rstrip("\n").splitlines()
        para = []
        for line in reversed(lines):
            if not line.strip() and para:
                break
            para.append(line)
        return "\n".join(reversed(para))

    def marker(self):
        lines = [line for line in self.before.splitlines() if line.strip()]
        found = NOT_RUN.search(lines[-1]) if lines else None
        return found.group(1) if found else None

    def printed(self):
        """The ```text block right after this one (only blank lines between), or None."""
        found = re.match(r"\s*```text\n(.*?)^```", self.after, re.S | re.M)
        return found.group(1) if found else None


@functools.cache
def blocks(page):
    text = page.read_text()
    return [Block(page, m, text) for m in FENCE.finditer(text)]


def _prose(text):
    """The page without its fenced blocks (their lines blanked, so line numbers stay)."""
    return FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


# --------------------------------------------------------------------------- python blocks
def _readme_example():
    sys.path.insert(0, str(REPO / "tests"))
    try:
        import test_readme
    finally:
        sys.path.remove(str(REPO / "tests"))
    return next(b for b in test_readme.python_blocks() if "loss.backward()" in b and "class SkipNet" in b)


def skip_reason(block):
    """Why a python block is not run here, or None."""
    if block.page.name == "backprop.md" and LINE_RANGE.search(block.paragraph_before()):
        return "shown as lines of the source; tests/test_backprop_doc.py holds it to them"
    if block.page == REPO / "README.md" and block.code == _readme_example():
        return "tests/test_readme.py runs it in a fresh process with the thread count README names"
    marked = block.marker()
    if marked:
        return f"marked not-run: {marked}"
    return None


def test_every_fenced_block_says_its_language():
    untagged = [f"{b.where} ```{b.language}" for page in PAGES for b in blocks(page) if b.language not in LANGUAGES]
    assert not untagged, f"fenced blocks without one of the languages {sorted(LANGUAGES)}: {untagged}"


def test_few_blocks_are_marked_not_run():
    marked = [(b.where, b.marker()) for page in PAGES for b in blocks(page)
              if b.language == "python" and b.marker()]
    assert len(marked) <= 3, f"keep not-run blocks rare; marked: {marked}"
    assert all(len(why.split()) >= 3 for _, why in marked), f"say why a block cannot run: {marked}"


def test_readme_example_is_the_block_test_readme_runs():
    """The README block skipped here must be the one tests/test_readme.py runs (else it would run nowhere)."""
    readme = blocks(REPO / "README.md")
    assert sum(skip_reason(b) is not None and b.code == _readme_example() for b in readme) == 1


@pytest.mark.parametrize("page", [p for p in PAGES if any(b.language == "python" and not skip_reason(b)
                                                           for b in blocks(p))], ids=_rel)
def test_python_blocks_run_and_print_what_the_page_says(page, request, tmp_path, monkeypatch):
    from minicnn import threads
    if any(NEEDS_MNIST.search(b.code) for b in blocks(page) if b.language == "python"):
        monkeypatch.setenv("MINICNN_DATA", str(request.getfixturevalue("mnist_root")))
    monkeypatch.chdir(tmp_path)
    # the session configured the threads already (tests/conftest.py); a block's configure() keeps that
    monkeypatch.setattr(threads, "configure", lambda num_threads=None: threads.num_threads())
    namespace = {"__name__": "__main__"}
    ran = 0
    for block in blocks(page):
        if block.language != "python" or skip_reason(block):
            continue
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(block.code, block.where, "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"the block at {block.where} raised {type(error).__name__}: {error}") from error
        expected = block.printed()
        if expected is not None:
            assert out.getvalue() == expected, (f"the block at {block.where} printed\n{out.getvalue()}"
                                                f"but the page says\n{expected}")
        ran += 1
    assert ran, f"{_rel(page)}: no python block ran"


# --------------------------------------------------------------------------- commands
class _Captured(Exception):
    def __init__(self, parser):
        self.parser = parser


@functools.cache
def minicnn_parser():
    from minicnn.cli import build_parser
    return build_parser()


@functools.cache
def script_parser(target, is_module):
    """The argparse parser a module's or script's ``main`` builds, captured at its ``parse_args`` call;
    None for a program without one (it is never run: without a parser to stop at, it would do its work)."""
    source = Path(importlib.util.find_spec(target).origin) if is_module else REPO / target
    if "ArgumentParser" not in source.read_text():
        return None

    def capture(self, *args, **kwargs):
        raise _Captured(self)

    saved = sys.argv[:]
    sys.argv[:] = [str(target), "--help"]   # should the capture miss, argparse prints help and exits: no work done
    patch = pytest.MonkeyPatch()
    patch.setattr(argparse.ArgumentParser, "parse_args", capture)
    patch.setattr(argparse.ArgumentParser, "parse_known_args", capture)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", "'.*' found in sys.modules", RuntimeWarning)  # runpy on an imported module
            if is_module:
                runpy.run_module(target, run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(str(REPO / target), run_name="__main__")
    except _Captured as captured:
        return captured.parser
    except SystemExit:
        raise AssertionError(f"{target}: its parser could not be captured (it exited first)") from None
    finally:
        patch.undo()
        sys.argv[:] = saved
    raise AssertionError(f"{target}: ran to the end without parsing a command line")


@functools.cache
def make_target_exists(target):
    done = subprocess.run(["make", "-n", "-C", str(REPO), target], capture_output=True, text=True, timeout=60)
    return done.returncode == 0


def _parse(parser, args, what):
    """Parse ``args`` with ``parser`` as the program would; AssertionError with argparse's message if not."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(args)
    except SystemExit as exit:
        if exit.code:
            raise AssertionError(f"{what}: {err.getvalue().strip() or exit}") from None


def _options(parser):
    return set(parser._option_string_actions)


def _flags(words):
    """The ``--flag`` names among ``words`` (``[--x``, ``--x=v``, ``--x]`` too), up to a bare ``--``."""
    found = []
    for word in words:
        if word == "--":
            break
        m = re.match(r"\[?(--[A-Za-z][\w-]*)", word)
        if m:
            found.append(m.group(1))
    return found


def _known_flags(parser, words, what):
    unknown = [f for f in _flags(words) if f not in _options(parser)]
    assert not unknown, f"{what}: {parser.prog} takes no {', '.join(unknown)}"


def _pytest_args(words, what):
    for i, word in enumerate(words):
        if words[i - 1:i] == ["-p"]:
            assert importlib.util.find_spec(word), f"{what}: no pytest plugin {word}"
        m = re.match(r"(tests/[\w/]+\.py)(?:::(\w+))?$", word)
        if m:
            path = REPO / m.group(1)
            assert path.exists(), f"{what}: no test file {m.group(1)}"
            if m.group(2):
                assert re.search(rf"^def {m.group(2)}\b", path.read_text(), re.M), \
                    f"{what}: {m.group(1)} has no {m.group(2)}"


def check_command(words, what, strict):
    """One command line (shell words, environment assignments first); ``strict``: parse it whole."""
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
        words = words[1:]
    if not words:
        return
    program, args = words[0], words[1:]
    if program == "make":
        targets = [a for a in args if not a.startswith("-") and "=" not in a]
        for target in targets:
            assert make_target_exists(target), f"{what}: the Makefile has no target {target}"
        return
    if program in MINICNNS or (program in PYTHONS and args[:2] == ["-m", "minicnn"]):
        args = args if program in MINICNNS else args[2:]
        parser = minicnn_parser()
        if strict:
            _parse(parser, args, what)   # and then the flags by their full names (argparse takes abbreviations)
            if args and args[0] in parser.commands:
                _known_flags(parser.commands[args[0]], args[1:], what)
        elif args and not args[0].startswith(("-", "[")):
            assert args[0] in parser.commands, f"{what}: minicnn has no subcommand {args[0]}"
            _known_flags(parser.commands[args[0]], args[1:], what)
        return
    assert program in PYTHONS, f"{what}: tests/test_docs.py has no check for {program!r} commands; add one"
    if not args or args[0] in ("-", "-c"):   # the interpreter itself, reading a program from stdin or -c
        return
    if args[:1] == ["-m"]:
        module, args = args[1], args[2:]
        if module == "pytest":
            _pytest_args(args, what)
            return
        assert importlib.util.find_spec(module), f"{what}: no module {module}"
        parser = script_parser(module, True)
    else:
        script = args[0]
        assert (REPO / script).is_file(), f"{what}: no script {script}"
        parser, args = script_parser(script, False), args[1:]
    head, tail = (args[:args.index("--")], args[args.index("--") + 1:]) if "--" in args else (args, [])
    if parser is None:
        assert not _flags(head), f"{what}: the program parses no command line, so it takes no {_flags(head)}"
        return
    _known_flags(parser, head, what)
    if strict:
        _parse(parser, head, what)
    if tail:  # accuracy_seeds passes what follows -- to every `minicnn train`
        train = minicnn_parser().commands["train"]
        _known_flags(train, tail, f"{what} (after --, for minicnn train)")
        if strict:
            _parse(train, tail, f"{what} (after --, for minicnn train)")


def block_commands(block):
    """(line, command) of a bash/sh/console block; continuation lines joined, comments dropped."""
    lines = block.code.splitlines()
    if block.language == "console":
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    joined, command = [], ""
    for line in lines:
        command += line.rstrip("\\") + " "
        if not line.endswith("\\"):
            joined.append(command.strip())
            command = ""
    return [c for c in joined if c and not c.startswith("#")]


def _command_blocks():
    return [b for page in PAGES for b in blocks(page) if b.language in ("bash", "sh", "console")]


@pytest.mark.parametrize("block", _command_blocks(), ids=lambda b: b.where)
def test_every_command_in_a_block_parses(block):
    commands = block_commands(block)
    assert commands, f"{block.where}: a command block without a command"
    for command in commands:
        words, part = shlex.split(command, comments=True), []
        for word in words + [";"]:   # one check per command of a `a && b; c` line
            if word in ("&&", "||", ";"):
                check_command(part, f"{block.where}: `{' '.join(part)}`", strict=True)
                part = []
            else:
                part.append(word)


def inline_commands(page):
    """(line, code span) of every inline command of a page's prose."""
    prose = _prose(page.read_text())
    found = []
    for m in re.finditer(r"(?<!`)`([^`\n]+)`(?!`)", prose):
        span = m.group(1).strip()
        words = span.split()
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
            words = words[1:]
        if words and (words[0] in MINICNNS | PYTHONS | {"make"}) and len(words) > 1:
            found.append((prose.count("\n", 0, m.start()) + 1, span))
    return found


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_inline_command_names_what_exists(page):
    checked = 0
    for line, span in inline_commands(page):
        words = span.replace("\\|", "|").split()
        try:
            words = shlex.split(span.replace("\\|", "|"), comments=False)
        except ValueError:
            pass
        check_command(words, f"{_rel(page)}:{line}: `{span}`", strict=False)
        checked += 1
    if page == REPO / "README.md":
        assert checked >= 2, "README names `make train`, `minicnn train ...`: the inline check found none"


def test_every_flag_of_the_command_line_is_on_the_training_page():
    """The other direction: a flag added to ``minicnn`` and not documented fails."""
    page = (REPO / "docs" / "training.md").read_text()
    missing = sorted({flag for sub in minicnn_parser().commands.values() for flag in _options(sub)
                      if flag.startswith("--") and flag != "--help" and f"`{flag}" not in page
                      and f" {flag} " not in page})
    assert not missing, f"docs/training.md does not mention {missing}"


def test_a_stale_command_or_flag_fails():
    """The checks above can fail: a removed subcommand, flag, module, target or test file is caught."""
    for words, strict in [("minicnn train --no-such-flag".split(), True),
                          ("minicnn train --epoch 5".split(), True),   # argparse would take the abbreviation
                          ("python -m benchmarks.bench_train --step 5".split(), True),
                          ("minicnn train --model no-such-model".split(), True),
                          ("minicnn no-such-command".split(), False),
                          ("minicnn train --no-such-flag M".split(), False),
                          ("python -m benchmarks.bench_train --no-such-flag".split(), True),
                          ("python -m benchmarks.no_such_benchmark".split(), False),
                          ("python examples/no_such_example.py".split(), False),
                          ("python -m pytest tests/test_no_such_file.py".split(), True),
                          ("python -m pytest tests/test_docs.py::test_no_such_test".split(), True),
                          ("make no-such-target".split(), True)]:
        with pytest.raises(AssertionError):
            check_command(words, " ".join(words), strict)
    check_command("python -m benchmarks.accuracy_seeds --seeds 0 -- --scheduler cosine".split(), "ok", True)
    with pytest.raises(AssertionError, match="after --"):
        check_command("python -m benchmarks.accuracy_seeds --seeds 0 -- --no-such-flag".split(), "x", True)


# --------------------------------------------------------------------------- links
@functools.cache
def anchors(page):
    seen, result = {}, set()
    for heading in re.findall(r"^#{1,6} (.*?)#*\s*$", _prose(page.read_text()), re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        result.add(base if n == 0 else f"{base}-{n}")
    return result


def links(page):
    """(line, target) of every inline link and image of a page's prose (code spans left out)."""
    prose = re.sub(r"`[^`\n]*`", lambda m: " " * len(m.group(0)), _prose(page.read_text()))
    return [(prose.count("\n", 0, m.start()) + 1, m.group(1))
            for m in re.finditer(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", prose)]


def link_problems(page):
    """What is wrong with each relative link of ``page``: a missing file, anchor or line."""
    problems = []
    name = _rel(page) if page.is_relative_to(REPO) else page.name
    for line, target in links(page):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        where = f"{name}:{line}: ({target})"
        if not file.exists():
            problems.append(f"{where}: no such file")
            continue
        if not anchor:
            continue
        lines = re.fullmatch(r"L(\d+)(?:-L(\d+))?", anchor)
        if lines:
            count = len(file.read_text().splitlines())
            if not all(int(n) <= count for n in lines.groups() if n):
                problems.append(f"{where}: the file has {count} lines")
        elif file.suffix != ".md":
            problems.append(f"{where}: an anchor into a file that is not a page")
        elif anchor not in anchors(file):
            problems.append(f"{where}: no heading of {file.name} has the anchor #{anchor}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_relative_link_lands(page):
    problems = link_problems(page)
    assert not problems, "\n".join(problems)


def test_the_link_check_can_fail(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "code.py").write_text("x = 1\n")
    page.write_text("# A page\n\n## Some heading, here\n\n```bash\n## not a heading\n```\n\n"
                    "[ok](#some-heading-here) [bad](#not-a-heading) [missing](missing.md) [line](code.py#L2) "
                    "`[in code](nowhere.md)` [ok](code.py#L1)\n")
    assert anchors(page) == {"a-page", "some-heading-here"}
    assert [p.split(": ", 1)[1] for p in link_problems(page)] == [
        "(#not-a-heading): no heading of page.md has the anchor #not-a-heading", "(missing.md): no such file",
        "(code.py#L2): the file has 1 lines"]
