"""Rules that did not run: one line per reason with the command to run instead, the full list with -v."""

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

from diag.report.outcomes import OutcomeView, group_not_run, missing_sources, not_applied_note

ROOT = Path(__file__).resolve().parent.parent
DEMO = "samples/headers/ses-to-m365-spoof.txt"
FULL_MESSAGE = "samples/verify/good.eml"
ANSI_ESCAPE = "\x1b["


def maildiag(*args: str, env: dict | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "diag", *args], capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def maildiag_on_terminal(*args: str, columns: int = 100, no_color: bool = True) -> str:
    """Run maildiag with its output on a pseudo-terminal of `columns` columns and return what it printed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    env["TERM"] = "xterm-256color"
    if no_color:
        env["NO_COLOR"] = "1"
    process = subprocess.Popen([sys.executable, "-m", "diag", *args], stdout=follower, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            # Linux raises EIO on the leader once the child has closed the terminal.
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_missing_sources_field():
    outcome = {"outcome": "not_applicable", "reason": "needs", "missing": ["message", "dns"], "detail": "worded otherwise"}
    assert missing_sources(outcome) == {"message", "dns"}


def test_missing_sources_applies_false():
    outcome = {"outcome": "not_applicable", "reason": "applies-false", "condition": "x is present", "detail": "needs dns facts"}
    assert missing_sources(outcome) == frozenset()


def test_not_applied_note_condition():
    outcome = {"outcome": "not_applicable", "reason": "applies-false", "condition": "content.bulk equals true"}
    assert not_applied_note(outcome) == "applies when content.bulk equals true"


def test_not_applied_note_deferred():
    outcome = {"outcome": "not_applicable", "reason": "deferred", "deferred_to": "forwarded-auth-broken"}
    assert not_applied_note(outcome) == "deferred to forwarded-auth-broken"


def test_terminal_dns_group_names_from_domain():
    assert "DNS record checks not run: the domain's DNS records were not looked up. Run maildiag dns example.com." in one_line(maildiag("analyze", "--offline", DEMO))


def test_terminal_ses_group_feedback_region():
    assert "SES account checks not run: they read the SES account through the AWS API. Run maildiag ses check --region eu-west-1." in one_line(maildiag("analyze", "--offline", DEMO))


def test_terminal_ses_group_other_sender():
    text = one_line(maildiag("analyze", "--offline", "samples/headers/esp-sendgrid-to-gmail.txt"))
    assert "SES account checks not run: the headers show no trace of Amazon SES." in text
    assert "maildiag ses check" not in text


def test_ses_group_named_service():
    entry = {"input": {"kind": "headers"}, "identities": {"esp": "sendgrid"}}
    outcome = {"outcome": "not_applicable", "missing": ["ses"]}
    [group] = group_not_run(entry, [(outcome, OutcomeView("ses-x", "SES1", "title"))])
    assert group.line == "1 SES account check not run: the headers show that SendGrid, not Amazon SES, sent this message."


def test_ses_group_paste_without_trace():
    entry = {"input": {"kind": "headers"}, "identities": {}}
    outcome = {"outcome": "not_applicable", "missing": ["ses"]}
    [group] = group_not_run(entry, [(outcome, OutcomeView("ses-x", "SES1", "title"))])
    assert "Run `maildiag ses check --region REGION` with the region you send from." in group.line


def test_terminal_headers_only_groups():
    text = one_line(maildiag("analyze", "--offline", DEMO))
    assert "verification checks not run: maildiag recomputes DKIM, SPF, DMARC and ARC only from a full message with DNS answers." in text
    assert "2 body checks not run: the input has headers only." in text


def test_terminal_offline_full_message_group():
    text = one_line(maildiag("analyze", "--offline", FULL_MESSAGE))
    assert "DNS checks not run: no DNS lookups were made (--offline without --zone or --replay). Run maildiag dns verify-shop.example.org to check the records, or drop --offline to verify the message." in text


def test_terminal_no_rule_lists_by_default():
    text = maildiag("analyze", "--offline", DEMO)
    assert "spf-record-missing" not in text
    assert "does not hold" not in text
    assert "needs dns facts" not in text


def test_terminal_verbose_lists_rules():
    text = maildiag("-v", "analyze", "--offline", DEMO)
    assert "    spf-record-missing (MD501) No SPF record at a domain that sends mail" in text.splitlines()
    assert "maildiag -v analyze ... lists them" not in text


def test_terminal_group_one_line_each():
    lines = maildiag("analyze", "--offline", DEMO).splitlines()
    start = lines.index(next(line for line in lines if line.startswith("Not run or not applicable (")))
    group_lines = [line for line in lines[start + 1:] if line.startswith("  ") and line[2].isdigit()]
    assert len(group_lines) == 5


def test_terminal_demo_width_100_on_tty():
    for line in maildiag_on_terminal("analyze", "--offline", DEMO).splitlines():
        assert len(line) <= 100, repr(line)


def test_terminal_no_color_tty_plain():
    output = maildiag_on_terminal("analyze", "--offline", DEMO, no_color=True)
    assert ANSI_ESCAPE not in output
    assert "What to change first" in output


def test_terminal_colour_tty_styled():
    assert ANSI_ESCAPE in maildiag_on_terminal("analyze", "--offline", DEMO, no_color=False)


def test_terminal_pipe_plain():
    env = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    env["TERM"] = "xterm-256color"
    assert ANSI_ESCAPE not in maildiag("analyze", "--offline", DEMO, env=env)


def test_markdown_groups_in_details():
    # Counts are matched by pattern, because rule files are added over time.
    text = maildiag("analyze", "--offline", "-f", "markdown", DEMO)
    summary = re.compile(r"<details><summary>\d+ DNS record checks not run: the domain&#39;s DNS records were not looked up\. Run <code>maildiag dns example\.com</code>\.</summary>")
    assert any(summary.fullmatch(line) for line in text.splitlines())
    assert "- `spf-record-missing` (MD501) No SPF record at a domain that sends mail" in text.splitlines()


def test_html_groups_collapsed():
    html = maildiag("analyze", "--offline", "-f", "html", DEMO)
    assert re.search(r'<details class="skipped">\n<summary>\d+ DNS record checks not run: the domain&#39;s DNS records were not looked up\. Run <code>maildiag dns example\.com</code>\.</summary>', html)
    assert '<details class="skipped" open>' not in html
