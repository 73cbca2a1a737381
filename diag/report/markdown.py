"""Markdown report for a GitHub Actions job summary ($GITHUB_STEP_SUMMARY).

GitHub renders the summary as GitHub Flavored Markdown (https://github.github.com/gfm/),
so every value from a message is escaped: it must not open a link, an HTML block or a
new table cell.
"""

import re
from typing import TextIO
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from diag.paths import data_path
from diag.report.view import build_view, is_web_url

TEMPLATE = "report.md.j2"

# Characters with inline meaning in GFM: emphasis, code, links, autolinks, HTML, tables and
# strikethrough. Backslash escapes work for any ASCII punctuation (GFM section 2.4).
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]|~!])")
# A line that starts with one of these would become a heading, list item or block quote.
_LINE_START_SPECIAL = re.compile(r"^(\s*)([#+\->=]|\d+[.)])")


def _one_line(value: object) -> str:
    # A newline inside a value could start a new block (an HTML block or a heading) or end a
    # table row, so values are always written on one line.
    return " ".join(str(value).splitlines())


def escape_inline(value: object) -> str:
    """Return `value` as literal GFM text on one line."""
    text = _one_line(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _INLINE_SPECIAL.sub(r"\\\1", text)
    return _LINE_START_SPECIAL.sub(lambda match: match.group(1) + "\\" + match.group(2), text)


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
    environment.globals["code_fence"] = code_fence
    environment.globals["link"] = link
    return environment


def render(report: dict, stream: TextIO) -> None:
    """Write the report as GitHub Flavored Markdown to `stream`."""
    template = _environment().get_template(TEMPLATE)
    stream.write(template.render(view=build_view(report)))
