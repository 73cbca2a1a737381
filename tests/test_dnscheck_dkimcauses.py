"""Easy DKIM findings against Knot: the generic "CNAME missing" finding steps aside for a
token that a specific rule explains (a TXT in its place, a doubled name), and names the
broken token in its dig command."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXPECTATIONS = ROOT / "samples" / "expectations"
MISSING_TOKEN = "mh2w5xcfoq6jvkzdlbpnu3y7te4sagri"

pytestmark = pytest.mark.dns


def maildiag(server, domain: str, *args: str) -> subprocess.CompletedProcess:
    expect = EXPECTATIONS / f"{domain.split('.')[0]}.toml"
    return subprocess.run(
        [sys.executable, "-m", "diag", "dns", domain, "--expect", str(expect), "--nameserver", server.address, "--timeout", "1", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )


def findings(done: subprocess.CompletedProcess) -> dict:
    return {item["name"]: item for item in json.loads(done.stdout)["messages"][0]["findings"]}


def test_missing_token_dig_names_it(knot):
    result = findings(maildiag(knot, "customer-partial.example.org", "-f", "json"))["ses-dkim-cnames-missing"]

    assert result["fix"][-1] == f"Check with: dig CNAME {MISSING_TOKEN}._domainkey.customer-partial.example.org"
    assert "4ra7bzv3ngtl3qkp6ysxgbjzwdg2jdvr" not in result["fix"][-1]


def test_missing_token_message_names_it(knot):
    result = findings(maildiag(knot, "customer-partial.example.org", "-f", "json"))["ses-dkim-cnames-missing"]

    assert result["message"].startswith(f"{MISSING_TOKEN}._domainkey.customer-partial.example.org has no CNAME; 2 of the 3")


def test_missing_token_dig_lists_each(knot_fresh):
    domain = "customer-partial.example.org"
    knot_fresh.update(domain, delete=[(f"q7lxk3fvw2ejrbnz6cdmto5hpysgiua4._domainkey.{domain}.", "CNAME")])

    result = findings(maildiag(knot_fresh, domain, "-f", "json"))["ses-dkim-cnames-missing"]

    assert f"dig CNAME {MISSING_TOKEN}._domainkey.{domain};" in result["fix"][-1]
    assert f"dig CNAME q7lxk3fvw2ejrbnz6cdmto5hpysgiua4._domainkey.{domain}" in result["fix"][-1]


def test_specific_causes_replace_generic(knot):
    # One token is a TXT copy, one has the zone name twice: both have their own rule.
    names = findings(maildiag(knot, "customer-broken.example.org", "-f", "json"))

    assert "ses-dkim-txt-not-cname" in names
    assert "dns-name-doubled" in names
    assert "ses-dkim-cnames-missing" not in names


def test_generic_only_for_unexplained(knot_fresh):
    domain = "customer-broken.example.org"
    knot_fresh.update(domain, delete=[(f"4ra7bzv3ngtl3qkp6ysxgbjzwdg2jdvr._domainkey.{domain}.", "CNAME")])

    names = findings(maildiag(knot_fresh, domain, "-f", "json"))

    generic = names["ses-dkim-cnames-missing"]
    assert [item["token"] for item in generic["evidence"][0]["value"]] == ["4ra7bzv3ngtl3qkp6ysxgbjzwdg2jdvr"]
    assert MISSING_TOKEN not in generic["fix"][0]
    assert "ses-dkim-txt-not-cname" in names


def test_change_first_shows_specific(knot):
    text = " ".join(maildiag(knot, "customer-broken.example.org").stdout.split())
    changes = text.split("What to change first", 1)[1].split("customer-broken.example.org ─", 1)[0]

    assert "ses-dkim-txt-not-cname: Delete the TXT record" in changes
    assert "dns-name-doubled: Delete" in changes
    assert "ses-dkim-cnames-missing" not in changes
