"""The one SPF record suggested in place of several (RFC 7208 section 4.5), on its own and
end to end against Knot: the all term kept, redirect turned into include, the lookup count."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from diag.dnscheck.spf import check_spf
from diag.dnscheck.spfmerge import merge_records
from tests.test_dnscheck_memory import MemoryResolver

ROOT = Path(__file__).resolve().parent.parent
BROKEN = "customer-broken.example.org"
BROKEN_EXPECT = str(ROOT / "samples" / "expectations" / "customer-broken.toml")


def test_merge_strictest_all():
    merged = merge_records(["v=spf1 ip4:192.0.2.1 -all", "v=spf1 ip4:192.0.2.2 ?all"])
    assert merged.record == "v=spf1 ip4:192.0.2.1 ip4:192.0.2.2 -all"
    assert "?all of the other records is dropped" in merged.notes[0]


def test_merge_strictest_all_order():
    merged = merge_records(["v=spf1 mx ~all", "v=spf1 ip4:192.0.2.0/24 -all"])
    assert merged.all_term == "-all"
    assert merged.notes[0].startswith("The merged record ends in -all, taken from record 2")


def test_merge_softfail_kept():
    merged = merge_records(["v=spf1 mx ~all", "v=spf1 ip4:192.0.2.0/24 +all"])
    assert merged.all_term == "~all"


def test_merge_never_neutral():
    merged = merge_records(["v=spf1 mx ?all", "v=spf1 ip4:192.0.2.0/24 ?all"])
    assert merged.all_term == "~all"
    assert "only ?all" in merged.notes[0]


def test_merge_redirect_to_include():
    merged = merge_records(["v=spf1 mx include:amazonses.com -all", "v=spf1 redirect=_spf.example.com"])
    assert merged.record == "v=spf1 mx include:amazonses.com include:_spf.example.com -all"
    assert "redirect=_spf.example.com of record 2 becomes include:_spf.example.com" in merged.notes[1]


def test_merge_redirect_with_all_dropped():
    merged = merge_records(["v=spf1 mx -all", "v=spf1 redirect=_spf.example.com ~all"])
    assert "_spf.example.com" not in merged.record
    assert "receivers ignore redirect" in merged.notes[1]


def test_merge_duplicate_terms_once():
    merged = merge_records(["v=spf1 +mx include:amazonses.com ~all", "v=spf1 mx INCLUDE:amazonses.com ~all"])
    assert merged.record == "v=spf1 +mx include:amazonses.com ~all"


def test_merged_lookups_over_limit():
    resolver = MemoryResolver().add("amazonses.com", "TXT", "v=spf1 ip4:199.255.192.0/22 -all")
    for number in range(1, 11):
        resolver.add(f"s{number}.example.net", "TXT", f"v=spf1 ip4:192.0.2.{number} -all")
    first = "v=spf1 " + " ".join(f"include:s{number}.example.net" for number in range(1, 6)) + " -all"
    second = "v=spf1 " + " ".join(f"include:s{number}.example.net" for number in range(6, 11)) + " ~all"
    resolver.add("example.com", "TXT", first, second)

    fact = check_spf(resolver, "example.com", "from", ("amazonses.com",))

    assert fact["suggested_lookups"] == 11
    assert "needs 11 DNS lookups (limit 10)" in fact["merge_notes"][-1]


def test_merged_lookups_within_limit():
    resolver = MemoryResolver().add("amazonses.com", "TXT", "v=spf1 ip4:199.255.192.0/22 -all")
    resolver.add("example.com", "TXT", "v=spf1 ip4:192.0.2.1 -all", "v=spf1 include:amazonses.com ~all")

    fact = check_spf(resolver, "example.com", "from", ("amazonses.com",))

    assert fact["suggested_lookups"] == 1
    assert fact["merge_notes"][-1] == "The merged record needs 1 of the 10 DNS lookups allowed."


def run(server, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "diag", "dns", BROKEN, "--expect", BROKEN_EXPECT, "--nameserver", server.address, "--timeout", "1", "-f", "json", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    return json.loads(done.stdout)["messages"][0]


def outcome(message: dict, name: str) -> str:
    return next(item["outcome"] for item in message["outcomes"] if item["name"] == name)


def finding(message: dict, name: str) -> dict:
    return next(item for item in message["findings"] if item["name"] == name)


def publish(server, *records: str) -> None:
    server.update(BROKEN, delete=[(BROKEN + ".", "TXT")], add=[(BROKEN + ".", 300, "TXT", f'"{record}"') for record in records])


@pytest.mark.dns
def test_merge_neutral_fixed_knot(knot_fresh):
    publish(knot_fresh, "v=spf1 mx include:amazonses.com -all", "v=spf1 ip4:192.0.2.0/24 ?all")
    fix = finding(run(knot_fresh), "spf-record-multiple")["fix"]
    # Knot returns the two records in either order, so the merged terms may come in either.
    suggested = fix[0].split(' TXT "', 1)[1].rstrip('"')
    assert sorted(suggested.split()) == sorted(["v=spf1", "mx", "include:amazonses.com", "ip4:192.0.2.0/24", "-all"])
    assert suggested.endswith(" -all")
    assert "ends in -all" in fix[1]

    publish(knot_fresh, suggested)
    repaired = run(knot_fresh)
    assert outcome(repaired, "spf-record-multiple") == "pass"
    assert outcome(repaired, "spf-record-neutral-all") == "pass"


@pytest.mark.dns
def test_merge_redirect_knot(knot_fresh):
    knot_fresh.update(BROKEN, add=[(f"_spf.{BROKEN}.", 300, "TXT", '"v=spf1 ip4:198.51.100.0/24 -all"')])
    publish(knot_fresh, "v=spf1 mx include:amazonses.com -all", f"v=spf1 redirect=_spf.{BROKEN}")

    result = finding(run(knot_fresh), "spf-record-multiple")

    suggested = result["fix"][0].split(' TXT "', 1)[1].rstrip('"')
    assert sorted(suggested.split()) == sorted(["v=spf1", "mx", "include:amazonses.com", f"include:_spf.{BROKEN}", "-all"])
    assert suggested.endswith(" -all")
    assert "needs 3 of the 10 DNS lookups allowed" in result["fix"][1]
