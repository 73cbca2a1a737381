"""dmarc-record-missing against Knot: publishing its suggested record exactly leaves no DMARC
finding, even when the expectations file sets min_dmarc_policy."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "customer-fixed.example.org"
EXPECT = str(ROOT / "samples" / "expectations" / "customer-fixed.toml")

pytestmark = pytest.mark.dns


def check(server) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "diag", "dns", DOMAIN, "--expect", EXPECT, "--nameserver", server.address, "--timeout", "1", "-f", "json"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    return json.loads(done.stdout)["messages"][0]


def outcome(message: dict, name: str) -> str:
    return next(item["outcome"] for item in message["outcomes"] if item["name"] == name)


@pytest.fixture
def no_dmarc(knot_fresh):
    # Remove the record of the domain and of its organisational domain (RFC 7489 section 6.6.3).
    knot_fresh.update(DOMAIN, delete=[(f"_dmarc.{DOMAIN}.", "TXT")])
    knot_fresh.update("example.org", delete=[("_dmarc.example.org.", "TXT")])
    return knot_fresh


def test_missing_suggests_min_policy(no_dmarc):
    message = check(no_dmarc)
    fix = next(item for item in message["findings"] if item["name"] == "dmarc-record-missing")["fix"]

    assert fix[0] == f'Publish: _dmarc.{DOMAIN}. TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@{DOMAIN}"'
    assert "starts at p=quarantine, because" in fix[1]


def test_missing_fix_applied_passes(no_dmarc):
    fix = next(item for item in check(no_dmarc)["findings"] if item["name"] == "dmarc-record-missing")["fix"]
    name, value = fix[0].removeprefix("Publish: ").split(" TXT ", 1)
    no_dmarc.update(DOMAIN, add=[(name, 300, "TXT", value)])

    message = check(no_dmarc)

    assert outcome(message, "dmarc-record-missing") == "pass"
    assert outcome(message, "dmarc-record-policy-weak") == "pass"
    assert message["findings"] == []
