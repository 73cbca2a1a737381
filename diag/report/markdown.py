"""Markdown report for a GitHub Actions job summary ($GITHUB_STEP_SUMMARY).

GitHub renders the summary as GitHub Flavored Markdown (https://github.github.com/gfm/),
so every value from a message is escaped: it must not open a link, an HTML block or a
new table cell.
"""

import re
from typing import TextIO
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from diag.paths import data_path
from diag.report.causes import join_names
from diag.report.inline import split_code_spans
from diag.report.view import build_view, is_web_url

TEMPLATE = "report.md.j2"

# Characters with inline meaning in GFM: emphasis, code, links, autolinks, HTML, tables and
# strikethrough. Backslash escapes work for any ASCII punctuation (GFM section 2.4).
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]|~!])")
# A line that starts with one of these would become a heading, list item or block quote.
_LINE_START_SPECIAL = re.compile(r"^(\s*)([#+\->=])")
# ... or an ordered list item, which backslash-escaping its punctuation prevents (a backslash
# before a digit is literal text, GFM section 2.4).
_LINE_START_ORDERED = re.compile(r"^(\s*\d+)([.)])")


def _one_line(value: object) -> str:
    # A newline inside a value could start a new block (an HTML block or a heading) or end a
    # table row, so values are always written on one line.
    return " ".join(str(value).splitlines())


def escape_inline(value: object) -> str:
    """Return `value` as literal GFM text on one line."""
    text = _one_line(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _INLINE_SPECIAL.sub(r"\\\1", text)
    return _escape_line_start(text)


def _escape_line_start(text: str) -> str:
    text = _LINE_START_SPECIAL.sub(lambda match: match.group(1) + "\\" + match.group(2), text)
    return _LINE_START_ORDERED.sub(lambda match: match.group(1) + "\\" + match.group(2), text)


def _escape_text(text: str) -> str:
    """Escape a piece of text in the middle of a line, where no block can start."""
    text = _one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _INLINE_SPECIAL.sub(r"\\\1", text)


def rule_text(value: object) -> str:
    """Return rule text (a message, why, fix step) as GFM: text escaped, each `code span` kept as a code span.

    The content of a code span is never escaped, because GFM shows it literally; code_span
    picks a fence longer than any backtick run inside it.
    """
    segments = split_code_spans(_one_line(value))
    pieces = [code_span(segment.text) if segment.code else _escape_text(segment.text) for segment in segments]
    if segments and not segments[0].code:
        # Only the start of the line can open a block (a heading, a list item).
        pieces[0] = _escape_line_start(pieces[0])
    return "".join(pieces)


def html_inline(value: object) -> Markup:
    """Return rule text for raw HTML inside the Markdown (a <summary>): escaped, code spans as <code>.

    GFM passes an HTML block through without reading Markdown in it, so the escaping is HTML's.
    """
    pieces = []
    for segment in split_code_spans(_one_line(value)):
        pieces.append(Markup("<code>{}</code>").format(segment.text) if segment.code else escape(segment.text))
    return Markup("").join(pieces)


def code_span(value: object) -> str:
    """Return `value` as a GFM code span, fenced with more backticks than it contains."""
    text = _one_line(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    # A space on each side lets a value start or end with a backtick (GFM section 6.1).
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    return f"{fence}{text}{fence}"


def table_code(value: object) -> str:
    """Return a code span safe inside a table cell, where GFM splits cells at any unescaped pipe."""
    return code_span(value).replace("|", "\\|")


def code_fence(lines: list[str]) -> str:
    """Return a fence of backticks longer than any backtick run in `lines` (at least three)."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def link(title: str, url: str) -> str:
    """Return a Markdown link for an http(s) URL, or the escaped title and URL as text."""
    if not is_web_url(url):
        return f"{escape_inline(title)} ({escape_inline(url)})"
    # Percent-encode what would end the <destination> form: space, <, > and line breaks.
    safe_url = quote(_one_line(url), safe=":/?#[]@!$&'()*+,;=%~")
    return f"[{escape_inline(title)}](<{safe_url}>)"


def _environment() -> Environment:
    # Markdown, not HTML: escaping is done per value by the filters below, so autoescape is off.
    environment = Environment(
        loader=FileSystemLoader(str(data_path("reports") / "markdown")),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["md"] = escape_inline
    environment.filters["code"] = code_span
    environment.filters["table_code"] = table_code
    environment.filters["rule_text"] = rule_text
    environment.filters["html_inline"] = html_inline
    environment.globals["join_names"] = join_names
    environment.globals["code_fence"] = code_fence
    environment.globals["link"] = link
    return environment


def render(report: dict, stream: TextIO) -> None:
    """Write the report as GitHub Flavored Markdown to `stream`."""
    template = _environment().get_template(TEMPLATE)
    stream.write(template.render(view=build_view(report)))
