"""`maildiag dns` as a CI gate against Knot on loopback: expectations for another domain,
unreadable input, IP addresses as DOMAIN, and how a DNS outage reads (exit 3)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from diag.dnscheck.expectations import load_expectations
from diag.dnscheck.names import to_ascii_domain
from diag.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
BROKEN = "customer-broken.example.org"
FIXED = "customer-fixed.example.org"
BROKEN_EXPECT = ROOT / "samples" / "expectations" / "customer-broken.toml"
FIXED_EXPECT = ROOT / "samples" / "expectations" / "customer-fixed.toml"

pytestmark = pytest.mark.dns


def maildiag(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diag", "dns", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def live(server, *args: str) -> subprocess.CompletedProcess:
    return maildiag("--nameserver", server.address, "--timeout", "1", *args)


def messages(done: subprocess.CompletedProcess) -> dict:
    return {message["source"]["path"]: message for message in json.loads(done.stdout)["messages"]}


def test_expect_other_domain_exit_2(knot):
    done = live(knot, BROKEN, "--expect", str(FIXED_EXPECT), "-f", "json")

    assert done.returncode == 2, done.stdout
    assert FIXED in done.stderr
    assert BROKEN in done.stderr
    assert done.stdout == ""


def test_expect_no_domain_applies(knot, tmp_path):
    # The broken zone's MAIL FROM MX names us-west-2; only the expectations require us-east-1.
    expect = tmp_path / "fleet.toml"
    expect.write_text('region = "us-east-1"\nmail_from_domain = "bounce.customer-broken.example.org"\n')

    done = live(knot, BROKEN, "--expect", str(expect), "-f", "json")

    assert done.returncode == 1, done.stderr
    names = {finding["name"] for finding in messages(done)[BROKEN]["findings"]}
    assert "dns-mail-from-mx" in names


def test_expect_list_own_domain_only(knot, tmp_path):
    listing = tmp_path / "domains.txt"
    listing.write_text(f"{BROKEN}\n{FIXED}\n")

    done = live(knot, f"@{listing}", "--expect", str(BROKEN_EXPECT), "-f", "json")

    assert done.returncode == 1, done.stderr
    assert f"describes {BROKEN}, so it applies to that domain only" in done.stderr
    by_domain = messages(done)
    assert by_domain[BROKEN]["dns"]["expectations"]["source"] == str(BROKEN_EXPECT)
    assert by_domain[FIXED]["dns"]["expectations"]["source"] is None


def test_expect_list_without_its_domain_exit_2(knot, tmp_path):
    listing = tmp_path / "domains.txt"
    listing.write_text(f"{BROKEN}\ncustomer-partial.example.org\n")

    done = live(knot, f"@{listing}", "--expect", str(FIXED_EXPECT))

    assert done.returncode == 2
    assert f"describes {FIXED}, but {BROKEN}, customer-partial.example.org are checked" in done.stderr


def test_expect_not_utf8_exit_2(knot, tmp_path):
    expect = tmp_path / "bin.toml"
    expect.write_bytes(b"\x0f\x25\xb2\x44\xdf\xee domain")

    done = live(knot, BROKEN, "--expect", str(expect))

    assert done.returncode == 2
    assert "not UTF-8" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_expect_not_utf8_error(tmp_path):
    expect = tmp_path / "latin1.toml"
    expect.write_bytes('domain = "bücher.example.com"\n'.encode("latin-1"))

    with pytest.raises(InputError, match="byte 0xfc at offset 11"):
        load_expectations(expect)


def test_domain_list_not_utf8_exit_2(knot, tmp_path):
    listing = tmp_path / "domains.txt"
    listing.write_bytes(b"b\xfccher.example.com\n")

    done = live(knot, f"@{listing}")

    assert done.returncode == 2
    assert "not UTF-8" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("address", ["127.0.0.1", "[::1]", "::1", "192.0.2.1."])
def test_domain_ip_address_exit_2(knot, address):
    done = live(knot, address)

    assert done.returncode == 2
    assert "is an IP address, not a domain name" in done.stderr


@pytest.mark.parametrize("address", ["127.0.0.1", "[::1]", "2001:db8::1"])
def test_domain_ip_address_error(address):
    with pytest.raises(InputError, match="IP address"):
        to_ascii_domain(address)


def test_domain_numeric_tld_error():
    with pytest.raises(InputError, match="all-numeric label '4'"):
        to_ascii_domain("1.2.3.4.5.6.7.8.9.4")


def test_outage_headline_could_not_check(knot_fresh):
    knot_fresh.stop()

    done = maildiag(BROKEN, "--expect", str(BROKEN_EXPECT), "--nameserver", knot_fresh.address, "--timeout", "0.2")

    assert done.returncode == 3, done.stdout + done.stderr
    headline = done.stdout.splitlines()[0]
    assert "could not check: 10 lookups failed (timeout) in 1 domain" in headline
    assert "no findings" not in headline


def test_wait_progress_names_outage(knot_fresh):
    knot_fresh.stop()

    done = maildiag(BROKEN, "--expect", str(BROKEN_EXPECT), "--nameserver", knot_fresh.address, "--timeout", "0.1", "--wait", "4s", "-f", "json")

    assert done.returncode == 3, done.stderr
    progress = done.stderr.splitlines()[0]
    assert "17 checks could not run (DNS timeout)" in progress
    assert "still failing" not in progress


def test_wait_progress_failing_apart(knot):
    done = live(knot, BROKEN, "--expect", str(BROKEN_EXPECT), "--wait", "3s", "-f", "json")

    progress = done.stderr.splitlines()[0]
    assert progress.startswith("maildiag: check 1: 5 still failing (customer-broken.example.org:spf-record-multiple,")
    assert "could not run" not in progress
