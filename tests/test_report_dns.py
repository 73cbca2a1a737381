"""The DNS summary of `maildiag dns` reports, on the bundled zones."""

import json
import subprocess
import sys
from pathlib import Path

from diag.report.dnsview import names_outside_zones

ROOT = Path(__file__).resolve().parent.parent
ZONES = [argument for path in sorted((ROOT / "samples" / "zones").glob("*.zone")) for argument in ("--zone", str(path))]
BROKEN = ["customer-broken.example.org", "--expect", str(ROOT / "samples" / "expectations" / "customer-broken.toml"), *ZONES]


def report(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "diag", "dns", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 1, done.stderr
    return done.stdout


def test_terminal_no_authentication_results_note():
    assert "Authentication-Results" not in report(*BROKEN)


def test_terminal_dns_rows():
    lines = report(*BROKEN).splitlines()
    assert any(line.startswith("SPF ") and "multiple" in line for line in lines)
    assert any(line.startswith("Easy DKIM") and "doubled" in line for line in lines)
    assert any(line.startswith("MX, MAIL FROM") and "mismatch" in line for line in lines)
    assert "SPF include tree of bounce.customer-broken.example.org:" in lines


def test_terminal_headline_counts_domains():
    assert report(*BROKEN).splitlines()[0].endswith("in 1 domain")


def test_terminal_header_rules_collapsed():
    text = report(*BROKEN)
    assert "dkim-only-esp-signature" not in text
    assert "message checks not run: they read a received message's headers or body." in " ".join(text.split())


def test_terminal_ses_group_region_from_expectations():
    text = " ".join(report(*BROKEN).split())
    assert "SES account checks not run: they read the SES account through the AWS API. Run maildiag ses check --region us-east-1." in text


def test_evidence_dig_line():
    # The terminal report wraps at 100 columns; compare with the line breaks removed.
    text = " ".join(report(*BROKEN).split())
    assert "dns.mail_from.query bounce.customer-broken.example.org MX ok: 10 feedback-smtp.us-west-2.amazonses.com. (ttl 300" in text


def test_markdown_dns_table():
    text = report(*BROKEN, "-f", "markdown")
    assert "| Record | Result | Detail |" in text
    assert "| SPF | `multiple` |" in text


def test_sarif_location_expectations_file():
    results = json.loads(report(*BROKEN, "-f", "sarif"))["runs"][0]["results"]
    uris = {result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for result in results}
    assert uris == {(ROOT / "samples" / "expectations" / "customer-broken.toml").as_uri()}


def test_names_outside_zones_only_when_all():
    outside = {"name": "amazonses.com", "type": "TXT", "status": "refused", "detail": "no zone file covers amazonses.com; add one with --zone"}
    timeout = {"name": "example.org", "type": "TXT", "status": "timeout", "detail": None}
    assert names_outside_zones([outside]) == ["amazonses.com"]
    assert names_outside_zones([outside, timeout]) == []
    assert names_outside_zones([]) == []
