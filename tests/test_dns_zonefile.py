"""ZoneResolver over the sample zones, checked on its own and against Knot serving the same files."""

import dataclasses
from pathlib import Path

import pytest

from diag.dns import resolver as status
from diag.dns.live import LiveResolver
from diag.dns.zonefile import ZoneResolver
from diag.errors import InputError

ZONES = Path(__file__).resolve().parents[1] / "samples" / "zones"
ALL_ZONES = sorted(str(path) for path in ZONES.glob("*.zone"))
DKIM_TOKEN = "4ra7bzv3ngtl3qkp6ysxgbjzwdg2jdvr"

# Questions whose answers Knot (with cross-zone CNAMEs followed by LiveResolver) and the
# zone files must agree on.
QUESTIONS = [
    ("example.com", "TXT"),
    ("example.com", "MX"),
    ("split.example.com", "TXT"),
    ("long.example.com", "TXT"),
    ("nope.example.com", "TXT"),
    ("_dmarc.example.com", "A"),
    ("_domainkey.example.com", "TXT"),
    ("www.example.com", "A"),
    ("www.example.com", "CNAME"),
    ("chain.example.com", "TXT"),
    ("loop-a.example.com", "A"),
    ("self.example.com", "A"),
    ("dangling.example.com", "A"),
    (f"{DKIM_TOKEN}._domainkey.example.com", "TXT"),
    ("example.org", "TXT"),
    ("anything.wild.example.org", "TXT"),
    ("a.b.wild.example.org", "TXT"),
    ("host.wild.example.org", "TXT"),
    ("wild.example.org", "TXT"),
    ("amazonses.com", "TXT"),
]


@pytest.fixture(scope="module")
def zones():
    return ZoneResolver(ALL_ZONES)


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_txt_found(zones):
    answer = zones.query("example.com", "TXT")
    assert answer.status == status.OK
    assert answer.records == ("v=spf1 include:amazonses.com -all",)
    assert answer.ttl == 300
    assert answer.server == f"zone:{ZONES / 'example.com.zone'}"


def test_txt_split_strings_joined(zones):
    assert zones.query("split.example.com", "TXT").records == ("v=spf1 ip4:192.0.2.0/24 include:amazonses.com -all",)


def test_nxdomain(zones):
    answer = zones.query("nope.example.com", "TXT")
    assert answer.status == status.NXDOMAIN
    assert answer.ttl == 300


def test_nodata(zones):
    assert zones.query("_dmarc.example.com", "A").status == status.NODATA


def test_empty_non_terminal_nodata(zones):
    assert zones.query("_domainkey.example.com", "TXT").status == status.NODATA


def test_origin_from_file_name(zones):
    # example.org.zone has no $ORIGIN line.
    answer = zones.query("_dmarc.example.org", "TXT")
    assert answer.records == ("v=DMARC1; p=none",)


def test_two_spf_records(zones):
    assert len(zones.query("example.org", "TXT").records) == 2


def test_wildcard_synthesised(zones):
    answer = zones.query("anything.wild.example.org", "TXT")
    assert answer.status == status.OK
    assert answer.records == ("wildcard answer",)
    assert answer.name == "anything.wild.example.org"


def test_wildcard_below_missing_name(zones):
    # RFC 4592 section 3.3.1: the closest encloser is wild.example.org, so *.wild applies.
    assert zones.query("a.b.wild.example.org", "TXT").records == ("wildcard answer",)


def test_wildcard_blocked_by_existing_name(zones):
    # host.wild.example.org exists (it has an A record), so the wildcard does not apply.
    assert zones.query("host.wild.example.org", "TXT").status == status.NODATA


def test_wildcard_parent_is_nodata(zones):
    assert zones.query("wild.example.org", "TXT").status == status.NODATA


def test_cname_followed_across_files(zones):
    answer = zones.query("www.example.com", "A")
    assert answer.records == ("192.0.2.80",)
    assert answer.cname_chain == ("www.example.net",)
    assert answer.server == f"zone:{ZONES / 'example.net.zone'}"


def test_cname_loop(zones):
    answer = zones.query("loop-a.example.com", "A")
    assert answer.status == status.SERVFAIL
    assert answer.detail == "CNAME loop at loop-a.example.com"


def test_cname_target_outside_zones(zones):
    answer = zones.query("elsewhere.example.com", "A")
    assert answer.status == status.REFUSED
    assert answer.cname_chain == ("mail.example.invalid",)
    assert answer.detail == "no zone file covers mail.example.invalid; add one with --zone"


def test_name_outside_zones_refused(zones):
    answer = zones.query("example.edu", "TXT")
    assert answer.status == status.REFUSED
    assert answer.temporary
    assert answer.detail == "no zone file covers example.edu; add one with --zone"


def test_fallback_for_other_zones():
    fallback = ZoneResolver([str(ZONES / "example.net.zone")])
    zones = ZoneResolver([str(ZONES / "example.com.zone")], fallback=fallback)
    answer = zones.query("www.example.com", "A")
    assert answer.records == ("192.0.2.80",)
    assert answer.cname_chain == ("www.example.net",)


def test_delegation_refused(tmp_path):
    path = _write(tmp_path, "example.com.zone", "$TTL 60\n@ SOA ns1 hostmaster 1 60 60 60 60\n@ NS ns1\nns1 A 192.0.2.1\nsub NS ns.example.net.\n")
    answer = ZoneResolver([path]).query("www.sub.example.com", "TXT")
    assert answer.status == status.REFUSED
    assert "delegated at sub.example.com." in answer.detail


def test_zone_without_soa_loads(tmp_path):
    # Exports from DNS hosting panels often leave out the SOA and NS records.
    path = _write(tmp_path, "example.com.zone", '$TTL 60\n_dmarc TXT "v=DMARC1; p=reject"\n')
    zones = ZoneResolver([path])
    assert zones.query("_dmarc.example.com", "TXT").records == ("v=DMARC1; p=reject",)
    assert zones.query("nope.example.com", "TXT").status == status.NXDOMAIN


def test_bad_record_names_file_and_line(tmp_path):
    path = _write(tmp_path, "example.com.zone", '$TTL 60\n@ SOA ns1 hostmaster 1 60 60 60 60\n@ TXT "ok"\nbad NOSUCHTYPE data\n')
    with pytest.raises(InputError) as raised:
        ZoneResolver([path])
    assert f"{path}:4:" in str(raised.value)
    assert "NOSUCHTYPE" in str(raised.value)


def test_no_origin_and_no_zone_suffix(tmp_path):
    path = _write(tmp_path, "records.txt", '$TTL 60\n_dmarc TXT "v=DMARC1; p=none"\n')
    with pytest.raises(InputError, match=r"no \$ORIGIN line"):
        ZoneResolver([path])


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read the zone file"):
        ZoneResolver([str(tmp_path / "example.com.zone")])


def test_same_zone_twice(tmp_path):
    copy = _write(tmp_path, "example.com.zone", (ZONES / "example.com.zone").read_text())
    with pytest.raises(InputError, match="both hold the zone example.com."):
        ZoneResolver([str(ZONES / "example.com.zone"), copy])


@pytest.mark.dns
@pytest.mark.parametrize(("name", "rdtype"), QUESTIONS)
def test_matches_knot(knot, zones, name, rdtype):
    live = LiveResolver([knot.address], timeout=1.0).query(name, rdtype)
    offline = zones.query(name, rdtype)
    # Only the server and the transport differ.
    assert dataclasses.replace(offline, server=live.server) == live
