"""The RFC 7489 DMARC record parser, and its verdicts compared with checkdmarc's."""

import subprocess
import sys
from pathlib import Path

import pytest

from diag.dnscheck.dmarcrecord import parse_record, parse_uri

# Records on which RFC 7489 and checkdmarc 6.0.4 agree: (record, valid).
AGREED = [
    ("v=DMARC1; p=none", True),
    ("v=DMARC1;p=reject;pct=50", True),
    ("v=DMARC1; p=quarantine; rua=mailto:a@example.com,mailto:b@example.net!10m; ruf=mailto:f@example.com; fo=1:d; adkim=s; aspf=r; ri=3600; rf=afrf", True),
    ("v=DMARC1; p = reject ; rua = mailto:a@example.com ;", True),
    ("v=DMARC1; p=Reject", True),
    ("v=DMARC1; p=reject; np=reject", True),
    ("v=DMARC1; p=reject; foo=bar", True),
    ("v=DMARC1; sp=none; p=reject", True),
    ("v=DMARC1; p=block", False),
    ("v=DMARC1; p=reject; sp=maybe", False),
    ("v=DMARC1; p=reject; np=maybe", False),
    ("v=DMARC1; p=reject; fo=2", False),
    ("v=DMARC1; p=reject; rua=reports@example.com", False),
    ("v=DMARC1; p=reject; p=none", False),
    ("v=DMARC1; p=reject; junk", False),
]

# Records that break RFC 7489 but that checkdmarc 6.0.4 accepts, because it applies the
# RFC 9989 rules. Under them p is optional and pct, rf and ri are no longer defined. An
# invalid adkim or aspf falls back to the default, and a report URI's !size is ignored.
RFC_9989_ONLY = [
    "v=DMARC1; rua=mailto:a@example.com",
    "v=DMARC1; p=reject; pct=150",
    "v=DMARC1; p=reject; rf=iodef",
    "v=DMARC1; p=reject; ri=abc",
    "v=DMARC1; p=reject; adkim=x",
    "v=DMARC1; p=reject; rua=mailto:a@example.com!10x",
]


class _NoDNS:
    """A dnspython-style resolver for checkdmarc that returns NXDOMAIN without sending a query."""

    lifetime = 1.0

    def resolve(self, *args, **kwargs):
        import dns.resolver

        raise dns.resolver.NXDOMAIN()


def checkdmarc_valid(record: str) -> bool:
    import checkdmarc.dmarc
    import checkdmarc.utils

    # Its report-address checks query DNS. Every answer is NXDOMAIN, which checkdmarc
    # reports as a warning, so only the record's syntax decides.
    checkdmarc.utils.DNS_CACHE.clear()
    try:
        checkdmarc.dmarc.parse_dmarc_record(record, "example.com", resolver=_NoDNS(), retries=0, timeout=1.0)
    except checkdmarc.dmarc.DMARCError:
        return False
    return True


@pytest.mark.parametrize(("record", "valid"), AGREED)
def test_record_agrees_with_checkdmarc(record, valid):
    assert (not parse_record(record).errors) is valid
    assert checkdmarc_valid(record) is valid


@pytest.mark.parametrize("record", RFC_9989_ONLY)
def test_record_rfc7489_stricter(record):
    assert parse_record(record).errors
    assert checkdmarc_valid(record) is True


def test_record_unknown_tag_warns():
    parsed = parse_record("v=DMARC1; p=reject; x-unknown=1")
    assert parsed.errors == []
    assert any("x-unknown" in warning for warning in parsed.warnings)


def test_record_p_not_second_warns():
    parsed = parse_record("v=DMARC1; sp=none; p=reject")
    assert parsed.errors == []
    assert parsed.policy == "reject"
    assert parsed.subdomain_policy == "none"
    assert any("second tag" in warning for warning in parsed.warnings)


def test_record_invalid_uri_keeps_others():
    parsed = parse_record("v=DMARC1; p=none; rua=mailto:a@example.net,reports")
    assert [uri.host for uri in parsed.rua] == ["example.net"]
    assert "rua" not in parsed.valid
    assert len(parsed.errors) == 1


def test_uri_percent_encoded_address():
    uri = parse_uri("mailto:dmarc%2Breports@Example.NET!10m")
    assert uri.address == "dmarc+reports@example.net"
    assert uri.host == "example.net"
    assert uri.size_limit == "10m"


def test_uri_size_limit_too_large():
    with pytest.raises(ValueError, match="size limit"):
        parse_uri("mailto:a@example.com!18446744073709551616")


def test_uri_https_warns():
    parsed = parse_record("v=DMARC1; p=none; rua=https://example.com/dmarc")
    assert parsed.errors == []
    assert parsed.rua[0].host is None
    assert any("https" in warning for warning in parsed.warnings)


def test_record_defaults():
    parsed = parse_record("v=DMARC1; p=quarantine")
    assert parsed.percent == 100
    assert parsed.subdomain_policy == "quarantine"


def test_dmarc_check_skips_checkdmarc():
    code = (
        "import sys\n"
        "from diag.dnscheck.dmarc import check_dmarc\n"
        "from tests.test_dnscheck_memory import MemoryResolver\n"
        "resolver = MemoryResolver().add('_dmarc.example.com', 'TXT', 'v=DMARC1; p=none; rua=mailto:a@example.net')\n"
        "assert check_dmarc(resolver, 'example.com')['status'] == 'ok'\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'checkdmarc'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
