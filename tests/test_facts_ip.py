"""normal_ip against the ipaddress module it stands in for."""

import ipaddress

import pytest

from diag.facts.ip import normal_ip


def reference(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@pytest.mark.parametrize(
    "text",
    [
        "192.0.2.1", "0.0.0.0", "255.255.255.255", "198.51.100.07", "256.1.1.1", "192.0.2", "192.0.2.1.5",
        "192.0.2.1 ", "192.0.2.1\n", "١٩٢.0.2.1", "2001:DB8::1", "2001:db8:0:0:0:0:0:1", "::ffff:192.0.2.1",
        "fe80::1%eth0", "::1", "2001:db8::g", "mail.example.com", "", "a:b",
    ],
)
def test_normal_ip_matches_ipaddress(text):
    assert normal_ip(text) == reference(text)


def test_normal_ip_keeps_ipv4_text():
    assert normal_ip("203.0.113.9") == "203.0.113.9"


def test_normal_ip_compresses_ipv6():
    assert normal_ip("2001:0DB8:0000:0000:0000:0000:0000:0001") == "2001:db8::1"


def test_normal_ip_rejects_leading_zero():
    assert normal_ip("203.0.113.09") is None
