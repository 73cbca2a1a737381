"""Markdown reporter: a GitHub job summary in which message values cannot change the layout."""

import io
import json
from pathlib import Path

import pytest

from diag.report import render
from diag.report.markdown import code_span, escape_inline, link, table_code

ROOT = Path(__file__).resolve().parent.parent


def load_sample(name: str) -> dict:
    return json.loads((ROOT / "samples" / "reports" / name).read_text(encoding="utf-8"))


def render_markdown(report: dict) -> str:
    stream = io.StringIO()
    render(report, "markdown", stream)
    return stream.getvalue()


def test_markdown_snapshot_key_lines():
    lines = render_markdown(load_sample("ses-default-microsoft.json")).splitlines()
    assert lines[0] == "## maildiag 0.1.0 analyze: 3 findings (2 errors, 1 warning) in 1 message, 1 input error"
    assert "### samples/headers/ses-default-microsoft.txt (headers only)" in lines
    assert "| Check | Result | Detail |" in lines
    assert "| SPF | `pass` | smtp.mailfrom=us-east-1.amazonses.com, not aligned with From example.com |" in lines
    assert "| compauth | `fail` | reason 001 (fail): Implicit authentication failure: the sending domain has no or weak authentication records |" in lines
    assert "| Microsoft SCL | `5` | Spam |" in lines
    assert "#### Findings (3)" in lines
    assert "**ERROR** `dkim-only-esp-signature` (MD101): Only the sending service signs the message" in lines
    assert "- `verdicts.spf_domain`: `us-east-1.amazonses.com`" in lines
    assert "1. In the SES console for us-east-1, open the identity example.com and enable Easy DKIM with 2048-bit keys." in lines
    assert "<details><summary>Checked and passed (2)</summary>" in lines
    assert "- `spf-fail` (MD130) SPF did not pass" in lines
    assert "- `samples/headers/missing.txt`: samples/headers/missing.txt: file not found" in lines


def test_markdown_details_closed():
    output = render_markdown(load_sample("ses-default-microsoft.json"))
    assert output.count("<details>") == output.count("</details>") == 3


def test_markdown_table_rows_keep_three_cells():
    output = render_markdown(load_sample("hostile-headers.json"))
    rows = [line for line in output.splitlines() if line.startswith("| ")]
    for row in rows:
        cells = row.replace("\\|", "").split("|")
        assert len(cells) == 5, row


def test_markdown_no_raw_html_from_values():
    output = render_markdown(load_sample("hostile-headers.json"))
    outside_code = [line for line in output.splitlines() if not line.startswith(("- `", "spf=", "```"))]
    for line in outside_code:
        assert "<script" not in line, line
        assert "<img" not in line, line


def test_markdown_trusted_line_fenced():
    output = render_markdown(load_sample("ses-default-microsoft.json"))
    assert "```text\nspf=pass (sender IP is 192.0.2.10) smtp.mailfrom=us-east-1.amazonses.com;" in output


def test_markdown_dns_report():
    lines = render_markdown(load_sample("dns-domain.json")).splitlines()
    assert lines[0] == "## maildiag 0.1.0 dns: 2 findings (1 error, 1 warning) in 1 domain"
    assert "### example.com" in lines
    assert not any("Trusted Authentication-Results" in line for line in lines)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a|b", "a\\|b"),
        ("*x* _y_", "\\*x\\* \\_y\\_"),
        ("[link](http://203.0.113.9/)", "\\[link\\](http://203.0.113.9/)"),
        ("<b>&", "&lt;b&gt;&amp;"),
        ("# heading", "\\# heading"),
        ("1. item", "1\\. item"),
        ("2) item", "2\\) item"),
        ("line\n</details>", "line &lt;/details&gt;"),
    ],
)
def test_markdown_escape_inline(value, expected):
    assert escape_inline(value) == expected


def test_markdown_code_span_with_backticks():
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x`") == "`` `x` ``"


def test_markdown_table_code_escapes_pipe():
    assert table_code("a|b") == "`a\\|b`"


def test_markdown_link_only_web_urls():
    assert link("RFC 7489", "https://www.rfc-editor.org/rfc/rfc7489") == "[RFC 7489](<https://www.rfc-editor.org/rfc/rfc7489>)"
    assert link("x", "javascript:alert(1)") == "x (javascript:alert(1))"
