"""LiveResolver against a real Knot DNS server (and Unbound in front of it) on loopback."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diag.dns import resolver as status
from diag.dns.live import LiveResolver, Nameserver, authoritative_resolvers, find_zone_apex, parse_nameserver
from diag.errors import UsageError
from tests.fixtures.knot import LeakedQueryError, is_loopback_destination

pytestmark = pytest.mark.dns

REPOSITORY = Path(__file__).resolve().parents[1]
DKIM_TOKEN = "4ra7bzv3ngtl3qkp6ysxgbjzwdg2jdvr"


@pytest.fixture
def resolver(knot):
    return LiveResolver([knot.address], timeout=1.0)


def test_txt_found(resolver, knot):
    answer = resolver.query("example.com", "TXT")
    assert answer.status == status.OK
    assert answer.records == ("v=spf1 include:amazonses.com -all",)
    assert answer.ttl == 300
    assert answer.server == knot.address
    assert answer.name == "example.com"
    assert answer.rdtype == "TXT"


def test_txt_split_strings_joined(resolver):
    answer = resolver.query("split.example.com", "TXT")
    assert answer.records == ("v=spf1 ip4:192.0.2.0/24 include:amazonses.com -all",)


def test_txt_over_512_bytes(resolver):
    answer = resolver.query("medium.example.com", "TXT")
    assert answer.status == status.OK
    assert len(answer.records[0]) == 600


def test_txt_truncated_retried_over_tcp(resolver):
    answer = resolver.query("long.example.com", "TXT")
    assert answer.status == status.OK
    assert len(answer.records[0]) == 2000
    assert answer.extra["transport"] == "tcp"
    # One UDP query answered with TC=1, then the same query over TCP.
    assert resolver.queries_sent == 2


def test_nxdomain(resolver):
    answer = resolver.query("nope.example.com", "TXT")
    assert answer.status == status.NXDOMAIN
    assert not answer.temporary
    # Negative TTL: min(SOA TTL, SOA MINIMUM), RFC 2308 section 3.
    assert answer.ttl == 300


def test_nodata(resolver):
    answer = resolver.query("_dmarc.example.com", "A")
    assert answer.status == status.NODATA
    assert answer.records == ()


def test_empty_non_terminal_nodata(resolver):
    assert resolver.query("_domainkey.example.com", "TXT").status == status.NODATA


def test_unloadable_zone_servfail(resolver):
    answer = resolver.query("www.broken.example.net", "A")
    assert answer.status == status.SERVFAIL
    assert answer.temporary
    assert "SERVFAIL" in answer.detail


def test_unconfigured_zone_refused(resolver):
    answer = resolver.query("www.example.invalid", "A")
    assert answer.status == status.REFUSED
    assert answer.temporary
    assert "REFUSED" in answer.detail


def test_stopped_server_timeout(knot_fresh):
    resolver = LiveResolver([knot_fresh.address], timeout=0.3, retries=1)
    knot_fresh.stop()
    started = time.monotonic()
    answer = resolver.query("example.com", "TXT")
    elapsed = time.monotonic() - started
    assert answer.status == status.TIMEOUT
    assert answer.temporary
    # The first attempt and one retry.
    assert resolver.queries_sent == 2
    assert elapsed < 2.0


def test_restarted_server_answers(knot_fresh):
    knot_fresh.stop()
    knot_fresh.start()
    resolver = LiveResolver([knot_fresh.address], timeout=1.0)
    assert resolver.query("example.com", "TXT").status == status.OK


def test_second_nameserver_used_after_timeout(knot, knot_fresh):
    knot_fresh.stop()
    resolver = LiveResolver([knot_fresh.address, knot.address], timeout=0.3, retries=0)
    answer = resolver.query("example.com", "TXT")
    assert answer.status == status.OK
    assert answer.server == knot.address


def test_cross_zone_cname_followed(resolver):
    answer = resolver.query("www.example.com", "A")
    assert answer.status == status.OK
    assert answer.records == ("192.0.2.80",)
    assert answer.cname_chain == ("www.example.net",)
    # Knot is authoritative only: it stops at the CNAME, so the target costs a second query.
    assert resolver.queries_sent == 2


def test_cname_chain_across_zones(resolver):
    answer = resolver.query("chain.example.com", "TXT")
    assert answer.records == ("served by example.net",)
    assert answer.cname_chain == ("www.example.com", "www.example.net")


def test_ses_dkim_token_key_joined(resolver):
    answer = resolver.query(f"{DKIM_TOKEN}._domainkey.example.com", "TXT")
    assert answer.status == status.OK
    assert answer.cname_chain == (f"{DKIM_TOKEN}.dkim.amazonses.com",)
    assert answer.records[0].startswith("p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA")
    # A 2048-bit key is longer than one 255-byte string, so the strings were joined.
    assert len(answer.records[0]) > 255


def test_cname_type_not_followed(resolver):
    answer = resolver.query("www.example.com", "CNAME")
    assert answer.records == ("www.example.net.",)
    assert answer.cname_chain == ()


def test_cname_loop_across_zones(resolver):
    answer = resolver.query("loop-a.example.com", "A")
    assert answer.status == status.SERVFAIL
    assert answer.detail == "CNAME loop at loop-a.example.com"
    assert answer.cname_chain == ("loop-b.example.net", "loop-a.example.com")


def test_cname_loop_to_itself(resolver):
    answer = resolver.query("self.example.com", "A")
    assert answer.status == status.SERVFAIL
    assert answer.detail == "CNAME loop at self.example.com"


def test_dangling_cname_nxdomain(resolver):
    answer = resolver.query("dangling.example.com", "A")
    assert answer.status == status.NXDOMAIN
    assert answer.cname_chain == ("missing.example.net",)


def test_cname_chain_hop_limit(knot_fresh):
    names = [f"hop{index}.example.com." for index in range(10)]
    knot_fresh.update("example.com", add=[(name, 300, "CNAME", target) for name, target in zip(names, names[1:])])
    resolver = LiveResolver([knot_fresh.address], timeout=1.0)
    answer = resolver.query("hop0.example.com", "A")
    assert answer.status == status.SERVFAIL
    assert answer.detail == "CNAME chain longer than 8 names"


def test_referral_servfail(knot_fresh):
    knot_fresh.update("example.com", add=[("sub", 300, "NS", "ns1.example.net.")])
    resolver = LiveResolver([knot_fresh.address], timeout=1.0, recursion_desired=False)
    answer = resolver.query("www.sub.example.com", "TXT")
    assert answer.status == status.SERVFAIL
    assert "referred to ns1.example.net." in answer.detail


def test_cache_hit(resolver):
    first = resolver.query("example.com", "TXT")
    second = resolver.query("EXAMPLE.com.", "txt")
    assert second == first
    assert resolver.queries_sent == 1
    assert resolver.cache.hits == 1
    assert resolver.cache.misses == 1


def test_dynamic_update_seen(knot_fresh):
    before = knot_fresh.serial("example.com")
    knot_fresh.update("example.com", replace=[("_dmarc", 300, "TXT", '"v=DMARC1; p=reject"')])
    answer = LiveResolver([knot_fresh.address]).query("_dmarc.example.com", "TXT")
    assert answer.records == ("v=DMARC1; p=reject",)
    assert knot_fresh.serial("example.com") == before + 1


def test_zone_apex_found(resolver):
    assert find_zone_apex("_dmarc.example.com", resolver) == "example.com"
    assert find_zone_apex(f"{DKIM_TOKEN}.dkim.amazonses.com", resolver) == "dkim.amazonses.com"


def test_authoritative_servers_disagree(knot_pair):
    ns1, ns2 = knot_pair
    ns1.update("example.com", replace=[("_dmarc", 300, "TXT", '"v=DMARC1; p=reject"')])
    bootstrap = LiveResolver([ns1.address])

    servers = authoritative_resolvers("_dmarc.example.com", bootstrap, port=ns1.port, timeout=1.0)

    assert [server.host_name for server in servers] == ["ns1.example.com", "ns2.example.com"]
    assert [str(server.nameservers[0]) for server in servers] == [ns1.address, ns2.address]
    answers = [server.query("_dmarc.example.com", "TXT").records for server in servers]
    assert answers[0] == ("v=DMARC1; p=reject",)
    assert answers[1] == ("v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@example.com",)
    serials = [int(server.query("example.com", "SOA").records[0].split()[2]) for server in servers]
    assert serials[0] == serials[1] + 1


def test_unbound_follows_cross_zone_cname(unbound):
    resolver = LiveResolver([unbound.address], timeout=2.0)
    answer = resolver.query("www.example.com", "A")
    assert answer.records == ("192.0.2.80",)
    assert answer.cname_chain == ("www.example.net",)
    # A recursive resolver returns the whole chain in one response.
    assert resolver.queries_sent == 1


def test_unbound_cname_loop_servfail(unbound):
    answer = LiveResolver([unbound.address], timeout=2.0).query("loop-a.example.com", "A")
    assert answer.status == status.SERVFAIL


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("192.0.2.1", Nameserver("192.0.2.1", 53)),
        ("127.0.0.1:5353", Nameserver("127.0.0.1", 5353)),
        ("[2001:db8::1]:5353", Nameserver("2001:db8::1", 5353)),
        ("[::1]", Nameserver("::1", 53)),
        ("2001:db8::53", Nameserver("2001:db8::53", 53)),
    ],
)
def test_nameserver_parsed(entry, expected):
    assert parse_nameserver(entry) == expected


@pytest.mark.parametrize("entry", ["ns1.example.com", "127.0.0.1:0", "127.0.0.1:dns", "[::1]5353", "[::1"])
def test_nameserver_invalid(entry):
    with pytest.raises(UsageError, match="invalid nameserver"):
        parse_nameserver(entry)


def test_nameserver_ipv6_shown_bracketed():
    assert str(Nameserver("::1", 5353)) == "[::1]:5353"


def test_guard_loopback_predicate():
    assert is_loopback_destination(("127.0.0.1", 53))
    assert is_loopback_destination(("::1", 53, 0, 0))
    assert is_loopback_destination("/run/knot.sock")
    assert not is_loopback_destination(("192.0.2.1", 53))
    assert not is_loopback_destination(("ns1.example.com", 53))


def test_guard_blocks_other_hosts(_dns_loopback_guard):
    # The guard raises before the system call, so nothing is sent.
    with pytest.raises(LeakedQueryError):
        LiveResolver(["192.0.2.1"], timeout=0.2, retries=0).query("example.com", "TXT")
    assert _dns_loopback_guard == [("192.0.2.1", 53)]
    _dns_loopback_guard.clear()


def _can_unshare() -> str | None:
    """Return why the network-namespace test cannot run here, or None when it can."""
    if os.environ.get("MAILDIAG_IN_NETNS"):
        return "already inside the network namespace"
    if os.geteuid() != 0:
        return "needs root to create a network namespace"
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "needs unshare (util-linux) and ip (iproute2)"
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        return "unshare -n is not permitted here (a container without CAP_SYS_ADMIN?)"
    return None


@pytest.mark.skipif(_can_unshare() is not None, reason=str(_can_unshare()))
def test_queries_in_loopback_only_namespace():
    """Run DNS tests in a network namespace that has only loopback: a leaking query cannot succeed."""
    python = sys.executable
    # Inside the namespace a non-loopback destination has no route: the send must fail.
    leak_probe = "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ntry:\n    s.sendto(b'x', ('192.0.2.1', 53))\nexcept OSError:\n    raise SystemExit(0)\nraise SystemExit('sent to 192.0.2.1: the namespace is not isolated')"
    tests = "test_txt_split_strings_joined or test_cross_zone_cname_followed or test_unbound_follows_cross_zone_cname"
    script = f"ip link set lo up && {python} -c \"$LEAK_PROBE\" && exec {python} -m pytest -q -p no:cacheprovider tests/test_dns_live.py -k '{tests}'"
    environment = os.environ | {"MAILDIAG_IN_NETNS": "1", "LEAK_PROBE": leak_probe}

    result = subprocess.run(["unshare", "-n", "sh", "-c", script], cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
