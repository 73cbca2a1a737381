"""spf-lookups-exceeded: a message per limit, and a fix that names the terms that cost the
lookups (RFC 7208 section 4.6.4), on samples/zones/customer-lookups.example.org.zone in Knot."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from diag.dnscheck.spf import check_spf
from tests.test_dnscheck_memory import MemoryResolver

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "customer-lookups.example.org"
EXPECT = str(ROOT / "samples" / "expectations" / "customer-lookups.toml")


def lookups_finding(server) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "diag", "dns", DOMAIN, "--expect", EXPECT, "--nameserver", server.address, "--timeout", "1", "-f", "json"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert done.returncode == 1, done.stderr
    return next(item for item in json.loads(done.stdout)["messages"][0]["findings"] if item["name"] == "spf-lookups-exceeded")


@pytest.mark.dns
def test_lookups_message_one_limit(knot):
    message = lookups_finding(knot)["message"]

    assert "takes 11 DNS-querying terms, over the limit of 10" in message
    assert "void" not in message


@pytest.mark.dns
def test_lookups_fix_names_void_terms(knot):
    fix = lookups_finding(knot)["fix"]

    assert f"a (in {DOMAIN}), a:h1.{DOMAIN} (in {DOMAIN})" in fix[0]


@pytest.mark.dns
def test_lookups_fix_names_repeated_mx(knot):
    fix = lookups_finding(knot)["fix"]

    assert f"mx for {DOMAIN} is evaluated 2 times (mx in {DOMAIN}, mx:{DOMAIN} in _spf-tickets.{DOMAIN})" in fix[0]


@pytest.mark.dns
def test_lookups_fix_costs(knot):
    fix = lookups_finding(knot)["fix"]

    assert "Save at least 1 lookup" in fix[0]
    assert f"include:_spf-crm.{DOMAIN} (4 lookups); include:_spf-tickets.{DOMAIN} (3 lookups)" in fix[0]
    assert "mx (1 lookup, plus 1 address lookup for its MX host)" in fix[1]
    assert "include:amazonses.com (1 lookup)" in fix[1]


@pytest.mark.dns
def test_lookups_keep_amazonses(knot):
    fix = lookups_finding(knot)["fix"]

    assert "include:amazonses.com" not in fix[0]


def test_void_only_message():
    resolver = MemoryResolver().add("amazonses.com", "TXT", "v=spf1 ip4:199.255.192.0/22 -all")
    resolver.add("example.com", "TXT", "v=spf1 a:nx1.example.com a:nx2.example.com a:nx3.example.com include:amazonses.com ~all")

    fact = check_spf(resolver, "example.com", "from", ("amazonses.com",))

    assert fact["void_exceeded"] is True
    assert fact["lookups_exceeded"] is False
    assert fact["lookup_advice"][0].startswith("Remove the terms whose lookup finds no records: a:nx1.example.com (in example.com)")


def test_void_only_rule_message():
    from diag.engine.evaluate import evaluate
    from diag.engine.loader import load_rules

    resolver = MemoryResolver().add("amazonses.com", "TXT", "v=spf1 ip4:199.255.192.0/22 -all")
    resolver.add("example.com", "TXT", "v=spf1 a:nx1.example.com a:nx2.example.com a:nx3.example.com include:amazonses.com ~all")
    facts = {"source": {"path": "example.com", "index": 0}, "dns": {"domain": "example.com", "spf": [check_spf(resolver, "example.com", "from", ("amazonses.com",))]}}
    rules = [rule for rule in load_rules([]) if rule.name == "spf-lookups-exceeded"]

    message = evaluate(rules, facts)[0]["message"]

    assert "meets 3 void lookups, over the limit of 2" in message
    assert "(it takes 4 of the 10 DNS-querying terms allowed)" in message
