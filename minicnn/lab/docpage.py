"""``docs/backprop.md`` as a plain HTML page, so the lab's "derived in …" links open the derivation.

Only what the page needs to be read beside the lab: headings with GitHub's anchors (the ones the
formulas in :mod:`minicnn.lab.formulas` name), paragraphs, lists, tables and code blocks as
preformatted text, inline code.  The maths stays as its LaTeX source, as in an editor.  The file is
read from the source checkout the package runs from (``pip install -e .``); an installed wheel has
no ``docs/`` and the lab says so.
"""
import html
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = {"backprop": "backprop.md"}   #: /docs/<name> -> the markdown file under docs/


def slug(heading):
    """GitHub's anchor for a heading: a link's text only, lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def _inline(text):
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\[([^\]]+)\]\(#([^)]+)\)", r'<a href="#\2">\1</a>', out)


def render(name):
    """The HTML of page ``name`` (a key of :data:`PAGES`), or None where the file is not there."""
    path = DOCS / PAGES.get(name, "")
    if name not in PAGES or not path.is_file():
        return None
    body, seen, para, code = [], {}, [], None

    def flush():
        if para:
            body.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()

    for line in path.read_text(encoding="utf-8").splitlines():
        if code is not None:
            if line.startswith("```"):
                body.append(f"<pre>{html.escape(chr(10).join(code))}</pre>")
                code = None
            else:
                code.append(line)
            continue
        heading = re.match(r"^(#{1,6}) (.*?)#*\s*$", line)
        if line.startswith("```"):
            flush()
            code = []
        elif heading:
            flush()
            base = slug(heading.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            level = len(heading.group(1))
            anchor = base if n == 0 else f"{base}-{n}"
            body.append(f'<h{level} id="{anchor}">{_inline(heading.group(2))}</h{level}>')
        elif line.startswith("<!--"):
            continue
        elif not line.strip():
            flush()
        elif line.startswith(("|", "- ", "* ", "> ", "$$")) or re.match(r"^\d+\. ", line):
            flush()
            body.append(f'<pre class="line">{_inline(line)}</pre>')
        else:
            para.append(line)
    flush()
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>minicnn: {html.escape(path.name)}</title><style>"
            "body{font-family:system-ui,sans-serif;max-width:860px;margin:20px auto;padding:0 16px;line-height:1.5}"
            "pre{background:#f5f6f8;padding:8px;overflow:auto;white-space:pre-wrap}"
            "pre.line{background:none;padding:0;margin:2px 0}code{background:#f5f6f8}"
            f"</style></head><body><p><a href='/'>← the lab</a> · docs/{html.escape(path.name)}</p>"
            + "\n".join(body) + "</body></html>")
