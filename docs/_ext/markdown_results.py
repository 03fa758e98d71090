"""Markdown result files -> reStructuredText, for the benchmark pages of the documentation.

The benchmark scripts write their results as Markdown (headings, paragraphs, pipe tables,
the odd list or code fence). ``markdown_to_rst`` turns that subset into reStructuredText that
Sphinx renders as real tables (``list-table``), without a Markdown parser:

* ``#`` headings become section titles, ranked by the levels present in the file (a file
  with ``#`` and ``###`` only gets two consecutive levels), underlined with characters the
  including pages do not use for their own sections (``^ " ' `` ...);
* pipe tables become ``list-table`` directives; a row with more cells than the header (an
  unescaped ``|`` inside a cell, e.g. ``KL(q(z|x) || p(z|x))``) has its surplus merged back
  into the first cell, and a short row is padded with empty cells;
* inline code, bold, italics and links are converted; every other character that is markup
  in reStructuredText is escaped, so text from a results file cannot make a warning;
* fenced code blocks become literal blocks, ``-``/``*``/``1.`` lists become bullet lists.

``results_rst(path, command)`` wraps this for one results file, and falls back to a sentence
saying how to create the file when it does not exist, or to the verbatim text when the
converted text does not parse cleanly with docutils (so a results file in an unexpected
form can never break the documentation build).
"""
import io
import re
from pathlib import Path

HEADING_CHARS = "^\"'`.+"
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SEPARATOR_CELL = re.compile(r"^\s*:?-+:?\s*$")
_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)\s*$")
_LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_INLINE = re.compile(
    r"(?P<code>(?P<ticks>`+)(?P<code_body>.+?)(?<!`)(?P=ticks)(?!`))"
    r"|(?P<link>\[(?P<link_text>[^\]]+)\]\((?P<link_url>[^)\s]+)\))"
    r"|(?P<auto><(?P<auto_url>https?://[^>\s]+)>)"
    r"|(?P<strong>(?<![\w*])\*\*(?P<strong_body>[^\s*](?:.*?[^\s*])?)\*\*(?![\w*]))"
    r"|(?P<strong2>(?<!\w)__(?P<strong2_body>[^\s_](?:.*?[^\s_])?)__(?!\w))"
    r"|(?P<em>(?<![\w*])\*(?P<em_body>[^\s*](?:.*?[^\s*])?)\*(?![\w*]))"
    r"|(?P<em2>(?<![\w_])_(?P<em2_body>[^\s_](?:.*?[^\s_])?)_(?![\w_]))"
)
# reStructuredText inline markup: what may stand before a start-string and after an end-string.
_BEFORE_START = set(" \t\n-:/'\"<([{")
_AFTER_END = set(" \t\n-.,:;!?\\/'\")]}>")


def _escape(text):
    """Plain text with every character that could be reStructuredText markup escaped."""
    return re.sub(r"([\\`*_|])", r"\\\1", text)


def _pieces(text, style=None):
    """Split Markdown inline text into (kind, text, url) pieces; kinds: text, em, strong,
    code, link. Emphasis around code or links applies to the text pieces only (reST has no
    nested inline markup)."""
    pieces, pos = [], 0
    for match in _INLINE.finditer(text):
        if match.start() > pos:
            pieces.append((style or "text", text[pos:match.start()], None))
        if match.group("code"):
            pieces.append(("code", match.group("code_body").strip(), None))
        elif match.group("link"):
            pieces.append(("link", match.group("link_text"), match.group("link_url")))
        elif match.group("auto"):
            pieces.append(("text", match.group("auto_url"), None))
        else:
            kind = next(k for k in ("strong", "strong2", "em", "em2") if match.group(k))
            pieces.extend(_pieces(match.group(f"{kind}_body"), "strong" if kind.startswith("strong") else "em"))
        pos = match.end()
    if pos < len(text):
        pieces.append((style or "text", text[pos:], None))
    return pieces


def inline(text):
    """Markdown inline text -> reStructuredText inline text."""
    out = []
    after_markup = False

    def emit_markup(rendered):
        nonlocal after_markup
        previous = out[-1][-1] if out else " "
        if previous not in _BEFORE_START:  # e.g. a word right before ``code``
            out.append("\\ ")
        out.append(rendered)
        after_markup = True

    def emit_text(raw):
        nonlocal after_markup
        if not raw:
            return
        if after_markup and raw[0] not in _AFTER_END:  # e.g. ``code``s
            out.append("\\ ")
        out.append(_escape(raw))
        after_markup = False

    for kind, raw, url in _pieces(text):
        if kind == "code":
            if not raw:
                continue
            if "``" in raw or raw.endswith("`"):
                emit_markup(":literal:`" + raw.replace("\\", "\\\\").replace("`", "\\`") + "`")
            else:
                emit_markup(f"``{raw}``")
        elif kind == "link":
            label = _escape(raw.strip()).replace("<", "\\<")
            emit_markup(f"`{label} <{url}>`__")
        elif kind in ("em", "strong"):
            core = raw.strip()
            if not re.search(r"\w", core):
                emit_text(raw)
                continue
            mark = "*" if kind == "em" else "**"
            emit_text(raw[: len(raw) - len(raw.lstrip())])
            emit_markup(f"{mark}{_escape(core)}{mark}")
            emit_text(raw[len(raw.rstrip()):])
        else:
            emit_text(raw)
    return "".join(out)


def _block_text(text):
    """Inline text that starts a block (a paragraph or a table cell): the escaped space in
    front keeps a leading ``-``, ``1.``, ``>>>``, ``..`` or ``|`` from becoming a list, a
    doctest, a comment or a line block."""
    rendered = inline(text.strip())
    return "\\ " + rendered if rendered else ""


def _split_row(line):
    """The cells of a pipe-table row (``\\|`` and pipes inside code spans do not split)."""
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells, current, ticks = [], [], 0
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line) and line[i + 1] == "|":
            current.append("|")
            i += 2
            continue
        if char == "`":
            run = len(line[i:]) - len(line[i:].lstrip("`"))
            if ticks == 0:
                closing = line.find("`" * run, i + run)
                ticks = run if closing != -1 else 0
            elif run == ticks:
                ticks = 0
            current.append("`" * run)
            i += run
            continue
        if char == "|" and not ticks:
            cells.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    cells.append("".join(current))
    return cells  # unstripped, so that cells split at a stray | join back as they were


def _is_separator(line):
    if "-" not in line or "|" not in line and not line.strip().startswith("-"):
        return False
    return all(_SEPARATOR_CELL.match(cell) for cell in _split_row(line))


def _table(lines):
    header = [cell.strip() for cell in _split_row(lines[0])]
    rows = [_split_row(line) for line in lines[2:]]
    width = len(header)
    fixed = []
    for row in rows:
        if len(row) > width:  # an unescaped | inside the first cell: join it back
            surplus = len(row) - width
            row = ["|".join(row[: surplus + 1])] + row[surplus + 1:]
        fixed.append([cell.strip() for cell in row] + [""] * (width - len(row)))
    out = [".. list-table::", "   :header-rows: 1", "   :class: results-table", ""]
    for row in [header] + fixed:
        for j, cell in enumerate(row):
            # "-1.27 ± 0.05" stays on one line; text cells wrap (the table scrolls if need be).
            text = _block_text(re.sub(r"\s*±\s*", "\u00a0±\u00a0", cell))
            out.append(("   * - " if j == 0 else "     - ") + text if text else ("   * -" if j == 0 else "     -"))
    return out + [""]


def _heading_levels(lines):
    """Markdown heading levels present outside code fences, in increasing order."""
    levels, fenced = set(), False
    for line in lines:
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and _HEADING.match(line):
            levels.add(len(_HEADING.match(line).group(1)))
    return sorted(levels)


def markdown_to_rst(text, heading_chars=HEADING_CHARS):
    """Convert Markdown (headings, paragraphs, pipe tables, lists, code fences) to reST."""
    lines = text.replace("\r\n", "\n").replace("\t", "    ").split("\n")
    rank = {level: i for i, level in enumerate(_heading_levels(lines))}
    if len(rank) > len(heading_chars):
        raise ValueError(f"more than {len(heading_chars)} heading levels")
    out, paragraph, i = [], [], 0

    def flush():
        if paragraph:
            out.extend([_block_text(" ".join(p.strip() for p in paragraph)), ""])
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        fence = _FENCE.match(line)
        heading = _HEADING.match(line)
        if not stripped:
            flush()
            i += 1
        elif fence:
            flush()
            body, i = [], i + 1
            while i < len(lines) and not (lines[i].strip().startswith(fence.group(1)) and _FENCE.match(lines[i])):
                body.append(lines[i])
                i += 1
            i += 1
            out.extend(["::", ""] + [("   " + b) if b.strip() else "" for b in body] + [""])
            if not any(b.strip() for b in body):
                out[-len(body) - 3:] = []  # an empty code block: nothing to show
        elif heading:
            flush()
            title = inline(heading.group(2)) or "\\ "
            underline = heading_chars[rank[len(heading.group(1))]] * max(len(title), 4)
            out.extend([title, underline, ""])
            i += 1
        elif "|" in line and i + 1 < len(lines) and _is_separator(lines[i + 1]):
            flush()
            block = [line, lines[i + 1]]
            i += 2
            while i < len(lines) and lines[i].strip() and "|" in lines[i]:
                block.append(lines[i])
                i += 1
            out.extend(_table(block))
        elif _RULE.match(line) and not paragraph:
            i += 1  # a horizontal rule: section titles already separate the parts
        elif _LIST_ITEM.match(line) and not paragraph:
            items, ordered = [], False
            while i < len(lines) and lines[i].strip():
                item = _LIST_ITEM.match(lines[i])
                if item:
                    items.append([item.group(3)])
                    ordered = item.group(2)[0].isdigit()
                else:
                    items[-1].append(lines[i].strip())
                i += 1
            for item in items:
                out.append(("#. " if ordered else "* ") + _block_text(" ".join(item)))
            out.append("")
        else:
            paragraph.append(line)
            i += 1
    flush()
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


def rst_problems(rst):
    """docutils' warnings and errors for ``rst`` parsed on its own (empty when it is clean)."""
    from docutils import nodes
    from docutils.core import publish_doctree

    stream = io.StringIO()
    doctree = publish_doctree(rst, settings_overrides={
        "report_level": 2, "halt_level": 5, "warning_stream": stream,
        "file_insertion_enabled": False, "raw_enabled": False,
    })
    problems = [m.astext() for m in doctree.findall(nodes.system_message) if m["level"] >= 2]
    return problems or ([stream.getvalue()] if stream.getvalue().strip() else [])


def results_rst(path, how, root):
    """The reST for one results file: its Markdown converted, a sentence saying how to create
    it when it does not exist (``how``: reST such as "Run ``python run.py``"), or its verbatim
    text if the conversion does not parse."""
    path = Path(path)
    shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    if not path.is_file():
        return (
            f"No results yet: ``{shown}`` does not exist. {how} to create it, "
            "then rebuild the documentation.\n"
        )
    text = path.read_text(encoding="utf-8")
    intro = f"From ``{shown}``, converted to tables when the documentation was built:\n\n"
    try:
        rst = markdown_to_rst(text)
        problems = rst_problems(rst)
    except Exception as error:  # noqa: BLE001 - any failure falls back to the verbatim text
        problems = [repr(error)]
    if not problems:
        return intro + rst
    body = "\n".join(("   " + line) if line.strip() else "" for line in text.rstrip().splitlines())
    return (
        f"From ``{shown}`` (shown as text: it could not be converted to tables).\n\n"
        f".. code-block:: text\n\n{body}\n"
    )
