"""Code spans in rule text: <code> in HTML, intact code spans in Markdown, plain styled text in the terminal."""

import io

from rich.console import Console

from diag.report.html import inline_code
from diag.report.inline import Segment, plain_text, split_code_spans
from diag.report.markdown import html_inline, rule_text
from diag.report.terminal import rich_text

CNAME_STEP = "Publish the three CNAMEs (`<token>._domainkey.example.com CNAME <token>.dkim.amazonses.com`)."


def test_split_one_span():
    assert split_code_spans("run `dig TXT x` now") == [Segment("run ", False), Segment("dig TXT x", True), Segment(" now", False)]


def test_split_unmatched_backtick_literal():
    assert split_code_spans("a ` b") == [Segment("a ` b", False)]


def test_split_double_fence_holds_backtick():
    assert split_code_spans("``a`b``") == [Segment("a`b", True)]


def test_split_strips_one_space_each_side():
    assert split_code_spans("`` `x` ``") == [Segment("`x`", True)]


def test_split_run_lengths_must_match():
    # A run of two backticks does not close a span opened by one, so the first backtick is literal.
    assert split_code_spans("`foo``bar``") == [Segment("`foo", False), Segment("bar", True)]


def test_plain_text_drops_backticks():
    assert plain_text(CNAME_STEP) == "Publish the three CNAMEs (<token>._domainkey.example.com CNAME <token>.dkim.amazonses.com)."


def test_html_code_element():
    assert str(inline_code(CNAME_STEP)) == "Publish the three CNAMEs (<code>&lt;token&gt;._domainkey.example.com CNAME &lt;token&gt;.dkim.amazonses.com</code>)."


def test_html_markup_outside_span_escaped():
    assert str(inline_code("<b>x</b> `<script>`")) == "&lt;b&gt;x&lt;/b&gt; <code>&lt;script&gt;</code>"


def test_markdown_span_kept_verbatim():
    assert rule_text(CNAME_STEP) == "Publish the three CNAMEs (`<token>._domainkey.example.com CNAME <token>.dkim.amazonses.com`)."


def test_markdown_text_outside_span_escaped():
    assert rule_text("a *b* `c*d`") == "a \\*b\\* `c*d`"


def test_markdown_backtick_value_longer_fence():
    assert rule_text("set ``a`b`` here") == "set ``a`b`` here"


def test_markdown_line_start_escaped():
    assert rule_text("1. step `x`") == "1\\. step `x`"


def test_markdown_summary_html():
    assert str(html_inline("Run `maildiag dns <x>` & retry")) == "Run <code>maildiag dns &lt;x&gt;</code> &amp; retry"


def test_terminal_no_backticks():
    text = rich_text(CNAME_STEP)
    assert text.plain == "Publish the three CNAMEs (<token>._domainkey.example.com CNAME <token>.dkim.amazonses.com)."


def test_terminal_span_styled():
    text = rich_text("run `dig TXT x`")
    assert [(span.start, span.end, str(span.style)) for span in text.spans] == [(4, 13, "bold")]


def test_terminal_markup_in_span_literal():
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=False, no_color=True, markup=False, width=100)
    console.print(rich_text("value `[bold red]x[/]` end"))
    assert stream.getvalue() == "value [bold red]x[/] end\n"
