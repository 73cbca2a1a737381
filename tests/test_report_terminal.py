"""Terminal reporter: plain text off a terminal, colour only on one, untrusted values shown literally."""

import io
import json
from pathlib import Path

import pytest

from diag.report import render

ROOT = Path(__file__).resolve().parent.parent
ANSI_ESCAPE = "\x1b["


def load_sample(name: str) -> dict:
    return json.loads((ROOT / "samples" / "reports" / name).read_text(encoding="utf-8"))


class TerminalStream(io.StringIO):
    """A text buffer that reports itself as a terminal, as sys.stdout does in an interactive shell."""

    def isatty(self) -> bool:
        return True


def render_terminal(report: dict, stream: io.StringIO | None = None) -> str:
    stream = stream if stream is not None else io.StringIO()
    render(report, "terminal", stream)
    return stream.getvalue()


@pytest.fixture
def no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("FORCE_COLOR", raising=False)


@pytest.fixture
def colour_allowed(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


def test_terminal_snapshot_key_lines(no_color):
    lines = render_terminal(load_sample("ses-default-microsoft.json")).splitlines()
    assert lines[0] == "maildiag 0.1.0 analyze: 3 findings (2 errors, 1 warning) in 1 message, 1 input error"
    assert lines[2] == "What to change first"
    title = next(index for index, line in enumerate(lines) if line.startswith("samples/headers/ses-default-microsoft.txt (headers only) "))
    assert lines[title + 1].startswith("Trusted Authentication-Results from Microsoft 365 (header field 4 from the top;")
    assert "SPF             pass     smtp.mailfrom=us-east-1.amazonses.com, not aligned with From example.com" in lines
    assert "DMARC           fail     p=none, action=none, header.from=example.com" in lines
    assert "Microsoft SCL   5        Spam" in lines
    assert "Microsoft BCL   0        Not from a bulk sender" in lines
    assert "Findings (3)" in lines
    assert "  ERROR   dkim-only-esp-signature (MD101) Only the sending service signs the message" in lines
    assert "  WARNING spf-not-aligned (MD131) SPF passes for a domain that does not align with From" in lines
    assert "Checked and passed (2): spf-fail, arc-broken" in lines
    assert "Could not check, a lookup failed temporarily; retry later (1): received-no-tls" in lines
    assert "Not run or not applicable (1; maildiag -v analyze ... lists them):" in lines
    assert "  1 other check did not apply: the message has none of the facts they judge." in lines
    assert "  line 7: unfolded: joined a continuation line that the paste had split" in lines
    assert lines[-1] == "samples/headers/missing.txt: file not found"


def test_terminal_dkim_row_names_domain(no_color):
    output = render_terminal(load_sample("ses-default-microsoft.json"))
    assert "DKIM            pass     d=amazonses.com, s=ug7nbtf4gccmlpwj322ax3p6ow6yfsug, not aligned with From," in output


def test_terminal_compauth_reason_decoded(no_color):
    output = render_terminal(load_sample("ses-default-microsoft.json"))
    assert "compauth        fail     reason 001 (fail): Implicit authentication failure" in output


def test_terminal_finding_evidence_and_fix(no_color):
    lines = render_terminal(load_sample("ses-default-microsoft.json")).splitlines()
    assert "            verdicts.spf_domain  us-east-1.amazonses.com" in lines
    assert "            1. In the SES console for us-east-1, open the identity example.com and enable Easy DKIM" in lines
    assert "               with 2048-bit keys." in lines


def test_terminal_errors_sorted_first(no_color):
    output = render_terminal(load_sample("ses-default-microsoft.json"))
    assert output.index("ERROR   compauth-fail") < output.index("WARNING spf-not-aligned")


def test_terminal_no_trailing_spaces(no_color):
    for line in render_terminal(load_sample("ses-default-microsoft.json")).splitlines():
        assert line == line.rstrip(), repr(line)


def test_terminal_width_at_most_100(no_color):
    for line in render_terminal(load_sample("hostile-headers.json")).splitlines():
        assert len(line) <= 100, repr(line)


def test_terminal_plain_when_not_a_tty(colour_allowed):
    assert ANSI_ESCAPE not in render_terminal(load_sample("ses-default-microsoft.json"))


def test_terminal_no_color_on_tty(no_color):
    output = render_terminal(load_sample("ses-default-microsoft.json"), TerminalStream())
    assert ANSI_ESCAPE not in output
    assert "ERROR   dkim-only-esp-signature" in output


def test_terminal_colour_on_tty(colour_allowed):
    output = render_terminal(load_sample("ses-default-microsoft.json"), TerminalStream())
    assert ANSI_ESCAPE in output


def test_terminal_markup_shown_literally(no_color):
    output = render_terminal(load_sample("hostile-headers.json"))
    assert "[bold red]News[/]" in output


def test_terminal_escape_byte_made_visible(colour_allowed):
    output = render_terminal(load_sample("hostile-headers.json"), TerminalStream())
    assert "\\x1b[31m" in output
    assert "\x1b[31m|" not in output


def test_terminal_missing_trust_explained(no_color):
    report = load_sample("ses-default-microsoft.json")
    del report["messages"][0]["auth"]
    output = render_terminal(report)
    assert "No trusted Authentication-Results field" in output


def test_terminal_dns_report(no_color):
    lines = render_terminal(load_sample("dns-domain.json")).splitlines()
    assert lines[0] == "maildiag 0.1.0 dns: 2 findings (1 error, 1 warning) in 1 domain"
    assert any(line.startswith("example.com ─") for line in lines)
    assert "SPF      ok       example.com: \"v=spf1 include:amazonses.com ~all\"" in lines
    assert "  ERROR   ses-dkim-cnames-missing (MD301) Easy DKIM CNAME records are missing" in lines
    assert not any(line.startswith("Trusted Authentication-Results") for line in lines)


def test_terminal_clean_report(no_color):
    report = load_sample("ses-default-microsoft.json")
    message = report["messages"][0]
    message["findings"] = []
    message["outcomes"] = [dict(outcome, outcome="pass") for outcome in message["outcomes"]]
    report["errors"] = []
    lines = render_terminal(report).splitlines()
    assert lines[0] == "maildiag 0.1.0 analyze: no findings in 1 message"
    assert "No findings." in lines
