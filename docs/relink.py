"""Re-point the line anchors of the docs pages after the code they cite has moved.

    python docs/relink.py            # rewrite docs/*.md in place; prints what moved and what it cannot find

A ``[`name`](../path.py#L12)`` anchor moves to the line that defines ``name``
(``def``/``class``/assignment) nearest to the old one; a ``[...](../path.py#L12-L20)``
anchor followed by a code block moves to where that block's lines now are,
verbatim.  A block whose text is no longer in the source is reported, not
changed: the page's text is then out of date, and ``tests/test_backprop_doc.py``
and ``tests/test_docs.py`` fail until someone rewrites it.
"""
import re
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAMED = re.compile(r"\[`([A-Za-z_][\w.]*)`\]\(\.\./([^)#\s]+)#L(\d+)\)")
BLOCK = re.compile(r"(\[[^\]]*\]\(\.\./([^)#]+)#L)(\d+)-L(\d+)(\)[^\n]*\n+```python\n)(.*?)```", re.S)


def _lines(path, cache={}):
    if path not in cache:
        cache[path] = (REPO / path).read_text().splitlines()
    return cache[path]


def relink(text, problems):
    def named(m):
        name, path, line = m.group(1), m.group(2), int(m.group(3))
        short = name.rsplit(".", 1)[-1]
        found = [i + 1 for i, src in enumerate(_lines(path))
                 if re.match(rf"\s*(def|class)\s+{short}\b|\s*{short}\s*=", src)]
        if not found:
            problems.append(f"{path}: no definition of {name}")
            return m.group(0)
        best = min(found, key=lambda i: abs(i - line))
        return m.group(0).replace(f"#L{line})", f"#L{best})")

    def block(m):
        path, first, last, shown = m.group(2), int(m.group(3)), int(m.group(4)), m.group(6).rstrip("\n")
        lines, n = _lines(path), shown.count("\n") + 1
        starts = [s for s in range(len(lines) - n + 1)
                  if textwrap.dedent("\n".join(lines[s:s + n])) == shown]
        if not starts:
            problems.append(f"{path}#L{first}-L{last}: the block shown is no longer in the source")
            return m.group(0)
        s = min(starts, key=lambda s: abs(s + 1 - first)) + 1
        head = re.sub(r"lines \d+–\d+", f"lines {s}–{s + n - 1}", m.group(1))  # the label says them too
        return f"{head}{s}-L{s + n - 1}{m.group(5)}{m.group(6)}```"

    return BLOCK.sub(block, NAMED.sub(named, text))


def main():
    problems = []
    for page in sorted((REPO / "docs").glob("**/*.md")):
        text = page.read_text()
        new = relink(text, problems)
        if new != text:
            page.write_text(new)
            print(f"relinked {page.relative_to(REPO)}")
    for problem in problems:
        print(f"cannot relink: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
